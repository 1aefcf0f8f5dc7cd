//! The registration challenge and its 123-byte seal prefix (`docs/SPEC.md`, "The seal").

use crate::error::InputError;
use crate::keys::PublicKey;

/// Domain tag that starts every `pow_register` seal message.
pub const SEAL_TAG: &[u8; 25] = b"subtensor-pow-register-v1";

/// Length of the seal prefix: tag 25 + netuid 2 + block hash 32 + hotkey 32 + coldkey 32.
pub const PREFIX_LEN: usize = 123;

/// The bytes hashed before the nonce: the same for every nonce of one challenge.
pub type Prefix = [u8; PREFIX_LEN];

/// What a seal is bound to: the subnet, the work block and both keys.
///
/// The coldkey is part of the seal because it signs `pow_register`; a seal mined for one
/// coldkey is worthless for any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Subnet to register on (never 0, the root subnet).
    pub netuid: u16,
    /// The chain's hash of the work block.
    pub block_hash: [u8; 32],
    /// The hotkey that will hold the UID.
    pub hotkey: PublicKey,
    /// The coldkey that signs the extrinsic and will own the hotkey.
    pub coldkey: PublicKey,
}

impl Challenge {
    /// Builds a challenge, refusing the root subnet (the chain refuses it first of all).
    pub fn new(
        netuid: u16,
        block_hash: [u8; 32],
        hotkey: PublicKey,
        coldkey: PublicKey,
    ) -> Result<Self, InputError> {
        if netuid == 0 {
            return Err(InputError::RootNetuid);
        }
        Ok(Self {
            netuid,
            block_hash,
            hotkey,
            coldkey,
        })
    }

    /// `"subtensor-pow-register-v1" ‖ netuid u16le ‖ block_hash ‖ hotkey ‖ coldkey`.
    pub fn prefix(&self) -> Prefix {
        let mut prefix = [0u8; PREFIX_LEN];
        prefix[..25].copy_from_slice(SEAL_TAG);
        prefix[25..27].copy_from_slice(&self.netuid.to_le_bytes());
        prefix[27..59].copy_from_slice(&self.block_hash);
        prefix[59..91].copy_from_slice(&self.hotkey.0);
        prefix[91..123].copy_from_slice(&self.coldkey.0);
        prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_layout_matches_the_spec() {
        let ch = Challenge::new(
            0x0102,
            [0xBB; 32],
            PublicKey([0xCC; 32]),
            PublicKey([0xDD; 32]),
        )
        .unwrap();
        let p = ch.prefix();
        assert_eq!(&p[..25], b"subtensor-pow-register-v1");
        assert_eq!(p[25..27], [0x02, 0x01]);
        assert!(p[27..59].iter().all(|&b| b == 0xBB));
        assert!(p[59..91].iter().all(|&b| b == 0xCC));
        assert!(p[91..].iter().all(|&b| b == 0xDD));
    }

    #[test]
    fn root_subnet_is_refused() {
        let k = PublicKey([0; 32]);
        assert_eq!(
            Challenge::new(0, [0; 32], k, k).unwrap_err(),
            InputError::RootNetuid
        );
    }
}
