//! The devnet against the new JSON-RPC interface spec
//! (<https://paritytech.github.io/json-rpc-interface-spec/>), method by method and event by
//! event, in raw JSON-RPC over a websocket: no client library between the test and what the
//! devnet sends, so every field and its absence is seen as a client would see it.

mod common;

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use common::{hex, unhex};
use futures::{SinkExt, StreamExt};
use parity_scale_codec::Decode;
use regpow_devnet::config::DEFAULT_FINALITY_LAG;
use regpow_devnet::{start, DevnetConfig, DevnetHandle};
use serde_json::{json, Value};
use sp_crypto_hashing::blake2_256;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one answer or event may take (blocks come every 200 ms).
const PATIENCE: Duration = Duration::from_secs(10);

/// `:code`, the well-known key of the runtime.
const CODE: &str = "0x3a636f6465";
/// `:heappages`.
const HEAP_PAGES: &str = "0x3a686561707061676573";

/// A raw JSON-RPC connection: requests by id, notifications kept in arrival order.
struct Raw {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    notifications: VecDeque<Value>,
}

impl Raw {
    async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self {
            ws,
            next_id: 0,
            notifications: VecDeque::new(),
        }
    }

    async fn receive(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the devnet answers")
                .expect("the connection is open")
                .unwrap();
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// The whole response object (`result` or `error`) to one request.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.ws
            .send(Message::text(request.to_string()))
            .await
            .unwrap();
        loop {
            let message = self.receive().await;
            if message["id"] == json!(id) {
                assert_eq!(message["jsonrpc"], "2.0");
                return message;
            }
            assert!(
                message.get("id").is_none(),
                "an answer to nothing: {message}"
            );
            self.notifications.push_back(message);
        }
    }

    /// The result of a request that must succeed.
    async fn result(&mut self, method: &str, params: Value) -> Value {
        let answer = self.call(method, params).await;
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The error code of a request that must fail.
    async fn error_code(&mut self, method: &str, params: Value) -> i64 {
        let answer = self.call(method, params).await;
        answer["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{method} succeeded: {answer}"))
    }

    /// The next notification of `subscription` (its `result`).
    async fn event(&mut self, subscription: &Value) -> Value {
        loop {
            let position = self
                .notifications
                .iter()
                .position(|n| n["params"]["subscription"] == *subscription);
            if let Some(i) = position {
                let notification = self.notifications.remove(i).unwrap();
                return notification["params"]["result"].clone();
            }
            let message = self.receive().await;
            assert!(
                message.get("id").is_none(),
                "an answer to nothing: {message}"
            );
            self.notifications.push_back(message);
        }
    }
}

async fn devnet() -> DevnetHandle {
    start(DevnetConfig {
        block_time: Duration::from_millis(200),
        ..DevnetConfig::default()
    })
    .await
    .unwrap()
}

/// What a follow subscription has been told: every block announced, the best and the
/// finalized ones, and the checks every event must pass against what came before.
#[derive(Default)]
struct FollowView {
    announced: HashSet<String>,
    finalized: Vec<String>,
    best: Option<String>,
}

impl FollowView {
    /// Checks one event against the spec and the view so far, and records it.
    fn see(&mut self, event: &Value, with_runtime: bool) {
        match event["event"].as_str().unwrap() {
            "newBlock" => {
                let hash = event["blockHash"].as_str().unwrap().to_string();
                let parent = event["parentBlockHash"].as_str().unwrap();
                assert!(
                    self.announced.contains(parent),
                    "newBlock before its parent: {event}"
                );
                assert!(self.announced.insert(hash), "announced twice: {event}");
                // newRuntime: present (null: unchanged) exactly with withRuntime.
                assert_eq!(event.get("newRuntime").is_some(), with_runtime, "{event}");
                if with_runtime {
                    assert!(event["newRuntime"].is_null(), "{event}");
                }
            }
            "bestBlockChanged" => {
                let hash = event["bestBlockHash"].as_str().unwrap();
                assert!(self.announced.contains(hash), "best not announced: {event}");
                self.best = Some(hash.to_string());
            }
            "finalized" => {
                for hash in event["finalizedBlockHashes"].as_array().unwrap() {
                    let hash = hash.as_str().unwrap();
                    assert!(self.announced.contains(hash), "final, unannounced: {event}");
                    self.finalized.push(hash.to_string());
                }
                for hash in event["prunedBlockHashes"].as_array().unwrap() {
                    let hash = hash.as_str().unwrap();
                    assert!(self.announced.remove(hash), "pruned, unannounced: {event}");
                }
            }
            other => panic!("unexpected follow event {other}: {event}"),
        }
    }
}

