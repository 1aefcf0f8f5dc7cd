//! Bittensor keyfiles: the JSON a keypair is stored as, and the `$NACL` encryption that the
//! `bittensor-wallet` package applies to coldkeys (Argon2i-derived key, XSalsa20-Poly1305).
//!
//! Nothing here ever quotes a keyfile's content: a keyfile that is not keypair JSON may hold
//! a mnemonic or a seed, so errors carry a category and a position only. The `$NACL` framing
//! is checked before the costly key derivation, and every buffer that holds a secret (the
//! derived key, the plaintext, `secretSeed` and `privateKey`) is wiped when dropped.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use serde::de::{Deserializer, Visitor};
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
/// Poly1305 tag length, at the start of the ciphertext.
const TAG_LEN: usize = 16;
/// The shortest keypair JSON (`{}`) is two bytes; anything shorter cannot be a keyfile.
const MIN_PLAINTEXT_LEN: usize = 2;

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

/// The key a `$NACL` keyfile is encrypted with (wiped when dropped).
pub(crate) struct NaclKey(Zeroizing<[u8; 32]>);

impl NaclKey {
    /// Derives the key from the password as bittensor-wallet does (Argon2i, 512 MiB, 8
    /// passes, its fixed salt). argon2 is built with its `zeroize` feature, so its working
    /// memory is wiped too.
    pub(crate) fn derive(password: &[u8]) -> Result<Self, WalletError> {
        let params = Params::new(ARGON2I_MEMORY_KIB, ARGON2I_PASSES, 1, Some(32))
            .map_err(|e| WalletError::Corrupt(format!("argon2 parameters: {e}")))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password_into(password, &NACL_SALT, key.as_mut())
            .map_err(|e| WalletError::Corrupt(format!("key derivation: {e}")))?;
        Ok(Self(key))
    }

    /// A key given directly (tests fuzz the decryption without deriving one per case).
    #[cfg(test)]
    pub(crate) fn from_bytes(key: [u8; 32]) -> Self {
        Self(Zeroizing::new(key))
    }
}

/// A `$NACL` keyfile split into its nonce and its ciphertext (tag first), checked for a
/// plausible length before any key is derived.
pub(crate) struct NaclBox<'a> {
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> NaclBox<'a> {
    /// Splits `$NACL` keyfile bytes; too short to hold a nonce, a tag and keypair JSON is
    /// `Corrupt` (the bytes are not quoted).
    pub(crate) fn parse(data: &'a [u8]) -> Result<Self, WalletError> {
        let body = data
            .strip_prefix(NACL_PREFIX)
            .filter(|b| b.len() >= NONCE_LEN + TAG_LEN + MIN_PLAINTEXT_LEN)
            .ok_or_else(|| {
                WalletError::Corrupt(format!(
                    "encrypted keyfile is truncated ({} bytes)",
                    data.len()
                ))
            })?;
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        Ok(Self { nonce, ciphertext })
    }

    /// Decrypts with `key` into a buffer that is wiped when dropped; a tag that does not
    /// verify is `WrongPassword`.
    pub(crate) fn open(&self, key: &NaclKey) -> Result<Zeroizing<Vec<u8>>, WalletError> {
        let cipher = XSalsa20Poly1305::new(key.0.as_ref().into());
        // Decrypted in place in our own wiped buffer (no copy of the plaintext elsewhere).
        let mut buffer = Zeroizing::new(self.ciphertext.to_vec());
        cipher
            .decrypt_in_place(self.nonce.into(), b"", &mut *buffer)
            .map_err(|_| WalletError::WrongPassword)?;
        Ok(buffer)
    }
}

/// The fields of a keyfile's JSON that regpow reads (others, `secretPhrase` included, are
/// skipped without being copied).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyfileJson {
    pub public_key: Option<String>,
    pub account_id: Option<String>,
    pub ss58_address: Option<String>,
    #[serde(default, deserialize_with = "secret_string")]
    pub private_key: Option<Zeroizing<String>>,
    #[serde(default, deserialize_with = "secret_string")]
    pub secret_seed: Option<Zeroizing<String>>,
}

