//! Property-based fuzzing of what the devnet decodes from the wire: extrinsics and their
//! era. Arbitrary bytes never panic the decoder, eras round-trip Substrate's encoding, and a
//! valid signed `pow_register` with any one byte changed is refused, either as malformed or
//! by its signature check (nothing forged ever verifies).

use parity_scale_codec::{Compact, Encode};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use regpow_devnet::extrinsic::{encode_pow_register, Decoded, Era, Implicit, SignedExtrinsic};
use regpow_devnet::pow::PowRegister;
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey};

const GENESIS: [u8; 32] = [0x61; 32];
const SPEC_VERSION: u32 = 475;
const TRANSACTION_VERSION: u32 = 1;
/// The block the extrinsics are checked at.
const NOW: u64 = 1000;

fn config(cases: u32) -> Config {
    Config {
        rng_seed: RngSeed::Fixed(0xDEC0_DE11),
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

/// A stand-in for the chain's block hashes: distinct per block number.
fn hash_of(number: u64) -> [u8; 32] {
    let mut hash = [0x42; 32];
    hash[..8].copy_from_slice(&number.to_le_bytes());
    hash
}

/// What the devnet signs over for an extrinsic of this era, checked at [`NOW`].
fn implicit(era: Era) -> Implicit {
    Implicit {
        spec_version: SPEC_VERSION,
        transaction_version: TRANSACTION_VERSION,
        genesis_hash: GENESIS,
        birth_hash: match era {
            Era::Immortal => GENESIS,
            mortal => hash_of(mortal.birth(NOW)),
        },
    }
}

/// Substrate's encoding of an era (`sp_runtime::generic::Era::encode`).
fn encode_era(era: Era) -> Vec<u8> {
    match era {
        Era::Immortal => vec![0],
        Era::Mortal { period, phase } => {
            let quantize_factor = (period >> 12).max(1);
            let low = (period.trailing_zeros() - 1).clamp(1, 15) as u16;
            let encoded = low | (((phase / quantize_factor) << 4) as u16);
            encoded.to_le_bytes().to_vec()
        }
    }
}

/// Every era Substrate can encode: immortal, or a power-of-two period 4..=65536 with a
/// phase below it (quantized as Substrate does for periods above 4096).
fn era() -> impl Strategy<Value = Era> {
    prop_oneof![
        Just(Era::Immortal),
        (2u32..=16, any::<u64>()).prop_map(|(shift, seed)| {
            let period = 1u64 << shift;
            let quantize_factor = (period >> 12).max(1);
            let phase = seed % period / quantize_factor * quantize_factor;
            Era::Mortal { period, phase }
        }),
    ]
}

fn pow_register() -> impl Strategy<Value = PowRegister> {
    (
        any::<u16>(),
        any::<u64>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(netuid, work_block, nonce, work, hotkey)| PowRegister {
            netuid,
            work_block,
            nonce,
            work,
            hotkey,
        })
}

/// A signed v4 `pow_register` as a wallet builds it: length prefix, 0x84, the signer as
/// `MultiAddress::Id`, an sr25519 signature over `call ‖ extra ‖ implicit`, then the extra
/// (era, nonce, tip, metadata-hash mode 0) and the call.
fn signed(signer: &Keypair, call: &PowRegister, era: Era, account_nonce: u32, tip: u64) -> Vec<u8> {
    let call = encode_pow_register(call);
    let mut extra = encode_era(era);
    Compact(account_nonce).encode_to(&mut extra);
    Compact(tip).encode_to(&mut extra);
    extra.push(0);
    let implicit = implicit(era);
    let mut payload = call.clone();
    payload.extend_from_slice(&extra);
    implicit.spec_version.encode_to(&mut payload);
    implicit.transaction_version.encode_to(&mut payload);
    payload.extend_from_slice(&implicit.genesis_hash);
    payload.extend_from_slice(&implicit.birth_hash);
    payload.push(0); // CheckMetadataHash: None
    if payload.len() > 256 {
        payload = sp_crypto_hashing::blake2_256(&payload).to_vec();
    }
    let signature = signer.sign_simple(b"substrate", &payload).to_bytes();
    let mut body = vec![0x84, 0x00];
    body.extend_from_slice(&signer.public.to_bytes());
    body.push(0x01);
    body.extend_from_slice(&signature);
    body.extend_from_slice(&extra);
    body.extend_from_slice(&call);
    let mut bytes = Compact(body.len() as u32).encode();
    bytes.extend_from_slice(&body);
    bytes
}

fn keypair(seed: [u8; 32]) -> Keypair {
    MiniSecretKey::from_bytes(&seed)
        .expect("32 bytes")
        .expand_to_keypair(ExpansionMode::Ed25519)
}

/// Whether the devnet would take these bytes as correctly signed (decoded, signed, and the
/// signature verifying over the payload for the era it decoded).
fn verifies(bytes: &[u8]) -> bool {
    match SignedExtrinsic::decode(bytes) {
        Ok(Decoded::Signed(xt)) => xt.signature_is_valid(&implicit(xt.era)),
        Ok(Decoded::Bare) | Err(_) => false,
    }
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = SignedExtrinsic::decode(&bytes);
        let _ = Era::decode(&mut bytes.as_slice());
        // With a correct length prefix, the body itself is what gets decoded.
        let mut prefixed = Compact(bytes.len() as u32).encode();
        prefixed.extend_from_slice(&bytes);
        if let Ok(Decoded::Signed(xt)) = SignedExtrinsic::decode(&prefixed) {
            let _ = xt.signature_is_valid(&implicit(xt.era));
        }
    }

    #[test]
    fn signed_looking_bytes_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..200),
        era_bytes in any::<[u8; 2]>(),
    ) {
        // 0x84 ‖ Id ‖ key ‖ sr25519 ‖ signature, then arbitrary extra and call.
        let mut body = vec![0x84, 0x00];
        body.extend_from_slice(&[7; 32]);
        body.push(0x01);
        body.extend_from_slice(&[9; 64]);
        body.extend_from_slice(&era_bytes);
        body.extend_from_slice(&tail);
        let mut bytes = Compact(body.len() as u32).encode();
        bytes.extend_from_slice(&body);
        prop_assert!(!verifies(&bytes));
    }

    #[test]
    fn eras_round_trip_and_bound_their_window(era in era(), now in 0u64..1 << 40) {
        let bytes = encode_era(era);
        prop_assert_eq!(Era::decode(&mut bytes.as_slice()), Ok(era));
        if let Era::Mortal { period, phase } = era {
            let birth = era.birth(now);
            prop_assert_eq!(birth % period, phase);
            prop_assert!(birth <= now.max(phase));
            prop_assert!(now < era.death(now));
            prop_assert_eq!(era.death(now), birth + period);
        }
    }

    #[test]
    fn two_arbitrary_era_bytes_decode_to_a_valid_era_or_an_error(bytes in any::<[u8; 2]>()) {
        if let Ok(Era::Mortal { period, phase }) = Era::decode(&mut bytes.as_slice()) {
            prop_assert!(period.is_power_of_two() && (4..=65536).contains(&period));
            prop_assert!(phase < period);
        }
    }
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn one_changed_byte_never_verifies(
        seed in any::<[u8; 32]>(),
        call in pow_register(),
        era in era(),
        account_nonce in any::<u32>(),
        tip in prop_oneof![Just(0u64), any::<u64>()],
        position in any::<prop::sample::Index>(),
        flip in 1u8..,
    ) {
        let signer = keypair(seed);
        let mut bytes = signed(&signer, &call, era, account_nonce, tip);
        // The construction is right: the untouched extrinsic verifies, as the devnet reads it.
        match SignedExtrinsic::decode(&bytes) {
            Ok(Decoded::Signed(xt)) => {
                prop_assert_eq!(xt.era, era);
                prop_assert_eq!(xt.nonce, account_nonce);
                prop_assert_eq!(xt.tip, tip);
                prop_assert!(xt.signature_is_valid(&implicit(era)));
            }
            other => prop_assert!(false, "the valid extrinsic decoded to {:?}", other),
        }
        let at = position.index(bytes.len());
        bytes[at] ^= flip;
        prop_assert!(!verifies(&bytes), "byte {} ^ {:#04x} still verifies", at, flip);
    }
}
