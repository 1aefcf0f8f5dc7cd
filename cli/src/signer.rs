//! Where the signing key comes from: a secret URI (`--coldkey-uri`, or one line of stdin
//! with `--coldkey-uri -`) or the wallet's coldkey file, decrypted with the password from
//! `REGPOW_COLDKEY_PASSWORD` or a prompt. Every secret is wiped when dropped and never
//! printed; the process is kept out of core dumps before any secret is read.

use std::io::{IsTerminal, Read};

use regpow_chain::wallet::{
    protect_process, read_private_file, take_secret_env, uri_carries_secret, Coldkey, Wallet,
    WalletError,
};
use regpow_rules::PublicKey;
use zeroize::Zeroizing;

use crate::args::WalletArgs;
use crate::failure::Failure;

/// Environment variable that holds the coldkey password for unattended runs. It is taken
/// out of the environment as soon as [`keys`] runs, before any thread starts.
pub const PASSWORD_ENV: &str = "REGPOW_COLDKEY_PASSWORD";

/// Environment variable naming a file that holds the coldkey password (a mounted secret):
/// the file must be private to this user, like a keyfile.
pub const PASSWORD_FILE_ENV: &str = "REGPOW_COLDKEY_PASSWORD_FILE";

/// Longest password file read.
const MAX_PASSWORD_FILE_LEN: u64 = 4 * 1024;

/// The coldkey password for unattended runs: from [`PASSWORD_ENV`] (taken out of the
/// environment) or from the file [`PASSWORD_FILE_ENV`] names (one line; a final newline is
/// not part of it). Both at once is bad input: which one was meant?
pub fn password(allow_insecure: bool) -> Result<Option<Zeroizing<String>>, Failure> {
    let from_env = take_secret_env(PASSWORD_ENV).map_err(wallet_failure)?;
    let Some(path) = std::env::var_os(PASSWORD_FILE_ENV) else {
        return Ok(from_env);
    };
    if from_env.is_some() {
        return Err(Failure::bad_input(format!(
            "both {PASSWORD_ENV} and {PASSWORD_FILE_ENV} are set: keep one"
        )));
    }
    let path = std::path::PathBuf::from(path);
    let bytes =
        read_private_file(&path, MAX_PASSWORD_FILE_LEN, allow_insecure).map_err(|e| match e {
            WalletError::InsecurePermissions { .. } => Failure::bad_input(format!(
                "{PASSWORD_FILE_ENV}: {e} (or pass --allow-insecure-keyfile)"
            )),
            other => Failure::bad_input(format!("{PASSWORD_FILE_ENV}: {other}")),
        })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure::bad_input(format!(
            "{PASSWORD_FILE_ENV}: {} is not UTF-8",
            path.display()
        ))
    })?;
    let line = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    Ok(Some(Zeroizing::new(line.to_string())))
}

/// `--coldkey-uri` value that reads the URI from stdin.
const FROM_STDIN: &str = "-";

/// Longest secret URI read from stdin.
const MAX_URI_LEN: usize = 8 * 1024;

/// Where the signing key is.
pub enum Signer {
    /// Derived from a secret URI.
    Uri(Box<Coldkey>),
    /// In the wallet's coldkey file; the password from the environment, if it was set.
    Wallet {
        /// The wallet.
        wallet: Wallet,
        /// The value of [`PASSWORD_ENV`].
        password: Option<Zeroizing<String>>,
    },
}

/// The hotkey to register, the coldkey's public key and where its secret is. Call it first
/// in a command, before any thread starts: it turns core dumps off, takes the password out
/// of the environment and, for `--coldkey-uri`, derives the key. Checks the coldkey file's
/// permissions now, so a readable file is refused before any connection.
pub fn keys(args: &WalletArgs) -> Result<(PublicKey, PublicKey, Signer), Failure> {
    protect_process().map_err(|e| {
        Failure::unavailable(format!(
            "cannot turn core dumps off before loading the coldkey: {e}"
        ))
    })?;
    let password = password(args.allow_insecure_keyfile)?;
    let root = args
        .wallet_path
        .clone()
        .unwrap_or_else(Wallet::default_root);
    let wallet = Wallet::new(&root, &args.wallet_name, &args.wallet_hotkey)
        .allow_insecure_coldkey(args.allow_insecure_keyfile);
    let hotkey = match args.hotkey {
        Some(key) => key,
        None => wallet.hotkey_public().map_err(wallet_failure)?,
    };
    match &args.coldkey_uri {
        Some(uri) => {
            let uri = if uri.0.as_str() == FROM_STDIN {
                read_secret_uri()?
            } else {
                if uri_carries_secret(&uri.0) {
                    if !args.allow_secret_argument {
                        return Err(Failure::bad_input(
                            "--coldkey-uri: a mnemonic, seed or password on the command line \
                             is readable by every user of this machine (ps, /proc, shell \
                             history): pass --coldkey-uri - and give it on stdin, or use the \
                             wallet (or pass --allow-secret-argument)",
                        ));
                    }
                    eprintln!(
                        "warning: a mnemonic, seed or password in --coldkey-uri is visible to \
                         other users (ps, shell history); pass --coldkey-uri - and give it on \
                         stdin"
                    );
                }
                uri.0.clone()
            };
            let coldkey = Coldkey::from_uri(&uri).map_err(wallet_failure)?;
            Ok((hotkey, coldkey.public(), Signer::Uri(Box::new(coldkey))))
        }
        None => {
            let public = wallet.coldkey_public().map_err(wallet_failure)?;
            wallet.check_coldkey_permissions().map_err(wallet_failure)?;
            Ok((hotkey, public, Signer::Wallet { wallet, password }))
        }
    }
}

