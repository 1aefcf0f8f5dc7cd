//! `chainHead_v1_*` of the new JSON-RPC spec
//! (<https://paritytech.github.io/json-rpc-interface-spec/>), as polkadot-sdk's
//! `sc-rpc-spec-v2` serves it, so that subxt's chain-head backend (and smoldot-style clients)
//! follow the devnet.
//!
//! A `chainHead_v1_follow` subscription announces the finalized block (`initialized`), a
//! `newBlock` for each block above it and the best block at once; then each new block, the
//! best block when it moves, and `finalized` as blocks become final
//! (`DevnetConfig::finality_lag` behind the best) with the blocks that never will
//! (`prunedBlockHashes`). A re-organisation is a fork: the new branch's blocks from where it
//! leaves the announced chain. Every announced block is pinned: the subscription keeps a
//! copy of it, its state included, until `chainHead_v1_unpin`, so header, body, storage and
//! runtime calls keep working on it after the chain prunes that state. A subscription that
//! pins more than [`MAX_PINNED_BLOCKS`], keeps a block pinned over [`MAX_PIN_DURATION`]
//! while the server's subscriptions hold [`MAX_PINNED_BLOCKS`] between them, or lags behind
//! the block announcements gets `stop`, as the spec allows when the server
//! cannot keep a consistent view.
//!
//! Operations (`body`, `call`, `storage`) answer `started` with an operation id and report
//! their result as follow events once the answer has gone out; descendant storage queries
//! pause every [`STORAGE_ITEMS_PER_PAUSE`] items until `chainHead_v1_continue`.
//!
//! The pieces: `follow` (the subscription and its block announcements), `pinning` (the
//! blocks each subscription keeps, and `unpin`), `operations` (header, body, call,
//! storage, continue and stopOperation).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::{ErrorObjectOwned, Params, SubscriptionId};
use jsonrpsee::{ConnectionId, RpcModule};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use super::{connection, decode_hash, error, RpcResult, INVALID_PARAMS};
use crate::chain::Block;
use crate::node::Node;

mod follow;
mod operations;
mod pinning;

use follow::follow;
use operations::{body, call, header, resume, stop_operation, storage};
use pinning::unpin;

/// The spec's error for a block hash the follow subscription has not pinned.
pub const INVALID_BLOCK: i32 = -32801;
/// The spec's error for `chainHead_v1_call` on a subscription started without runtime.
pub const INVALID_RUNTIME_CALL: i32 = -32802;
/// The spec's error for `chainHead_v1_continue` on an operation that is not waiting.
pub const INVALID_CONTINUE: i32 = -32803;
/// The spec's error for `chainHead_v1_unpin` given the same hash twice.
pub const INVALID_DUPLICATE_HASHES: i32 = -32804;
/// polkadot-sdk's refusal of one follow subscription too many on a connection.
pub const REACHED_LIMITS: i32 = -32800;

/// Blocks one follow subscription may keep pinned (polkadot-sdk's default, 512).
pub const MAX_PINNED_BLOCKS: usize = 512;
/// Follow subscriptions one connection may hold (polkadot-sdk's default, 4).
pub const MAX_FOLLOWS_PER_CONNECTION: usize = 4;
/// Operations one subscription may have under way, and storage items one call may ask
/// for (more are discarded, as `discardedItems` says): the spec's minimum, 16.
pub const MAX_ONGOING_OPERATIONS: usize = 16;
/// How long a block may stay pinned before the subscription is stopped once the server
/// holds [`MAX_PINNED_BLOCKS`] pinned blocks (polkadot-sdk's default and rule): a client
/// that never unpins cannot hold old states for ever.
pub const MAX_PIN_DURATION: std::time::Duration = std::time::Duration::from_secs(60);
/// Descendant storage items reported before an operation waits for `chainHead_v1_continue`
/// (polkadot-sdk's default, 5).
pub const STORAGE_ITEMS_PER_PAUSE: usize = 5;

/// One paused-or-running storage operation, shared between its task and the methods that
/// continue or stop it.
#[derive(Default)]
struct Operation {
    /// The operation reported `operationWaitingForContinue` and waits.
    waiting: AtomicBool,
    /// `chainHead_v1_stopOperation` (or the subscription's end) stopped it.
    stopped: AtomicBool,
    /// Wakes the task on continue or stop.
    resume: Notify,
}

impl Operation {
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.resume.notify_one();
    }
}

/// A block a subscription keeps, and since when.
struct Pinned {
    block: Block,
    since: std::time::Instant,
}

/// What the server keeps for one follow subscription.
struct Follow {
    /// The connection that opened it (other connections cannot use its id).
    connection: ConnectionId,
    /// Started with `withRuntime`: runtime calls are allowed.
    with_runtime: bool,
    /// The pinned blocks, with their state as it was when announced.
    pinned: HashMap<[u8; 32], Pinned>,
    /// Events for the subscription's sink (operation results).
    events: mpsc::UnboundedSender<Value>,
    /// Storage operations that have not finished.
    operations: HashMap<String, Arc<Operation>>,
    /// The next operation id.
    next_operation: u64,
}

