//! Multi-buffer SHA-256 for the seal: `Words::WIDTH` nonces through the two nonce-dependent
//! blocks at once, one SHA-256 state per vector lane.
//!
//! From `shared/SPEC.md`, "Where the work goes": block 1 is the midstate; block 2's words
//! W0–W13 are constant, so its rounds 0–13 are done once per job ([`MultiBufferJob::new`]) and
//! every constant term of its message schedule is summed once too; W14 ends with nonce byte 0,
//! W15 is nonce bytes 1–4. Block 3 is nonce bytes 5–7 ‖ 0x80 in W0, zeros, and the bit length
//! 1048 in W15: its schedule is written out with the zero words dropped.

use super::words::Words;
use crate::challenge::Prefix;
use crate::gpu_job::{precompute_sha, CONSTANT_ROUNDS, K};

/// Block 3's W15: the message length in bits, (123 + 8) × 8.
const LENGTH_BITS: u32 = 1048;

/// Everything the multi-buffer rounds need that does not depend on the nonce.
#[derive(Clone, Debug)]
pub(crate) struct MultiBufferJob {
    /// State after block 1.
    midstate: [u32; 8],
    /// State after rounds 0–13 of block 2.
    state14: [u32; 8],
    /// W14 of block 2 with nonce byte 0 still zero.
    w14_high: u32,
    /// For t in 16..64: the sum of the constant terms of block 2's `W[t]` (those built only
    /// from W0–W13).
    schedule_constants: [u32; 64],
}

fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

impl MultiBufferJob {
    /// Precomputes block 1, block 2's first 14 rounds and its schedule's constant terms.
    pub(crate) fn new(prefix: &Prefix) -> Self {
        let (midstate, state14, block2) = precompute_sha(prefix);
        let w = &block2;
        let mut schedule_constants = [0u32; 64];
        for (t, constant) in schedule_constants.iter_mut().enumerate().skip(16) {
            let mut sum = 0u32;
            if t - 16 < CONSTANT_ROUNDS {
                sum = sum.wrapping_add(w[t - 16]);
            }
            if t - 15 < CONSTANT_ROUNDS {
                sum = sum.wrapping_add(small_sigma0(w[t - 15]));
            }
            if t - 7 < CONSTANT_ROUNDS {
                sum = sum.wrapping_add(w[t - 7]);
            }
            *constant = sum;
        }
        Self {
            midstate,
            state14,
            w14_high: block2[14],
            schedule_constants,
        }
    }

    /// Block 2's W14, W15 and block 3's W0 for one nonce.
    #[inline(always)]
    pub(crate) fn nonce_words(&self, nonce: u64) -> [u32; 3] {
        let n = nonce.to_le_bytes();
        [
            self.w14_high | u32::from(n[0]),
            u32::from_be_bytes([n[1], n[2], n[3], n[4]]),
            u32::from_be_bytes([n[5], n[6], n[7], 0x80]),
        ]
    }
}

#[inline(always)]
fn sigma0<W: Words>(x: W) -> W {
    x.rotr::<7>().xor3(x.rotr::<18>(), x.shr::<3>())
}

#[inline(always)]
fn sigma1<W: Words>(x: W) -> W {
    x.rotr::<17>().xor3(x.rotr::<19>(), x.shr::<10>())
}

/// One round (FIPS 180-4, 6.2.2 step 3) with `k_plus_w = K[t] + W[t]`.
#[inline(always)]
fn round<W: Words>(s: &mut [W; 8], k_plus_w: W) {
    let [a, b, c, d, e, f, g, h] = *s;
    let big_sigma1 = e.rotr::<6>().xor3(e.rotr::<11>(), e.rotr::<25>());
    let t1 = h.add(big_sigma1).add(e.ch(f, g)).add(k_plus_w);
    let big_sigma0 = a.rotr::<2>().xor3(a.rotr::<13>(), a.rotr::<22>());
    let t2 = big_sigma0.add(a.maj(b, c));
    *s = [t1.add(t2), a, b, c, d.add(t1), e, f, g];
}

/// The SHA-256 digests of `prefix ‖ nonce` for `W::WIDTH` nonces, as state words (the digest
/// is these words big-endian). `w14`, `w15`, `block3_w0` come from
/// [`MultiBufferJob::nonce_words`], one lane per nonce.
#[inline(always)]
pub(crate) fn digests<W: Words>(job: &MultiBufferJob, w14: W, w15: W, block3_w0: W) -> [W; 8] {
    // Block 2, rounds 14..63. Only W14, W15 and what the schedule derives from them vary.
    let mut w = [W::splat(0); 64];
    w[14] = w14;
    w[15] = w15;
    for t in 16..64 {
        let mut x = sigma1(w[t - 2]).add(W::splat(job.schedule_constants[t]));
        if t - 7 >= CONSTANT_ROUNDS {
            x = x.add(w[t - 7]);
        }
        if t - 15 >= CONSTANT_ROUNDS {
            x = x.add(sigma0(w[t - 15]));
        }
        if t - 16 >= CONSTANT_ROUNDS {
            x = x.add(w[t - 16]);
        }
        w[t] = x;
    }
    let mut s = job.state14.map(W::splat);
    for t in CONSTANT_ROUNDS..64 {
        round(&mut s, w[t].add(W::splat(K[t])));
    }
    let mut state = [W::splat(0); 8];
    for i in 0..8 {
        state[i] = s[i].add(W::splat(job.midstate[i]));
    }

    // Block 3: W0 varies, W1–W14 are zero, W15 = 1048. Terms with a zero word are left out.
    let mut w = [W::splat(0); 64];
    w[0] = block3_w0;
    w[15] = W::splat(LENGTH_BITS);
    for t in 16..64 {
        // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], zero words omitted.
        let mut x = if t - 2 == 0 || t - 2 >= 15 {
            sigma1(w[t - 2])
        } else {
            W::splat(0)
        };
        if t - 7 == 0 || t - 7 >= 15 {
            x = x.add(w[t - 7]);
        }
        if t - 15 == 0 || t - 15 >= 15 {
            x = x.add(sigma0(w[t - 15]));
        }
        if t - 16 == 0 || t - 16 >= 15 {
            x = x.add(w[t - 16]);
        }
        w[t] = x;
    }
    let mut s = state;
    for t in 0..64 {
        let k_plus_w = if t == 0 || t >= 15 {
            w[t].add(W::splat(K[t]))
        } else {
            W::splat(K[t])
        };
        round(&mut s, k_plus_w);
    }
    for i in 0..8 {
        state[i] = s[i].add(state[i]);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The multi-buffer rounds (precomputed rounds, constant schedule terms, block 3 with
    /// zero words dropped) on one scalar lane equal plain SHA-256 of `prefix ‖ nonce`.
    #[test]
    fn one_lane_equals_plain_sha256() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut prefix = [0u8; crate::challenge::PREFIX_LEN];
            for byte in prefix.iter_mut() {
                *byte = next() as u8;
            }
            let job = MultiBufferJob::new(&prefix);
            for nonce in [next(), 0, u64::MAX, 0xFF, 1 << 40, (1 << 40) - 1] {
                let [w14, w15, w0] = job.nonce_words(nonce);
                let state = digests::<u32>(&job, w14, w15, w0);
                let got: Vec<u8> = state.iter().flat_map(|w| w.to_be_bytes()).collect();
                let want = Sha256::new()
                    .chain_update(prefix)
                    .chain_update(nonce.to_le_bytes())
                    .finalize();
                assert_eq!(got, want.as_slice(), "nonce {nonce:#x}");
            }
        }
    }
}
