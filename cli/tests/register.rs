//! `regpow register` and `regpow status` end to end: the binary against the devnet over a
//! real websocket (300 ms blocks), with wallets really made by bittensor-wallet.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use regpow_chain::wallet::Wallet;
use regpow_devnet::{start, DevnetConfig, DevnetHandle, SubnetConfig};
use serde_json::Value;

const PASSWORD: &str = "regpow test password";

fn wallets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../chain/tests/data/wallets")
}

async fn devnet(subnets: Vec<SubnetConfig>) -> DevnetHandle {
    start(DevnetConfig {
        block_time: Duration::from_millis(300),
        subnets,
        ..DevnetConfig::default()
    })
    .await
    .unwrap()
}

fn subnet(netuid: u16, pow: bool, difficulty: u64) -> SubnetConfig {
    SubnetConfig {
        difficulty,
        ..SubnetConfig::new(netuid, pow)
    }
}

/// `regpow --json register --network URL --backend cpu --threads 1 ARGS…`.
fn register(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
    command
        .args([
            "--json",
            "register",
            "--network",
            url,
            "--backend",
            "cpu",
            "--threads",
            "1",
        ])
        .args(args)
        .env("REGPOW_COLDKEY_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A dev coldkey (`//Name`) registering a fixed hotkey address on `netuid`.
fn dev_keys(netuid: &'static str, coldkey_uri: &'static str) -> Vec<&'static str> {
    vec![
        "--netuid",
        netuid,
        "--coldkey-uri",
        coldkey_uri,
        "--hotkey",
        "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y",
    ]
}

/// A copy of the test wallets whose coldkeys only their owner can read: git checks them out
/// as 0644, which `register` refuses.
fn private_wallets() -> &'static PathBuf {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap().map(Result::unwrap) {
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
                if entry.file_name() == "coldkey" {
                    use std::os::unix::fs::PermissionsExt;
                    let private = std::fs::Permissions::from_mode(0o600);
                    std::fs::set_permissions(&target, private).unwrap();
                }
            }
        }
    }
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("regpow-register-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy(&wallets(), &dir);
        dir
    })
}

