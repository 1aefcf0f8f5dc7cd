//! Independent clients register through the devnet over a real websocket, each mining its own
//! seal in its own language and signing with its own library: polkadot-js (`@polkadot/api`,
//! Node) and py-substrate-interface (Python). Each script (under `tests/clients/`) reads the
//! difficulty and the head, mines, signs `SubtensorModule::pow_register` with //Alice as the
//! coldkey, waits for inclusion and checks the `NeuronRegistered` event and
//! `SubtensorModule::Uids(netuid, hotkey)` itself; this test then checks the chain in-process.
//!
//! The clients' dependencies are installed outside cargo (`.ci/run` does it):
//! - `npm ci` in `tests/clients/polkadot-js` (its `node_modules` is git-ignored);
//! - `pip install -r tests/clients/substrate-interface/requirements.txt` into the Python that
//!   `REGPOW_PYTHON` names (default `python3`).
//!
//! Where a client's runtime or packages are missing its test prints one line saying why and
//! passes as skipped, unless `REGPOW_REQUIRE_CLIENTS=1`, where it fails (CI sets it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regpow_devnet::accounts::dev_account;
use regpow_devnet::events::Event;
use regpow_devnet::storage::uids_key;
use regpow_devnet::{start, DevnetConfig, Node, SubnetConfig};

/// How long one client may take, connection, mining and inclusion together.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// The subnet the clients register on.
const NETUID: u16 = 1;

/// `tests/clients/<name>` in this crate.
fn client_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// Whether a missing client fails the test instead of skipping it.
fn clients_required() -> bool {
    std::env::var("REGPOW_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// Skips (one line on stdout) or, with `REGPOW_REQUIRE_CLIENTS=1`, fails.
fn skip(client: &str, reason: &str) {
    assert!(
        !clients_required(),
        "{client}: {reason} (REGPOW_REQUIRE_CLIENTS=1 requires every client)"
    );
    println!("skipped: {client}: {reason} (set REGPOW_REQUIRE_CLIENTS=1 to fail instead)");
}

/// Runs `program args` to completion (short checks: versions, imports), with its output.
fn probe(program: &str, args: &[&str]) -> Result<String, String> {
    match Command::new(program).args(args).output() {
        Err(e) => Err(format!("`{program}` cannot run: {e}")),
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(out) => Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
        )),
    }
}

/// What a client run printed, and how it ended.
struct ClientRun {
    /// Exit status, or `None` if it was killed at the timeout.
    success: Option<bool>,
    stdout: String,
    stderr: String,
}

/// Runs a client script as a child process, polling (without blocking the runtime that
/// serves the devnet) until it exits or [`CLIENT_TIMEOUT`] passes, when it is killed.
async fn run_client(program: &str, args: &[&str], dir: &Path) -> ClientRun {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("`{program}` cannot start: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let success = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.success());
        }
        if started.elapsed() > CLIENT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ClientRun {
        success,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The devnet's own view: `hotkey_name` has a uid on [`NETUID`], in the registration state
/// and in the head's `Uids` storage, and exactly one block deposited its `NeuronRegistered`.
fn assert_registered(node: &Node, client: &str, hotkey_name: &str) {
    let hotkey = dev_account(hotkey_name).unwrap();
    let ledger = node.lock();
    let chain = &ledger.chain;
    let uid = chain.state.subnets[&NETUID].uids.get(&hotkey).copied();
    let uid = uid.unwrap_or_else(|| panic!("{client}: {hotkey_name} has no uid on the devnet"));
    assert_eq!(
        chain.head_state().storage.get(&uids_key(NETUID, &hotkey)),
        Some(&uid.to_le_bytes().to_vec()),
        "{client}: Uids({NETUID}, {hotkey_name}) in the head's storage"
    );
    let events: Vec<_> = (0..=u64::from(chain.head().header.number))
        .filter_map(|n| chain.block(n))
        .flat_map(|block| block.events.iter())
        .filter(|record| {
            record.event
                == Event::NeuronRegistered {
                    netuid: NETUID,
                    uid,
                    hotkey,
                }
        })
        .collect();
    assert_eq!(
        events.len(),
        1,
        "{client}: one NeuronRegistered({NETUID}, {uid}, {hotkey_name})"
    );
}

/// Starts a devnet (netuid 1 with PoW at difficulty 10,000, one-second blocks: five blocks
/// of work window for a client that takes its time), runs the client against its websocket
/// URL and checks, in-process, that `hotkey_name` got a uid through a `NeuronRegistered` event.
async fn registers(client: &str, program: &str, script: &str, hotkey_name: &str) {
    let devnet = start(DevnetConfig {
        block_time: Duration::from_secs(1),
        subnets: vec![SubnetConfig {
            difficulty: 10_000,
            ..SubnetConfig::new(NETUID, true)
        }],
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    let netuid = NETUID.to_string();
    let hotkey_uri = format!("//{hotkey_name}");
    let started = Instant::now();
    let outcome = run_client(
        program,
        &[script, &devnet.url, &netuid, &hotkey_uri, "//Alice"],
        &client_dir(client),
    )
    .await;
    let report = format!(
        "{client} ({:.1} s)\n--- stdout\n{}--- stderr\n{}",
        started.elapsed().as_secs_f64(),
        outcome.stdout,
        outcome.stderr
    );
    match outcome.success {
        None => panic!("{client} did not finish within {CLIENT_TIMEOUT:?}: {report}"),
        Some(false) => panic!("{client} failed: {report}"),
        Some(true) => println!("{report}"),
    }
    assert!(
        outcome.stdout.contains("registered hotkey"),
        "{client} exited 0 without saying it registered: {report}"
    );

    assert_registered(&devnet.node, client, hotkey_name);
    devnet.stop().await;
}

/// polkadot-js: `@polkadot/api` with a Keyring sr25519 signer, `signAndSend`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polkadot_js_registers_a_hotkey_it_mined_for() {
    const CLIENT: &str = "polkadot-js";
    if let Err(reason) = probe("node", &["--version"]) {
        return skip(CLIENT, &reason);
    }
    if !client_dir(CLIENT)
        .join("node_modules/@polkadot/api/package.json")
        .exists()
    {
        return skip(
            CLIENT,
            "no node_modules: run `npm ci` in interop/tests/clients/polkadot-js",
        );
    }
    registers(CLIENT, "node", "register.mjs", "Bob").await;
}

/// py-substrate-interface: `SubstrateInterface`, `Keypair.create_from_uri`,
/// `submit_extrinsic(wait_for_inclusion=True)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substrate_interface_registers_a_hotkey_it_mined_for() {
    const CLIENT: &str = "substrate-interface";
    let python = std::env::var("REGPOW_PYTHON").unwrap_or_else(|_| "python3".into());
    if let Err(reason) = probe(
        &python,
        &["-c", "import substrateinterface, Crypto.Hash.keccak"],
    ) {
        return skip(
            CLIENT,
            &format!(
                "{reason} (pip install -r interop/tests/clients/substrate-interface/\
                 requirements.txt into the Python that REGPOW_PYTHON names)"
            ),
        );
    }
    registers(CLIENT, &python, "register.py", "Charlie").await;
}
