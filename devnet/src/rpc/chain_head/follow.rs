//! The `chainHead_v1_follow` subscription: `initialized` with the finalized head, the best
//! block at once, then each new block as `newBlock`, `bestBlockChanged` and `finalized`;
//! `stop` when the server cannot keep the subscription's view consistent.

use std::collections::HashMap;
use std::sync::Arc;

use jsonrpsee::{PendingSubscriptionSink, SubscriptionSink};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::super::runtime;
use super::super::{error, notify};
use super::pinning::{pin, pins_expired};
use super::*;
use crate::chain::{hex32, Block, Chain};
use crate::node::{Imported, Node};

/// The `finalizedBlockRuntime` / `newRuntime` object of a follow event.
pub(super) fn runtime_event() -> Value {
    json!({ "type": "valid", "spec": runtime::runtime_spec() })
}

/// The first event: the finalized head (with the runtime when asked for).
pub(super) fn initialized(head: &Block, with_runtime: bool) -> Value {
    let mut event = json!({
        "event": "initialized",
        "finalizedBlockHashes": [hex32(&head.hash)],
    });
    if with_runtime {
        event["finalizedBlockRuntime"] = runtime_event();
    }
    event
}

/// One `newBlock` event; `newRuntime` is there exactly when the subscription follows the
/// runtime (`null`: the runtime did not change).
fn new_block(block: &Block, with_runtime: bool) -> Value {
    let mut event = json!({
        "event": "newBlock",
        "blockHash": hex32(&block.hash),
        "parentBlockHash": hex32(&block.header.parent_hash),
    });
    if with_runtime {
        event["newRuntime"] = Value::Null;
    }
    event
}

/// What one follow subscription has announced: its finalized block, the blocks above it
/// (forks included) by hash with their number and parent, and its best block.
pub(super) struct View {
    finalized: (u64, [u8; 32]),
    above: HashMap<[u8; 32], (u64, [u8; 32])>,
    best: [u8; 32],
    /// The subscription follows the runtime (`newRuntime` in each `newBlock`).
    with_runtime: bool,
}

/// What a new head changes in a view: the events to send and the blocks to pin.
#[derive(Default)]
pub(super) struct Changes {
    pub(super) events: Vec<Value>,
    pub(super) pin: Vec<Block>,
}

impl View {
    /// The view a subscription starts with: the chain's finalized block, and its
    /// descendants up to the best one, with the events that announce them (`initialized`,
    /// each `newBlock`, then `bestBlockChanged`).
    pub(super) fn start(chain: &Chain, with_runtime: bool) -> (Self, Changes) {
        let finalized = chain.finalized();
        let mut view = View {
            finalized: (u64::from(finalized.header.number), finalized.hash),
            above: HashMap::new(),
            best: finalized.hash,
            with_runtime,
        };
        let mut changes = Changes {
            events: vec![initialized(finalized, with_runtime)],
            pin: vec![finalized.clone()],
        };
        let announced = view.catch_up(chain);
        changes.events.extend(announced.events);
        changes.pin.extend(announced.pin);
        if changes.events.last().map(|e| &e["event"]) != Some(&json!("bestBlockChanged")) {
            changes.events.push(best_changed(&view.best));
        }
        (view, changes)
    }

    /// Catches up with the chain as it is now: the new blocks from the last one announced
    /// (a fork's from where it leaves the announced chain) as `newBlock`s, the best block if
    /// it moved, then `finalized` with the blocks that became final and those that never
    /// will (`prunedBlockHashes`). A `stop` event when the chain has left this view's
    /// finalized block (the view cannot be kept).
    pub(super) fn catch_up(&mut self, chain: &Chain) -> Changes {
        let mut changes = Changes::default();
        let head = chain.head();
        let mut fresh = Vec::new();
        for number in (0..=u64::from(head.header.number)).rev() {
            let Some(block) = chain.block(number) else {
                break;
            };
            if block.hash == self.finalized.1 || self.above.contains_key(&block.hash) {
                break;
            }
            if number <= self.finalized.0 {
                // The chain left this view's finalized block: it cannot be followed.
                changes.events.push(json!({ "event": "stop" }));
                return changes;
            }
            fresh.push(block);
        }
        for block in fresh.into_iter().rev() {
            let number = u64::from(block.header.number);
            self.above
                .insert(block.hash, (number, block.header.parent_hash));
            changes.events.push(new_block(block, self.with_runtime));
            changes.pin.push(block.clone());
        }
        if head.hash != self.best {
            self.best = head.hash;
            changes.events.push(best_changed(&self.best));
        }
        let finalized = chain.finalized();
        if finalized.hash != self.finalized.1 {
            changes.events.push(self.finalize(chain, finalized));
        }
        changes
    }

