//! Bittensor wallets in their on-disk layout, and the coldkey that signs `pow_register`.
//!
//! ```text
//! <wallet path>/<name>/coldkey              keypair JSON, encrypted by bittensor-wallet ($NACL)
//! <wallet path>/<name>/coldkeypub.txt       public part (JSON)
//! <wallet path>/<name>/hotkeys/<hotkey>     hotkey keypair JSON (often unencrypted)
//! <wallet path>/<name>/hotkeys/<hotkey>pub.txt
//! ```
//! Only public keys are read for the hotkey: registering needs its address, never its secret.
//! The coldkey's secret is decrypted in memory, checked against its public key, and wiped
//! when dropped; it never reaches logs, errors or `Debug` output. Errors about a keyfile
//! name its path and a content-free reason, never its bytes. A coldkey file that other
//! users can read is refused unless the caller allows it ([`Wallet::allow_insecure_coldkey`]),
//! and [`protect_process`] keeps the key out of core dumps.

mod keyfile;
mod private_file;
mod process;

use std::io::Read;
use std::path::{Path, PathBuf};

use subxt::utils::{AccountId32, MultiSignature};
use subxt::SubstrateConfig;
use zeroize::Zeroizing;

pub use keyfile::{encryption_of, Encryption};
pub use private_file::{check_private, read_private_file};
pub use process::{protect_process, take_secret_env};

/// Whether a secret URI holds a secret: anything but a bare derivation path from the public
/// development phrase (`//Alice`, `//Alice//stash`, `//Alice/soft`), that is a mnemonic, a
/// hex seed, or any path with a password (`//Alice///password`).
pub fn uri_carries_secret(uri: &str) -> bool {
    let uri = uri.trim();
    !uri.starts_with('/') || uri.contains("///")
}

/// A secret URI as given (a flag, stdin, the environment, a plan): wiped when dropped, and
/// never shown by `Debug`, so no debug print of a struct holding one can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUri(Zeroizing<String>);

impl SecretUri {
    /// Takes `uri`.
    pub fn new(uri: String) -> Self {
        Self(Zeroizing::new(uri))
    }

    /// The URI itself: hand it to [`Coldkey::from_uri`], never to a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// See [`uri_carries_secret`].
    pub fn carries_secret(&self) -> bool {
        uri_carries_secret(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretUri {
    /// From a string (a plan's `coldkey_uri`), moved into the wiped buffer.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretUri::new)
    }
}

impl std::fmt::Debug for SecretUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretUri(..)")
    }
}

use keyfile::{secret_hex, KeyfileJson, NaclBox, NaclKey};
use regpow_rules::keys::PublicKey;

/// Largest coldkey file read (bittensor keyfiles are under 1 KiB).
const MAX_KEYFILE_LEN: u64 = 64 * 1024;

/// Why a wallet could not be used. No variant carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A file the wallet needs is missing or unreadable.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// The coldkey is encrypted and the password does not open it.
    #[error("wrong coldkey password")]
    WrongPassword,
    /// A keyfile whose contents cannot be used.
    #[error("{0}")]
    Corrupt(String),
    /// A keyfile in an encryption format regpow does not read.
    #[error("{0}")]
    Unsupported(String),
    /// The decrypted secret does not belong to the wallet's public key.
    #[error("the coldkey's secret does not match coldkeypub.txt ({0})")]
    Mismatch(String),
    /// A secret URI that cannot be used.
    #[error("coldkey URI: {0}")]
    BadUri(String),
    /// The coldkey file can be read by users other than its owner (Unix mode & 0o077 is
    /// not 0): anyone on the machine could copy it and try passwords offline.
    #[error(
        "{} can be read by other users (mode {mode:03o}): run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecurePermissions {
        /// The coldkey file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A secret in the environment that is not valid UTF-8 (it was removed all the same).
    #[error("{name} is not valid UTF-8")]
    NotUtf8 {
        /// The environment variable.
        name: String,
    },
}

/// Where a wallet's files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wallet {
    /// The wallet's folder: `<wallet path>/<name>`.
    pub dir: PathBuf,
    /// The hotkey's name.
    pub hotkey: String,
    /// Whether a coldkey file that other users can read is accepted.
    allow_insecure: bool,
}

impl Wallet {
    /// The wallet `name` with hotkey `hotkey` under `root` (usually `~/.bittensor/wallets`).
    pub fn new(root: &Path, name: &str, hotkey: &str) -> Self {
        Self {
            dir: root.join(name),
            hotkey: hotkey.to_string(),
            allow_insecure: false,
        }
    }

