//! The blocks a follow subscription keeps (every block it announced, with its state as
//! it was, until `chainHead_v1_unpin`), and their limit.

use jsonrpsee::types::Params;
use jsonrpsee::{ConnectionId, Extensions};
use serde_json::Value;

use super::super::{decode_hash, error, RpcResult, INVALID_PARAMS};
use super::*;
use std::time::Instant;

use crate::chain::Block;

/// Pins `blocks` for subscription `id`; false when that pins too many (or the subscription
/// is gone).
pub(super) fn pin(follows: &Follows, id: &str, blocks: &[Block]) -> bool {
    let mut all = follows.lock();
    let Some(follow) = all.get_mut(id) else {
        return false;
    };
    let now = Instant::now();
    for block in blocks {
        follow.pinned.insert(
            block.hash,
            Pinned {
                block: block.clone(),
                since: now,
            },
        );
    }
    follow.pinned.len() <= MAX_PINNED_BLOCKS
}

/// Whether subscription `id` must give way: the server's follow subscriptions hold
/// [`MAX_PINNED_BLOCKS`] pinned blocks between them and this one has kept a block pinned
/// longer than [`MAX_PIN_DURATION`]. As polkadot-sdk's, pins are never timed out while
/// there is room: a slow chain (blocks a minute or more apart) or a client that holds its
/// work block is not stopped for it.
pub(super) fn pins_expired(follows: &Follows, id: &str) -> bool {
    let all = follows.lock();
    let held: usize = all.values().map(|f| f.pinned.len()).sum();
    held >= MAX_PINNED_BLOCKS
        && all.get(id).is_some_and(|follow| {
            follow
                .pinned
                .values()
                .any(|p| p.since.elapsed() > MAX_PIN_DURATION)
        })
}

/// The pinned block `hash` of subscription `id` for a method called on `connection`:
/// `Ok(None)` for an unknown subscription, the spec's error for a block not pinned.
pub(super) fn pinned_block(
    follows: &Follows,
    id: &str,
    connection: ConnectionId,
    hash: &[u8; 32],
) -> RpcResult<Option<(Block, bool)>> {
    let all = follows.lock();
    let Some(follow) = all.get(id).filter(|f| f.connection == connection) else {
        return Ok(None);
    };
    let pinned = follow.pinned.get(hash).ok_or_else(invalid_block)?;
    Ok(Some((pinned.block.clone(), follow.with_runtime)))
}

/// `chainHead_v1_unpin`'s hashes: one, or a list without duplicates.
pub(super) fn unpin_hashes(value: &Value) -> RpcResult<Vec<[u8; 32]>> {
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
pub(super) fn unpin(params: Params, follows: &Follows, ext: &Extensions) -> RpcResult<()> {
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
