//! An unmodified subxt client against the devnet over a real websocket, with its legacy
//! backend and with its chain-head (new JSON-RPC spec) backend: it reads the
//! difficulty, a seal is mined with regpow's CPU backend, `pow_register` is signed by a dev
//! coldkey with subxt's own transaction extensions and watched to finality; the events and
//! storage are decoded by subxt against the real runtime-475 metadata.
//!
//! Also: every admission rule refused by the pool with the chain's custom code and, when
//! forced into a block, failing at dispatch with its exact error name; bad extrinsics
//! answered with RPC errors while blocks keep coming.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT, SubscriptionKind};
use jsonrpsee::rpc_params;
use jsonrpsee::types::SubscriptionId;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::{Compact, Decode, Encode};
use regpow_devnet::config::StatePruning;
use regpow_devnet::extrinsic::{Decoded, SignedExtrinsic};
use regpow_devnet::pow::PowRegister;
use regpow_devnet::{start, DevnetConfig, DevnetHandle, SubnetConfig};
use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use serde_json::{json, Value};
use subxt::backend::{ChainHeadBackend, LegacyBackend};
use subxt::config::SubstrateExtrinsicParamsBuilder as Params;
use subxt::dynamic;
use subxt::ext::futures::StreamExt;
use subxt::rpcs::client::{RawRpcFuture, RawRpcSubscription, RawValue, RpcClient, RpcClientT};
use subxt::SubstrateConfig;
use subxt_signer::sr25519::{dev, Keypair};

use common::{hex, mine, payload, signed, Client};

/// The effective difficulty of `netuid` at the head, read through subxt.
async fn effective_difficulty(api: &Client, netuid: u16) -> Difficulty {
    let at = api.at_current_block().await.unwrap();
    let read = |item: &'static str| {
        let at = &at;
        async move {
            at.storage()
                .fetch(
                    dynamic::storage::<(u16,), u64>("SubtensorModule", item),
                    (netuid,),
                )
                .await
                .unwrap()
                .decode()
                .unwrap()
        }
    };
    Difficulty::effective(
        read("Difficulty").await,
        read("MinDifficulty").await,
        read("MaxDifficulty").await,
    )
}

async fn uid_of(api: &Client, netuid: u16, hotkey: [u8; 32]) -> Option<u16> {
    let at = api.at_current_block().await.unwrap();
    at.storage()
        .try_fetch(
            dynamic::storage::<(u16, [u8; 32]), u16>("SubtensorModule", "Uids"),
            (netuid, hotkey),
        )
        .await
        .unwrap()
        .map(|v| v.decode().unwrap())
}

/// A devnet producing a block every 300 ms with PoW subnet 1 at difficulty 20,000.
async fn timed_devnet() -> DevnetHandle {
    start(DevnetConfig {
        block_time: Duration::from_millis(300),
        subnets: vec![SubnetConfig {
            difficulty: 20_000,
            ..SubnetConfig::new(1, true)
        }],
        ..DevnetConfig::default()
    })
    .await
    .unwrap()
}

/// Reads the difficulty, mines a seal for Charlie's hotkey, has Alice sign `pow_register`
/// and watch it to finality, then checks the event, `Uids` and the difficulty's rise.
async fn register_charlie(api: &Client) {
    let coldkey = dev::alice();
    let hotkey = dev::charlie().public_key().0;

    let difficulty = effective_difficulty(api, 1).await;
    assert!(difficulty.get() <= 20_000 && difficulty.get() > 19_000);
    let at = api.at_current_block().await.unwrap();
    let call = mine(
        1,
        at.block_number(),
        at.block_hash().0,
        hotkey,
        coldkey.public_key().0,
        difficulty,
    );

    let events = at
        .transactions()
        .sign_and_submit_then_watch_default(&payload(&call), &coldkey)
        .await
        .unwrap()
        .wait_for_finalized_success()
        .await
        .unwrap();
    let registered: Vec<(u16, u16, [u8; 32])> = events
        .iter()
        .map(|e| e.unwrap())
        .filter(|e| e.pallet_name() == "SubtensorModule" && e.event_name() == "NeuronRegistered")
        .map(|e| Decode::decode(&mut e.field_bytes()).unwrap())
        .collect();
    assert_eq!(registered, vec![(1, 0, hotkey)]);
    assert_eq!(uid_of(api, 1, hotkey).await, Some(0));

    // The difficulty rose by BurnIncreaseMult (1.26) after the registration.
    let after = effective_difficulty(api, 1).await.get();
    assert!(
        after > 24_000 && after <= 25_200,
        "difficulty after one registration: {after}"
    );
}

