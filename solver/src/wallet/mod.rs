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
//! when dropped; it never reaches logs, errors or `Debug` output.

mod keyfile;

use std::path::{Path, PathBuf};

use subxt::utils::{AccountId32, MultiSignature};
use subxt::SubstrateConfig;
use zeroize::Zeroizing;

pub use keyfile::{encryption_of, Encryption};

use crate::keys::PublicKey;
use keyfile::{decrypt_nacl, secret_hex, KeyfileJson};

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
}

/// Where a wallet's files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wallet {
    /// The wallet's folder: `<wallet path>/<name>`.
    pub dir: PathBuf,
    /// The hotkey's name.
    pub hotkey: String,
}

impl Wallet {
    /// The wallet `name` with hotkey `hotkey` under `root` (usually `~/.bittensor/wallets`).
    pub fn new(root: &Path, name: &str, hotkey: &str) -> Self {
        Self {
            dir: root.join(name),
            hotkey: hotkey.to_string(),
        }
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

    /// Whether the coldkey file is encrypted (a password is needed to sign).
    pub fn coldkey_is_encrypted(&self) -> Result<bool, WalletError> {
        let data = Zeroizing::new(read(&self.coldkey_path())?);
        Ok(encryption_of(&data) != Encryption::None)
    }

    /// Decrypts the coldkey with `password` (unused if the keyfile is not encrypted) and
    /// checks it against `coldkeypub.txt`.
    pub fn unlock_coldkey(&self, password: &[u8]) -> Result<Coldkey, WalletError> {
        let path = self.coldkey_path();
        let data = Zeroizing::new(read(&path)?);
        let plaintext = match encryption_of(&data) {
            Encryption::None => Zeroizing::new(data.to_vec()),
            Encryption::Nacl => decrypt_nacl(&data, password)?,
            Encryption::AnsibleVault | Encryption::LegacyFernet => {
                return Err(WalletError::Unsupported(format!(
                    "{}: an old bittensor encryption format; re-encrypt it with \
                     `btcli wallet update` (bittensor-wallet's $NACL format)",
                    path.display()
                )))
            }
        };
        let json = KeyfileJson::parse(&plaintext)?;
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
    std::fs::read(path).map_err(|e| WalletError::Unreadable {
        path: path.to_path_buf(),
        reason: e.kind().to_string(),
    })
}

/// The public key named in keyfile JSON (`publicKey`, `accountId` or `ss58Address`).
fn public_key_of(path: &Path, data: &[u8]) -> Result<PublicKey, WalletError> {
    let json = KeyfileJson::parse(data)
        .map_err(|e| WalletError::Corrupt(format!("{}: {e}", path.display())))?;
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
