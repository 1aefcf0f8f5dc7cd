//! Multi-buffer SHA-256 for the seal: `Words::WIDTH` nonces through the two nonce-dependent
//! blocks at once, one SHA-256 state per vector lane.
//!
//! From `docs/SPEC.md`, "Where the work goes": block 1 is the midstate; block 2's words
//! W0–W13 are constant, so its rounds 0–13 are done once per job ([`MultiBufferJob::new`]) and
//! every constant term of its message schedule is summed once too; W14 ends with nonce byte 0,
//! W15 is nonce bytes 1–4. Block 3 is nonce bytes 5–7 ‖ 0x80 in W0, zeros, and the bit length
//! 1048 in W15: its schedule is written out with the zero words dropped.

use super::words::Words;
use regpow_rules::challenge::Prefix;
use regpow_rules::sha256::{precompute_sha, CONSTANT_ROUNDS, K};

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

    /// The SHA-256 state after block 1 (the prefix's first 64 bytes).
    pub(crate) fn midstate(&self) -> [u32; 8] {
        self.midstate
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

/// Calls `$step::<T, $W>(args)` for each listed round `T`: the rounds are unrolled with
/// constant indices, so the schedule array lives in registers and every zero or constant
/// term is decided at compile time.
macro_rules! unroll {
    ($step:ident, $W:ty, $args:tt, [$($t:literal)*]) => {
        $( $step::<$t, $W> $args; )*
    };
}

/// Round `T` of block 2 (T ≥ 14), computing `W[T]` first when T ≥ 16.
#[inline(always)]
fn block2_step<const T: usize, W: Words>(w: &mut [W; 64], s: &mut [W; 8], job: &MultiBufferJob) {
    if T >= 16 {
        let mut x = sigma1(w[T - 2]).add(W::splat(job.schedule_constants[T]));
        if T - 7 >= CONSTANT_ROUNDS {
            x = x.add(w[T - 7]);
        }
        if T - 15 >= CONSTANT_ROUNDS {
            x = x.add(sigma0(w[T - 15]));
        }
        if T - 16 >= CONSTANT_ROUNDS {
            x = x.add(w[T - 16]);
        }
        w[T] = x;
    }
    round(s, w[T].add(W::splat(K[T])));
}

/// Whether block 3's word `i` can be non-zero: W0 (nonce bytes 5–7), W15 (the length) and
/// every scheduled word; W1–W14 are zero.
const fn block3_word_nonzero(i: usize) -> bool {
    i == 0 || i >= 15
}

/// Round `T` of block 3, computing `W[T]` first when T ≥ 16, with zero words left out.
#[inline(always)]
fn block3_step<const T: usize, W: Words>(w: &mut [W; 64], s: &mut [W; 8]) {
    if T >= 16 {
        let mut x: Option<W> = None;
        let mut plus = |term: W| x = Some(x.map_or(term, |sum| sum.add(term)));
        if block3_word_nonzero(T - 2) {
            plus(sigma1(w[T - 2]));
        }
        if block3_word_nonzero(T - 7) {
            plus(w[T - 7]);
        }
        if block3_word_nonzero(T - 15) {
            plus(sigma0(w[T - 15]));
        }
        if block3_word_nonzero(T - 16) {
            plus(w[T - 16]);
        }
        w[T] = x.unwrap_or(W::splat(0));
    }
    let k_plus_w = if block3_word_nonzero(T) {
        w[T].add(W::splat(K[T]))
    } else {
        W::splat(K[T])
    };
    round(s, k_plus_w);
}

/// The SHA-256 digests of `prefix ‖ nonce` for `W::WIDTH` nonces, as state words (the digest
/// is these words big-endian). `w14`, `w15`, `block3_w0` come from
/// [`MultiBufferJob::nonce_words`], one lane per nonce.
#[inline(always)]
pub(crate) fn digests<W: Words>(job: &MultiBufferJob, w14: W, w15: W, block3_w0: W) -> [W; 8] {
    // Block 2, rounds 14..63 from the precomputed state. W0–W13 only enter through
    // `schedule_constants`, so they are never loaded.
    let zero = W::splat(0);
    let mut w = [zero; 64];
    w[14] = w14;
    w[15] = w15;
    let mut s = job.state14.map(W::splat);
    unroll!(block2_step, W, (&mut w, &mut s, job), [
        14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39
        40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
    ]);
    let mut state = [zero; 8];
    for i in 0..8 {
        state[i] = s[i].add(W::splat(job.midstate[i]));
    }

    // Block 3: W0 varies, W1–W14 are zero, W15 = 1048.
    let mut w = [zero; 64];
    w[0] = block3_w0;
    w[15] = W::splat(LENGTH_BITS);
    let mut s = state;
    unroll!(block3_step, W, (&mut w, &mut s), [
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61
        62 63
    ]);
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
            let mut prefix = [0u8; regpow_rules::challenge::PREFIX_LEN];
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
