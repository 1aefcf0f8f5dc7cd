//! Reading many storage items at one block in a few requests: the keys of every subnet,
//! hotkey and signer a [`StateQuery`] asks for, sent as `state_queryStorageAt` in chunks of
//! [`MAX_KEYS_PER_REQUEST`], so that a farm of ten thousand targets reads its state at a head
//! in a handful of requests (one `state_getStorage` per item made it ~4 per target).
//!
//! Keys are encoded from the runtime's metadata (its hashers) once each and kept; values are
//! decoded as subtensor stores them (`docs/SPEC.md`, "Storage"), an absent value as the
//! metadata's default. A node's answer must cover every key asked, at the block asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use parity_scale_codec::Decode;
use serde::Deserialize;
use subxt::dynamic;
use subxt::SubstrateConfig;

use crate::state::{Head, HotkeyInfo, StateQuery, StateSnapshot, SubnetInfo};
use crate::ChainError;
use regpow_rules::keys::PublicKey;

/// Keys in one `state_queryStorageAt` request (about 200 KB of request and of answer).
pub const MAX_KEYS_PER_REQUEST: usize = 1_000;

/// The subnet's items, in [`SubnetInfo`]'s order (all `ValueQuery` maps keyed by netuid).
const SUBNET_ITEMS: [&str; 8] = [
    "NetworksAdded",
    "NetworkPowRegistrationAllowed",
    "Difficulty",
    "MinDifficulty",
    "MaxDifficulty",
    "MaxAllowedUids",
    "RegistrationsThisBlock",
    "MaxRegistrationsPerBlock",
];

/// One storage item a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Item {
    /// `SUBNET_ITEMS[index]` of a subnet.
    Subnet(usize, u16),
    /// `Uids(netuid, hotkey)`.
    Uid(u16, PublicKey),
    /// `LastPowRegistrationBlock(hotkey)`.
    LastPowBlock(PublicKey),
    /// `Owner(hotkey)`.
    Owner(PublicKey),
    /// `System::Account(account)` (its nonce).
    Account(PublicKey),
}

/// A storage change set as `state_queryStorageAt` answers.
#[derive(Deserialize)]
struct ChangeSet {
    block: String,
    changes: Vec<(String, Option<String>)>,
}

/// The client at one block: its metadata encodes keys for every later block of the same
/// runtime.
type AtBlock = subxt::OnlineClientAtBlock<SubstrateConfig>;

/// Encodes, sends and decodes batched storage reads.
pub(crate) struct StateReader {
    at: AtBlock,
    /// Each subnet item's default value (its bytes when the map has no entry).
    defaults: Vec<Vec<u8>>,
    /// Keys encoded so far, as `0x…` hex.
    keys: Mutex<HashMap<Item, Arc<str>>>,
}

fn bad(what: impl std::fmt::Display) -> ChainError {
    ChainError::Rpc(format!("state: {what}"))
}

