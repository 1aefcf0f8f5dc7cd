//! Which chain to talk to: btcli's network names, a websocket URL, or the embedded devnet.
//!
//! A URL is checked here, at argument parsing, so a malformed one (bad port, broken IPv6
//! literal, no host, a scheme other than `ws`/`wss`) is bad input (exit 2) rather than a
//! connection failure. URLs often carry credentials (`wss://user:pass@host`, `?apikey=…`,
//! a token in the path), so whatever regpow prints uses [`redact_url`] / [`Network::redacted`],
//! and `Network`'s `Debug` and `Display` are the redacted form too.

use std::fmt;

use regpow_rules::error::InputError;
use regpow_rules::keys::hex32;

/// What replaces a secret (or possibly secret) part of a URL in anything printed.
pub const REDACTED: &str = "***";

/// A chain endpoint as users name it (`--network`).
#[derive(Clone, PartialEq, Eq)]
pub enum Network {
    /// Bittensor mainnet.
    Finney,
    /// The public test network.
    Test,
    /// A node on this machine (`ws://127.0.0.1:9944`).
    Local,
    /// regpow's embedded devnet, started in-process.
    Devnet,
    /// Any `ws://` or `wss://` endpoint, exactly as given (validated by [`Network::parse`]).
    Url(String),
}

impl Network {
    /// Parses `finney`, `test`, `local`, `devnet` or a `ws(s)://HOST[:PORT][/PATH][?QUERY]`
    /// URL. Errors quote the input in its redacted form, so a typo in a URL that carries a
    /// password does not print the password.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        match text.trim() {
            "finney" | "main" | "mainnet" => Ok(Network::Finney),
            "test" | "testnet" => Ok(Network::Test),
            "local" => Ok(Network::Local),
            "devnet" => Ok(Network::Devnet),
            url if url.starts_with("ws://") || url.starts_with("wss://") => {
                check_url(url)?;
                Ok(Network::Url(url.to_string()))
            }
            other => Err(InputError::Invalid {
                what: "network",
                detail: format!(
                    "{} is not finney, test, local, devnet or a ws:// / wss:// URL",
                    if other.contains("://") {
                        format!("'{}'", redact_url(other))
                    } else {
                        regpow_rules::error::quoted_input(other)
                    }
                ),
            }),
        }
    }

    /// The websocket URL, or `None` for the devnet (its URL is known once it runs). This is
    /// the full URL, credentials included: hand it to the client, never print it (print
    /// [`Network::redacted`]).
    pub fn url(&self) -> Option<&str> {
        match self {
            Network::Finney => Some("wss://entrypoint-finney.opentensor.ai:443"),
            Network::Test => Some("wss://test.finney.opentensor.ai:443"),
            Network::Local => Some("ws://127.0.0.1:9944"),
            Network::Devnet => None,
            Network::Url(url) => Some(url),
        }
    }

    /// The endpoint as it may be printed: the URL through [`redact_url`], or `devnet`.
    pub fn redacted(&self) -> String {
        match self.url() {
            Some(url) => redact_url(url),
            None => "devnet".into(),
        }
    }
}

impl fmt::Display for Network {
    /// The redacted form: a `Network` can be formatted anywhere without leaking a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Network {
    /// Redacted as well: argument structs are `Debug`, and a debug print must not leak.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Network::Url(_) => write!(f, "Url({})", self.redacted()),
            Network::Finney => f.write_str("Finney"),
            Network::Test => f.write_str("Test"),
            Network::Local => f.write_str("Local"),
            Network::Devnet => f.write_str("Devnet"),
        }
    }
}

/// A public Bittensor chain regpow knows by the hash of its block 0: a node that serves one
/// of these names (or is reached under its well-known host) must have its genesis, or regpow
/// refuses to sign there (a signature is bound to the genesis it was made for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnownChain {
    /// Bittensor mainnet.
    Finney,
    /// The public test network.
    Test,
}

impl KnownChain {
    /// The hash of block 0 (public: polkadot-js's network registry and subtensor's own
    /// migrations name finney's; the test network's entrypoint answers with its own).
    pub const fn genesis_hash(self) -> [u8; 32] {
        match self {
            KnownChain::Finney => {
                hex32("2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03")
            }
            KnownChain::Test => {
                hex32("8f9cf856bf558a14440e75569c9e58594757048d7b3a84b5d25f6bd978263105")
            }
        }
    }