impl Follow {
    /// A subscription opened on `connection`, nothing pinned yet; `events` reach its sink.
    fn new(
        connection: ConnectionId,
        with_runtime: bool,
        events: mpsc::UnboundedSender<Value>,
    ) -> Self {
        Self {
            connection,
            with_runtime,
            pinned: HashMap::new(),
            events,
            operations: HashMap::new(),
            next_operation: 0,
        }
    }

    fn operation_id(&mut self) -> String {
        self.next_operation += 1;
        self.next_operation.to_string()
    }
}

/// Every follow subscription of the server, by subscription id.
#[derive(Clone, Default)]
struct Follows(Arc<Mutex<HashMap<String, Follow>>>);

impl Follows {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Follow>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes a subscription and stops its operations.
    fn remove(&self, id: &str) {
        if let Some(follow) = self.lock().remove(id) {
            for operation in follow.operations.values() {
                operation.stop();
            }
        }
    }
}

/// A subscription id as the client sends it back (a string, or a number from servers that
/// hand out numeric ids).
fn subscription_key(id: &SubscriptionId<'_>) -> String {
    match id {
        SubscriptionId::Num(n) => n.to_string(),
        SubscriptionId::Str(s) => s.to_string(),
    }
}

/// The `followSubscription` parameter.
fn follow_param(value: &Value) -> RpcResult<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(error(
            INVALID_PARAMS,
            format!("bad followSubscription {other}"),
        )),
    }
}

fn invalid_block() -> ErrorObjectOwned {
    error(INVALID_BLOCK, "Invalid block hash")
}

/// `{ "result": "limitReached" }`: what operations answer on an unknown subscription.
fn limit_reached() -> Value {
    json!({ "result": "limitReached" })
}

/// The (subscription, block hash) every operation starts with.
fn follow_and_hash(params: &Params) -> RpcResult<(String, [u8; 32])> {
    let mut seq = params.sequence();
    let id: Value = seq.next()?;
    let hash: String = seq.next()?;
    Ok((follow_param(&id)?, decode_hash(&hash)?))
}

