//! `transaction_v1_*` and `transactionWatch_v1_*` of the new JSON-RPC spec: submission
//! through the same pool admission as `author_submitExtrinsic` (see [`super::author`]).
//!
//! - `transaction_v1_broadcast` pools the transaction and answers an operation id, live
//!   until the transaction is finalized or dropped, or `transaction_v1_stop` ends it. A
//!   refused transaction still gets an id (the spec's broadcast reports nothing back), live
//!   until stopped, as a node's broadcast retries until stopped.
//! - `transactionWatch_v1_submitAndWatch` reports `validated`, then
//!   `bestChainBlockIncluded` and `finalized` with the block's hash and the extrinsic's
//!   index (as a string), or `invalid` / `dropped` / `error`. The devnet has no peers, so
//!   it never reports `broadcasted` (the v1 spec dropped it from this subscription too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::Params;
use jsonrpsee::{ConnectionId, PendingSubscriptionSink, RpcModule, SubscriptionSink};
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_256;
use tokio::sync::mpsc;

use super::author::submit;
use super::{connection, error, next_for_subscriber, notify, RpcResult, INVALID_PARAMS};
use crate::chain::hex32;
use crate::node::{Ledger, Node};
use crate::tx_pool::{SubmitError, TxStatus};

/// Broadcasts under way, by operation id.
#[derive(Clone, Default)]
struct Broadcasts {
    /// Each live operation's connection.
    live: Arc<Mutex<HashMap<String, ConnectionId>>>,
    next: Arc<Mutex<u64>>,
}

/// Broadcasts one connection may have live (polkadot-sdk's default): one more answers
/// `null`, as the spec has a server that has reached its limit answer.
pub const MAX_BROADCASTS_PER_CONNECTION: usize = 16;
/// Broadcasts live on the whole server (a refused one stays live until stopped, and a
/// client may leave without stopping it): past this, `null` too.
pub const MAX_BROADCASTS: usize = 1024;

impl Broadcasts {
    fn live(&self) -> MutexGuard<'_, HashMap<String, ConnectionId>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh operation id for `connection`, marked live; `None` past the limits.
    fn start(&self, connection: ConnectionId) -> Option<String> {
        let mut live = self.live();
        let mine = live.values().filter(|c| **c == connection).count();
        if mine >= MAX_BROADCASTS_PER_CONNECTION || live.len() >= MAX_BROADCASTS {
            return None;
        }
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next += 1;
        let id = format!("broadcast-{next}");
        live.insert(id.clone(), connection);
        Some(id)
    }
}

/// `{hash, index}` of the block that included the transaction `tx`, the index as a string;
/// `None` when that block is no longer in the chain (re-organised away).
fn included(node: &Node, block: &[u8; 32], tx: &[u8; 32]) -> Option<Value> {
    let ledger = node.lock();
    let found = ledger.chain.block_by_hash(block)?;
    let index = found.extrinsics.iter().position(|x| &blake2_256(x) == tx)?;
    Some(json!({ "hash": hex32(block), "index": index.to_string() }))
}

/// The watch event for one pool status.
fn watch_event(node: &Node, tx: &[u8; 32], status: &TxStatus) -> Value {
    match status {
        TxStatus::Ready | TxStatus::Future => json!({ "event": "validated" }),
        TxStatus::InBlock(block) => {
            json!({ "event": "bestChainBlockIncluded", "block": included(node, block, tx) })
        }
        TxStatus::Finalized(block) => match included(node, block, tx) {
            Some(at) => json!({ "event": "finalized", "block": at }),
            None => json!({ "event": "dropped", "error": "The block was re-organised away" }),
        },
        // The block that included it left the best chain: included in none now.
        TxStatus::Retracted(_) => json!({ "event": "bestChainBlockIncluded", "block": null }),
        TxStatus::Invalid => json!({
            "event": "invalid",
            "error": "Transaction is no longer valid (or was removed from the pool)",
        }),
    }
}

/// The watch event for a submission the pool refused.
fn refusal_event(e: &SubmitError) -> Value {
    let (message, data) = e.message_and_data();
    let error = data.map_or(message.clone(), |d| format!("{message}: {d}"));
    match e {
        SubmitError::BadFormat(_) | SubmitError::Invalid(_) => {
            json!({ "event": "invalid", "error": error })
        }
        SubmitError::AlreadyImported | SubmitError::TooLowPriority => {
            json!({ "event": "dropped", "error": error })
        }
    }
}