/// `initialized` first, the blocks above it and `bestBlockChanged` at once, then blocks in
/// order with
/// `newRuntime` exactly when the runtime is followed; the runtime object as the spec has
/// it and as `state_getRuntimeVersion` and `Core_version` say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_subscription_starts_and_goes_on_as_the_spec_says() {
    let devnet = devnet().await;
    let mut raw = Raw::connect(&devnet.url).await;
    let legacy = raw.result("state_getRuntimeVersion", json!([])).await;
    for with_runtime in [false, true] {
        let subscription = raw
            .result("chainHead_v1_follow", json!([with_runtime]))
            .await;
        assert!(subscription.is_string(), "{subscription}");
        let initialized = raw.event(&subscription).await;
        assert_eq!(initialized["event"], "initialized", "{initialized}");
        let finalized = initialized["finalizedBlockHashes"].as_array().unwrap();
        assert!(!finalized.is_empty());
        assert_eq!(
            initialized.get("finalizedBlockRuntime").is_some(),
            with_runtime,
            "{initialized}"
        );
        if with_runtime {
            let runtime = &initialized["finalizedBlockRuntime"];
            assert_eq!(runtime["type"], "valid");
            let spec = &runtime["spec"];
            for field in ["specName", "implName", "specVersion", "implVersion"] {
                assert_eq!(spec[field], legacy[field], "{field}");
            }
            assert_eq!(spec["transactionVersion"], legacy["transactionVersion"]);
            // `apis`: an object from each API's id to its version, the legacy list's pairs.
            let apis = spec["apis"].as_object().unwrap();
            let listed = legacy["apis"].as_array().unwrap();
            assert_eq!(apis.len(), listed.len());
            for pair in listed {
                assert_eq!(apis[pair[0].as_str().unwrap()], pair[1]);
            }
        }
        let mut view = FollowView::default();
        view.announced
            .extend(finalized.iter().map(|h| h.as_str().unwrap().to_string()));
        // At once: a newBlock for each block above the finalized one (the devnet finalizes
        // FINALITY_DEPTH behind the best), then the best block.
        let mut above = 0;
        loop {
            let event = raw.event(&subscription).await;
            view.see(&event, with_runtime);
            if event["event"] == "bestBlockChanged" {
                break;
            }
            assert_eq!(event["event"], "newBlock", "{event}");
            above += 1;
        }
        assert!(
            above <= DEFAULT_FINALITY_LAG,
            "{above} blocks above the finalized one"
        );
        for _ in 0..12 {
            let event = raw.event(&subscription).await;
            view.see(&event, with_runtime);
        }
        assert!(
            view.announced.len() > finalized.len(),
            "blocks were announced"
        );
        // The spec says null; polkadot-sdk's nodes answer jsonrpsee's `true`, as the
        // devnet does (clients ignore the value).
        let unfollowed = raw
            .result("chainHead_v1_unfollow", json!([subscription]))
            .await;
        assert!(
            matches!(unfollowed, Value::Null | Value::Bool(true)),
            "{unfollowed}"
        );
    }
    devnet.stop().await;
}

