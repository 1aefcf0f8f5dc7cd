//! The `regpow` binary end to end: outputs, JSON and exit codes, on the reference vectors.

use std::process::{Command, Output};

use serde_json::Value;

fn regpow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regpow"))
        .args(args)
        .output()
        .expect("run regpow")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/tests/data/vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `--netuid .. --block-hash .. --hotkey .. --coldkey ..` for a vector.
fn challenge_flags(v: &Value) -> Vec<String> {
    let mut flags = vec!["--netuid".to_string(), v["netuid"].to_string()];
    for (flag, key) in [
        ("--block-hash", "block_hash"),
        ("--hotkey", "hotkey"),
        ("--coldkey", "coldkey"),
    ] {
        flags.push(flag.into());
        flags.push(v[key].as_str().unwrap().into());
    }
    flags
}

fn run_with(base: &[&str], v: &Value, extra: &[&str]) -> Output {
    let flags = challenge_flags(v);
    let mut args: Vec<&str> = base.to_vec();
    args.extend(flags.iter().map(String::as_str));
    args.extend_from_slice(extra);
    regpow(&args)
}

#[test]
fn seal_prints_the_reference_seal() {
    // Every 8th vector keeps the test quick while covering hex and SS58 keys and edge nonces.
    for v in vectors()["seals"].as_array().unwrap().iter().step_by(8) {
        let nonce = v["nonce"].as_str().unwrap();
        let out = run_with(&["seal"], v, &["--nonce", nonce]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim(), v["seal"].as_str().unwrap());
        let out = run_with(&["--json", "seal"], v, &["--nonce", nonce]);
        let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["seal"], v["seal"]);
        assert_eq!(json["nonce"].to_string(), nonce);
    }
}

#[test]
fn verify_says_valid_or_why_not() {
    for v in vectors()["seals"].as_array().unwrap().iter().step_by(8) {
        let nonce = v["nonce"].as_str().unwrap();
        let difficulty = v["difficulty"].as_str().unwrap();
        let out = run_with(
            &["verify"],
            v,
            &["--nonce", nonce, "--difficulty", difficulty],
        );
        if v["valid"].as_bool().unwrap() {
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            assert_eq!(stdout(&out).trim(), "valid");
        } else {
            assert_eq!(out.status.code(), Some(1));
            assert_eq!(
                stderr(&out).trim(),
                "error: invalid: seal does not meet difficulty"
            );
        }
    }
}

