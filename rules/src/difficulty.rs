//! Difficulty and the 256-bit target bound a seal must not exceed (`docs/SPEC.md`,
//! "Difficulty"). The bound is [`TargetBound`]: "target" alone means a registration target
//! (a hotkey on a subnet) everywhere else in regpow.
//!
//! The chain accepts a seal iff `U256::from_little_endian(seal) <= U256::MAX / D`, where D is
//! the *effective* difficulty: the stored `Difficulty` clamped into `[MinDifficulty,
//! MaxDifficulty]` (each bound itself at least 1). Expected hashes to win = D.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use crate::error::InputError;

/// A difficulty the chain could ask for: a u64 of at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Difficulty(NonZeroU64);

impl Difficulty {
    /// Wraps a raw difficulty, refusing 0 (which has no target).
    pub fn new(value: u64) -> Result<Self, InputError> {
        NonZeroU64::new(value)
            .map(Self)
            .ok_or(InputError::ZeroDifficulty)
    }

    /// The chain's effective difficulty from the three per-subnet storage values:
    /// `lo = max(min, 1)`, `hi = max(max, lo)`, `D = clamp(difficulty, lo, hi)`.
    pub fn effective(difficulty: u64, min: u64, max: u64) -> Self {
        let lo = min.max(1);
        let hi = max.max(lo);
        Self(NonZeroU64::new(difficulty.clamp(lo, hi)).expect("clamped to at least 1"))
    }

    /// The raw value.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The target bound seals must not exceed: `(2^256 − 1) / difficulty`.
    pub fn bound(self) -> TargetBound {
        TargetBound::from_difficulty(self)
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Difficulty {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value: u64 = s
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|e| format!("difficulty: {e}"))?;
        Self::new(value).map_err(|e| e.to_string())
    }
}

/// `U256::MAX / D` as four u64 limbs, least significant first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetBound {
    limbs: [u64; 4],
}

impl TargetBound {
    /// `floor((2^256 - 1) / D)` by schoolbook division, most significant limb first.
    pub fn from_difficulty(difficulty: Difficulty) -> Self {
        let d = u128::from(difficulty.get());
        let mut limbs = [0u64; 4];
        let mut remainder: u128 = 0;
        for limb in limbs.iter_mut().rev() {
            let current = (remainder << 64) | u128::from(u64::MAX);
            *limb = (current / d) as u64;
            remainder = current % d;
        }
        Self { limbs }
    }

    /// The target's limbs, least significant first.
    pub fn limbs(&self) -> [u64; 4] {
        self.limbs
    }

    /// The most significant 64 bits: a seal whose Keccak lane 3 exceeds this can be rejected
    /// without looking at the rest (kernels use it for early reject).
    pub fn high(&self) -> u64 {
        self.limbs[3]
    }

    /// True when the little-endian 256-bit number `seal` is at most the target.
    pub fn is_met_by(&self, seal: &[u64; 4]) -> bool {
        for i in (0..4).rev() {
            if seal[i] != self.limbs[i] {
                return seal[i] < self.limbs[i];
            }
        }
        true
    }
}

/// The chain's own formulation, kept for cross-checking: `seal * D` fits in 256 bits.
pub fn product_fits(seal: &[u64; 4], difficulty: Difficulty) -> bool {
    let d = u128::from(difficulty.get());
    let mut carry: u128 = 0;
    for &limb in seal {
        carry = (u128::from(limb) * d + carry) >> 64;
    }
    carry == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_of_one_is_everything() {
        let t = Difficulty::new(1).unwrap().bound();
        assert_eq!(t.limbs(), [u64::MAX; 4]);
        assert!(t.is_met_by(&[u64::MAX; 4]));
    }

    #[test]
    fn target_of_two_is_half() {
        let t = Difficulty::new(2).unwrap().bound();
        assert_eq!(t.limbs(), [u64::MAX, u64::MAX, u64::MAX, u64::MAX >> 1]);
    }

    #[test]
    fn zero_is_refused() {
        assert_eq!(Difficulty::new(0).unwrap_err(), InputError::ZeroDifficulty);
        assert!("0".parse::<Difficulty>().is_err());
        assert_eq!("1_000".parse::<Difficulty>().unwrap().get(), 1000);
    }

    #[test]
    fn effective_clamps_like_the_chain() {
        assert_eq!(Difficulty::effective(5, 10, 100).get(), 10);
        assert_eq!(Difficulty::effective(500, 10, 100).get(), 100);
        assert_eq!(Difficulty::effective(50, 10, 100).get(), 50);
        assert_eq!(Difficulty::effective(0, 0, 0).get(), 1);
        // A max below the min is lifted to the min.
        assert_eq!(Difficulty::effective(500, 10, 3).get(), 10);
    }

    #[test]
    fn target_agrees_with_the_overflow_formulation() {
        // Seals right at and around the boundary, for awkward difficulties.
        for d in [
            1u64,
            2,
            3,
            7,
            1000,
            10_007,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let diff = Difficulty::new(d).unwrap();
            let t = diff.bound();
            let at = t.limbs();
            assert!(
                t.is_met_by(&at) && product_fits(&at, diff),
                "d={d} at target"
            );
            let mut above = at;
            for limb in above.iter_mut() {
                let (v, overflow) = limb.overflowing_add(1);
                *limb = v;
                if !overflow {
                    break;
                }
            }
            if above != [0; 4] {
                assert!(!t.is_met_by(&above), "d={d} above target");
                assert!(!product_fits(&above, diff), "d={d} above target (product)");
            }
        }
    }
}
