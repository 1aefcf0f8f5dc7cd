//! The SHA-256 half of the seal, split where the nonce enters (`docs/SPEC.md`, "Where the
//! work goes").
//!
//! `prefix ‖ nonce` is 131 bytes, three SHA-256 blocks. Block 1 (prefix bytes 0–63) is the
//! same for every nonce: its output is the midstate. Block 2 holds prefix bytes 64–122 and
//! the nonce's first five bytes at 123–127, so its words W0–W13 are constant too and its first
//! 14 rounds can run once per challenge; kernels start block 2 at round 14. Block 3 holds the
//! nonce's last three bytes and the padding. The CPU's multi-buffer SHA-256 and every GPU
//! kernel's host take these values from here.

use sha2::digest::generic_array::GenericArray;

use crate::challenge::Prefix;

/// SHA-256 round constants (FIPS 180-4, 4.2.2).
pub const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
pub const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Rounds of block 2 that use only constant words.
pub const CONSTANT_ROUNDS: usize = 14;

/// The nonce-independent SHA-256 work of a challenge: the state after block 1, the state
/// after block 2's first 14 rounds, and block 2's words (nonce bytes zero). Shared by the GPU
/// kernels' hosts and the CPU's multi-buffer SHA-256.
pub fn precompute_sha(prefix: &Prefix) -> ([u32; 8], [u32; 8], [u32; 16]) {
    let mut midstate = IV;
    sha2::compress256(&mut midstate, &[*GenericArray::from_slice(&prefix[..64])]);
    let mut block2 = [0u32; 16];
    let mut bytes = [0u8; 64];
    bytes[..59].copy_from_slice(&prefix[64..]);
    for (word, chunk) in block2.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_be_bytes(chunk.try_into().expect("4 bytes"));
    }
    let mut state14 = midstate;
    for (&k, &w) in K.iter().zip(&block2).take(CONSTANT_ROUNDS) {
        sha256_round(&mut state14, k.wrapping_add(w));
    }
    (midstate, state14, block2)
}

/// One SHA-256 round on the working variables a..h (FIPS 180-4, 6.2.2 step 3).
pub fn sha256_round(s: &mut [u32; 8], k_plus_w: u32) {
    let [a, b, c, d, e, f, g, h] = *s;
    let t1 = h
        .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
        .wrapping_add((e & f) ^ (!e & g))
        .wrapping_add(k_plus_w);
    let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
        .wrapping_add((a & b) ^ (a & c) ^ (b & c));
    *s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Challenge, PublicKey};

    /// Finishing block 2 from `state14` with the same round function must equal the `sha2`
    /// crate compressing the whole block: proves the split point and the precomputed rounds.
    #[test]
    fn state14_continues_to_the_real_block_2_state() {
        let ch = Challenge::new(9, [0x5A; 32], PublicKey([1; 32]), PublicKey([2; 32])).unwrap();
        let prefix = ch.prefix();
        let (midstate, state14, block2) = precompute_sha(&prefix);
        let nonce: u64 = 0x0123_4567_89AB_CDEF;
        let mut block = [0u8; 64];
        block[..59].copy_from_slice(&prefix[64..]);
        block[59..].copy_from_slice(&nonce.to_le_bytes()[..5]);
        let mut want = midstate;
        sha2::compress256(&mut want, &[*GenericArray::from_slice(&block)]);

        let mut w = [0u32; 64];
        for (word, chunk) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes(chunk.try_into().unwrap());
        }
        assert_eq!(&w[..14], &block2[..14]);
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16]
                .wrapping_add(s0)
                .wrapping_add(w[t - 7])
                .wrapping_add(s1);
        }
        let mut s = state14;
        for t in CONSTANT_ROUNDS..64 {
            sha256_round(&mut s, K[t].wrapping_add(w[t]));
        }
        for (x, m) in s.iter_mut().zip(midstate) {
            *x = x.wrapping_add(m);
        }
        assert_eq!(s, want);
    }
}
