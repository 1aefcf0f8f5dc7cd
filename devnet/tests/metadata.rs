//! The devnet serves subtensor runtime 475's real metadata; this checks that what the devnet
//! itself implements agrees with it: storage items (hashers, key and value types), the
//! `pow_register` call, the `NeuronRegistered` event, the error names and the extensions.

use frame_metadata::v14::{PalletMetadata, StorageEntryType, StorageHasher};
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use parity_scale_codec::Decode;
use regpow_devnet::pow::PowError;
use regpow_devnet::runtime::METADATA;
use scale_info::form::PortableForm;
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};

fn metadata() -> frame_metadata::v14::RuntimeMetadataV14 {
    let prefixed = RuntimeMetadataPrefixed::decode(&mut &METADATA[..]).expect("decodes");
    match prefixed.1 {
        RuntimeMetadata::V14(m) => m,
        _ => panic!("expected V14"),
    }
}

/// A type reduced to what its SCALE encoding is: newtypes unwrapped.
fn shape(registry: &PortableRegistry, id: u32) -> String {
    let ty = registry.resolve(id).expect("type id");
    match &ty.type_def {
        TypeDef::Primitive(p) => match p {
            TypeDefPrimitive::Bool => "bool".into(),
            TypeDefPrimitive::U8 => "u8".into(),
            TypeDefPrimitive::U16 => "u16".into(),
            TypeDefPrimitive::U32 => "u32".into(),
            TypeDefPrimitive::U64 => "u64".into(),
            TypeDefPrimitive::U128 => "u128".into(),
            other => format!("{other:?}"),
        },
        TypeDef::Composite(c) if c.fields.len() == 1 => shape(registry, c.fields[0].ty.id),
        TypeDef::Array(a) => format!("[{}; {}]", shape(registry, a.type_param.id), a.len),
        other => format!("{:?} {:?}", ty.path.segments, std::mem::discriminant(other)),
    }
}

fn pallet<'m>(
    m: &'m frame_metadata::v14::RuntimeMetadataV14,
    name: &str,
) -> &'m PalletMetadata<PortableForm> {
    m.pallets.iter().find(|p| p.name == name).expect(name)
}

#[test]
fn storage_items_match_what_the_devnet_serves() {
    let m = metadata();
    let subtensor = pallet(&m, "SubtensorModule");
    assert_eq!(subtensor.index, 7);
    let storage = subtensor.storage.as_ref().unwrap();
    assert_eq!(storage.prefix, "SubtensorModule");
    use StorageHasher::{Blake2_128Concat as B, Identity as I};
    // (item, hashers, key shapes, value shape), as devnet::storage writes them.
    let expected: &[(&str, &[StorageHasher], &[&str], &str)] = &[
        ("NetworksAdded", &[I], &["u16"], "bool"),
        ("NetworkPowRegistrationAllowed", &[I], &["u16"], "bool"),
        ("NetworkRegistrationAllowed", &[I], &["u16"], "bool"),
        ("Difficulty", &[I], &["u16"], "u64"),
        ("MinDifficulty", &[I], &["u16"], "u64"),
        ("MaxDifficulty", &[I], &["u16"], "u64"),
        ("BurnHalfLife", &[I], &["u16"], "u16"),
        ("BurnIncreaseMult", &[I], &["u16"], "u128"),
        ("MaxAllowedUids", &[I], &["u16"], "u16"),
        ("MaxRegistrationsPerBlock", &[I], &["u16"], "u16"),
        ("RegistrationsThisBlock", &[I], &["u16"], "u16"),
        ("SubnetworkN", &[I], &["u16"], "u16"),
        ("Uids", &[I, B], &["u16", "[u8; 32]"], "u16"),
        ("Owner", &[B], &["[u8; 32]"], "[u8; 32]"),
        ("LastPowRegistrationBlock", &[B], &["[u8; 32]"], "u64"),
    ];
    for (name, hashers, keys, value) in expected {
        let entry = storage
            .entries
            .iter()
            .find(|e| e.name == *name)
            .unwrap_or_else(|| panic!("{name} missing from the metadata"));
        let StorageEntryType::Map {
            hashers: got_hashers,
            key,
            value: got_value,
        } = &entry.ty
        else {
            panic!("{name} is not a map");
        };
        assert_eq!(got_hashers, &hashers.to_vec(), "{name} hashers");
        let key_shapes: Vec<String> = match &m.types.resolve(key.id).unwrap().type_def {
            TypeDef::Tuple(t) => t.fields.iter().map(|f| shape(&m.types, f.id)).collect(),
            _ => vec![shape(&m.types, key.id)],
        };
        assert_eq!(key_shapes, keys.to_vec(), "{name} keys");
        assert_eq!(shape(&m.types, got_value.id), *value, "{name} value");
    }
}

