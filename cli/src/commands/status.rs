//! `regpow status`: a subnet's PoW registration state at the chain's head.

use regpow_rules::PublicKey;
use serde_json::json;

use crate::args::StatusArgs;
use crate::connect::{connect, state_at_head};
use crate::output::{self, out};
use regpow_chain::network::redact_url;

/// Prints difficulty, bounds, whether PoW is enabled, registrations in the block and, with
/// `--hotkey`, its uid. Exit 3 when the chain cannot be reached (one line). The endpoint is
/// shown redacted: no credential in the URL is ever printed.
pub fn run(args: &StatusArgs, json: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let netuid = args.chain.netuid;
    let probe = args.hotkey.unwrap_or(PublicKey([0; 32]));
    let (url, state) = runtime.block_on(async {
        let connection = connect(
            &args.chain.network,
            args.chain.allow_insecure_ws,
            args.chain.expect_chain,
            std::time::Duration::from_secs(12),
        )
        .await?;
        let state = state_at_head(&connection.client, netuid, &probe).await?;
        if let Some(devnet) = connection.devnet {
            devnet.stop().await;
        }
        Ok::<_, crate::failure::Failure>((redact_url(connection.client.url()), state))
    })?;
    let hotkey = args.hotkey.map(|k| k.to_ss58(42));
    let uid = args.hotkey.and(state.hotkey.uid);
    let effective = state.effective_difficulty().get();
    if json {
        output::json(&json!({
            "network": url,
            "block": state.subnet.head.number,
            "block_hash": format!("0x{}", hex::encode(state.subnet.head.hash)),
            "netuid": netuid,
            "exists": state.subnet.exists,
            "pow_enabled": state.subnet.pow_allowed,
            "difficulty": effective,
            "raw_difficulty": state.subnet.difficulty,
            "min_difficulty": state.subnet.min_difficulty,
            "max_difficulty": state.subnet.max_difficulty,
            "registrations_this_block": state.subnet.registrations_this_block,
            "max_registrations_per_block": state.subnet.max_registrations_per_block,
            "max_allowed_uids": state.subnet.max_allowed_uids,
            "hotkey": hotkey,
            "uid": uid,
        }));
        return Ok(());
    }
    out!("network     {url}");
    out!(
        "block       #{} 0x{}",
        state.subnet.head.number,
        hex::encode(state.subnet.head.hash)
    );
    if !state.subnet.exists {
        out!("subnet {netuid}   does not exist");
        return Ok(());
    }
    out!(
        "subnet {netuid}    PoW registration {}",
        if state.subnet.pow_allowed {
            "enabled"
        } else {
            "disabled"
        }
    );
    out!(
        "difficulty  {effective} (stored {}, min {}, max {})",
        state.subnet.difficulty,
        state.subnet.min_difficulty,
        state.subnet.max_difficulty
    );
    out!(
        "this block  {} of {} registrations",
        state.subnet.registrations_this_block,
        state.subnet.max_registrations_per_block
    );
    if let Some(hotkey) = hotkey {
        match uid {
            Some(uid) => out!("hotkey      {hotkey} holds uid {uid}"),
            None => out!("hotkey      {hotkey} is not registered"),
        }
    }
    Ok(())
}
