//! The devnet over a real websocket, with a JSON-RPC client: blocks, heads, storage under
//! real keys, runtime version and the real runtime-475 metadata.

use std::time::Duration;

use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use parity_scale_codec::Decode;
use regpow_devnet::chain::Header;
use regpow_devnet::node::METADATA;
use regpow_devnet::storage::netuid_key;
use regpow_devnet::{start, DevnetConfig};
use serde_json::Value;

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.trim_start_matches("0x")).unwrap()
}

fn config() -> DevnetConfig {
    DevnetConfig {
        block_time: Duration::from_millis(150),
        ..DevnetConfig::default()
    }
}

fn header_from_json(v: &Value) -> Header {
    let h = |k: &str| -> [u8; 32] { unhex(v[k].as_str().unwrap()).try_into().unwrap() };
    Header {
        parent_hash: h("parentHash"),
        number: u32::from_str_radix(v["number"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap(),
        state_root: h("stateRoot"),
        extrinsics_root: h("extrinsicsRoot"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_follows_heads_and_reads_storage() {
    let devnet = start(config()).await.unwrap();
    assert!(devnet.url.starts_with("ws://127.0.0.1:"));
    let client = WsClientBuilder::default().build(&devnet.url).await.unwrap();

    let chain: String = client.request("system_chain", rpc_params![]).await.unwrap();
    assert_eq!(chain, "regpow devnet");
    let props: Value = client
        .request("system_properties", rpc_params![])
        .await
        .unwrap();
    assert_eq!(props["ss58Format"], 42);
    assert_eq!(props["tokenSymbol"], "TAO");
    let version: Value = client
        .request("state_getRuntimeVersion", rpc_params![])
        .await
        .unwrap();
    assert_eq!(version["specVersion"], 475);
    assert_eq!(version["transactionVersion"], 1);

    // Heads arrive in order, each hashing (blake2-256 of SCALE) to the chain's block hash
    // and linking to its parent.
    let mut heads = client
        .subscribe::<Value, _>(
            "chain_subscribeNewHeads",
            rpc_params![],
            "chain_unsubscribeNewHeads",
        )
        .await
        .unwrap();
    let mut previous: Option<Header> = None;
    for _ in 0..4 {
        let head = header_from_json(&heads.next().await.unwrap().unwrap());
        let hash: String = client
            .request("chain_getBlockHash", rpc_params![head.number])
            .await
            .unwrap();
        assert_eq!(hash, hex(&head.hash()));
        if let Some(prev) = &previous {
            assert_eq!(head.number, prev.number + 1);
            assert_eq!(head.parent_hash, prev.hash());
        }
        previous = Some(head);
    }

    // Storage under the real keys: difficulty decays from 10000, netuid 2 has PoW off.
    let raw: String = client
        .request(
            "state_getStorage",
            rpc_params![hex(&netuid_key("Difficulty", 1))],
        )
        .await
        .unwrap();
    let difficulty = u64::decode(&mut &unhex(&raw)[..]).unwrap();
    assert!(difficulty < 10_000 && difficulty > 9_800, "{difficulty}");
    let pow2: String = client
        .request(
            "state_getStorage",
            rpc_params![hex(&netuid_key("NetworkPowRegistrationAllowed", 2))],
        )
        .await
        .unwrap();
    assert_eq!(pow2, "0x00");
    let missing: Option<String> = client
        .request(
            "state_getStorage",
            rpc_params![hex(&netuid_key("Difficulty", 77))],
        )
        .await
        .unwrap();
    assert_eq!(missing, None);

    // The metadata is subtensor runtime 475's, byte for byte, both ways a client asks.
    let metadata: String = client
        .request("state_getMetadata", rpc_params![])
        .await
        .unwrap();
    assert_eq!(unhex(&metadata), METADATA);
    let at_version: String = client
        .request(
            "state_call",
            rpc_params!["Metadata_metadata_at_version", "0x0e000000"],
        )
        .await
        .unwrap();
    let decoded = Option::<Vec<u8>>::decode(&mut &unhex(&at_version)[..]).unwrap();
    assert_eq!(decoded.as_deref(), Some(METADATA));

    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_errors_and_blocks_keep_coming() {
    let devnet = start(config()).await.unwrap();
    let client = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let bad: Result<Value, _> = client
        .request("state_getStorage", rpc_params!["0xzz"])
        .await;
    assert!(bad.unwrap_err().to_string().contains("bad hex"));
    let unknown: Result<Value, _> = client
        .request("state_getStorage", rpc_params!["0x00", hex(&[7u8; 32])])
        .await;
    let unknown = unknown.unwrap_err().to_string();
    assert!(
        unknown.contains("4003") && unknown.contains("UnknownBlock: Header was not found"),
        "{unknown}"
    );
    let nope: Result<Value, _> = client
        .request("state_call", rpc_params!["Nope_nope", "0x"])
        .await;
    assert!(nope.is_err());
    let before: Value = client
        .request("chain_getHeader", rpc_params![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after: Value = client
        .request("chain_getHeader", rpc_params![])
        .await
        .unwrap();
    assert!(header_from_json(&after).number > header_from_json(&before).number);
    devnet.stop().await;
}