#[test]
fn verify_checks_a_claimed_seal() {
    let v = &vectors()["seals"][0];
    let nonce = v["nonce"].as_str().unwrap();
    let seal = v["seal"].as_str().unwrap();
    let ok = run_with(
        &["verify"],
        v,
        &["--nonce", nonce, "--difficulty", "1", "--seal", seal],
    );
    assert_eq!(ok.status.code(), Some(0));
    let wrong = format!("0x{}", "00".repeat(32));
    let out = run_with(
        &["--json", "verify"],
        v,
        &["--nonce", nonce, "--difficulty", "1", "--seal", &wrong],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(
        json["reason"],
        "seal does not match the challenge and nonce"
    );
}

#[test]
fn solve_finds_every_solved_challenge() {
    for v in vectors()["solved"].as_array().unwrap() {
        let start = v["start_nonce"].as_str().unwrap();
        let difficulty = v["difficulty"].as_str().unwrap();
        let out = run_with(
            &["--json", "solve"],
            v,
            &[
                "--difficulty",
                difficulty,
                "--start-nonce",
                start,
                "--threads",
                "1",
                "--timeout",
                "120",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
        // One thread searches upward in order: it must find the reference's first solution.
        assert_eq!(json["nonce"].to_string(), v["nonce"].as_str().unwrap());
        assert_eq!(json["seal"], v["seal"]);
        assert_eq!(json["backend"], "cpu");
        assert!(json["hashes"].as_u64().unwrap() >= 1);
        assert!(json["seconds"].as_f64().unwrap() > 0.0);
        assert!(json["hashrate"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn solve_on_all_threads_gives_a_verifiable_nonce() {
    let v = &vectors()["solved"][0];
    let difficulty = v["difficulty"].as_str().unwrap();
    let out = run_with(&["solve"], v, &["--difficulty", difficulty]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let nonce = text
        .lines()
        .find_map(|l| l.strip_prefix("nonce "))
        .unwrap()
        .trim()
        .to_string();
    let check = run_with(
        &["verify"],
        v,
        &["--nonce", &nonce, "--difficulty", difficulty],
    );
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn solve_gives_up_at_the_timeout_with_exit_1() {
    let v = &vectors()["solved"][0];
    let out = run_with(
        &["--json", "solve"],
        v,
        &[
            "--difficulty",
            "18446744073709551615",
            "--timeout",
            "0.5",
            "--backend",
            "cpu",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(json["nonce"].is_null());
    assert!(json["hashes"].as_u64().unwrap() > 0);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: no valid nonce found within"),
        "{err}"
    );
}

#[test]
fn bench_reports_a_hashrate() {
    let out = regpow(&[
        "--json",
        "bench",
        "--backend",
        "cpu",
        "--seconds",
        "0.5",
        "--threads",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["backend"], "cpu");
    assert!(json["hashrate"].as_f64().unwrap() > 1000.0);
    let devices = json["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0]["name"].as_str().unwrap().contains("1 thread"));
    assert!(devices[0]["hashrate"].as_f64().unwrap() > 1000.0);
}

#[test]
fn bad_input_is_exit_2_with_one_line() {
    let hash = format!("0x{}", "11".repeat(32));
    let key = format!("0x{}", "22".repeat(32));
    let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    let alice_typo = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ";
    let good = |netuid: &str, hash: &str, hot: &str, cold: &str| -> Vec<String> {
        [
            "--netuid",
            netuid,
            "--block-hash",
            hash,
            "--hotkey",
            hot,
            "--coldkey",
            cold,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (good("1", "0x12zz", &key, &key), "not valid hex"),
        (good("1", "0x1234", &key, &key), "expected 32 bytes, got 2"),
        (good("1", &hash, alice_typo, &key), "bad SS58 checksum"),
        (good("1", &hash, &key, "0x22"), "coldkey: expected 32 bytes"),
        (good("0", &hash, &key, alice), "root subnet"),
        (good("65536", &hash, &key, alice), "netuid must be"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["seal".to_string()];
        args.extend(flags);
        args.extend(["--nonce".into(), "1".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = regpow(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err} should mention {want}");
    }
    let flags = good("1", &hash, &key, alice);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    for (extra, want) in [
        (
            vec!["solve", "--difficulty", "0"],
            "difficulty must be at least 1",
        ),
        (
            vec!["solve", "--difficulty", "1", "--backend", "gpu"],
            "expected one of: auto, cpu, wgpu",
        ),
        (
            vec!["solve", "--difficulty", "1", "--threads", "0"],
            "--threads",
        ),
        (
            vec!["solve", "--difficulty", "1", "--cpu-kernel", "sse9"],
            "unknown CPU kernel",
        ),
        (
            vec!["seal", "--nonce", "18446744073709551616"],
            "expected an integer",
        ),
    ] {
        let mut args = vec![extra[0]];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&extra[1..]);
        let out = regpow(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err} should mention {want}");
    }
    let out = regpow(&["bench", "--seconds", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = regpow(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1);
}

/// `regpow ARGS` with `XDG_RUNTIME_DIR` removed, as on a server or in a container.
fn regpow_bare(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regpow"))
        .args(args)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("run regpow")
}

#[test]
fn out_of_bounds_values_are_exit_2_with_one_line_before_any_work() {
    let key = format!("0x{}", "22".repeat(32));
    let hash = format!("0x{}", "11".repeat(32));
    let solve = [
        "solve",
        "--netuid",
        "1",
        "--block-hash",
        &hash,
        "--hotkey",
        &key,
        "--coldkey",
        &key,
        "--difficulty",
        "1",
    ];
    let register = [
        "register",
        "--netuid",
        "1",
        "--hotkey",
        &key,
        "--coldkey-uri",
        "//Alice",
        "--backend",
        "cpu",
    ];
    let cases: Vec<(Vec<&str>, &str)> =
        vec![
        (
            [&solve[..], &["--threads", "65535"]].concat(),
            "invalid value '65535' for '--threads <THREADS>': 65535 is not in 1..=1024",
        ),
        (
            [&solve[..], &["--threads", "1025"]].concat(),
            "is not in 1..=1024",
        ),
        (vec!["bench", "--threads", "4096"], "is not in 1..=1024"),
        (
            [
                &register[..],
                &["--network", "devnet", "--devnet-block-time", "0s"],
            ]
            .concat(),
            "'--devnet-block-time <DEVNET_BLOCK_TIME>': must be between 50ms and 1h, got '0s'",
        ),
        (
            [
                &register[..],
                &["--network", "devnet", "--devnet-block-time", "1ns"],
            ]
            .concat(),
            "must be between 50ms and 1h, got '1ns'",
        ),
        (
            [
                &register[..],
                &[
                    "--network",
                    "devnet",
                    "--devnet-block-time",
                    "300000000000years",
                ],
            ]
            .concat(),
            "must be between 50ms and 1h, got '300000000000years'",
        ),
        (
            vec!["devnet", "--block-time", "0s"],
            "must be between 50ms and 1h, got '0s'",
        ),
        (
            vec!["devnet", "--state-pruning", "0"],
            "'--state-pruning <N|archive>': state pruning must be 'archive' or a number of \
             blocks from 1 to 4294967295, got '0'",
        ),
        (
            vec!["devnet", "--finality-lag", "65"],
            "'--finality-lag <N>': 65 is not in 0..=64",
        ),
        (
            vec!["devnet", "--state-pruning", "all"],
            "state pruning must be 'archive' or a number of blocks from 1 to 4294967295, got 'all'",
        ),
        (
            [&register[..], &["--network", "ws://host:99999"]].concat(),
            "network: 'ws://host:99999' has an invalid port (1..65535)",
        ),
        (
            [&register[..], &["--network", "ws://[::1"]].concat(),
            "network: 'ws://[::1' is not a valid URL (invalid IPv6 address)",
        ),
        (
            vec!["status", "--netuid", "1", "--network", "ws://:9944"],
            "network: 'ws://:9944'",
        ),
        (
            vec![
                "status",
                "--netuid",
                "1",
                "--network",
                "http://127.0.0.1:9944",
            ],
            "is not finney, test, local, devnet or a ws:// / wss:// URL",
        ),
        (
            [
                &register[..],
                &[
                    "--network",
                    "ws://user:secretpw@host:99999/?apikey=topsecret",
                ],
            ]
            .concat(),
            "network: 'ws://***@host:99999/?***' has an invalid port",
        ),
        // Unencrypted to another machine: refused before any connection, with the way out.
        (
            [
                &register[..],
                &["--network", "ws://user:secretpw@10.0.0.2:9944/?apikey=topsecret"],
            ]
            .concat(),
            "ws://***@10.0.0.2:9944/?*** is an unencrypted ws:// connection to another machine",
        ),
        (
            vec!["status", "--netuid", "1", "--network", "ws://node.example:9944"],
            "use wss://, a node on loopback, or --allow-insecure-ws",
        ),
    ];
    for (args, want) in cases {
        let started = std::time::Instant::now();
        let out = regpow_bare(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(want), "{args:?}: {err} should say {want}");
        assert!(
            !err.contains("secretpw") && !err.contains("topsecret"),
            "{err}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{args:?}"
        );
    }
}

/// An endpoint nobody listens on: one line naming the cause and what to check, exit 3, on a
/// machine without XDG_RUNTIME_DIR (no driver noise before it).
#[test]
fn an_unreachable_endpoint_is_one_line_and_exit_3() {
    let key = format!("0x{}", "22".repeat(32));
    let want = "error: cannot reach ws://127.0.0.1:1: connection refused (is the node running \
                and the URL right?)";
    for args in [
        vec!["status", "--netuid", "1", "--network", "ws://127.0.0.1:1"],
        vec![
            "--json",
            "status",
            "--netuid",
            "1",
            "--network",
            "ws://127.0.0.1:1",
        ],
        vec![
            "register",
            "--netuid",
            "1",
            "--network",
            "ws://127.0.0.1:1",
            "--hotkey",
            &key,
            "--coldkey-uri",
            "//Alice",
            "--backend",
            "cpu",
            "--threads",
            "1",
        ],
    ] {
        let out = regpow_bare(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert_eq!(err.trim_end(), want, "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
    }
}

/// Credentials in `--network` never reach the output, whatever the command prints.
#[test]
fn credentials_in_the_url_are_never_printed() {
    let key = format!("0x{}", "22".repeat(32));
    let url = "ws://user:secretpw@127.0.0.1:1/?apikey=topsecret";
    for args in [
        vec!["status", "--netuid", "1", "--network", url],
        vec!["--json", "status", "--netuid", "1", "--network", url],
        vec![
            "--json",
            "register",
            "--netuid",
            "1",
            "--network",
            url,
            "--hotkey",
            &key,
            "--coldkey-uri",
            "//Alice",
            "--backend",
            "cpu",
            "--threads",
            "1",
        ],
    ] {
        let out = regpow_bare(&args);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(3), "{args:?}: {all}");
        assert!(!all.contains("secretpw"), "{args:?}: {all}");
        assert!(!all.contains("topsecret"), "{args:?}: {all}");
        assert!(
            all.contains("cannot reach ws://***@127.0.0.1:1/?***: connection refused"),
            "{args:?}: {all}"
        );
    }
}

/// A refused `--network` value (or a URL where clap expected none) is quoted redacted: clap
/// echoes values as given, and these carry passwords and API keys.
#[test]
fn refused_urls_are_quoted_without_their_secrets() {
    for args in [
        vec![
            "status",
            "--netuid",
            "1",
            "--network",
            "ws://user:secretpw@host:99999/?apikey=topsecret",
        ],
        vec![
            "status",
            "--netuid",
            "1",
            "--network",
            "ws://user:secretpw topsecret@host:1",
        ],
        vec![
            "status",
            "--netuid",
            "1",
            "--network",
            "http://user:secretpw@host/?apikey=topsecret",
        ],
        vec![
            "status",
            "--netuid",
            "1",
            "wss://user:secretpw@host/ws?apikey=topsecret",
        ],
    ] {
        let out = regpow_bare(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("://***@"), "{err}");
        assert!(
            !err.contains("secretpw") && !err.contains("topsecret"),
            "{err}"
        );
    }
}

/// The README's two set-up commands: "run it" (with `cargo run --release --`, here the
/// binary under test) registers a hotkey end to end on the embedded devnet and prints the
/// registration; "test it" is the command CI runs.
#[test]
fn the_readme_run_it_command_registers_on_the_devnet() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let setup = readme
        .split("## Set up")
        .nth(1)
        .and_then(|rest| rest.split("```sh").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("a sh block under ## Set up");
    let joined = setup.replace("\\\n", " ");
    let run_it = joined
        .lines()
        .find(|l| l.trim_start().starts_with("cargo run --release -- "))
        .expect("a cargo run --release -- line");
    assert!(
        joined
            .lines()
            .any(|l| l.starts_with("cargo test --workspace")),
        "{setup}"
    );
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/run")).unwrap();
    assert!(
        ci.contains("cargo test --workspace"),
        "CI runs the README's test command"
    );
    let args: Vec<&str> = run_it
        .trim_start()
        .trim_start_matches("cargo run --release -- ")
        .split('#')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(args.first(), Some(&"register"), "{run_it}");
    let out = regpow(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.starts_with("registered: netuid 1 uid 0 hotkey "),
        "{printed}"
    );
}
