//! Vectors of Keccak lanes: one u64 lane of several independent Keccak states at once.
//!
//! The permutation in [`super::keccak`] is written once over [`Lanes`]; each implementation
//! here maps the few operations Keccak needs onto one instruction set:
//! - `u64`: one state, plain scalar code (every CPU).
//! - [`Avx2x4`]: four states in a 256-bit register (rotates as two shifts and an OR).
//! - [`Avx512x8`]: eight states in a 512-bit register, native 64-bit rotates (`vprolq`)
//!   and three-input logic (`vpternlogq`) for theta's parities and chi.
//!
//! The SIMD types may only be used inside functions compiled with the matching
//! `#[target_feature]` after run-time detection; [`super::kernel`] guarantees that.

/// The operations Keccak-f[1600] needs, on `WIDTH` independent lanes.
pub(crate) trait Lanes: Copy {
    /// How many independent states one value carries.
    const WIDTH: usize;
    /// The same value in every lane.
    fn splat(x: u64) -> Self;
    /// Loads `WIDTH` values (one per state).
    fn load(values: &[u64]) -> Self;
    /// Stores `WIDTH` values (one per state).
    fn store(self, out: &mut [u64]);
    /// `self ^ other`.
    fn xor(self, other: Self) -> Self;
    /// `self ^ b ^ c` (one `vpternlogq` on AVX-512).
    fn xor3(self, b: Self, c: Self) -> Self;
    /// Keccak's chi step for one lane: `self ^ (!b & c)`.
    fn chi(self, b: Self, c: Self) -> Self;
    /// Rotate each 64-bit lane left by `N` (0..64).
    fn rotl<const N: i32>(self) -> Self;
}

impl Lanes for u64 {
    const WIDTH: usize = 1;
    #[inline(always)]
    fn splat(x: u64) -> Self {
        x
    }
    #[inline(always)]
    fn load(values: &[u64]) -> Self {
        values[0]
    }
    #[inline(always)]
    fn store(self, out: &mut [u64]) {
        out[0] = self;
    }
    #[inline(always)]
    fn xor(self, other: Self) -> Self {
        self ^ other
    }
    #[inline(always)]
    fn xor3(self, b: Self, c: Self) -> Self {
        self ^ b ^ c
    }
    #[inline(always)]
    fn chi(self, b: Self, c: Self) -> Self {
        self ^ (!b & c)
    }
    #[inline(always)]
    fn rotl<const N: i32>(self) -> Self {
        self.rotate_left(N as u32)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2x4, Avx512x8};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use core::arch::x86_64::*;

    /// Four Keccak states in one AVX2 register. Only valid inside `avx2` code.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2x4(__m256i);

    // SAFETY (all `unsafe` blocks below): these methods are only reached from functions
    // compiled with `#[target_feature(enable = "avx2")]`, which the kernel calls only after
    // `is_x86_feature_detected!("avx2")`. Loads and stores check the slice length first.
    impl Lanes for Avx2x4 {
        const WIDTH: usize = 4;
        #[inline(always)]
        fn splat(x: u64) -> Self {
            Self(unsafe { _mm256_set1_epi64x(x as i64) })
        }
        #[inline(always)]
        fn load(values: &[u64]) -> Self {
            assert!(values.len() >= 4);
            Self(unsafe { _mm256_loadu_si256(values.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, out: &mut [u64]) {
            assert!(out.len() >= 4);
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn xor(self, other: Self) -> Self {
            Self(unsafe { _mm256_xor_si256(self.0, other.0) })
        }
        #[inline(always)]
        fn xor3(self, b: Self, c: Self) -> Self {
            self.xor(b).xor(c)
        }
        #[inline(always)]
        fn chi(self, b: Self, c: Self) -> Self {
            // andnot(b, c) = !b & c
            Self(unsafe { _mm256_xor_si256(self.0, _mm256_andnot_si256(b.0, c.0)) })
        }
        #[inline(always)]
        fn rotl<const N: i32>(self) -> Self {
            // The counts are constants after inlining; LLVM emits immediate shifts.
            unsafe {
                let left = _mm256_sll_epi64(self.0, _mm_cvtsi64_si128(N as i64));
                let right = _mm256_srl_epi64(self.0, _mm_cvtsi64_si128(64 - N as i64));
                Self(_mm256_or_si256(left, right))
            }
        }
    }

    /// Eight Keccak states in one AVX-512 register. Only valid inside `avx512f` code.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512x8(__m512i);

    /// `vpternlogq` truth tables over inputs (a, b, c) = (0xF0, 0xCC, 0xAA).
    const TERN_XOR3: i32 = 0x96; // a ^ b ^ c
    const TERN_CHI: i32 = 0xD2; // a ^ (!b & c)

    // SAFETY: as for Avx2x4, with `avx512f` in place of `avx2`.
    impl Lanes for Avx512x8 {
        const WIDTH: usize = 8;
        #[inline(always)]
        fn splat(x: u64) -> Self {
            Self(unsafe { _mm512_set1_epi64(x as i64) })
        }
        #[inline(always)]
        fn load(values: &[u64]) -> Self {
            assert!(values.len() >= 8);
            Self(unsafe { _mm512_loadu_epi64(values.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, out: &mut [u64]) {
            assert!(out.len() >= 8);
            unsafe { _mm512_storeu_epi64(out.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn xor(self, other: Self) -> Self {
            Self(unsafe { _mm512_xor_si512(self.0, other.0) })
        }
        #[inline(always)]
        fn xor3(self, b: Self, c: Self) -> Self {
            Self(unsafe { _mm512_ternarylogic_epi64::<TERN_XOR3>(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn chi(self, b: Self, c: Self) -> Self {
            Self(unsafe { _mm512_ternarylogic_epi64::<TERN_CHI>(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn rotl<const N: i32>(self) -> Self {
            Self(unsafe { _mm512_rol_epi64::<N>(self.0) })
        }
    }
}