impl StateReader {
    /// A reader for the runtime of `at` (whose metadata has passed `check_runtime`).
    pub(crate) fn new(at: AtBlock) -> Result<Self, ChainError> {
        let defaults = SUBNET_ITEMS
            .iter()
            .map(|item| {
                let storage = at.storage();
                let entry = storage
                    .entry(dynamic::storage::<(u16,), ()>("SubtensorModule", *item))
                    .map_err(|e| ChainError::Runtime(format!("SubtensorModule::{item}: {e}")))?;
                Ok(entry
                    .default_value()
                    .map(|v| v.bytes().to_vec())
                    .unwrap_or_default())
            })
            .collect::<Result<_, ChainError>>()?;
        Ok(Self {
            at,
            defaults,
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// The hex storage key of `item` (encoded once).
    fn key(&self, item: Item) -> Result<Arc<str>, ChainError> {
        if let Some(key) = self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&item)
        {
            return Ok(key.clone());
        }
        let storage = self.at.storage();
        let encode = |e: subxt::error::StorageError| bad(format!("encoding a key: {e}"));
        let bytes = match item {
            Item::Subnet(index, netuid) => storage
                .entry(dynamic::storage::<(u16,), ()>(
                    "SubtensorModule",
                    SUBNET_ITEMS[index],
                ))
                .and_then(|e| e.fetch_key((netuid,))),
            Item::Uid(netuid, hotkey) => storage
                .entry(dynamic::storage::<(u16, [u8; 32]), ()>(
                    "SubtensorModule",
                    "Uids",
                ))
                .and_then(|e| e.fetch_key((netuid, hotkey.0))),
            Item::LastPowBlock(hotkey) => storage
                .entry(dynamic::storage::<([u8; 32],), ()>(
                    "SubtensorModule",
                    "LastPowRegistrationBlock",
                ))
                .and_then(|e| e.fetch_key((hotkey.0,))),
            Item::Owner(hotkey) => storage
                .entry(dynamic::storage::<([u8; 32],), ()>(
                    "SubtensorModule",
                    "Owner",
                ))
                .and_then(|e| e.fetch_key((hotkey.0,))),
            Item::Account(account) => storage
                .entry(dynamic::storage::<([u8; 32],), ()>("System", "Account"))
                .and_then(|e| e.fetch_key((account.0,))),
        }
        .map_err(encode)?;
        let key: Arc<str> = format!("0x{}", hex::encode(bytes)).into();
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(item, key.clone());
        Ok(key)
    }

    /// Everything `query` asks for at `head`, through `rpc`.
    pub(crate) async fn read(
        &self,
        rpc: &subxt::rpcs::RpcClient,
        head: Head,
        query: &StateQuery,
        timeout: std::time::Duration,
    ) -> Result<StateSnapshot, ChainError> {
        let mut items = Vec::new();
        for &netuid in &query.subnets {
            items.extend((0..SUBNET_ITEMS.len()).map(|i| Item::Subnet(i, netuid)));
        }
        let mut hotkeys = std::collections::HashSet::new();
        for &(hotkey, netuid) in &query.hotkeys {
            items.push(Item::Uid(netuid, hotkey));
            if hotkeys.insert(hotkey) {
                items.push(Item::LastPowBlock(hotkey));
                items.push(Item::Owner(hotkey));
            }
        }
        items.extend(query.signers.iter().map(|&s| Item::Account(s)));
        let keys: Vec<Arc<str>> = items
            .iter()
            .map(|&item| self.key(item))
            .collect::<Result<_, _>>()?;
        let at = format!("0x{}", hex::encode(head.hash));
        let requests = keys.chunks(MAX_KEYS_PER_REQUEST).map(|chunk| {
            let at = at.clone();
            async move {
                let keys: Vec<&str> = chunk.iter().map(|k| &**k).collect();
                let params = subxt::rpcs::rpc_params![keys, at.clone()];
                let answer = tokio::time::timeout(
                    timeout,
                    rpc.request::<Vec<ChangeSet>>("state_queryStorageAt", params),
                )
                .await
                .map_err(|_| bad(format!("no answer in {}s", timeout.as_secs())))?
                .map_err(|e| bad(e.to_string()))?;
                in_asked_order(chunk, &at, answer)
            }
        });
        let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(keys.len());
        for chunk in futures::future::try_join_all(requests).await? {
            values.extend(chunk);
        }
        let position: HashMap<Item, usize> = items
            .iter()
            .enumerate()
            .map(|(i, item)| (*item, i))
            .collect();
        let raw = |item: Item| -> &Option<Vec<u8>> { &values[position[&item]] };
        let mut snapshot = StateSnapshot::default();
        for &netuid in &query.subnets {
            let bytes = |index: usize| -> &[u8] {
                match raw(Item::Subnet(index, netuid)) {
                    Some(bytes) => bytes,
                    None => &self.defaults[index],
                }
            };
            snapshot.subnets.insert(
                netuid,
                SubnetInfo {
                    head,
                    exists: decode(SUBNET_ITEMS[0], bytes(0))?,
                    pow_allowed: decode(SUBNET_ITEMS[1], bytes(1))?,
                    difficulty: decode(SUBNET_ITEMS[2], bytes(2))?,
                    min_difficulty: decode(SUBNET_ITEMS[3], bytes(3))?,
                    max_difficulty: decode(SUBNET_ITEMS[4], bytes(4))?,
                    max_allowed_uids: decode(SUBNET_ITEMS[5], bytes(5))?,
                    registrations_this_block: decode(SUBNET_ITEMS[6], bytes(6))?,
                    max_registrations_per_block: decode(SUBNET_ITEMS[7], bytes(7))?,
                },
            );
        }
        for &(hotkey, netuid) in &query.hotkeys {
            let uid = raw(Item::Uid(netuid, hotkey))
                .as_deref()
                .map(|b| decode::<u16>("Uids", b))
                .transpose()?;
            let last_pow_block = raw(Item::LastPowBlock(hotkey))
                .as_deref()
                .map(|b| decode::<u64>("LastPowRegistrationBlock", b))
                .transpose()?;
            let owner = raw(Item::Owner(hotkey))
                .as_deref()
                .map(|b| decode::<[u8; 32]>("Owner", b))
                .transpose()?;
            snapshot.hotkeys.insert(
                (hotkey, netuid),
                HotkeyInfo {
                    uid,
                    last_pow_block,
                    // The chain's default owner is the zero account: no owner.
                    owner: owner.filter(|o| *o != [0u8; 32]).map(PublicKey),
                    signer_nonce: None,
                },
            );
        }
        for &signer in &query.signers {
            // `AccountInfo` starts with the nonce (u32 in subtensor); no entry is nonce 0.
            let nonce = match raw(Item::Account(signer)) {
                Some(bytes) => decode::<u32>("System::Account", bytes)?,
                None => 0,
            };
            snapshot.nonces.insert(signer, u64::from(nonce));
        }
        Ok(snapshot)
    }
}

/// The values of `asked` (hex keys) from a node's change sets at block `at`, in the order
/// asked; every key must be answered, at that block. A node answers in the order asked, and
/// that is checked key by key; any other order is matched by key.
fn in_asked_order(
    asked: &[Arc<str>],
    at: &str,
    answer: Vec<ChangeSet>,
) -> Result<Vec<Option<Vec<u8>>>, ChainError> {
    let mut changes = Vec::with_capacity(asked.len());
    for set in answer {
        if !set.block.eq_ignore_ascii_case(at) {
            return Err(bad(format!("asked at {at}, answered at {}", set.block)));
        }
        changes.extend(set.changes);
    }
    let in_order = changes.len() == asked.len()
        && changes
            .iter()
            .zip(asked)
            .all(|((key, _), asked)| key.eq_ignore_ascii_case(asked));
    let hex_value = |value: Option<String>| -> Result<Option<Vec<u8>>, ChainError> {
        value
            .map(|hex| {
                hex::decode(hex.trim_start_matches("0x")).map_err(|e| bad(format!("a value: {e}")))
            })
            .transpose()
    };
    if in_order {
        return changes
            .into_iter()
            .map(|(_, value)| hex_value(value))
            .collect();
    }
    let mut by_key: HashMap<String, Option<String>> = changes
        .into_iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect();
    asked
        .iter()
        .map(|key| match by_key.remove(&key.to_ascii_lowercase()) {
            Some(value) => hex_value(value),
            None => Err(bad(format!("the node left key {key} out of its answer"))),
        })
        .collect()
}

/// Decodes the start of `bytes` as `T` (SCALE), naming `item` when it cannot.
fn decode<T: Decode>(item: &str, mut bytes: &[u8]) -> Result<T, ChainError> {
    T::decode(&mut bytes).map_err(|e| bad(format!("{item}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(block: &str, changes: &[(&str, Option<&str>)]) -> ChangeSet {
        ChangeSet {
            block: block.into(),
            changes: changes
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    #[test]
    fn answers_are_taken_in_the_order_asked_and_checked_key_by_key() {
        let asked: Vec<Arc<str>> = vec!["0xaa".into(), "0xBB".into(), "0xcc".into()];
        let at = "0x01";
        let in_order = set(
            at,
            &[
                ("0xaa", Some("0x01")),
                ("0xbb", None),
                ("0xcc", Some("0x0203")),
            ],
        );
        assert_eq!(
            in_asked_order(&asked, at, vec![in_order]).unwrap(),
            vec![Some(vec![1]), None, Some(vec![2, 3])]
        );
        // Another order is matched by key.
        let shuffled = set(
            at,
            &[
                ("0xcc", Some("0x0203")),
                ("0xaa", Some("0x01")),
                ("0xbb", None),
            ],
        );
        assert_eq!(
            in_asked_order(&asked, at, vec![shuffled]).unwrap(),
            vec![Some(vec![1]), None, Some(vec![2, 3])]
        );
        // A key left out, another block, bad hex: refused, never taken as "no value".
        let missing = set(at, &[("0xaa", Some("0x01")), ("0xbb", None)]);
        let e = in_asked_order(&asked, at, vec![missing]).unwrap_err();
        assert!(e.to_string().contains("left key 0xcc out"), "{e}");
        let elsewhere = set("0x02", &[("0xaa", None), ("0xbb", None), ("0xcc", None)]);
        assert!(in_asked_order(&asked, at, vec![elsewhere]).is_err());
        let garbled = set(
            at,
            &[("0xaa", Some("0xzz")), ("0xbb", None), ("0xcc", None)],
        );
        assert!(in_asked_order(&asked, at, vec![garbled]).is_err());
    }
}
