//! Storage as a Substrate node serves it: SCALE values under keys built with the real
//! hashers (`twox128(pallet) ‖ twox128(item) ‖ hashed map keys`), so clients that compute
//! keys from metadata (subxt, polkadot-js, the SDK) read the devnet like a subtensor node.

use std::collections::BTreeMap;

use parity_scale_codec::Encode;
use sp_crypto_hashing::{blake2_128, twox_128, twox_64};

use crate::accounts::Accounts;
use crate::events::{encode_events, EventRecord};
use crate::pow::PowState;

/// Key → SCALE-encoded value, ordered as a node's `state_getKeysPaged` walks them.
///
/// A persistent map: each block's storage is its parent's with the changed entries
/// replaced, sharing everything else, so keeping the state of hundreds of blocks costs
/// little more than one copy (the 2,400 `System::BlockHash` entries alone are ~0.4 MB).
pub type StorageMap = imbl::OrdMap<Vec<u8>, Vec<u8>>;

/// A block's storage built from scratch (see [`snapshot`]), before it is merged into its
/// parent's [`StorageMap`] by [`apply`].
pub type FreshStorage = BTreeMap<Vec<u8>, Vec<u8>>;

/// `twox128(pallet) ‖ twox128(item)`: the prefix of every key of one storage item.
pub fn item_prefix(pallet: &str, item: &str) -> Vec<u8> {
    let mut key = twox_128(pallet.as_bytes()).to_vec();
    key.extend_from_slice(&twox_128(item.as_bytes()));
    key
}

/// The `Blake2_128Concat` hasher: `blake2_128(key) ‖ key`.
pub fn blake2_128_concat(key: &[u8]) -> Vec<u8> {
    let mut out = blake2_128(key).to_vec();
    out.extend_from_slice(key);
    out
}

/// The `Twox64Concat` hasher: `twox64(key) ‖ key`.
pub fn twox64_concat(key: &[u8]) -> Vec<u8> {
    let mut out = twox_64(key).to_vec();
    out.extend_from_slice(key);
    out
}

/// Key of `SubtensorModule::<item>(netuid)` (NetUid keys use the Identity hasher).
pub fn netuid_key(item: &str, netuid: u16) -> Vec<u8> {
    let mut key = item_prefix("SubtensorModule", item);
    key.extend_from_slice(&netuid.to_le_bytes());
    key
}

/// Key of `SubtensorModule::<item>(account)` (AccountId keys use Blake2_128Concat).
pub fn account_key(item: &str, account: &[u8; 32]) -> Vec<u8> {
    let mut key = item_prefix("SubtensorModule", item);
    key.extend_from_slice(&blake2_128_concat(account));
    key
}

/// Key of `SubtensorModule::Uids(netuid, hotkey)`.
pub fn uids_key(netuid: u16, hotkey: &[u8; 32]) -> Vec<u8> {
    let mut key = netuid_key("Uids", netuid);
    key.extend_from_slice(&blake2_128_concat(hotkey));
    key
}

/// Key of `System::BlockHash(number)`.
pub fn block_hash_key(number: u32) -> Vec<u8> {
    let mut key = item_prefix("System", "BlockHash");
    key.extend_from_slice(&twox64_concat(&number.to_le_bytes()));
    key
}

/// Key of `System::Account(account)`.
pub fn system_account_key(account: &[u8; 32]) -> Vec<u8> {
    let mut key = item_prefix("System", "Account");
    key.extend_from_slice(&blake2_128_concat(account));
    key
}

/// How many block hashes the chain keeps (`System::BlockHash`, mortal eras' birth blocks).
pub const BLOCK_HASH_COUNT: usize = 2400;

/// Everything a block's storage is built from.
pub struct BlockState<'a> {
    /// Registration state after the block.
    pub pow: &'a PowState,
    /// Accounts after the block.
    pub accounts: &'a Accounts,
    /// The block's events.
    pub events: &'a [EventRecord],
    /// The block's number.
    pub number: u32,
    /// Hashes of the blocks before it (index = number).
    pub hashes: &'a [[u8; 32]],
}