    /// Accepts (`true`) a coldkey file that users other than its owner can read, which is
    /// refused by default with [`WalletError::InsecurePermissions`]. For a file on a
    /// filesystem without Unix permissions, or a deliberate choice of the user.
    pub fn allow_insecure_coldkey(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// Refuses a coldkey file that users other than its owner can read (group or world
    /// permission bits set), unless allowed by [`Wallet::allow_insecure_coldkey`]. Callers
    /// can check this early, before connecting anywhere; reading the coldkey checks it again.
    pub fn check_coldkey_permissions(&self) -> Result<(), WalletError> {
        let path = self.coldkey_path();
        let meta = std::fs::metadata(&path).map_err(|e| unreadable(&path, e))?;
        self.check_mode(&path, &meta)
    }

    fn check_mode(&self, path: &Path, meta: &std::fs::Metadata) -> Result<(), WalletError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 && !self.allow_insecure {
                return Err(WalletError::InsecurePermissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = (path, meta);
        Ok(())
    }

    /// The coldkey file's bytes in a buffer that is wiped when dropped. Its permissions are
    /// checked on the opened file, so the file checked is the file read.
    fn read_coldkey(&self) -> Result<Zeroizing<Vec<u8>>, WalletError> {
        let path = self.coldkey_path();
        let file = std::fs::File::open(&path).map_err(|e| unreadable(&path, e))?;
        let meta = file.metadata().map_err(|e| unreadable(&path, e))?;
        self.check_mode(&path, &meta)?;
        // Sized up front so the buffer is not reallocated (which would leave a copy behind).
        let capacity = meta.len().min(MAX_KEYFILE_LEN) as usize + 1;
        let mut data = Zeroizing::new(Vec::with_capacity(capacity));
        file.take(MAX_KEYFILE_LEN + 1)
            .read_to_end(&mut data)
            .map_err(|e| unreadable(&path, e))?;
        if data.len() as u64 > MAX_KEYFILE_LEN {
            return Err(WalletError::Corrupt(format!(
                "{}: larger than {} KiB, not a keyfile",
                path.display(),
                MAX_KEYFILE_LEN / 1024
            )));
        }
        Ok(data)
    }

    /// `bittensor`'s default wallet folder: `$HOME/.bittensor/wallets`.
    pub fn default_root() -> PathBuf {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".bittensor")
            .join("wallets")
    }

    /// Path of the encrypted coldkey.
    pub fn coldkey_path(&self) -> PathBuf {
        self.dir.join("coldkey")
    }

    /// Path of the coldkey's public part.
    pub fn coldkeypub_path(&self) -> PathBuf {
        self.dir.join("coldkeypub.txt")
    }

    /// Path of the hotkey's keyfile.
    pub fn hotkey_path(&self) -> PathBuf {
        self.dir.join("hotkeys").join(&self.hotkey)
    }

    /// Path of the hotkey's public part.
    pub fn hotkeypub_path(&self) -> PathBuf {
        self.dir
            .join("hotkeys")
            .join(format!("{}pub.txt", self.hotkey))
    }

    /// The hotkey's public key: from `hotkeys/<name>pub.txt`, else from the hotkey's keyfile
    /// when it is not encrypted.
    pub fn hotkey_public(&self) -> Result<PublicKey, WalletError> {
        let pub_path = self.hotkeypub_path();
        if pub_path.exists() {
            return public_key_of(&pub_path, &read(&pub_path)?);
        }
        let path = self.hotkey_path();
        let data = read(&path)?;
        match encryption_of(&data) {
            Encryption::None => public_key_of(&path, &data),
            _ => Err(WalletError::Unsupported(format!(
                "{}: the hotkey is encrypted and {} is missing",
                path.display(),
                pub_path.display()
            ))),
        }
    }

    /// The coldkey's public key, from `coldkeypub.txt`.
    pub fn coldkey_public(&self) -> Result<PublicKey, WalletError> {
        let path = self.coldkeypub_path();
        public_key_of(&path, &read(&path)?)
    }

    /// Whether the coldkey file is encrypted (a password is needed to sign). Refuses a file
    /// other users can read, as [`Wallet::unlock_coldkey`] does.
    pub fn coldkey_is_encrypted(&self) -> Result<bool, WalletError> {
        let data = self.read_coldkey()?;
        Ok(encryption_of(&data) != Encryption::None)
    }

    /// Decrypts the coldkey with `password` (unused if the keyfile is not encrypted) and
    /// checks it against `coldkeypub.txt`. A `$NACL` file too short to hold a keypair is
    /// refused before the (seconds-long, 512 MiB) key derivation.
    pub fn unlock_coldkey(&self, password: &[u8]) -> Result<Coldkey, WalletError> {
        let path = self.coldkey_path();
        let data = self.read_coldkey()?;
        let plaintext = match encryption_of(&data) {
            Encryption::None => data,
            Encryption::Nacl => {
                let sealed = NaclBox::parse(&data).map_err(|e| in_file(&path, e))?;
                sealed.open(&NaclKey::derive(password)?)?
            }
            Encryption::AnsibleVault | Encryption::LegacyFernet => {
                return Err(WalletError::Unsupported(format!(
                    "{}: an old bittensor encryption format; re-encrypt it with \
                     `btcli wallet update` (bittensor-wallet's $NACL format)",
                    path.display()
                )))
            }
        };
        self.coldkey_from_plaintext(&plaintext)
    }

    /// The coldkey in decrypted keyfile JSON, checked against `coldkeypub.txt`. Errors name
    /// the coldkey's path and a reason, never the plaintext.
    fn coldkey_from_plaintext(&self, plaintext: &[u8]) -> Result<Coldkey, WalletError> {
        let path = self.coldkey_path();
        let json = KeyfileJson::parse(plaintext)
            .map_err(|reason| WalletError::Corrupt(format!("{}: {reason}", path.display())))?;
        let expected = self.coldkey_public()?;
        let keypair = keypair_from(&json, &expected)
            .map_err(|e| WalletError::Corrupt(format!("{}: {e}", path.display())))?
            .ok_or_else(|| WalletError::Mismatch(expected.to_ss58(42)))?;
        let coldkey = Coldkey::from_schnorrkel(keypair);
        Ok(coldkey)
    }
}

/// The keypair in decrypted keyfile JSON whose public key is `expected`: from `secretSeed`
/// (a mini secret, expanded as Substrate does) or from the 64-byte `privateKey` (read in
/// either of schnorrkel's two layouts). `None` when none of them gives `expected`.
fn keypair_from(
    json: &KeyfileJson,
    expected: &PublicKey,
) -> Result<Option<schnorrkel::Keypair>, String> {
    let matches = |pair: &schnorrkel::Keypair| pair.public.to_bytes() == expected.0;
    if let Some(seed) = json.secret_seed.as_deref() {
        let seed: Zeroizing<[u8; 32]> =
            secret_hex(seed, "secretSeed").map_err(|e| e.to_string())?;
        if let Ok(mini) = schnorrkel::MiniSecretKey::from_bytes(seed.as_ref()) {
            let pair = mini.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519);
            if matches(&pair) {
                return Ok(Some(pair));
            }
        }
    }
    let Some(private) = json.private_key.as_deref() else {
        return Err("no secretSeed or privateKey in the keyfile".into());
    };
    let secret: Zeroizing<[u8; 64]> =
        secret_hex(private, "privateKey").map_err(|e| e.to_string())?;
    let layouts = [
        schnorrkel::SecretKey::from_ed25519_bytes(secret.as_ref()),
        schnorrkel::SecretKey::from_bytes(secret.as_ref()),
    ];
    for key in layouts.into_iter().flatten() {
        let pair = key.to_keypair();
        if matches(&pair) {
            return Ok(Some(pair));
        }
    }
    Ok(None)
}

