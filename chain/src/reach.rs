//! Why an endpoint could not be reached, in words a person can act on.
//!
//! subxt's connection errors nest jsonrpsee's, which nest the operating system's: the text
//! of one refused connection reads `Cannot construct OnlineClient: RPC error: client error:
//! RPC error: client error: Error when opening the TCP socket: Connection refused (os error
//! 111)`. [`short_cause`] maps such a chain to one short cause with a hint (connection
//! refused, host name not found, no answer, TLS, an HTTP status instead of a websocket
//! upgrade, …); [`cause_of`] does the same from the error value.

use std::error::Error;
use std::io;

use super::network::redact_url;

/// Longest cause printed when the error is none of the known kinds.
const MAX_CAUSE: usize = 160;

/// Wrapper texts that add nothing a person can act on.
const WRAPPERS: &[&str] = &[
    "cannot construct onlineclient",
    "rpc error",
    "client error",
    "error when opening the tcp socket",
    "i/o error",
    "networking or low-level protocol error",
    "transport error",
];

/// How each cause [`short_cause`] gives begins: such a text is already short.
const CAUSES: &[&str] = &[
    "connection refused (",
    "host name not found (",
    "the server answered HTTP ",
    "the server redirects elsewhere ",
    "TLS failed: ",
    "the server speaks plain HTTP",
    "the server hung up ",
    "no answer in time (",
    "network unreachable from ",
    "no route to host (",
    "the connection was reset (",
];

/// One short cause for a connection error given as text (any nesting of subxt, jsonrpsee
/// and OS messages), with what to check. Never longer than one line; any URL inside it is
/// redacted. A cause it gave before comes back unchanged, so mapping twice (in the client and
/// again where the error is printed) is harmless.
pub fn short_cause(text: &str) -> String {
    if CAUSES.iter().any(|cause| text.starts_with(cause)) {
        return clean(text);
    }
    let lower = text.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["connection refused", "os error 111", "os error 61)"]) {
        return "connection refused (is the node running and the URL right?)".into();
    }
    if has(&[
        "failed to resolve",
        "no ip address found",
        "name or service not known",
        "failed to lookup address",
        "temporary failure in name resolution",
        "nodename nor servname",
        "no address associated with hostname",
    ]) {
        return "host name not found (check the host in the URL, and DNS)".into();
    }
    if let Some(status) = number_after(&lower, "rejected with status code:") {
        let hint = match status {
            401 | 403 => "credentials or API key not accepted?",
            404 => "wrong path in the URL?",
            429 => "rate limited: try later",
            500..=599 => "the server failed: try later",
            _ => "is this a websocket endpoint?",
        };
        return format!("the server answered HTTP {status} instead of a websocket ({hint})");
    }
    if let Some(status) = number_after(&lower, "redirected with status code:") {
        return format!("the server redirects elsewhere (HTTP {status}): use the URL it points to");
    }
    if has(&[
        "certificate",
        "tls",
        "corrupt message",
        "handshake failure",
        "alert",
    ]) {
        return format!(
            "TLS failed: {} (wss:// to a server without TLS, or an untrusted certificate?)",
            fallback(text)
        );
    }
    if has(&["http version was not 1.1"]) {
        return "the server speaks plain HTTP, not websocket (is this the node's websocket port?)"
            .into();
    }
    if has(&["unexpected end of file", "unexpected eof"]) {
        return "the server hung up during the handshake (ws:// to a TLS port, or not a \
                websocket server?)"
            .into();
    }
    if has(&["timeout", "timed out", "no answer", "os error 110"]) {
        return "no answer in time (is the host right and the port open?)".into();
    }
    if has(&["network is unreachable", "os error 101"]) {
        return "network unreachable from this machine".into();
    }
    if has(&["no route to host", "host is unreachable", "os error 113"]) {
        return "no route to host (wrong address, or a firewall?)".into();
    }
    if has(&["connection reset", "os error 104", "broken pipe"]) {
        return "the connection was reset (wrong port, ws:// to a TLS port, or a proxy?)".into();
    }
    fallback(text)
}

/// [`short_cause`] from an error value: an OS error anywhere in its source chain is mapped
/// by its kind, anything else by the chain's text.
pub fn cause_of(error: &(dyn Error + 'static)) -> String {
    let mut texts = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            let cause = match io.kind() {
                io::ErrorKind::ConnectionRefused => Some("connection refused"),
                io::ErrorKind::TimedOut => Some("timed out"),
                io::ErrorKind::ConnectionReset => Some("connection reset"),
                io::ErrorKind::NetworkUnreachable => Some("network is unreachable"),
                io::ErrorKind::HostUnreachable => Some("no route to host"),
                _ => None,
            };
            if let Some(cause) = cause {
                return short_cause(cause);
            }
        }
        texts.push(e.to_string());
        next = e.source();
    }
    short_cause(&texts.join(": "))
}