    /// btcli's name for it.
    pub fn name(self) -> &'static str {
        match self {
            KnownChain::Finney => "finney",
            KnownChain::Test => "test",
        }
    }

    /// The known chain with this genesis, if any.
    pub fn by_genesis(genesis_hash: &[u8; 32]) -> Option<Self> {
        [KnownChain::Finney, KnownChain::Test]
            .into_iter()
            .find(|chain| chain.genesis_hash() == *genesis_hash)
    }

    /// The chain an endpoint is expected to serve: the Opentensor Foundation's public
    /// hosts for finney and test (`--network finney` / `test` dial them), else none.
    pub fn expected_at(url: &str) -> Option<Self> {
        let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        match host {
            "entrypoint-finney.opentensor.ai"
            | "archive.chain.opentensor.ai"
            | "lite.chain.opentensor.ai"
            | "finney.opentensor.ai" => Some(KnownChain::Finney),
            "test.finney.opentensor.ai" | "test.chain.opentensor.ai" => Some(KnownChain::Test),
            _ => None,
        }
    }
}

/// The chain a user says an endpoint must serve (`--expect-chain`): a known public chain by
/// name, or any chain by the hash of its block 0. regpow refuses to sign on a node with
/// another genesis, whatever its URL: the pin for a farm's own finney node, a private chain or
/// a provider's endpoint under its own host name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ChainPin {
    /// finney or test, by btcli's name.
    Known(KnownChain),
    /// Any chain, by its genesis hash.
    Genesis([u8; 32]),
}

impl ChainPin {
    /// Parses `finney` (or `main`, `mainnet`), `test` (or `testnet`), or a genesis hash as
    /// `0x` and 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let text = text.trim();
        match text {
            "finney" | "main" | "mainnet" => return Ok(ChainPin::Known(KnownChain::Finney)),
            "test" | "testnet" => return Ok(ChainPin::Known(KnownChain::Test)),
            _ => {}
        }
        let hash = text
            .strip_prefix("0x")
            .filter(|digits| digits.len() == 64)
            .and_then(|digits| hex::decode(digits).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
        match hash {
            Some(hash) => Ok(match KnownChain::by_genesis(&hash) {
                Some(known) => ChainPin::Known(known),
                None => ChainPin::Genesis(hash),
            }),
            None => Err(InputError::Invalid {
                what: "expected chain",
                detail: format!(
                    "{} is not finney, test or a genesis hash (0x and 64 hex digits)",
                    regpow_rules::error::quoted_input(text)
                ),
            }),
        }
    }

    /// The genesis hash the endpoint must have.
    pub fn genesis_hash(self) -> [u8; 32] {
        match self {
            ChainPin::Known(chain) => chain.genesis_hash(),
            ChainPin::Genesis(hash) => hash,
        }
    }
}

impl fmt::Display for ChainPin {
    /// `finney`, `test`, or the genesis hash in `0x` hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainPin::Known(chain) => f.write_str(chain.name()),
            ChainPin::Genesis(hash) => write!(f, "0x{}", hex::encode(hash)),
        }
    }
}

impl fmt::Debug for ChainPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainPin({self})")
    }
}

/// The chains an endpoint must serve: the one the user pinned, and the one its host is
/// known for (both when they are given; a node can match both only if they agree).
pub fn expected_chains(url: &str, pin: Option<ChainPin>) -> Vec<ChainPin> {
    let mut chains: Vec<ChainPin> = pin.into_iter().collect();
    if let Some(known) = KnownChain::expected_at(url) {
        if !chains.contains(&ChainPin::Known(known)) {
            chains.push(ChainPin::Known(known));
        }
    }
    chains
}

/// Whether `url` is an unencrypted `ws://` connection to another machine: anyone on the
/// path could read and change what the node says (heads, state, metadata). regpow signs
/// only its own encoding of the call, but a man in the middle still decides which block
/// hashes and difficulties regpow sees. Loopback (`localhost`, `127.0.0.0/8`, `::1`) is
/// not remote.
pub fn is_remote_plaintext(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    if parsed.scheme() != "ws" {
        return false;
    }
    match parsed.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            !(name == "localhost" || name.ends_with(".localhost"))
        }
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
        None => true,
    }
}

