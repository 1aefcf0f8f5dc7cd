//! Splitting a plan among processes with no coordinator but the chain: shard `I/N` keeps
//! the targets whose stable hash of (hotkey, netuid) is `I` modulo `N`. The hash depends on
//! the target alone (not on its place in the plan, the plan's length or the machine), so
//! every process given the same `N` agrees on who owns what, and the shards never overlap.

use blake2::digest::consts::U8;
use blake2::{Blake2b, Digest};
use regpow_rules::PublicKey;

/// One shard of `count`: `index` in `0..count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This process's shard.
    pub index: u32,
    /// How many shards the plan is split into (at least 1).
    pub count: u32,
}

impl Shard {
    /// The whole plan.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 ≤ I < N`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("shard {text:?}: expected I/N, e.g. 0/4"))?;
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| format!("shard {text:?}: I must be a whole number"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("shard {text:?}: N must be a whole number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {text:?}: needs 0 ≤ I < N and N ≥ 1"));
        }
        Ok(Self { index, count })
    }

    /// Whether this shard owns the target (`hotkey`, `netuid`).
    pub fn keeps(&self, hotkey: &PublicKey, netuid: u16) -> bool {
        target_hash(hotkey, netuid) % u64::from(self.count) == u64::from(self.index)
    }
}

/// The target's stable hash: the first 8 bytes of BLAKE2b-64 over the hotkey's 32 bytes and
/// the netuid as u16 little-endian, read little-endian.
pub fn target_hash(hotkey: &PublicKey, netuid: u16) -> u64 {
    let mut hasher = Blake2b::<U8>::new();
    hasher.update(hotkey.0);
    hasher.update(netuid.to_le_bytes());
    u64::from_le_bytes(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parsing_takes_i_of_n_and_refuses_the_rest() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(Shard::parse("0/1"), Ok(Shard::ALL));
        for bad in ["4/4", "1/0", "x/2", "1", "-1/2", "1/2/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_fixed_by_the_target_alone() {
        // Pinned, from Python's hashlib.blake2b(digest_size=8): a change of hash function
        // would reshuffle the shards of running farms.
        let key = PublicKey([0xd4; 32]);
        assert_eq!(target_hash(&key, 1), 3_505_309_720_697_616_285);
        assert_ne!(target_hash(&key, 1), target_hash(&key, 2));
        assert_ne!(target_hash(&key, 1), target_hash(&PublicKey([0xd5; 32]), 1));
    }

    proptest! {
        #[test]
        fn every_target_is_in_exactly_one_shard(
            keys in proptest::collection::vec(any::<[u8; 32]>(), 1..40),
            netuids in proptest::collection::vec(1u16..=u16::MAX, 1..6),
            count in 1u32..17,
        ) {
            for key in &keys {
                for &netuid in &netuids {
                    let hotkey = PublicKey(*key);
                    let owners = (0..count)
                        .filter(|&index| Shard { index, count }.keeps(&hotkey, netuid))
                        .count();
                    prop_assert_eq!(owners, 1);
                }
            }
        }
    }
}
