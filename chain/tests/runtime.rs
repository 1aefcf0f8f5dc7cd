//! The runtime check that runs before any hashing, on real subtensor metadata: runtime 475
//! (the first with `pow_register`) passes; spec 343 (only the paid `register`) is refused.

use regpow_chain::{check_runtime, ChainError};
use subxt::Metadata;

fn metadata(bytes: &[u8]) -> Metadata {
    Metadata::decode_from(bytes).expect("real metadata decodes")
}

#[test]
fn runtime_475_can_take_a_pow_register() {
    let md = metadata(include_bytes!("../../devnet/metadata/runtime475.scale"));
    assert_eq!(check_runtime(&md, 475), Ok(()));
}

#[test]
fn a_runtime_without_pow_register_is_refused_in_one_line() {
    let md = metadata(include_bytes!("data/subtensor-spec343-metadata.scale"));
    let err = check_runtime(&md, 343).unwrap_err();
    assert_eq!(err, ChainError::NoPowRegister { spec_version: 343 });
    let line = err.to_string();
    assert!(!line.contains('\n'));
    assert!(
        line.contains("spec 343") && line.contains("pow_register"),
        "{line}"
    );
}

#[test]
fn an_unknown_extension_with_data_is_refused_rather_than_mis_signed() {
    use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
    use parity_scale_codec::{Decode, Encode};
    let bytes = include_bytes!("../../devnet/metadata/runtime475.scale");
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..]).unwrap();
    let RuntimeMetadata::V14(v14) = &mut prefixed.1 else {
        panic!("V14 expected");
    };
    // A future extension that carries data in the extrinsic: pretend CheckNonce were renamed.
    let nonce = v14
        .extrinsic
        .signed_extensions
        .iter_mut()
        .find(|x| x.identifier == "CheckNonce")
        .unwrap();
    nonce.identifier = "CheckPriorityFee".into();
    let md = metadata(&prefixed.encode());
    let err = check_runtime(&md, 999).unwrap_err().to_string();
    assert!(
        err.contains("CheckPriorityFee") && err.contains("refusing to sign"),
        "{err}"
    );

    // Empty extensions regpow has never heard of are fine (nothing to encode).
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..]).unwrap();
    let RuntimeMetadata::V14(v14) = &mut prefixed.1 else {
        panic!("V14 expected");
    };
    v14.extrinsic.signed_extensions[0].identifier = "SomeNewEmptyCheck".into();
    assert_eq!(check_runtime(&metadata(&prefixed.encode()), 999), Ok(()));
}
