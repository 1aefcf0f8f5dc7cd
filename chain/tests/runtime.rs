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

/// Runtime 475's metadata, changed by `edit` as a node that lies about it would.
fn forged(edit: impl FnOnce(&mut frame_metadata::v14::RuntimeMetadataV14)) -> Metadata {
    use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
    use parity_scale_codec::{Decode, Encode};
    let bytes = include_bytes!("../../devnet/metadata/runtime475.scale");
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..]).unwrap();
    let RuntimeMetadata::V14(v14) = &mut prefixed.1 else {
        panic!("V14 expected");
    };
    edit(v14);
    metadata(&prefixed.encode())
}

/// The variant type of SubtensorModule's calls, and pow_register's place in it.
fn pow_register_variant(
    v14: &mut frame_metadata::v14::RuntimeMetadataV14,
) -> &mut scale_info::Variant<scale_info::form::PortableForm> {
    let pallet = v14
        .pallets
        .iter()
        .find(|p| p.name == "SubtensorModule")
        .unwrap();
    let calls = pallet.calls.as_ref().unwrap().ty.id;
    let ty = v14.types.types.iter_mut().find(|t| t.id == calls).unwrap();
    let scale_info::TypeDef::Variant(variants) = &mut ty.ty.type_def else {
        panic!("calls are an enum");
    };
    variants
        .variants
        .iter_mut()
        .find(|v| v.name == "pow_register")
        .unwrap()
}

fn refusal(md: &Metadata) -> String {
    match check_runtime(md, 475) {
        Err(e @ ChainError::Runtime(_)) => {
            let line = e.to_string();
            assert!(
                !line.contains('\n') && line.contains("refusing to sign"),
                "{line}"
            );
            line
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn metadata_that_moves_the_call_is_refused() {
    // The proxy attack: one metadata byte, SubtensorModule 7 → 5.
    let md = forged(|v14| {
        v14.pallets
            .iter_mut()
            .find(|p| p.name == "SubtensorModule")
            .unwrap()
            .index = 5;
    });
    let line = refusal(&md);
    assert!(
        line.contains("pallet 5 call 152") && line.contains("pallet 7 call 152"),
        "{line}"
    );

    let md = forged(|v14| pow_register_variant(v14).index = 153);
    assert!(refusal(&md).contains("pallet 7 call 153"));
}

#[test]
fn metadata_that_changes_an_argument_type_or_order_is_refused() {
    // `work` as a u64 (the type of work_block).
    let md = forged(|v14| {
        let variant = pow_register_variant(v14);
        variant.fields[3].ty = variant.fields[1].ty;
    });
    let line = refusal(&md);
    assert!(
        line.contains("work: U64") && line.contains("work: Bytes(32)"),
        "{line}"
    );

    // nonce and work_block swapped by name.
    let md = forged(|v14| {
        let variant = pow_register_variant(v14);
        variant.fields.swap(1, 2);
    });
    assert!(refusal(&md).contains("nonce: U64, work_block: U64"));
}

#[test]
fn extensions_with_data_in_another_shape_or_order_are_refused() {
    // CheckNonce claiming to carry nothing (its data would be read as the tip).
    let md = forged(|v14| {
        let empty = v14
            .extrinsic
            .signed_extensions
            .iter()
            .find(|x| x.identifier == "CheckWeight")
            .unwrap()
            .ty;
        v14.extrinsic
            .signed_extensions
            .iter_mut()
            .find(|x| x.identifier == "CheckNonce")
            .unwrap()
            .ty = empty;
    });
    assert!(refusal(&md).contains("CheckNonce carries Empty"));

    // The tip before the nonce.
    let md = forged(|v14| {
        let extensions = &mut v14.extrinsic.signed_extensions;
        let nonce = extensions
            .iter()
            .position(|x| x.identifier == "CheckNonce")
            .unwrap();
        let tip = extensions
            .iter()
            .position(|x| x.identifier == "ChargeTransactionPayment")
            .unwrap();
        extensions.swap(nonce, tip);
    });
    let line = refusal(&md);
    assert!(
        line.contains("number 5 is ChargeTransactionPayment, regpow encodes CheckNonce there"),
        "{line}"
    );
}
