//! The constants every GPU kernel receives for a job, computed once on the host.
//!
//! From `docs/SPEC.md`, "Where the work goes": SHA-256 block 1 is the same for every nonce
//! (the midstate), and block 2's words W0–W13 are too, so its first 14 rounds are computed
//! here; kernels start block 2 at round 14, where the nonce bytes enter.

use regpow_rules::keccak::ROUND_CONSTANTS;
use regpow_rules::sha256::{precompute_sha, K};

use crate::backend::Job;

/// Host-computed kernel inputs for one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuJob {
    /// SHA-256 state after block 1 (prefix bytes 0–63).
    pub midstate: [u32; 8],
    /// State after rounds 0–13 of block 2, which depend only on the prefix.
    pub state14: [u32; 8],
    /// Block 2 as big-endian words with the nonce bytes (W14's low byte, W15) zero.
    pub block2: [u32; 16],
    /// Target limb 3: seals whose lane 3 exceeds it are rejected on the GPU.
    pub target_high: u64,
}

impl GpuJob {
    /// Precomputes everything that does not depend on the nonce.
    pub fn new(job: &Job) -> Self {
        let (midstate, state14, block2) = precompute_sha(&job.prefix);
        Self {
            midstate,
            state14,
            block2,
            target_high: job.bound.high(),
        }
    }
}

/// The round constants GPU kernels read from a constant/uniform buffer: SHA-256's K[0..64],
/// then Keccak's 24 iota constants as (lo, hi) u32 pairs.
pub fn kernel_constants() -> [u32; 64 + 48] {
    let mut words = [0u32; 64 + 48];
    words[..64].copy_from_slice(&K);
    for (pair, rc) in words[64..].chunks_exact_mut(2).zip(ROUND_CONSTANTS) {
        pair[0] = rc as u32;
        pair[1] = (rc >> 32) as u32;
    }
    words
}
