//! The JSON-RPC surface of a polkadot-sdk node, answered from the devnet's chain in the
//! node's result shapes and with its error codes, aliases included, so that any client
//! (subxt with either backend, polkadot-js, py-substrate-interface, the bittensor SDK) talks
//! to the devnet as to a subtensor node.
//!
//! - [`system`]: `system_*` and `account_nextIndex`.
//! - [`chain`]: `chain_*` (headers, blocks, hashes, head subscriptions).
//! - [`state`]: `state_*` (storage, metadata, runtime version, `state_call`, storage
//!   subscriptions).
//! - [`runtime`]: the runtime APIs `state_call` answers.
//! - [`author`]: `author_*` (submission, watching, the pool).
//! - [`payment`]: `payment_queryInfo` and `payment_queryFeeDetails`.
//! - [`chain_head`]: `chainHead_v1_*` (the new spec's follow subscription and operations).
//! - [`chain_spec`]: `chainSpec_v1_*` (name, genesis hash, properties).
//! - [`transaction`]: `transaction_v1_*` and `transactionWatch_v1_*`.
//!
//! `rpc_methods` lists exactly what the module serves.

pub mod author;
pub mod chain;
pub mod chain_head;
pub mod chain_spec;
pub mod payment;
pub mod runtime;
pub mod state;
pub mod system;
pub mod transaction;

use std::sync::Arc;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{RpcModule, SubscriptionMessage, SubscriptionSink};
use serde::Serialize;
use serde_json::json;

use crate::chain::{hex32, Block, Chain, StateAfter, StateUnavailable};
use crate::node::Node;

/// JSON-RPC "invalid params".
pub const INVALID_PARAMS: i32 = -32602;
/// Substrate's state RPC errors start here (`sc_rpc_api::error::base::STATE`).
pub const STATE_BASE: i32 = 4000;
/// Substrate's `state` error for a block it cannot serve state at (a client error).
pub const STATE_CLIENT_ERROR: i32 = STATE_BASE + 3;

/// The answer of one RPC method.
pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// An error object with no data.
pub fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

/// The connection a method call came on (methods whose ids belong to one connection, as
/// the new spec's follow subscriptions and broadcasts, check it).
pub fn connection(ext: &jsonrpsee::Extensions) -> jsonrpsee::ConnectionId {
    ext.get::<jsonrpsee::ConnectionId>()
        .copied()
        .unwrap_or(jsonrpsee::ConnectionId(0))
}

/// Bytes from `0x`-prefixed (or bare) hex, or "invalid params".
pub fn decode_hex(text: &str) -> RpcResult<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|e| error(INVALID_PARAMS, format!("bad hex '{text}': {e}")))
}

/// A 32-byte hash from hex, or "invalid params".
pub fn decode_hash(text: &str) -> RpcResult<[u8; 32]> {
    decode_hex(text)?
        .try_into()
        .map_err(|_| error(INVALID_PARAMS, format!("not a 32-byte hash: '{text}'")))
}

/// The block at `hash`, or the head when no hash is given; `None` for a hash the chain
/// does not have (block queries answer `null` for it, as a node does).
pub fn block_at<'c>(chain: &'c Chain, hash: Option<&str>) -> RpcResult<Option<&'c Block>> {
    match hash {
        None => Ok(Some(chain.head())),
        Some(h) => Ok(chain.block_by_hash(&decode_hash(h)?)),
    }
}

/// The state at `hash` (the head when none is given), or the node's error: state is only
/// kept for the newest blocks (see `--state-pruning`).
pub fn state_at<'c>(
    chain: &'c Chain,
    hash: Option<&str>,
) -> RpcResult<(&'c Block, &'c StateAfter)> {
    let block = match hash {
        None => chain.head(),
        Some(h) => {
            let hash = decode_hash(h)?;
            chain
                .block_by_hash(&hash)
                .ok_or_else(|| state_error(&hash, StateUnavailable::UnknownBlock))?
        }
    };
    let state = chain
        .state_at(&block.hash)
        .map_err(|why| state_error(&block.hash, why))?;
    Ok((block, state))
}

/// A node's answer for state it cannot read at `hash` (`sp_blockchain::Error::UnknownBlock`
/// through the state API's client error).
pub fn state_error(hash: &[u8; 32], why: StateUnavailable) -> ErrorObjectOwned {
    let message = match why {
        StateUnavailable::UnknownBlock => {
            format!(
                "UnknownBlock: Header was not found in the database: {}",
                hex32(hash)
            )
        }
        StateUnavailable::Discarded => {
            format!("UnknownBlock: State already discarded for {}", hex32(hash))
        }
    };
    error(STATE_CLIENT_ERROR, message)
}

/// Sends one notification; false once the subscriber is gone.
pub async fn notify(sink: &SubscriptionSink, value: &impl Serialize) -> bool {
    match serde_json::value::to_raw_value(value) {
        Ok(raw) => sink.send(SubscriptionMessage::from(raw)).await.is_ok(),
        Err(_) => false,
    }
}

/// The next of `updates` for a subscriber; `None` once the subscriber has left or nothing
/// more can come, so a task that would wait for ever (a transaction that never lands) does
/// not outlive its client.
pub async fn next_for_subscriber<T>(
    sink: &SubscriptionSink,
    updates: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
) -> Option<T> {
    tokio::select! {
        _ = sink.closed() => None,
        next = updates.recv() => next,
    }
}

/// Registers `aliases` as further names of the already registered `method`.
pub fn alias(
    m: &mut RpcModule<Arc<Node>>,
    method: &'static str,
    aliases: &[&'static str],
) -> Result<(), RegisterMethodError> {
    for name in aliases {
        m.register_alias(name, method)?;
    }
    Ok(())
}

/// Builds the RPC module over a node.
pub fn module(node: Arc<Node>) -> Result<RpcModule<Arc<Node>>, RegisterMethodError> {
    let mut m = RpcModule::new(node);
    system::register(&mut m)?;
    chain::register(&mut m)?;
    state::register(&mut m)?;
    author::register(&mut m)?;
    payment::register(&mut m)?;
    chain_head::register(&mut m)?;
    chain_spec::register(&mut m)?;
    transaction::register(&mut m)?;
    let mut methods: Vec<String> = m.method_names().map(str::to_string).collect();
    methods.push("rpc_methods".into());
    methods.sort();
    m.register_method("rpc_methods", move |_, _, _| json!({ "methods": methods }))?;
    Ok(m)
}
