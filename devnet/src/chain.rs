//! Blocks: headers hashed with blake2-256 over their SCALE encoding, as Substrate does, each
//! with the storage a client reads at that block, kept for the newest blocks only (state
//! pruning, as a node prunes: see [`StatePruning`]).

use std::collections::HashMap;
use std::sync::Arc;

use parity_scale_codec::{Compact, Encode};
use sp_crypto_hashing::blake2_256;

use crate::accounts::{AccountInfo, Accounts, RAO_PER_TAO};
use crate::config::{DevnetConfig, StatePruning};
use crate::events::{Event, EventRecord};
use crate::extrinsic::{Call, Decoded, Era, Implicit, SignedExtrinsic};
use crate::pow::{u64f64_bits, AccountId, PowState, Subnet};
use crate::runtime::{SPEC_VERSION, TRANSACTION_VERSION};
use crate::storage::{apply, snapshot, BlockState, StorageMap, BLOCK_HASH_COUNT};
use crate::validity::{InvalidTransaction, ValidTransaction};
use regpow_rules::WORK_WINDOW;

/// A Substrate header (`sp_runtime::generic::Header<u32, BlakeTwo256>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Hash of the parent block (zero for genesis).
    pub parent_hash: [u8; 32],
    /// Block number.
    pub number: u32,
    /// blake2-256 of the parent's state root and this block's storage changes: it commits
    /// to the whole state, but is not a trie root (the devnet keeps no trie, and serves no
    /// storage proofs).
    pub state_root: [u8; 32],
    /// blake2-256 of the encoded extrinsics.
    pub extrinsics_root: [u8; 32],
}

impl Header {
    /// SCALE: parent, Compact number, state root, extrinsics root, empty digest.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.parent_hash.to_vec();
        Compact(self.number).encode_to(&mut out);
        out.extend_from_slice(&self.state_root);
        out.extend_from_slice(&self.extrinsics_root);
        Vec::<Vec<u8>>::new().encode_to(&mut out); // digest logs
        out
    }

    /// blake2-256 of the encoding: the block hash.
    pub fn hash(&self) -> [u8; 32] {
        blake2_256(&self.encode())
    }

    /// The header as `chain_getHeader` returns it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "parentHash": hex32(&self.parent_hash),
            "number": format!("0x{:x}", self.number),
            "stateRoot": hex32(&self.state_root),
            "extrinsicsRoot": hex32(&self.extrinsics_root),
            "digest": { "logs": [] },
        })
    }
}

/// `0x`-prefixed lowercase hex.
pub fn hex32(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A produced block.
#[derive(Clone, Debug)]
pub struct Block {
    /// Its header.
    pub header: Header,
    /// `header.hash()`.
    pub hash: [u8; 32],
    /// Encoded extrinsics included in it (length prefixes included).
    pub extrinsics: Vec<Vec<u8>>,
    /// Events its extrinsics deposited.
    pub events: Vec<EventRecord>,
    /// The state after the block; `None` once pruned (header, body and events stay).
    pub state: Option<Arc<StateAfter>>,
}

/// What a block leaves behind, kept while the block is within the pruning window.
#[derive(Debug)]
pub struct StateAfter {
    /// The storage clients read at the block.
    pub storage: StorageMap,
    /// Registration state after the block (what a re-organisation returns to).
    pub pow: PowState,
    /// Accounts after the block.
    pub accounts: Accounts,
}

/// Why state cannot be read at a block hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateUnavailable {
    /// The chain has no block with this hash.
    UnknownBlock,
    /// The block is known but its state was pruned.
    Discarded,
}

/// What block building did with one pooled transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inclusion {
    /// Included at this index (its dispatch may still have failed: see the events).
    Included(u32),
    /// No longer valid (nonce used, era over); left out of the block.
    Dropped(InvalidTransaction),
}

/// The chain: every block, the registration state and the accounts.
pub struct Chain {
    blocks: Vec<Block>,
    /// Block number by hash, for every block of the chain.
    numbers: HashMap<[u8; 32], u32>,
    /// How many blocks keep their state.
    pruning: StatePruning,
    /// Registration state after the head.
    pub state: PowState,
    /// Accounts after the head.
    pub accounts: Accounts,
    /// Re-organisations so far: salts the blocks built on each new fork so that their
    /// hashes differ from the blocks they replace.
    forks: u32,
    /// How many blocks behind the best a block becomes final, as a finality gadget lags
    /// the best block (`DevnetConfig::finality_lag`): the newest blocks can still be
    /// re-organised away ([`Chain::reorg`]); a final one never is.
    finality_lag: usize,
    /// Blocks a re-organisation took off the chain, by hash, until finality passes their
    /// number: a node keeps serving a non-canonical block until finality prunes it.
    orphans: HashMap<[u8; 32], Block>,
}

