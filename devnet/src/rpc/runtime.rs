//! The runtime: its version, and the runtime APIs `state_call` (and `chainHead_v1_call`)
//! answer: exactly those a client calls before and while it submits a `pow_register`.

use parity_scale_codec::{Compact, Decode, Encode};
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_64;

use super::{error, RpcResult, INVALID_PARAMS};
use crate::chain::{hex32, Chain};
use crate::events::{POW_REGISTER_PROOF_SIZE, POW_REGISTER_REF_TIME};
use crate::extrinsic::{Call, Decoded, SignedExtrinsic};
use crate::runtime::{
    encoded_version, APIS, METADATA, SPEC_NAME, SPEC_VERSION, TRANSACTION_VERSION,
};
use crate::validity::{encode_validity, InvalidTransaction};

/// The runtime version as `state_getRuntimeVersion` reports it.
pub fn runtime_version() -> Value {
    let apis: Vec<Value> = APIS
        .iter()
        .map(|(name, version)| json!([hex32(&blake2_64(name.as_bytes())), version]))
        .collect();
    json!({
        "specName": SPEC_NAME,
        "implName": SPEC_NAME,
        "authoringVersion": 1,
        "specVersion": SPEC_VERSION,
        "implVersion": 1,
        "apis": apis,
        "transactionVersion": TRANSACTION_VERSION,
        "systemVersion": 1,
        "stateVersion": 1,
    })
}

/// The runtime as the new JSON-RPC spec describes it (`chainHead_v1_follow`'s runtime
/// events): `state_getRuntimeVersion`'s fields with `apis` as an object from each API's id
/// (hex blake2-64 of its name, as nodes key it) to its version.
pub fn runtime_spec() -> Value {
    let apis: serde_json::Map<String, Value> = APIS
        .iter()
        .map(|(name, version)| (hex32(&blake2_64(name.as_bytes())), json!(version)))
        .collect();
    json!({
        "specName": SPEC_NAME,
        "implName": SPEC_NAME,
        "specVersion": SPEC_VERSION,
        "implVersion": 1,
        "transactionVersion": TRANSACTION_VERSION,
        "apis": apis,
    })
}

/// Splits `extrinsic ‖ tail` where the extrinsic carries its own length prefix.
fn split_extrinsic(data: &[u8]) -> RpcResult<(&[u8], &[u8])> {
    let mut input = data;
    let Compact(length) = Compact::<u32>::decode(&mut input)
        .map_err(|_| error(INVALID_PARAMS, "expected an encoded extrinsic"))?;
    let total = data.len() - input.len() + length as usize;
    if total > data.len() {
        return Err(error(INVALID_PARAMS, "truncated extrinsic"));
    }
    Ok(data.split_at(total))
}

/// What a fee query learns of an extrinsic: only `pow_register` is dispatched by the devnet.
pub enum FeeQuery {
    /// A signed `pow_register`: its weight, class Normal, no fee (`Pays::No`).
    PowRegister,
    /// Anything else: the devnet does not know its weight.
    Unknown(String),
}

/// Reads the extrinsic of a fee query (length prefix included).
pub fn fee_query(bytes: &[u8]) -> FeeQuery {
    match SignedExtrinsic::decode(bytes) {
        Ok(Decoded::Signed(xt)) => match xt.call {
            Call::PowRegister(_) => FeeQuery::PowRegister,
            Call::Other { pallet, call } => FeeQuery::Unknown(format!(
                "devnet: the weight of call {pallet}.{call} is not known (only \
                 SubtensorModule::pow_register is dispatched)"
            )),
        },
        Ok(Decoded::Bare) => FeeQuery::Unknown("devnet: unsigned extrinsics pay no fee".into()),
        Err(e) => FeeQuery::Unknown(format!("Bad encoded extrinsic: {e}")),
    }
}

/// `RuntimeDispatchInfo` of a fee-free `pow_register`: its weight, class Normal, fee 0.
fn encode_dispatch_info_for_fee() -> Vec<u8> {
    let mut out = Vec::new();
    Compact(POW_REGISTER_REF_TIME).encode_to(&mut out);
    Compact(POW_REGISTER_PROOF_SIZE).encode_to(&mut out);
    out.push(0); // DispatchClass::Normal
    0u64.encode_to(&mut out); // partial_fee (pow_register pays no fee)
    out
}

/// `RuntimeDispatchInfo` as `payment_queryInfo` returns it (the fee as a decimal string, as
/// the pallet serialises balances).
pub fn dispatch_info_json() -> Value {
    json!({
        "weight": { "ref_time": POW_REGISTER_REF_TIME, "proof_size": POW_REGISTER_PROOF_SIZE },
        "class": "normal",
        "partialFee": "0",
    })
}

/// `TransactionPaymentApi_query_info` / `_query_fee_details` refuse what they cannot price.
fn priced(data: &[u8]) -> RpcResult<()> {
    let (bytes, _len) = split_extrinsic(data)?;
    match fee_query(bytes) {
        FeeQuery::PowRegister => Ok(()),
        FeeQuery::Unknown(why) => Err(error(-32000, why)),
    }
}

/// Answers one runtime API call at the head's state.
pub fn call(chain: &Chain, method: &str, data: &[u8]) -> RpcResult<Vec<u8>> {
    match method {
        "Core_version" => Ok(encoded_version()),
        // Only V14 is served: the metadata is the real runtime-475 V14 blob.
        "Metadata_metadata_versions" => Ok(vec![14u32].encode()),
        "Metadata_metadata_at_version" => {
            let version = u32::decode(&mut &data[..])
                .map_err(|_| error(INVALID_PARAMS, "expected a u32 metadata version"))?;
            let answer: Option<Vec<u8>> = (version == 14).then(|| METADATA.to_vec());
            Ok(answer.encode())
        }
        "Metadata_metadata" => Ok(METADATA.to_vec().encode()),
        "AccountNonceApi_account_nonce" => {
            let account = <[u8; 32]>::decode(&mut &data[..])
                .map_err(|_| error(INVALID_PARAMS, "expected a 32-byte account id"))?;
            Ok(chain.account(&account).nonce.encode())
        }
        "TaggedTransactionQueue_validate_transaction" => {
            // (source: u8, extrinsic, block hash): validated on top of the head, where the
            // runtime accepts any nonce from the account's next one on (future ones with
            // `requires`).
            let (_source, rest) = data
                .split_first()
                .ok_or_else(|| error(INVALID_PARAMS, "expected (source, extrinsic, hash)"))?;
            let (bytes, _hash) = split_extrinsic(rest)?;
            let validity = match SignedExtrinsic::decode(bytes) {
                Ok(Decoded::Signed(xt)) => chain.validate(&xt, u32::MAX),
                Ok(Decoded::Bare) => Err(InvalidTransaction::Call),
                Err(e) => return Err(error(INVALID_PARAMS, format!("bad extrinsic: {e}"))),
            };
            Ok(encode_validity(&validity))
        }
        "TransactionPaymentApi_query_info" => {
            priced(data)?;
            Ok(encode_dispatch_info_for_fee())
        }
        "TransactionPaymentApi_query_fee_details" => {
            priced(data)?;
            // FeeDetails { inclusion_fee: None (Pays::No), tip: 0 }
            let mut out = vec![0u8];
            0u64.encode_to(&mut out);
            Ok(out)
        }
        other => Err(error(
            -32000,
            format!("devnet: runtime API '{other}' is not served"),
        )),
    }
}