/// The waiting operation's events: items until `operationStorageDone`.
async fn storage_items(raw: &mut Raw, subscription: &Value, operation: &Value) -> Vec<Value> {
    let mut items = Vec::new();
    loop {
        let event = raw.event(subscription).await;
        match event["event"].as_str().unwrap() {
            "operationStorageItems" => {
                assert_eq!(event["operationId"], *operation);
                items.extend(event["items"].as_array().unwrap().iter().cloned());
            }
            "operationStorageDone" => {
                assert_eq!(event["operationId"], *operation);
                return items;
            }
            // Blocks go on being announced meanwhile.
            "newBlock" | "bestBlockChanged" | "finalized" => {}
            other => panic!("unexpected event {other}: {event}"),
        }
    }
}

/// The result of an operation that is not storage: its one event.
async fn operation_done(raw: &mut Raw, subscription: &Value, operation: &Value) -> Value {
    loop {
        let event = raw.event(subscription).await;
        if event["event"].as_str().unwrap().starts_with("operation") {
            assert_eq!(event["operationId"], *operation, "{event}");
            return event;
        }
    }
}

/// A node's well-known keys: `:code` answers a value and a hash wherever a client reads it
/// (chainHead storage, the legacy state methods), the hash of `:code` names the runtime the
/// runtime calls describe, and `:heappages` is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_code_is_in_the_state_and_names_the_runtime() {
    let devnet = devnet().await;
    let mut raw = Raw::connect(&devnet.url).await;
    let code = raw.result("state_getStorage", json!([CODE])).await;
    let code = unhex(code.as_str().expect(":code has a value"));
    assert_eq!(&code[..4], b"\0asm", "a WebAssembly module");
    let code_hash = raw.result("state_getStorageHash", json!([CODE])).await;
    assert_eq!(code_hash, json!(hex(&blake2_256(&code))));
    let size = raw.result("state_getStorageSize", json!([CODE])).await;
    assert_eq!(size, json!(code.len()));
    let heap_pages = raw.result("state_getStorage", json!([HEAP_PAGES])).await;
    let heap_pages = u64::decode(&mut &unhex(heap_pages.as_str().unwrap())[..]).unwrap();
    assert!(heap_pages > 0);

    let subscription = raw.result("chainHead_v1_follow", json!([true])).await;
    let initialized = raw.event(&subscription).await;
    let block = initialized["finalizedBlockHashes"][0].clone();
    let spec = initialized["finalizedBlockRuntime"]["spec"].clone();
    let started = raw
        .result(
            "chainHead_v1_storage",
            json!([subscription, block, [
                { "key": CODE, "type": "hash" },
                { "key": CODE, "type": "value" },
                { "key": HEAP_PAGES, "type": "value" },
            ], null]),
        )
        .await;
    assert_eq!(started["result"], "started", "{started}");
    let operation = started["operationId"].clone();
    let items = storage_items(&mut raw, &subscription, &operation).await;
    let of = |field: &str, key: &str| {
        items
            .iter()
            .find(|i| i["key"] == key && i.get(field).is_some())
            .map(|i| i[field].clone())
            .unwrap_or_else(|| panic!("no {field} of {key} in {items:?}"))
    };
    assert_eq!(of("hash", CODE), code_hash);
    assert_eq!(of("value", CODE), json!(hex(&code)));
    assert_eq!(
        of("value", HEAP_PAGES),
        json!(hex(&heap_pages.to_le_bytes()))
    );

    // The runtime the code's hash names answers Core_version with the version the follow
    // subscription announced, and the code embeds that same version.
    let started = raw
        .result(
            "chainHead_v1_call",
            json!([subscription, block, "Core_version", "0x"]),
        )
        .await;
    let operation = started["operationId"].clone();
    let done = operation_done(&mut raw, &subscription, &operation).await;
    assert_eq!(done["event"], "operationCallDone", "{done}");
    let output = unhex(done["output"].as_str().unwrap());
    let mut input = &output[..];
    let spec_name = String::decode(&mut input).unwrap();
    let impl_name = String::decode(&mut input).unwrap();
    let _authoring = u32::decode(&mut input).unwrap();
    let spec_version = u32::decode(&mut input).unwrap();
    assert_eq!(json!(spec_name), spec["specName"]);
    assert_eq!(json!(impl_name), spec["implName"]);
    assert_eq!(json!(spec_version), spec["specVersion"]);
    assert!(
        code.windows(output.len()).any(|w| w == output),
        ":code embeds the version Core_version answers"
    );
    devnet.stop().await;
}

