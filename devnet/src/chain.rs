//! Blocks: headers hashed with blake2-256 over their SCALE encoding, as Substrate does, each
//! with the storage snapshot a client reads at that block.

use std::sync::Arc;

use parity_scale_codec::{Compact, Encode};
use sp_crypto_hashing::blake2_256;

use crate::config::DevnetConfig;
use crate::pow::{u64f64_bits, PowState, Subnet};
use crate::storage::{snapshot, StorageMap};

/// A Substrate header (`sp_runtime::generic::Header<u32, BlakeTwo256>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Hash of the parent block (zero for genesis).
    pub parent_hash: [u8; 32],
    /// Block number.
    pub number: u32,
    /// blake2-256 of the encoded storage (the devnet keeps no trie).
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
    /// Opaque extrinsics included in it.
    pub extrinsics: Vec<Vec<u8>>,
    /// Storage after the block.
    pub storage: Arc<StorageMap>,
}

/// The chain: every block and the current registration state.
pub struct Chain {
    blocks: Vec<Block>,
    /// Registration state after the head.
    pub state: PowState,
}

impl Chain {
    /// Genesis with the configured subnets.
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
        let mut chain = Self {
            blocks: Vec::new(),
            state,
        };
        chain.seal_block([0; 32], Vec::new());
        chain
    }

    fn seal_block(&mut self, parent_hash: [u8; 32], extrinsics: Vec<Vec<u8>>) -> &Block {
        let number = self.blocks.len() as u32;
        let hashes: Vec<[u8; 32]> = self.blocks.iter().map(|b| b.hash).collect();
        let storage = snapshot(&self.state, number, &hashes);
        let header = Header {
            parent_hash,
            number,
            state_root: blake2_256(&storage.iter().collect::<Vec<_>>().encode()),
            extrinsics_root: blake2_256(&extrinsics.encode()),
        };
        let hash = header.hash();
        self.blocks.push(Block {
            header,
            hash,
            extrinsics,
            storage: Arc::new(storage),
        });
        self.blocks.last().expect("just pushed")
    }

    /// Starts the next block: per-block resets and difficulty decay happen first, then
    /// `apply` runs the block's extrinsics against the state (returning those included).
    pub fn produce_block(
        &mut self,
        apply: impl FnOnce(&mut PowState, u64) -> Vec<Vec<u8>>,
    ) -> &Block {
        let parent = self.head().hash;
        let number = u64::from(self.head().header.number) + 1;
        self.state.on_new_block();
        let extrinsics = apply(&mut self.state, number);
        self.seal_block(parent, extrinsics)
    }

    /// The newest block.
    pub fn head(&self) -> &Block {
        self.blocks.last().expect("genesis exists")
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

    /// The block with this hash, if any.
    pub fn block_by_hash(&self, hash: &[u8; 32]) -> Option<&Block> {
        self.blocks.iter().rev().find(|b| &b.hash == hash)
    }

    /// Hash of block `number`, for the seal check.
    pub fn hash_of(&self, number: u64) -> Option<[u8; 32]> {
        self.block(number).map(|b| b.hash)
    }
}
