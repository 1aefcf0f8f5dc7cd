//! The Substrate JSON-RPC methods a client needs for the registration path, answered from
//! the devnet's chain exactly in the shapes a subtensor node uses.

use std::sync::Arc;

use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use parity_scale_codec::{Compact, Decode, Encode};
use regpow_solver::PublicKey;
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_64;
use tokio::sync::mpsc;

use crate::chain::{hex32, Block, Chain};
use crate::events::{POW_REGISTER_PROOF_SIZE, POW_REGISTER_REF_TIME};
use crate::extrinsic::{Decoded, SignedExtrinsic};
use crate::node::{Ledger, Node, METADATA, SPEC_VERSION, TRANSACTION_VERSION};
use crate::pool::{SubmitError, TxStatus};
use crate::validity::{encode_validity, InvalidTransaction};

/// JSON-RPC "invalid params".
const INVALID_PARAMS: i32 = -32602;
/// Substrate's "unknown block" for state queries at a hash it does not have.
const UNKNOWN_BLOCK: i32 = 4003;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

fn decode_hex(text: &str) -> RpcResult<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|e| error(INVALID_PARAMS, format!("bad hex '{text}': {e}")))
}

fn decode_hash(text: &str) -> RpcResult<[u8; 32]> {
    decode_hex(text)?
        .try_into()
        .map_err(|_| error(INVALID_PARAMS, format!("not a 32-byte hash: '{text}'")))
}

/// The block at `hash`, or the head when no hash is given.
fn block_at(chain: &Chain, hash: Option<String>) -> RpcResult<&Block> {
    match hash {
        None => Ok(chain.head()),
        Some(h) => {
            let hash = decode_hash(&h)?;
            chain
                .block_by_hash(&hash)
                .ok_or_else(|| error(UNKNOWN_BLOCK, format!("unknown block {h}")))
        }
    }
}

/// The runtime APIs the devnet answers, with their versions (as runtime 475 reports them).
const APIS: [(&str, u32); 6] = [
    ("Core", 5),
    ("Metadata", 2),
    ("BlockBuilder", 6),
    ("TaggedTransactionQueue", 3),
    ("AccountNonceApi", 1),
    ("TransactionPaymentApi", 4),
];
const SPEC_NAME: &str = "node-subtensor";

/// The runtime version as `state_getRuntimeVersion` reports it.
fn runtime_version() -> Value {
    let apis: Vec<Value> = APIS
        .iter()
        .map(|(name, version)| json!([hex32(&blake2_64(name.as_bytes())), version]))
        .collect();
    json!({
        "specName": SPEC_NAME,
        "implName": SPEC_NAME,
        "authoringVersion": 1,
        "specVersion": SPEC_VERSION,
        "implVersion": 1,
        "apis": apis,
        "transactionVersion": TRANSACTION_VERSION,
        "systemVersion": 1,
        "stateVersion": 1,
    })
}

/// The runtime version as `Core_version` returns it (SCALE `sp_version::RuntimeVersion`).
fn encode_runtime_version() -> Vec<u8> {
    let apis: Vec<([u8; 8], u32)> = APIS
        .iter()
        .map(|(name, version)| (blake2_64(name.as_bytes()), *version))
        .collect();
    let mut out = (SPEC_NAME, SPEC_NAME, 1u32, SPEC_VERSION, 1u32).encode();
    apis.encode_to(&mut out);
    TRANSACTION_VERSION.encode_to(&mut out);
    1u8.encode_to(&mut out); // system_version
    out
}

/// Splits `extrinsic ‖ tail` where the extrinsic carries its own length prefix.
fn split_extrinsic(data: &[u8]) -> RpcResult<(&[u8], &[u8])> {
    let mut input = data;
    let Compact(length) = Compact::<u32>::decode(&mut input)
        .map_err(|_| error(INVALID_PARAMS, "expected an encoded extrinsic"))?;
    let total = data.len() - input.len() + length as usize;
    if total > data.len() {
        return Err(error(INVALID_PARAMS, "truncated extrinsic"));
    }
    Ok(data.split_at(total))
}

/// `RuntimeDispatchInfo` of a fee-free `pow_register`: its weight, class Normal, fee 0.
fn encode_dispatch_info_for_fee() -> Vec<u8> {
    let mut out = Vec::new();
    Compact(POW_REGISTER_REF_TIME).encode_to(&mut out);
    Compact(POW_REGISTER_PROOF_SIZE).encode_to(&mut out);
    out.push(0); // DispatchClass::Normal
    0u64.encode_to(&mut out); // partial_fee (pow_register pays no fee)
    out
}

