//! Checks of a runtime's metadata before any hashing and before every signature: does it
//! have PoW registration at all, and does it agree with the `pow_register` regpow signs
//! ([`crate::transaction`]): the pallet and call index, each argument's type, and every
//! transaction extension that carries data, in order?
//!
//! regpow never encodes from the metadata, so a node that misreports it cannot change what
//! the coldkey signs; this check makes such a node (or a runtime regpow does not know yet)
//! a clear refusal instead of a transaction the real chain would read differently.

use scale_info::{form::PortableForm, TypeDef, TypeDefPrimitive};
use subxt::Metadata;

use super::ChainError;
use crate::transaction::{POW_REGISTER_CALL_INDEX, SUBTENSOR_PALLET_INDEX};

/// The arguments of `SubtensorModule::pow_register`, in order, with the shape regpow
/// encodes each in (`docs/SPEC.md`).
const POW_REGISTER_ARGS: [(&str, Shape); 5] = [
    ("netuid", Shape::U16),
    ("work_block", Shape::U64),
    ("nonce", Shape::U64),
    ("work", Shape::Bytes(32)),
    ("hotkey", Shape::Bytes(32)),
];

/// What regpow puts in the extrinsic (extra) and in the signed payload (implicit) for each
/// transaction extension that carries data, in runtime order (`docs/SPEC.md`: 13 extensions
/// in runtime 475, these 7 with data); every other extension must carry nothing, so one the
/// runtime adds later without data changes no byte regpow signs.
const EXTENSION_DATA: [(&str, Shape, Shape); 7] = [
    ("CheckSpecVersion", Shape::Empty, Shape::U32),
    ("CheckTxVersion", Shape::Empty, Shape::U32),
    ("CheckGenesis", Shape::Empty, Shape::Bytes(32)),
    ("CheckMortality", Shape::Era, Shape::Bytes(32)),
    ("CheckNonce", Shape::CompactU32, Shape::Empty),
    ("ChargeTransactionPayment", Shape::CompactU64, Shape::Empty),
    (
        "CheckMetadataHash",
        Shape::MetadataHashMode,
        Shape::OptionalHash,
    ),
];

/// How a type is laid out on the wire, as far as regpow's encoding cares (wrappers of one
/// field are looked through: `NetUid(u16)` is a `u16`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// Nothing on the wire.
    Empty,
    U8,
    U16,
    U32,
    U64,
    CompactU32,
    CompactU64,
    /// A fixed array of this many bytes (`[u8; 32]`, `AccountId32`, `H256`).
    Bytes(u32),
    /// Substrate's `Era`.
    Era,
    /// `CheckMetadataHash`'s mode: an enum whose variant 0 is `Disabled`, carrying nothing.
    MetadataHashMode,
    /// `Option<[u8; 32]>`.
    OptionalHash,
    /// Anything else, described for the error message.
    Other(String),
}

/// The wire shape of type `id`.
fn shape(metadata: &Metadata, id: u32) -> Shape {
    shape_at(metadata, id, 0)
}

fn shape_at(metadata: &Metadata, id: u32, depth: u32) -> Shape {
    let Some(ty) = metadata.types().resolve(id) else {
        return Shape::Other(format!("unknown type {id}"));
    };
    // Wrappers nest a few levels at most; a cycle is not a shape regpow encodes.
    if depth > 8 {
        return Shape::Other("a deeply nested type".into());
    }
    let only_field = |fields: &[u32]| match fields {
        [] => Shape::Empty,
        [one] => shape_at(metadata, *one, depth + 1),
        more => Shape::Other(format!("a struct of {} fields", more.len())),
    };
    match &ty.type_def {
        TypeDef::Composite(c) => only_field(&c.fields.iter().map(|f| f.ty.id).collect::<Vec<_>>()),
        TypeDef::Tuple(t) => only_field(&t.fields.iter().map(|f| f.id).collect::<Vec<_>>()),
        TypeDef::Primitive(TypeDefPrimitive::U8) => Shape::U8,
        TypeDef::Primitive(TypeDefPrimitive::U16) => Shape::U16,
        TypeDef::Primitive(TypeDefPrimitive::U32) => Shape::U32,
        TypeDef::Primitive(TypeDefPrimitive::U64) => Shape::U64,
        TypeDef::Primitive(p) => Shape::Other(format!("{p:?}").to_lowercase()),
        TypeDef::Compact(c) => match shape_at(metadata, c.type_param.id, depth + 1) {
            Shape::U32 => Shape::CompactU32,
            Shape::U64 => Shape::CompactU64,
            other => Shape::Other(format!("Compact<{other:?}>")),
        },
        TypeDef::Array(a) => match shape_at(metadata, a.type_param.id, depth + 1) {
            Shape::U8 => Shape::Bytes(a.len),
            other => Shape::Other(format!("[{other:?}; {}]", a.len)),
        },
        TypeDef::Variant(v) => variant_shape(metadata, &ty.path.segments, v, depth),
        TypeDef::Sequence(_) => Shape::Other("a sequence".into()),
        TypeDef::BitSequence(_) => Shape::Other("a bit sequence".into()),
    }
}

