//! `state_*`: storage reads (values, hashes, sizes, keys, historical change sets), the
//! metadata and runtime version, `state_call`, and the storage and runtime-version
//! subscriptions, with the node's `…At` and `chain_…` aliases. State is read from the block
//! given (the head by default) and only while that block's state is kept (pruning).

use std::sync::Arc;

use imbl::ordmap::DiffItem;
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::Params;
use jsonrpsee::{PendingSubscriptionSink, RpcModule};
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_256;
use tokio::sync::broadcast::error::RecvError;

use super::runtime::{self, runtime_version};
use super::{alias, decode_hex, error, notify, state_at, state_error, RpcResult, STATE_BASE};
use crate::chain::{hex32, Chain};
use crate::node::Node;
use crate::runtime::METADATA;
use crate::storage::{under, StorageMap};

/// The most keys `state_getKeysPaged` returns at once (`STORAGE_KEYS_PAGED_MAX_COUNT`).
const KEYS_PAGED_MAX: u32 = 1000;
/// The most blocks one `state_queryStorage` walks.
const QUERY_RANGE_MAX: u64 = 10_000;

/// `[key, value-or-null]` pairs of a change set.
fn change(key: &[u8], value: Option<&Vec<u8>>) -> Value {
    json!([hex32(key), value.map(|v| hex32(v))])
}

/// A `StorageChangeSet`.
fn change_set(block: &[u8; 32], changes: Vec<Value>) -> Value {
    json!({ "block": hex32(block), "changes": changes })
}

/// Keys as given in a request.
fn decode_keys(keys: &[String]) -> RpcResult<Vec<Vec<u8>>> {
    keys.iter().map(|k| decode_hex(k)).collect()
}

/// One storage key and an optional block hash.
fn key_and_at(params: &Params) -> RpcResult<(Vec<u8>, Option<String>)> {
    let mut seq = params.sequence();
    let key: String = seq.next()?;
    let at: Option<String> = seq.optional_next()?;
    Ok((decode_hex(&key)?, at))
}

/// The optional block hash of a query that takes nothing else.
fn at_only(params: &Params) -> RpcResult<Option<String>> {
    params.sequence().optional_next()
}

/// `state_queryStorage`: the values of `keys` at `from`, then each later block (to `to`)
/// where one of them changed, with the changed ones.
fn query_storage(
    chain: &Chain,
    keys: &[Vec<u8>],
    from: &str,
    to: Option<&str>,
) -> RpcResult<Value> {
    let (from_block, _) = state_at(chain, Some(from))?;
    let (to_block, _) = state_at(chain, to)?;
    let (first, last) = (
        u64::from(from_block.header.number),
        u64::from(to_block.header.number),
    );
    let range_error = |details: String| {
        error(
            STATE_BASE + 1,
            format!(
                "Cannot query storage for block range {}..{}: {details}",
                hex32(&from_block.hash),
                hex32(&to_block.hash)
            ),
        )
    };
    if first > last {
        return Err(range_error("from block is after to block".into()));
    }
    if last - first >= QUERY_RANGE_MAX {
        return Err(range_error(format!("at most {QUERY_RANGE_MAX} blocks")));
    }
    let mut sets = Vec::new();
    let mut previous: Option<&StorageMap> = None;
    for number in first..=last {
        let block = chain.block(number).expect("within the chain");
        let state = chain
            .state_at(&block.hash)
            .map_err(|why| state_error(&block.hash, why))?;
        let changes: Vec<Value> = keys
            .iter()
            .filter(|k| previous.is_none_or(|p| p.get(*k) != state.storage.get(*k)))
            .map(|k| change(k, state.storage.get(k)))
            .collect();
        if previous.is_none() || !changes.is_empty() {
            sets.push(change_set(&block.hash, changes));
        }
        previous = Some(&state.storage);
    }
    Ok(Value::Array(sets))
}

/// `state_getStorage`: the value, or `null`.
fn storage_value(storage: &StorageMap, key: &[u8]) -> Value {
    storage.get(key).map_or(Value::Null, |v| json!(hex32(v)))
}

/// `state_getStorageHash`: blake2-256 of the value, or `null`.
fn storage_hash(storage: &StorageMap, key: &[u8]) -> Value {
    storage
        .get(key)
        .map_or(Value::Null, |v| json!(hex32(&blake2_256(v))))
}

/// `state_getStorageSize`: the value's length; for a key without a value, the total size
/// of the values under it (`null` when there are none).
fn storage_size(storage: &StorageMap, key: &[u8]) -> Value {
    if let Some(value) = storage.get(key) {
        return json!(value.len());
    }
    let mut entries = under(storage, key, None).peekable();
    if entries.peek().is_none() {
        return Value::Null;
    }
    json!(entries.map(|(_, v)| v.len() as u64).sum::<u64>())
}

