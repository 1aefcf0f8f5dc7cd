//! Signed extrinsics (format v4) as subtensor runtime 475 encodes them, decoded byte by byte
//! and checked against the real signing payload.
//!
//! ```text
//! Compact<u32> length ‖ 0x84 (signed, v4)
//!   ‖ MultiAddress::Id (0x00 ‖ AccountId32)
//!   ‖ MultiSignature::Sr25519 (0x01 ‖ 64 bytes)
//!   ‖ extra: Era ‖ Compact<u32> nonce ‖ Compact<u64> tip ‖ u8 metadata-hash mode
//!   ‖ call: pallet u8 ‖ call u8 ‖ arguments
//! ```
//! The signature covers `call ‖ extra ‖ implicit` (hashed with blake2-256 when longer than
//! 256 bytes), where the implicit data of the 13 extensions (`docs/SPEC.md`) is
//! `spec_version u32 ‖ transaction_version u32 ‖ genesis hash ‖ hash of the era's birth block
//! ‖ Option<metadata hash>` (`None` in mode 0); the other extensions add nothing.

use parity_scale_codec::{Compact, Decode, Encode};
use sp_crypto_hashing::blake2_256;

use crate::pow::{AccountId, PowRegister};

/// Pallet index of `SubtensorModule` in runtime 475.
pub const SUBTENSOR_PALLET: u8 = 7;
/// Call index of `pow_register` in runtime 475.
pub const POW_REGISTER_CALL: u8 = 152;
/// First byte of a signed v4 extrinsic.
const SIGNED_V4: u8 = 0x84;
/// First byte of an unsigned (bare) v4 extrinsic.
const BARE_V4: u8 = 0x04;
/// `MultiSignature::Sr25519`.
const SR25519: u8 = 1;

/// Why bytes are not an extrinsic the devnet can take (Substrate answers these with
/// "Extrinsic has invalid format").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

fn format_error(what: impl Into<String>) -> FormatError {
    FormatError(what.into())
}

/// `CheckMortality`'s era: immortal, or valid for `period` blocks from its birth block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// Valid from genesis for ever.
    Immortal,
    /// Valid for `period` blocks (a power of two, 4..=65536) from the block whose number is
    /// `phase` modulo `period`.
    Mortal {
        /// Length of the validity window.
        period: u64,
        /// Birth block number modulo `period`.
        phase: u64,
    },
}

impl Era {
    /// Decodes Substrate's era encoding (one byte 0 for immortal, else two bytes).
    pub fn decode(input: &mut &[u8]) -> Result<Self, FormatError> {
        let first = u8::decode(input).map_err(|_| format_error("missing era"))?;
        if first == 0 {
            return Ok(Era::Immortal);
        }
        let second = u8::decode(input).map_err(|_| format_error("truncated era"))?;
        let encoded = u64::from(first) | (u64::from(second) << 8);
        let period = 2u64 << (encoded % 16);
        let quantize_factor = (period >> 12).max(1);
        let phase = (encoded >> 4) * quantize_factor;
        if period >= 4 && phase < period {
            Ok(Era::Mortal { period, phase })
        } else {
            Err(format_error("invalid era (period and phase)"))
        }
    }

    /// The birth block for a transaction checked at block `current`: its hash is signed.
    pub fn birth(self, current: u64) -> u64 {
        match self {
            Era::Immortal => 0,
            Era::Mortal { period, phase } => (current.max(phase) - phase) / period * period + phase,
        }
    }

    /// The first block at which the transaction is no longer valid.
    pub fn death(self, current: u64) -> u64 {
        match self {
            Era::Immortal => u64::MAX,
            Era::Mortal { period, .. } => self.birth(current) + period,
        }
    }
}

/// A decoded call: `pow_register` is understood; anything else is carried opaquely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `SubtensorModule::pow_register`.
    PowRegister(PowRegister),
    /// Any other call (the devnet does not dispatch it).
    Other {
        /// Pallet index.
        pallet: u8,
        /// Call index within the pallet.
        call: u8,
    },
}

