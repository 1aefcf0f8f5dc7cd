//! Submissions that never waste a seal, end to end on the devnet: its pool keeps a nonce above
//! a gap as a future transaction until the gap fills; one coldkey lands registrations on
//! several subnets in one block; shards of one plan that share a coldkey cost each other at
//! most a re-signature; a node that refuses every submission gets a bounded number of them.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::proxy::Proxy;
use common::{devnet_with, error_lines, json_lines, output, stderr, subnet};
use regpow_chain::wallet::Coldkey;
use regpow_chain::{ChainClient, PowRegisterCall, Signing, SubmitOutcome, Submitter};
use regpow_devnet::{DevnetHandle, SubnetConfig};
use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use serde_json::{json, Value};

/// PoW subnets `1..=count` at a fixed `difficulty`, each taking one registration per block.
fn pow_subnets(count: u16, difficulty: u64) -> Vec<SubnetConfig> {
    (1..=count)
        .map(|netuid| SubnetConfig {
            min_difficulty: difficulty,
            max_difficulty: difficulty,
            max_registrations_per_block: 1,
            ..subnet(netuid, true, difficulty)
        })
        .collect()
}

/// The same subnets with the devnet's default registrations per block.
fn default_cap(subnets: Vec<SubnetConfig>) -> Vec<SubnetConfig> {
    let default = SubnetConfig::new(1, true).max_registrations_per_block;
    subnets
        .into_iter()
        .map(|s| SubnetConfig {
            max_registrations_per_block: default,
            ..s
        })
        .collect()
}

/// The SS58 address of the key `//regpow-hotkey-N`.
fn hotkey(n: usize) -> String {
    Coldkey::from_uri(&format!("//regpow-hotkey-{n}"))
        .unwrap()
        .public()
        .to_ss58(42)
}