impl Chain {
    /// Genesis with the configured subnets and funded development accounts.
    pub fn new(config: &DevnetConfig) -> Self {
        let mut state = PowState {
            max_owned_hotkeys: usize::MAX,
            ..Default::default()
        };
        for s in &config.subnets {
            state.subnets.insert(
                s.netuid,
                Subnet {
                    pow_allowed: s.pow_enabled,
                    registration_allowed: true,
                    difficulty: s.difficulty,
                    min_difficulty: s.min_difficulty,
                    max_difficulty: s.max_difficulty,
                    burn_half_life: s.burn_half_life,
                    burn_increase_mult: u64f64_bits(s.burn_increase_mult),
                    max_allowed_uids: s.max_uids,
                    max_registrations_per_block: s.max_registrations_per_block,
                    registrations_this_block: 0,
                    uids: Default::default(),
                    neurons: Vec::new(),
                },
            );
        }
        let accounts = config
            .funded_accounts()
            .map(|key| {
                let info = AccountInfo {
                    nonce: 0,
                    free: config.dev_balance_tao.saturating_mul(RAO_PER_TAO),
                };
                (key, info)
            })
            .collect();
        let mut chain = Self {
            blocks: Vec::new(),
            numbers: HashMap::new(),
            pruning: config.state_pruning,
            state,
            accounts,
            forks: 0,
            finality_lag: config.finality_lag as usize,
            orphans: HashMap::new(),
        };
        chain.seal_block([0; 32], Vec::new(), Vec::new());
        chain
    }

    fn seal_block(
        &mut self,
        parent_hash: [u8; 32],
        extrinsics: Vec<Vec<u8>>,
        events: Vec<EventRecord>,
    ) -> &Block {
        let number = self.blocks.len() as u32;
        let fresh = snapshot(&BlockState {
            pow: &self.state,
            accounts: &self.accounts,
            events: &events,
            number,
        });
        let empty = StorageMap::new();
        let parent_storage = match self.blocks.last().and_then(|b| b.state.as_ref()) {
            Some(parent) => &parent.storage,
            None => &empty,
        };
        let (storage, changes) = apply(parent_storage, fresh, number, parent_hash);
        let parent_root = self.blocks.last().map_or([0; 32], |b| b.header.state_root);
        let state_root = blake2_256(&(parent_root, changes).encode());
        let header = Header {
            parent_hash,
            number,
            state_root,
            extrinsics_root: if self.forks == 0 {
                blake2_256(&extrinsics.encode())
            } else {
                blake2_256(&(&extrinsics, self.forks).encode())
            },
        };
        let hash = header.hash();
        self.blocks.push(Block {
            header,
            hash,
            extrinsics,
            events,
            state: Some(Arc::new(StateAfter {
                storage,
                pow: self.state.clone(),
                accounts: self.accounts.clone(),
            })),
        });
        self.numbers.insert(hash, number);
        self.prune();
        // Finality prunes the blocks of forks at or below it.
        let finalized = self.finalized().header.number;
        self.orphans
            .retain(|_, orphan| orphan.header.number > finalized);
        self.blocks.last().expect("just pushed")
    }

    /// Drops the state of the block that just left the pruning window (one per block, so
    /// older ones are already gone). As a node's, the window counts back from the newest
    /// final block: blocks that are not final yet always keep their state.
    fn prune(&mut self) {
        let StatePruning::Keep(kept) = self.pruning else {
            return;
        };
        let kept = kept.max(1) as usize + self.finality_lag;
        if let Some(index) = self.blocks.len().checked_sub(kept + 1) {
            self.blocks[index].state = None;
        }
    }

