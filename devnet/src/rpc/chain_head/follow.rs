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
use super::pinning::pin;
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

/// The events announcing `blocks` (in chain order): each new, the last best, all final.
/// `newRuntime` is there exactly when the subscription follows the runtime (`null`: the
/// runtime did not change).
pub(super) fn announcements(blocks: &[Block], with_runtime: bool) -> Vec<Value> {
    let Some(last) = blocks.last() else {
        return Vec::new();
    };
    let mut events: Vec<Value> = blocks
        .iter()
        .map(|b| {
            let mut event = json!({
                "event": "newBlock",
                "blockHash": hex32(&b.hash),
                "parentBlockHash": hex32(&b.header.parent_hash),
            });
            if with_runtime {
                event["newRuntime"] = Value::Null;
            }
            event
        })
        .collect();
    events.push(json!({ "event": "bestBlockChanged", "bestBlockHash": hex32(&last.hash) }));
    events.push(json!({
        "event": "finalized",
        "finalizedBlockHashes": blocks.iter().map(|b| hex32(&b.hash)).collect::<Vec<_>>(),
        "prunedBlockHashes": [],
    }));
    events
}

/// The blocks after `finalized` up to `to`, or `None` when `finalized` is no longer in the
/// chain (re-organised away). A `to` already announced, or gone, gives none.
pub(super) fn blocks_after(
    chain: &Chain,
    finalized: &[u8; 32],
    to: &[u8; 32],
) -> Option<Vec<Block>> {
    let from = chain.block_by_hash(finalized)?.header.number;
    let Some(target) = chain.block_by_hash(to) else {
        return Some(Vec::new());
    };
    Some(
        (u64::from(from) + 1..=u64::from(target.header.number))
            .filter_map(|n| chain.block(n).cloned())
            .collect(),
    )
}

/// Why a follow subscription ends.
pub(super) enum End {
    /// The client left or unfollowed: nothing more to send.
    Left,
    /// The server cannot go on: `stop`.
    Stop,
}

/// Announces the blocks up to one just imported; `Err(End)` when the subscription ends.
pub(super) async fn announce(
    sink: &SubscriptionSink,
    node: &Node,
    follows: &Follows,
    id: &str,
    finalized: &mut [u8; 32],
    imported: &Imported,
) -> Result<(), End> {
    let blocks = {
        let ledger = node.lock();
        blocks_after(&ledger.chain, finalized, &imported.hash).ok_or(End::Stop)?
    };
    let Some(last) = blocks.last() else {
        return Ok(());
    };
    if !pin(follows, id, &blocks) {
        return Err(End::Stop);
    }
    *finalized = last.hash;
    let with_runtime = follows.lock().get(id).is_some_and(|f| f.with_runtime);
    for event in announcements(&blocks, with_runtime) {
        if !notify(sink, &event).await {
            return Err(End::Left);
        }
    }
    Ok(())
}

/// Runs one accepted follow subscription until it ends.
pub(super) async fn run_follow(
    sink: &SubscriptionSink,
    node: &Node,
    follows: &Follows,
    id: &str,
    mut heads: tokio::sync::broadcast::Receiver<Imported>,
    mut operations: mpsc::UnboundedReceiver<Value>,
    mut finalized: [u8; 32],
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
                Ok(imported) => {
                    if let Err(end) =
                        announce(sink, node, follows, id, &mut finalized, &imported).await
                    {
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

/// `chainHead_v1_follow`: registers the subscription, sends `initialized` and follows.
pub(super) async fn follow(
    pending: PendingSubscriptionSink,
    node: Arc<Node>,
    follows: Follows,
    runtime: bool,
) {
    let connection = pending.connection_id();
    let open = follows
        .lock()
        .values()
        .filter(|f| f.connection == connection)
        .count();
    if open >= MAX_FOLLOWS_PER_CONNECTION {
        let message = "Maximum number of chainHead_follow has been reached";
        pending.reject(error(REACHED_LIMITS, message)).await;
        return;
    }
    let heads = node.subscribe_blocks();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let id = subscription_key(&sink.subscription_id());
    let (events, operations) = mpsc::unbounded_channel();
    let head = node.lock().chain.head().clone();
    let first = initialized(&head, runtime);
    let finalized = head.hash;
    follows.lock().insert(
        id.clone(),
        Follow {
            connection,
            with_runtime: runtime,
            pinned: HashMap::from([(head.hash, head)]),
            events,
            operations: HashMap::new(),
            next_operation: 0,
        },
    );
    // The spec's first events: `initialized`, then the best block at once.
    let best = json!({ "event": "bestBlockChanged", "bestBlockHash": hex32(&finalized) });
    let end = if notify(&sink, &first).await && notify(&sink, &best).await {
        run_follow(&sink, &node, &follows, &id, heads, operations, finalized).await
    } else {
        End::Left
    };
    follows.remove(&id);
    if let End::Stop = end {
        notify(&sink, &json!({ "event": "stop" })).await;
    }
}
