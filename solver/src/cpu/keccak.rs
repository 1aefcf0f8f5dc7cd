//! Keccak-f[1600] over [`Lanes`], specialised for the seal.
//!
//! The seal's Keccak input is always one 32-byte block (the SHA-256 digest), so:
//! - the state starts as lanes 0–3 = digest, lane 4 = 0x01 (Keccak padding after 32 bytes),
//!   lane 16 = 1 << 63 (the final bit of the 136-byte rate), all else zero; with the
//!   permutation inlined the compiler folds the zero lanes out of the first round;
//! - the check reads the seal little-endian, so lane 3 is its most significant 64 bits.
//!   The last round computes lane 3 alone, which is all early reject needs. Candidates
//!   are always re-verified with the reference seal, so this shortcut is exact.

use regpow_rules::keccak::ROUND_CONSTANTS;

use super::lanes::Lanes;

/// Theta's column parities `C[x]` and the derived `D[x] = C[x-1] ^ rotl(C[x+1], 1)`.
#[inline(always)]
fn theta_d<V: Lanes>(a: &[V; 25]) -> [V; 5] {
    // Written out rather than with `array::from_fn`: its closure may not be inlined, and
    // a call would leave the `#[target_feature]` context the SIMD kernels rely on.
    let column = |x: usize| a[x].xor3(a[x + 5], a[x + 10]).xor3(a[x + 15], a[x + 20]);
    let c = [column(0), column(1), column(2), column(3), column(4)];
    let d = |x: usize| c[(x + 4) % 5].xor(c[(x + 1) % 5].rotl::<1>());
    [d(0), d(1), d(2), d(3), d(4)]
}

/// Rho and pi for one lane: `B[y, 2x+3y] = rotl(A[x, y] ^ D[x], r[x, y])`.
macro_rules! rho_pi {
    ($a:ident, $d:ident, $b:ident; $($x:literal $y:literal $r:literal),* $(,)?) => {
        $( $b[$y + 5 * ((2 * $x + 3 * $y) % 5)] = $a[$x + 5 * $y].xor($d[$x]).rotl::<$r>(); )*
    };
}

/// One full round: theta, rho, pi, chi, iota.
#[inline(always)]
fn round<V: Lanes>(a: &mut [V; 25], round_constant: u64) {
    let d = theta_d(a);
    let mut b = [V::splat(0); 25];
    // (x, y, rotation offset r[x, y]) for every lane.
    rho_pi!(a, d, b;
        0 0 0,  1 0 1,  2 0 62, 3 0 28, 4 0 27,
        0 1 36, 1 1 44, 2 1 6,  3 1 55, 4 1 20,
        0 2 3,  1 2 10, 2 2 43, 3 2 25, 4 2 39,
        0 3 41, 1 3 45, 2 3 15, 3 3 21, 4 3 8,
        0 4 18, 1 4 2,  2 4 61, 3 4 56, 4 4 14,
    );
    for y in 0..5 {
        for x in 0..5 {
            a[x + 5 * y] = b[x + 5 * y].chi(b[(x + 1) % 5 + 5 * y], b[(x + 2) % 5 + 5 * y]);
        }
    }
    a[0] = a[0].xor(V::splat(round_constant));
}

#[cfg(test)]
/// The full 24-round Keccak-f[1600] permutation (used to test [`Lanes`] implementations
/// against the `keccak` crate).
#[inline(always)]
pub(crate) fn f1600<V: Lanes>(a: &mut [V; 25]) {
    for &rc in &ROUND_CONSTANTS {
        round(a, rc);
    }
}

/// Lane 3 of `keccak256(digest)` for `V::WIDTH` digests, given as four lanes each.
///
/// Rounds 0–22 are full; round 23 computes only output lane 3:
/// `A'[3,0] = B[3,0] ^ (!B[4,0] & B[0,0])`, with `B[3,0] = rotl(A[3,3] ^ D[3], 21)`,
/// `B[4,0] = rotl(A[4,4] ^ D[4], 14)` and `B[0,0] = A[0,0] ^ D[0]`. Iota only touches lane 0.
#[inline(always)]
pub(crate) fn seal_high_lane<V: Lanes>(digest: [V; 4]) -> V {
    let zero = V::splat(0);
    let mut a = [zero; 25];
    a[..4].copy_from_slice(&digest);
    a[4] = V::splat(0x01);
    a[16] = V::splat(1 << 63);
    for &rc in &ROUND_CONSTANTS[..23] {
        round(&mut a, rc);
    }
    let d = theta_d(&a);
    let b30 = a[18].xor(d[3]).rotl::<21>();
    let b40 = a[24].xor(d[4]).rotl::<14>();
    let b00 = a[0].xor(d[0]);
    b30.chi(b40, b00)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_states(seed: u64, n: usize) -> Vec<[u64; 25]> {
        // xorshift64*: deterministic, no dependencies.
        let mut s = seed;
        let mut next = move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        (0..n).map(|_| core::array::from_fn(|_| next())).collect()
    }

    #[test]
    fn scalar_permutation_matches_the_keccak_crate() {
        for state in random_states(1, 16) {
            let mut ours = state;
            let mut theirs = state;
            f1600::<u64>(&mut ours);
            keccak::f1600(&mut theirs);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn high_lane_matches_the_full_permutation() {
        for state in random_states(2, 16) {
            let digest = [state[0], state[1], state[2], state[3]];
            let mut full = [0u64; 25];
            full[..4].copy_from_slice(&digest);
            full[4] = 1;
            full[16] = 1 << 63;
            keccak::f1600(&mut full);
            assert_eq!(seal_high_lane::<u64>(digest), full[3]);
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn check_simd<V: Lanes>() {
        let states = random_states(3, V::WIDTH);
        let mut lanes = [V::splat(0); 25];
        for (i, lane) in lanes.iter_mut().enumerate() {
            let column: Vec<u64> = states.iter().map(|s| s[i]).collect();
            *lane = V::load(&column);
        }
        f1600(&mut lanes);
        for (i, lane) in lanes.iter().enumerate() {
            let mut got = vec![0u64; V::WIDTH];
            lane.store(&mut got);
            for (k, state) in states.iter().enumerate() {
                let mut want = *state;
                keccak::f1600(&mut want);
                assert_eq!(got[k], want[i], "lane {i} of state {k}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_permutation_matches_the_keccak_crate() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        #[target_feature(enable = "avx2")]
        fn run() {
            check_simd::<super::super::lanes::Avx2x4>();
        }
        // SAFETY: AVX2 was detected above.
        unsafe { run() }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_permutation_matches_the_keccak_crate() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        #[target_feature(enable = "avx512f")]
        fn run() {
            check_simd::<super::super::lanes::Avx512x8>();
        }
        // SAFETY: AVX-512F was detected above.
        unsafe { run() }
    }
}
