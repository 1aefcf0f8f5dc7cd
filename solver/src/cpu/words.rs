//! Vectors of SHA-256 words: one u32 word of several independent SHA-256 states at once
//! (multi-buffer SHA-256), the u32 counterpart of [`super::lanes`].
//!
//! - [`Avx2x8`]: eight states in a 256-bit register (rotates as two shifts and an OR).
//! - [`Avx512x16`]: sixteen states in a 512-bit register, native rotates (`vprord`) and
//!   three-input logic (`vpternlogd`) for Σ/σ, Ch and Maj.
//!
//! As with the Keccak lanes, the SIMD types may only be used inside functions compiled with
//! the matching `#[target_feature]` after run-time detection.

/// The operations SHA-256 needs, on `WIDTH` independent words.
pub(crate) trait Words: Copy {
    /// How many independent states one value carries.
    const WIDTH: usize;
    /// The same value in every lane.
    fn splat(x: u32) -> Self;
    /// Loads `WIDTH` values.
    fn load(values: &[u32]) -> Self;
    /// Stores `WIDTH` values.
    fn store(self, out: &mut [u32]);
    /// Wrapping `self + other`.
    fn add(self, other: Self) -> Self;
    /// `self ^ b ^ c`.
    fn xor3(self, b: Self, c: Self) -> Self;
    /// `Ch(e, f, g) = (e & f) ^ (!e & g)` with `self` as `e`.
    fn ch(self, f: Self, g: Self) -> Self;
    /// `Maj(a, b, c)` with `self` as `a`.
    fn maj(self, b: Self, c: Self) -> Self;
    /// Rotate each word right by `N` (1..32).
    fn rotr<const N: i32>(self) -> Self;
    /// Shift each word right by `N` (1..32).
    fn shr<const N: u32>(self) -> Self;
}

/// One state: plain scalar code, so the multi-buffer rounds can be checked on any CPU.
impl Words for u32 {
    const WIDTH: usize = 1;
    #[inline(always)]
    fn splat(x: u32) -> Self {
        x
    }
    #[inline(always)]
    fn load(values: &[u32]) -> Self {
        values[0]
    }
    #[inline(always)]
    fn store(self, out: &mut [u32]) {
        out[0] = self;
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    #[inline(always)]
    fn xor3(self, b: Self, c: Self) -> Self {
        self ^ b ^ c
    }
    #[inline(always)]
    fn ch(self, f: Self, g: Self) -> Self {
        (self & f) ^ (!self & g)
    }
    #[inline(always)]
    fn maj(self, b: Self, c: Self) -> Self {
        (self & b) ^ (self & c) ^ (b & c)
    }
    #[inline(always)]
    fn rotr<const N: i32>(self) -> Self {
        self.rotate_right(N as u32)
    }
    #[inline(always)]
    fn shr<const N: u32>(self) -> Self {
        self >> N
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2x8, Avx512x16};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Words;
    use core::arch::x86_64::*;

    /// Eight SHA-256 states in one AVX2 register. Only valid inside `avx2` code.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2x8(__m256i);

    // SAFETY (all `unsafe` blocks below): only reached from functions compiled with
    // `#[target_feature(enable = "avx2")]` after `is_x86_feature_detected!("avx2")`; loads
    // and stores check the slice length first.
    impl Words for Avx2x8 {
        const WIDTH: usize = 8;
        #[inline(always)]
        fn splat(x: u32) -> Self {
            Self(unsafe { _mm256_set1_epi32(x as i32) })
        }
        #[inline(always)]
        fn load(values: &[u32]) -> Self {
            assert!(values.len() >= 8);
            Self(unsafe { _mm256_loadu_si256(values.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, out: &mut [u32]) {
            assert!(out.len() >= 8);
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn add(self, other: Self) -> Self {
            Self(unsafe { _mm256_add_epi32(self.0, other.0) })
        }
        #[inline(always)]
        fn xor3(self, b: Self, c: Self) -> Self {
            Self(unsafe { _mm256_xor_si256(_mm256_xor_si256(self.0, b.0), c.0) })
        }
        #[inline(always)]
        fn ch(self, f: Self, g: Self) -> Self {
            // g ^ (e & (f ^ g)): three operations.
            Self(unsafe {
                _mm256_xor_si256(g.0, _mm256_and_si256(self.0, _mm256_xor_si256(f.0, g.0)))
            })
        }
        #[inline(always)]
        fn maj(self, b: Self, c: Self) -> Self {
            // (a & b) | (c & (a | b)).
            unsafe {
                Self(_mm256_or_si256(
                    _mm256_and_si256(self.0, b.0),
                    _mm256_and_si256(c.0, _mm256_or_si256(self.0, b.0)),
                ))
            }
        }
        #[inline(always)]
        fn rotr<const N: i32>(self) -> Self {
            unsafe {
                let right = _mm256_srl_epi32(self.0, _mm_cvtsi32_si128(N));
                let left = _mm256_sll_epi32(self.0, _mm_cvtsi32_si128(32 - N));
                Self(_mm256_or_si256(left, right))
            }
        }
        #[inline(always)]
        fn shr<const N: u32>(self) -> Self {
            Self(unsafe { _mm256_srl_epi32(self.0, _mm_cvtsi32_si128(N as i32)) })
        }
    }

    /// Sixteen SHA-256 states in one AVX-512 register. Only valid inside `avx512f` code.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512x16(__m512i);

    /// `vpternlogd` truth tables over inputs (a, b, c) = (0xF0, 0xCC, 0xAA).
    const TERN_XOR3: i32 = 0x96; // a ^ b ^ c
    const TERN_CH: i32 = 0xCA; // a ? b : c
    const TERN_MAJ: i32 = 0xE8; // majority

    // SAFETY: as for Avx2x8, with `avx512f` in place of `avx2`.
    impl Words for Avx512x16 {
        const WIDTH: usize = 16;
        #[inline(always)]
        fn splat(x: u32) -> Self {
            Self(unsafe { _mm512_set1_epi32(x as i32) })
        }
        #[inline(always)]
        fn load(values: &[u32]) -> Self {
            assert!(values.len() >= 16);
            Self(unsafe { _mm512_loadu_epi32(values.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, out: &mut [u32]) {
            assert!(out.len() >= 16);
            unsafe { _mm512_storeu_epi32(out.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn add(self, other: Self) -> Self {
            Self(unsafe { _mm512_add_epi32(self.0, other.0) })
        }
        #[inline(always)]
        fn xor3(self, b: Self, c: Self) -> Self {
            Self(unsafe { _mm512_ternarylogic_epi32::<TERN_XOR3>(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn ch(self, f: Self, g: Self) -> Self {
            Self(unsafe { _mm512_ternarylogic_epi32::<TERN_CH>(self.0, f.0, g.0) })
        }
        #[inline(always)]
        fn maj(self, b: Self, c: Self) -> Self {
            Self(unsafe { _mm512_ternarylogic_epi32::<TERN_MAJ>(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn rotr<const N: i32>(self) -> Self {
            Self(unsafe { _mm512_ror_epi32::<N>(self.0) })
        }
        #[inline(always)]
        fn shr<const N: u32>(self) -> Self {
            Self(unsafe { _mm512_srli_epi32::<N>(self.0) })
        }
    }
}
