//! `system_*`: what the node is, its chain, its health and peers, and an account's next
//! nonce (pooled transactions counted), as a development node answers them.

use std::sync::Arc;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::types::Params;
use jsonrpsee::RpcModule;
use regpow_rules::PublicKey;
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_256;

use super::{alias, error, RpcResult, INVALID_PARAMS};
use crate::node::Node;

/// `system_chain` and `chainSpec_v1_chainName`.
pub const CHAIN_NAME: &str = "regpow devnet";

/// `system_properties` and `chainSpec_v1_properties`: subtensor's token and SS58 format.
pub fn properties() -> Value {
    json!({ "ss58Format": 42, "tokenDecimals": 9, "tokenSymbol": "TAO" })
}

/// The devnet's libp2p peer id (an identity multihash of a fixed ed25519 key in the
/// protobuf form libp2p uses, base58), so clients that parse it get a well-formed one.
pub fn local_peer_id() -> String {
    let key = blake2_256(b"regpow devnet peer");
    // protobuf PublicKey { Type: Ed25519 (1), Data: 32 bytes } under an identity multihash.
    let mut bytes = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    bytes.extend_from_slice(&key);
    bs58::encode(bytes).into_string()
}

/// Registers the `system_*` methods.
pub fn register(m: &mut RpcModule<Arc<Node>>) -> Result<(), RegisterMethodError> {
    m.register_method("system_chain", |_, _, _| CHAIN_NAME)?;
    m.register_method("system_name", |_, _, _| "regpow-devnet")?;
    m.register_method("system_version", |_, _, _| env!("CARGO_PKG_VERSION"))?;
    m.register_method("system_chainType", |_, _, _| "Development")?;
    m.register_method("system_properties", |_, _, _| properties())?;
    m.register_method(
        "system_health",
        |_, _, _| json!({ "peers": 0, "isSyncing": false, "shouldHavePeers": false }),
    )?;
    m.register_method("system_peers", |_, _, _| Vec::<Value>::new())?;
    m.register_method("system_nodeRoles", |_, _, _| ["Authority"])?;
    m.register_method("system_localPeerId", |_, _, _| local_peer_id())?;
    m.register_method("system_localListenAddresses", |_, node: &Arc<Node>, _| {
        vec![format!(
            "/ip4/127.0.0.1/tcp/{}/ws/p2p/{}",
            node.config.port,
            local_peer_id()
        )]
    })?;
    m.register_method("system_syncState", |_, node: &Arc<Node>, _| {
        let head = node.lock().chain.head().header.number;
        json!({ "startingBlock": 0, "currentBlock": head, "highestBlock": head })
    })?;
    m.register_method(
        "system_accountNextIndex",
        |params: Params, node: &Arc<Node>, _| -> RpcResult<u32> {
            let account: String = params.one()?;
            let key = PublicKey::parse("account", &account)
                .map_err(|e| error(INVALID_PARAMS, e.to_string()))?;
            let ledger = node.lock();
            Ok(ledger.tx_pool.next_nonce(&ledger.chain, &key.0))
        },
    )?;
    alias(m, "system_accountNextIndex", &["account_nextIndex"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_id_is_an_ed25519_identity_multihash() {
        let id = local_peer_id();
        assert!(id.starts_with("12D3KooW"), "{id}");
        let bytes = bs58::decode(&id).into_vec().unwrap();
        assert_eq!(bytes.len(), 38);
    }
}
