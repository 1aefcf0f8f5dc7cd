//! `regpow devnet` as a user runs it: the URL first, blocks logged, Ctrl-C stops it cleanly;
//! bad configuration is exit 2 and a taken port exit 3.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
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
        "error: devnet config: block_time must be at least 50ms"
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