fn read(path: &Path) -> Result<Vec<u8>, WalletError> {
    std::fs::read(path).map_err(|e| unreadable(path, e))
}

fn unreadable(path: &Path, e: std::io::Error) -> WalletError {
    WalletError::Unreadable {
        path: path.to_path_buf(),
        reason: e.kind().to_string(),
    }
}

/// Puts the file's path in front of a `Corrupt` reason.
fn in_file(path: &Path, e: WalletError) -> WalletError {
    match e {
        WalletError::Corrupt(reason) => {
            WalletError::Corrupt(format!("{}: {reason}", path.display()))
        }
        other => other,
    }
}

/// The public key named in keyfile JSON (`publicKey`, `accountId` or `ss58Address`).
fn public_key_of(path: &Path, data: &[u8]) -> Result<PublicKey, WalletError> {
    let json = KeyfileJson::parse(data)
        .map_err(|reason| WalletError::Corrupt(format!("{}: {reason}", path.display())))?;
    let text = json
        .public_key
        .or(json.account_id)
        .or(json.ss58_address)
        .ok_or_else(|| WalletError::Corrupt(format!("{}: no public key in it", path.display())))?;
    PublicKey::parse("public key", &text)
        .map_err(|e| WalletError::Corrupt(format!("{}: {e}", path.display())))
}