/// A subxt client on its legacy backend (`chain_*`, `state_*`, `author_*`). subxt's default
/// (combined) backend prefers `chainHead_v1`, whose finalized head follows the blocks
/// asynchronously; tests that produce blocks themselves and read the head right after need
/// the legacy backend's synchronous `chain_getFinalizedHead`.
async fn legacy_client(url: &str) -> Client {
    let rpc = RpcClient::from_insecure_url(url).await.unwrap();
    let backend = LegacyBackend::<SubstrateConfig>::builder().build(rpc);
    Client::from_backend(Arc::new(backend)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subxt_registers_a_hotkey_with_a_mined_seal() {
    let devnet = timed_devnet().await;
    let api = legacy_client(&devnet.url).await;
    register_charlie(&api).await;
    devnet.stop().await;
}

/// A jsonrpsee websocket client for subxt that records the methods subxt calls.
struct Recording {
    inner: WsClient,
    calls: Arc<Mutex<Vec<String>>>,
}

impl RpcClientT for Recording {
    fn request_raw<'a>(
        &'a self,
        method: &'a str,
        params: Option<Box<RawValue>>,
    ) -> RawRpcFuture<'a, Box<RawValue>> {
        self.calls.lock().unwrap().push(method.to_string());
        self.inner.request_raw(method, params)
    }

    fn subscribe_raw<'a>(
        &'a self,
        sub: &'a str,
        params: Option<Box<RawValue>>,
        unsub: &'a str,
    ) -> RawRpcFuture<'a, RawRpcSubscription> {
        self.calls.lock().unwrap().push(sub.to_string());
        self.inner.subscribe_raw(sub, params, unsub)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subxt_registers_through_the_chain_head_backend() {
    let devnet = timed_devnet().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let ws = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let rpc = RpcClient::new(Recording {
        inner: ws,
        calls: calls.clone(),
    });
    let (backend, mut driver) = ChainHeadBackend::<SubstrateConfig>::builder().build(rpc);
    let driver = tokio::spawn(async move {
        while let Some(step) = driver.next().await {
            if let Err(e) = step {
                eprintln!("chain-head driver: {e}");
            }
        }
    });
    let api = Client::from_backend(Arc::new(backend)).await.unwrap();
    register_charlie(&api).await;

    let mut called = calls.lock().unwrap().clone();
    called.sort();
    called.dedup();
    eprintln!("subxt's chain-head backend called: {called:?}");
    for method in [
        "chainHead_v1_follow",
        "chainHead_v1_header",
        "chainHead_v1_storage",
        "chainHead_v1_call",
        "chainSpec_v1_genesisHash",
        "transactionWatch_v1_submitAndWatch",
    ] {
        assert!(called.iter().any(|c| c == method), "{method} in {called:?}");
    }
    let legacy = ["chain_", "state_", "author_", "system_"];
    assert!(
        !called
            .iter()
            .any(|c| legacy.iter().any(|l| c.starts_with(l))),
        "only the new spec's methods: {called:?}"
    );
    driver.abort();
    devnet.stop().await;
}

/// A devnet whose blocks the test produces itself, so that what shares a block is certain;
/// every block is final as it is produced, so subxt's reads (at the finalized block) see
/// each block the test produces.
async fn manual_devnet() -> (DevnetHandle, Client, WsClient) {
    manual_devnet_lagging(0).await
}