/// Header, body and unpinning of a pinned block, and the spec's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_blocks_answer_and_unpin_as_the_spec_says() {
    let devnet = devnet().await;
    let mut raw = Raw::connect(&devnet.url).await;
    let subscription = raw.result("chainHead_v1_follow", json!([false])).await;
    let initialized = raw.event(&subscription).await;
    let block = initialized["finalizedBlockHashes"][0].clone();
    let header = raw
        .result("chainHead_v1_header", json!([subscription, block]))
        .await;
    let header = unhex(header.as_str().unwrap());
    assert_eq!(
        json!(hex(&blake2_256(&header))),
        block,
        "the header hashes to it"
    );
    let started = raw
        .result("chainHead_v1_body", json!([subscription, block]))
        .await;
    assert_eq!(started["result"], "started");
    let done = operation_done(&mut raw, &subscription, &started["operationId"].clone()).await;
    assert_eq!(done["event"], "operationBodyDone");
    assert!(done["value"].is_array());
    // A block never announced: -32801.
    let unknown = hex(&[0x11; 32]);
    assert_eq!(
        raw.error_code("chainHead_v1_header", json!([subscription, unknown]))
            .await,
        -32801
    );
    // Calls on a subscription started without the runtime: -32802.
    assert_eq!(
        raw.error_code(
            "chainHead_v1_call",
            json!([subscription, block, "Core_version", "0x"])
        )
        .await,
        -32802
    );
    // Duplicate hashes: -32804; then unpinned once, and a second unpin is -32801.
    assert_eq!(
        raw.error_code("chainHead_v1_unpin", json!([subscription, [block, block]]))
            .await,
        -32804
    );
    assert_eq!(
        raw.result("chainHead_v1_unpin", json!([subscription, block]))
            .await,
        Value::Null
    );
    assert_eq!(
        raw.error_code("chainHead_v1_unpin", json!([subscription, block]))
            .await,
        -32801
    );
    // `continue` and `stopOperation` of an operation id never given out: no effect.
    for method in ["chainHead_v1_continue", "chainHead_v1_stopOperation"] {
        assert_eq!(
            raw.result(method, json!([subscription, "999"])).await,
            Value::Null
        );
    }
    devnet.stop().await;
}