    /// Builds the next block: per-block resets and difficulty decay first, then each pending
    /// transaction in order: its signed extensions are checked again (nonce, era), it is
    /// included, the signer's nonce rises and `pow_register` is dispatched with the admission
    /// rules run again; a refusal there is `ExtrinsicFailed` with the pallet's error.
    pub fn produce_block(
        &mut self,
        pending: Vec<SignedExtrinsic>,
    ) -> (&Block, Vec<([u8; 32], Inclusion)>) {
        let parent = self.head().hash;
        let number = u64::from(self.head().header.number) + 1;
        self.state.on_new_block(number);
        let mut extrinsics = Vec::new();
        let mut events = Vec::new();
        let mut outcomes = Vec::new();
        for xt in pending {
            let next_nonce = self.account(&xt.signer).nonce;
            let call = match (&xt.call, self.check_signed(&xt, number, next_nonce)) {
                (_, Err(e)) => {
                    outcomes.push((xt.hash, Inclusion::Dropped(e)));
                    continue;
                }
                (Call::Other { .. }, Ok(_)) => {
                    outcomes.push((xt.hash, Inclusion::Dropped(InvalidTransaction::Call)));
                    continue;
                }
                (Call::PowRegister(call), Ok(_)) => *call,
            };
            let index = extrinsics.len() as u32;
            let account = self.accounts.entry(xt.signer).or_default();
            account.nonce += 1;
            account.free -= xt.tip;
            let blocks = &self.blocks;
            let hash_of = |n: u64| {
                usize::try_from(n)
                    .ok()
                    .and_then(|n| blocks.get(n))
                    .map(|b| b.hash)
            };
            match self.state.register(&call, &xt.signer, number, hash_of) {
                Ok(uid) => {
                    events.push(EventRecord {
                        extrinsic: index,
                        event: Event::NeuronRegistered {
                            netuid: call.netuid,
                            uid,
                            hotkey: call.hotkey,
                        },
                    });
                    events.push(EventRecord {
                        extrinsic: index,
                        event: Event::ExtrinsicSuccess,
                    });
                }
                Err(error) => events.push(EventRecord {
                    extrinsic: index,
                    event: Event::ExtrinsicFailed(error),
                }),
            }
            extrinsics.push(xt.bytes);
            outcomes.push((xt.hash, Inclusion::Included(index)));
        }
        let block = self.seal_block(parent, extrinsics, events);
        (block, outcomes)
    }

    /// Development only: a re-organisation. The newest `depth` blocks are replaced by
    /// `depth + 1` new empty blocks on a fork from the block before them (state and
    /// accounts return to that block's). Only blocks that are not final can be replaced
    /// (`depth ≤ finality lag`), as on a chain whose finality gadget works. Returns the
    /// orphaned blocks' signed transactions, oldest first, for the pool to take back as a
    /// node's does.
    pub fn reorg(&mut self, depth: usize) -> Result<Vec<SignedExtrinsic>, String> {
        let lag = self.finality_lag;
        if depth > lag {
            return Err(format!(
                "a re-organisation of depth {depth} would replace a final block (at most \
                 {lag}: blocks become final {lag} behind the best)"
            ));
        }
        let fork_point = self
            .blocks
            .len()
            .checked_sub(depth + 1)
            .filter(|_| depth > 0)
            .map(|i| &self.blocks[i]);
        let Some(after) = fork_point.and_then(|b| b.state.clone()) else {
            return Err(format!(
                "a re-organisation of depth {depth} needs 1 ≤ depth < {} (blocks whose \
                 state is kept)",
                self.blocks.iter().filter(|b| b.state.is_some()).count()
            ));
        };
        let mut orphaned = Vec::new();
        let drained: Vec<Block> = self.blocks.drain(self.blocks.len() - depth..).collect();
        for orphan in drained {
            self.numbers.remove(&orphan.hash);
            for bytes in &orphan.extrinsics {
                if let Ok(Decoded::Signed(xt)) = SignedExtrinsic::decode(bytes) {
                    orphaned.push(*xt);
                }
            }
            self.orphans.insert(orphan.hash, orphan);
        }
        self.state = after.pow.clone();
        self.accounts = after.accounts.clone();
        self.forks += 1;
        for _ in 0..=depth {
            self.produce_block(Vec::new());
        }
        Ok(orphaned)
    }

    /// An account's nonce and balance (zero if the chain has never seen it).
    pub fn account(&self, key: &AccountId) -> AccountInfo {
        self.accounts.get(key).copied().unwrap_or_default()
    }