/// The coldkey that signs `pow_register` (its public key is bound into the seal).
pub struct Coldkey(Pair);

/// Where the secret came from; schnorrkel wipes secret keys when they are dropped.
enum Pair {
    /// Decrypted from a keyfile.
    Keyfile(schnorrkel::Keypair),
    /// Derived from a secret URI (`//Alice`).
    Uri(subxt_signer::sr25519::Keypair),
}

impl std::fmt::Debug for Coldkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Coldkey({})", self.public().to_ss58(42))
    }
}

impl Coldkey {
    fn from_schnorrkel(keypair: schnorrkel::Keypair) -> Self {
        Self(Pair::Keyfile(keypair))
    }

    /// A development or test key from a secret URI such as `//Alice`, or a mnemonic with an
    /// optional derivation path (`--coldkey-uri`, meant for dev chains).
    pub fn from_uri(uri: &str) -> Result<Self, WalletError> {
        let uri: subxt_signer::SecretUri = uri
            .parse()
            .map_err(|e: subxt_signer::SecretUriError| WalletError::BadUri(e.to_string()))?;
        let pair = subxt_signer::sr25519::Keypair::from_uri(&uri)
            .map_err(|e| WalletError::BadUri(e.to_string()))?;
        Ok(Self(Pair::Uri(pair)))
    }

    /// The coldkey's public key.
    pub fn public(&self) -> PublicKey {
        match &self.0 {
            Pair::Keyfile(pair) => PublicKey(pair.public.to_bytes()),
            Pair::Uri(pair) => PublicKey(pair.public_key().0),
        }
    }

    /// An sr25519 signature (signing context `substrate`) of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        match &self.0 {
            Pair::Keyfile(pair) => pair.sign_simple(b"substrate", message).to_bytes(),
            Pair::Uri(pair) => pair.sign(message).0,
        }
    }
}

impl subxt::transactions::Signer<SubstrateConfig> for Coldkey {
    fn account_id(&self) -> AccountId32 {
        AccountId32(self.public().0)
    }

    fn sign(&self, signer_payload: &[u8]) -> MultiSignature {
        MultiSignature::Sr25519(Coldkey::sign(self, signer_payload))
    }
}

#[cfg(test)]
mod tests {
    //! Fuzzing of every parser of keyfile bytes: no panic, and no error that quotes what it
    //! read (any 8 bytes of a string value may be part of a mnemonic or a seed).

    use super::*;
    use crypto_secretbox::aead::{AeadInPlace, KeyInit};
    use crypto_secretbox::XSalsa20Poly1305;
    use proptest::prelude::*;
    use serde_json::Value;

    /// A wallet whose `coldkeypub.txt` is the `open` test wallet's.
    fn wallet() -> Wallet {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/wallets");
        Wallet::new(&root, "open", "miner1")
    }

    /// The first window of 8 bytes of `secret` found in `text`.
    fn quoted(text: &str, secret: &[u8]) -> Option<String> {
        secret
            .windows(8)
            .find(|w| text.as_bytes().windows(8).any(|t| t == *w))
            .map(|w| String::from_utf8_lossy(w).into_owned())
    }