/// `state_call`: the runtime APIs a client uses before and while it submits.
fn state_call(ledger: &Ledger, method: &str, data: &[u8]) -> RpcResult<Vec<u8>> {
    let chain = &ledger.chain;
    match method {
        "Core_version" => Ok(encode_runtime_version()),
        // Only V14 is served: the metadata is the real runtime-475 V14 blob.
        "Metadata_metadata_versions" => Ok(vec![14u32].encode()),
        "Metadata_metadata_at_version" => {
            let version = u32::decode(&mut &data[..])
                .map_err(|_| error(INVALID_PARAMS, "expected a u32 metadata version"))?;
            let answer: Option<Vec<u8>> = (version == 14).then(|| METADATA.to_vec());
            Ok(answer.encode())
        }
        "Metadata_metadata" => Ok(METADATA.to_vec().encode()),
        "AccountNonceApi_account_nonce" => {
            let account = <[u8; 32]>::decode(&mut &data[..])
                .map_err(|_| error(INVALID_PARAMS, "expected a 32-byte account id"))?;
            Ok(chain.account(&account).nonce.encode())
        }
        "TaggedTransactionQueue_validate_transaction" => {
            // (source: u8, extrinsic, block hash): validated on top of the head, where the
            // runtime accepts any nonce from the account's next one on (future ones with
            // `requires`).
            let (_source, rest) = data
                .split_first()
                .ok_or_else(|| error(INVALID_PARAMS, "expected (source, extrinsic, hash)"))?;
            let (bytes, _hash) = split_extrinsic(rest)?;
            let validity = match SignedExtrinsic::decode(bytes) {
                Ok(Decoded::Signed(xt)) => chain.validate(&xt, u32::MAX),
                Ok(Decoded::Bare) => Err(InvalidTransaction::Call),
                Err(e) => return Err(error(INVALID_PARAMS, format!("bad extrinsic: {e}"))),
            };
            Ok(encode_validity(&validity))
        }
        "TransactionPaymentApi_query_info" => {
            split_extrinsic(data)?;
            Ok(encode_dispatch_info_for_fee())
        }
        other => Err(error(
            -32000,
            format!("devnet: runtime API '{other}' is not served"),
        )),
    }
}

/// The author API's error object for a refused submission.
fn submit_error(e: &SubmitError) -> ErrorObjectOwned {
    let (message, data) = e.message_and_data();
    ErrorObjectOwned::owned(e.code(), message, data)
}

/// A status update as `author_extrinsicUpdate` carries it.
fn status_json(status: &TxStatus) -> Value {
    match status {
        TxStatus::Ready => json!("ready"),
        TxStatus::InBlock(hash) => json!({ "inBlock": hex32(hash) }),
        TxStatus::Finalized(hash) => json!({ "finalized": hex32(hash) }),
        TxStatus::Invalid => json!("invalid"),
    }
}

fn submit(
    node: &Node,
    hex: &str,
    watch: bool,
) -> Result<([u8; 32], Option<mpsc::UnboundedReceiver<TxStatus>>), ErrorObjectOwned> {
    let bytes = decode_hex(hex)?;
    let mut guard = node.lock();
    let Ledger { chain, pool } = &mut *guard;
    pool.submit(chain, &bytes, watch)
        .map_err(|e| submit_error(&e))
}

/// Every method, for `rpc_methods`.
const METHODS: &[&str] = &[
    "rpc_methods",
    "system_chain",
    "system_name",
    "system_version",
    "system_properties",
    "system_health",
    "chain_getBlockHash",
    "chain_getHeader",
    "chain_getBlock",
    "chain_getFinalizedHead",
    "chain_subscribeNewHeads",
    "chain_unsubscribeNewHeads",
    "chain_subscribeFinalizedHeads",
    "chain_unsubscribeFinalizedHeads",
    "chain_subscribeAllHeads",
    "chain_unsubscribeAllHeads",
    "state_getRuntimeVersion",
    "state_subscribeRuntimeVersion",
    "state_unsubscribeRuntimeVersion",
    "state_getMetadata",
    "state_getStorage",
    "state_getKeysPaged",
    "state_queryStorageAt",
    "state_call",
    "system_accountNextIndex",
    "author_submitExtrinsic",
    "author_submitAndWatchExtrinsic",
    "author_unwatchExtrinsic",
    "author_pendingExtrinsics",
];

