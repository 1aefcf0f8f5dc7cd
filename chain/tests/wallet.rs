//! Wallets really made by the `bittensor-wallet` package (scripts/make_test_wallets.py):
//! public keys from the layout, the `$NACL` coldkey decrypted with its password, signatures
//! that verify, and clear errors for a wrong password or a missing wallet. Also: keyfile
//! errors that never quote the keyfile, and coldkey files other users can read refused.
//!
//! Git stores the fixtures as 0644 (it keeps only the exec bit), so tests that read a
//! coldkey use a private copy (`private_copy`, mode 0600).

use std::path::{Path, PathBuf};

use regpow_chain::wallet::{encryption_of, Coldkey, Encryption, Wallet, WalletError};
use regpow_rules::PublicKey;

const PASSWORD: &str = "regpow test password";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/wallets")
}

/// The `ss58Address` a keyfile's JSON names.
fn ss58_in(path: PathBuf) -> String {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    json["ss58Address"].as_str().unwrap().to_string()
}

#[test]
fn public_keys_come_from_the_wallet_layout() {
    let wallet = Wallet::new(&root(), "rehearsal", "miner2");
    assert_eq!(
        wallet.hotkey_public().unwrap().to_ss58(42),
        ss58_in(root().join("rehearsal/hotkeys/miner2pub.txt"))
    );
    assert_eq!(
        wallet.coldkey_public().unwrap().to_ss58(42),
        ss58_in(root().join("rehearsal/coldkeypub.txt"))
    );
    // Without the pub.txt, an unencrypted hotkey keyfile gives the same key.
    let dir = tempdir("hotkey-only");
    std::fs::create_dir_all(dir.join("w/hotkeys")).unwrap();
    std::fs::copy(
        root().join("rehearsal/hotkeys/miner2"),
        dir.join("w/hotkeys/miner2"),
    )
    .unwrap();
    assert_eq!(
        Wallet::new(&dir, "w", "miner2").hotkey_public().unwrap(),
        wallet.hotkey_public().unwrap()
    );
}

