//! What became of a submission, and how the transaction pool's error answers are read.

use crate::node_text::printable;
use crate::state::Head;

/// What became of a submitted `pow_register`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// `NeuronRegistered` for our hotkey.
    Registered {
        /// The uid taken.
        uid: u16,
        /// The block it was included in.
        block: Head,
    },
    /// Included but failed: `ExtrinsicFailed` with this `SubtensorModule` error name
    /// (printable: made so by [`crate::node_text::printable`]).
    Failed(String),
    /// The node answered the submission with an error: the transaction is not in its pool.
    Refused(PoolRefusal),
    /// The node took the transaction into its pool, then left it out (`invalid`, `dropped`:
    /// its nonce was taken meanwhile, its pool revalidated it away). Peers may still hold
    /// it, but this node will not include it: its seal may be signed again (the chain takes
    /// at most one of two transactions with one seal).
    Dropped {
        /// The node's words (printable).
        reason: String,
        /// The signer nonce it was signed with.
        nonce: u64,
    },
    /// The node may have taken the transaction, but its final status never arrived (the
    /// connection or the status stream was lost, it timed out). Only the chain's state can
    /// tell.
    Unknown {
        /// What was lost, in words (printable).
        reason: String,
        /// The signer nonce it was signed with: once the account's nonce passes it, it can
        /// no longer be included.
        nonce: u64,
    },
}

/// Why the node refused a submission, read from the JSON-RPC error's code and data
/// (Substrate puts the reason in `data`: `"Custom error: 255"`, `"Transaction is
/// outdated"`), never from display text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolRefusal {
    /// `InvalidTransaction::Custom(code)`: subtensor's pool codes (3 unknown subnet, 25
    /// hotkey of another coldkey, 255 any other PoW rule).
    Custom(u8),
    /// The signer's nonce was used or is ahead, or a pooled transaction already provides
    /// its tags (`1014 Priority is too low`: the same coldkey nonce from another process of
    /// a farm, or the same hotkey and work block): the seal is not at fault, and is signed
    /// again with a fresh nonce.
    NonceRace(String),
    /// Anything else, as the node worded it.
    Other {
        /// JSON-RPC error code (1010 invalid, 1012 banned, 1014 priority too low, …).
        code: i32,
        /// Message and data.
        message: String,
    },
}

impl std::fmt::Display for PoolRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolRefusal::Custom(code) => write!(f, "refused by the pool (custom code {code})"),
            PoolRefusal::NonceRace(message) => write!(f, "nonce race: {}", printable(message)),
            PoolRefusal::Other { code, message } => {
                write!(f, "{} (code {code})", printable(message))
            }
        }
    }
}

/// Reads a JSON-RPC error answer to a submission: `code`, `message` and the raw JSON of
/// its `data` (a JSON string in Substrate's author API).
pub fn classify_refusal(code: i32, message: &str, data: Option<&str>) -> PoolRefusal {
    let data = data.map(|raw| match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::String(text)) => text,
        _ => raw.to_string(),
    });
    let detail = data.as_deref().unwrap_or("");
    if let Some(rest) = detail.strip_prefix("Custom error: ") {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(custom) = digits.parse::<u8>() {
            return PoolRefusal::Custom(custom);
        }
    }
    let text = if detail.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {detail}")
    };
    if detail.contains("Transaction is outdated")
        || detail.contains("will be valid in the future")
        || code == 1014
    {
        return PoolRefusal::NonceRace(text);
    }
    PoolRefusal::Other {
        code,
        message: text,
    }
}