/// A `ws://` / `wss://` URL the websocket client can dial, or why not (one line).
fn check_url(text: &str) -> Result<(), InputError> {
    let invalid = |why: String| InputError::Invalid {
        what: "network",
        detail: format!("'{}' {why}", redact_url(text)),
    };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains a space or control character".into()));
    }
    // The WHATWG parser skips extra slashes (`ws:///x` would dial host `x`): no host is
    // an error here, as a user would read it.
    let rest = text.split_once("://").map_or("", |(_, rest)| rest);
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
        return Err(invalid("has no host".into()));
    }
    let url = url::Url::parse(text).map_err(|e| match e {
        url::ParseError::EmptyHost => invalid("has no host".into()),
        url::ParseError::InvalidPort => invalid("has an invalid port (1..65535)".into()),
        other => invalid(format!("is not a valid URL ({other})")),
    })?;
    if url.host().is_none() {
        return Err(invalid("has no host".into()));
    }
    if url.port() == Some(0) {
        return Err(invalid("has an invalid port (1..65535)".into()));
    }
    Ok(())
}

/// A URL as it may be printed: scheme, host and port kept; user info, query and fragment
/// replaced by `***`; each path segment kept only when it reads as a plain word (letters,
/// `-`, `_`, `.`, at most 16 characters), so a token in the path (`/ws/8f3a…`) is hidden
/// too. Works on text that is not a valid URL (it never fails), so error messages about a
/// malformed URL can quote it safely. Text without `://` is returned as is.
pub fn redact_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let mut out = format!("{scheme}://");
    // Everything up to the last `@` is taken as user info, wherever it is: a password
    // typed with a raw `/`, `?` or `#` in it must not be cut in two and half printed.
    let rest = match rest.rsplit_once('@') {
        Some((_, after)) => {
            out.push_str(REDACTED);
            out.push('@');
            after
        }
        None => rest,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    out.push_str(authority);
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let (path, after) = tail.split_at(path_end);
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if segment.is_empty() || plain_word(segment) {
                segment
            } else {
                REDACTED
            }
        })
        .collect();
    out.push_str(&segments.join("/"));
    if after.starts_with('?') {
        out.push('?');
        out.push_str(REDACTED);
    }
    if after.contains('#') {
        out.push('#');
        out.push_str(REDACTED);
    }
    out
}

