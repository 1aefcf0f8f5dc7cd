//! 32-byte public keys (hotkeys, coldkeys), block hashes and nonces from user text.
//!
//! Keys are accepted as 0x-prefixed hex or as SS58 addresses of any network prefix
//! (one- or two-byte prefix forms). The SS58 checksum (the first two bytes of
//! blake2b-512 over `"SS58PRE" ‖ prefix ‖ key`) is always verified: a mistyped
//! address must never silently become someone else's key inside a seal.

use std::fmt;
use std::str::FromStr;

use blake2::{Blake2b512, Digest};

use crate::error::InputError;

/// A 32-byte sr25519/ed25519 public key (an `AccountId32` on the chain).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Reads a key from 0x-hex or an SS58 address; `what` names the value in errors.
    pub fn parse(what: &'static str, text: &str) -> Result<Self, InputError> {
        let text = text.trim();
        if text.starts_with("0x") || text.starts_with("0X") {
            parse_hex32(what, text).map(PublicKey)
        } else {
            decode_ss58(what, text).map(PublicKey)
        }
    }

    /// Encodes the key as an SS58 address with the given network prefix (42 = generic
    /// Substrate, which Bittensor uses). Prefixes above 16383 do not exist in SS58.
    pub fn to_ss58(&self, format: u16) -> String {
        assert!(format < 16384, "SS58 formats are 0..16383");
        let mut bytes = Vec::with_capacity(36);
        if format < 64 {
            bytes.push(format as u8);
        } else {
            // Two-byte form: 01 + six bits, then two more bits and the high byte.
            bytes.push(((format & 0b1111_1100) as u8 >> 2) | 0b0100_0000);
            bytes.push(((format >> 8) as u8) | ((format & 0b11) as u8) << 6);
        }
        bytes.extend_from_slice(&self.0);
        let checksum = ss58_checksum(&bytes);
        bytes.extend_from_slice(&checksum[..2]);
        bs58::encode(bytes).into_string()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("key", s)
    }
}

/// Decodes exactly 32 bytes of 0x-prefixed (or bare) hex, e.g. a block hash.
pub fn parse_hex32(what: &'static str, text: &str) -> Result<[u8; 32], InputError> {
    let text = text.trim();
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|e| InputError::BadHex {
        what,
        detail: e.to_string(),
    })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| InputError::WrongLength {
        what,
        expected: 32,
        got: bytes.len(),
    })
}

/// Reads a u64 (a nonce) as the CLI takes it: decimal or 0x-hex, surrounding spaces and
/// `_` digit separators allowed (`1_000_000`, `0xdead_beef`).
pub fn parse_u64(what: &'static str, text: &str) -> Result<u64, InputError> {
    let t = text.trim().replace('_', "");
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) if hex.starts_with(['+', '-']) => None,
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if t.starts_with('+') => None,
        None => t.parse().ok(),
    };
    parsed.ok_or_else(|| InputError::Invalid {
        what,
        detail: format!(
            "expected an integer 0..2^64-1 (decimal or 0x-hex), got {}",
            crate::error::quoted_input(text)
        ),
    })
}

fn ss58_checksum(prefix_and_key: &[u8]) -> [u8; 64] {
    let mut hasher = Blake2b512::new();
    hasher.update(b"SS58PRE");
    hasher.update(prefix_and_key);
    hasher.finalize().into()
}

fn decode_ss58(what: &'static str, text: &str) -> Result<[u8; 32], InputError> {
    let bytes = bs58::decode(text)
        .into_vec()
        .map_err(|e| InputError::BadSs58 {
            what,
            detail: e.to_string(),
        })?;
    let prefix_len = match bytes.first() {
        Some(0..=63) => 1,
        Some(64..=127) => 2,
        Some(_) => {
            return Err(InputError::BadSs58 {
                what,
                detail: "reserved address prefix".into(),
            })
        }
        None => {
            return Err(InputError::BadSs58 {
                what,
                detail: "empty".into(),
            })
        }
    };
    if bytes.len() != prefix_len + 32 + 2 {
        return Err(InputError::BadSs58 {
            what,
            detail: format!(
                "decodes to {} bytes; a 32-byte account address has {}",
                bytes.len(),
                prefix_len + 34
            ),
        });
    }
    let (body, checksum) = bytes.split_at(prefix_len + 32);
    if ss58_checksum(body)[..2] != *checksum {
        return Err(InputError::BadSs58Checksum { what });
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&body[prefix_len..]);
    Ok(key)
}

/// 64 lower-case hex digits as 32 bytes, at compile time (for constants such as genesis
/// hashes and development keys; a bad digit or length fails the build).
pub const fn hex32(text: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not lower-case hex"),
        }
    }
    let bytes = text.as_bytes();
    assert!(bytes.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (digit(bytes[2 * i]) << 4) | digit(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Alice's well-known dev key, as every Substrate tool prints it.
    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const ALICE_HEX: &str = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    #[test]
    fn alice_ss58_and_hex_agree() {
        let a = PublicKey::parse("hotkey", ALICE_SS58).unwrap();
        let b = PublicKey::parse("hotkey", ALICE_HEX).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_ss58(42), ALICE_SS58);
    }

    #[test]
    fn round_trips_every_prefix_form() {
        let key = PublicKey([0xA5; 32]);
        for format in [0u16, 2, 42, 63, 64, 255, 1221, 16383] {
            let text = key.to_ss58(format);
            assert_eq!(
                PublicKey::parse("k", &text).unwrap(),
                key,
                "format {format}"
            );
        }
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let mut chars: Vec<char> = ALICE_SS58.chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        let err = PublicKey::parse("coldkey", &typo).unwrap_err();
        assert_eq!(err, InputError::BadSs58Checksum { what: "coldkey" });
    }

    #[test]
    fn rejects_bad_hex_and_lengths() {
        assert!(matches!(
            PublicKey::parse("k", "0xzz"),
            Err(InputError::BadHex { .. })
        ));
        assert_eq!(
            PublicKey::parse("k", "0x0102").unwrap_err(),
            InputError::WrongLength {
                what: "k",
                expected: 32,
                got: 2
            }
        );
        assert!(matches!(
            PublicKey::parse("k", "5Grwva0OIl"),
            Err(InputError::BadSs58 { .. })
        ));
        assert!(matches!(
            PublicKey::parse("k", ""),
            Err(InputError::BadSs58 { .. })
        ));
    }
}
