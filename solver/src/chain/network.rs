//! Which chain to talk to: btcli's network names, a websocket URL, or the embedded devnet.

use crate::error::InputError;

/// A chain endpoint as users name it (`--network`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    /// Bittensor mainnet.
    Finney,
    /// The public test network.
    Test,
    /// A node on this machine (`ws://127.0.0.1:9944`).
    Local,
    /// regpow's embedded devnet, started in-process.
    Devnet,
    /// Any `ws://` or `wss://` endpoint.
    Url(String),
}

impl Network {
    /// Parses `finney`, `test`, `local`, `devnet` or a `ws(s)://HOST:PORT` URL.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        match text.trim() {
            "finney" | "main" | "mainnet" => Ok(Network::Finney),
            "test" | "testnet" => Ok(Network::Test),
            "local" => Ok(Network::Local),
            "devnet" => Ok(Network::Devnet),
            url if url.starts_with("ws://") || url.starts_with("wss://") => {
                let rest = url.split_once("://").map_or("", |(_, r)| r);
                if rest.is_empty() || rest.starts_with('/') {
                    Err(InputError::Invalid {
                        what: "network",
                        detail: format!("'{url}' has no host"),
                    })
                } else {
                    Ok(Network::Url(url.to_string()))
                }
            }
            other => Err(InputError::Invalid {
                what: "network",
                detail: format!(
                    "'{other}' is not finney, test, local, devnet or a ws:// / wss:// URL"
                ),
            }),
        }
    }

    /// The websocket URL, or `None` for the devnet (its URL is known once it runs).
    pub fn url(&self) -> Option<&str> {
        match self {
            Network::Finney => Some("wss://entrypoint-finney.opentensor.ai:443"),
            Network::Test => Some("wss://test.finney.opentensor.ai:443"),
            Network::Local => Some("ws://127.0.0.1:9944"),
            Network::Devnet => None,
            Network::Url(url) => Some(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for bad in ["http://x:1", "ws://", "moon"] {
            let err = Network::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("network:"), "{bad}: {err}");
        }
    }
}
