//! `chainHead_v1_*` of the new JSON-RPC spec
//! (<https://paritytech.github.io/json-rpc-interface-spec/>), as polkadot-sdk's
//! `sc-rpc-spec-v2` serves it, so that subxt's chain-head backend (and smoldot-style clients)
//! follow the devnet.
//!
//! A `chainHead_v1_follow` subscription announces the finalized head (`initialized`), then
//! each new block as `newBlock`, `bestBlockChanged` and `finalized` at once (every block is
//! final when produced). Every announced block is pinned: the subscription keeps a copy of
//! it, its state included, until `chainHead_v1_unpin`, so header, body, storage and runtime
//! calls keep working on it after the chain prunes that state. A subscription that pins more
//! than [`MAX_PINNED_BLOCKS`], lags behind the block announcements, or sees its finalized
//! block re-organised away (a development `Node::reorg`) gets `stop`, as the spec prescribes
//! when the server cannot keep a consistent view.
//!
//! Operations (`body`, `call`, `storage`) answer `started` with an operation id and report
//! their result as follow events once the answer has gone out; descendant storage queries
//! pause every [`STORAGE_ITEMS_PER_PAUSE`] items until `chainHead_v1_continue`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::{ErrorObjectOwned, Params, SubscriptionId};
use jsonrpsee::{
    ConnectionId, Extensions, MethodResponseFuture, PendingSubscriptionSink, ResponsePayload,
    RpcModule, SubscriptionSink,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_256;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, Notify};

use super::runtime;
use super::{decode_hash, decode_hex, error, notify, RpcResult, INVALID_PARAMS};
use crate::chain::{hex32, Block, Chain};
use crate::node::{Imported, Node};
use crate::storage::{under, StorageMap};

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

/// What the server keeps for one follow subscription.
struct Follow {
    /// The connection that opened it (other connections cannot use its id).
    connection: ConnectionId,
    /// Started with `withRuntime`: runtime calls are allowed.
    with_runtime: bool,
    /// The pinned blocks, with their state as it was when announced.
    pinned: HashMap<[u8; 32], Block>,
    /// Events for the subscription's sink (operation results).
    events: mpsc::UnboundedSender<Value>,
    /// Storage operations that have not finished.
    operations: HashMap<String, Arc<Operation>>,
    /// The next operation id.
    next_operation: u64,
}