/// `state_getKeys`: every key under the prefix.
fn storage_keys(storage: &StorageMap, prefix: &[u8]) -> Value {
    json!(under(storage, prefix, None)
        .map(|(k, _)| hex32(k))
        .collect::<Vec<_>>())
}

/// `state_getPairs`: every key under the prefix with its value.
fn storage_pairs(storage: &StorageMap, prefix: &[u8]) -> Value {
    json!(under(storage, prefix, None)
        .map(|(k, v)| json!([hex32(k), hex32(v)]))
        .collect::<Vec<_>>())
}

/// Registers the `state_*` methods and subscriptions.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
    // The key-and-block queries: each answers from the storage at the block (the head by
    // default) and the key, and has an alias.
    type KeyQuery = fn(&StorageMap, &[u8]) -> Value;
    // (method, alias, answer, unsafe)
    let key_queries: [(&'static str, &'static str, KeyQuery, bool); 5] = [
        (
            "state_getStorage",
            "state_getStorageAt",
            storage_value,
            false,
        ),
        (
            "state_getStorageHash",
            "state_getStorageHashAt",
            storage_hash,
            false,
        ),
        (
            "state_getStorageSize",
            "state_getStorageSizeAt",
            storage_size,
            false,
        ),
        ("state_getKeys", "", storage_keys, true),
        ("state_getPairs", "", storage_pairs, true),
    ];
    for (method, aliased, answer, is_unsafe) in key_queries {
        m.register_method(
            method,
            move |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
                if is_unsafe {
                    node.check_unsafe()?;
                }
                let (key, at) = key_and_at(&params)?;
                let ledger = node.lock();
                let (_, state) = state_at(&ledger.chain, at.as_deref())?;
                Ok(answer(&state.storage, &key))
            },
        )?;
        if !aliased.is_empty() {
            alias(m, method, &[aliased])?;
        }
    }
    m.register_method(
        "state_getKeysPaged",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Vec<String>> {
            let mut seq = params.sequence();
            let prefix: Option<String> = seq.next()?;
            let count: u32 = seq.next()?;
            let start: Option<String> = seq.optional_next()?;
            let at: Option<String> = seq.optional_next()?;
            if count > KEYS_PAGED_MAX {
                return Err(error(
                    STATE_BASE + 2,
                    format!("count exceeds maximum value. value: {count}, max: {KEYS_PAGED_MAX}"),
                ));
            }
            let prefix = prefix
                .map(|p| decode_hex(&p))
                .transpose()?
                .unwrap_or_default();
            let start = start.map(|s| decode_hex(&s)).transpose()?;
            let ledger = node.lock();
            let (_, state) = state_at(&ledger.chain, at.as_deref())?;
            Ok(under(&state.storage, &prefix, start.as_deref())
                .take(count as usize)
                .map(|(k, _)| hex32(k))
                .collect())
        },
    )?;
    alias(m, "state_getKeysPaged", &["state_getKeysPagedAt"])?;
    m.register_method(
        "state_queryStorage",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let mut seq = params.sequence();
            let keys: Vec<String> = seq.next()?;
            let from: String = seq.next()?;
            let to: Option<String> = seq.optional_next()?;
            let keys = decode_keys(&keys)?;
            let ledger = node.lock();
            query_storage(&ledger.chain, &keys, &from, to.as_deref())
        },
    )?;
    m.register_method(
        "state_queryStorageAt",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let mut seq = params.sequence();
            let keys: Vec<String> = seq.next()?;
            let at: Option<String> = seq.optional_next()?;
            let keys = decode_keys(&keys)?;
            let ledger = node.lock();
            let (block, state) = state_at(&ledger.chain, at.as_deref())?;
            let changes = keys
                .iter()
                .map(|k| change(k, state.storage.get(k)))
                .collect();
            Ok(json!([change_set(&block.hash, changes)]))
        },
    )?;
    m.register_method(
        "state_getMetadata",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<String> {
            let at = at_only(&params)?;
            state_at(&node.lock().chain, at.as_deref())?;
            Ok(hex32(METADATA))
        },
    )?;
    m.register_method(
        "state_getRuntimeVersion",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let at = at_only(&params)?;
            state_at(&node.lock().chain, at.as_deref())?;
            Ok(runtime_version())
        },
    )?;
    alias(m, "state_getRuntimeVersion", &["chain_getRuntimeVersion"])?;
    m.register_method(
        "state_call",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<String> {
            let mut seq = params.sequence();
            let method: String = seq.next()?;
            let data: String = seq.next()?;
            let at: Option<String> = seq.optional_next()?;
            let data = decode_hex(&data)?;
            let ledger = node.lock();
            state_at(&ledger.chain, at.as_deref())?;
            Ok(hex32(&runtime::call(&ledger.chain, &method, &data)?))
        },
    )?;
    alias(m, "state_call", &["state_callAt"])?;
    m.register_subscription(
        "state_subscribeRuntimeVersion",
        "state_runtimeVersion",
        "state_unsubscribeRuntimeVersion",
        |_, pending: PendingSubscriptionSink, _, _| async move {
            // The runtime never upgrades: one notification, then the subscription idles.
            if let Ok(sink) = pending.accept().await {
                if notify(&sink, &runtime_version()).await {
                    sink.closed().await;
                }
            }
        },
    )?;
    alias(
        m,
        "state_subscribeRuntimeVersion",
        &["chain_subscribeRuntimeVersion"],
    )?;
    alias(
        m,
        "state_unsubscribeRuntimeVersion",
        &["chain_unsubscribeRuntimeVersion"],
    )?;
    m.register_subscription(
        "state_subscribeStorage",
        "state_storage",
        "state_unsubscribeStorage",
        |params: Params, pending: PendingSubscriptionSink, node: Arc<Arc<Node>>, _| async move {
            let keys: Option<Vec<String>> = match params.sequence().optional_next() {
                Ok(keys) => keys,
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            let keys = match keys.as_deref().map(decode_keys).transpose() {
                Ok(keys) => keys.filter(|k| !k.is_empty()),
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            watch_storage(pending, (*node).clone(), keys).await;
        },
    )?;
    Ok(())
}

/// The changes between two states, for the watched keys (every key when `None`).
fn changes_between(
    before: &StorageMap,
    after: &StorageMap,
    keys: Option<&[Vec<u8>]>,
) -> Vec<Value> {
    match keys {
        Some(keys) => keys
            .iter()
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| change(k, after.get(k)))
            .collect(),
        None => before
            .diff(after)
            .map(|item| match item {
                DiffItem::Add(k, v) | DiffItem::Update { new: (k, v), .. } => change(k, Some(v)),
                DiffItem::Remove(k, _) => change(k, None),
            })
            .collect(),
    }
}