/// The coldkey's secret: from the URI, or decrypted with the password from the environment
/// or a prompt (never echoed, never logged).
pub fn unlock(signer: Signer) -> Result<Coldkey, Failure> {
    let (wallet, password) = match signer {
        Signer::Uri(coldkey) => return Ok(*coldkey),
        Signer::Wallet { wallet, password } => (wallet, password),
    };
    let password = if !wallet.coldkey_is_encrypted().map_err(wallet_failure)? {
        Zeroizing::new(String::new())
    } else if let Some(password) = password {
        password
    } else if std::io::stdin().is_terminal() {
        Zeroizing::new(
            rpassword::prompt_password(format!(
                "password for coldkey {}: ",
                wallet.coldkey_path().display()
            ))
            .map_err(|e| Failure::bad_input(format!("reading the password: {}", e.kind())))?,
        )
    } else {
        return Err(Failure::bad_input(format!(
            "the coldkey is encrypted: set {PASSWORD_ENV} or run in a terminal to be asked"
        )));
    };
    wallet
        .unlock_coldkey(password.as_bytes())
        .map_err(|e| match e {
            WalletError::WrongPassword => Failure::bad_input("wrong coldkey password"),
            other => wallet_failure(other),
        })
}

/// Bad input, on one line; a readable coldkey file also names the override.
fn wallet_failure(e: WalletError) -> Failure {
    match e {
        WalletError::InsecurePermissions { .. } => {
            Failure::bad_input(format!("wallet: {e} (or pass --allow-insecure-keyfile)"))
        }
        WalletError::NotUtf8 { .. } => Failure::bad_input(e.to_string()),
        other => Failure::bad_input(format!("wallet: {other}")),
    }
}

/// The secret URI from stdin: asked without echo on a terminal, else the first line,
/// trimmed, into a buffer that is wiped when dropped.
fn read_secret_uri() -> Result<Zeroizing<String>, Failure> {
    let uri = if std::io::stdin().is_terminal() {
        Zeroizing::new(
            rpassword::prompt_password("coldkey URI (mnemonic, 0x seed or //path): ").map_err(
                |e| Failure::bad_input(format!("reading the coldkey URI: {}", e.kind())),
            )?,
        )
    } else {
        read_line(&mut std::io::stdin().lock())?
    };
    let trimmed = uri.trim();
    if trimmed.is_empty() {
        return Err(Failure::bad_input(
            "--coldkey-uri -: no URI on stdin (one line: a mnemonic, 0x seed or //path)",
        ));
    }
    Ok(Zeroizing::new(trimmed.to_string()))
}

/// The first line of `input` (without its newline) in a wiped buffer. Reads go straight
/// into that buffer: each asks for at least 8 KiB, which std's stdin passes by its own
/// buffer, so no copy of the secret is left there.
fn read_line(input: &mut impl Read) -> Result<Zeroizing<String>, Failure> {
    let mut buf = Zeroizing::new(vec![0u8; 2 * MAX_URI_LEN]);
    let mut filled = 0;
    while filled <= MAX_URI_LEN && !buf[..filled].contains(&b'\n') {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Failure::bad_input(format!(
                    "--coldkey-uri -: reading stdin: {}",
                    e.kind()
                )))
            }
        }
    }
    let end = buf[..filled]
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(filled);
    if end > MAX_URI_LEN {
        return Err(Failure::bad_input(format!(
            "--coldkey-uri -: the line on stdin is longer than {} KiB",
            MAX_URI_LEN / 1024
        )));
    }
    let line = std::str::from_utf8(&buf[..end])
        .map_err(|_| Failure::bad_input("--coldkey-uri -: the line on stdin is not UTF-8"))?;
    Ok(Zeroizing::new(line.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_derivation_paths_are_safe_on_the_command_line() {
        assert!(!uri_carries_secret("//Alice"));
        assert!(!uri_carries_secret("//Alice//stash"));
        assert!(!uri_carries_secret(" //Alice/soft"));
        assert!(uri_carries_secret("//Alice///password"));
        assert!(uri_carries_secret(
            "bottom drive obey lake curtain smoke basket hold race lonely fit walk//Alice"
        ));
        assert!(uri_carries_secret(
            "0xfac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"
        ));
    }

    #[test]
    fn one_line_is_read_and_the_rest_ignored() {
        let mut input: &[u8] = b"word word word\r\nnext line\n";
        assert_eq!(read_line(&mut input).unwrap().as_str(), "word word word\r");
        let mut input: &[u8] = b"no newline";
        assert_eq!(read_line(&mut input).unwrap().as_str(), "no newline");
        let long = vec![b'a'; MAX_URI_LEN + 1];
        let err = read_line(&mut long.as_slice()).unwrap_err().to_string();
        assert!(err.contains("longer than 8 KiB"), "{err}");
        let mut input: &[u8] = b"\xff\xfe\n";
        let err = read_line(&mut input).unwrap_err().to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }
}
