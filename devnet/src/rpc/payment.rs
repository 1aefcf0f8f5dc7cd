//! `payment_*` (pallet-transaction-payment's RPC): what a client asks before signing to show
//! the fee. `pow_register` is fee-free: its weight, class normal, a partial fee of 0.

use std::sync::Arc;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use serde_json::{json, Value};

use super::runtime::{dispatch_info_json, fee_query, FeeQuery};
use super::{decode_hex, state_at, RpcResult};
use crate::node::Node;

/// The payment RPC's "runtime error" code (`pallet_transaction_payment_rpc::Error`).
const RUNTIME_ERROR: i32 = 2;

/// Checks the extrinsic and block of a fee query; the error is the payment RPC's.
fn check(params: &Params, node: &Node, what: &str) -> RpcResult<()> {
    let mut seq = params.sequence();
    let extrinsic: String = seq.next()?;
    let at: Option<String> = seq.optional_next()?;
    let bytes = decode_hex(&extrinsic)?;
    state_at(&node.lock().chain, at.as_deref())?;
    match fee_query(&bytes) {
        FeeQuery::PowRegister => Ok(()),
        FeeQuery::Unknown(why) => Err(ErrorObjectOwned::owned(
            RUNTIME_ERROR,
            format!("Unable to query {what}."),
            Some(why),
        )),
    }
}

/// Registers `payment_queryInfo` and `payment_queryFeeDetails`.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
    m.register_method(
        "payment_queryInfo",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            check(&params, node, "dispatch info")?;
            Ok(dispatch_info_json())
        },
    )?;
    m.register_method(
        "payment_queryFeeDetails",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<Value> {
            check(&params, node, "fee details")?;
            // Pays::No: no inclusion fee. (`FeeDetails` skips its tip when serialised.)
            Ok(json!({ "inclusionFee": null }))
        },
    )?;
    Ok(())
}
