//! `regpow register` against a hostile node: the devnet behind the fault proxy, which rewrites
//! what the node says. Each scenario must end in a refusal or a bounded, correct outcome,
//! with nothing signed that the user did not mean.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::proxy::{Intercept, Proxy, Rewrite};
use common::{
    devnet_with, error_lines, output, register_command, stderr, subnet, HOTKEY,
    UNREACHABLE_DIFFICULTY,
};
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use parity_scale_codec::{Decode, Encode};
use serde_json::{json, Value};

/// `0x…` hex of `bytes`.
fn hex_of(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn bytes_of(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

/// Runtime metadata with SubtensorModule moved from pallet 7 to pallet 5: the one-byte
/// change that made regpow sign `pallet 5, call 152` when it encoded from the metadata.
fn move_subtensor_module(metadata: &[u8]) -> Vec<u8> {
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut &metadata[..]).unwrap();
    let RuntimeMetadata::V14(v14) = &mut prefixed.1 else {
        panic!("the devnet serves V14");
    };
    let pallet = v14
        .pallets
        .iter_mut()
        .find(|p| p.name == "SubtensorModule")
        .unwrap();
    assert_eq!(pallet.index, 7);
    pallet.index = 5;
    prefixed.encode()
}

/// Rewrites every way a client can fetch the metadata (`state_getMetadata`, and the
/// `Metadata_metadata*` runtime calls, which answer `Option<Vec<u8>>` / `Vec<u8>`).
fn forged_metadata() -> Rewrite {
    Rewrite(Arc::new(
        |method: &str, params: &Value, result: &mut Value| match (method, params[0].as_str()) {
            ("state_getMetadata", _) => {
                *result = json!(hex_of(&move_subtensor_module(&bytes_of(result))));
            }
            ("state_call", Some("Metadata_metadata_at_version")) => {
                let answer = Option::<Vec<u8>>::decode(&mut &bytes_of(result)[..]).unwrap();
                let forged = answer.map(|metadata| move_subtensor_module(&metadata));
                *result = json!(hex_of(&forged.encode()));
            }
            ("state_call", Some("Metadata_metadata")) => {
                let metadata = Vec::<u8>::decode(&mut &bytes_of(result)[..]).unwrap();
                *result = json!(hex_of(&move_subtensor_module(&metadata).encode()));
            }
            _ => {}
        },
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_that_moves_the_call_is_refused_before_anything_is_signed() {
    // Seals are easy here: without the check, a submission would follow within a second.
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 1_000)]).await;
    let proxy = Proxy::start(&devnet.url).await;
    proxy.faults(|f| f.rewrite = Some(forged_metadata()));
    let out = output(register_command(
        &proxy.url,
        "1",
        "//Alice",
        &["--max-seconds", "30"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(
        errors[0].contains("pallet 5 call 152") && errors[0].contains("refusing to sign"),
        "{}",
        errors[0]
    );
    assert_eq!(
        proxy.submissions(),
        0,
        "nothing may be signed for that node"
    );
    assert!(devnet.node.lock().chain.state.subnets[&1].uids.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_with_escape_sequences_reaches_the_terminal_as_visible_text() {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 1_000)]).await;
    let proxy = Proxy::start(&devnet.url).await;
    let hostile = json!({
        "code": 1010,
        "message": "Invalid Transaction\u{1b}]0;pwned\u{7}",
        "data": "\u{1b}[2K\rregistered: uid 0\n\u{9b}31m"
    });
    proxy.faults(|f| {
        f.answer_with_error.insert(
            "author_submitAndWatchExtrinsic".into(),
            vec![hostile; 1_000],
        );
    });
    // Text output, as a user at a terminal reads it.
    let out = output({
        let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
        command
            .args(["register", "--network", &proxy.url, "--netuid", "1"])
            .args(["--backend", "cpu", "--threads", "1", "--max-seconds", "30"])
            .args(["--coldkey-uri", "//Alice", "--hotkey", HOTKEY])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    })
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(proxy.submissions() >= 1);
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{name} carries a control character: {text:?}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("registered")),
            "{name} shows a registration that did not happen: {text}"
        );
    }
    // What the node said is still shown, written out.
    assert!(stderr(&out).contains("\\u{1b}[2K"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnection_that_reaches_another_chain_is_refused() {
    let devnet = devnet_with(
        Duration::from_millis(300),
        vec![subnet(1, true, UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let proxy = Proxy::start(&devnet.url).await;
    let child = register_command(&proxy.url, "1", "//Alice", &["--max-seconds", "60"])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // From now on the endpoint serves a chain with another block 0.
    proxy.faults(|f| {
        f.rewrite = Some(Rewrite(Arc::new(
            |method: &str, params: &Value, result: &mut Value| {
                let block_zero = matches!(params[0].as_u64(), Some(0))
                    || matches!(params[0].as_str(), Some("0x0" | "0x00" | "0"));
                if method == "chain_getBlockHash" && block_zero {
                    *result = json!(hex_of(&[0xee; 32]));
                }
            },
        )))
    });
    proxy.cut();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(
        errors[0].contains("another chain") && errors[0].contains("eeeeeeee"),
        "{}",
        errors[0]
    );
}

/// A node that is not the chain the user pinned (`--expect-chain`) is refused at the first
/// connection, before anything is signed, whatever its URL; pinned to its own genesis, the
/// same node registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_not_the_pinned_chain_is_refused_at_the_first_connection() {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 1_000)]).await;
    let genesis = hex::encode(devnet.node.lock().chain.genesis_hash());
    let submitted = || {
        let calls = devnet.rpc_calls.snapshot();
        calls.get("author_submitExtrinsic").copied().unwrap_or(0)
            + calls
                .get("author_submitAndWatchExtrinsic")
                .copied()
                .unwrap_or(0)
    };
    let out = output(register_command(
        &devnet.url,
        "1",
        "//Alice",
        &["--max-seconds", "30", "--expect-chain", "finney"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(
        errors[0].contains(&format!("genesis is 0x{genesis}, not finney's (0x2f0555cc")),
        "{}",
        errors[0]
    );
    assert_eq!(submitted(), 0, "signed for a chain the user did not pin");

    let out = output(register_command(
        &devnet.url,
        "1",
        "//Alice",
        &[
            "--max-seconds",
            "30",
            "--expect-chain",
            &format!("0x{genesis}"),
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(submitted() >= 1);
}

/// `System::Events`' storage key: twox128("System") ‖ twox128("Events").
const EVENTS_KEY: &str = "0x26aa394eea5630e07c48ae0c9558cef780d41e5e16056765bc8461851072c9d7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faked_registration_event_is_not_reported_as_a_registration() {
    use regpow_devnet::events::{encode_events, Event, EventRecord};
    use std::sync::Mutex;
    use tokio_tungstenite::tungstenite::Message;

    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 1_000)]).await;
    let proxy = Proxy::start(&devnet.url).await;
    // The node swallows every submission, says it is in the newest block, and backs that
    // up with a block body holding it and a NeuronRegistered event for it: only the state
    // (no uid for the hotkey) tells the truth.
    #[derive(Default)]
    struct Fake {
        extrinsic: Option<String>,
        block: Option<String>,
        /// Where the extrinsic sits in the faked body.
        index: Option<u32>,
    }
    let fake = Arc::new(Mutex::new(Fake::default()));
    let best = {
        let node = devnet.node.clone();
        move || format!("0x{}", hex::encode(node.lock().chain.head().hash))
    };
    let intercept = {
        let fake = fake.clone();
        Intercept(Arc::new(move |request: &Value, to_client| {
            if request["method"] != "author_submitAndWatchExtrinsic" {
                return false;
            }
            let block = best();
            {
                let mut fake = fake.lock().unwrap();
                fake.extrinsic = request["params"][0].as_str().map(str::to_string);
                fake.block = Some(block.clone());
            }
            let reply = json!({"jsonrpc": "2.0", "id": request["id"], "result": "fakesub"});
            let _ = to_client.send(Message::text(reply.to_string()));
            for status in [json!("ready"), json!({"inBlock": block})] {
                let note = json!({"jsonrpc": "2.0", "method": "author_extrinsicUpdate",
                    "params": {"subscription": "fakesub", "result": status}});
                let _ = to_client.send(Message::text(note.to_string()));
            }
            true
        }))
    };
    let hotkey: regpow_rules::PublicKey = HOTKEY.parse().unwrap();
    let rewrite = {
        let fake = fake.clone();
        Rewrite(Arc::new(
            move |method: &str, params: &Value, result: &mut Value| {
                let mut fake = fake.lock().unwrap();
                let (Some(extrinsic), Some(block)) = (fake.extrinsic.clone(), fake.block.clone())
                else {
                    return;
                };
                let at_block = params.as_array().and_then(|p| p.last()) == Some(&json!(block));
                match method {
                    "chain_getBlock" if at_block => {
                        if let Some(list) = result["block"]["extrinsics"].as_array_mut() {
                            if !list.contains(&json!(extrinsic)) {
                                fake.index = Some(list.len() as u32);
                                list.push(json!(extrinsic));
                            }
                        }
                    }
                    "state_getStorage" | "state_getStorageAt"
                        if at_block && params[0] == json!(EVENTS_KEY) =>
                    {
                        // Success and NeuronRegistered for the index our extrinsic takes in the
                        // faked body.
                        let index = fake.index.unwrap_or(0);
                        let records = [
                            EventRecord {
                                extrinsic: index,
                                event: Event::ExtrinsicSuccess,
                            },
                            EventRecord {
                                extrinsic: index,
                                event: Event::NeuronRegistered {
                                    netuid: 1,
                                    uid: 0,
                                    hotkey: hotkey.0,
                                },
                            },
                        ];
                        *result = json!(hex_of(&encode_events(&records)));
                    }
                    _ => {}
                }
            },
        ))
    };
    proxy.faults(|f| {
        f.intercept = Some(intercept);
        f.rewrite = Some(rewrite);
    });
    let out = output(register_command(
        &proxy.url,
        "1",
        "//Alice",
        &["--max-seconds", "8"],
    ))
    .await;
    let lines = common::json_lines(&out);
    assert!(
        fake.lock().unwrap().extrinsic.is_some(),
        "a seal was submitted"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.get("registered").is_some() || l["event"] == "registered"),
        "a faked event made a registration: {lines:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Each faked inclusion was taken for what it is: an outcome the state must settle.
    assert!(
        lines.iter().any(|l| l["event"] == "status_lost"
            && l["reason"]
                .as_str()
                .is_some_and(|r| r.contains("holds no uid"))),
        "{lines:?}"
    );
    assert!(devnet.node.lock().chain.state.subnets[&1].uids.is_empty());
}

/// Heads a flooding node pushes on each of its subscriptions.
const FLOOD_HEADS: u64 = 300;

/// Bytes of padding in each flooded header (a digest item), about 1 MiB of JSON each.
const FLOOD_PADDING: usize = 512 << 10;

/// The `chain_newHead` notification of a made-up header `number`, padded to about 1 MiB.
fn padded_head(subscription: &str, number: u64) -> String {
    // DigestItem::Other (variant 0) with a four-byte compact length.
    let mut item = vec![0u8];
    item.extend(((FLOOD_PADDING as u32) << 2 | 0b10).to_le_bytes());
    item.resize(item.len() + FLOOD_PADDING, 0xab);
    let header = json!({
        "parentHash": hex_of(&[0x11; 32]),
        "number": format!("0x{number:x}"),
        "stateRoot": hex_of(&[0x22; 32]),
        "extrinsicsRoot": hex_of(&[0x33; 32]),
        "digest": {"logs": [hex_of(&item)]},
    });
    json!({"jsonrpc": "2.0", "method": "chain_newHead",
        "params": {"subscription": subscription, "result": header}})
    .to_string()
}

/// The peak resident memory of process `pid` so far, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// A node that floods the head subscription with made-up heads of about 1 MiB each, faster
/// than regpow reads them: regpow's memory stays bounded, nothing is signed, and the run goes
/// on to its time bound on the real chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_head_subscription_costs_bounded_memory_and_signs_nothing() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio_tungstenite::tungstenite::Message;

    let devnet = devnet_with(
        Duration::from_millis(300),
        vec![subnet(1, true, UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let proxy = Proxy::start(&devnet.url).await;
    // Once flooding starts, the next two head subscriptions are the node's flood: 300
    // made-up heads of about 1 MiB each, as fast as the socket takes them (300 MiB each).
    // Later ones are real again.
    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let floods = Arc::new(AtomicU64::new(0));
    let intercept = {
        let (flooding, floods) = (flooding.clone(), floods.clone());
        Intercept(Arc::new(move |request: &Value, to_client| {
            if request["method"] != "chain_subscribeNewHeads"
                || !flooding.load(Ordering::SeqCst)
                || floods.fetch_add(1, Ordering::SeqCst) >= 2
            {
                return false;
            }
            let subscription = format!("flood-{}", floods.load(Ordering::SeqCst));
            let reply = json!({"jsonrpc": "2.0", "id": request["id"], "result": subscription});
            let _ = to_client.send(Message::text(reply.to_string()));
            // One made-up head, sent again and again at the socket's speed.
            let note = Message::text(padded_head(&subscription, 1_000_000));
            let to_client = to_client.clone();
            tokio::spawn(async move {
                for _ in 0..FLOOD_HEADS {
                    if to_client.send(note.clone()).is_err() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            });
            true
        }))
    };
    proxy.faults(|f| f.intercept = Some(intercept));
    let mut child = register_command(&proxy.url, "1", "//Alice", &["--max-seconds", "15"])
        .spawn()
        .unwrap();
    let pid = child.id();
    // Once the run is under way (its devices hash), the connection drops: the next
    // subscriptions flood.
    let reads = || {
        let calls = devnet.rpc_calls.snapshot();
        calls.get("state_queryStorageAt").copied().unwrap_or(0)
    };
    while reads() < 12 && child.try_wait().unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    flooding.store(true, Ordering::SeqCst);
    proxy.cut();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        while let Some(rss) = peak_rss_mib(pid) {
            peak = peak.max(rss);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak
    });
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let peak = sampler.await.unwrap();
    let flooded = floods.load(Ordering::SeqCst);
    assert!(
        flooded >= 1,
        "{flooded} flooded subscriptions: {}\n{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    // Not found in its time (the difficulty is out of reach), after following the real
    // chain again: the flood cost a reconnection, not the run.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(proxy.submissions(), 0, "nothing was signed");
    // 32 buffered messages of ~1 MiB at most, on top of the ~40 MiB regpow needs anyway
    // (subxt's default of 4,096 holds the whole 300 MiB flood): a subscription that fills
    // its buffer is closed, and regpow reconnects.
    // Measured: 59 MiB; 214 MiB with subxt's default buffer of 4,096 messages.
    assert!(peak < 150, "peak RSS {peak} MiB");
}