fn wallet_args(hotkey: &'static str) -> Vec<String> {
    vec![
        "--wallet-path".into(),
        private_wallets().display().to_string(),
        "--wallet-name".into(),
        "rehearsal".into(),
        "--wallet-hotkey".into(),
        hotkey.into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_a_bittensor_wallet_then_refuses_a_second_run() {
    let devnet = devnet(vec![subnet(1, true, 20_000)]).await;
    let args = wallet_args("miner1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut with_netuid = vec!["--netuid", "1", "--max-seconds", "60"];
    with_netuid.extend(&args);

    let out = output(register(&devnet.url, &with_netuid)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    let registered = &lines.last().unwrap()["registered"];
    let hotkey = Wallet::new(&wallets(), "rehearsal", "miner1")
        .hotkey_public()
        .unwrap();
    assert_eq!(registered["hotkey"], hotkey.to_ss58(42));
    assert_eq!(registered["netuid"], 1);
    assert!(lines.iter().any(|l| l["event"] == "submitting"));

    // The uid is in the chain's storage.
    let uid = registered["uid"].as_u64().unwrap() as u16;
    let stored = devnet.node.lock().chain.state.subnets[&1]
        .uids
        .get(&hotkey.0)
        .copied();
    assert_eq!(stored, Some(uid));

    // `regpow status` sees it too.
    let mut status = Command::new(env!("CARGO_BIN_EXE_regpow"));
    status.args([
        "--json",
        "status",
        "--network",
        &devnet.url,
        "--netuid",
        "1",
        "--hotkey",
        &hotkey.to_ss58(42),
    ]);
    let out = output(status).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = &json_lines(&out)[0];
    assert_eq!(status["uid"], uid);
    assert_eq!(status["pow_enabled"], true);
    assert!(
        status["difficulty"].as_u64().unwrap() > 20_000,
        "rose after the registration"
    );

    // A second run is refused at pre-flight: one line, exit 1, no hashing.
    let out = output(register(&devnet.url, &with_netuid)).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("already registered on subnet 1 (uid {uid})")),
        "{err}"
    );
    assert!(
        json_lines(&out).is_empty(),
        "no progress: nothing was hashed"
    );
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pow_disabled_is_refused_before_any_hashing() {
    let devnet = devnet(vec![subnet(1, true, 1000), subnet(2, false, 1000)]).await;
    let out = output(register(&devnet.url, &dev_keys("2", "//Bob"))).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: PoW registration is disabled on subnet 2"),
        "{err}"
    );
    assert!(json_lines(&out).is_empty(), "nothing hashed");

    let out = output(register(&devnet.url, &dev_keys("7", "//Bob"))).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("subnet 7 does not exist"),
        "{}",
        stderr(&out)
    );
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_difficulty_too_high_for_the_time_bound_is_exit_1() {
    let devnet = devnet(vec![subnet(1, true, 1_000_000_000_000_000)]).await;
    let out = output(register(
        &devnet.url,
        &[dev_keys("1", "//Eve"), vec!["--max-seconds", "2"]].concat(),
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: no registration within 2s"), "{err}");
    assert!(
        err.contains("difficulty 9") && err.contains("years on average"),
        "{err}"
    );
    assert!(
        json_lines(&out).iter().any(|l| l["event"] == "hashrate"),
        "it did hash"
    );
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_exit_3() {
    let out = output(register("ws://127.0.0.1:9", &dev_keys("1", "//Bob"))).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach ws://127.0.0.1:9"),
        "{}",
        stderr(&out)
    );
}

/// Reads the child's JSON lines on a thread and hands them over a channel.
fn follow(child: &mut std::process::Child) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { return };
            if let Ok(value) = serde_json::from_str(&line) {
                if tx.send(value).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

async fn wait_for(events: &mut tokio::sync::mpsc::UnboundedReceiver<Value>, what: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = events.recv().await.expect("the run ended early");
            if event["event"] == what || event.get(what).is_some() {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no '{what}' within 60 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_the_websocket_going_away_and_registers_after_it_returns() {
    let mut devnet = devnet(vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)]).await;
    let mut child = register(
        &devnet.url,
        &[dev_keys("1", "//Charlie"), vec!["--max-seconds", "90"]].concat(),
    )
    .spawn()
    .unwrap();
    let mut events = follow(&mut child);
    wait_for(&mut events, "hashrate").await;

    devnet.stop_rpc().await;
    wait_for(&mut events, "reconnecting").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    devnet.restart_rpc().await.unwrap();
    // Make the work easy once the connection is back: the solver must pick up the new
    // difficulty from the chain at the next head and register.
    common::set_difficulty(&devnet, 1, 1000);
    wait_for(&mut events, "reconnected").await;
    let registered = wait_for(&mut events, "registered").await;
    assert_eq!(registered["registered"]["uid"], 0);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    devnet.stop().await;
}

/// As PID 1 of its own PID namespace (how the image runs it in a container: `ENTRYPOINT
/// ["regpow"]`), the kernel delivers a signal only if the process handles it. SIGTERM still
/// settles the run. Needs `unshare` and the right to make a PID namespace (root here);
/// skipped with a message without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_reaches_regpow_as_pid_1_of_a_container() {
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .output();
    if !probe.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: unshare --pid is not available here");
        return;
    }
    let devnet = devnet(vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)]).await;
    let inner = register(&devnet.url, &dev_keys("1", "//Dave"));
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut events = follow(&mut child);
    wait_for(&mut events, "hashrate").await;
    // regpow is unshare's child, and PID 1 inside.
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap();
    let regpow: u32 = children.split_whitespace().next().unwrap().parse().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{regpow}/status")).unwrap();
    let ns_pid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert_eq!(ns_pid, "1", "regpow is PID 1 in its namespace");
    common::terminate(regpow);
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()),
    )
    .await
    .expect("SIGTERM ended the run")
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopped before a registration (SIGTERM)"),
        "{}",
        stderr(&out)
    );
    devnet.stop().await;
}

/// Ctrl-C, and SIGTERM (how Kubernetes, Slurm and `docker stop` stop a process), end the
/// run the same way: exit 1 with one line naming the signal, not a kill by the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_and_sigterm_stop_cleanly_with_exit_1() {
    let devnet = devnet(vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)]).await;
    for (send, name) in [
        (common::interrupt as fn(u32), "Ctrl-C"),
        (common::terminate, "SIGTERM"),
    ] {
        let mut child = register(&devnet.url, &dev_keys("1", "//Dave"))
            .spawn()
            .unwrap();
        let mut events = follow(&mut child);
        wait_for(&mut events, "hashrate").await;
        send(child.id());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("stopped before a registration ({name})")),
            "{}",
            stderr(&out)
        );
    }
    devnet.stop().await;
}