impl Follow {
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

/// The connection a method call came on.
fn connection(ext: &Extensions) -> ConnectionId {
    ext.get::<ConnectionId>()
        .copied()
        .unwrap_or(ConnectionId(0))
}

/// `{ "result": "limitReached" }`: what operations answer on an unknown subscription.
fn limit_reached() -> Value {
    json!({ "result": "limitReached" })
}

/// `{ "result": "started", ... }`, and the future that resolves once it has been sent.
fn started(
    operation_id: &str,
    discarded: Option<usize>,
) -> (ResponsePayload<'static, Value>, MethodResponseFuture) {
    let mut answer = json!({ "result": "started", "operationId": operation_id });
    if let Some(discarded) = discarded {
        answer["discardedItems"] = json!(discarded);
    }
    ResponsePayload::success(answer).notify_on_completion()
}

/// The `finalizedBlockRuntime` / `newRuntime` object of a follow event.
fn runtime_event() -> Value {
    json!({ "type": "valid", "spec": runtime::runtime_spec() })
}

/// The first event: the finalized head (with the runtime when asked for).
fn initialized(head: &Block, with_runtime: bool) -> Value {
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
fn announcements(blocks: &[Block]) -> Vec<Value> {
    let Some(last) = blocks.last() else {
        return Vec::new();
    };
    let mut events: Vec<Value> = blocks
        .iter()
        .map(|b| {
            json!({
                "event": "newBlock",
                "blockHash": hex32(&b.hash),
                "parentBlockHash": hex32(&b.header.parent_hash),
                "newRuntime": null,
            })
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
fn blocks_after(chain: &Chain, finalized: &[u8; 32], to: &[u8; 32]) -> Option<Vec<Block>> {
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
enum End {
    /// The client left or unfollowed: nothing more to send.
    Left,
    /// The server cannot go on: `stop`.
    Stop,
}

/// Pins `blocks` for subscription `id`; false when that pins too many (or the subscription
/// is gone).
fn pin(follows: &Follows, id: &str, blocks: &[Block]) -> bool {
    let mut all = follows.lock();
    let Some(follow) = all.get_mut(id) else {
        return false;
    };
    for block in blocks {
        follow.pinned.insert(block.hash, block.clone());
    }
    follow.pinned.len() <= MAX_PINNED_BLOCKS
}

/// Announces the blocks up to one just imported; `Err(End)` when the subscription ends.
async fn announce(
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
    for event in announcements(&blocks) {
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
async fn follow(
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
    let end = if notify(&sink, &first).await {
        run_follow(&sink, &node, &follows, &id, heads, operations, finalized).await
    } else {
        End::Left
    };
    follows.remove(&id);
    if let End::Stop = end {
        notify(&sink, &json!({ "event": "stop" })).await;
    }
}

/// The pinned block `hash` of subscription `id` for a method called on `connection`:
/// `Ok(None)` for an unknown subscription, the spec's error for a block not pinned.
fn pinned_block(
    follows: &Follows,
    id: &str,
    connection: ConnectionId,
    hash: &[u8; 32],
) -> RpcResult<Option<(Block, bool)>> {
    let all = follows.lock();
    let Some(follow) = all.get(id).filter(|f| f.connection == connection) else {
        return Ok(None);
    };
    let block = follow.pinned.get(hash).ok_or_else(invalid_block)?;
    Ok(Some((block.clone(), follow.with_runtime)))
}

/// Starts an operation on subscription `id`: its id and the sender of its events.
fn start_operation(
    follows: &Follows,
    id: &str,
    operation: Option<Arc<Operation>>,
) -> Option<(String, mpsc::UnboundedSender<Value>)> {
    let mut all = follows.lock();
    let follow = all.get_mut(id)?;
    let operation_id = follow.operation_id();
    if let Some(operation) = operation {
        follow.operations.insert(operation_id.clone(), operation);
    }
    Some((operation_id, follow.events.clone()))
}

/// Sends `event` on the follow subscription once the method's answer has gone out.
fn send_after(answer: MethodResponseFuture, events: mpsc::UnboundedSender<Value>, event: Value) {
    tokio::spawn(async move {
        if answer.await.is_ok() {
            let _ = events.send(event);
        }
    });
}

/// The (subscription, block hash) every operation starts with.
fn follow_and_hash(params: &Params) -> RpcResult<(String, [u8; 32])> {
    let mut seq = params.sequence();
    let id: Value = seq.next()?;
    let hash: String = seq.next()?;
    Ok((follow_param(&id)?, decode_hash(&hash)?))
}

/// `chainHead_v1_header`: the SCALE header of a pinned block, `null` for an unknown
/// subscription.
fn header(params: Params, follows: &Follows, ext: &Extensions) -> RpcResult<Option<String>> {
    let (id, hash) = follow_and_hash(&params)?;
    let block = pinned_block(follows, &id, connection(ext), &hash)?;
    Ok(block.map(|(b, _)| hex32(&b.header.encode())))
}

/// `chainHead_v1_body`: the pinned block's extrinsics, as `operationBodyDone`.
fn body(params: Params, follows: &Follows, ext: &Extensions) -> ResponsePayload<'static, Value> {
    let (id, hash) = match follow_and_hash(&params) {
        Ok(p) => p,
        Err(e) => return ResponsePayload::error(e),
    };
    let block = match pinned_block(follows, &id, connection(ext), &hash) {
        Ok(Some((block, _))) => block,
        Ok(None) => return ResponsePayload::success(limit_reached()),
        Err(e) => return ResponsePayload::error(e),
    };
    let Some((operation_id, events)) = start_operation(follows, &id, None) else {
        return ResponsePayload::success(limit_reached());
    };
    let event = json!({
        "event": "operationBodyDone",
        "operationId": operation_id,
        "value": block.extrinsics.iter().map(|x| hex32(x)).collect::<Vec<_>>(),
    });
    let (answer, sent) = started(&operation_id, None);
    send_after(sent, events, event);
    answer
}

/// `chainHead_v1_call`'s parameters after the subscription and hash.
fn call_params(params: &Params) -> RpcResult<(String, Vec<u8>)> {
    let mut seq = params.sequence();
    let _: Value = seq.next()?;
    let _: String = seq.next()?;
    let function: String = seq.next()?;
    let data: String = seq.next()?;
    Ok((function, decode_hex(&data)?))
}

/// `chainHead_v1_call`: a runtime API call at a pinned block, as `operationCallDone`
/// (`operationError` when the devnet refuses it, `operationInaccessible` without state).
fn call(
    params: Params,
    node: &Node,
    follows: &Follows,
    ext: &Extensions,
) -> ResponsePayload<'static, Value> {
    let parsed = follow_and_hash(&params).and_then(|p| Ok((p, call_params(&params)?)));
    let ((id, hash), (function, data)) = match parsed {
        Ok(p) => p,
        Err(e) => return ResponsePayload::error(e),
    };
    let block = match pinned_block(follows, &id, connection(ext), &hash) {
        Ok(Some((_, false))) => {
            let why = "The `chainHead_follow` subscription was started with `withRuntime` set \
                       to `false`";
            return ResponsePayload::error(error(INVALID_RUNTIME_CALL, why));
        }
        Ok(Some((block, true))) => block,
        Ok(None) => return ResponsePayload::success(limit_reached()),
        Err(e) => return ResponsePayload::error(e),
    };
    let Some((operation_id, events)) = start_operation(follows, &id, None) else {
        return ResponsePayload::success(limit_reached());
    };
    let event = match block.state {
        None => json!({ "event": "operationInaccessible", "operationId": operation_id }),
        Some(_) => match runtime::call(&node.lock().chain, &function, &data) {
            Ok(output) => json!({
                "event": "operationCallDone",
                "operationId": operation_id,
                "output": hex32(&output),
            }),
            Err(e) => json!({
                "event": "operationError",
                "operationId": operation_id,
                "error": e.message(),
            }),
        },
    };
    let (answer, sent) = started(&operation_id, None);
    send_after(sent, events, event);
    answer
}

/// One item of a `chainHead_v1_storage` request.
#[derive(Clone, Debug, Deserialize)]
struct StorageQuery {
    key: String,
    #[serde(rename = "type")]
    kind: QueryKind,
}

/// What a storage item asks for.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum QueryKind {
    Value,
    Hash,
    ClosestDescendantMerkleValue,
    DescendantsValues,
    DescendantsHashes,
}

/// One result item: `{key, value}` or `{key, hash}`.
fn item(key: &[u8], value: &[u8], kind: QueryKind) -> Value {
    match kind {
        QueryKind::Hash | QueryKind::DescendantsHashes => {
            json!({ "key": hex32(key), "hash": hex32(&blake2_256(value)) })
        }
        _ => json!({ "key": hex32(key), "value": hex32(value) }),
    }
}

/// The answers of the non-iterating items: values, hashes and closest descendant merkle
/// values (the devnet keeps no trie: a blake2-256 over the entries under the key, which
/// changes exactly when one of them does).
fn direct_items(storage: &StorageMap, queries: &[(Vec<u8>, QueryKind)]) -> Vec<Value> {
    queries
        .iter()
        .filter_map(|(key, kind)| match kind {
            QueryKind::Value | QueryKind::Hash => storage.get(key).map(|v| item(key, v, *kind)),
            QueryKind::ClosestDescendantMerkleValue => {
                let entries: Vec<_> = under(storage, key, None).collect();
                (!entries.is_empty()).then(|| {
                    let merkle = blake2_256(&parity_scale_codec::Encode::encode(&entries));
                    json!({ "key": hex32(key), "closestDescendantMerkleValue": hex32(&merkle) })
                })
            }
            _ => None,
        })
        .collect()
}

/// A storage operation under way.
struct StorageRun {
    storage: StorageMap,
    queries: Queries,
    operation_id: String,
    operation: Arc<Operation>,
    events: mpsc::UnboundedSender<Value>,
}

impl StorageRun {
    fn send(&self, event: &str, extra: Option<(&str, Value)>) -> bool {
        let mut value = json!({ "event": event, "operationId": self.operation_id });
        if let Some((name, field)) = extra {
            value[name] = field;
        }
        self.events.send(value).is_ok()
    }

    /// Waits for `chainHead_v1_continue`; false when stopped instead.
    async fn wait_for_continue(&self) -> bool {
        self.operation.waiting.store(true, Ordering::SeqCst);
        if !self.send("operationWaitingForContinue", None) {
            return false;
        }
        while self.operation.waiting.load(Ordering::SeqCst) {
            if self.operation.stopped.load(Ordering::SeqCst) {
                return false;
            }
            self.operation.resume.notified().await;
        }
        !self.operation.stopped.load(Ordering::SeqCst)
    }

    /// Reports the items: direct ones first, then descendants in pages.
    async fn run(self) {
        let direct = direct_items(&self.storage, &self.queries);
        if !direct.is_empty() && !self.send("operationStorageItems", Some(("items", json!(direct))))
        {
            return;
        }
        let iterating = self.queries.iter().filter(|(_, kind)| {
            matches!(
                kind,
                QueryKind::DescendantsValues | QueryKind::DescendantsHashes
            )
        });
        for (prefix, kind) in iterating {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page: Vec<(Vec<u8>, Vec<u8>)> = under(&self.storage, prefix, after.as_deref())
                    .take(STORAGE_ITEMS_PER_PAUSE + 1)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let more = page.len() > STORAGE_ITEMS_PER_PAUSE;
                let page = &page[..page.len().min(STORAGE_ITEMS_PER_PAUSE)];
                if !page.is_empty() {
                    let items: Vec<Value> = page.iter().map(|(k, v)| item(k, v, *kind)).collect();
                    if !self.send("operationStorageItems", Some(("items", json!(items)))) {
                        return;
                    }
                }
                if !more {
                    break;
                }
                if self.operation.stopped.load(Ordering::SeqCst) || !self.wait_for_continue().await
                {
                    return;
                }
                after = page.last().map(|(k, _)| k.clone());
            }
        }
        self.send("operationStorageDone", None);
    }
}

/// The items of a storage request: each key with what is asked of it.
type Queries = Vec<(Vec<u8>, QueryKind)>;

/// `chainHead_v1_storage`'s items and optional child trie.
fn storage_params(params: &Params) -> RpcResult<(Queries, Option<String>)> {
    let mut seq = params.sequence();
    let _: Value = seq.next()?;
    let _: String = seq.next()?;
    let items: Vec<StorageQuery> = seq.next()?;
    let child_trie: Option<String> = seq.optional_next()?;
    let items = items
        .into_iter()
        .map(|q| Ok((decode_hex(&q.key)?, q.kind)))
        .collect::<RpcResult<Vec<_>>>()?;
    Ok((items, child_trie))
}

/// `chainHead_v1_storage`: reads at a pinned block, as `operationStorageItems` events
/// paused by `operationWaitingForContinue` and closed by `operationStorageDone`.
fn storage(params: Params, follows: &Follows, ext: &Extensions) -> ResponsePayload<'static, Value> {
    let parsed = follow_and_hash(&params).and_then(|p| Ok((p, storage_params(&params)?)));
    let ((id, hash), (mut queries, child_trie)) = match parsed {
        Ok(p) => p,
        Err(e) => return ResponsePayload::error(e),
    };
    let block = match pinned_block(follows, &id, connection(ext), &hash) {
        Ok(Some((block, _))) => block,
        Ok(None) => return ResponsePayload::success(limit_reached()),
        Err(e) => return ResponsePayload::error(e),
    };
    let ongoing = follows.lock().get(&id).map_or(0, |f| f.operations.len());
    if ongoing >= MAX_ONGOING_OPERATIONS {
        return ResponsePayload::success(limit_reached());
    }
    let discarded = queries.len().saturating_sub(MAX_ONGOING_OPERATIONS);
    queries.truncate(MAX_ONGOING_OPERATIONS);
    if child_trie.is_some() {
        queries.clear(); // the devnet has no child tries: nothing under any key
    }
    let operation = Arc::new(Operation::default());
    let Some((operation_id, events)) = start_operation(follows, &id, Some(operation.clone()))
    else {
        return ResponsePayload::success(limit_reached());
    };
    let (answer, sent) = started(&operation_id, Some(discarded));
    let follows = follows.clone();
    tokio::spawn(async move {
        if sent.await.is_err() {
            return;
        }
        match block.state {
            None => {
                let event =
                    json!({ "event": "operationInaccessible", "operationId": operation_id });
                let _ = events.send(event);
            }
            Some(state) => {
                let run = StorageRun {
                    storage: state.storage.clone(),
                    queries,
                    operation_id: operation_id.clone(),
                    operation,
                    events,
                };
                run.run().await;
            }
        }
        if let Some(follow) = follows.lock().get_mut(&id) {
            follow.operations.remove(&operation_id);
        }
    });
    answer
}

/// The (subscription, operation id) of `continue` and `stopOperation`.
fn operation_params(params: &Params) -> RpcResult<(String, String)> {
    let mut seq = params.sequence();
    let id: Value = seq.next()?;
    let operation: String = seq.next()?;
    Ok((follow_param(&id)?, operation))
}

/// The operation `operation` of subscription `id` on this connection, if under way.
fn find_operation(
    follows: &Follows,
    params: &Params,
    ext: &Extensions,
) -> RpcResult<Option<Arc<Operation>>> {
    let (id, operation) = operation_params(params)?;
    let all = follows.lock();
    Ok(all
        .get(&id)
        .filter(|f| f.connection == connection(ext))
        .and_then(|f| f.operations.get(&operation).cloned()))
}

/// `chainHead_v1_continue`: resumes an operation waiting for it.
fn resume(params: Params, follows: &Follows, ext: &Extensions) -> RpcResult<()> {
    let Some(operation) = find_operation(follows, &params, ext)? else {
        return Ok(());
    };
    if !operation.waiting.swap(false, Ordering::SeqCst) {
        let why = "Wait for continue event was not generated for the subscription";
        return Err(error(INVALID_CONTINUE, why));
    }
    operation.resume.notify_one();
    Ok(())
}

/// `chainHead_v1_stopOperation`: stops an operation (no further events for it).
fn stop_operation(params: Params, follows: &Follows, ext: &Extensions) -> RpcResult<()> {
    let (id, operation_id) = operation_params(&params)?;
    if let Some(operation) = find_operation(follows, &params, ext)? {
        operation.stop();
        if let Some(follow) = follows.lock().get_mut(&id) {
            follow.operations.remove(&operation_id);
        }
    }
    Ok(())
}

/// `chainHead_v1_unpin`'s hashes: one, or a list without duplicates.
fn unpin_hashes(value: &Value) -> RpcResult<Vec<[u8; 32]>> {
    let hashes: Vec<[u8; 32]> = match value {
        Value::String(s) => vec![decode_hash(s)?],
        Value::Array(list) => list
            .iter()
            .map(|h| match h {
                Value::String(s) => decode_hash(s),
                other => Err(error(INVALID_PARAMS, format!("bad block hash {other}"))),
            })
            .collect::<RpcResult<_>>()?,
        other => return Err(error(INVALID_PARAMS, format!("bad block hash {other}"))),
    };
    let mut sorted = hashes.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != hashes.len() {
        return Err(error(INVALID_DUPLICATE_HASHES, "Received duplicate hashes"));
    }
    Ok(hashes)
}

/// `chainHead_v1_unpin`: unpins blocks, all or none (an unpinned hash is an error).
fn unpin(params: Params, follows: &Follows, ext: &Extensions) -> RpcResult<()> {
    let mut seq = params.sequence();
    let id: Value = seq.next()?;
    let hashes: Value = seq.next()?;
    let (id, hashes) = (follow_param(&id)?, unpin_hashes(&hashes)?);
    let mut all = follows.lock();
    let Some(follow) = all.get_mut(&id).filter(|f| f.connection == connection(ext)) else {
        return Ok(());
    };
    if !hashes.iter().all(|h| follow.pinned.contains_key(h)) {
        return Err(invalid_block());
    }
    for hash in &hashes {
        follow.pinned.remove(hash);
    }
    Ok(())
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
    use super::*;

    #[test]
    fn unpin_refuses_duplicates() {
        let hash = hex32(&[1; 32]);
        assert_eq!(unpin_hashes(&json!(hash)).unwrap(), vec![[1; 32]]);
        let e = unpin_hashes(&json!([hash, hash])).unwrap_err();
        assert_eq!(e.code(), INVALID_DUPLICATE_HASHES);
    }

    #[test]
    fn announcements_are_new_best_then_finalized() {
        let chain = Chain::new(&crate::DevnetConfig::default());
        let genesis = chain.head().clone();
        let events = announcements(&[genesis]);
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["newBlock", "bestBlockChanged", "finalized"]);
        assert_eq!(events[2]["prunedBlockHashes"], json!([]));
    }
}
