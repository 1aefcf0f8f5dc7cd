//! `chain_*`: headers, blocks and their hashes, and the head subscriptions, with
//! Substrate's aliases (`chain_getHead`, `chain_getFinalisedHead`, `subscribe_newHead`, …).
//! Old blocks keep their headers and bodies when their state is pruned.

use std::sync::Arc;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::Params;
use jsonrpsee::{PendingSubscriptionSink, RpcModule};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::{alias, block_at, error, notify, RpcResult, INVALID_PARAMS};
use crate::chain::{hex32, Block, Chain};
use crate::node::Node;

/// A block as `chain_getBlock` returns it (a `SignedBlock` with no justifications).
pub fn block_json(block: &Block) -> Value {
    json!({
        "block": {
            "header": block.header.to_json(),
            "extrinsics": block.extrinsics.iter().map(|x| hex32(x)).collect::<Vec<_>>(),
        },
        "justifications": null,
    })
}

/// A block number as clients send it: a JSON number or a hex string.
fn block_number(value: &Value) -> RpcResult<u64> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| error(INVALID_PARAMS, format!("bad block number {n}"))),
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16)
            .map_err(|_| error(INVALID_PARAMS, format!("bad block number '{s}'"))),
        other => Err(error(INVALID_PARAMS, format!("bad block number {other}"))),
    }
}

/// `chain_getBlockHash`'s answer for one number: the hash, or `null` past the head.
fn hash_of(chain: &Chain, number: u64) -> Value {
    chain
        .block(number)
        .map_or(Value::Null, |b| json!(hex32(&b.hash)))
}

/// Registers the `chain_*` methods and subscriptions.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
    m.register_method(
        "chain_getBlockHash",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let number: Option<Value> = params.sequence().optional_next()?;
            let ledger = node.lock();
            let chain = &ledger.chain;
            match number {
                None | Some(Value::Null) => Ok(json!(hex32(&chain.head().hash))),
                // A list of numbers answers a list of hashes.
                Some(Value::Array(numbers)) => numbers
                    .iter()
                    .map(|n| Ok(hash_of(chain, block_number(n)?)))
                    .collect::<RpcResult<Vec<Value>>>()
                    .map(Value::Array),
                Some(n) => Ok(hash_of(chain, block_number(&n)?)),
            }
        },
    )?;
    alias(m, "chain_getBlockHash", &["chain_getHead"])?;
    m.register_method(
        "chain_getHeader",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let hash: Option<String> = params.sequence().optional_next()?;
            let ledger = node.lock();
            Ok(block_at(&ledger.chain, hash.as_deref())?
                .map_or(Value::Null, |b| b.header.to_json()))
        },
    )?;
    m.register_method(
        "chain_getBlock",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            let hash: Option<String> = params.sequence().optional_next()?;
            let ledger = node.lock();
            Ok(block_at(&ledger.chain, hash.as_deref())?.map_or(Value::Null, block_json))
        },
    )?;
    // Blocks become final the finality lag behind the best.
    m.register_method("chain_getFinalizedHead", |_, node: &Arc<Node>, _| {
        hex32(&node.lock().chain.finalized().hash)
    })?;
    alias(m, "chain_getFinalizedHead", &["chain_getFinalisedHead"])?;
    for (subscribe, notification, unsubscribe, aliases, unsubscribe_aliases, kind) in [
        (
            "chain_subscribeNewHeads",
            "chain_newHead",
            "chain_unsubscribeNewHeads",
            &["subscribe_newHead", "chain_subscribeNewHead"][..],
            &["unsubscribe_newHead", "chain_unsubscribeNewHead"][..],
            Heads::New,
        ),
        (
            "chain_subscribeFinalizedHeads",
            "chain_finalizedHead",
            "chain_unsubscribeFinalizedHeads",
            &["chain_subscribeFinalisedHeads"][..],
            &["chain_unsubscribeFinalisedHeads"][..],
            Heads::Finalized,
        ),
        (
            "chain_subscribeAllHeads",
            "chain_allHead",
            "chain_unsubscribeAllHeads",
            &[][..],
            &[][..],
            Heads::All,
        ),
    ] {
        m.register_subscription(
            subscribe,
            notification,
            unsubscribe,
            move |_, pending, node, _| async move {
                follow_heads(pending, (*node).clone(), kind).await
            },
        )?;
        alias(m, subscribe, aliases)?;
        alias(m, unsubscribe, unsubscribe_aliases)?;
    }
    Ok(())
}

/// Which headers a legacy head subscription sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Heads {
    /// Each new best block (`chain_subscribeNewHeads`).
    New,
    /// Every imported block, a re-organisation's fork blocks included
    /// (`chain_subscribeAllHeads`).
    All,
    /// Each newly final block (`chain_subscribeFinalizedHeads`).
    Finalized,
}

/// Sends the current head (the newest final block for [`Heads::Finalized`]), then each new
/// one of the kind, until the subscriber leaves.
async fn follow_heads(pending: PendingSubscriptionSink, node: Arc<Node>, kind: Heads) {
    let finalized = kind == Heads::Finalized;
    let mut heads = node.subscribe_blocks();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let mut last = {
        let ledger = node.lock();
        let chain = &ledger.chain;
        let current = if finalized {
            chain.finalized()
        } else {
            chain.head()
        };
        current.header.clone()
    };
    if !notify(&sink, &last.to_json()).await {
        return;
    }
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            head = heads.recv() => match head {
                Ok(imported) => {
                    if !imported.best && kind != Heads::All {
                        continue;
                    }
                    let next = if finalized {
                        match node.lock().chain.block_by_hash(&imported.finalized) {
                            // Finality only moves forwards: an announcement queued before
                            // the first header was read is not sent again.
                            Some(block) if block.header.number > last.number => {
                                block.header.clone()
                            }
                            _ => continue,
                        }
                    } else {
                        imported.header
                    };
                    if !notify(&sink, &next.to_json()).await {
                        return;
                    }
                    last = next;
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
        }
    }
}
