//! Shared by the end-to-end tests: the devnet, the `regpow` binary, its output.

#![allow(dead_code)] // each test binary uses its own share of these helpers

pub mod proxy;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use regpow_devnet::pow::Subnet;
use regpow_devnet::{start, DevnetConfig, DevnetHandle, SubnetConfig};
use serde_json::Value;

/// A devnet with these subnets and block time.
pub async fn devnet_with(block_time: Duration, subnets: Vec<SubnetConfig>) -> DevnetHandle {
    start(DevnetConfig {
        block_time,
        subnets,
        ..DevnetConfig::default()
    })
    .await
    .unwrap()
}

/// Subnet `netuid` with PoW on or off and this difficulty.
pub fn subnet(netuid: u16, pow: bool, difficulty: u64) -> SubnetConfig {
    SubnetConfig {
        difficulty,
        ..SubnetConfig::new(netuid, pow)
    }
}

/// A difficulty no test run reaches: the run hashes until the test changes it.
pub const UNREACHABLE_DIFFICULTY: u64 = 10_000_000_000_000;

/// Changes subnet `netuid` on the running devnet (seen from the next head).
pub fn change_subnet(devnet: &DevnetHandle, netuid: u16, change: impl FnOnce(&mut Subnet)) {
    change(
        devnet
            .node
            .lock()
            .chain
            .state
            .subnets
            .get_mut(&netuid)
            .unwrap(),
    );
}

/// Sets subnet `netuid`'s difficulty on the running devnet (seen from the next head).
pub fn set_difficulty(devnet: &DevnetHandle, netuid: u16, difficulty: u64) {
    change_subnet(devnet, netuid, |subnet| subnet.difficulty = difficulty);
}

/// Sends SIGINT (Ctrl-C) to process `pid`.
pub fn interrupt(pid: u32) {
    signal(pid, "INT");
}

/// Sends SIGTERM (how schedulers stop a process) to process `pid`.
pub fn terminate(pid: u32) {
    signal(pid, "TERM");
}

/// Sends signal `name` (`INT`, `TERM`) to process `pid` with kill(1).
fn signal(pid: u32, name: &str) {
    assert!(Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// A hotkey no test registers with a wallet.
pub const HOTKEY: &str = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";

/// `regpow --json register --network URL --backend cpu --threads 1 --netuid N
/// --coldkey-uri URI --hotkey HOTKEY ARGS…`.
pub fn register_command(url: &str, netuid: &str, coldkey_uri: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
    command
        .args(["--json", "register", "--network", url])
        .args(["--backend", "cpu", "--threads", "1"])
        .args([
            "--netuid",
            netuid,
            "--coldkey-uri",
            coldkey_uri,
            "--hotkey",
            HOTKEY,
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs a command to its end off the async runtime.
pub async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// The JSON lines on stdout.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// The lines of stderr that start with `error:`: a failure says exactly one.
pub fn error_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_string)
        .collect()
}

/// The events of one kind among the JSON lines.
pub fn events<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == kind).collect()
}

/// A TCP port free on loopback now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` from 127.0.0.1:`port`: the body, or None.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http_get_url(&format!("http://127.0.0.1:{port}{path}"))
}

/// `GET` of `http://HOST:PORT/PATH`: the body of a 200 answer, or None.
pub fn http_get_url(url: &str) -> Option<String> {
    use std::io::{Read, Write};
    let (authority, path) = url.strip_prefix("http://")?.split_once('/')?;
    let mut stream = std::net::TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /{path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200")).then(|| body.to_string())
}