/// Whether a watch ends with this event.
fn is_final(event: &Value) -> bool {
    matches!(
        event["event"].as_str(),
        Some("finalized" | "invalid" | "dropped" | "error")
    )
}

/// Pools `bytes` as `author_submitAndWatchExtrinsic` does, keeping the pool's reason for
/// a refusal (the watch reports it as an event rather than an RPC error).
fn admit(
    node: &Node,
    bytes: &[u8],
) -> Result<([u8; 32], mpsc::UnboundedReceiver<TxStatus>), SubmitError> {
    let mut guard = node.lock();
    let Ledger { chain, tx_pool } = &mut *guard;
    let (tx, updates) = tx_pool.submit(chain, bytes, true)?;
    Ok((tx, updates.expect("a watched submission has updates")))
}

/// Sends the watch events of one transaction until its last.
async fn watch(
    sink: &SubscriptionSink,
    node: &Node,
    tx: [u8; 32],
    mut updates: mpsc::UnboundedReceiver<TxStatus>,
) {
    let mut validated = false;
    while let Some(status) = next_for_subscriber(sink, &mut updates).await {
        // The pool says `Ready` again when a re-organisation pools the transaction anew;
        // the spec's `validated` says it once.
        if matches!(status, TxStatus::Ready | TxStatus::Future) {
            if validated {
                continue;
            }
            validated = true;
        }
        let event = watch_event(node, &tx, &status);
        if !notify(sink, &event).await || is_final(&event) {
            return;
        }
    }
}

/// `transactionWatch_v1_submitAndWatch`.
async fn submit_and_watch(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    node: Arc<Node>,
) {
    let hex: String = match params.one() {
        Ok(hex) => hex,
        Err(e) => {
            pending.reject(e).await;
            return;
        }
    };
    if let Err(e) = super::decode_hex(&hex) {
        pending.reject(e).await;
        return;
    }
    let bytes = super::decode_hex(&hex).unwrap_or_default();
    let submitted = admit(&node, &bytes);
    let Ok(sink) = pending.accept().await else {
        return;
    };
    match submitted {
        Ok((tx, updates)) => watch(&sink, &node, tx, updates).await,
        Err(e) => {
            notify(&sink, &refusal_event(&e)).await;
        }
    }
}

/// `transaction_v1_broadcast`: pools the transaction; the operation id stays live until
/// it is finalized or dropped (a refused one: until stopped); `null` when the connection
/// (or the server) has as many broadcasts live as it may.
fn broadcast(
    params: Params,
    node: &Arc<Node>,
    broadcasts: &Broadcasts,
    connection: ConnectionId,
) -> RpcResult<Option<String>> {
    let hex: String = params.one()?;
    super::decode_hex(&hex)?;
    let Some(id) = broadcasts.start(connection) else {
        return Ok(None);
    };
    // Refused: a node's broadcast keeps retrying until stopped; the devnet's pool would
    // refuse it again, so the operation simply stays live until `transaction_v1_stop`.
    if let Ok((_, Some(mut updates))) = submit(node, &hex, true) {
        let (id, broadcasts) = (id.clone(), broadcasts.clone());
        tokio::spawn(async move {
            while let Some(status) = updates.recv().await {
                if status.is_last() {
                    break;
                }
            }
            broadcasts.live().remove(&id);
        });
    }
    Ok(Some(id))
}

/// Registers the `transaction_v1_*` methods and the `transactionWatch_v1` subscription.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
    let broadcasts = Broadcasts::default();
    let b = broadcasts.clone();
    m.register_method("transaction_v1_broadcast", move |params, node, ext| {
        broadcast(params, node, &b, connection(ext))
    })?;
    m.register_method(
        "transaction_v1_stop",
        move |params: Params, _, ext| -> RpcResult<()> {
            let id: String = params.one()?;
            let mut live = broadcasts.live();
            // Only the connection that started it may stop it.
            if live.get(&id) == Some(&connection(ext)) {
                live.remove(&id);
                Ok(())
            } else {
                Err(error(INVALID_PARAMS, "Invalid operation id"))
            }
        },
    )?;
    m.register_subscription(
        "transactionWatch_v1_submitAndWatch",
        "transactionWatch_v1_watchEvent",
        "transactionWatch_v1_unwatch",
        |params: Params, pending: PendingSubscriptionSink, node: Arc<Arc<Node>>, _| async move {
            submit_and_watch(params, pending, (*node).clone()).await
        },
    )?;
    Ok(())
}