    /// Strings that look like secrets: mnemonic-like words, hex, and any text.
    fn secretish() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{3,8}( [a-z]{3,8}){2,11}",
            "(0x)?[0-9a-f]{8,130}",
            "\\PC{8,40}",
        ]
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("publicKey".to_string()),
            Just("accountId".to_string()),
            Just("ss58Address".to_string()),
            Just("privateKey".to_string()),
            Just("secretSeed".to_string()),
            Just("secretPhrase".to_string()),
            "[a-zA-Z]{1,12}",
        ]
    }

    /// JSON values shaped like keyfiles (objects of the keyfile's field names), with
    /// secret-like strings and numbers in every place, wrong types included.
    fn keyfile_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            secretish().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(field_name(), inner, 0..7)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The byte strings in a JSON value that must never be quoted: its strings and the
    /// text of its numbers.
    fn secrets_in(value: &Value, out: &mut Vec<Vec<u8>>) {
        match value {
            Value::String(s) => out.push(s.as_bytes().to_vec()),
            Value::Number(n) => out.push(n.to_string().into_bytes()),
            Value::Array(items) => items.iter().for_each(|v| secrets_in(v, out)),
            Value::Object(map) => map.values().for_each(|v| secrets_in(v, out)),
            _ => {}
        }
    }

    /// Runs every parser of keyfile bytes on `text` and returns their errors.
    fn errors_of(text: &[u8]) -> Vec<String> {
        let wallet = wallet();
        let mut errors = Vec::new();
        if let Err(e) = wallet.coldkey_from_plaintext(text) {
            errors.push(e.to_string());
        }
        if let Err(e) = public_key_of(&wallet.coldkeypub_path(), text) {
            errors.push(e.to_string());
        }
        errors
    }

    fn assert_quotes_nothing(errors: &[String], secrets: &[Vec<u8>]) {
        for error in errors {
            for secret in secrets {
                if let Some(window) = quoted(error, secret) {
                    panic!("error {error:?} quotes {window:?}");
                }
            }
        }
    }

    /// Seals `plaintext` as a `$NACL` keyfile with `key`.
    fn seal(key: [u8; 32], nonce: [u8; 24], plaintext: &[u8]) -> Vec<u8> {
        let mut sealed = plaintext.to_vec();
        XSalsa20Poly1305::new(&key.into())
            .encrypt_in_place(&nonce.into(), b"", &mut sealed)
            .unwrap();
        [b"$NACL".as_slice(), &nonce, &sealed].concat()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_are_refused_without_quoting(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let errors = errors_of(&bytes);
            prop_assert_eq!(errors.len(), 2, "random bytes are no keypair");
            assert_quotes_nothing(&errors, &[bytes]);
        }

        #[test]
        fn keyfile_shaped_json_never_quotes_a_value(value in keyfile_json(), cut in any::<prop::sample::Index>()) {
            let mut secrets = Vec::new();
            secrets_in(&value, &mut secrets);
            let text = value.to_string();
            assert_quotes_nothing(&errors_of(text.as_bytes()), &secrets);
            // The same text cut short anywhere (a syntax error inside a value).
            let cut = cut.index(text.len() + 1);
            assert_quotes_nothing(&errors_of(&text.as_bytes()[..cut]), &secrets);
        }

        #[test]
        fn nacl_bytes_are_refused_cleanly(body in prop::collection::vec(any::<u8>(), 0..300)) {
            // Arbitrary bytes after the prefix, opened with a fixed key (no derivation per
            // case): a truncated box or a tag that fails, never a panic or a quote.
            let data = [b"$NACL".as_slice(), &body].concat();
            let key = NaclKey::from_bytes([0x5a; 32]);
            let result = NaclBox::parse(&data).and_then(|sealed| sealed.open(&key));
            match result {
                Err(WalletError::Corrupt(reason)) => {
                    prop_assert!(body.len() < 24 + 16 + 2, "{}", reason);
                    assert_quotes_nothing(&[reason], &[body]);
                }
                Err(WalletError::WrongPassword) => prop_assert!(body.len() >= 24 + 16 + 2),
                other => prop_assert!(false, "unexpected {:?}", other.map(|p| p.len())),
            }
        }

        #[test]
        fn decrypted_plaintext_errors_never_quote_it(value in keyfile_json(), nonce in any::<[u8; 24]>()) {
            let mut secrets = Vec::new();
            secrets_in(&value, &mut secrets);
            let key = [0x17; 32];
            let text = value.to_string();
            let data = seal(key, nonce, text.as_bytes());
            let plaintext = NaclBox::parse(&data)
                .and_then(|sealed| sealed.open(&NaclKey::from_bytes(key)));
            match plaintext {
                Ok(plaintext) => {
                    prop_assert_eq!(plaintext.as_slice(), text.as_bytes());
                    if let Err(e) = wallet().coldkey_from_plaintext(&plaintext) {
                        assert_quotes_nothing(&[e.to_string()], &secrets);
                    }
                }
                // Only `""`-short plaintexts (a number, `[]`) are below the minimum.
                Err(e) => prop_assert!(text.len() < 2, "{}", e),
            }
        }
    }

    #[test]
    fn a_mnemonic_in_place_of_the_decrypted_keypair_is_not_quoted() {
        let mnemonic = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
        let key = [3; 32];
        let data = seal(key, [1; 24], format!("\"{mnemonic}\"").as_bytes());
        let plaintext = NaclBox::parse(&data)
            .unwrap()
            .open(&NaclKey::from_bytes(key))
            .unwrap();
        let err = wallet()
            .coldkey_from_plaintext(&plaintext)
            .unwrap_err()
            .to_string();
        assert!(err.contains("open/coldkey: not keypair JSON"), "{err}");
        for word in mnemonic.split(' ').filter(|w| w.len() > 3) {
            assert!(!err.contains(word), "{err} quotes {word}");
        }
    }
}