fn variant_shape(
    metadata: &Metadata,
    path: &[String],
    v: &scale_info::TypeDefVariant<PortableForm>,
    depth: u32,
) -> Shape {
    let name = path.last().map(String::as_str).unwrap_or("");
    let by_index = |index: u8| v.variants.iter().find(|variant| variant.index == index);
    match name {
        // Substrate's Era: Immortal, then Mortal1(u8) … Mortal255(u8).
        "Era" if v.variants.len() == 256 => Shape::Era,
        "Option" => match (by_index(0), by_index(1)) {
            (Some(none), Some(some))
                if none.fields.is_empty()
                    && some.fields.len() == 1
                    && shape_at(metadata, some.fields[0].ty.id, depth + 1) == Shape::Bytes(32) =>
            {
                Shape::OptionalHash
            }
            _ => Shape::Other("an Option of something else".into()),
        },
        "Mode" => match by_index(0) {
            Some(disabled) if disabled.name == "Disabled" && disabled.fields.is_empty() => {
                Shape::MetadataHashMode
            }
            _ => Shape::Other("a metadata-hash mode without Disabled = 0".into()),
        },
        other => Shape::Other(format!("enum {other}")),
    }
}

/// Refuses a runtime regpow cannot register on: one without `pow_register` (runtimes before
/// 475 have only the paid `register`: [`ChainError::NoPowRegister`]), or one whose metadata
/// disagrees with the transaction regpow signs: `SubtensorModule` at another pallet index,
/// `pow_register` at another call index or with other arguments, a transaction extension
/// with data regpow does not encode, or the known ones in another order or shape
/// ([`ChainError::Runtime`]).
pub fn check_runtime(metadata: &Metadata, spec_version: u32) -> Result<(), ChainError> {
    let pallet = metadata
        .pallet_by_name("SubtensorModule")
        .ok_or(ChainError::NoPowRegister { spec_version })?;
    let call = pallet
        .call_variant_by_name("pow_register")
        .ok_or(ChainError::NoPowRegister { spec_version })?;
    let disagrees = |what: String| {
        ChainError::Runtime(format!(
            "runtime {spec_version}'s metadata disagrees with the pow_register regpow signs: \
             {what}; refusing to sign (a node that misreports its metadata, or a runtime \
             regpow does not know yet)"
        ))
    };
    if (pallet.call_index(), call.index) != (SUBTENSOR_PALLET_INDEX, POW_REGISTER_CALL_INDEX) {
        return Err(disagrees(format!(
            "it is pallet {} call {}, regpow signs pallet {SUBTENSOR_PALLET_INDEX} call \
             {POW_REGISTER_CALL_INDEX}",
            pallet.call_index(),
            call.index
        )));
    }
    let args: Vec<(&str, Shape)> = call
        .fields
        .iter()
        .map(|f| (f.name.as_deref().unwrap_or("?"), shape(metadata, f.ty.id)))
        .collect();
    if args != POW_REGISTER_ARGS {
        let list = |args: &[(&str, Shape)]| {
            args.iter()
                .map(|(name, shape)| format!("{name}: {shape:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(disagrees(format!(
            "it takes ({}), regpow encodes ({})",
            list(&args),
            list(&POW_REGISTER_ARGS)
        )));
    }
    if !metadata.extrinsic().supported_versions().contains(&4) {
        return Err(disagrees(
            "it does not take extrinsics of format version 4".into(),
        ));
    }
    check_extensions(metadata, &disagrees)
}

/// Every extension that carries data is one regpow encodes, in its place and shape.
fn check_extensions(
    metadata: &Metadata,
    disagrees: &dyn Fn(String) -> ChainError,
) -> Result<(), ChainError> {
    let mut with_data = Vec::new();
    for extension in metadata
        .extrinsic()
        .transaction_extensions_to_use_for_encoding()
    {
        let name = extension.identifier();
        let (extra, implicit) = (
            shape(metadata, extension.extra_ty()),
            shape(metadata, extension.additional_ty()),
        );
        match EXTENSION_DATA.iter().find(|(known, ..)| *known == name) {
            Some((_, want_extra, want_implicit)) => {
                if (&extra, &implicit) != (want_extra, want_implicit) {
                    return Err(disagrees(format!(
                        "transaction extension {name} carries {extra:?} / {implicit:?}, \
                         regpow encodes {want_extra:?} / {want_implicit:?}"
                    )));
                }
                with_data.push(name);
            }
            None if extra == Shape::Empty && implicit == Shape::Empty => {}
            None => {
                return Err(disagrees(format!(
                    "transaction extension {name} carries data regpow does not encode"
                )))
            }
        }
    }
    let known: Vec<&str> = EXTENSION_DATA.iter().map(|(name, ..)| *name).collect();
    if let Some(place) =
        (0..known.len().max(with_data.len())).find(|&i| with_data.get(i) != known.get(i))
    {
        return Err(disagrees(format!(
            "its transaction extension with data number {} is {}, regpow encodes {} there",
            place + 1,
            with_data.get(place).unwrap_or(&"none"),
            known.get(place).unwrap_or(&"none")
        )));
    }
    Ok(())
}