/// The number that follows `marker` in `text`, if any.
fn number_after(text: &str, marker: &str) -> Option<u16> {
    let rest = text[text.find(marker)? + marker.len()..].trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A cause of no known kind: the chain without its wrappers and repeats, on one line,
/// shortened, URLs redacted.
fn fallback(text: &str) -> String {
    let segments = meaningful_segments(text);
    let joined = if segments.is_empty() {
        "unknown error".to_string()
    } else {
        segments.join(": ")
    };
    clean(&joined)
}

fn meaningful_segments(text: &str) -> Vec<String> {
    let mut segments: Vec<String> = Vec::new();
    for segment in text.split(": ") {
        let segment = segment.trim();
        let lower = segment.to_lowercase();
        if segment.is_empty() || WRAPPERS.contains(&lower.as_str()) {
            continue;
        }
        if segments.last().is_some_and(|last| last == segment) {
            continue;
        }
        segments.push(segment.to_string());
    }
    segments
}

/// One line, no `(os error N)`, URLs redacted, at most [`MAX_CAUSE`] characters.
fn clean(text: &str) -> String {
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        words.push(if word.contains("://") {
            redact_url(word)
        } else {
            word.to_string()
        });
    }
    let mut line = words.join(" ");
    if let Some(at) = line.find(" (os error") {
        line.truncate(at);
    }
    if line.chars().count() > MAX_CAUSE {
        line = line.chars().take(MAX_CAUSE - 1).collect::<String>() + "…";
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    // Texts as subxt 0.51 / jsonrpsee 0.26 print them, captured from real connection
    // attempts: a closed port, an unknown host, a server that accepts and never answers, one
    // that answers 401 / 404 / HTTP 1.0, wss:// to a plain server, a self-signed certificate,
    // ws:// to a TLS server.
    const REFUSED: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: Error when opening the TCP socket: Connection refused (os error 111)";
    const NO_HOST: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: Failed to resolve IP addresses for this hostname: failed to lookup \
        address information: Name or service not known";
    const TIMEOUT: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: Connection timeout exceeded: 10s";
    const HTTP_404: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: Connection rejected with status code: 404";
    const HTTP_401: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: Connection rejected with status code: 401";
    const TLS_PLAIN: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: Error when opening the TCP socket: received corrupt message of type \
        InvalidContentType";
    const TLS_CERT: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: Error when opening the TCP socket: invalid peer certificate: \
        Other(OtherError(CaUsedAsEndEntity))";
    const HTTP_10: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: http version was not 1.1";
    const HUNG_UP: &str = "Cannot construct OnlineClient: RPC error: client error: RPC error: \
        client error: i/o error: unexpected end of file";

    #[test]
    fn each_known_failure_is_one_short_actionable_cause() {
        for (text, want) in [
            (
                REFUSED,
                "connection refused (is the node running and the URL right?)",
            ),
            (
                NO_HOST,
                "host name not found (check the host in the URL, and DNS)",
            ),
            (
                TIMEOUT,
                "no answer in time (is the host right and the port open?)",
            ),
            (
                HTTP_404,
                "the server answered HTTP 404 instead of a websocket (wrong path in the URL?)",
            ),
            (
                HTTP_401,
                "the server answered HTTP 401 instead of a websocket (credentials or API key \
                 not accepted?)",
            ),
            (
                TLS_PLAIN,
                "TLS failed: received corrupt message of type InvalidContentType (wss:// to a \
                 server without TLS, or an untrusted certificate?)",
            ),
            (
                TLS_CERT,
                "TLS failed: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity)) \
                 (wss:// to a server without TLS, or an untrusted certificate?)",
            ),
            (
                HTTP_10,
                "the server speaks plain HTTP, not websocket (is this the node's websocket \
                 port?)",
            ),
            (
                HUNG_UP,
                "the server hung up during the handshake (ws:// to a TLS port, or not a \
                 websocket server?)",
            ),
            (
                "no answer",
                "no answer in time (is the host right and the port open?)",
            ),
        ] {
            let want = want.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(short_cause(text), want, "{text}");
            assert_eq!(short_cause(&want), want, "mapping twice changes {want}");
        }
    }

    #[test]
    fn unknown_failures_lose_the_wrappers_and_stay_short() {
        assert_eq!(
            short_cause(
                "Cannot construct OnlineClient: RPC error: client error: RPC error: client \
                 error: something odd happened"
            ),
            "something odd happened"
        );
        let long = format!("RPC error: {}", "x".repeat(500));
        let cause = short_cause(&long);
        assert_eq!(cause.chars().count(), MAX_CAUSE);
        assert!(!cause.contains('\n'));
        assert_eq!(short_cause(""), "unknown error");
        assert_eq!(
            short_cause("Invalid URL: wss://u:pw@h/?apikey=k"),
            "Invalid URL: wss://***@h/?***"
        );
    }

    #[test]
    fn os_errors_in_the_chain_are_mapped_by_kind() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("Cannot construct OnlineClient")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let refused = Outer(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            cause_of(&refused),
            "connection refused (is the node running and the URL right?)"
        );
        let other = Outer(io::Error::other("gremlins"));
        assert_eq!(cause_of(&other), "gremlins");
    }
}
