//! Bittensor keyfiles: the JSON a keypair is stored as, and the `$NACL` encryption that the
//! `bittensor-wallet` package applies to coldkeys (Argon2i-derived key, XSalsa20-Poly1305).

use argon2::{Algorithm, Argon2, Params, Version};
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::WalletError;

/// First bytes of a keyfile encrypted by bittensor-wallet.
const NACL_PREFIX: &[u8] = b"$NACL";
/// The fixed salt bittensor-wallet derives every coldkey's key with.
const NACL_SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];
/// libsodium's Argon2i "sensitive" limits, which bittensor-wallet uses: 8 passes over
/// 512 MiB, one lane.
const ARGON2I_PASSES: u32 = 8;
const ARGON2I_MEMORY_KIB: u32 = 512 * 1024;
/// XSalsa20 nonce length, stored right after the prefix.
const NONCE_LEN: usize = 24;

/// How a keyfile's bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// Plain JSON.
    None,
    /// bittensor-wallet's `$NACL` format.
    Nacl,
    /// Ansible vault (bittensor before 6.0).
    AnsibleVault,
    /// Fernet (`gAAAAA…`, the oldest bittensor format).
    LegacyFernet,
}

/// Recognises the encryption of keyfile bytes from their first bytes.
pub fn encryption_of(data: &[u8]) -> Encryption {
    if data.starts_with(NACL_PREFIX) {
        Encryption::Nacl
    } else if data.starts_with(b"$ANSIBLE_VAULT") {
        Encryption::AnsibleVault
    } else if data.starts_with(b"gAAAAA") {
        Encryption::LegacyFernet
    } else {
        Encryption::None
    }
}

/// Decrypts `$NACL` keyfile bytes. A wrong password fails the authentication tag and is
/// reported as such; nothing about the password or plaintext is kept.
pub fn decrypt_nacl(data: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    let body = data
        .strip_prefix(NACL_PREFIX)
        .filter(|b| b.len() > NONCE_LEN)
        .ok_or_else(|| WalletError::Corrupt("encrypted keyfile is truncated".into()))?;
    let (nonce, ciphertext) = body.split_at(NONCE_LEN);
    let params = Params::new(ARGON2I_MEMORY_KIB, ARGON2I_PASSES, 1, Some(32))
        .map_err(|e| WalletError::Corrupt(format!("argon2 parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
        .hash_password_into(password, &NACL_SALT, key.as_mut())
        .map_err(|e| WalletError::Corrupt(format!("key derivation: {e}")))?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    cipher
        .decrypt(nonce.into(), ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| WalletError::WrongPassword)
}

/// The fields of a keyfile's JSON that regpow reads (others are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyfileJson {
    pub public_key: Option<String>,
    pub account_id: Option<String>,
    pub ss58_address: Option<String>,
    pub private_key: Option<String>,
    pub secret_seed: Option<String>,
}

impl KeyfileJson {
    /// Parses keyfile JSON (a `*pub.txt` file or a decrypted keyfile).
    pub(crate) fn parse(text: &[u8]) -> Result<Self, WalletError> {
        serde_json::from_slice(text)
            .map_err(|e| WalletError::Corrupt(format!("keyfile is not keypair JSON ({e})")))
    }
}

/// Parses `0x`-hex of an exact length into a zeroized buffer.
pub(crate) fn secret_hex<const N: usize>(
    text: &str,
    what: &str,
) -> Result<Zeroizing<[u8; N]>, WalletError> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut out = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(digits, out.as_mut())
        .map_err(|_| WalletError::Corrupt(format!("{what} is not {N} bytes of hex")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_their_prefix() {
        assert_eq!(encryption_of(b"$NACL\x01\x02"), Encryption::Nacl);
        assert_eq!(
            encryption_of(b"$ANSIBLE_VAULT;1.1;AES256"),
            Encryption::AnsibleVault
        );
        assert_eq!(encryption_of(b"gAAAAABk"), Encryption::LegacyFernet);
        assert_eq!(encryption_of(b"{\"publicKey\":1}"), Encryption::None);
    }

    #[test]
    fn truncated_ciphertext_is_corrupt_not_a_panic() {
        assert!(matches!(
            decrypt_nacl(b"$NACL0123", b"pw"),
            Err(WalletError::Corrupt(_))
        ));
    }
}
