//! The `pow_register` regpow signs, from its own definition, checked against code regpow did
//! not write: Parity's `frame-decode` encodes the same call bytes from runtime 475's real
//! metadata and decodes the whole signed extrinsic with it; the devnet's decoder verifies the
//! signature over the signing payload it rebuilds itself.

use parity_scale_codec::{Compact, Decode};
use regpow_chain::api::PowRegisterCall;
use regpow_chain::transaction::{call_data, signed_pow_register, ChainContext, MORTAL_PERIOD};
use regpow_chain::wallet::Coldkey;
use regpow_chain::Head;
use regpow_devnet::extrinsic::{Call, Decoded, Era, Implicit, SignedExtrinsic};
use regpow_rules::PublicKey;
use subxt::ext::frame_decode;
use subxt::Metadata;

fn runtime_475() -> Metadata {
    Metadata::decode_from(&include_bytes!("../../devnet/metadata/runtime475.scale")[..])
        .expect("real metadata decodes")
}

fn a_call(seed: u8) -> PowRegisterCall {
    PowRegisterCall {
        netuid: 0x0100 + u16::from(seed),
        work_block: 7_000_000 + u64::from(seed),
        nonce: 0xdead_beef_0000_0000 | u64::from(seed),
        work: [seed; 32],
        hotkey: PublicKey([seed.wrapping_add(1); 32]),
    }
}

const CHAIN: ChainContext = ChainContext {
    spec_version: 475,
    transaction_version: 1,
    genesis_hash: [0x2f; 32],
};

#[test]
fn the_call_bytes_are_what_frame_decode_encodes_from_runtime_475s_metadata() {
    let metadata = runtime_475();
    for seed in [0u8, 1, 0x7f, 0xff] {
        let call = a_call(seed);
        let theirs = frame_decode::extrinsics::encode_call_data(
            "SubtensorModule",
            "pow_register",
            &(
                call.netuid,
                call.work_block,
                call.nonce,
                call.work,
                call.hotkey.0,
            ),
            &metadata,
            metadata.types(),
        )
        .expect("frame-decode encodes pow_register");
        assert_eq!(call_data(&call), theirs, "seed {seed}");
    }
}

#[test]
fn the_signed_extrinsic_decodes_with_runtime_475s_metadata_and_verifies_on_the_devnet() {
    let metadata = runtime_475();
    let coldkey = Coldkey::from_uri("//Alice").unwrap();
    let at = Head {
        number: 1_234_567,
        hash: [0x42; 32],
    };
    for nonce in [0u64, 1, 63, 64, 16_383, 16_384, u64::from(u32::MAX)] {
        let call = a_call(nonce as u8);
        let bytes = signed_pow_register(&call, &coldkey, nonce, at, &CHAIN).unwrap();

        // Parity's decoder: a signed v4 pow_register from the coldkey, with the extensions'
        // values where runtime 475 puts them.
        let decoded = frame_decode::extrinsics::decode_extrinsic(
            &mut &bytes[..],
            &metadata,
            metadata.types(),
        )
        .expect("frame-decode decodes regpow's extrinsic");
        assert!(decoded.is_signed());
        assert_eq!(decoded.version(), 4);
        assert_eq!(
            (decoded.pallet_name(), decoded.call_name()),
            ("SubtensorModule", "pow_register")
        );
        assert_eq!(&bytes[decoded.call_data_range()], &call_data(&call)[..]);
        let signature = decoded.signature_payload().unwrap();
        assert_eq!(
            &bytes[signature.address_range()],
            &[&[0u8][..], &coldkey.public().0].concat()[..]
        );
        let extensions = decoded.transaction_extension_payload().unwrap();
        let value = |name: &str| {
            let arg = extensions.iter().find(|a| a.name() == name).unwrap();
            bytes[arg.range()].to_vec()
        };
        assert_eq!(
            Compact::<u32>::decode(&mut &value("CheckNonce")[..])
                .unwrap()
                .0 as u64,
            nonce
        );
        assert_eq!(value("ChargeTransactionPayment"), vec![0], "zero tip");
        assert_eq!(value("CheckMetadataHash"), vec![0], "mode Disabled");

        // The devnet's decoder (its own code): same call, and the signature verifies over
        // the payload it rebuilds from the chain's implicit data.
        let Decoded::Signed(ours) = SignedExtrinsic::decode(&bytes).unwrap() else {
            panic!("signed");
        };
        assert_eq!(ours.signer, coldkey.public().0);
        assert_eq!(ours.nonce as u64, nonce);
        assert_eq!(ours.tip, 0);
        let Call::PowRegister(register) = &ours.call else {
            panic!("pow_register");
        };
        assert_eq!(
            (register.netuid, register.work_block, register.nonce),
            (call.netuid, call.work_block, call.nonce)
        );
        assert_eq!(
            ours.era,
            Era::Mortal {
                period: MORTAL_PERIOD,
                phase: at.number % MORTAL_PERIOD
            }
        );
        assert_eq!(ours.era.birth(at.number + 5), at.number);
        let implicit = Implicit {
            spec_version: CHAIN.spec_version,
            transaction_version: CHAIN.transaction_version,
            genesis_hash: CHAIN.genesis_hash,
            birth_hash: at.hash,
        };
        assert!(ours.signature_is_valid(&implicit));
        // Bound to the genesis, the versions and the birth block: any other fails.
        for other in [
            Implicit {
                genesis_hash: [0x8f; 32],
                ..implicit
            },
            Implicit {
                spec_version: 476,
                ..implicit
            },
            Implicit {
                birth_hash: [0x43; 32],
                ..implicit
            },
        ] {
            assert!(!ours.signature_is_valid(&other));
        }
    }
}

#[test]
fn a_nonce_beyond_the_chains_32_bits_is_refused_not_truncated() {
    let coldkey = Coldkey::from_uri("//Alice").unwrap();
    let at = Head {
        number: 10,
        hash: [1; 32],
    };
    let err = signed_pow_register(&a_call(1), &coldkey, 1 << 32, at, &CHAIN).unwrap_err();
    assert!(err.to_string().contains("4294967296"), "{err}");
}
