//! The runtime the devnet imitates: subtensor mainnet runtime 475, the first with
//! `pow_register`. Its metadata is served as is; its versions go into every header's
//! runtime version and into signed payloads.

/// The real SCALE metadata (V14) of subtensor mainnet runtime 475, the first with
/// `pow_register`: clients see exactly the types, pallet indices, storage hashers and
/// transaction extensions they see on mainnet.
pub const METADATA: &[u8] = include_bytes!("../metadata/runtime475.scale");

/// `spec_version` of the runtime the metadata describes.
pub const SPEC_VERSION: u32 = 475;
/// `transaction_version` of that runtime.
pub const TRANSACTION_VERSION: u32 = 1;