/// A copy of the test wallet `name` in a fresh folder, its coldkey readable by its owner only.
fn private_copy(name: &str) -> PathBuf {
    let dir = tempdir(&format!("private-{name}"));
    copy_dir(&root().join(name), &dir.join(name));
    chmod(&dir.join(name).join("coldkey"), 0o600);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

#[test]
fn the_encrypted_coldkey_opens_with_its_password_and_signs() {
    let wallet = Wallet::new(&private_copy("rehearsal"), "rehearsal", "miner1");
    let data = std::fs::read(wallet.coldkey_path()).unwrap();
    assert_eq!(encryption_of(&data), Encryption::Nacl);
    assert!(wallet.coldkey_is_encrypted().unwrap());

    let coldkey = wallet.unlock_coldkey(PASSWORD.as_bytes()).unwrap();
    assert_eq!(coldkey.public(), wallet.coldkey_public().unwrap());
    let message = b"pow_register signing payload";
    let signature = subxt_signer::sr25519::Signature(coldkey.sign(message));
    assert!(subxt_signer::sr25519::verify(
        &signature,
        message,
        &subxt_signer::sr25519::PublicKey(coldkey.public().0)
    ));
    // Debug output names the public key only.
    let shown = format!("{coldkey:?}");
    assert_eq!(shown, format!("Coldkey({})", coldkey.public().to_ss58(42)));

    assert!(matches!(
        wallet.unlock_coldkey(b"not the password"),
        Err(WalletError::WrongPassword)
    ));
}

#[test]
fn an_unencrypted_coldkey_needs_no_password() {
    let wallet = Wallet::new(&private_copy("open"), "open", "miner1");
    assert!(!wallet.coldkey_is_encrypted().unwrap());
    let coldkey = wallet.unlock_coldkey(b"").unwrap();
    assert_eq!(coldkey.public(), wallet.coldkey_public().unwrap());

    // A keyfile with only the 64-byte privateKey (no secretSeed) gives the same key.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wallet.coldkey_path()).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("secretSeed");
    json.as_object_mut().unwrap().remove("secretPhrase");
    let dir = tempdir("private-only");
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::write(dir.join("w/coldkey"), json.to_string()).unwrap();
    chmod(&dir.join("w/coldkey"), 0o600);
    std::fs::copy(wallet.coldkeypub_path(), dir.join("w/coldkeypub.txt")).unwrap();
    let from_private = Wallet::new(&dir, "w", "x").unlock_coldkey(b"").unwrap();
    assert_eq!(from_private.public(), coldkey.public());
}

#[test]
fn a_coldkey_that_does_not_match_its_public_file_is_refused() {
    let dir = tempdir("mismatch");
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::copy(root().join("open/coldkey"), dir.join("w/coldkey")).unwrap();
    chmod(&dir.join("w/coldkey"), 0o600);
    std::fs::copy(
        root().join("rehearsal/coldkeypub.txt"),
        dir.join("w/coldkeypub.txt"),
    )
    .unwrap();
    let err = Wallet::new(&dir, "w", "x").unlock_coldkey(b"").unwrap_err();
    assert!(matches!(err, WalletError::Mismatch(_)), "{err}");
}

#[test]
fn missing_files_name_the_path() {
    let err = Wallet::new(&root(), "nobody", "miner1")
        .hotkey_public()
        .unwrap_err()
        .to_string();
    assert!(err.contains("nobody/hotkeys/miner1"), "{err}");
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn dev_uris_give_the_dev_keys() {
    let alice = Coldkey::from_uri("//Alice").unwrap();
    assert_eq!(
        alice.public(),
        PublicKey(subxt_signer::sr25519::dev::alice().public_key().0)
    );
    assert!(Coldkey::from_uri("not a uri at all").is_err());
}

/// A wallet `w` in a fresh folder whose coldkey file holds `coldkey` (mode 0600) and whose
/// `coldkeypub.txt` is the `open` wallet's.
fn wallet_with_coldkey(name: &str, coldkey: &[u8]) -> Wallet {
    let dir = tempdir(name);
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::write(dir.join("w/coldkey"), coldkey).unwrap();
    chmod(&dir.join("w/coldkey"), 0o600);
    std::fs::copy(
        root().join("open/coldkeypub.txt"),
        dir.join("w/coldkeypub.txt"),
    )
    .unwrap();
    Wallet::new(&dir, "w", "x")
}

#[test]
fn a_keyfile_that_is_not_keypair_json_is_not_quoted() {
    // serde_json's text was `invalid type: string "bottom drive obey lake …"`.
    let mnemonic = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
    let wallet = wallet_with_coldkey("mnemonic", format!("\"{mnemonic}\"\n").as_bytes());
    let err = wallet.unlock_coldkey(b"").unwrap_err().to_string();
    assert!(err.contains("w/coldkey: not keypair JSON"), "{err}");
    for word in mnemonic.split(' ') {
        assert!(!err.contains(word), "{err} quotes {word:?}");
    }
    // The bare mnemonic (not even JSON) names a position only.
    let wallet = wallet_with_coldkey("bare-mnemonic", mnemonic.as_bytes());
    let err = wallet.unlock_coldkey(b"").unwrap_err().to_string();
    assert!(
        err.ends_with("not keypair JSON: not valid JSON (line 1, column 1)"),
        "{err}"
    );
}

#[test]
fn a_keyfile_with_wrong_types_is_not_quoted() {
    // A number where the seed's string belongs was quoted (`invalid type: integer `…``).
    let seed = "739201846502817364";
    let wallet = wallet_with_coldkey(
        "wrong-types",
        format!(r#"{{"publicKey": 5, "secretSeed": {seed}, "privateKey": ["0xsecretsecret"]}}"#)
            .as_bytes(),
    );
    let err = wallet.unlock_coldkey(b"").unwrap_err().to_string();
    assert!(err.contains("not keypair JSON"), "{err}");
    assert!(!err.contains("73920184"), "{err}");
    assert!(!err.contains("secretsecret"), "{err}");
    // A public file of the wrong shape too.
    let dir = tempdir("wrong-pub");
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::write(
        dir.join("w/coldkeypub.txt"),
        "\"until hard april keen post\"",
    )
    .unwrap();
    let err = Wallet::new(&dir, "w", "x")
        .coldkey_public()
        .unwrap_err()
        .to_string();
    assert!(err.contains("coldkeypub.txt: not keypair JSON"), "{err}");
    assert!(!err.contains("april"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_coldkey_other_users_can_read_is_refused() {
    let dir = private_copy("open");
    let coldkey = dir.join("open/coldkey");
    let wallet = Wallet::new(&dir, "open", "miner1");
    for mode in [0o644, 0o640, 0o604, 0o660, 0o666] {
        chmod(&coldkey, mode);
        let err = wallet.unlock_coldkey(b"").unwrap_err();
        assert!(
            matches!(&err, WalletError::InsecurePermissions { path, mode: m } if *path == coldkey && *m == mode),
            "{err}"
        );
        let text = err.to_string();
        assert_eq!(
            text,
            format!(
                "{} can be read by other users (mode {mode:03o}): run `chmod 600 {}`",
                coldkey.display(),
                coldkey.display()
            )
        );
        assert!(wallet.check_coldkey_permissions().is_err());
        assert!(wallet.coldkey_is_encrypted().is_err());
        // The explicit override accepts it.
        let allowed = wallet.clone().allow_insecure_coldkey(true);
        allowed.check_coldkey_permissions().unwrap();
        assert_eq!(
            allowed.unlock_coldkey(b"").unwrap().public(),
            wallet.coldkey_public().unwrap()
        );
    }
    for mode in [0o600, 0o400, 0o700] {
        chmod(&coldkey, mode);
        wallet.check_coldkey_permissions().unwrap();
        wallet.unlock_coldkey(b"").unwrap();
    }
}

#[test]
fn a_truncated_encrypted_coldkey_is_refused_without_deriving_a_key() {
    // Nonce and tag, no plaintext: refused by its framing (before, argon2 ran for seconds
    // and the answer was "wrong coldkey password").
    let mut data = b"$NACL".to_vec();
    data.extend([0u8; 40]);
    let wallet = wallet_with_coldkey("truncated", &data);
    let err = wallet.unlock_coldkey(b"pw").unwrap_err();
    assert!(matches!(err, WalletError::Corrupt(_)), "{err}");
    assert!(
        err.to_string()
            .ends_with("w/coldkey: encrypted keyfile is truncated (45 bytes)"),
        "{err}"
    );
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("regpow-wallet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
