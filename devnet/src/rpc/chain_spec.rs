//! `chainSpec_v1_*` of the new JSON-RPC spec: the chain's name, genesis hash and properties,
//! the same answers as `system_chain`, `chain_getBlockHash(0)` and `system_properties`.

use std::sync::Arc;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::RpcModule;

use super::system::{properties, CHAIN_NAME};
use crate::chain::hex32;
use crate::node::Node;

/// Registers `chainSpec_v1_chainName`, `chainSpec_v1_genesisHash` and
/// `chainSpec_v1_properties`.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
    m.register_method("chainSpec_v1_chainName", |_, _, _| CHAIN_NAME)?;
    m.register_method("chainSpec_v1_genesisHash", |_, node: &Arc<Node>, _| {
        hex32(&node.lock().chain.genesis_hash())
    })?;
    m.register_method("chainSpec_v1_properties", |_, _, _| properties())?;
    Ok(())
}
