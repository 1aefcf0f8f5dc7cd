//! No secret in any output: `regpow register` and `regpow farm` run with known secrets (a mnemonic, a hex
//! seed, coldkey passwords, the secrets of a keyfile) through its error paths and through
//! full registrations on the devnet, with and without `--json`. No 12-byte piece of any
//! secret may appear in stdout or stderr.

#![cfg(unix)]

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use regpow_devnet::{start, DevnetConfig, DevnetHandle, SubnetConfig};

/// A valid BIP-39 mnemonic (its words are ordinary: pieces of it must still not show up).
const MNEMONIC: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";
/// A mini secret key, as 0x-hex.
const SEED: &str = "0x9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// The rehearsal wallet's password (scripts/make_test_wallets.py).
const PASSWORD: &str = "regpow test password";
/// A wrong password that is a secret all the same.
const WRONG_PASSWORD: &str = "hunter2 but much longer 0451";
/// Hotkey addresses to register (public).
const HOTKEYS: [&str; 3] = [
    "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y",
    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    "5FHneW46xGXgs5mUiveU7sRTyXqfEWr3fjVGEnXMeDsF9FLx",
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../chain/tests/data/wallets")
}

/// Every secret byte string a run might leak.
fn secrets() -> Vec<Vec<u8>> {
    let mut secrets: Vec<Vec<u8>> = vec![
        MNEMONIC.into(),
        SEED.trim_start_matches("0x").into(),
        PASSWORD.into(),
        WRONG_PASSWORD.into(),
    ];
    // The open wallet's secrets, as its keyfile holds them.
    let open: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("open/coldkey")).unwrap()).unwrap();
    for field in ["secretSeed", "privateKey", "secretPhrase"] {
        let text = open[field].as_str().unwrap();
        secrets.push(text.trim_start_matches("0x").into());
    }
    secrets
}

