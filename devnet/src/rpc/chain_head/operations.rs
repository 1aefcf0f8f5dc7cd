//! The operations on pinned blocks: `header` at once; `body`, `call` and `storage` as
//! `started` with an operation id and their results as follow events once the answer has
//! gone out (storage paused every few items until `chainHead_v1_continue`);
//! `stopOperation`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use jsonrpsee::types::Params;
use jsonrpsee::{Extensions, MethodResponseFuture, ResponsePayload};
use serde::Deserialize;
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_256;
use tokio::sync::mpsc;

use super::super::runtime;
use super::super::{decode_hex, error, RpcResult};
use super::pinning::pinned_block;
use super::*;
use crate::chain::hex32;
use crate::node::Node;
use crate::storage::{under, StorageMap};

/// `{ "result": "started", ... }`, and the future that resolves once it has been sent.
pub(super) fn started(
    operation_id: &str,
    discarded: Option<usize>,
) -> (ResponsePayload<'static, Value>, MethodResponseFuture) {
    let mut answer = json!({ "result": "started", "operationId": operation_id });
    if let Some(discarded) = discarded {
        answer["discardedItems"] = json!(discarded);
    }
    ResponsePayload::success(answer).notify_on_completion()
}

/// Starts an operation on subscription `id`: its id and the sender of its events.
pub(super) fn start_operation(
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
pub(super) fn send_after(
    answer: MethodResponseFuture,
    events: mpsc::UnboundedSender<Value>,
    event: Value,
) {
    tokio::spawn(async move {
        if answer.await.is_ok() {
            let _ = events.send(event);
        }
    });
}

/// `chainHead_v1_header`: the SCALE header of a pinned block, `null` for an unknown
/// subscription.
pub(super) fn header(
    params: Params,
    follows: &Follows,
    ext: &Extensions,
) -> RpcResult<Option<String>> {
    let (id, hash) = follow_and_hash(&params)?;
    let block = pinned_block(follows, &id, connection(ext), &hash)?;
    Ok(block.map(|(b, _)| hex32(&b.header.encode())))
}

/// The pinned block an operation runs on, and whether its subscription follows the
/// runtime; otherwise the answer the spec gives (`limitReached` for an unknown
/// subscription, the error for a block not pinned).
fn operation_block(
    follows: &Follows,
    id: &str,
    ext: &Extensions,
    hash: &[u8; 32],
) -> Result<(Block, bool), ResponsePayload<'static, Value>> {
    match pinned_block(follows, id, connection(ext), hash) {
        Ok(Some(pinned)) => Ok(pinned),
        Ok(None) => Err(ResponsePayload::success(limit_reached())),
        Err(e) => Err(ResponsePayload::error(e)),
    }
}

/// `chainHead_v1_body`: the pinned block's extrinsics, as `operationBodyDone`.
pub(super) fn body(
    params: Params,
    follows: &Follows,
    ext: &Extensions,
) -> ResponsePayload<'static, Value> {
    let (id, hash) = match follow_and_hash(&params) {
        Ok(p) => p,
        Err(e) => return ResponsePayload::error(e),
    };
    let block = match operation_block(follows, &id, ext, &hash) {
        Ok((block, _)) => block,
        Err(answer) => return answer,
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
pub(super) fn call_params(params: &Params) -> RpcResult<(String, Vec<u8>)> {
    let mut seq = params.sequence();
    let _: Value = seq.next()?;
    let _: String = seq.next()?;
    let function: String = seq.next()?;
    let data: String = seq.next()?;
    Ok((function, decode_hex(&data)?))
}

/// `chainHead_v1_call`: a runtime API call at a pinned block, as `operationCallDone`
/// (`operationError` when the devnet refuses it, `operationInaccessible` without state).
pub(super) fn call(
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
    let block = match operation_block(follows, &id, ext, &hash) {
        Ok((_, false)) => {
            let why = "The `chainHead_follow` subscription was started with `withRuntime` set \
                       to `false`";
            return ResponsePayload::error(error(INVALID_RUNTIME_CALL, why));
        }
        Ok((block, true)) => block,
        Err(answer) => return answer,
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
pub(super) struct StorageQuery {
    key: String,
    #[serde(rename = "type")]
    kind: QueryKind,
}

/// What a storage item asks for.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(super) enum QueryKind {
    Value,
    Hash,
    ClosestDescendantMerkleValue,
    DescendantsValues,
    DescendantsHashes,
}

/// One result item: `{key, value}` or `{key, hash}`.
pub(super) fn item(key: &[u8], value: &[u8], kind: QueryKind) -> Value {
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
pub(super) fn direct_items(storage: &StorageMap, queries: &[(Vec<u8>, QueryKind)]) -> Vec<Value> {
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
pub(super) struct StorageRun {
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
pub(super) type Queries = Vec<(Vec<u8>, QueryKind)>;

/// `chainHead_v1_storage`'s items and optional child trie.
pub(super) fn storage_params(params: &Params) -> RpcResult<(Queries, Option<String>)> {
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
pub(super) fn storage(
    params: Params,
    follows: &Follows,
    ext: &Extensions,
) -> ResponsePayload<'static, Value> {
    let parsed = follow_and_hash(&params).and_then(|p| Ok((p, storage_params(&params)?)));
    let ((id, hash), (mut queries, child_trie)) = match parsed {
        Ok(p) => p,
        Err(e) => return ResponsePayload::error(e),
    };
    let block = match operation_block(follows, &id, ext, &hash) {
        Ok((block, _)) => block,
        Err(answer) => return answer,
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
pub(super) fn operation_params(params: &Params) -> RpcResult<(String, String)> {
    let mut seq = params.sequence();
    let id: Value = seq.next()?;
    let operation: String = seq.next()?;
    Ok((follow_param(&id)?, operation))
}

/// The operation `operation` of subscription `id` on this connection, if under way.
pub(super) fn find_operation(
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
pub(super) fn resume(params: Params, follows: &Follows, ext: &Extensions) -> RpcResult<()> {
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
pub(super) fn stop_operation(params: Params, follows: &Follows, ext: &Extensions) -> RpcResult<()> {
    let (id, operation_id) = operation_params(&params)?;
    if let Some(operation) = find_operation(follows, &params, ext)? {
        operation.stop();
        if let Some(follow) = follows.lock().get_mut(&id) {
            follow.operations.remove(&operation_id);
        }
    }
    Ok(())
}
