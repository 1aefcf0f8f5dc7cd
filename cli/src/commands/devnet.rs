//! `regpow devnet`: a local chain for rehearsing registrations, until Ctrl-C.

use regpow_devnet::config::StatePruning;
use regpow_devnet::events::Event;
use regpow_devnet::node::Imported;
use regpow_devnet::{start, DevnetConfig};
use regpow_rules::PublicKey;

use crate::args::DevnetArgs;
use crate::failure::Failure;
use crate::output::{self, err, out};

/// Starts the devnet, prints its URL as the first line of stdout, logs each block to stderr
/// (or as JSON lines on stdout with `--json`) and stops cleanly on Ctrl-C, or (exit 0) when
/// the reader of its stdout has gone (`regpow devnet --json | head -1`).
pub fn run(args: &DevnetArgs, json: bool) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::bad_input(format!("devnet config {}: {e}", path.display()))
            })?;
            DevnetConfig::from_toml(&text).map_err(|e| Failure::bad_input(e.to_string()))?
        }
        None => DevnetConfig::default(),
    };
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(block_time) = args.block_time {
        config.block_time = block_time;
    }
    if let Some(pruning) = args.state_pruning {
        config.state_pruning = pruning;
    }
    config.rpc_methods = match args.rpc_methods {
        crate::args::RpcMethodsArg::Safe => regpow_devnet::config::RpcMethods::Safe,
        crate::args::RpcMethodsArg::Unsafe => regpow_devnet::config::RpcMethods::Unsafe,
    };
    if let Some(lag) = args.finality_lag {
        config.finality_lag = lag;
    }
    config.rpc_max_connections = args.rpc_max_connections;
    config.rpc_idle_timeout = args.rpc_idle_timeout;
    config
        .validate()
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(config, json))
}

async fn serve(config: DevnetConfig, json: bool) -> anyhow::Result<()> {
    let devnet = start(config.clone())
        .await
        .map_err(|e| Failure::unavailable(e.to_string()))?;
    if json {
        output::json(&serde_json::json!({ "url": devnet.url }));
    } else {
        out!("{}", devnet.url);
    }
    let subnets: Vec<String> = config
        .subnets
        .iter()
        .map(|s| {
            format!(
                "{} (PoW {}, difficulty {})",
                s.netuid,
                if s.pow_enabled { "on" } else { "off" },
                s.difficulty
            )
        })
        .collect();
    err!(
        "devnet: blocks every {}, final {} behind the best, subnets {}, state kept for {}; \
         Ctrl-C stops",
        humantime::format_duration(config.block_time),
        match config.finality_lag {
            1 => "1 block".to_string(),
            n => format!("{n} blocks"),
        },
        subnets.join(", "),
        match config.state_pruning {
            StatePruning::Archive => "every block (archive)".to_string(),
            StatePruning::Keep(n) => format!("the last {n} final blocks"),
        }
    );
    let mut blocks = devnet.node.subscribe_blocks();
    // One listener for the whole run: a listener made afresh each turn of the loop would
    // miss a Ctrl-C that arrives between two turns (a block is logged every turn). SIGTERM
    // (a scheduler's or `docker stop`'s) stops it the same way.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    while !output::stdout_closed() {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = terminate.recv() => break,
            block = blocks.recv() => match block {
                Ok(imported) => log_block(&imported, json),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    devnet.stop().await;
    if output::stdout_closed() {
        err!("devnet: stopped (stdout was closed)");
    } else {
        err!("devnet: stopped");
    }
    Ok(())
}

/// One line per block, then one per registration or failed registration in it.
fn log_block(imported: &Imported, json: bool) {
    let header = &imported.header;
    let hash = format!("0x{}", hex::encode(imported.hash));
    if json {
        output::json(&serde_json::json!({ "block": header.number, "hash": hash }));
    } else {
        err!("block #{} {hash}", header.number);
    }
    for record in &imported.events {
        match &record.event {
            Event::NeuronRegistered {
                netuid,
                uid,
                hotkey,
            } => {
                let hotkey = PublicKey(*hotkey).to_ss58(42);
                if json {
                    output::json(&serde_json::json!({
                        "block": header.number, "registered": { "netuid": netuid, "uid": uid, "hotkey": hotkey },
                    }));
                } else {
                    err!("  registered netuid {netuid} uid {uid} hotkey {hotkey}");
                }
            }
            Event::ExtrinsicFailed(error) => {
                if json {
                    output::json(&serde_json::json!({
                        "block": header.number, "failed": error.name(),
                    }));
                } else {
                    err!("  pow_register failed: {}", error.name());
                }
            }
            Event::ExtrinsicSuccess => {}
        }
    }
}
