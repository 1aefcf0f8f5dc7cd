//! Errors for user-supplied values (keys, hashes, numbers).
//!
//! Every variant names the problem in one line, so the CLI can print it as-is and exit 2.

use thiserror::Error;

/// Longest value quoted back as typed in an error message.
const MAX_QUOTED_CHARS: usize = 40;

/// A value the user typed, as an error message may quote it: `'as typed'` when it is one
/// short word, else only its size. A mnemonic or a seed pasted into the wrong flag or plan
/// key must not be echoed to a terminal, a log or CI output; a typo in a subnet number
/// should be.
pub fn quoted_input(text: &str) -> String {
    let words = text.split_whitespace().count();
    let chars = text.chars().count();
    let hex_digits = text.chars().filter(char::is_ascii_hexdigit).count();
    if words > 1 || chars > MAX_QUOTED_CHARS || hex_digits >= 32 {
        format!("a value of {chars} characters (not shown)")
    } else {
        format!("'{text}'")
    }
}

/// A value given by the user that cannot be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InputError {
    /// Hex text that is not valid hexadecimal.
    #[error("{what}: not valid hex ({detail})")]
    BadHex {
        /// Which value was being read, e.g. "block hash".
        what: &'static str,
        /// What the hex decoder objected to.
        detail: String,
    },
    /// Decoded bytes of the wrong length.
    #[error("{what}: expected {expected} bytes, got {got}")]
    WrongLength {
        /// Which value was being read.
        what: &'static str,
        /// The length the value must have.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// Text that is neither 0x-hex nor base58.
    #[error("{what}: not an SS58 address or 0x-hex key ({detail})")]
    BadSs58 {
        /// Which value was being read.
        what: &'static str,
        /// Why it was rejected.
        detail: String,
    },
    /// An SS58 address whose blake2b checksum does not match: a typo, most likely.
    #[error("{what}: bad SS58 checksum (mistyped address?)")]
    BadSs58Checksum {
        /// Which value was being read.
        what: &'static str,
    },
    /// Netuid 0 is the root subnet, where the chain refuses PoW registration.
    #[error("netuid 0 is the root subnet: PoW registration is not permitted there")]
    RootNetuid,
    /// A difficulty of zero has no target (the chain clamps to at least 1).
    #[error("difficulty must be at least 1")]
    ZeroDifficulty,
    /// Any other unusable value, named and explained.
    #[error("{what}: {detail}")]
    Invalid {
        /// Which value was being read.
        what: &'static str,
        /// Why it was rejected.
        detail: String,
    },
}
