//! `author_*`: submitting and watching extrinsics, and the pool's content, with the author
//! API's error codes (1001 bad format, 1010 invalid, 1013 already imported, 1014 priority).

use std::sync::Arc;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{decode_hash, decode_hex, next_for_subscriber, notify, RpcResult};
use crate::chain::hex32;
use crate::node::{Ledger, Node};
use crate::tx_pool::{SubmitError, TxStatus};

/// The author API's error object for a refused submission.
pub fn submit_error(e: &SubmitError) -> ErrorObjectOwned {
    let (message, data) = e.message_and_data();
    ErrorObjectOwned::owned(e.code(), message, data)
}

/// A status update as `author_extrinsicUpdate` carries it.
fn status_json(status: &TxStatus) -> Value {
    match status {
        TxStatus::Ready => json!("ready"),
        TxStatus::Future => json!("future"),
        TxStatus::InBlock(hash) => json!({ "inBlock": hex32(hash) }),
        TxStatus::Finalized(hash) => json!({ "finalized": hex32(hash) }),
        TxStatus::Retracted(hash) => json!({ "retracted": hex32(hash) }),
        TxStatus::Invalid => json!("invalid"),
    }
}

/// Pools an extrinsic given in hex; with `watch`, also returns its status updates.
pub fn submit(
    node: &Node,
    hex: &str,
    watch: bool,
) -> Result<([u8; 32], Option<mpsc::UnboundedReceiver<TxStatus>>), ErrorObjectOwned> {
    let bytes = decode_hex(hex)?;
    let mut guard = node.lock();
    let Ledger { chain, tx_pool } = &mut *guard;
    tx_pool
        .submit(chain, &bytes, watch)
        .map_err(|e| submit_error(&e))
}

/// `author_removeExtrinsic`'s items: an encoded extrinsic or a transaction hash.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum ExtrinsicOrHash {
    Hash(String),
    Extrinsic(String),
}

/// Registers the `author_*` methods and the watch subscription.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
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
            .tx_pool
            .pending()
            .iter()
            .map(|x| hex32(x))
            .collect();
        pending
    })?;
    m.register_method(
        "author_removeExtrinsic",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Vec<String>> {
            node.check_unsafe()?;
            let items: Vec<ExtrinsicOrHash> = params.one()?;
            let hashes = items
                .iter()
                .map(|item| match item {
                    ExtrinsicOrHash::Hash(h) => decode_hash(h),
                    ExtrinsicOrHash::Extrinsic(x) => {
                        Ok(sp_crypto_hashing::blake2_256(&decode_hex(x)?))
                    }
                })
                .collect::<RpcResult<Vec<[u8; 32]>>>()?;
            let removed = node.lock().tx_pool.remove(&hashes);
            Ok(removed.iter().map(|h| hex32(h)).collect())
        },
    )?;
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
            // Until its last status, or until the client leaves.
            while let Some(status) = next_for_subscriber(&sink, &mut updates).await {
                if !notify(&sink, &status_json(&status)).await || status.is_last() {
                    return;
                }
            }
        },
    )?;
    Ok(())
}
