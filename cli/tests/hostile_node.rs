//! `regpow register` against a hostile node: the devnet behind the fault proxy, which rewrites
//! what the node says. Each scenario must end in a refusal or a bounded, correct outcome,
//! with nothing signed that the user did not mean.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::proxy::{Proxy, Rewrite};
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