impl Call {
    fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let [pallet, call, args @ ..] = bytes else {
            return Err(format_error("missing call"));
        };
        if (*pallet, *call) != (SUBTENSOR_PALLET, POW_REGISTER_CALL) {
            return Ok(Call::Other {
                pallet: *pallet,
                call: *call,
            });
        }
        let mut input = args;
        let decoded = <(u16, u64, u64, [u8; 32], [u8; 32])>::decode(&mut input)
            .map_err(|_| format_error("pow_register: truncated arguments"))?;
        if !input.is_empty() {
            return Err(format_error(
                "pow_register: trailing bytes after the arguments",
            ));
        }
        let (netuid, work_block, nonce, work, hotkey) = decoded;
        Ok(Call::PowRegister(PowRegister {
            netuid,
            work_block,
            nonce,
            work,
            hotkey,
        }))
    }
}

/// Encodes `pow_register` as runtime 475's call bytes (pallet, call index, arguments).
pub fn encode_pow_register(call: &PowRegister) -> Vec<u8> {
    let mut out = vec![SUBTENSOR_PALLET, POW_REGISTER_CALL];
    (
        call.netuid,
        call.work_block,
        call.nonce,
        call.work,
        call.hotkey,
    )
        .encode_to(&mut out);
    out
}

/// A signed extrinsic, decoded but not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedExtrinsic {
    /// The encoded extrinsic, length prefix included (what blocks carry).
    pub bytes: Vec<u8>,
    /// blake2-256 of `bytes`: the transaction hash clients track.
    pub hash: [u8; 32],
    /// The signer (for `pow_register`, the coldkey).
    pub signer: AccountId,
    signature: [u8; 64],
    /// `CheckMortality`.
    pub era: Era,
    /// `CheckNonce`.
    pub nonce: u32,
    /// `ChargeTransactionPayment`'s tip.
    pub tip: u64,
    /// `CheckMetadataHash` mode (0 = off).
    pub metadata_hash_mode: u8,
    /// The call.
    pub call: Call,
    /// `extra` and `call` as they appear in the extrinsic (signed over).
    extra_bytes: Vec<u8>,
    call_bytes: Vec<u8>,
}

/// What decoding can find besides a signed extrinsic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A signed v4 extrinsic.
    Signed(Box<SignedExtrinsic>),
    /// An unsigned (bare) extrinsic: pow_register must be signed, so the pool refuses it.
    Bare,
}

impl SignedExtrinsic {
    /// Decodes an extrinsic as submitted (`Compact<u32>` length prefix, then the body).
    pub fn decode(bytes: &[u8]) -> Result<Decoded, FormatError> {
        let mut input = bytes;
        let Compact(length) = Compact::<u32>::decode(&mut input)
            .map_err(|_| format_error("missing length prefix"))?;
        if length as usize != input.len() {
            return Err(format_error(format!(
                "length prefix says {length} bytes, {} follow",
                input.len()
            )));
        }
        let version = u8::decode(&mut input).map_err(|_| format_error("empty extrinsic"))?;
        match version {
            SIGNED_V4 => {}
            BARE_V4 => return Ok(Decoded::Bare),
            other => {
                return Err(format_error(format!(
                    "extrinsic version byte {other:#04x} (this runtime takes v4: 0x84 signed)"
                )))
            }
        }
        let address = u8::decode(&mut input).map_err(|_| format_error("missing address"))?;
        if address != 0 {
            return Err(format_error("only MultiAddress::Id senders are supported"));
        }
        let signer =
            <[u8; 32]>::decode(&mut input).map_err(|_| format_error("truncated address"))?;
        let scheme = u8::decode(&mut input).map_err(|_| format_error("missing signature"))?;
        let signature: [u8; 64] = match scheme {
            SR25519 => {
                <[u8; 64]>::decode(&mut input).map_err(|_| format_error("truncated signature"))?
            }
            0 | 2 => {
                return Err(format_error(
                    "only sr25519 signatures are supported (bittensor coldkeys are sr25519)",
                ))
            }
            other => return Err(format_error(format!("unknown signature scheme {other}"))),
        };
        let extra_start = input;
        let era = Era::decode(&mut input)?;
        let Compact(nonce) =
            Compact::<u32>::decode(&mut input).map_err(|_| format_error("bad nonce"))?;
        let Compact(tip) =
            Compact::<u64>::decode(&mut input).map_err(|_| format_error("bad tip"))?;
        let metadata_hash_mode =
            u8::decode(&mut input).map_err(|_| format_error("missing metadata-hash mode"))?;
        if metadata_hash_mode > 1 {
            return Err(format_error(format!(
                "CheckMetadataHash mode {metadata_hash_mode} (0 or 1)"
            )));
        }
        let extra_bytes = extra_start[..extra_start.len() - input.len()].to_vec();
        let call = Call::decode(input)?;
        Ok(Decoded::Signed(Box::new(SignedExtrinsic {
            bytes: bytes.to_vec(),
            hash: blake2_256(bytes),
            signer,
            signature,
            era,
            nonce,
            tip,
            metadata_hash_mode,
            call,
            extra_bytes,
            call_bytes: input.to_vec(),
        })))
    }