/// [`manual_devnet`] with finality `lag` blocks behind the best.
async fn manual_devnet_lagging(lag: u32) -> (DevnetHandle, Client, WsClient) {
    let devnet = start(DevnetConfig {
        block_time: Duration::from_secs(3600),
        subnets: vec![
            SubnetConfig {
                difficulty: 64,
                max_registrations_per_block: 1,
                ..SubnetConfig::new(1, true)
            },
            SubnetConfig::new(2, false),
            SubnetConfig {
                difficulty: 64,
                ..SubnetConfig::new(3, true)
            },
        ],
        finality_lag: lag,
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    for _ in 0..8 {
        devnet.node.produce_block();
    }
    let api = legacy_client(&devnet.url).await;
    let rpc = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    (devnet, api, rpc)
}

/// `author_submitExtrinsic`'s answer: the hash, or (code, data).
async fn submit(rpc: &WsClient, bytes: &[u8]) -> Result<String, (i32, String)> {
    rpc.request::<String, _>("author_submitExtrinsic", rpc_params![hex(bytes)])
        .await
        .map_err(|e| match e {
            jsonrpsee::core::client::Error::Call(object) => (
                object.code(),
                object
                    .data()
                    .map(|d| d.get().trim_matches('"').to_string())
                    .unwrap_or_else(|| object.message().to_string()),
            ),
            other => panic!("transport error: {other}"),
        })
}

/// Forces `bytes` into the next block without the pool (as if another node's pool had let it
/// through) and returns the error name of its `ExtrinsicFailed`, decoded by subxt.
async fn dispatch_error(devnet: &DevnetHandle, api: &Client, bytes: &[u8]) -> String {
    let Ok(Decoded::Signed(xt)) = SignedExtrinsic::decode(bytes) else {
        panic!("not a signed extrinsic");
    };
    let hash = {
        let mut ledger = devnet.node.lock();
        let (block, _) = ledger.chain.produce_block(vec![*xt]);
        block.hash
    };
    let at = api.at_block(subxt::utils::H256(hash)).await.unwrap();
    let events = at.events().fetch().await.unwrap();
    for event in events.iter() {
        let event = event.unwrap();
        if event.event_name() == "ExtrinsicFailed" {
            let error =
                subxt::error::DispatchError::decode_from(event.field_bytes(), at.metadata())
                    .unwrap();
            return error.to_string();
        }
    }
    panic!("no ExtrinsicFailed in the block");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_admission_rule_is_refused_with_its_code_and_error() {
    let (devnet, api, rpc) = manual_devnet().await;
    let alice = dev::alice();
    let cold = alice.public_key().0;
    let difficulty = Difficulty::new(64).unwrap();
    let head = |api: &Client| {
        let api = api.clone();
        async move {
            let at = api.at_current_block().await.unwrap();
            (at.block_number(), at.block_hash().0)
        }
    };
    let node = devnet.node.clone();
    let hash_of_block = move |n: u64| node.lock().chain.hash_of(n).unwrap();

    // Register hotkey H on subnet 1 through the pool, so that later rules have something
    // to refuse.
    let hot = dev::charlie().public_key().0;
    let (n, h) = head(&api).await;
    let first = mine(1, n, h, hot, cold, difficulty);
    let mut nonce = 0;
    submit(&rpc, &signed(&api, &first, &alice, nonce).await)
        .await
        .unwrap();
    nonce += 1;
    devnet.node.produce_block();
    assert_eq!(uid_of(&api, 1, hot).await, Some(0));

    let fresh = dev::dave().public_key().0;
    let bob = dev::bob().public_key().0;
    let work_block = first.work_block;
    type Make = Box<dyn Fn(u64, [u8; 32]) -> PowRegister>;
    let valid = move |netuid: u16, hotkey: [u8; 32], coldkey: [u8; 32]| -> Make {
        Box::new(move |n, h| mine(netuid, n, h, hotkey, coldkey, difficulty))
    };
    // Each case is built on the head at its turn (forcing it into a block moves the head).
    let cases: Vec<(&str, Make, Keypair, u8, &str)> = vec![
        (
            // Rule 8 first, while the first registration's work block is still in the window.
            "reused work block",
            Box::new({
                let hash_of_block = hash_of_block.clone();
                move |_, _| {
                    mine(
                        3,
                        work_block,
                        hash_of_block(work_block),
                        hot,
                        cold,
                        difficulty,
                    )
                }
            }),
            alice.clone(),
            255,
            "InvalidWorkBlock",
        ),
        (
            "root netuid",
            valid(0, fresh, cold),
            alice.clone(),
            255,
            "RegistrationNotPermittedOnRootSubnet",
        ),
        (
            "unknown subnet",
            valid(9, fresh, cold),
            alice.clone(),
            3,
            "SubnetNotExists",
        ),
        (
            "PoW disabled",
            valid(2, fresh, cold),
            alice.clone(),
            255,
            "SubNetRegistrationDisabled",
        ),
        (
            "already registered",
            valid(1, hot, cold),
            alice.clone(),
            255,
            "HotKeyAlreadyRegisteredInSubNet",
        ),
        (
            "stale work block",
            Box::new({
                let hash_of_block = hash_of_block.clone();
                move |n, _| mine(1, n - 5, hash_of_block(n - 5), fresh, cold, difficulty)
            }),
            alice.clone(),
            255,
            "InvalidWorkBlock",
        ),
        (
            "future work block",
            Box::new(move |n, _| mine(1, n + 1, [7; 32], fresh, cold, difficulty)),
            alice.clone(),
            255,
            "InvalidWorkBlock",
        ),
        (
            "wrong seal",
            Box::new(move |n, h| {
                let mut call = mine(1, n, h, fresh, cold, difficulty);
                call.work[0] ^= 1;
                call
            }),
            alice.clone(),
            255,
            "InvalidSeal",
        ),
        (
            "too little work",
            Box::new(move |n, h| {
                let challenge = Challenge {
                    netuid: 1,
                    block_hash: h,
                    hotkey: PublicKey(fresh),
                    coldkey: PublicKey(cold),
                };
                let nonce = (0u64..)
                    .find(|&k| !reference_seal(&challenge.prefix(), k).meets(&difficulty.bound()))
                    .unwrap();
                PowRegister {
                    netuid: 1,
                    work_block: n,
                    nonce,
                    work: reference_seal(&challenge.prefix(), nonce).0,
                    hotkey: fresh,
                }
            }),
            alice.clone(),
            255,
            "InvalidDifficulty",
        ),
        (
            "hotkey owned by another coldkey",
            valid(3, hot, bob),
            dev::bob(),
            25,
            "NonAssociatedColdKey",
        ),
    ];
    for (what, make, signer, code, error) in cases {
        let (n, h) = head(&api).await;
        let call = make(n, h);
        let signer_nonce = if signer.public_key().0 == cold {
            nonce
        } else {
            0
        };
        let bytes = signed(&api, &call, &signer, signer_nonce).await;
        assert_eq!(
            submit(&rpc, &bytes).await,
            Err((1010, format!("Custom error: {code}"))),
            "{what}: pool answer"
        );
        assert_eq!(
            dispatch_error(&devnet, &api, &bytes).await,
            format!("Pallet error: SubtensorModule::{error}"),
            "{what}: dispatch error"
        );
        if signer.public_key().0 == cold {
            nonce += 1; // the forced block used the nonce
        }
    }
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_registration_in_a_full_block_fails_with_too_many_registrations() {
    let (devnet, api, rpc) = manual_devnet().await;
    let difficulty = Difficulty::new(64).unwrap();
    let at = api.at_current_block().await.unwrap();
    let (n, h) = (at.block_number(), at.block_hash().0);
    let mut watches = Vec::new();
    for (coldkey, hotkey) in [
        (dev::alice(), dev::charlie().public_key().0),
        (dev::bob(), dev::dave().public_key().0),
    ] {
        let call = mine(1, n, h, hotkey, coldkey.public_key().0, difficulty);
        let mut tx = at.transactions();
        let progress = tx
            .sign_and_submit_then_watch_default(&payload(&call), &coldkey)
            .await
            .unwrap();
        watches.push(progress);
    }
    assert_eq!(
        devnet.node.lock().tx_pool.pending().len(),
        2,
        "both admitted: the head's block had no registrations"
    );
    devnet.node.produce_block();
    let mut outcomes = Vec::new();
    for progress in watches {
        outcomes.push(progress.wait_for_finalized_success().await.map(|_| ()));
    }
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0].as_ref().err());
    let failure = outcomes[1].as_ref().unwrap_err().to_string();
    assert!(
        failure.contains("SubtensorModule::TooManyRegistrationsThisBlock"),
        "{failure}"
    );

    // Now the head's block is full: the pool refuses a third with the "bad request" code.
    let call = mine(
        1,
        n + 1,
        devnet.node.lock().chain.head().hash,
        dev::eve().public_key().0,
        dev::eve().public_key().0,
        difficulty,
    );
    let bytes = signed(&api, &call, &dev::eve(), 0).await;
    assert_eq!(
        submit(&rpc, &bytes).await,
        Err((1010, "Custom error: 255".into()))
    );
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_extrinsics_get_rpc_errors_and_blocks_keep_coming() {
    let devnet = start(DevnetConfig {
        block_time: Duration::from_millis(300),
        subnets: vec![SubnetConfig {
            difficulty: 16,
            ..SubnetConfig::new(1, true)
        }],
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    let api = Client::from_insecure_url(&devnet.url).await.unwrap();
    let rpc = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let alice = dev::alice();
    let at = api.at_current_block().await.unwrap();
    let call = mine(
        1,
        at.block_number(),
        at.block_hash().0,
        dev::ferdie().public_key().0,
        alice.public_key().0,
        Difficulty::new(16).unwrap(),
    );
    let good = signed(&api, &call, &alice, 0).await;

    let (code, data) = submit(&rpc, &[0xde, 0xad, 0xbe, 0xef]).await.unwrap_err();
    assert_eq!(code, 1001, "{data}");
    assert!(data.starts_with("Extrinsic has invalid format"), "{data}");

    let mut forged = good.clone();
    let signature_byte = 1 + 1 + 1 + 32 + 1 + 10; // prefix, version, address, scheme, ...
    forged[signature_byte] ^= 0x40;
    assert_eq!(
        submit(&rpc, &forged).await,
        Err((1010, "Transaction has a bad signature".into()))
    );

    // Signed by Alice with another account's key as the sender: the signature cannot verify.
    let mut wrong_sender = good.clone();
    wrong_sender[4..36].copy_from_slice(&dev::bob().public_key().0);
    assert_eq!(
        submit(&rpc, &wrong_sender).await,
        Err((1010, "Transaction has a bad signature".into()))
    );

    // The zero account (the identity point) with the signature (R = identity, s = 0)
    // verifies for any message: CheckNonZeroSender refuses it.
    let mut zero_sender = good.clone();
    zero_sender[4..36].copy_from_slice(&[0; 32]);
    let mut forged_signature = [0u8; 64];
    forged_signature[63] = 0x80; // schnorrkel's signature marker bit
    zero_sender[37..101].copy_from_slice(&forged_signature);
    assert_eq!(
        submit(&rpc, &zero_sender).await,
        Err((1010, "Invalid signing address".into()))
    );

    // A nonce ahead of the account's waits in the pool's future queue, as on a node: it is
    // taken, and the next index does not count it.
    let ahead = signed(&api, &call, &alice, 5).await;
    assert_eq!(
        submit(&rpc, &ahead).await,
        Ok(hex(&sp_crypto_hashing::blake2_256(&ahead)))
    );
    assert_eq!(devnet.node.lock().tx_pool.future_len(), 1);

    let hash = submit(&rpc, &good).await.unwrap();
    assert_eq!(hash, hex(&sp_crypto_hashing::blake2_256(&good)));
    assert_eq!(
        submit(&rpc, &good).await.unwrap_err().0,
        1013,
        "already imported"
    );
    let next: u32 = rpc
        .request(
            "system_accountNextIndex",
            rpc_params![PublicKey(alice.public_key().0).to_ss58(42)],
        )
        .await
        .unwrap();
    assert_eq!(next, 1, "the pooled transaction counts");

    // Once included, the same nonce is outdated.
    let start_block = devnet.node.lock().chain.head().header.number;
    while devnet.node.lock().chain.head().header.number < start_block + 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = signed(&api, &call, &alice, 0).await;
    assert_eq!(
        submit(&rpc, &again).await,
        Err((1010, "Transaction is outdated".into()))
    );
    let number: u32 = {
        let head: serde_json::Value = rpc.request("chain_getHeader", rpc_params![]).await.unwrap();
        u32::from_str_radix(
            head["number"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap()
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later: serde_json::Value = rpc.request("chain_getHeader", rpc_params![]).await.unwrap();
    let later = u32::from_str_radix(
        later["number"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert!(later > number, "blocks keep coming after bad submissions");
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_apis_answer_what_subxt_asks() {
    let (devnet, api, rpc) = manual_devnet().await;
    let alice = dev::alice();
    let at = api.at_current_block().await.unwrap();
    let mut tx = at.transactions();
    assert_eq!(
        tx.account_nonce(&alice.public_key().into()).await.unwrap(),
        0
    );

    // TaggedTransactionQueue_validate_transaction: valid, with the PoW registration tag and
    // the work window as longevity; refused with the pool's custom code.
    let call = mine(
        1,
        at.block_number(),
        at.block_hash().0,
        dev::ferdie().public_key().0,
        alice.public_key().0,
        Difficulty::new(64).unwrap(),
    );
    let good = tx
        .create_signed(&payload(&call), &alice, Params::new().immortal().build())
        .await
        .unwrap();
    match good.validate().await.unwrap() {
        subxt::transactions::ValidationResult::Valid(valid) => {
            assert_eq!(
                valid.longevity, 5,
                "work on the head stays valid 5 more blocks"
            );
            assert!(valid.requires.is_empty());
            assert_eq!(valid.provides.len(), 2);
        }
        other => panic!("expected valid, got {other:?}"),
    }
    // TransactionPaymentApi_query_info: subtensor's Balance is a u64 (subxt's
    // partial_fee_estimate assumes u128 and cannot read it, from subtensor either).
    let mut query = good.encoded().to_vec();
    (good.encoded().len() as u32).encode_to(&mut query);
    let raw: String = rpc
        .request(
            "state_call",
            rpc_params!["TransactionPaymentApi_query_info", hex(&query)],
        )
        .await
        .unwrap();
    let bytes = hex::decode(raw.trim_start_matches("0x")).unwrap();
    type Info = (Compact<u64>, Compact<u64>, u8, u64);
    let (_, _, class, fee): Info = Decode::decode(&mut &bytes[..]).unwrap();
    assert_eq!((class, fee), (0, 0), "normal class, fee-free");
    let mut on_root = call;
    on_root.netuid = 9;
    let bad = tx
        .create_signed(&payload(&on_root), &alice, Params::new().immortal().build())
        .await
        .unwrap();
    assert!(matches!(
        bad.validate().await.unwrap(),
        subxt::transactions::ValidationResult::Invalid(
            subxt::transactions::TransactionInvalid::Custom(3)
        )
    ));

    // Core_version decodes as sp_version::RuntimeVersion.
    let raw: String = rpc
        .request("state_call", rpc_params!["Core_version", "0x"])
        .await
        .unwrap();
    type Version = (String, String, u32, u32, u32, Vec<([u8; 8], u32)>, u32, u8);
    let bytes = hex::decode(raw.trim_start_matches("0x")).unwrap();
    let version: Version = Decode::decode(&mut &bytes[..]).unwrap();
    assert_eq!(
        (version.0.as_str(), version.3, version.6),
        ("node-subtensor", 475, 1)
    );

    // System::Account of a funded development account, read through subxt.
    let account = at
        .storage()
        .fetch(
            dynamic::storage::<([u8; 32],), subxt::dynamic::Value>("System", "Account"),
            (alice.public_key().0,),
        )
        .await
        .unwrap()
        .decode()
        .unwrap()
        .to_string();
    assert!(
        account.contains("free: (1000000000000000)"),
        "1,000,000 TAO in rao: {account}"
    );
    devnet.stop().await;
}

#[test]
fn dev_accounts_are_substrates() {
    use regpow_devnet::accounts::dev_account;
    for (name, pair) in [
        ("Alice", dev::alice()),
        ("bob", dev::bob()),
        ("//Charlie", dev::charlie()),
        ("Dave", dev::dave()),
        ("Eve", dev::eve()),
        ("Ferdie", dev::ferdie()),
    ] {
        assert_eq!(dev_account(name), Some(pair.public_key().0), "{name}");
    }
    assert_eq!(dev_account("Mallory"), None);
}

/// A `chainHead_v1_follow` subscription and its (string) id.
async fn follow_head(rpc: &WsClient, with_runtime: bool) -> (Subscription<Value>, String) {
    let follow: Subscription<Value> = rpc
        .subscribe(
            "chainHead_v1_follow",
            rpc_params![with_runtime],
            "chainHead_v1_unfollow",
        )
        .await
        .unwrap();
    let SubscriptionKind::Subscription(SubscriptionId::Str(id)) = follow.kind().clone() else {
        panic!("a string subscription id");
    };
    let id = id.to_string();
    (follow, id)
}

/// The next notification of a jsonrpsee subscription (within 10 s).
async fn next_event(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .expect("the subscription is open")
        .unwrap()
}

/// A jsonrpsee call's error code.
fn code_of<T: std::fmt::Debug>(result: Result<T, jsonrpsee::core::client::Error>) -> i32 {
    match result {
        Err(jsonrpsee::core::client::Error::Call(object)) => object.code(),
        other => panic!("expected a call error, got {other:?}"),
    }
}

/// The events names of a run of follow notifications.
async fn event_names(sub: &mut Subscription<Value>, count: usize) -> (Vec<String>, Vec<Value>) {
    let mut events = Vec::new();
    for _ in 0..count {
        events.push(next_event(sub).await);
    }
    let names = events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    (names, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_head_follow_announces_pins_reads_and_unpins() {
    let devnet = start(DevnetConfig {
        block_time: Duration::from_secs(3600),
        state_pruning: StatePruning::Keep(2),
        // Every block final as it is produced: one `finalized` per block below.
        finality_lag: 0,
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    for _ in 0..8 {
        devnet.node.produce_block();
    }
    let rpc = WsClientBuilder::default().build(&devnet.url).await.unwrap();
    let genesis: String = rpc
        .request("chainSpec_v1_genesisHash", rpc_params![])
        .await
        .unwrap();
    let block_zero: String = rpc
        .request("chain_getBlockHash", rpc_params![0])
        .await
        .unwrap();
    assert_eq!(genesis, block_zero);
    let name: String = rpc
        .request("chainSpec_v1_chainName", rpc_params![])
        .await
        .unwrap();
    assert_eq!(name, "regpow devnet");
    let properties: Value = rpc
        .request("chainSpec_v1_properties", rpc_params![])
        .await
        .unwrap();
    assert_eq!(properties["ss58Format"], 42);

    let (mut follow, id) = follow_head(&rpc, true).await;
    let first = devnet.node.lock().chain.head().hash;
    let init = next_event(&mut follow).await;
    assert_eq!(init["event"], "initialized");
    assert_eq!(init["finalizedBlockHashes"], json!([hex(&first)]));
    let spec = &init["finalizedBlockRuntime"]["spec"];
    assert_eq!(init["finalizedBlockRuntime"]["type"], "valid");
    assert_eq!(
        (spec["specName"].as_str(), spec["specVersion"].as_u64()),
        (Some("node-subtensor"), Some(475))
    );
    assert_eq!(
        spec["apis"]["0xd2bc9897eed08f15"], 3,
        "TaggedTransactionQueue v3"
    );

    // The best block at once after `initialized`, as the spec has it.
    let (names, events) = event_names(&mut follow, 1).await;
    assert_eq!(names, ["bestBlockChanged"]);
    assert_eq!(events[0]["bestBlockHash"], hex(&first));

    let new = devnet.node.produce_block().hash;
    let (names, events) = event_names(&mut follow, 3).await;
    assert_eq!(names, ["newBlock", "bestBlockChanged", "finalized"]);
    assert_eq!(events[0]["blockHash"], hex(&new));
    assert_eq!(events[0]["parentBlockHash"], hex(&first));
    assert_eq!(events[0]["newRuntime"], Value::Null);
    assert_eq!(events[1]["bestBlockHash"], hex(&new));
    assert_eq!(events[2]["finalizedBlockHashes"], json!([hex(&new)]));
    assert_eq!(events[2]["prunedBlockHashes"], json!([]));

    let header: String = rpc
        .request("chainHead_v1_header", rpc_params![&id, hex(&new)])
        .await
        .unwrap();
    let expected = devnet.node.lock().chain.head().header.encode();
    assert_eq!(header, hex(&expected));

    // Storage at the new block: a value, then System::BlockHash's 9 entries (blocks 0..=8)
    // five at a time, with a pause for chainHead_v1_continue.
    let number_key = regpow_devnet::storage::item_prefix("System", "Number");
    let hashes_prefix = regpow_devnet::storage::item_prefix("System", "BlockHash");
    let started: Value = rpc
        .request(
            "chainHead_v1_storage",
            rpc_params![
                &id,
                hex(&new),
                json!([
                    { "key": hex(&number_key), "type": "value" },
                    { "key": hex(&hashes_prefix), "type": "descendantsValues" },
                ]),
                Value::Null
            ],
        )
        .await
        .unwrap();
    assert_eq!(started["result"], "started");
    assert_eq!(started["discardedItems"], 0);
    let operation = started["operationId"].as_str().unwrap().to_string();
    let (names, events) = event_names(&mut follow, 3).await;
    assert_eq!(
        names,
        [
            "operationStorageItems",
            "operationStorageItems",
            "operationWaitingForContinue"
        ]
    );
    assert!(events
        .iter()
        .all(|e| e["operationId"] == operation.as_str()));
    assert_eq!(
        events[0]["items"],
        json!([{ "key": hex(&number_key), "value": hex(&9u32.encode()) }])
    );
    assert_eq!(events[1]["items"].as_array().unwrap().len(), 5);
    let () = rpc
        .request("chainHead_v1_continue", rpc_params![&id, &operation])
        .await
        .unwrap();
    let (names, events) = event_names(&mut follow, 2).await;
    assert_eq!(names, ["operationStorageItems", "operationStorageDone"]);
    assert_eq!(events[0]["items"].as_array().unwrap().len(), 4);

    // Body and a runtime call at the pinned block.
    let started: Value = rpc
        .request("chainHead_v1_body", rpc_params![&id, hex(&new)])
        .await
        .unwrap();
    let body = next_event(&mut follow).await;
    assert_eq!(body["event"], "operationBodyDone");
    assert_eq!(body["operationId"], started["operationId"]);
    assert_eq!(body["value"], json!([]));
    let started: Value = rpc
        .request(
            "chainHead_v1_call",
            rpc_params![&id, hex(&new), "Metadata_metadata_versions", "0x"],
        )
        .await
        .unwrap();
    let called = next_event(&mut follow).await;
    assert_eq!(called["event"], "operationCallDone");
    assert_eq!(called["operationId"], started["operationId"]);
    assert_eq!(called["output"], hex(&vec![14u32].encode()));

    // The first block stays readable while pinned, after the chain pruned its state.
    for _ in 0..3 {
        devnet.node.produce_block();
    }
    // Blocks produced at once may be announced together: read until the head is final.
    let head = hex(&devnet.node.lock().chain.head().hash);
    loop {
        let event = next_event(&mut follow).await;
        if event["event"] == "finalized"
            && event["finalizedBlockHashes"]
                .as_array()
                .unwrap()
                .contains(&json!(head))
        {
            break;
        }
    }
    assert!(devnet.node.lock().chain.state_at(&first).is_err(), "pruned");
    let started: Value = rpc
        .request(
            "chainHead_v1_storage",
            rpc_params![
                &id,
                hex(&first),
                json!([{ "key": hex(&number_key), "type": "hash" }])
            ],
        )
        .await
        .unwrap();
    let (names, events) = event_names(&mut follow, 2).await;
    assert_eq!(names, ["operationStorageItems", "operationStorageDone"]);
    assert_eq!(events[0]["operationId"], started["operationId"]);
    let hash = sp_crypto_hashing::blake2_256(&8u32.encode());
    assert_eq!(events[0]["items"][0]["hash"], hex(&hash));

    // Unpinning: once, then the block is unknown to the subscription; duplicates refused.
    let () = rpc
        .request("chainHead_v1_unpin", rpc_params![&id, hex(&first)])
        .await
        .unwrap();
    let header = rpc
        .request::<Option<String>, _>("chainHead_v1_header", rpc_params![&id, hex(&first)])
        .await;
    assert_eq!(code_of(header), -32801);
    let again = rpc
        .request::<(), _>("chainHead_v1_unpin", rpc_params![&id, json!([hex(&first)])])
        .await;
    assert_eq!(code_of(again), -32801);
    let twice = rpc
        .request::<(), _>(
            "chainHead_v1_unpin",
            rpc_params![&id, json!([hex(&new), hex(&new)])],
        )
        .await;
    assert_eq!(code_of(twice), -32804);
    let () = rpc
        .request("chainHead_v1_unpin", rpc_params![&id, json!([hex(&new)])])
        .await
        .unwrap();

    // An unknown subscription: header null, operations limitReached.
    let none: Option<String> = rpc
        .request("chainHead_v1_header", rpc_params!["nope", hex(&new)])
        .await
        .unwrap();
    assert_eq!(none, None);
    let limited: Value = rpc
        .request("chainHead_v1_body", rpc_params!["nope", hex(&new)])
        .await
        .unwrap();
    assert_eq!(limited, json!({ "result": "limitReached" }));

    // Without the runtime, calls are refused.
    let (mut bare, bare_id) = follow_head(&rpc, false).await;
    let init = next_event(&mut bare).await;
    assert!(init.get("finalizedBlockRuntime").is_none());
    let head = init["finalizedBlockHashes"][0]
        .as_str()
        .unwrap()
        .to_string();
    let refused = rpc
        .request::<Value, _>(
            "chainHead_v1_call",
            rpc_params![bare_id.to_string(), head, "Core_version", "0x"],
        )
        .await;
    assert_eq!(code_of(refused), -32802);
    devnet.stop().await;
}

/// Ferdie's hotkey on subnet 1 (difficulty 64) mined on block `number` with this hash,
/// signed by Alice with nonce 0: the extrinsic's bytes.
async fn ferdie_registered_by_alice(api: &Client, number: u64, hash: [u8; 32]) -> Vec<u8> {
    let alice = dev::alice();
    let call = mine(
        1,
        number,
        hash,
        dev::ferdie().public_key().0,
        alice.public_key().0,
        Difficulty::new(64).unwrap(),
    );
    signed(api, &call, &alice, 0).await
}

/// A re-organisation that orphans a registration's block: as on a node, its watcher hears
/// `retracted`, the transaction is pooled again (`ready`), included on the new branch and
/// final only there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_organised_registration_is_pooled_again_and_lands_on_the_new_branch() {
    let (devnet, api, rpc) = manual_devnet_lagging(2).await;
    let hotkey = dev::ferdie().public_key().0;
    // Work on the block below the fork point: the seal stays valid on the new branch.
    let (number, hash) = {
        let ledger = devnet.node.lock();
        let head = ledger.chain.head();
        (u64::from(head.header.number), head.hash)
    };
    let bytes = ferdie_registered_by_alice(&api, number, hash).await;
    let mut watch: Subscription<Value> = rpc
        .subscribe(
            "author_submitAndWatchExtrinsic",
            rpc_params![hex(&bytes)],
            "author_unwatchExtrinsic",
        )
        .await
        .unwrap();
    assert_eq!(next_event(&mut watch).await, json!("ready"));
    let orphaned = devnet.node.produce_block().hash;
    assert_eq!(
        next_event(&mut watch).await,
        json!({ "inBlock": hex(&orphaned) })
    );
    devnet.node.reorg(1).unwrap();
    assert_eq!(
        next_event(&mut watch).await,
        json!({ "retracted": hex(&orphaned) })
    );
    assert_eq!(next_event(&mut watch).await, json!("ready"));
    assert_eq!(devnet.node.lock().tx_pool.pending(), vec![bytes.clone()]);
    let landed = devnet.node.produce_block().hash;
    assert_eq!(
        next_event(&mut watch).await,
        json!({ "inBlock": hex(&landed) })
    );
    devnet.node.produce_block();
    devnet.node.produce_block();
    assert_eq!(
        next_event(&mut watch).await,
        json!({ "finalized": hex(&landed) })
    );
    assert_eq!(uid_of(&api, 1, hotkey).await, Some(0));
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_watch_v1_sees_the_registration_included_and_finalized() {
    // Finality two blocks behind the best: `finalized` comes two blocks after inclusion.
    let (devnet, api, rpc) = manual_devnet_lagging(2).await;
    let at = api.at_current_block().await.unwrap();
    let hotkey = dev::ferdie().public_key().0;
    let bytes = ferdie_registered_by_alice(&api, at.block_number(), at.block_hash().0).await;
    let mut watch: Subscription<Value> = rpc
        .subscribe(
            "transactionWatch_v1_submitAndWatch",
            rpc_params![hex(&bytes)],
            "transactionWatch_v1_unwatch",
        )
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut watch).await,
        json!({ "event": "validated" })
    );
    let block = hex(&devnet.node.produce_block().hash);
    let at_block = json!({ "hash": block, "index": "0" });
    assert_eq!(
        next_event(&mut watch).await,
        json!({ "event": "bestChainBlockIncluded", "block": at_block })
    );
    devnet.node.produce_block();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), watch.next())
            .await
            .is_err(),
        "not final one block later"
    );
    devnet.node.produce_block();
    assert_eq!(
        next_event(&mut watch).await,
        json!({ "event": "finalized", "block": at_block })
    );
    assert_eq!(uid_of(&api, 1, hotkey).await, Some(0));

    // The same transaction again: its nonce is used, so it is invalid.
    let mut again: Subscription<Value> = rpc
        .subscribe(
            "transactionWatch_v1_submitAndWatch",
            rpc_params![hex(&bytes)],
            "transactionWatch_v1_unwatch",
        )
        .await
        .unwrap();
    let refused = next_event(&mut again).await;
    assert_eq!(refused["event"], "invalid", "{refused}");

    // transaction_v1: an operation id (live even for a refused transaction, as a node's
    // retrying broadcast), stoppable once.
    let operation: String = rpc
        .request("transaction_v1_broadcast", rpc_params![hex(&bytes)])
        .await
        .unwrap();
    let () = rpc
        .request("transaction_v1_stop", rpc_params![&operation])
        .await
        .unwrap();
    let stop = rpc
        .request::<(), _>("transaction_v1_stop", rpc_params![&operation])
        .await;
    assert_eq!(code_of(stop), -32602, "already stopped");
    devnet.stop().await;
}