    /// Moves the view's finalized block to `finalized`: the `finalized` event.
    fn finalize(&mut self, chain: &Chain, finalized: &Block) -> Value {
        let to = u64::from(finalized.header.number);
        let newly: Vec<[u8; 32]> = (self.finalized.0 + 1..=to)
            .filter_map(|n| chain.hash_of(n))
            .collect();
        for hash in &newly {
            self.above.remove(hash);
        }
        self.finalized = (to, finalized.hash);
        // Every block left that does not descend from the new finalized block is pruned.
        let pruned: Vec<[u8; 32]> = self
            .above
            .keys()
            .filter(|hash| !self.descends_from_finalized(hash))
            .copied()
            .collect();
        for hash in &pruned {
            self.above.remove(hash);
        }
        json!({
            "event": "finalized",
            "finalizedBlockHashes": newly.iter().map(|h| hex32(h)).collect::<Vec<_>>(),
            "prunedBlockHashes": pruned.iter().map(|h| hex32(h)).collect::<Vec<_>>(),
        })
    }

    /// Whether the announced block `hash` is above the view's finalized block.
    fn descends_from_finalized(&self, hash: &[u8; 32]) -> bool {
        let mut at = *hash;
        while let Some(&(number, parent)) = self.above.get(&at) {
            if number <= self.finalized.0 {
                return false;
            }
            if parent == self.finalized.1 {
                return true;
            }
            at = parent;
        }
        false
    }
}

/// A `bestBlockChanged` event.
fn best_changed(hash: &[u8; 32]) -> Value {
    json!({ "event": "bestBlockChanged", "bestBlockHash": hex32(hash) })
}

/// Why a follow subscription ends.
pub(super) enum End {
    /// The client left or unfollowed: nothing more to send.
    Left,
    /// The server cannot go on: `stop`.
    Stop,
}

/// Sends `changes`, pinning their blocks first; `Err(End)` when the subscription ends.
async fn send(
    sink: &SubscriptionSink,
    follows: &Follows,
    id: &str,
    changes: Changes,
) -> Result<(), End> {
    if !pin(follows, id, &changes.pin) {
        return Err(End::Stop);
    }
    for event in changes.events {
        if event["event"] == "stop" {
            return Err(End::Stop);
        }
        if !notify(sink, &event).await {
            return Err(End::Left);
        }
    }
    Ok(())
}

/// Runs one accepted follow subscription until it ends.
async fn run_follow(
    sink: &SubscriptionSink,
    node: &Node,
    follows: &Follows,
    id: &str,
    mut heads: tokio::sync::broadcast::Receiver<Imported>,
    mut operations: mpsc::UnboundedReceiver<Value>,
    mut view: View,
) -> End {
    loop {
        tokio::select! {
            _ = sink.closed() => return End::Left,
            Some(event) = operations.recv() => {
                if !notify(sink, &event).await {
                    return End::Left;
                }
            }
            head = heads.recv() => match head {
                Ok(_) => {
                    if pins_expired(follows, id) {
                        return End::Stop;
                    }
                    let changes = view.catch_up(&node.lock().chain);
                    if let Err(end) = send(sink, follows, id, changes).await {
                        return end;
                    }
                }
                // Missed announcements: the view can no longer be kept consistent.
                Err(RecvError::Lagged(_)) => return End::Stop,
                Err(RecvError::Closed) => return End::Left,
            },
        }
    }
}

/// `chainHead_v1_follow`: registers the subscription, sends `initialized` (the finalized
/// block), a `newBlock` for each block above it and the best block, and follows.
pub(super) async fn follow(
    pending: PendingSubscriptionSink,
    node: Arc<Node>,
    follows: Follows,
    runtime: bool,
) {
    let connection = pending.connection_id();
    let (events, operations) = mpsc::unbounded_channel();
    let follow = Follow::new(connection, runtime, events);
    // Counted and reserved under one lock: two follows asked for at once on a connection
    // cannot both pass the limit while their answers go out.
    static RESERVATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let reservation = format!(
        "reserved-{}",
        RESERVATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let reserved = {
        let mut all = follows.lock();
        let open = all.values().filter(|f| f.connection == connection).count();
        let room = open < MAX_FOLLOWS_PER_CONNECTION;
        if room {
            all.insert(reservation.clone(), follow);
        }
        room
    };
    if !reserved {
        let message = "Maximum number of chainHead_follow has been reached";
        pending.reject(error(REACHED_LIMITS, message)).await;
        return;
    }
    let heads = node.subscribe_blocks();
    let Ok(sink) = pending.accept().await else {
        follows.lock().remove(&reservation);
        return;
    };
    let id = subscription_key(&sink.subscription_id());
    let (view, first) = View::start(&node.lock().chain, runtime);
    {
        let mut all = follows.lock();
        let follow = all.remove(&reservation).expect("reserved above");
        all.insert(id.clone(), follow);
    }
    let end = match send(&sink, &follows, &id, first).await {
        Ok(()) => run_follow(&sink, &node, &follows, &id, heads, operations, view).await,
        Err(end) => end,
    };
    follows.remove(&id);
    if let End::Stop = end {
        notify(&sink, &json!({ "event": "stop" })).await;
    }
}
