//! The one transaction regpow signs, `SubtensorModule::pow_register`, encoded from regpow's
//! own definition (`docs/SPEC.md`, "The extrinsic" and "Transaction extensions"), never from
//! what a node's metadata says: a node (or a proxy in front of one) that changes its
//! metadata cannot change which call the coldkey signs. [`crate::runtime::check_runtime`]
//! refuses a runtime whose metadata disagrees with this definition.
//!
//! ```text
//! Compact<u32> length ‖ 0x84 (signed, v4)
//!   ‖ MultiAddress::Id (0x00 ‖ coldkey)
//!   ‖ MultiSignature::Sr25519 (0x01 ‖ 64 bytes)
//!   ‖ extra: Era ‖ Compact<u32> nonce ‖ Compact<u64> tip (0) ‖ u8 metadata-hash mode (0)
//!   ‖ call: 7 ‖ 152 ‖ netuid u16 ‖ work_block u64 ‖ nonce u64 ‖ work [u8; 32] ‖ hotkey
//! signed: call ‖ extra ‖ spec_version u32 ‖ transaction_version u32 ‖ genesis hash
//!         ‖ hash of the era's birth block ‖ Option<metadata hash> (None)
//!         (blake2-256 of it when longer than 256 bytes)
//! ```

use parity_scale_codec::{Compact, Encode};
use subxt::utils::Era;

use crate::api::PowRegisterCall;
use crate::state::Head;
use crate::wallet::Coldkey;

/// `SubtensorModule`'s pallet index (runtime 475 and later).
pub const SUBTENSOR_PALLET_INDEX: u8 = 7;

/// `pow_register`'s call index in `SubtensorModule` (runtime 475 and later).
pub const POW_REGISTER_CALL_INDEX: u8 = 152;

/// How many blocks a signature stays valid from the block it was signed at. A seal is
/// stale five blocks after its work block, so a longer life would only keep a useless
/// transaction in pools.
pub const MORTAL_PERIOD: u64 = 32;

/// First byte of a signed extrinsic of format version 4.
const SIGNED_V4: u8 = 0x84;
/// `MultiAddress::Id`.
const ADDRESS_ID: u8 = 0;
/// `MultiSignature::Sr25519`.
const SIGNATURE_SR25519: u8 = 1;
/// `CheckMetadataHash` mode `Disabled`: the signature does not cover a metadata hash.
const METADATA_HASH_DISABLED: u8 = 0;

/// What a signature is bound to besides the call: the runtime's versions and the chain's
/// genesis (`CheckSpecVersion`, `CheckTxVersion`, `CheckGenesis`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainContext {
    /// The runtime's spec version at the signing block.
    pub spec_version: u32,
    /// The runtime's transaction version at the signing block.
    pub transaction_version: u32,
    /// The hash of block 0: which chain the signature is valid on.
    pub genesis_hash: [u8; 32],
}

/// `pow_register`'s call bytes: pallet index, call index, then the arguments.
pub fn call_data(call: &PowRegisterCall) -> Vec<u8> {
    let mut out = vec![SUBTENSOR_PALLET_INDEX, POW_REGISTER_CALL_INDEX];
    (
        call.netuid,
        call.work_block,
        call.nonce,
        call.work,
        call.hotkey.0,
    )
        .encode_to(&mut out);
    out
}

/// Why a transaction cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The account nonce does not fit the runtime's `u32` nonce.
    #[error("account nonce {0} does not fit the chain's 32-bit nonce")]
    NonceTooLarge(u64),
}

/// The extra data the extrinsic carries (and signs): mortal era from `at`, the account
/// nonce, a zero tip, metadata-hash mode off.
fn extra(nonce: u32, at: Head) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    Era::mortal(MORTAL_PERIOD, at.number).encode_to(&mut out);
    Compact(nonce).encode_to(&mut out);
    Compact(0u64).encode_to(&mut out);
    out.push(METADATA_HASH_DISABLED);
    out
}

/// The bytes the coldkey signs for `call` with `extra`, signed at block `at` on `chain`.
pub fn signer_payload(call: &[u8], extra: &[u8], at: Head, chain: &ChainContext) -> Vec<u8> {
    let mut payload = Vec::with_capacity(call.len() + extra.len() + 73);
    payload.extend_from_slice(call);
    payload.extend_from_slice(extra);
    chain.spec_version.encode_to(&mut payload);
    chain.transaction_version.encode_to(&mut payload);
    payload.extend_from_slice(&chain.genesis_hash);
    // CheckMortality signs the era's birth block: `at` itself (the phase is `at` mod the
    // period, and the period is under 4,096, so no quantization moves it).
    payload.extend_from_slice(&at.hash);
    // CheckMetadataHash in mode `Disabled` signs `None`.
    None::<[u8; 32]>.encode_to(&mut payload);
    if payload.len() > 256 {
        blake2_256(&payload).to_vec()
    } else {
        payload
    }
}

/// The signed `pow_register` extrinsic, ready to submit: `call` signed by `coldkey` with
/// account nonce `nonce`, mortal from block `at`, for `chain`.
pub fn signed_pow_register(
    call: &PowRegisterCall,
    coldkey: &Coldkey,
    nonce: u64,
    at: Head,
    chain: &ChainContext,
) -> Result<Vec<u8>, TransactionError> {
    let nonce32 = u32::try_from(nonce).map_err(|_| TransactionError::NonceTooLarge(nonce))?;
    let call = call_data(call);
    let extra = extra(nonce32, at);
    let signature = coldkey.sign(&signer_payload(&call, &extra, at, chain));
    let mut body = Vec::with_capacity(1 + 33 + 65 + extra.len() + call.len());
    body.push(SIGNED_V4);
    body.push(ADDRESS_ID);
    body.extend_from_slice(&coldkey.public().0);
    body.push(SIGNATURE_SR25519);
    body.extend_from_slice(&signature);
    body.extend_from_slice(&extra);
    body.extend_from_slice(&call);
    let mut extrinsic = Compact(body.len() as u32).encode();
    extrinsic.extend_from_slice(&body);
    Ok(extrinsic)
}

/// blake2b with a 256-bit output, as Substrate hashes long signing payloads.
fn blake2_256(data: &[u8]) -> [u8; 32] {
    use blake2::digest::consts::U32;
    use blake2::{Blake2b, Digest};
    Blake2b::<U32>::digest(data).into()
}
