//! Who the devnet serves, over a real socket: programs and pages on this machine only, and
//! the unsafe RPC methods only when asked for, as a node's `--rpc-methods`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use regpow_devnet::config::RpcMethods;
use regpow_devnet::{start, DevnetConfig};

/// The status code of a websocket upgrade (or, with `body`, a JSON-RPC POST) with these
/// `Host` and `Origin` headers, and the response text.
fn request(port: u16, host: &str, origin: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let request = match body {
        None => format!(
            "GET / HTTP/1.1\r\nHost: {host}\r\n{origin}Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
        Some(body) => format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    };
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                // An upgrade stays open: its head is all there is to read.
                if body.is_none() && text.contains("\r\n\r\n") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_and_foreign_hosts_are_refused() {
    let devnet = start(DevnetConfig::default()).await.unwrap();
    let port = devnet.addr.port();
    let local = format!("127.0.0.1:{port}");
    let checks = tokio::task::spawn_blocking(move || {
        vec![
            ("a program", request(port, &local, None, None).0, 101),
            (
                "a page on this machine",
                request(port, &local, Some("http://localhost:3000"), None).0,
                101,
            ),
            (
                "a web page",
                request(port, &local, Some("https://evil.example"), None).0,
                403,
            ),
            (
                "a sandboxed page",
                request(port, &local, Some("null"), None).0,
                403,
            ),
            (
                "a rebound DNS name",
                request(port, &format!("evil.example:{port}"), None, None).0,
                403,
            ),
            (
                "a web page over HTTP",
                request(
                    port,
                    &local,
                    Some("https://evil.example"),
                    Some(r#"{"jsonrpc":"2.0","id":1,"method":"system_name","params":[]}"#),
                )
                .0,
                403,
            ),
        ]
    })
    .await
    .unwrap();
    for (who, got, want) in checks {
        assert_eq!(got, want, "{who}");
    }
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_methods_answer_only_with_rpc_methods_unsafe() {
    let call = |port: u16, method: &'static str, params: &'static str| {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let (_, text) = request(port, &format!("127.0.0.1:{port}"), None, Some(&body));
        text
    };
    for methods in [RpcMethods::Safe, RpcMethods::Unsafe] {
        let devnet = start(DevnetConfig {
            rpc_methods: methods,
            ..DevnetConfig::default()
        })
        .await
        .unwrap();
        let port = devnet.addr.port();
        let answers = tokio::task::spawn_blocking(move || {
            [
                call(
                    port,
                    "state_getKeys",
                    r#"["0x26aa394eea5630e07c48ae0c9558cef7"]"#,
                ),
                call(
                    port,
                    "state_getPairs",
                    r#"["0x26aa394eea5630e07c48ae0c9558cef7"]"#,
                ),
                call(port, "author_removeExtrinsic", r#"[[]]"#),
                call(
                    port,
                    "state_getKeysPaged",
                    r#"["0x26aa394eea5630e07c48ae0c9558cef7", 3]"#,
                ),
            ]
        })
        .await
        .unwrap();
        for (i, answer) in answers.iter().enumerate() {
            let refused = answer.contains("RPC call is unsafe to be called externally");
            let unsafe_method = i < 3;
            assert_eq!(
                refused,
                unsafe_method && methods == RpcMethods::Safe,
                "{methods:?} #{i}: {answer}"
            );
            assert!(answer.contains("\"result\"") || refused, "{answer}");
        }
        devnet.stop().await;
    }
}