/// The limits a server may set and how the spec has it say so: a follow subscription too
/// many on one connection is refused (-32800), an operation past the ongoing ones answers
/// `limitReached`, storage items past the limit are counted in `discardedItems`, and a
/// follower that pins too many blocks gets `stop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_or_stop_as_the_spec_allows() {
    use regpow_devnet::rpc::chain_head::{
        MAX_FOLLOWS_PER_CONNECTION, MAX_ONGOING_OPERATIONS, MAX_PINNED_BLOCKS,
    };
    // Blocks only when the test produces them, so it decides what is pinned.
    let devnet = start(DevnetConfig {
        block_time: Duration::from_secs(3600),
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    for _ in 0..10 {
        devnet.node.produce_block();
    }
    let mut raw = Raw::connect(&devnet.url).await;
    let mut subscriptions = Vec::new();
    for _ in 0..MAX_FOLLOWS_PER_CONNECTION {
        subscriptions.push(raw.result("chainHead_v1_follow", json!([false])).await);
    }
    assert_eq!(
        raw.error_code("chainHead_v1_follow", json!([false])).await,
        -32800,
        "one follow too many on a connection"
    );
    // Another connection has its own.
    let mut other = Raw::connect(&devnet.url).await;
    let other_subscription = other.result("chainHead_v1_follow", json!([false])).await;
    assert_eq!(
        other.event(&other_subscription).await["event"],
        "initialized"
    );

    // Operations: descendants of System::BlockHash pause after 5 items, so each stays
    // ongoing until continued or stopped.
    let subscription = subscriptions[0].clone();
    let initialized = raw.event(&subscription).await;
    let block = initialized["finalizedBlockHashes"][0].clone();
    let hashes = hex(&regpow_devnet::storage::item_prefix("System", "BlockHash"));
    let query = json!([{ "key": hashes, "type": "descendantsValues" }]);
    let mut operations = Vec::new();
    for _ in 0..MAX_ONGOING_OPERATIONS {
        let started = raw
            .result(
                "chainHead_v1_storage",
                json!([subscription, block, query, null]),
            )
            .await;
        assert_eq!(started["result"], "started", "{started}");
        operations.push(started["operationId"].clone());
    }
    let mut waiting = HashSet::new();
    while waiting.len() < operations.len() {
        let event = raw.event(&subscription).await;
        if event["event"] == "operationWaitingForContinue" {
            waiting.insert(event["operationId"].to_string());
        }
    }
    let over = raw
        .result(
            "chainHead_v1_storage",
            json!([subscription, block, query, null]),
        )
        .await;
    assert_eq!(over, json!({ "result": "limitReached" }));
    // Stopping one makes room for one.
    raw.result(
        "chainHead_v1_stopOperation",
        json!([subscription, operations[0]]),
    )
    .await;
    let again = raw
        .result(
            "chainHead_v1_storage",
            json!([subscription, block, query, null]),
        )
        .await;
    assert_eq!(again["result"], "started", "{again}");

    // Items past the limit in one call are discarded and counted.
    let other_block = json!(hex(&devnet.node.lock().chain.finalized().hash));
    let number = hex(&regpow_devnet::storage::item_prefix("System", "Number"));
    let items: Vec<Value> = (0..MAX_ONGOING_OPERATIONS + 3)
        .map(|_| json!({ "key": number, "type": "value" }))
        .collect();
    let started = other
        .result(
            "chainHead_v1_storage",
            json!([other_subscription, other_block, items, null]),
        )
        .await;
    assert_eq!(started["result"], "started", "{started}");
    assert_eq!(started["discardedItems"], 3);

    // Pins: a follower that never unpins is stopped once it holds more than the limit.
    // Blocks come in batches the follower keeps up with, so only the pins can stop it.
    let mut produced = 0;
    let stopped = 'follow: loop {
        for _ in 0..32 {
            devnet.node.produce_block();
            produced += 1;
        }
        let head = json!(hex(&devnet.node.lock().chain.head().hash));
        loop {
            let event = other.event(&other_subscription).await;
            if event["event"] == "stop" {
                break 'follow produced;
            }
            if event["event"] == "bestBlockChanged" && event["bestBlockHash"] == head {
                break;
            }
        }
        assert!(produced <= MAX_PINNED_BLOCKS + 64, "never stopped");
    };
    // It started with the finalized block and those above it pinned: stopped in the
    // batch that took it past the limit, not before.
    let pinned_at_start = 1 + DEFAULT_FINALITY_LAG as usize;
    assert!(
        pinned_at_start + stopped > MAX_PINNED_BLOCKS
            && pinned_at_start + stopped - 32 <= MAX_PINNED_BLOCKS,
        "stopped after {stopped} blocks"
    );
    devnet.stop().await;
}

/// `chainSpec_v1`: the genesis hash is block 0's, the name and properties are the legacy
/// methods'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_spec_agrees_with_the_chain() {
    let devnet = devnet().await;
    let mut raw = Raw::connect(&devnet.url).await;
    let genesis = raw.result("chainSpec_v1_genesisHash", json!([])).await;
    assert_eq!(genesis, raw.result("chain_getBlockHash", json!([0])).await);
    assert_eq!(
        raw.result("chainSpec_v1_chainName", json!([])).await,
        raw.result("system_chain", json!([])).await
    );
    assert_eq!(
        raw.result("chainSpec_v1_properties", json!([])).await,
        raw.result("system_properties", json!([])).await
    );
    devnet.stop().await;
}

