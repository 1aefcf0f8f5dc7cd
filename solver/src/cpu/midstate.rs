//! The SHA-256 half of the seal, with everything that does not depend on the nonce done once.
//!
//! The message `prefix ‖ nonce` is 131 bytes: three SHA-256 blocks (`docs/SPEC.md`,
//! "Where the work goes"):
//! - block 1 = prefix bytes 0–63, the same for every nonce: compressed once (the midstate);
//! - block 2 = prefix bytes 64–122 (precomputed template) ‖ nonce bytes 0–4;
//! - block 3 = nonce bytes 5–7 ‖ 0x80 ‖ zeros ‖ bit length 1048 (big-endian u64).
//!
//! Per nonce only blocks 2 and 3 are compressed, by the `sha2` crate's `compress256`, which
//! uses the SHA-NI instructions where the CPU has them.

use sha2::digest::generic_array::GenericArray;

use super::multibuffer::MultiBufferJob;
use regpow_rules::challenge::{Prefix, PREFIX_LEN};

/// Total message length in bits: (123 + 8) × 8.
const MESSAGE_BITS: u64 = ((PREFIX_LEN + 8) * 8) as u64;

/// Offset of nonce byte 0 inside block 2 (prefix bytes 64..123 come first).
const NONCE_IN_BLOCK2: usize = PREFIX_LEN - 64;

/// The two nonce-dependent blocks, ready for `compress256`.
pub(crate) type TailBlocks = [GenericArray<u8, sha2::digest::consts::U64>; 2];

/// A challenge prepared for hashing many nonces: the midstate after block 1 and templates of
/// blocks 2 and 3 with every constant byte already in place.
#[derive(Clone, Debug)]
pub struct SealMidstate {
    state: [u32; 8],
    tail: [[u8; 64]; 2],
    /// The same job laid out for multi-buffer SHA-256 (the SIMD kernels).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) multi: MultiBufferJob,
}

impl SealMidstate {
    /// Compresses the constant first block and lays out the constant bytes of the rest.
    pub fn new(prefix: &Prefix) -> Self {
        // Block 1 is compressed once, for both layouts.
        let multi = MultiBufferJob::new(prefix);
        let mut block2 = [0u8; 64];
        block2[..NONCE_IN_BLOCK2].copy_from_slice(&prefix[64..]);
        let mut block3 = [0u8; 64];
        block3[3] = 0x80;
        block3[56..].copy_from_slice(&MESSAGE_BITS.to_be_bytes());
        Self {
            state: multi.midstate(),
            tail: [block2, block3],
            multi,
        }
    }

    /// Scratch blocks holding the templates; [`Self::digest_lanes`] only rewrites nonce bytes.
    #[inline(always)]
    pub(crate) fn scratch(&self) -> TailBlocks {
        [
            *GenericArray::from_slice(&self.tail[0]),
            *GenericArray::from_slice(&self.tail[1]),
        ]
    }

    /// `sha256(prefix ‖ nonce)` as the four little-endian u64 lanes Keccak absorbs.
    #[inline(always)]
    pub(crate) fn digest_lanes(&self, scratch: &mut TailBlocks, nonce: u64) -> [u64; 4] {
        let nonce = nonce.to_le_bytes();
        scratch[0][NONCE_IN_BLOCK2..].copy_from_slice(&nonce[..5]);
        scratch[1][..3].copy_from_slice(&nonce[5..]);
        let mut state = self.state;
        sha2::compress256(&mut state, scratch);
        // The digest is the state words big-endian; Keccak reads its bytes little-endian.
        let lane = |i: usize| {
            u64::from(state[2 * i].swap_bytes()) | u64::from(state[2 * i + 1].swap_bytes()) << 32
        };
        [lane(0), lane(1), lane(2), lane(3)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn digest_lanes_equal_plain_sha256() {
        let mut prefix = [0u8; PREFIX_LEN];
        for (i, b) in prefix.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let m = SealMidstate::new(&prefix);
        let mut scratch = m.scratch();
        for nonce in [0u64, 1, 0xFF, 0x1_0000_0000, 0xFF_FFFF_FFFF, u64::MAX] {
            let digest = Sha256::new()
                .chain_update(prefix)
                .chain_update(nonce.to_le_bytes())
                .finalize();
            let want: [u64; 4] = core::array::from_fn(|i| {
                u64::from_le_bytes(digest[8 * i..8 * i + 8].try_into().unwrap())
            });
            assert_eq!(
                m.digest_lanes(&mut scratch, nonce),
                want,
                "nonce {nonce:#x}"
            );
        }
    }
}
