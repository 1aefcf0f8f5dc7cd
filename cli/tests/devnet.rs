//! `regpow devnet` as a user runs it: the URL first, blocks logged, Ctrl-C stops it cleanly,
//! and so does the reader of its stdout going away; bad configuration is exit 2 and a taken
//! port exit 3.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn regpow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_regpow"))
}

#[test]
fn prints_its_url_logs_blocks_and_stops_on_ctrl_c() {
    let mut child = regpow()
        .args(["devnet", "--block-time", "200ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    let addr = url
        .trim()
        .strip_prefix("ws://")
        .unwrap_or_else(|| panic!("first line is not a ws URL: {url:?}"))
        .to_string();
    // It accepts connections as soon as it prints the URL.
    std::net::TcpStream::connect(&addr).expect("devnet accepts connections");

    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let started = Instant::now();
    let mut blocks = 0;
    let mut line = String::new();
    while blocks < 3 && started.elapsed() < Duration::from_secs(10) {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.starts_with("block #") {
            blocks += 1;
        }
    }
    assert_eq!(blocks, 3, "expected block lines on stderr");

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "Ctrl-C must stop the devnet cleanly"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("devnet: stopped"), "{rest}");
}

#[test]
fn bad_config_is_exit_2_and_a_taken_port_exit_3() {
    let out = regpow()
        .args(["devnet", "--block-time", "1ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: invalid value '1ms' for '--block-time <BLOCK_TIME>': must be between 50ms and \
         1h, got '1ms'"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = regpow().args(["devnet", "--port", &port]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with(&format!("error: devnet: cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A registration submitted by subxt shows up in the devnet's `--json` log with its uid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_each_registration() {
    use regpow_rules::{Challenge, Difficulty, PublicKey};
    use regpow_solver::search::solve;
    use regpow_solver::DevicePool;
    use regpow_solver::{cpu::CpuBackend, Job, NonceRange};
    use subxt_signer::sr25519::dev;

    let dir = std::env::temp_dir().join(format!("regpow-devnet-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("devnet.toml");
    std::fs::write(&config, "[[subnet]]\nnetuid = 4\ndifficulty = 16\n").unwrap();
    let mut child = regpow()
        .args(["--json", "devnet", "--block-time", "300ms", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let url = first["url"].as_str().unwrap().to_string();

    let api = subxt::OnlineClient::<subxt::SubstrateConfig>::from_insecure_url(&url)
        .await
        .unwrap();
    let at = api.at_current_block().await.unwrap();
    let coldkey = dev::bob();
    let hotkey = PublicKey(dev::eve().public_key().0);
    let challenge = Challenge {
        netuid: 4,
        block_hash: at.block_hash().0,
        hotkey,
        coldkey: PublicKey(coldkey.public_key().0),
    };
    let job = Job::new(challenge, Difficulty::new(16).unwrap());
    let pool = DevicePool::new(vec![Arc::new(CpuBackend::new(Some(1), None).unwrap())]);
    let hit = solve(&pool, &job, NonceRange::from(0), None)
        .unwrap()
        .hit
        .unwrap();
    let call = subxt::dynamic::transaction(
        "SubtensorModule",
        "pow_register",
        (4u16, at.block_number(), hit.nonce, hit.seal.0, hotkey.0),
    );
    at.transactions()
        .sign_and_submit_then_watch_default(&call, &coldkey)
        .await
        .unwrap()
        .wait_for_finalized_success()
        .await
        .unwrap();

    let logged = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                return None;
            }
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            if value.get("registered").is_some() {
                return Some(value);
            }
        }
    });
    let logged = tokio::time::timeout(Duration::from_secs(10), logged)
        .await
        .expect("a registration line within 10 s")
        .unwrap()
        .expect("a registration line before the log ended");
    assert_eq!(logged["registered"]["netuid"], 4);
    assert_eq!(logged["registered"]["uid"], 0);
    assert_eq!(logged["registered"]["hotkey"], hotkey.to_ss58(42));

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits up to `limit` for the child to exit; kills it and fails if it does not.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `regpow devnet --json | head -1`: the reader takes the URL line and goes. The next block
/// line meets a closed pipe; the devnet must stop cleanly (exit 0, no panic, no backtrace),
/// not die with exit 101.
#[test]
fn a_reader_closing_stdout_stops_the_devnet_cleanly() {
    let mut child = regpow()
        .args(["--json", "devnet", "--block-time", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"url\":\"ws://"), "{first}");
    drop(stdout);
    let status = exit_within(&mut child, Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("devnet: stopped (stdout was closed)"), "{err}");
}

/// Every command's output into a pipe nobody reads is dropped quietly: the exit code is the
/// command's own, never 101.
#[test]
fn output_into_a_closed_pipe_is_not_a_panic() {
    let key = format!("0x{}", "22".repeat(32));
    let hash = format!("0x{}", "11".repeat(32));
    let challenge = [
        "--netuid",
        "1",
        "--block-hash",
        &hash,
        "--hotkey",
        &key,
        "--coldkey",
        &key,
    ];
    let runs: Vec<Vec<&str>> = vec![
        [&["seal"][..], &challenge, &["--nonce", "7"]].concat(),
        [&["--json", "seal"][..], &challenge, &["--nonce", "7"]].concat(),
        [
            &["--json", "solve"][..],
            &challenge,
            &["--difficulty", "1", "--backend", "cpu", "--threads", "1"],
        ]
        .concat(),
        vec![
            "bench",
            "--backend",
            "cpu",
            "--threads",
            "1",
            "--seconds",
            "0.2",
        ],
    ];
    for args in runs {
        let mut child = regpow()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let status = exit_within(&mut child, Duration::from_secs(20));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
    }
}