/// The storage a client can read at a block: the registration state, accounts, events,
/// `System::Number` and the hashes of the last 2,400 blocks (as the chain keeps them).
pub fn snapshot(block: &BlockState<'_>) -> FreshStorage {
    let (state, number, hashes) = (block.pow, block.number, block.hashes);
    let mut map = FreshStorage::new();
    let mut put = |key: Vec<u8>, value: Vec<u8>| {
        map.insert(key, value);
    };
    put(item_prefix("System", "Number"), number.encode());
    put(item_prefix("System", "Events"), encode_events(block.events));
    for (account, info) in block.accounts {
        put(system_account_key(account), info.encode());
    }
    let first = hashes.len().saturating_sub(BLOCK_HASH_COUNT);
    for (n, hash) in hashes.iter().enumerate().skip(first) {
        put(block_hash_key(n as u32), hash.encode());
    }
    put(netuid_key("NetworksAdded", 0), true.encode());
    for (&netuid, s) in &state.subnets {
        put(netuid_key("NetworksAdded", netuid), true.encode());
        put(
            netuid_key("NetworkPowRegistrationAllowed", netuid),
            s.pow_allowed.encode(),
        );
        put(
            netuid_key("NetworkRegistrationAllowed", netuid),
            s.registration_allowed.encode(),
        );
        put(netuid_key("Difficulty", netuid), s.difficulty.encode());
        put(
            netuid_key("MinDifficulty", netuid),
            s.min_difficulty.encode(),
        );
        put(
            netuid_key("MaxDifficulty", netuid),
            s.max_difficulty.encode(),
        );
        put(
            netuid_key("BurnHalfLife", netuid),
            s.burn_half_life.encode(),
        );
        put(
            netuid_key("BurnIncreaseMult", netuid),
            s.burn_increase_mult.encode(),
        );
        put(
            netuid_key("MaxAllowedUids", netuid),
            s.max_allowed_uids.encode(),
        );
        put(
            netuid_key("MaxRegistrationsPerBlock", netuid),
            s.max_registrations_per_block.encode(),
        );
        put(
            netuid_key("RegistrationsThisBlock", netuid),
            s.registrations_this_block.encode(),
        );
        put(
            netuid_key("SubnetworkN", netuid),
            (s.neurons.len() as u16).encode(),
        );
        for (hotkey, uid) in &s.uids {
            put(uids_key(netuid, hotkey), uid.encode());
        }
    }
    for (hotkey, coldkey) in &state.owner {
        put(account_key("Owner", hotkey), coldkey.encode());
    }
    for (hotkey, block) in &state.last_pow_block {
        put(
            account_key("LastPowRegistrationBlock", hotkey),
            block.encode(),
        );
    }
    map
}

/// The storage of a new block: `parent`'s, with every entry that differs from `fresh`
/// replaced and every entry `fresh` lacks removed. Unchanged entries stay shared with the
/// parent.
pub fn apply(parent: &StorageMap, fresh: FreshStorage) -> StorageMap {
    let mut next = parent.clone();
    let stale: Vec<Vec<u8>> = parent
        .keys()
        .filter(|k| !fresh.contains_key(*k))
        .cloned()
        .collect();
    for key in stale {
        next.remove(&key);
    }
    for (key, value) in fresh {
        if parent.get(&key) != Some(&value) {
            next.insert(key, value);
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(entries: &[(&[u8], &[u8])]) -> FreshStorage {
        entries
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn apply_replaces_adds_and_removes_entries() {
        let parent = apply(&StorageMap::new(), fresh(&[(b"a", b"1"), (b"b", b"2")]));
        let next = apply(&parent, fresh(&[(b"b", b"3"), (b"c", b"4")]));
        let entries: Vec<(Vec<u8>, Vec<u8>)> = next.into_iter().collect();
        assert_eq!(
            entries,
            vec![
                (b"b".to_vec(), b"3".to_vec()),
                (b"c".to_vec(), b"4".to_vec())
            ]
        );
        // The parent is untouched.
        assert_eq!(parent.get(b"a".as_slice()), Some(&b"1".to_vec()));
        assert_eq!(parent.get(b"b".as_slice()), Some(&b"2".to_vec()));
    }
}
