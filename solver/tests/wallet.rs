//! Wallets really made by the `bittensor-wallet` package (scripts/make_test_wallets.py):
//! public keys from the layout, the `$NACL` coldkey decrypted with its password, signatures
//! that verify, and clear errors for a wrong password or a missing wallet.

use std::path::PathBuf;

use regpow_solver::wallet::{encryption_of, Coldkey, Encryption, Wallet, WalletError};
use regpow_solver::PublicKey;

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

#[test]
fn the_encrypted_coldkey_opens_with_its_password_and_signs() {
    let wallet = Wallet::new(&root(), "rehearsal", "miner1");
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
    let wallet = Wallet::new(&root(), "open", "miner1");
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
    std::fs::copy(wallet.coldkeypub_path(), dir.join("w/coldkeypub.txt")).unwrap();
    let from_private = Wallet::new(&dir, "w", "x").unlock_coldkey(b"").unwrap();
    assert_eq!(from_private.public(), coldkey.public());
}

#[test]
fn a_coldkey_that_does_not_match_its_public_file_is_refused() {
    let dir = tempdir("mismatch");
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::copy(root().join("open/coldkey"), dir.join("w/coldkey")).unwrap();
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

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("regpow-wallet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