#[test]
fn call_event_errors_and_extensions_match_the_spec() {
    let m = metadata();
    let subtensor = pallet(&m, "SubtensorModule");
    let variants = |id: u32| match &m.types.resolve(id).unwrap().type_def {
        TypeDef::Variant(v) => v.variants.clone(),
        _ => panic!("not an enum"),
    };
    let calls = variants(subtensor.calls.as_ref().unwrap().ty.id);
    let pow = calls.iter().find(|v| v.name == "pow_register").unwrap();
    assert_eq!(pow.index, 152);
    let args: Vec<(String, String)> = pow
        .fields
        .iter()
        .map(|f| (f.name.clone().unwrap(), shape(&m.types, f.ty.id)))
        .collect();
    let want = [
        ("netuid", "u16"),
        ("work_block", "u64"),
        ("nonce", "u64"),
        ("work", "[u8; 32]"),
        ("hotkey", "[u8; 32]"),
    ];
    assert_eq!(
        args,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );

    let events = variants(subtensor.event.as_ref().unwrap().ty.id);
    let registered = events
        .iter()
        .find(|v| v.name == "NeuronRegistered")
        .unwrap();
    assert_eq!(registered.index, 7);

    let errors = variants(subtensor.error.as_ref().unwrap().ty.id);
    for e in PowError::ALL {
        let variant = errors
            .iter()
            .find(|v| v.name == e.name())
            .unwrap_or_else(|| {
                panic!("{} is not a SubtensorModule error in runtime 475", e.name())
            });
        assert_eq!(variant.index, e.index(), "{} index", e.name());
    }

    assert_eq!(pallet(&m, "System").index, 0);
    let extensions: Vec<&str> = m
        .extrinsic
        .signed_extensions
        .iter()
        .map(|x| x.identifier.as_str())
        .collect();
    // devnet::extrinsic decodes exactly this list: Era, Compact nonce, Compact tip and the
    // metadata-hash mode in the extrinsic; spec, tx version, genesis, birth hash and the
    // optional metadata hash signed implicitly; every other extension empty in both places.
    assert_eq!(
        extensions,
        [
            "CheckNonZeroSender",
            "CheckSpecVersion",
            "CheckTxVersion",
            "CheckGenesis",
            "CheckMortality",
            "CheckNonce",
            "CheckWeight",
            "ChargeTransactionPayment",
            "SudoTransactionExtension",
            "CheckShieldedTxValidity",
            "SubtensorTransactionExtension",
            "DrandPriority",
            "CheckMetadataHash",
        ]
    );
    let empty = |id: u32| match &m.types.resolve(id).unwrap().type_def {
        TypeDef::Composite(c) => c.fields.is_empty(),
        TypeDef::Tuple(t) => t.fields.is_empty(),
        _ => false,
    };
    let signed_in_extrinsic: Vec<&str> = m
        .extrinsic
        .signed_extensions
        .iter()
        .filter(|x| !empty(x.ty.id))
        .map(|x| x.identifier.as_str())
        .collect();
    assert_eq!(
        signed_in_extrinsic,
        [
            "CheckMortality",
            "CheckNonce",
            "ChargeTransactionPayment",
            "CheckMetadataHash"
        ]
    );
    let implicit: Vec<&str> = m
        .extrinsic
        .signed_extensions
        .iter()
        .filter(|x| !empty(x.additional_signed.id))
        .map(|x| x.identifier.as_str())
        .collect();
    assert_eq!(
        implicit,
        [
            "CheckSpecVersion",
            "CheckTxVersion",
            "CheckGenesis",
            "CheckMortality",
            "CheckMetadataHash"
        ]
    );
}