/// Panics if a 12-byte piece of a secret is in the run's stdout or stderr.
fn assert_no_secret(out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        for secret in secrets() {
            if let Some(piece) = secret
                .windows(12)
                .find(|piece| bytes.windows(12).any(|b| b == *piece))
            {
                panic!(
                    "{stream} holds {:?} of a secret:\n{}",
                    String::from_utf8_lossy(piece),
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }
}

/// `regpow [--json] register --backend cpu --threads 1 ARGS…` with `stdin` as its input.
fn regpow(json: bool, args: &[&str], env: &[(&str, &[u8])], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
    if json {
        command.arg("--json");
    }
    command
        .args(["register", "--backend", "cpu", "--threads", "1"])
        .args(args)
        .env_remove("REGPOW_COLDKEY_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, std::ffi::OsStr::from_bytes(value));
    }
    let mut child = command.spawn().unwrap();
    // A run may exit before reading its input: a broken pipe here is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    assert_no_secret(&out);
    out
}

/// The same run in a blocking task (the devnet needs the runtime meanwhile).
async fn run(
    json: bool,
    args: Vec<String>,
    env: Vec<(&'static str, Vec<u8>)>,
    stdin: &str,
) -> Output {
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &[u8])> = env.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        regpow(json, &args, &env, &stdin)
    })
    .await
    .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one line after any warning, and the exit code.
fn error_line(out: &Output) -> (Option<i32>, String) {
    let err = stderr(out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    (out.status.code(), errors[0].to_string())
}

async fn devnet() -> DevnetHandle {
    start(DevnetConfig {
        block_time: Duration::from_millis(300),
        subnets: vec![SubnetConfig {
            difficulty: 1000,
            ..SubnetConfig::new(1, true)
        }],
        ..DevnetConfig::default()
    })
    .await
    .unwrap()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A wallet folder `<root>/w` (hotkey `h`) with this coldkey file (mode 0600) and the
/// `source` wallet's public files.
fn wallet(name: &str, source: &str, coldkey: &[u8]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("regpow-secrets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("w/hotkeys")).unwrap();
    std::fs::write(root.join("w/coldkey"), coldkey).unwrap();
    chmod(&root.join("w/coldkey"), 0o600);
    std::fs::copy(
        fixtures().join(source).join("coldkeypub.txt"),
        root.join("w/coldkeypub.txt"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join(source).join("hotkeys/miner1pub.txt"),
        root.join("w/hotkeys/hpub.txt"),
    )
    .unwrap();
    root
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn wallet_args(network: &str, root: &Path) -> Vec<String> {
    let root = root.display().to_string();
    args(&[
        "--network",
        network,
        "--netuid",
        "1",
        "--wallet-path",
        &root,
        "--wallet-name",
        "w",
        "--wallet-hotkey",
        "h",
        "--max-seconds",
        "60",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyfile_errors_and_passwords_never_reach_the_output() {
    let devnet = devnet().await;
    for json in [true, false] {
        // A coldkey file holding a mnemonic instead of keypair JSON (serde_json's message
        // quoted it), and one with the secret in a field of the wrong type.
        let root = wallet("mnemonic", "open", format!("\"{MNEMONIC}\"").as_bytes());
        let out = run(json, wallet_args(&devnet.url, &root), vec![], "").await;
        let (code, line) = error_line(&out);
        assert_eq!(code, Some(2), "{line}");
        assert!(line.contains("w/coldkey: not keypair JSON"), "{line}");

        let wrong_types = format!(r#"{{"secretSeed": ["{SEED}"], "privateKey": 5}}"#);
        let root = wallet("wrong-types", "open", wrong_types.as_bytes());
        let out = run(json, wallet_args(&devnet.url, &root), vec![], "").await;
        let (code, line) = error_line(&out);
        assert_eq!(code, Some(2), "{line}");
        assert!(line.contains("not keypair JSON"), "{line}");

        // The encrypted coldkey with a wrong password, then the right one that is not UTF-8.
        let coldkey = std::fs::read(fixtures().join("rehearsal/coldkey")).unwrap();
        let root = wallet("rehearsal", "rehearsal", &coldkey);
        let env = vec![(
            "REGPOW_COLDKEY_PASSWORD",
            WRONG_PASSWORD.as_bytes().to_vec(),
        )];
        if json {
            // One key derivation (512 MiB, seconds) is enough.
            let out = run(json, wallet_args(&devnet.url, &root), env, "").await;
            assert_eq!(
                error_line(&out),
                (Some(2), "error: wrong coldkey password".into())
            );
        }
        // The password from a file (a mounted secret): private to the user, one line.
        let file = root.join("password");
        std::fs::write(&file, format!("{WRONG_PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let from_file = vec![(
            "REGPOW_COLDKEY_PASSWORD_FILE",
            file.as_os_str().as_bytes().to_vec(),
        )];
        let out = run(json, wallet_args(&devnet.url, &root), from_file.clone(), "").await;
        let (code, line) = error_line(&out);
        assert_eq!(code, Some(2), "{line}");
        assert!(
            line.contains("REGPOW_COLDKEY_PASSWORD_FILE") && line.contains("chmod 600"),
            "{line}"
        );
        let mut both = from_file.clone();
        both.push(("REGPOW_COLDKEY_PASSWORD", PASSWORD.as_bytes().to_vec()));
        let out = run(json, wallet_args(&devnet.url, &root), both, "").await;
        assert!(error_line(&out).1.contains("keep one"), "{}", stderr(&out));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        if json {
            let out = run(json, wallet_args(&devnet.url, &root), from_file, "").await;
            assert_eq!(
                error_line(&out),
                (Some(2), "error: wrong coldkey password".into())
            );
        }
        let mut bad = PASSWORD.as_bytes().to_vec();
        bad.push(0xff);
        let env = vec![("REGPOW_COLDKEY_PASSWORD", bad)];
        let out = run(json, wallet_args(&devnet.url, &root), env, "").await;
        assert_eq!(
            error_line(&out),
            (
                Some(2),
                "error: REGPOW_COLDKEY_PASSWORD is not valid UTF-8".into()
            )
        );
    }
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_uris_never_reach_the_output() {
    const UNREACHABLE: &str = "ws://127.0.0.1:1";
    let warning =
        "warning: a mnemonic, seed or password in --coldkey-uri is visible to other users";
    for json in [true, false] {
        // On the command line: refused before anything else (exit 2); with
        // --allow-secret-argument, a warning, then the run's own error.
        for uri in [
            MNEMONIC,
            SEED,
            &format!("{MNEMONIC}//hard/soft"),
            &format!("//Alice///{WRONG_PASSWORD}"),
        ] {
            let list = [
                "--network",
                UNREACHABLE,
                "--netuid",
                "1",
                "--hotkey",
                HOTKEYS[0],
            ];
            let out = run(
                json,
                args(&[&list[..], &["--coldkey-uri", uri]].concat()),
                vec![],
                "",
            )
            .await;
            let (code, line) = error_line(&out);
            assert_eq!(code, Some(2), "{}", stderr(&out));
            assert!(
                line.contains("readable by every user") && line.contains("--coldkey-uri -"),
                "{line}"
            );
            let out = run(
                json,
                args(
                    &[
                        &list[..],
                        &["--coldkey-uri", uri, "--allow-secret-argument"],
                    ]
                    .concat(),
                ),
                vec![],
                "",
            )
            .await;
            assert_eq!(error_line(&out).0, Some(3), "{}", stderr(&out));
            let err = stderr(&out);
            assert!(err.starts_with(warning), "{err}");
            assert_eq!(
                err.lines().filter(|l| l.contains("warning")).count(),
                1,
                "{err}"
            );
        }
        // A mnemonic pasted into the wrong flag is not echoed.
        for wrong in [
            vec!["--network", MNEMONIC, "--netuid", "1"],
            vec!["--network", UNREACHABLE, "--netuid", MNEMONIC],
            vec![
                "--network",
                UNREACHABLE,
                "--netuid",
                "1",
                "--max-seconds",
                SEED,
            ],
        ] {
            let out = run(
                json,
                args(&[&wrong[..], &["--coldkey-uri", "//Alice"]].concat()),
                vec![],
                "",
            )
            .await;
            let (code, line) = error_line(&out);
            assert_eq!(code, Some(2), "{}", stderr(&out));
            assert!(line.contains("characters (not shown)"), "{line}");
        }
        // A bad netuid is refused by the flag parser, before the URI is looked at.
        let list = [
            "--network",
            UNREACHABLE,
            "--netuid",
            "0",
            "--coldkey-uri",
            MNEMONIC,
        ];
        let out = run(json, args(&list), vec![], "").await;
        assert_eq!(error_line(&out).0, Some(2), "{}", stderr(&out));

        // From stdin: no warning, and the same errors.
        for input in [
            format!("{MNEMONIC}\n"),
            format!("  {SEED}  \r\n"),
            SEED.to_string(),
        ] {
            let list = [
                "--network",
                UNREACHABLE,
                "--netuid",
                "1",
                "--hotkey",
                HOTKEYS[0],
            ];
            let out = run(
                json,
                args(&[&list[..], &["--coldkey-uri", "-"]].concat()),
                vec![],
                &input,
            )
            .await;
            assert_eq!(error_line(&out).0, Some(3), "{}", stderr(&out));
            assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
        }
        // A mnemonic with a mistyped word: exit 2, naming the word's position only.
        let typo = MNEMONIC.replace("sausage", "sausages");
        let list = [
            "--network",
            UNREACHABLE,
            "--netuid",
            "1",
            "--hotkey",
            HOTKEYS[0],
        ];
        let out = run(
            json,
            args(&[&list[..], &["--coldkey-uri", "-"]].concat()),
            vec![],
            &typo,
        )
        .await;
        let (code, line) = error_line(&out);
        assert_eq!(code, Some(2), "{line}");
        assert!(line.contains("unknown word (word 5)"), "{line}");
        assert!(!line.contains("sausages"), "{line}");
        // Nothing on stdin.
        let out = run(
            json,
            args(&[&list[..], &["--coldkey-uri", "-"]].concat()),
            vec![],
            "",
        )
        .await;
        assert_eq!(
            error_line(&out),
            (
                Some(2),
                "error: --coldkey-uri -: no URI on stdin (one line: a mnemonic, 0x seed or //path)"
                    .into()
            )
        );
    }
    // A dev URI needs no warning.
    let list = [
        "--network",
        UNREACHABLE,
        "--netuid",
        "1",
        "--hotkey",
        HOTKEYS[0],
        "--coldkey-uri",
        "//Alice",
    ];
    let out = run(true, args(&list), vec![], "").await;
    assert_eq!(error_line(&out).0, Some(3));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_with_secrets_print_none() {
    let devnet = devnet().await;
    // A mnemonic from stdin with --json, a seed from stdin in text mode.
    for (json, input, hotkey) in [(true, MNEMONIC, HOTKEYS[0]), (false, SEED, HOTKEYS[1])] {
        let list = [
            "--network",
            &devnet.url,
            "--netuid",
            "1",
            "--hotkey",
            hotkey,
            "--coldkey-uri",
            "-",
            "--max-seconds",
            "60",
        ];
        let out = run(json, args(&list), vec![], &format!("{input}\n")).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("registered"));
    }
    // The open wallet's coldkey (its seed, private key and phrase in the file), readable by
    // others and accepted with --allow-insecure-keyfile.
    let coldkey = std::fs::read(fixtures().join("open/coldkey")).unwrap();
    let root = wallet("open", "open", &coldkey);
    chmod(&root.join("w/coldkey"), 0o644);
    let out = run(true, wallet_args(&devnet.url, &root), vec![], "").await;
    let (code, line) = error_line(&out);
    assert_eq!(code, Some(2), "{line}");
    let path = root.join("w/coldkey").display().to_string();
    assert_eq!(
        line,
        format!("error: wallet: {path} can be read by other users (mode 644): run `chmod 600 {path}` (or pass --allow-insecure-keyfile)")
    );
    let mut list = wallet_args(&devnet.url, &root);
    list.push("--allow-insecure-keyfile".into());
    let out = run(true, list, vec![], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    devnet.stop().await;
}

/// `regpow [--json] farm --backend cpu --threads 1 --config PLAN`, with `env`.
async fn farm(json: bool, plan: &Path, env: Vec<(&'static str, Vec<u8>)>) -> Output {
    let plan = plan.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
        if json {
            command.arg("--json");
        }
        command
            .args([
                "farm",
                "--backend",
                "cpu",
                "--threads",
                "1",
                "--max-seconds",
                "60",
            ])
            .arg("--config")
            .arg(&plan)
            .env_remove("REGPOW_COLDKEY_PASSWORD")
            .stdin(Stdio::null());
        for (name, value) in &env {
            command.env(name, std::ffi::OsStr::from_bytes(value));
        }
        let out = command.output().unwrap();
        assert_no_secret(&out);
        out
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farms_with_secrets_print_none() {
    let devnet = devnet().await;
    let coldkey = std::fs::read(fixtures().join("rehearsal/coldkey")).unwrap();
    let root = wallet("farm", "rehearsal", &coldkey);
    let plan = root.join("farm.toml");
    std::fs::write(
        &plan,
        format!(
            "network = \"{}\"\n[[job]]\nnetuids = [1]\nwallet_path = \"{}\"\nwallet_name = \"w\"\nwallet_hotkeys = [\"h\"]\n",
            devnet.url,
            root.display()
        ),
    )
    .unwrap();
    for json in [true, false] {
        let wrong = vec![(
            "REGPOW_COLDKEY_PASSWORD",
            WRONG_PASSWORD.as_bytes().to_vec(),
        )];
        let out = farm(json, &plan, wrong).await;
        let (code, line) = error_line(&out);
        assert_eq!(
            (code, line.as_str()),
            (Some(2), "error: wrong coldkey password")
        );
    }
    let right = vec![("REGPOW_COLDKEY_PASSWORD", PASSWORD.as_bytes().to_vec())];
    let out = farm(true, &plan, right).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"registered\""));

    // A mnemonic in the plan: in a file others can read (refused: a plan holding a secret
    // is a keyfile), then mistyped (refused, never quoted), then right (it registers).
    let write_plan = |mnemonic: &str, mode: u32| {
        std::fs::write(
            &plan,
            format!(
                "network = \"{}\"\n[[job]]\nnetuids = [1]\nhotkeys = [\"{}\"]\ncoldkey_uri = \"{mnemonic}\"\n",
                devnet.url, "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&plan, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write_plan(MNEMONIC, 0o644);
    let out = farm(false, &plan, vec![]).await;
    let (code, line) = error_line(&out);
    assert_eq!(code, Some(2), "{}", stderr(&out));
    assert!(
        line.contains("job[1].coldkey_uri holds a secret") && line.contains("chmod 600"),
        "{line}"
    );
    let typo = MNEMONIC.replace("sausage", "sausagee");
    for (mnemonic, expected) in [(typo.as_str(), Some(2)), (MNEMONIC, Some(0))] {
        write_plan(mnemonic, 0o600);
        let out = farm(false, &plan, vec![]).await;
        assert_eq!(out.status.code(), expected, "{}", stderr(&out));
        if expected == Some(2) {
            assert!(
                error_line(&out).1.contains("job[1].coldkey_uri"),
                "{}",
                stderr(&out)
            );
        }
    }
    devnet.stop().await;
}