    /// The data signed implicitly by a transaction checked at block `now`, or
    /// `AncientBirthBlock` when its era's birth block is not one the chain keeps a hash of.
    pub fn implicit(&self, era: Era, now: u64) -> Result<Implicit, InvalidTransaction> {
        let birth = era.birth(now);
        let kept = now.saturating_sub(BLOCK_HASH_COUNT as u64)..now;
        let birth_hash = self
            .hash_of(birth)
            .filter(|_| birth == 0 || kept.contains(&birth))
            .ok_or(InvalidTransaction::AncientBirthBlock)?;
        Ok(Implicit {
            spec_version: SPEC_VERSION,
            transaction_version: TRANSACTION_VERSION,
            genesis_hash: self.genesis_hash(),
            birth_hash,
        })
    }

    /// The checks every signed transaction passes at block `now`, in the runtime's order:
    /// implicit data (era), signature, non-zero sender, nonce (`next_nonce` is the next one the signer may
    /// use), tip. Returns the blocks it stays valid for.
    pub fn check_signed(
        &self,
        xt: &SignedExtrinsic,
        now: u64,
        next_nonce: u32,
    ) -> Result<u64, InvalidTransaction> {
        let implicit = self.implicit(xt.era, now)?;
        if !xt.signature_is_valid(&implicit) {
            return Err(InvalidTransaction::BadProof);
        }
        // CheckNonZeroSender: the zero key is the identity point, for which anyone can forge
        // a signature that verifies.
        if xt.signer == [0u8; 32] {
            return Err(InvalidTransaction::BadSigner);
        }
        let account = self.account(&xt.signer);
        if xt.nonce < account.nonce {
            return Err(InvalidTransaction::Stale);
        }
        if xt.nonce > next_nonce {
            return Err(InvalidTransaction::Future);
        }
        if account.free < xt.tip {
            return Err(InvalidTransaction::Payment);
        }
        Ok(xt.era.death(now).saturating_sub(now))
    }

    /// What the transaction pool and `TaggedTransactionQueue_validate_transaction` answer for
    /// a transaction on top of the head (checked as block head + 1): the signed checks, then
    /// the PoW admission rules, refused as `InvalidTransaction::Custom(code)`.
    pub fn validate(
        &self,
        xt: &SignedExtrinsic,
        next_nonce: u32,
    ) -> Result<ValidTransaction, InvalidTransaction> {
        let now = u64::from(self.head().header.number) + 1;
        let era_longevity = self.check_signed(xt, now, next_nonce)?;
        let Call::PowRegister(call) = &xt.call else {
            return Err(InvalidTransaction::Call);
        };
        self.state
            .check(call, &xt.signer, now, |n| self.hash_of(n))
            .map_err(|e| InvalidTransaction::Custom(e.pool_code()))?;
        let account_nonce = self.account(&xt.signer).nonce;
        let requires = if xt.nonce > account_nonce {
            vec![(xt.signer, xt.nonce - 1).encode()]
        } else {
            Vec::new()
        };
        let pow_longevity = WORK_WINDOW - (now - call.work_block) + 1;
        Ok(ValidTransaction {
            priority: 0,
            requires,
            provides: vec![
                (xt.signer, xt.nonce).encode(),
                (b"pow-registration", call.hotkey, call.work_block).encode(),
            ],
            longevity: era_longevity.min(pow_longevity),
            propagate: true,
        })
    }

    /// The newest block.
    pub fn head(&self) -> &Block {
        self.blocks.last().expect("genesis exists")
    }

    /// The newest final block: the finality lag behind the best (genesis at first).
    pub fn finalized(&self) -> &Block {
        &self.blocks[(self.blocks.len() - 1).saturating_sub(self.finality_lag)]
    }