/// A path segment that cannot be a token: a short word of letters and separators.
fn plain_word(segment: &str) -> bool {
    segment.len() <= 16
        && segment
            .chars()
            .all(|c| c.is_ascii_alphabetic() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finney_and_test_are_pinned_by_their_public_genesis_hashes() {
        let finney = KnownChain::Finney.genesis_hash();
        assert_eq!(
            hex::encode(finney),
            "2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03"
        );
        assert_eq!(KnownChain::by_genesis(&finney), Some(KnownChain::Finney));
        assert_eq!(
            KnownChain::by_genesis(&KnownChain::Test.genesis_hash()),
            Some(KnownChain::Test)
        );
        assert_eq!(KnownChain::by_genesis(&[0; 32]), None);
        // `--network finney` / `test` dial hosts that must serve those chains.
        for (name, chain) in [("finney", KnownChain::Finney), ("test", KnownChain::Test)] {
            let url = Network::parse(name).unwrap().url().unwrap().to_string();
            assert_eq!(KnownChain::expected_at(&url), Some(chain), "{url}");
        }
        assert_eq!(
            KnownChain::expected_at("wss://user:pw@LITE.chain.opentensor.ai./ws?k=1"),
            Some(KnownChain::Finney)
        );
        assert_eq!(KnownChain::expected_at("ws://127.0.0.1:9944"), None);
        assert_eq!(
            KnownChain::expected_at("wss://entrypoint-finney.opentensor.ai.evil.example"),
            None
        );
    }

    #[test]
    fn a_pin_is_a_known_name_or_a_genesis_hash() {
        assert_eq!(
            ChainPin::parse("finney").unwrap(),
            ChainPin::Known(KnownChain::Finney)
        );
        assert_eq!(
            ChainPin::parse(" testnet ").unwrap(),
            ChainPin::Known(KnownChain::Test)
        );
        // finney's genesis by hash is finney by name.
        let finney = format!("0x{}", hex::encode(KnownChain::Finney.genesis_hash()));
        assert_eq!(
            ChainPin::parse(&finney).unwrap(),
            ChainPin::Known(KnownChain::Finney)
        );
        let other = format!("0x{}", "ab".repeat(32));
        let pin = ChainPin::parse(&other).unwrap();
        assert_eq!(pin, ChainPin::Genesis([0xab; 32]));
        assert_eq!(pin.to_string(), other);
        assert_eq!(pin.genesis_hash(), [0xab; 32]);
        for bad in [
            "",
            "devnet",
            "0xabc",
            &"ab".repeat(32),
            &format!("0x{}", "zz".repeat(32)),
        ] {
            let e = ChainPin::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected chain"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_endpoint_must_serve_the_pinned_chain_and_its_host_s() {
        let finney_host = "wss://entrypoint-finney.opentensor.ai:443";
        let pin = ChainPin::Genesis([7; 32]);
        assert_eq!(expected_chains("ws://127.0.0.1:9944", None), vec![]);
        assert_eq!(expected_chains("ws://127.0.0.1:9944", Some(pin)), vec![pin]);
        assert_eq!(
            expected_chains(finney_host, None),
            vec![ChainPin::Known(KnownChain::Finney)]
        );
        assert_eq!(
            expected_chains(finney_host, Some(ChainPin::Known(KnownChain::Finney))),
            vec![ChainPin::Known(KnownChain::Finney)]
        );
        assert_eq!(
            expected_chains(finney_host, Some(pin)),
            vec![pin, ChainPin::Known(KnownChain::Finney)]
        );
    }

    #[test]
    fn plaintext_websockets_to_other_machines_are_told_apart_from_loopback() {
        for remote in [
            "ws://10.0.0.2:9944",
            "ws://node.example:9944",
            "ws://[2001:db8::1]:9944",
            "ws://0.0.0.0:9944",
        ] {
            assert!(is_remote_plaintext(remote), "{remote}");
        }
        for local in [
            "ws://127.0.0.1:9944",
            "ws://127.3.2.1:1",
            "ws://localhost:9944",
            "ws://LOCALHOST.:9944",
            "ws://[::1]:9944",
            "wss://node.example:443",
            "wss://10.0.0.2",
        ] {
            assert!(!is_remote_plaintext(local), "{local}");
        }
    }

    #[test]
    fn btcli_names_and_urls() {
        assert_eq!(
            Network::parse("finney").unwrap().url(),
            Some("wss://entrypoint-finney.opentensor.ai:443")
        );
        assert_eq!(
            Network::parse("test").unwrap().url(),
            Some("wss://test.finney.opentensor.ai:443")
        );
        assert_eq!(
            Network::parse("local").unwrap().url(),
            Some("ws://127.0.0.1:9944")
        );
        assert_eq!(Network::parse("devnet").unwrap(), Network::Devnet);
        assert_eq!(
            Network::parse("ws://10.0.0.2:9944").unwrap(),
            Network::Url("ws://10.0.0.2:9944".into())
        );
        for good in [
            "ws://[::1]:9944",
            "wss://node.example.org/ws",
            "wss://u:p@node.example.org:443/ws?apikey=1",
        ] {
            assert_eq!(Network::parse(good).unwrap().url(), Some(good));
        }
        for bad in ["http://x:1", "ws://", "moon"] {
            let err = Network::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("network:"), "{bad}: {err}");
        }
    }

    #[test]
    fn malformed_urls_are_bad_input_naming_the_problem() {
        for (bad, want) in [
            ("ws://host:99999", "invalid port"),
            ("ws://host:0", "invalid port"),
            ("ws://[::1", "not a valid URL (invalid IPv6 address)"),
            ("ws://", "has no host"),
            ("ws:///path", "has no host"),
            ("wss://?apikey=1", "has no host"),
            ("ws://ho st:1", "space"),
            ("http://host:1", "is not finney"),
            ("ftp://host", "is not finney"),
        ] {
            let err = Network::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("network: '"), "{bad}: {err}");
            assert!(err.contains(want), "{bad}: {err} should say {want}");
        }
    }

    #[test]
    fn redaction_hides_credentials_queries_and_path_tokens() {
        for (url, want) in [
            ("ws://127.0.0.1:9944", "ws://127.0.0.1:9944"),
            ("wss://node.example.org/ws", "wss://node.example.org/ws"),
            (
                "wss://user:secretpw@host:443/ws?apikey=topsecret",
                "wss://***@host:443/ws?***",
            ),
            ("wss://host/ws/8f3a9c0d1e2f", "wss://host/ws/***"),
            ("wss://host/#frag", "wss://host/#***"),
            ("ws://user:pw@[::1", "ws://***@[::1"),
            ("ws://user:pa/s?s#w@host:1", "ws://***@host:1"),
            ("http://u:p@h/?k=v", "http://***@h/?***"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
        let network = Network::parse("wss://u:hunter22@h/?apikey=k3y").unwrap();
        for shown in [
            network.redacted(),
            network.to_string(),
            format!("{network:?}"),
        ] {
            assert!(
                !shown.contains("hunter22") && !shown.contains("k3y"),
                "{shown}"
            );
        }
        let err = Network::parse("ws://u:hunter22@h:99999")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter22"), "{err}");
        let err = Network::parse("http://u:hunter22@h")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter22"), "{err}");
    }
}