/// Registers the `chainHead_v1_*` methods and the follow subscription.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
    let follows = Follows::default();
    let f = follows.clone();
    m.register_subscription(
        "chainHead_v1_follow",
        "chainHead_v1_followEvent",
        "chainHead_v1_unfollow",
        move |params: Params, pending, node: Arc<Arc<Node>>, _| {
            let follows = f.clone();
            async move {
                let with_runtime: bool = match params.one() {
                    Ok(flag) => flag,
                    Err(e) => {
                        pending.reject(e).await;
                        return;
                    }
                };
                follow(pending, (*node).clone(), follows, with_runtime).await;
            }
        },
    )?;
    let f = follows.clone();
    m.register_method("chainHead_v1_header", move |params, _, ext| {
        header(params, &f, ext)
    })?;
    let f = follows.clone();
    m.register_method("chainHead_v1_body", move |params, _, ext| {
        body(params, &f, ext)
    })?;
    let f = follows.clone();
    m.register_method("chainHead_v1_call", move |params, node: &Arc<Node>, ext| {
        call(params, node, &f, ext)
    })?;
    let f = follows.clone();
    m.register_method("chainHead_v1_storage", move |params, _, ext| {
        storage(params, &f, ext)
    })?;
    let f = follows.clone();
    m.register_method("chainHead_v1_continue", move |params, _, ext| {
        resume(params, &f, ext)
    })?;
    let f = follows.clone();
    m.register_method("chainHead_v1_stopOperation", move |params, _, ext| {
        stop_operation(params, &f, ext)
    })?;
    m.register_method("chainHead_v1_unpin", move |params, _, ext| {
        unpin(params, &follows, ext)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::follow::View;
    use super::pinning::unpin_hashes;
    use super::*;
    use crate::chain::{hex32, Chain};

    #[test]
    fn unpin_refuses_duplicates() {
        let hash = hex32(&[1; 32]);
        assert_eq!(unpin_hashes(&json!(hash)).unwrap(), vec![[1; 32]]);
        let e = unpin_hashes(&json!([hash, hash])).unwrap_err();
        assert_eq!(e.code(), INVALID_DUPLICATE_HASHES);
    }

    /// A block pinned longer than the limit expires its subscription once the server's
    /// subscriptions hold the cap between them (never while there is room); unpinning it
    /// keeps the subscription, and the per-subscription cap counts every pin.
    #[test]
    fn pins_expire_after_the_limit_and_count_against_the_cap() {
        use super::pinning::{pin, pins_expired};
        let chain = chain_of(2);
        let follows = Follows::default();
        let (events, _) = mpsc::unbounded_channel();
        follows
            .lock()
            .insert("1".into(), Follow::new(ConnectionId(1), false, events));
        assert!(pin(&follows, "1", &[chain.head().clone()]));
        assert!(!pins_expired(&follows, "1"), "just pinned");
        let old = std::time::Instant::now() - MAX_PIN_DURATION - std::time::Duration::from_secs(1);
        follows.lock().get_mut("1").unwrap().pinned.insert(
            [7; 32],
            Pinned {
                block: chain.head().clone(),
                since: old,
            },
        );
        assert!(
            !pins_expired(&follows, "1"),
            "an old pin is kept while the server has room"
        );
        let mut filler = Vec::new();
        for n in 0..MAX_PINNED_BLOCKS as u64 {
            let mut block = chain.head().clone();
            block.hash = [0xee; 32];
            block.hash[..8].copy_from_slice(&n.to_le_bytes());
            filler.push(block);
        }
        let (events, _) = mpsc::unbounded_channel();
        follows
            .lock()
            .insert("2".into(), Follow::new(ConnectionId(2), false, events));
        assert!(pin(&follows, "2", &filler[..MAX_PINNED_BLOCKS - 2]));
        assert!(
            pins_expired(&follows, "1"),
            "pinned past the limit with the server full"
        );
        assert!(!pins_expired(&follows, "2"), "its pins are fresh");
        follows.lock().get_mut("1").unwrap().pinned.remove(&[7; 32]);
        assert!(!pins_expired(&follows, "1"), "unpinned");
        follows.lock().remove("2");
        assert!(!pins_expired(&follows, "unknown"));
        // The cap: with the head pinned, 512 more are one past it.
        let mut blocks = Vec::new();
        for n in 0..MAX_PINNED_BLOCKS as u64 {
            let mut block = chain.head().clone();
            block.hash = [0; 32];
            block.hash[..8].copy_from_slice(&(n + 1).to_le_bytes());
            blocks.push(block);
        }
        assert!(!pin(&follows, "1", &blocks));
    }

    /// The event names and the hash fields of `events`, for comparison.
    fn story(events: &[Value]) -> Vec<String> {
        events
            .iter()
            .map(|e| {
                let name = e["event"].as_str().unwrap();
                let hashes = [
                    "blockHash",
                    "bestBlockHash",
                    "finalizedBlockHashes",
                    "prunedBlockHashes",
                ]
                .iter()
                .filter_map(|k| e.get(*k).map(|v| v.to_string()))
                .collect::<Vec<_>>()
                .join(" ");
                format!("{name} {hashes}")
            })
            .collect()
    }

    fn chain_of(blocks: u32) -> Chain {
        let mut chain = Chain::new(&crate::DevnetConfig::default());
        for _ in 0..blocks {
            chain.produce_block(Vec::new());
        }
        chain
    }

    fn h(chain: &Chain, number: u64) -> String {
        format!("\"{}\"", hex32(&chain.hash_of(number).unwrap()))
    }

    #[test]
    fn a_view_starts_at_the_finalized_block_with_the_blocks_above_it() {
        let chain = chain_of(10);
        let (_, changes) = View::start(&chain, false);
        assert_eq!(
            story(&changes.events),
            [
                format!("initialized [{}]", h(&chain, 7)),
                format!("newBlock {}", h(&chain, 8)),
                format!("newBlock {}", h(&chain, 9)),
                format!("newBlock {}", h(&chain, 10)),
                format!("bestBlockChanged {}", h(&chain, 10)),
            ]
        );
        assert!(changes.events[1].get("newRuntime").is_none());
        assert_eq!(changes.pin.len(), 4);
        let (_, changes) = View::start(&chain, true);
        assert_eq!(changes.events[1]["newRuntime"], Value::Null);
        assert!(changes.events[0].get("finalizedBlockRuntime").is_some());
    }

    #[test]
    fn a_re_organisation_is_a_fork_and_its_losers_are_pruned_once_final() {
        let mut chain = chain_of(10);
        let (mut view, _) = View::start(&chain, false);
        let (old9, old10) = (h(&chain, 9), h(&chain, 10));
        chain.reorg(2).unwrap();
        let changes = view.catch_up(&chain);
        // The fork from block 8: its blocks, the new best, block 8 final; the losers (9, 10)
        // still descend from it and are not pruned yet.
        assert_eq!(
            story(&changes.events),
            [
                format!("newBlock {}", h(&chain, 9)),
                format!("newBlock {}", h(&chain, 10)),
                format!("newBlock {}", h(&chain, 11)),
                format!("bestBlockChanged {}", h(&chain, 11)),
                format!("finalized [{}] []", h(&chain, 8)),
            ]
        );
        assert_eq!(
            changes.events[0]["parentBlockHash"],
            json!(hex32(&chain.hash_of(8).unwrap()))
        );
        chain.produce_block(Vec::new());
        let changes = view.catch_up(&chain);
        let finalized = &changes.events[2];
        assert_eq!(
            finalized["finalizedBlockHashes"],
            json!([hex32(&chain.hash_of(9).unwrap())])
        );
        let mut pruned: Vec<String> = finalized["prunedBlockHashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        pruned.sort();
        let mut expected = vec![old9, old10];
        expected.sort();
        assert_eq!(pruned, expected);
        // Nothing new: nothing to say.
        assert!(view.catch_up(&chain).events.is_empty());
    }
}
