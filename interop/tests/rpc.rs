//! The devnet over a real websocket, with a JSON-RPC client: blocks, heads, storage under
//! real keys, runtime version and the real runtime-475 metadata; every method `rpc_methods`
//! lists answering a valid request, each alias as its method; storage subscriptions; state
//! pruning.

mod common;

use std::time::Duration;

use common::{hex, unhex, Client};
use jsonrpsee::core::client::{
    ClientT, Error as ClientError, Subscription, SubscriptionClientT, SubscriptionKind,
};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::Decode;
use regpow_devnet::chain::Header;
use regpow_devnet::config::RpcMethods;
use regpow_devnet::config::StatePruning;
use regpow_devnet::runtime::METADATA;
use regpow_devnet::storage::{item_prefix, netuid_key};
use regpow_devnet::{start, DevnetConfig, DevnetHandle, SubnetConfig};
use serde_json::Value;
use subxt_signer::sr25519::dev;

/// The devnet as a node run with `--rpc-methods unsafe`: every method is walked here.
fn config() -> DevnetConfig {
    DevnetConfig {
        block_time: Duration::from_millis(150),
        rpc_methods: RpcMethods::Unsafe,
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

/// A devnet that produces blocks only when the test asks (1 h block time), at block 3, with
/// a low-difficulty PoW subnet 1.
async fn manual_devnet(pruning: StatePruning) -> DevnetHandle {
    let devnet = start(DevnetConfig {
        block_time: Duration::from_secs(3600),
        subnets: vec![SubnetConfig {
            difficulty: 64,
            ..SubnetConfig::new(1, true)
        }],
        state_pruning: pruning,
        rpc_methods: RpcMethods::Unsafe,
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    for _ in 0..3 {
        devnet.node.produce_block();
    }
    devnet
}

/// How a method of `rpc_methods` is exercised by the sweep.
enum Exercise {
    /// A plain call with these params.
    Call(Vec<Value>),
    /// A subscription with these params, unsubscribed with the given method.
    Subscribe(Vec<Value>, &'static str),
    /// An unsubscribe method, called with the id of a subscription made with this method.
    Unsubscribe(&'static str, Vec<Value>),
}

fn params(values: &[Value]) -> jsonrpsee::core::params::ArrayParams {
    let mut p = jsonrpsee::core::params::ArrayParams::new();
    for v in values {
        p.insert(v).unwrap();
    }
    p
}

/// The JSON-RPC error code of a failed call (panics on a transport error).
fn code_of(e: ClientError) -> (i32, String) {
    match e {
        ClientError::Call(object) => match object.data() {
            Some(data) => (
                object.code(),
                format!("{}: {}", object.message(), data.get()),
            ),
            None => (object.code(), object.message().to_string()),
        },
        other => panic!("transport error: {other}"),
    }
}

async fn subscribe(
    client: &WsClient,
    method: &str,
    args: &[Value],
    unsubscribe: &str,
) -> Result<Subscription<Value>, (i32, String)> {
    client
        .subscribe::<Value, _>(method, params(args), unsubscribe)
        .await
        .map_err(code_of)
}

fn subscription_id(sub: &Subscription<Value>) -> Value {
    match sub.kind() {
        SubscriptionKind::Subscription(id) => serde_json::to_value(id).unwrap(),
        _ => panic!("not a subscription"),
    }
}

/// Aliases a polkadot-sdk node serves, with the method each stands for.
const ALIASES: &[(&str, &str)] = &[
    ("account_nextIndex", "system_accountNextIndex"),
    ("chain_getHead", "chain_getBlockHash"),
    ("chain_getFinalisedHead", "chain_getFinalizedHead"),
    ("subscribe_newHead", "chain_subscribeNewHeads"),
    ("chain_subscribeNewHead", "chain_subscribeNewHeads"),
    ("unsubscribe_newHead", "chain_unsubscribeNewHeads"),
    ("chain_unsubscribeNewHead", "chain_unsubscribeNewHeads"),
    (
        "chain_subscribeFinalisedHeads",
        "chain_subscribeFinalizedHeads",
    ),
    (
        "chain_unsubscribeFinalisedHeads",
        "chain_unsubscribeFinalizedHeads",
    ),
    ("state_getStorageAt", "state_getStorage"),
    ("state_getStorageHashAt", "state_getStorageHash"),
    ("state_getStorageSizeAt", "state_getStorageSize"),
    ("state_getKeysPagedAt", "state_getKeysPaged"),
    ("chain_getRuntimeVersion", "state_getRuntimeVersion"),
    ("state_callAt", "state_call"),
    (
        "chain_subscribeRuntimeVersion",
        "state_subscribeRuntimeVersion",
    ),
    (
        "chain_unsubscribeRuntimeVersion",
        "state_unsubscribeRuntimeVersion",
    ),
];

/// A valid request for every method the sweep knows, given signed extrinsics to submit
/// (each used once) and the head.
fn exercise(method: &str, head: &str, extrinsics: &mut Vec<String>) -> Option<Exercise> {
    use serde_json::json;
    use Exercise::*;
    let number_key = hex(&item_prefix("System", "Number"));
    let account_prefix = hex(&item_prefix("System", "Account"));
    let alice = hex(&dev::alice().public_key().0);
    let alice_ss58 = regpow_rules::PublicKey(dev::alice().public_key().0).to_ss58(42);
    let mut extrinsic = || json!(extrinsics.pop().expect("enough signed extrinsics"));
    let unsubscribe = |of: &'static str| Unsubscribe(of, vec![]);
    Some(match method {
        "rpc_methods"
        | "system_chain"
        | "system_name"
        | "system_version"
        | "system_chainType"
        | "system_properties"
        | "system_health"
        | "system_peers"
        | "system_nodeRoles"
        | "system_localPeerId"
        | "system_localListenAddresses"
        | "system_syncState"
        | "chain_getFinalizedHead"
        | "author_pendingExtrinsics" => Call(vec![]),
        "system_accountNextIndex" => Call(vec![json!(alice_ss58)]),
        "chain_getBlockHash" => Call(vec![json!(1)]),
        "chain_getHeader" | "chain_getBlock" | "state_getMetadata" | "state_getRuntimeVersion" => {
            Call(vec![json!(head)])
        }
        "state_getStorage" | "state_getStorageHash" | "state_getStorageSize" => {
            Call(vec![json!(number_key), json!(head)])
        }
        "state_getKeys" | "state_getPairs" => Call(vec![json!(account_prefix), json!(head)]),
        "state_getKeysPaged" => Call(vec![
            json!(account_prefix),
            json!(3),
            Value::Null,
            json!(head),
        ]),
        "state_queryStorage" => Call(vec![json!([number_key]), json!(head), json!(head)]),
        "state_queryStorageAt" => Call(vec![json!([number_key]), json!(head)]),
        "state_call" => Call(vec![
            json!("AccountNonceApi_account_nonce"),
            json!(alice),
            json!(head),
        ]),
        "author_submitExtrinsic" => Call(vec![extrinsic()]),
        "author_removeExtrinsic" => Call(vec![json!([{ "extrinsic": extrinsic() }])]),
        "payment_queryInfo" | "payment_queryFeeDetails" => {
            let x = extrinsic();
            extrinsics.push(x.as_str().unwrap().to_string());
            Call(vec![x, json!(head)])
        }
        "chain_subscribeNewHeads" => Subscribe(vec![], "chain_unsubscribeNewHeads"),
        "chain_subscribeFinalizedHeads" => Subscribe(vec![], "chain_unsubscribeFinalizedHeads"),
        "chain_subscribeAllHeads" => Subscribe(vec![], "chain_unsubscribeAllHeads"),
        "state_subscribeRuntimeVersion" => Subscribe(vec![], "state_unsubscribeRuntimeVersion"),
        "state_subscribeStorage" => {
            Subscribe(vec![json!([number_key])], "state_unsubscribeStorage")
        }
        "author_submitAndWatchExtrinsic" => Subscribe(vec![extrinsic()], "author_unwatchExtrinsic"),
        "chain_unsubscribeNewHeads" => unsubscribe("chain_subscribeNewHeads"),
        "chain_unsubscribeFinalizedHeads" => unsubscribe("chain_subscribeFinalizedHeads"),
        "chain_unsubscribeAllHeads" => unsubscribe("chain_subscribeAllHeads"),
        "state_unsubscribeRuntimeVersion" => unsubscribe("state_subscribeRuntimeVersion"),
        "state_unsubscribeStorage" => {
            Unsubscribe("state_subscribeStorage", vec![json!([number_key])])
        }
        "author_unwatchExtrinsic" => {
            Unsubscribe("author_submitAndWatchExtrinsic", vec![extrinsic()])
        }
        "chainSpec_v1_chainName" | "chainSpec_v1_genesisHash" | "chainSpec_v1_properties" => {
            Call(vec![])
        }
        "chainHead_v1_follow" => Subscribe(vec![json!(true)], "chainHead_v1_unfollow"),
        "chainHead_v1_unfollow" => Unsubscribe("chainHead_v1_follow", vec![json!(true)]),
        // Operations on a subscription that is not (or no longer) there: `null` headers,
        // `limitReached` operations, and nothing to continue, stop or unpin.
        "chainHead_v1_header" | "chainHead_v1_body" | "chainHead_v1_unpin" => {
            Call(vec![json!("gone"), json!(head)])
        }
        "chainHead_v1_call" => Call(vec![
            json!("gone"),
            json!(head),
            json!("Core_version"),
            json!("0x"),
        ]),
        "chainHead_v1_storage" => Call(vec![
            json!("gone"),
            json!(head),
            json!([{ "key": number_key, "type": "value" }]),
        ]),
        "chainHead_v1_continue" | "chainHead_v1_stopOperation" => {
            Call(vec![json!("gone"), json!("1")])
        }
        // Refused transactions (the registrations would fill the block the sweep's pool
        // goes into): a broadcast still answers an operation id, live until stopped (ids
        // count from 1), and a watch reports `invalid`.
        "transaction_v1_broadcast" => Call(vec![json!("0x00")]),
        "transaction_v1_stop" => Call(vec![json!("broadcast-1")]),
        "transactionWatch_v1_submitAndWatch" => {
            Subscribe(vec![json!("0x00")], "transactionWatch_v1_unwatch")
        }
        "transactionWatch_v1_unwatch" => {
            Unsubscribe("transactionWatch_v1_submitAndWatch", vec![extrinsic()])
        }
        other => {
            let (_, method) = ALIASES.iter().find(|(alias, _)| *alias == other)?;
            return exercise(method, head, extrinsics);
        }
    })
}

/// Signed `pow_register`s from distinct dev accounts for distinct hotkeys (all valid at
/// once in the pool).
async fn signed_registrations(devnet: &DevnetHandle, api: &Client, count: usize) -> Vec<String> {
    let signers = [
        dev::alice(),
        dev::bob(),
        dev::charlie(),
        dev::dave(),
        dev::eve(),
        dev::ferdie(),
    ];
    let mut out = Vec::new();
    for (i, signer) in signers.iter().cycle().take(count).enumerate() {
        let nonce = (i / signers.len()) as u64;
        let hotkey = sp_hotkey(i as u8);
        out.push(hex(&common::registration(
            devnet, api, 1, hotkey, signer, nonce,
        )
        .await));
    }
    // Taken with `pop`: each signer's lower nonce first.
    out.reverse();
    out
}

fn sp_hotkey(i: u8) -> [u8; 32] {
    let mut key = [0x42u8; 32];
    key[0] = i;
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_method_answers_a_valid_request_and_aliases_agree() {
    let devnet = manual_devnet(StatePruning::default()).await;
    let api = Client::from_insecure_url(&devnet.url).await.unwrap();
    let client = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let head = hex(&devnet.node.lock().chain.head().hash);
    let listed: Value = client.request("rpc_methods", rpc_params![]).await.unwrap();
    let methods: Vec<String> = serde_json::from_value(listed["methods"].clone()).unwrap();
    let mut sorted = methods.clone();
    sorted.sort();
    assert_eq!(methods, sorted, "rpc_methods lists its methods sorted");
    for (alias, method) in ALIASES {
        assert!(methods.iter().any(|m| m == alias), "{alias} is served");
        assert!(methods.iter().any(|m| m == method), "{method} is served");
    }
    let mut extrinsics = signed_registrations(&devnet, &api, 12).await;
    let unknown: Vec<&String> = methods
        .iter()
        .filter(|m| exercise(m, &head, &mut vec!["0x00".into(); 4]).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "the sweep has no request for {unknown:?}"
    );
    let mut subscriptions = Vec::new();
    for method in &methods {
        let answer = match exercise(method, &head, &mut extrinsics).unwrap() {
            Exercise::Call(args) => client
                .request::<Value, _>(method, params(&args))
                .await
                .map_err(code_of),
            Exercise::Subscribe(args, unsubscribe) => {
                subscribe(&client, method, &args, unsubscribe)
                    .await
                    .map(|sub| {
                        subscriptions.push((method.clone(), sub));
                        Value::Bool(true)
                    })
            }
            Exercise::Unsubscribe(subscribe_with, args) => {
                let sub = subscribe(&client, subscribe_with, &args, method)
                    .await
                    .unwrap_or_else(|e| panic!("{subscribe_with}: {e:?}"));
                let mut sub = sub;
                // The first notification comes once the server has recorded the
                // subscription (jsonrpsee answers its id a moment before).
                let first = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
                assert!(
                    matches!(first, Ok(Some(Ok(_)))),
                    "{subscribe_with}: {first:?}"
                );
                let id = subscription_id(&sub);
                let done = client
                    .request::<Value, _>(method, params(&[id]))
                    .await
                    .map_err(code_of);
                assert_eq!(
                    done,
                    Ok(Value::Bool(true)),
                    "{method} ends the subscription"
                );
                done
            }
        };
        assert!(answer.is_ok(), "{method} answered {answer:?}");
    }
    // Each subscription announced something (its first notification).
    for (method, sub) in subscriptions.iter_mut() {
        let first = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
        assert!(
            matches!(first, Ok(Some(Ok(_)))),
            "{method}: a first notification: {first:?}"
        );
    }

    // Aliases answer exactly what their method answers (blocks are produced by hand, so
    // nothing moves between the two calls).
    let mut spare = signed_registrations(&devnet, &api, 2).await;
    for (alias, method) in ALIASES {
        let (Some(Exercise::Call(args)), Some(Exercise::Call(_))) = (
            exercise(method, &head, &mut spare.clone()),
            exercise(alias, &head, &mut spare.clone()),
        ) else {
            // Subscriptions: the first notification of each is the same.
            if let Some(Exercise::Subscribe(args, unsubscribe)) =
                exercise(method, &head, &mut spare)
            {
                let mut a = subscribe(&client, method, &args, unsubscribe)
                    .await
                    .unwrap();
                let mut b = subscribe(&client, alias, &args, unsubscribe).await.unwrap();
                let a = a.next().await.unwrap().unwrap();
                let b = b.next().await.unwrap().unwrap();
                assert_eq!(a, b, "{alias} notifies as {method}");
            }
            continue;
        };
        let a = client.request::<Value, _>(method, params(&args)).await;
        let b = client.request::<Value, _>(alias, params(&args)).await;
        assert_eq!(a.unwrap(), b.unwrap(), "{alias} answers as {method}");
    }

    // The payment RPC's shapes, as pallet-transaction-payment serialises them.
    let xt = spare.pop().unwrap();
    let info: Value = client
        .request("payment_queryInfo", rpc_params![xt.clone()])
        .await
        .unwrap();
    assert_eq!(info["class"], "normal");
    assert_eq!(info["partialFee"], "0");
    assert!(info["weight"]["ref_time"].as_u64().unwrap() > 0);
    let details: Value = client
        .request("payment_queryFeeDetails", rpc_params![xt])
        .await
        .unwrap();
    assert_eq!(details, serde_json::json!({ "inclusionFee": null }));

    // What the pool holds, and taking a transaction out of it: first the sweep's
    // registrations go into blocks (three fit one), then a block with room.
    for _ in 0..5 {
        devnet.node.produce_block();
    }
    let ferdie = dev::ferdie();
    let nonce = devnet
        .node
        .lock()
        .chain
        .account(&ferdie.public_key().0)
        .nonce;
    let pooled =
        hex(&common::registration(&devnet, &api, 1, sp_hotkey(99), &ferdie, nonce.into()).await);
    let hash: String = client
        .request("author_submitExtrinsic", rpc_params![pooled.clone()])
        .await
        .unwrap();
    let pending: Vec<String> = client
        .request("author_pendingExtrinsics", rpc_params![])
        .await
        .unwrap();
    assert_eq!(pending, vec![pooled]);
    let removed: Vec<String> = client
        .request(
            "author_removeExtrinsic",
            rpc_params![serde_json::json!([{ "hash": hash }])],
        )
        .await
        .unwrap();
    assert_eq!(removed, vec![hash]);
    let pending: Vec<String> = client
        .request("author_pendingExtrinsics", rpc_params![])
        .await
        .unwrap();
    assert!(pending.is_empty());
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_subscription_sees_the_difficulty_rise_in_the_registration_block() {
    let devnet = manual_devnet(StatePruning::default()).await;
    let api = Client::from_insecure_url(&devnet.url).await.unwrap();
    let client = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let key = hex(&netuid_key("Difficulty", 1));
    let mut sub = subscribe(
        &client,
        "state_subscribeStorage",
        &[serde_json::json!([key])],
        "state_unsubscribeStorage",
    )
    .await
    .unwrap();
    let initial = sub.next().await.unwrap().unwrap();
    let head = hex(&devnet.node.lock().chain.head().hash);
    assert_eq!(initial["block"], head.as_str());
    assert_eq!(initial["changes"][0][0], key.as_str());
    let current: String = client
        .request("state_getStorage", rpc_params![key.clone()])
        .await
        .unwrap();
    assert_eq!(initial["changes"][0][1], current.as_str());

    let bytes = common::registration(&devnet, &api, 1, sp_hotkey(1), &dev::alice(), 0).await;
    let _: String = client
        .request("author_submitExtrinsic", rpc_params![hex(&bytes)])
        .await
        .unwrap();
    let included = devnet.node.produce_block();
    let registered = included.events.iter().any(|r| {
        matches!(
            r.event,
            regpow_devnet::events::Event::NeuronRegistered { .. }
        )
    });
    assert!(
        registered,
        "the registration is in block {}",
        included.header.number
    );
    // The difficulty decays every block too: the notification of the registration's block
    // is the one wanted.
    let change = loop {
        let change = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("a notification")
            .unwrap()
            .unwrap();
        if change["block"] == hex(&included.hash).as_str() {
            break change;
        }
    };
    assert_eq!(change["block"], hex(&included.hash).as_str());
    let raised: String = client
        .request(
            "state_getStorage",
            rpc_params![key.clone(), hex(&included.hash)],
        )
        .await
        .unwrap();
    assert_eq!(change["changes"], serde_json::json!([[key, raised]]));
    let raised = u64::from_le_bytes(unhex(&raised).try_into().unwrap());
    assert!(
        raised > 64,
        "the difficulty rose after a registration: {raised}"
    );
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_state_is_discarded_but_headers_and_bodies_remain() {
    let devnet = manual_devnet(StatePruning::Keep(4)).await;
    for _ in 0..7 {
        devnet.node.produce_block();
    }
    let client = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let number_key = hex(&item_prefix("System", "Number"));
    let hash_of = |n: u64| hex(&devnet.node.lock().chain.block(n).unwrap().hash);
    // Head is block 10: the newest 4 final blocks and every block above them keep their
    // state, as a node prunes only final state.
    let finalized = u64::from(devnet.node.lock().chain.finalized().header.number);
    assert!(finalized < 10, "finality lags the best block");
    let oldest_kept = finalized - 3;
    for n in oldest_kept..=10u64 {
        let value: String = client
            .request(
                "state_getStorage",
                rpc_params![number_key.clone(), hash_of(n)],
            )
            .await
            .unwrap();
        assert_eq!(unhex(&value), (n as u32).to_le_bytes());
    }
    for method in ["state_getStorage", "state_getStorageAt"] {
        let old = client
            .request::<Value, _>(
                method,
                rpc_params![number_key.clone(), hash_of(oldest_kept - 1)],
            )
            .await
            .map_err(code_of)
            .unwrap_err();
        assert_eq!(
            old,
            (
                4003,
                format!(
                    "UnknownBlock: State already discarded for {}",
                    hash_of(oldest_kept - 1)
                )
            )
        );
    }
    let old_call = client
        .request::<Value, _>("state_call", rpc_params!["Core_version", "0x", hash_of(2)])
        .await
        .map_err(code_of)
        .unwrap_err();
    assert_eq!(old_call.0, 4003);
    // Old blocks keep their hashes, headers and bodies.
    let genesis: String = client
        .request("chain_getBlockHash", rpc_params![0])
        .await
        .unwrap();
    assert_eq!(genesis, hash_of(0));
    let header: Value = client
        .request("chain_getHeader", rpc_params![hash_of(2)])
        .await
        .unwrap();
    assert_eq!(header["number"], "0x2");
    let block: Value = client
        .request("chain_getBlock", rpc_params![hash_of(2)])
        .await
        .unwrap();
    assert_eq!(block["block"]["header"], header);
    devnet.stop().await;

    // archive keeps everything.
    let archive = manual_devnet(StatePruning::Archive).await;
    for _ in 0..300 {
        archive.node.produce_block();
    }
    let client = WsClientBuilder::default()
        .build(&archive.url)
        .await
        .unwrap();
    let genesis = hex(&archive.node.lock().chain.block(0).unwrap().hash);
    let value: String = client
        .request("state_getStorage", rpc_params![number_key, genesis])
        .await
        .unwrap();
    assert_eq!(unhex(&value), 0u32.to_le_bytes());
    archive.stop().await;
}

/// A re-organisation as the legacy head subscriptions see it, as a node importing the fork
/// reports it: every fork block, each the child of the one before, on
/// `chain_subscribeAllHeads`; only the new best block on `chain_subscribeNewHeads`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_organisation_reaches_all_heads_block_by_block_and_new_heads_once() {
    let devnet = manual_devnet(StatePruning::Keep(16)).await;
    let client = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let mut all: Subscription<Value> = client
        .subscribe(
            "chain_subscribeAllHeads",
            rpc_params![],
            "chain_unsubscribeAllHeads",
        )
        .await
        .unwrap();
    let mut new: Subscription<Value> = client
        .subscribe(
            "chain_subscribeNewHeads",
            rpc_params![],
            "chain_unsubscribeNewHeads",
        )
        .await
        .unwrap();
    let head = next_header(&mut all).await;
    assert_eq!(head, next_header(&mut new).await, "both start at the head");
    assert_eq!(head["number"], "0x3");
    let fork_parent = devnet.node.lock().chain.block(2).unwrap().hash;
    let new_head = devnet.node.reorg(1).unwrap();
    let hash_of = |n: u64| hex(&devnet.node.lock().chain.hash_of(n).unwrap());
    let first = next_header(&mut all).await;
    let second = next_header(&mut all).await;
    assert_eq!(first["number"], "0x3");
    assert_eq!(first["parentHash"], hex(&fork_parent));
    assert_eq!(second["number"], "0x4");
    assert_eq!(second["parentHash"], hash_of(3), "the fork block before it");
    let best = next_header(&mut new).await;
    assert_eq!(best["number"], "0x4", "only the new best block: {best}");
    assert_eq!(best["parentHash"], hash_of(3));
    assert_eq!(hash_of(4), hex(&new_head.hash));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), new.next())
            .await
            .is_err(),
        "nothing more on new heads"
    );
    devnet.stop().await;
}

/// The next header a head subscription sends (within 10 s).
async fn next_header(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a header within 10 s")
        .expect("the subscription is open")
        .unwrap()
}