    /// Whether block `number` with this hash is final.
    pub fn is_final(&self, number: u64, hash: &[u8; 32]) -> bool {
        number <= u64::from(self.finalized().header.number) && self.hash_of(number) == Some(*hash)
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> [u8; 32] {
        self.blocks[0].hash
    }

    /// Block `number`, if produced.
    pub fn block(&self, number: u64) -> Option<&Block> {
        usize::try_from(number)
            .ok()
            .and_then(|n| self.blocks.get(n))
    }

    /// The block with this hash, if any: on the chain, or re-organised off it and not yet
    /// pruned by finality.
    pub fn block_by_hash(&self, hash: &[u8; 32]) -> Option<&Block> {
        self.numbers
            .get(hash)
            .and_then(|&n| self.block(u64::from(n)))
            .or_else(|| self.orphans.get(hash))
    }

    /// The state after the block with this hash, unless the block is unknown or its state
    /// was pruned.
    pub fn state_at(&self, hash: &[u8; 32]) -> Result<&StateAfter, StateUnavailable> {
        let block = self
            .block_by_hash(hash)
            .ok_or(StateUnavailable::UnknownBlock)?;
        block.state.as_deref().ok_or(StateUnavailable::Discarded)
    }

    /// The state after the head (never pruned).
    pub fn head_state(&self) -> &StateAfter {
        self.head()
            .state
            .as_deref()
            .expect("the head keeps its state")
    }

    /// How many blocks keep their state.
    pub fn pruning(&self) -> StatePruning {
        self.pruning
    }

    /// Hash of block `number`, for the seal check.
    pub fn hash_of(&self, number: u64) -> Option<[u8; 32]> {
        self.block(number).map(|b| b.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's resident memory now and at its peak, in MB (Linux).
    fn resident_mb() -> Option<(f64, f64)> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Finality lags the best block by the configured number of blocks, and a
    /// re-organisation may replace only blocks that are not final.
    #[test]
    fn only_blocks_above_the_finalized_one_can_be_re_organised_away() {
        for lag in [0u32, 1, 3] {
            let mut chain = Chain::new(&DevnetConfig {
                finality_lag: lag,
                ..DevnetConfig::default()
            });
            for _ in 0..6 {
                chain.produce_block(Vec::new());
            }
            let finalized = chain.finalized().clone();
            assert_eq!(u64::from(finalized.header.number), 6 - u64::from(lag));
            assert!(chain.is_final(6 - u64::from(lag), &finalized.hash));
            assert!(!chain.is_final(6, &[0; 32]));
            let e = chain.reorg(lag as usize + 1).unwrap_err();
            assert!(e.contains("would replace a final block"), "{e}");
            assert_eq!(chain.head().header.number, 6, "nothing changed");
            if lag > 0 {
                let replaced = chain.head().hash;
                chain.reorg(lag as usize).unwrap();
                assert_eq!(chain.head().header.number, 7);
                assert_ne!(chain.hash_of(6), Some(replaced));
                assert_eq!(
                    chain.hash_of(u64::from(finalized.header.number)),
                    Some(finalized.hash),
                    "the final block stays"
                );
                // The orphan is served by hash until finality reaches its number (with a
                // lag of 1 the fork's new blocks already have).
                assert_eq!(
                    chain.block_by_hash(&replaced).is_some(),
                    chain.finalized().header.number < 6
                );
                while chain.finalized().header.number < 6 {
                    assert!(chain.block_by_hash(&replaced).is_some());
                    chain.produce_block(Vec::new());
                }
                assert!(
                    chain.block_by_hash(&replaced).is_none(),
                    "pruned by finality"
                );
            }
        }
    }

    /// 3,000 blocks (past the 2,400 block hashes kept and far past the 256 states kept) fit
    /// in 150 MB: only the newest 256 final states and those of the blocks not final yet
    /// are kept, and they share their storage.
    #[test]
    fn three_thousand_blocks_keep_256_states_within_150_mb() {
        let mut chain = Chain::new(&DevnetConfig::default());
        for _ in 0..3_000 {
            chain.produce_block(Vec::new());
        }
        let kept: Vec<u32> = chain
            .blocks
            .iter()
            .filter(|b| b.state.is_some())
            .map(|b| b.header.number)
            .collect();
        // Final up to 3,000 - lag; 256 final states and the lag's above them.
        let oldest = 3_000 - crate::config::DEFAULT_FINALITY_LAG - 255;
        assert_eq!(kept, (oldest..=3_000).collect::<Vec<u32>>());
        let pruned = chain.block(u64::from(oldest) - 1).unwrap().hash;
        assert_eq!(
            chain.state_at(&pruned).err(),
            Some(StateUnavailable::Discarded)
        );
        assert!(chain.state_at(&chain.head().hash).is_ok());
        // The head's storage still holds the newest 2,400 block hashes.
        let storage = &chain.head_state().storage;
        let hashes = crate::storage::item_prefix("System", "BlockHash");
        let count = storage.keys().filter(|k| k.starts_with(&hashes)).count();
        assert_eq!(count, BLOCK_HASH_COUNT);
        if let Some((now, peak)) = resident_mb() {
            eprintln!("3,000 blocks: resident {now:.1} MB, peak {peak:.1} MB");
            assert!(
                peak < 150.0,
                "peak resident memory {peak:.1} MB (now {now:.1} MB)"
            );
        }
    }
}