    /// The bytes the signer signed, given the implicit data of the chain it is checked on.
    pub fn signing_payload(&self, implicit: &Implicit) -> Vec<u8> {
        let mut payload = self.call_bytes.clone();
        payload.extend_from_slice(&self.extra_bytes);
        implicit.spec_version.encode_to(&mut payload);
        implicit.transaction_version.encode_to(&mut payload);
        payload.extend_from_slice(&implicit.genesis_hash);
        payload.extend_from_slice(&implicit.birth_hash);
        // CheckMetadataHash: None in mode 0. Mode 1 would need the runtime's metadata digest,
        // which the devnet does not compute: such a signature cannot verify here.
        None::<[u8; 32]>.encode_to(&mut payload);
        if payload.len() > 256 {
            blake2_256(&payload).to_vec()
        } else {
            payload
        }
    }

    /// Whether the sr25519 signature is the signer's over the real signing payload.
    pub fn signature_is_valid(&self, implicit: &Implicit) -> bool {
        if self.metadata_hash_mode != 0 {
            return false;
        }
        let (Ok(key), Ok(signature)) = (
            schnorrkel::PublicKey::from_bytes(&self.signer),
            schnorrkel::Signature::from_bytes(&self.signature),
        ) else {
            return false;
        };
        key.verify_simple(b"substrate", &self.signing_payload(implicit), &signature)
            .is_ok()
    }
}

/// The signed data that is not in the extrinsic (`CheckSpecVersion`, `CheckTxVersion`,
/// `CheckGenesis`, `CheckMortality`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Implicit {
    /// Runtime spec version.
    pub spec_version: u32,
    /// Runtime transaction version.
    pub transaction_version: u32,
    /// Hash of block 0.
    pub genesis_hash: [u8; 32],
    /// Hash of the era's birth block (the genesis hash for immortal transactions).
    pub birth_hash: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mortal_eras_decode_as_substrate_defines_them() {
        // Period 64, phase 42 (Substrate's own example: Era::mortal(64, 42) = [0x a5, 0x02]).
        let era = Era::decode(&mut &[0xa5, 0x02][..]).unwrap();
        assert_eq!(
            era,
            Era::Mortal {
                period: 64,
                phase: 42
            }
        );
        assert_eq!(era.birth(42), 42);
        assert_eq!(era.birth(105), 42);
        assert_eq!(era.birth(106), 106);
        assert_eq!(era.death(100), 106);
        assert_eq!(Era::decode(&mut &[0u8][..]).unwrap(), Era::Immortal);
        assert!(Era::decode(&mut &[0x01, 0xff][..]).is_err());
    }

    #[test]
    fn pow_register_round_trips() {
        let call = PowRegister {
            netuid: 3,
            work_block: 77,
            nonce: u64::MAX - 1,
            work: [9; 32],
            hotkey: [4; 32],
        };
        let bytes = encode_pow_register(&call);
        assert_eq!(bytes.len(), 2 + 2 + 8 + 8 + 32 + 32);
        assert_eq!(Call::decode(&bytes).unwrap(), Call::PowRegister(call));
        assert!(Call::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(Call::decode(&long).is_err());
    }
}