impl KeyfileJson {
    /// Parses keyfile JSON (a `*pub.txt` file or a decrypted keyfile). The error is a
    /// category and a position: serde_json's own text quotes the content, which may be a
    /// mnemonic or a seed.
    pub(crate) fn parse(text: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(text).map_err(|e| {
            use serde_json::error::Category;
            let what = match e.classify() {
                Category::Io => "unreadable",
                Category::Syntax => "not valid JSON",
                Category::Data => "not a keypair object or a field of the wrong type",
                Category::Eof => "JSON ends early",
            };
            format!(
                "not keypair JSON: {what} (line {}, column {})",
                e.line(),
                e.column()
            )
        })
    }
}

/// Deserializes an optional string straight into a buffer that is wiped when dropped.
fn secret_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Zeroizing<String>>, D::Error> {
    struct Secret;
    impl<'de> Visitor<'de> for Secret {
        type Value = Option<Zeroizing<String>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a hex string or null")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Zeroizing::new(v.to_owned())))
        }

        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Zeroizing::new(v)))
        }
    }
    deserializer.deserialize_option(Secret)
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
    use crypto_secretbox::aead::AeadInPlace;

    /// Decrypts as `Wallet::unlock_coldkey` does: framing first, then key derivation.
    fn decrypt_nacl(data: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, WalletError> {
        let sealed = NaclBox::parse(data)?;
        sealed.open(&NaclKey::derive(password)?)
    }

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

    #[test]
    fn a_box_too_short_for_keypair_json_is_refused_before_key_derivation() {
        // A nonce and a tag but no plaintext: this used to go through the 512 MiB key
        // derivation and come back as a wrong password.
        let mut data = NACL_PREFIX.to_vec();
        data.extend([7u8; NONCE_LEN + TAG_LEN]);
        let err = decrypt_nacl(&data, b"pw").unwrap_err();
        assert!(matches!(err, WalletError::Corrupt(_)), "{err}");
        assert_eq!(err.to_string(), "encrypted keyfile is truncated (45 bytes)");
    }

    #[test]
    fn a_sealed_box_opens_with_its_key_only() {
        let key = [0x42; 32];
        let nonce = [9u8; NONCE_LEN];
        let mut sealed = b"{\"publicKey\":null}".to_vec();
        XSalsa20Poly1305::new(&key.into())
            .encrypt_in_place(&nonce.into(), b"", &mut sealed)
            .unwrap();
        let data = [NACL_PREFIX, &nonce, &sealed].concat();
        let parsed = NaclBox::parse(&data).unwrap();
        assert_eq!(
            parsed.open(&NaclKey::from_bytes(key)).unwrap().as_slice(),
            b"{\"publicKey\":null}"
        );
        assert!(matches!(
            parsed.open(&NaclKey::from_bytes([0x43; 32])),
            Err(WalletError::WrongPassword)
        ));
    }

    #[test]
    fn json_errors_carry_a_position_not_the_content() {
        // serde_json's own text was `invalid type: string "bottom drive obey lake …"`.
        let mnemonic = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
        let err = KeyfileJson::parse(format!("\"{mnemonic}\"").as_bytes())
            .err()
            .unwrap();
        assert_eq!(
            err,
            "not keypair JSON: not a keypair object or a field of the wrong type (line 1, column 71)"
        );
        // A number where a string belongs was quoted as "invalid type: integer `…`".
        let err = KeyfileJson::parse(br#"{"secretSeed": 918273645546372819}"#)
            .err()
            .unwrap();
        assert!(!err.contains("91827364"), "{err}");
        assert!(err.starts_with("not keypair JSON"), "{err}");
        // A syntax error in the middle of a secret.
        let err = KeyfileJson::parse(br#"{"secretSeed": "0xabcdef0123456789"#)
            .err()
            .unwrap();
        assert!(!err.contains("abcdef01"), "{err}");
    }

    #[test]
    fn secret_fields_are_read_and_null_is_absent() {
        let json = KeyfileJson::parse(br#"{"secretSeed":"0x01","privateKey":null,"x":[1]}"#)
            .ok()
            .unwrap();
        assert_eq!(
            json.secret_seed.as_deref().map(String::as_str),
            Some("0x01")
        );
        assert!(json.private_key.is_none());
    }
}