/// Builds the RPC module over a node.
pub fn module(
    node: Arc<Node>,
) -> Result<RpcModule<Arc<Node>>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(node);
    m.register_method("rpc_methods", |_, _, _| json!({ "methods": METHODS }))?;
    m.register_method("system_chain", |_, _, _| "regpow devnet")?;
    m.register_method("system_name", |_, _, _| "regpow-devnet")?;
    m.register_method("system_version", |_, _, _| env!("CARGO_PKG_VERSION"))?;
    m.register_method(
        "system_properties",
        |_, _, _| json!({ "ss58Format": 42, "tokenDecimals": 9, "tokenSymbol": "TAO" }),
    )?;
    m.register_method(
        "system_health",
        |_, _, _| json!({ "peers": 0, "isSyncing": false, "shouldHavePeers": false }),
    )?;
    m.register_method(
        "chain_getBlockHash",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let number: Option<Value> = params.sequence().optional_next()?;
            let ledger = node.lock();
            let chain = &ledger.chain;
            let number = match number {
                None | Some(Value::Null) => u64::from(chain.head().header.number),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .ok_or_else(|| error(INVALID_PARAMS, "bad block number"))?,
                Some(Value::String(s)) => u64::from_str_radix(s.trim_start_matches("0x"), 16)
                    .map_err(|_| error(INVALID_PARAMS, format!("bad block number '{s}'")))?,
                Some(other) => {
                    return Err(error(INVALID_PARAMS, format!("bad block number {other}")))
                }
            };
            Ok(chain
                .block(number)
                .map_or(Value::Null, |b| json!(hex32(&b.hash))))
        },
    )?;
    m.register_method(
        "chain_getHeader",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let hash: Option<String> = params.sequence().optional_next()?;
            let ledger = node.lock();
            let chain = &ledger.chain;
            Ok(match block_at(chain, hash) {
                Ok(block) => block.header.to_json(),
                Err(_) => Value::Null,
            })
        },
    )?;
    m.register_method(
        "chain_getBlock",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let hash: Option<String> = params.sequence().optional_next()?;
            let ledger = node.lock();
            let chain = &ledger.chain;
            Ok(match block_at(chain, hash) {
                Ok(block) => json!({
                    "block": {
                        "header": block.header.to_json(),
                        "extrinsics": block.extrinsics.iter().map(|x| hex32(x)).collect::<Vec<_>>(),
                    },
                    "justifications": null,
                }),
                Err(_) => Value::Null,
            })
        },
    )?;
    m.register_method("chain_getFinalizedHead", |_, node: &Arc<Node>, _| {
        hex32(&node.lock().chain.head().hash)
    })?;
    for (subscribe, notification, unsubscribe) in [
        (
            "chain_subscribeNewHeads",
            "chain_newHead",
            "chain_unsubscribeNewHeads",
        ),
        (
            "chain_subscribeFinalizedHeads",
            "chain_finalizedHead",
            "chain_unsubscribeFinalizedHeads",
        ),
        (
            "chain_subscribeAllHeads",
            "chain_allHead",
            "chain_unsubscribeAllHeads",
        ),
    ] {
        m.register_subscription(
            subscribe,
            notification,
            unsubscribe,
            |_, pending, node, _| async move { follow_heads(pending, (*node).clone()).await },
        )?;
    }
    m.register_method("state_getRuntimeVersion", |_, _, _| runtime_version())?;
    m.register_subscription(
        "state_subscribeRuntimeVersion",
        "state_runtimeVersion",
        "state_unsubscribeRuntimeVersion",
        |_, pending: PendingSubscriptionSink, _, _| async move {
            // The runtime never upgrades: one notification, then the subscription idles.
            if let Ok(sink) = pending.accept().await {
                if let Ok(raw) = serde_json::value::to_raw_value(&runtime_version()) {
                    let _ = sink.send(SubscriptionMessage::from(raw)).await;
                }
                sink.closed().await;
            }
        },
    )?;
    m.register_method("state_getMetadata", |_, _, _| hex32(METADATA))?;
    m.register_method(
        "state_getStorage",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let mut seq = params.sequence();
            let key: String = seq.next()?;
            let at: Option<String> = seq.optional_next()?;
            let key = decode_hex(&key)?;
            let ledger = node.lock();
            let chain = &ledger.chain;
            let block = block_at(chain, at)?;
            Ok(block
                .storage
                .get(&key)
                .map_or(Value::Null, |v| json!(hex32(v))))
        },
    )?;
    m.register_method(
        "state_getKeysPaged",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let mut seq = params.sequence();
            let prefix: String = seq.next()?;
            let count: usize = seq.next()?;
            let start: Option<String> = seq.optional_next()?;
            let at: Option<String> = seq.optional_next()?;
            let prefix = decode_hex(&prefix)?;
            let start = start.map(|s| decode_hex(&s)).transpose()?;
            let ledger = node.lock();
            let chain = &ledger.chain;
            let block = block_at(chain, at)?;
            let keys: Vec<String> = block
                .storage
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .filter(|k| start.as_ref().is_none_or(|s| k.as_slice() > s.as_slice()))
                .take(count.min(1000))
                .map(|k| hex32(k))
                .collect();
            Ok(json!(keys))
        },
    )?;
    m.register_method(
        "state_queryStorageAt",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let mut seq = params.sequence();
            let keys: Vec<String> = seq.next()?;
            let at: Option<String> = seq.optional_next()?;
            let ledger = node.lock();
            let chain = &ledger.chain;
            let block = block_at(chain, at)?;
            let changes = keys
                .iter()
                .map(|k| {
                    let value = block.storage.get(&decode_hex(k)?).map(|v| hex32(v));
                    Ok(json!([k, value]))
                })
                .collect::<RpcResult<Vec<Value>>>()?;
            Ok(json!([{ "block": hex32(&block.hash), "changes": changes }]))
        },
    )?;
    m.register_method(
        "state_call",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<String> {
            let mut seq = params.sequence();
            let method: String = seq.next()?;
            let data: String = seq.next()?;
            let at: Option<String> = seq.optional_next()?;
            let ledger = node.lock();
            block_at(&ledger.chain, at)?;
            Ok(hex32(&state_call(&ledger, &method, &decode_hex(&data)?)?))
        },
    )?;
    m.register_method(
        "system_accountNextIndex",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<u32> {
            let account: String = params.one()?;
            let key = PublicKey::parse("account", &account)
                .map_err(|e| error(INVALID_PARAMS, e.to_string()))?;
            let ledger = node.lock();
            Ok(ledger.pool.next_nonce(&ledger.chain, &key.0))
        },
    )?;
    m.register_method(
        "author_submitExtrinsic",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<String> {
            let hex: String = params.one()?;
            let (hash, _) = submit(node, &hex, false)?;
            Ok(hex32(&hash))
        },
    )?;
    m.register_method("author_pendingExtrinsics", |_, node: &Arc<Node>, _| {
        let pending: Vec<String> = node
            .lock()
            .pool
            .pending()
            .iter()
            .map(|x| hex32(x))
            .collect();
        pending
    })?;
    m.register_subscription(
        "author_submitAndWatchExtrinsic",
        "author_extrinsicUpdate",
        "author_unwatchExtrinsic",
        |params: Params, pending: PendingSubscriptionSink, node: Arc<Arc<Node>>, _| async move {
            let hex: String = match params.one() {
                Ok(hex) => hex,
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            let mut updates = match submit(&node, &hex, true) {
                Ok((_, Some(updates))) => updates,
                Ok((_, None)) => return,
                Err(e) => {
                    pending.reject(e).await;
                    return;
                }
            };
            let Ok(sink) = pending.accept().await else {
                return;
            };
            while let Some(status) = updates.recv().await {
                let Ok(raw) = serde_json::value::to_raw_value(&status_json(&status)) else {
                    return;
                };
                if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                    return;
                }
                if matches!(status, TxStatus::Finalized(_) | TxStatus::Invalid) {
                    return;
                }
            }
        },
    )?;
    Ok(m)
}

/// Sends every new head to one subscriber until it unsubscribes or disconnects.
async fn follow_heads(pending: PendingSubscriptionSink, node: Arc<Node>) {
    let mut heads = node.subscribe_blocks();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    // Subscribers get the current head first, as a node does.
    let current = node.lock().chain.head().header.to_json();
    let send = |value: Value| {
        let sink = sink.clone();
        async move {
            match serde_json::value::to_raw_value(&value) {
                Ok(raw) => sink.send(SubscriptionMessage::from(raw)).await.is_ok(),
                Err(_) => false,
            }
        }
    };
    if !send(current).await {
        return;
    }
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            head = heads.recv() => match head {
                Ok(imported) => {
                    if !send(imported.header.to_json()).await {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