/// `state_subscribeStorage`: the watched keys' values at the head when asked for keys,
/// then, for every new head, the keys whose value differs from the last head sent (so a
/// re-organisation is reported as the difference it makes).
async fn watch_storage(
    pending: PendingSubscriptionSink,
    node: Arc<Node>,
    keys: Option<Vec<Vec<u8>>>,
) {
    let mut heads = node.subscribe_blocks();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let (head, mut last) = {
        let ledger = node.lock();
        let head = ledger.chain.head().hash;
        (head, ledger.chain.head_state().storage.clone())
    };
    if let Some(keys) = &keys {
        let changes = keys.iter().map(|k| change(k, last.get(k))).collect();
        if !notify(&sink, &change_set(&head, changes)).await {
            return;
        }
    }
    loop {
        let imported = tokio::select! {
            _ = sink.closed() => return,
            head = heads.recv() => match head {
                // A new best head; a re-organisation's other fork blocks never were.
                Ok(imported) if imported.best => imported,
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
        };
        let Ok(storage) = node
            .lock()
            .chain
            .state_at(&imported.hash)
            .map(|s| s.storage.clone())
        else {
            continue; // re-organised away or pruned while this subscriber lagged
        };
        let changes = changes_between(&last, &storage, keys.as_deref());
        last = storage;
        if !changes.is_empty() && !notify(&sink, &change_set(&imported.hash, changes)).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&[u8], &[u8])]) -> StorageMap {
        entries
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn changes_cover_added_updated_and_removed_keys() {
        let before = map(&[(b"a", b"1"), (b"b", b"2")]);
        let after = map(&[(b"b", b"3"), (b"c", b"4")]);
        let all = changes_between(&before, &after, None);
        assert_eq!(
            all,
            vec![
                json!(["0x61", null]),
                json!(["0x62", "0x33"]),
                json!(["0x63", "0x34"])
            ]
        );
        let watched = [b"a".to_vec(), b"z".to_vec()];
        assert_eq!(
            changes_between(&before, &after, Some(&watched)),
            vec![json!(["0x61", null])]
        );
        assert!(changes_between(&after, &after, None).is_empty());
    }
}