/// A re-organisation reaches a follower as a fork: the new branch's blocks from where it
/// leaves the announced chain, the new best block, and the losing branch pruned once a
/// block of the winner is final; never a `stop`. Every event checks against the view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_organisation_is_followed_as_a_fork() {
    let devnet = devnet().await;
    let mut raw = Raw::connect(&devnet.url).await;
    let subscription = raw.result("chainHead_v1_follow", json!([false])).await;
    let initialized = raw.event(&subscription).await;
    let mut view = FollowView::default();
    view.announced.extend(
        initialized["finalizedBlockHashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string()),
    );
    // Enough blocks for a re-organisation two deep.
    while devnet.node.lock().chain.head().header.number < 5 {
        let event = raw.event(&subscription).await;
        view.see(&event, false);
    }
    let orphaned: Vec<String> = {
        let ledger = devnet.node.lock();
        let head = u64::from(ledger.chain.head().header.number);
        (head - 1..=head)
            .map(|n| hex(&ledger.chain.hash_of(n).unwrap()))
            .collect()
    };
    devnet.node.reorg(2).unwrap();
    let mut pruned = Vec::new();
    let mut fork_seen = false;
    while pruned.len() < orphaned.len() {
        let event = raw.event(&subscription).await;
        assert_ne!(
            event["event"], "stop",
            "a re-organisation stopped the follower"
        );
        if event["event"] == "newBlock" {
            let parent = event["parentBlockHash"].as_str().unwrap().to_string();
            let hash = event["blockHash"].as_str().unwrap().to_string();
            // A block of the new branch whose parent is not the best announced before.
            fork_seen |= !orphaned.contains(&hash) && view.best.as_ref() != Some(&parent);
        }
        if event["event"] == "finalized" {
            for hash in event["prunedBlockHashes"].as_array().unwrap() {
                pruned.push(hash.as_str().unwrap().to_string());
            }
        }
        view.see(&event, false);
    }
    assert!(
        fork_seen,
        "the new branch was announced from its fork point"
    );
    pruned.sort();
    let mut expected = orphaned.clone();
    expected.sort();
    assert_eq!(pruned, expected, "the losing branch is pruned");
    devnet.stop().await;
}

/// `transaction_v1_broadcast` answers an operation id, `transaction_v1_stop` ends it (only on
/// its connection, once), and past the limit of live broadcasts on a connection the answer
/// is `null`, as the spec has a server at its limit answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_are_operations_with_a_limit() {
    let devnet = devnet().await;
    let mut raw = Raw::connect(&devnet.url).await;
    let mut other = Raw::connect(&devnet.url).await;
    // Bytes no pool accepts: a node keeps such a broadcast live until it is stopped.
    let junk = json!(["0x00"]);
    let limit = regpow_devnet::rpc::transaction::MAX_BROADCASTS_PER_CONNECTION;
    let mut ids = Vec::new();
    for _ in 0..limit {
        let id = raw.result("transaction_v1_broadcast", junk.clone()).await;
        assert!(id.is_string(), "{id}");
        ids.push(id);
    }
    assert_eq!(
        raw.result("transaction_v1_broadcast", junk.clone()).await,
        Value::Null,
        "past the limit"
    );
    // Another connection has its own; it cannot stop this one's.
    assert!(other
        .result("transaction_v1_broadcast", junk.clone())
        .await
        .is_string());
    assert_eq!(
        other
            .error_code("transaction_v1_stop", json!([ids[0]]))
            .await,
        -32602
    );
    assert_eq!(
        raw.result("transaction_v1_stop", json!([ids[0]])).await,
        Value::Null
    );
    assert_eq!(
        raw.error_code("transaction_v1_stop", json!([ids[0]])).await,
        -32602,
        "stopped once"
    );
    assert!(raw
        .result("transaction_v1_broadcast", junk)
        .await
        .is_string());
    devnet.stop().await;
}
