//! The reference seal: `keccak256(sha256(prefix ‖ nonce u64le))`.
//!
//! This is deliberately the plain, obviously-correct formulation using the RustCrypto
//! crates. Every backend's results are re-derived here before they are reported, so a
//! faulty kernel can cost time but never produce a bad seal.

use std::fmt;

use sha2::{Digest, Sha256};
use sha3::Keccak256;

use crate::challenge::Prefix;
use crate::difficulty::TargetBound;

/// A 32-byte seal as the chain stores it in `work`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Seal(pub [u8; 32]);

impl Seal {
    /// The seal as four little-endian u64 limbs, least significant first (how the chain
    /// reads it for the difficulty check; limb 3 is Keccak lane 3).
    pub fn limbs(&self) -> [u64; 4] {
        let mut limbs = [0u64; 4];
        for (limb, chunk) in limbs.iter_mut().zip(self.0.chunks_exact(8)) {
            *limb = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
        }
        limbs
    }

    /// True when the seal, read little-endian, is at most the target bound.
    pub fn meets(&self, bound: &TargetBound) -> bool {
        bound.is_met_by(&self.limbs())
    }
}

impl fmt::Display for Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Seal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seal({self})")
    }
}

/// Computes the seal of `nonce` for a challenge prefix, exactly as the chain does.
pub fn reference_seal(prefix: &Prefix, nonce: u64) -> Seal {
    let inner = Sha256::new()
        .chain_update(prefix)
        .chain_update(nonce.to_le_bytes())
        .finalize();
    Seal(Keccak256::digest(inner).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Challenge, PublicKey};

    fn public_vector_prefix() -> Prefix {
        Challenge::new(1, [1; 32], PublicKey([2; 32]), PublicKey([3; 32]))
            .unwrap()
            .prefix()
    }

    // The three public vectors of bittensor-core's tests (docs/SPEC.md).
    #[test]
    fn public_vectors() {
        let p = public_vector_prefix();
        let cases = [
            (
                0u64,
                "7cdaced691a70795a7656ad9b76ef2c16b961686a14a790bcb22eed6226ef103",
            ),
            (
                1,
                "c2291b632879447b6fe0785b0f25b5151c85a7e07df23a7860cf029e8a03f466",
            ),
            (
                u64::MAX,
                "69f1aef50783893195365b4fb62a4745085c31fee525a0984bc20301ab377aaf",
            ),
        ];
        for (nonce, want) in cases {
            assert_eq!(
                hex::encode(reference_seal(&p, nonce).0),
                want,
                "nonce {nonce}"
            );
        }
    }

    #[test]
    fn limbs_are_little_endian() {
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        bytes[31] = 0x80;
        let limbs = Seal(bytes).limbs();
        assert_eq!(limbs, [1, 0, 0, 0x8000_0000_0000_0000]);
    }
}
