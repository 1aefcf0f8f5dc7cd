//! Checks of a runtime's metadata before any hashing: does it have PoW registration at all,
//! with the call shape regpow encodes, and can every transaction extension be encoded?

use scale_info::TypeDef;
use subxt::Metadata;

use super::ChainError;

/// The arguments of `SubtensorModule::pow_register`, in order (`docs/SPEC.md`).
const POW_REGISTER_ARGS: [&str; 5] = ["netuid", "work_block", "nonce", "work", "hotkey"];

/// Extensions with data that subxt's default extensions encode exactly as subtensor expects
/// (`docs/SPEC.md`, "Transaction extensions"). Any other extension must be empty.
const ENCODED_EXTENSIONS: [&str; 7] = [
    "CheckSpecVersion",
    "CheckTxVersion",
    "CheckGenesis",
    "CheckMortality",
    "CheckNonce",
    "ChargeTransactionPayment",
    "CheckMetadataHash",
];

/// Refuses a runtime regpow cannot register on: one without `pow_register` (runtimes before
/// 475 have only the paid `register`), a `pow_register` with other arguments, or a transaction
/// extension with data regpow would not encode (the signature would be over the wrong bytes).
pub fn check_runtime(metadata: &Metadata, spec_version: u32) -> Result<(), ChainError> {
    let call = metadata
        .pallet_by_name("SubtensorModule")
        .and_then(|p| p.call_variant_by_name("pow_register"))
        .ok_or(ChainError::NoPowRegister { spec_version })?;
    let args: Vec<&str> = call
        .fields
        .iter()
        .map(|f| f.name.as_deref().unwrap_or("?"))
        .collect();
    if args != POW_REGISTER_ARGS {
        return Err(ChainError::Runtime(format!(
            "pow_register takes ({}) in runtime {spec_version}, regpow encodes ({})",
            args.join(", "),
            POW_REGISTER_ARGS.join(", ")
        )));
    }
    let empty = |id: u32| {
        metadata
            .types()
            .resolve(id)
            .is_some_and(|ty| match &ty.type_def {
                TypeDef::Composite(c) => c.fields.is_empty(),
                TypeDef::Tuple(t) => t.fields.is_empty(),
                _ => false,
            })
    };
    for extension in metadata
        .extrinsic()
        .transaction_extensions_to_use_for_encoding()
    {
        let name = extension.identifier();
        let carries_nothing = empty(extension.extra_ty()) && empty(extension.additional_ty());
        if !(ENCODED_EXTENSIONS.contains(&name) || carries_nothing) {
            return Err(ChainError::Runtime(format!(
                "runtime {spec_version} has transaction extension {name} with data regpow does \
                 not know how to encode; refusing to sign rather than mis-sign"
            )));
        }
    }
    Ok(())
}