/// A plan on `url` with one job per `(netuids, hotkeys)`, all signed by //Alice.
fn write_plan(dir: &Path, url: &str, jobs: &[(Vec<u16>, Vec<String>)]) -> PathBuf {
    let mut text = format!("network = \"{url}\"\n");
    for (netuids, hotkeys) in jobs {
        text += &format!(
            "\n[[job]]\nnetuids = {netuids:?}\nhotkeys = {}\ncoldkey_uri = \"//Alice\"\n",
            serde_json::to_string(hotkeys).unwrap()
        );
    }
    let path = dir.join("farm.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `regpow --json farm --config PLAN --backend cpu --threads 1 ARGS…`.
fn farm(plan: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
    command
        .args(["--json", "farm", "--config"])
        .arg(plan)
        .args(["--backend", "cpu", "--threads", "1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Every (netuid, hotkey) the chain has registered on subnets `1..=count`, with the block it
/// was registered in.
fn registrations(devnet: &DevnetHandle, count: u16) -> BTreeMap<(u16, String), u64> {
    let node = devnet.node.lock();
    let mut found = BTreeMap::new();
    for netuid in 1..=count {
        for (hotkey, block) in &node.chain.state.subnets[&netuid].neurons {
            found.insert((netuid, PublicKey(*hotkey).to_ss58(42)), *block);
        }
    }
    found
}

/// The submission events among `lines`, one short line each (for failure messages).
fn story(lines: &[Value]) -> String {
    lines
        .iter()
        .filter(|l| l["event"] != "head" && l["event"] != "device" && l["event"] != "hashrate")
        .map(|l| {
            let mut l = l.clone();
            if let Some(fields) = l.as_object_mut() {
                fields.remove("hotkey");
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of `event` among `lines`.
fn of<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

/// A seal for (netuid, hotkey) signed by //Alice on the devnet's block `work_block`.
fn mined(
    devnet: &DevnetHandle,
    netuid: u16,
    hotkey: PublicKey,
    work_block: u64,
) -> PowRegisterCall {
    let (block_hash, difficulty) = {
        let node = devnet.node.lock();
        let hash = node.chain.block(work_block).unwrap().hash;
        (hash, node.chain.state.subnets[&netuid].difficulty)
    };
    let alice = Coldkey::from_uri("//Alice").unwrap().public();
    let prefix = Challenge {
        netuid,
        block_hash,
        hotkey,
        coldkey: alice,
    }
    .prefix();
    let bound = Difficulty::new(difficulty).unwrap().bound();
    let nonce = (0u64..)
        .find(|&n| reference_seal(&prefix, n).meets(&bound))
        .unwrap();
    PowRegisterCall {
        netuid,
        work_block,
        nonce,
        work: reference_seal(&prefix, nonce).0,
        hotkey,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devnet_pool_keeps_a_nonce_above_a_gap_until_the_gap_fills() {
    let devnet = devnet_with(Duration::from_millis(500), pow_subnets(2, 10)).await;
    let client = ChainClient::connect(&devnet.url).await.unwrap();
    let alice = Coldkey::from_uri("//Alice").unwrap();
    let head = client.best_head().await.unwrap();
    let next = client.account_next_index(&alice.public()).await.unwrap();
    let hotkeys = [1, 2].map(|n| Coldkey::from_uri(&format!("//gap-{n}")).unwrap().public());
    let calls = [
        mined(&devnet, 1, hotkeys[0], head.number),
        mined(&devnet, 2, hotkeys[1], head.number),
    ];

    // Nonce next+1 first: it waits behind the gap and is not counted by the next index.
    let ahead = {
        let (client, call) = (client.clone(), calls[1]);
        let alice = Coldkey::from_uri("//Alice").unwrap();
        let signing = Signing {
            nonce: next + 1,
            at: head,
        };
        tokio::spawn(async move {
            client
                .submit_pow_register(&call, &alice, signing, || {})
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(devnet.node.lock().tx_pool.future_len(), 1);
    assert_eq!(
        client.account_next_index(&alice.public()).await.unwrap(),
        next,
        "a future transaction is not counted"
    );

    // Filling the gap promotes it: both land, in one block.
    let signing = Signing {
        nonce: next,
        at: head,
    };
    let filled = client
        .submit_pow_register(&calls[0], &alice, signing, || {})
        .await
        .unwrap();
    let ahead = ahead.await.unwrap().unwrap();
    let (
        SubmitOutcome::Registered { block: first, .. },
        SubmitOutcome::Registered { block: second, .. },
    ) = (&filled, &ahead)
    else {
        panic!("{filled:?} / {ahead:?}")
    };
    assert_eq!(first, second, "one block takes both");
    assert_eq!(devnet.node.lock().tx_pool.future_len(), 0);
    assert_eq!(
        client.account_next_index(&alice.public()).await.unwrap(),
        next + 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_stranded_behind_a_gap_is_seen_and_the_next_signature_fills_the_gap() {
    let devnet = devnet_with(Duration::from_millis(500), pow_subnets(1, 10)).await;
    let client = ChainClient::connect(&devnet.url).await.unwrap();
    let submitter = Submitter::new(Arc::new(Coldkey::from_uri("//Alice").unwrap()));
    let head = client.best_head().await.unwrap();
    let next = client
        .account_next_index(&submitter.public())
        .await
        .unwrap();
    let hotkey = Coldkey::from_uri("//stranded").unwrap().public();
    let call = mined(&devnet, 1, hotkey, head.number);

    // This process signed nonce next+1; the submission with nonce `next` never reached
    // the node (refused, dropped): next+1 waits in the pool's future queue.
    let mut stranded_turn = submitter.turn(1, 1).await.unwrap();
    let mut gap_turn = submitter.turn(2, 1).await.unwrap();
    assert_eq!(submitter.nonce(&mut gap_turn, &client).await.unwrap(), next);
    assert_eq!(
        submitter.nonce(&mut stranded_turn, &client).await.unwrap(),
        next + 1
    );
    let waiting = {
        let (client, submitter) = (client.clone(), submitter.clone());
        let signing = Signing {
            nonce: next + 1,
            at: head,
        };
        tokio::spawn(async move {
            client
                .submit_pow_register(&call, submitter.coldkey(), signing, || {})
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !submitter.stranded(next + 1, &client).await.unwrap(),
        "our own submission with nonce {next} is still in flight: it fills the gap"
    );
    drop(gap_turn);
    assert!(submitter.stranded(next + 1, &client).await.unwrap());
    assert!(!submitter.stranded(next, &client).await.unwrap());

    // Signed again, the seal takes the missing nonce: the node's next index, which none of
    // this process's submissions in flight holds.
    drop(stranded_turn);
    let mut again = submitter.turn(1, 1).await.unwrap();
    assert_eq!(submitter.nonce(&mut again, &client).await.unwrap(), next);
    waiting.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_coldkey_lands_registrations_on_several_subnets_in_one_block() {
    // 8 hotkeys, 2 on each of 4 subnets that take one registration per block each.
    let devnet = devnet_with(Duration::from_millis(400), pow_subnets(4, 2_000)).await;
    let dir = tempfile_dir::new("pipelined");
    let jobs: Vec<(Vec<u16>, Vec<String>)> = (1..=4u16)
        .map(|netuid| {
            let n = usize::from(netuid) * 2;
            (vec![netuid], vec![hotkey(n), hotkey(n + 1)])
        })
        .collect();
    let plan = write_plan(&dir.0, &devnet.url, &jobs);
    let out = output(farm(&plan, &["--max-seconds", "120"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    let won = registrations(&devnet, 4);
    assert_eq!(won.len(), 8, "{won:?}");
    // Each subnet lands one registration per block it can take one in; with the seals of
    // all four in flight at once, several subnets land in the same block.
    let blocks: BTreeSet<u64> = won.values().copied().collect();
    let per_block = won.len() as f64 / blocks.len() as f64;
    assert!(per_block >= 2.0, "{per_block} per block: {won:?}");
    // No seal was lost to a nonce: every submission registered, except one the pool refused
    // because the node's head moved on between the run's check and the submission (a new
    // block that took this subnet's registration). That seal is kept and signed again; no
    // other resignation (a nonce race, a dropped transaction) may happen.
    let resigned = of(&lines, "resigning");
    assert!(
        resigned.iter().all(|l| l["kind"] == "pool_refused"),
        "{}",
        story(&lines)
    );
    let submitted = of(&lines, "submitting").len();
    assert_eq!(submitted, 8 + resigned.len(), "{}", story(&lines));
    let summary = lines
        .iter()
        .find_map(|l| l.get("summary"))
        .expect("a summary line");
    assert_eq!(summary["seals"]["discarded"], json!({}), "{summary}");
}

/// Runs `plan` in `processes` processes at once with `args(i)`; returns their outputs (each
/// exit 0), the submissions, the registrations claimed, and every line for messages.
async fn run_together(
    plan: &Path,
    processes: usize,
    args: impl Fn(usize) -> Vec<String>,
) -> (usize, usize, String) {
    let runs: Vec<_> = (0..processes)
        .map(|i| {
            let args = args(i);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            output(farm(plan, &args))
        })
        .collect();
    let outs = futures::future::join_all(runs).await;
    let (mut submissions, mut registered, mut stories) = (0, 0, String::new());
    for out in &outs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        let lines = json_lines(out);
        stories += &format!("{}\n--\n", story(&lines));
        submissions += of(&lines, "submitting").len();
        registered += lines
            .iter()
            .filter(|l| l["event"] == "target" && l["state"] == "registered")
            .count();
        // A nonce race costs a signature: the seal itself is signed again, never dropped
        // for it.
        for line in of(&lines, "discarded") {
            assert_ne!(line["kind"], "signatures_spent", "{stories}");
        }
    }
    (submissions, registered, stories)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_sharing_a_coldkey_never_lose_a_seal_to_a_nonce() {
    for shards in [2usize, 4] {
        // 2 hotkeys per shard × 2 subnets (each taking the devnet's default of three
        // registrations per block), in shards of one plan signed by one coldkey.
        let devnet = devnet_with(
            Duration::from_millis(400),
            default_cap(pow_subnets(2, 2_000)),
        )
        .await;
        let dir = tempfile_dir::new("shared-coldkey");
        let hotkeys: Vec<String> = (0..shards * 2).map(hotkey).collect();
        let plan = write_plan(&dir.0, &devnet.url, &[(vec![1, 2], hotkeys)]);
        let (submissions, registered, stories) = run_together(&plan, shards, |i| {
            vec![
                "--shard".into(),
                format!("{i}/{shards}"),
                "--max-seconds".into(),
                "120".into(),
            ]
        })
        .await;
        let targets = shards * 4;
        assert_eq!(registrations(&devnet, 2).len(), targets);
        assert_eq!(registered, targets, "each registration claimed once");
        // Every shard finds its seals right after each head (an easy difficulty), so they
        // race for the coldkey's next nonce and for the subnets' places in each block: a
        // lost race costs a signature. Two shards stay within 1.5 submissions per target;
        // four, within 2 (benches/submissions.sh measures them).
        let bound = if shards == 2 {
            targets * 3 / 2
        } else {
            targets * 2
        };
        assert!(
            submissions <= bound,
            "{submissions} submissions for {targets} targets:\n{stories}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_plan_claim_each_registration_once() {
    // Not sharded: both processes mine every target; the chain takes one seal per target,
    // and only the process whose submission it included says "registered".
    let devnet = devnet_with(
        Duration::from_millis(400),
        default_cap(pow_subnets(2, 2_000)),
    )
    .await;
    let dir = tempfile_dir::new("same-plan");
    let hotkeys: Vec<String> = (0..3).map(hotkey).collect();
    let plan = write_plan(&dir.0, &devnet.url, &[(vec![1, 2], hotkeys)]);
    let (_, registered, stories) =
        run_together(&plan, 2, |_| vec!["--max-seconds".into(), "120".into()]).await;
    assert_eq!(registrations(&devnet, 2).len(), 6);
    assert_eq!(registered, 6, "{stories}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_that_waits_for_its_turn_is_checked_again_when_it_comes() {
    // One submission at a time, on a subnet whose difficulty doubles with each registration
    // and takes three per block: seals found together wait for their turn while the
    // difficulty rises, and are checked against it before they are signed.
    let subnet = SubnetConfig {
        min_difficulty: 1,
        max_difficulty: u64::MAX,
        max_registrations_per_block: 3,
        burn_increase_mult: 4.0,
        ..subnet(1, true, 500)
    };
    let devnet = devnet_with(Duration::from_millis(400), vec![subnet]).await;
    let dir = tempfile_dir::new("turn-rise");
    let hotkeys: Vec<String> = (0..3).map(hotkey).collect();
    let plan = write_plan(&dir.0, &devnet.url, &[(vec![1], hotkeys)]);
    let out = output(farm(&plan, &["--in-flight", "1", "--max-seconds", "120"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(registrations(&devnet, 1).len(), 3);
    // Nothing stale reached the node: every submission registered.
    assert_eq!(of(&lines, "submitting").len(), 3, "{}", story(&lines));
    assert!(of(&lines, "not_registered").is_empty(), "{}", story(&lines));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_away_costs_no_submission_and_no_journal_line() {
    let devnet = devnet_with(Duration::from_millis(300), pow_subnets(2, 300_000)).await;
    let proxy = Proxy::start(&devnet.url).await;
    let dir = tempfile_dir::new("away");
    let hotkeys: Vec<String> = (0..2).map(hotkey).collect();
    let plan = write_plan(&dir.0, &proxy.url, &[(vec![1, 2], hotkeys)]);
    let journal = dir.0.join("journal.jsonl");
    let child = farm(
        &plan,
        &[
            "--journal",
            journal.to_str().unwrap(),
            "--max-seconds",
            "150",
        ],
    )
    .spawn()
    .unwrap();
    // Away for 5 s, twice, while seals are being found.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.faults(|f| f.refuse = true);
        proxy.cut();
        tokio::time::sleep(Duration::from_secs(5)).await;
        proxy.faults(|f| f.refuse = false);
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(registrations(&devnet, 2).len(), 4);
    let lines: Vec<Value> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let journaled = of(&lines, "submitting").len();
    assert!(
        journaled <= proxy.submissions(),
        "{journaled} submissions journaled, {} reached the node:\n{}",
        proxy.submissions(),
        story(&lines)
    );
    assert!(
        lines.iter().all(|l| l["kind"] != "not_sent"),
        "{}",
        story(&lines)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refusing_every_submission_gets_a_bounded_number_and_a_clear_exit() {
    let devnet = devnet_with(Duration::from_millis(200), pow_subnets(2, 2_000)).await;
    let proxy = Proxy::start(&devnet.url).await;
    let priority = json!({
        "code": 1014,
        "message": "Priority is too low: (0 vs 0)",
        "data": "The transaction has too low priority to replace another transaction already in the pool."
    });
    proxy.faults(|f| {
        f.answer_with_error.insert(
            "author_submitAndWatchExtrinsic".into(),
            vec![priority; 100_000],
        );
    });
    let dir = tempfile_dir::new("refusing");
    let hotkeys: Vec<String> = (0..3).map(hotkey).collect();
    let plan = write_plan(&dir.0, &proxy.url, &[(vec![1, 2], hotkeys)]);
    let out = output(farm(&plan, &["--max-seconds", "60"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sent = proxy.submissions();
    let bound = regpow_chain::submitter::DEFAULT_MAX_REFUSALS_IN_A_ROW as usize;
    assert!(
        (1..=bound + 6).contains(&sent),
        "{sent} signatures for a node that refuses everything"
    );
    let lines = json_lines(&out);
    let stopped: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "target" && l["state"] == "refused")
        .collect();
    assert_eq!(stopped.len(), 6, "{lines:#?}");
    for line in stopped {
        let reason = line["reason"].as_str().unwrap();
        assert!(reason.contains("in a row"), "{reason}");
    }
    assert!(error_lines(&out).len() <= 1, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_in_flight_across_a_re_organisation_still_register_every_target() {
    // Four targets on four subnets, their seals in flight together; while they wait in the
    // pool for the next block, the chain re-organises its newest block (their work block):
    // the pool drops them, and their seals, bound to an orphaned block, must not be signed
    // again; new seals on the new chain register every target.
    let devnet = devnet_with(Duration::from_millis(600), pow_subnets(4, 20_000)).await;
    let dir = tempfile_dir::new("reorg");
    let jobs: Vec<(Vec<u16>, Vec<String>)> = (1..=4u16)
        .map(|netuid| (vec![netuid], vec![hotkey(40 + usize::from(netuid))]))
        .collect();
    let plan = write_plan(&dir.0, &devnet.url, &jobs);
    let journal = dir.0.join("journal.jsonl");
    // A chain with blocks to re-organise first.
    while devnet.node.lock().chain.head().header.number < 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let child = farm(
        &plan,
        &[
            "--journal",
            journal.to_str().unwrap(),
            "--max-seconds",
            "150",
        ],
    )
    .spawn()
    .unwrap();
    let submitted = || {
        std::fs::read_to_string(&journal)
            .unwrap_or_default()
            .matches("\"submitting\"")
            .count()
    };
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while submitted() < 2 && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(submitted() >= 2, "no submissions to re-organise under");
    devnet.node.reorg(1).unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    let won = registrations(&devnet, 4);
    assert_eq!(won.len(), 4, "{won:?}\n{}", story(&lines));
    // A seal on the orphaned block was let go, never signed again.
    assert!(
        of(&lines, "submitting").iter().all(|l| l["signature"] == 1),
        "{}",
        story(&lines)
    );
}

mod tempfile_dir {
    /// A temporary directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    /// A fresh directory named after `tag`.
    pub fn new(tag: &str) -> Dir {
        let path = std::env::temp_dir().join(format!(
            "regpow-submissions-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
