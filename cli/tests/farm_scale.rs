//! A farm of 1,000 targets in one process against the devnet: the requests it makes to the
//! node per head stay a handful (counted by the devnet, by method), it follows the chain
//! with one head subscription, and its `--json` says each head once for every target.
//! (The figures at 10 to 10,000 targets are in benches/farm-scale.sh, not timed here.)

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{devnet_with, json_lines, output, UNREACHABLE_DIFFICULTY};
use regpow_devnet::SubnetConfig;
use regpow_rules::PublicKey;

/// Requests per head the farm may make at 1,000 targets (it makes about 2: one batched
/// state read, and now and then a second for a question the read ahead did not cover).
const MAX_REQUESTS_PER_HEAD: f64 = 10.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_targets_cost_a_few_requests_per_head_and_one_subscription() {
    let subnets: Vec<SubnetConfig> = (1..=5)
        .map(|netuid| SubnetConfig {
            difficulty: UNREACHABLE_DIFFICULTY,
            min_difficulty: UNREACHABLE_DIFFICULTY,
            max_difficulty: UNREACHABLE_DIFFICULTY,
            max_uids: 4096,
            ..SubnetConfig::new(netuid, true)
        })
        .collect();
    let devnet = devnet_with(Duration::from_secs(1), subnets).await;
    let dir = std::env::temp_dir().join(format!("regpow-farm-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 200 hotkeys × 5 subnets.
    let hotkeys: Vec<String> = (0..200u64)
        .map(|i| {
            let mut key = [7u8; 32];
            key[..8].copy_from_slice(&i.to_le_bytes());
            format!("\"{}\"", PublicKey(key).to_ss58(42))
        })
        .collect();
    let plan = dir.join("farm.toml");
    std::fs::write(
        &plan,
        format!(
            "[[job]]\nnetuids = [1, 2, 3, 4, 5]\ncoldkey_uri = \"//Alice\"\nhotkeys = [{}]\n",
            hotkeys.join(", ")
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
    command
        .args(["--json", "farm", "--config"])
        .arg(&plan)
        .args([
            "--network",
            &devnet.url,
            "--backend",
            "cpu",
            "--threads",
            "1",
        ])
        .args(["--max-seconds", "16"])
        .env("XDG_RUNTIME_DIR", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = tokio::spawn(output(command));

    // The node's calls between two blocks, once every target runs (after 8 s).
    let started = Instant::now();
    let mut blocks = devnet.node.subscribe_blocks();
    let mut per_head = Vec::new();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(15) {
        let block = tokio::time::timeout(Duration::from_secs(2), blocks.recv()).await;
        if started.elapsed() < Duration::from_secs(8) || !matches!(block, Ok(Ok(_))) {
            continue;
        }
        let total = devnet.rpc_calls.total();
        if let Some(before) = last {
            per_head.push(total - before);
        }
        last = Some(total);
    }
    let out = run.await.unwrap();
    let calls = devnet.rpc_calls.snapshot();
    devnet.stop().await;
    let _ = std::fs::remove_dir_all(&dir);

    assert!(per_head.len() >= 4, "heads measured: {per_head:?}");
    per_head.sort_unstable();
    let median = per_head[per_head.len() / 2] as f64;
    let mean = per_head.iter().sum::<u64>() as f64 / per_head.len() as f64;
    assert!(
        median <= MAX_REQUESTS_PER_HEAD && mean <= MAX_REQUESTS_PER_HEAD,
        "requests per head at 1,000 targets: {per_head:?}; by method over the run: {calls:?}"
    );
    // One head subscription for the process, and no storage item read one by one.
    assert_eq!(calls.get("chain_subscribeNewHeads"), Some(&1), "{calls:?}");
    assert!(
        calls.get("state_getStorage").copied().unwrap_or(0) < 20,
        "{calls:?}"
    );
    assert!(calls.get("state_queryStorageAt").copied().unwrap_or(0) > 0);

    // `--json`: the deadline (exit 1) with every target running; each head once, for every
    // target together, and no target's own head line.
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let lines = json_lines(&out);
    let heads: Vec<&serde_json::Value> = lines.iter().filter(|l| l["event"] == "head").collect();
    assert!(heads.len() >= 5, "{} head lines", heads.len());
    assert!(heads.iter().all(|h| h.get("target").is_none()));
    let blocks: Vec<u64> = heads.iter().map(|h| h["block"].as_u64().unwrap()).collect();
    assert!(blocks.windows(2).all(|w| w[0] < w[1]), "{blocks:?}");
    // Once every target runs, each head's line has every subnet and every target running.
    let complete = heads
        .iter()
        .filter(|h| h["targets"]["running"] == 1000 && h["subnets"].as_array().unwrap().len() == 5)
        .count();
    assert!(complete >= 5, "{heads:?}");
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["targets"], 1000);
}
