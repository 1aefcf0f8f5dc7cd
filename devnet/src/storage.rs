//! Storage as a Substrate node serves it: SCALE values under keys built with the real
//! hashers (`twox128(pallet) ‖ twox128(item) ‖ hashed map keys`), so clients that compute
//! keys from metadata (subxt, polkadot-js, the SDK) read the devnet like a subtensor node.

use std::collections::BTreeMap;
use std::ops::Bound;

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
}

/// The storage a client can read at a block: `:code` and `:heappages`, the registration
/// state, accounts, events, `System::Number`: everything but `System::BlockHash`, which [`apply`] keeps up to date
/// one entry at a time.
pub fn snapshot(block: &BlockState<'_>) -> FreshStorage {
    let (state, number) = (block.pow, block.number);
    let mut map = FreshStorage::new();
    let mut put = |key: Vec<u8>, value: Vec<u8>| {
        map.insert(key, value);
    };
    // The well-known keys every Substrate chain's state has: the runtime and its heap.
    put(
        crate::runtime::CODE_KEY.to_vec(),
        crate::runtime::code().to_vec(),
    );
    put(
        crate::runtime::HEAP_PAGES_KEY.to_vec(),
        crate::runtime::HEAP_PAGES.encode(),
    );
    put(item_prefix("System", "Number"), number.encode());
    put(item_prefix("System", "Events"), encode_events(block.events));
    for (account, info) in block.accounts {
        put(system_account_key(account), info.encode());
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

/// Every `(key, value)` under `prefix`, in key order, starting after `after` when given
/// (paging) and at the prefix otherwise.
pub fn under<'s>(
    storage: &'s StorageMap,
    prefix: &'s [u8],
    after: Option<&[u8]>,
) -> impl Iterator<Item = (&'s Vec<u8>, &'s Vec<u8>)> + 's {
    let start = match after {
        Some(key) => Bound::Excluded(key.to_vec()),
        None => Bound::Included(prefix.to_vec()),
    };
    storage
        .range::<_, Vec<u8>>((start, Bound::Unbounded))
        .take_while(move |(k, _)| k.starts_with(prefix))
}

/// One storage change: a key and its new value (`None`: removed).
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// The storage of block `number` whose parent has hash `parent_hash`: the parent's
/// storage with every entry that differs from `fresh` replaced and every entry `fresh` lacks
/// removed, and `System::BlockHash` moved on by one block (the parent's hash added, the hash
/// 2,400 blocks back dropped), as the chain keeps it. Unchanged entries stay shared with the
/// parent. Also returns the changes, in key order.
pub fn apply(
    parent: &StorageMap,
    fresh: FreshStorage,
    number: u32,
    parent_hash: [u8; 32],
) -> (StorageMap, Vec<Change>) {
    let hashes = item_prefix("System", "BlockHash");
    let mut changes: Vec<Change> = parent
        .keys()
        .filter(|k| !k.starts_with(&hashes) && !fresh.contains_key(*k))
        .map(|k| (k.clone(), None))
        .collect();
    for (key, value) in fresh {
        if parent.get(&key) != Some(&value) {
            changes.push((key, Some(value)));
        }
    }
    if let Some(previous) = number.checked_sub(1) {
        changes.push((block_hash_key(previous), Some(parent_hash.encode())));
    }
    if let Some(dropped) = number.checked_sub(BLOCK_HASH_COUNT as u32 + 1) {
        changes.push((block_hash_key(dropped), None));
    }
    changes.sort();
    let mut next = parent.clone();
    for (key, value) in &changes {
        match value {
            Some(value) => next.insert(key.clone(), value.clone()),
            None => next.remove(key),
        };
    }
    (next, changes)
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
        let (parent, _) = apply(
            &StorageMap::new(),
            fresh(&[(b"a", b"1"), (b"b", b"2")]),
            0,
            [0; 32],
        );
        let (next, changes) = apply(&parent, fresh(&[(b"b", b"3"), (b"c", b"4")]), 0, [0; 32]);
        let entries: Vec<(Vec<u8>, Vec<u8>)> = next.into_iter().collect();
        let pairs = vec![
            (b"b".to_vec(), b"3".to_vec()),
            (b"c".to_vec(), b"4".to_vec()),
        ];
        assert_eq!(entries, pairs);
        assert_eq!(
            changes,
            vec![
                (b"a".to_vec(), None),
                (b"b".to_vec(), Some(b"3".to_vec())),
                (b"c".to_vec(), Some(b"4".to_vec()))
            ]
        );
        // The parent is untouched.
        assert_eq!(parent.get(b"a".as_slice()), Some(&b"1".to_vec()));
        assert_eq!(parent.get(b"b".as_slice()), Some(&b"2".to_vec()));
    }
}

#[cfg(test)]
mod block_hash_tests {
    use super::*;

    /// Builds blocks 0..=n's storage with apply alone (no other items).
    fn chain_of(n: u32) -> StorageMap {
        let mut storage = StorageMap::new();
        for number in 0..=n {
            let parent_hash = [number.wrapping_sub(1) as u8; 32];
            storage = apply(&storage, FreshStorage::new(), number, parent_hash).0;
        }
        storage
    }

    #[test]
    fn block_hashes_are_the_last_2400() {
        let prefix = item_prefix("System", "BlockHash");
        assert_eq!(chain_of(0).len(), 0);
        let storage = chain_of(10);
        assert_eq!(storage.len(), 10);
        assert_eq!(storage.get(&block_hash_key(9)), Some(&[9u8; 32].encode()));
        let storage = chain_of(2_405);
        let kept: Vec<&Vec<u8>> = storage.keys().filter(|k| k.starts_with(&prefix)).collect();
        assert_eq!(kept.len(), BLOCK_HASH_COUNT);
        assert!(storage.get(&block_hash_key(4)).is_none());
        assert!(storage.get(&block_hash_key(5)).is_some());
        assert!(storage.get(&block_hash_key(2_404)).is_some());
    }
}
