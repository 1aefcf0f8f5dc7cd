//! Resolves `--network` to a connected chain client, starting the embedded devnet for
//! `--network devnet`. Failures map to exit codes: unreachable or untrusted (metadata that
//! disagrees with the call regpow signs, another chain's genesis) 3, no PoW registration 1,
//! an unusable devnet configuration 2. Every URL printed is redacted.

use std::time::Duration;

use regpow_chain::network::{is_remote_plaintext, redact_url, ChainPin};
use regpow_chain::{ChainClient, ChainError, Network, SubnetState};
use regpow_devnet::{start, DevnetConfig, DevnetHandle};
use regpow_registrar::register::RegisterError;
use regpow_rules::PublicKey;

use crate::failure::Failure;

/// A connected client, and the embedded devnet behind it if one was started (it runs as
/// long as this value lives).
pub struct Connection {
    /// The client.
    pub client: ChainClient,
    /// The embedded devnet, for `--network devnet`.
    pub devnet: Option<DevnetHandle>,
}

/// Maps a chain error to its exit code and one line. An unreachable endpoint reads
/// `cannot reach URL: CAUSE`, the URL redacted and the cause one short phrase with a hint
/// (worded by `ChainClient::connect`).
pub fn failure(e: ChainError) -> Failure {
    match e {
        // The client words these already: the URL redacted, the cause short, with a hint.
        ChainError::Unreachable(_) | ChainError::Rpc(_) => Failure::unavailable(e.to_string()),
        // A node regpow will not sign for (its metadata disagrees with the call regpow
        // signs, or it serves another chain) is an endpoint unavailable to it.
        ChainError::Runtime(_) | ChainError::WrongChain(_) => Failure::unavailable(e.to_string()),
        ChainError::NoPowRegister { .. } => Failure::not_achieved(e.to_string()),
    }
}

/// Maps why a registration (or a farm) could not go on to its exit code: the chain's
/// errors as [`failure`] does, every device failing as unavailable (3).
pub fn register_failure(e: RegisterError) -> Failure {
    match e {
        RegisterError::Chain(e) => failure(e),
        RegisterError::Devices {
            last_fault,
            in_doubt,
        } => Failure::unavailable(format!(
            "device fault: {last_fault}{}",
            crate::words::in_doubt(in_doubt)
        )),
    }
}

/// Refuses an unencrypted `ws://` URL to another machine unless the user accepted it
/// (`--allow-insecure-ws`), and says so when they did.
pub fn check_transport(network: &Network, allow_insecure_ws: bool) -> Result<(), Failure> {
    let Some(url) = network.url() else {
        return Ok(());
    };
    if !is_remote_plaintext(url) {
        return Ok(());
    }
    if !allow_insecure_ws {
        return Err(Failure::bad_input(format!(
            "network: {} is an unencrypted ws:// connection to another machine (anyone on the \
             path could read and change what the node says): use wss://, a node on loopback, \
             or --allow-insecure-ws to accept it",
            network.redacted()
        )));
    }
    crate::output::err!(
        "network: {} is unencrypted (--allow-insecure-ws): what the node says is only as \
         trustworthy as the path to it",
        network.redacted()
    );
    Ok(())
}

/// Connects to `network` (must run inside a tokio runtime), refusing a remote `ws://` URL
/// unless `allow_insecure_ws`, and a node whose genesis is not `expect_chain`'s.
pub async fn connect(
    network: &Network,
    allow_insecure_ws: bool,
    expect_chain: Option<ChainPin>,
    devnet_block_time: Duration,
) -> Result<Connection, Failure> {
    check_transport(network, allow_insecure_ws)?;
    let (url, devnet) = match network.url() {
        Some(url) => (url.to_string(), None),
        None => {
            // The same validation as `regpow devnet` (the flag's parser bounds the block
            // time already; this keeps every other rule in force too).
            let config = DevnetConfig {
                block_time: devnet_block_time,
                ..DevnetConfig::default()
            };
            config
                .validate()
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            let devnet = start(config)
                .await
                .map_err(|e| Failure::unavailable(e.to_string()))?;
            crate::output::err!(
                "devnet: embedded local chain at {} (blocks every {})",
                redact_url(&devnet.url),
                humantime::format_duration(devnet_block_time)
            );
            (devnet.url.clone(), Some(devnet))
        }
    };
    let client = ChainClient::connect_pinned(&url, expect_chain)
        .await
        .map_err(failure)?;
    Ok(Connection { client, devnet })
}

/// The subnet's registration state (and `hotkey`'s) at the chain's best head.
pub async fn state_at_head(
    client: &ChainClient,
    netuid: u16,
    hotkey: &PublicKey,
) -> Result<SubnetState, Failure> {
    let head = client.best_head().await.map_err(failure)?;
    client
        .subnet_state(head, netuid, hotkey, None)
        .await
        .map_err(failure)
}
