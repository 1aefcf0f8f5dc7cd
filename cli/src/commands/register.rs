//! `regpow register`: win a UID slot. Checks everything the chain would refuse before any
//! hashing, then follows the chain and submits the first seal that passes every check.
//! Wiring only: the view is `views/register.rs`, the words `words.rs`.

use std::time::Duration;

use regpow_registrar::register::{register, Outcome};
use regpow_registrar::{TargetId, TargetSpec};
use serde_json::json;

use crate::args::RegisterArgs;
use crate::connect::{register_failure, state_at_head};
use crate::failure::Failure;
use crate::live::Live;
use crate::signer::{keys, unlock};
use crate::telemetry::Telemetry;
use crate::views::register::RegisterView;
use crate::{output, words};

/// Registers and prints the uid (exit 0); a refusal, the time bound or Ctrl-C is exit 1.
/// The chain is reached (and the registration pre-checked) before any device is opened
/// or any password asked for.
pub fn run(args: &RegisterArgs, json: bool) -> anyhow::Result<()> {
    // First, while this is the only thread: keys() takes the password out of the environment.
    let (hotkey, coldkey_public, signer) = keys(&args.wallet)?;
    let target = TargetSpec::new(TargetId(0), args.chain.netuid, hotkey);
    let live = Live::connect(
        &args.chain.network,
        args.chain.allow_insecure_ws,
        args.chain.expect_chain,
        args.devnet_block_time,
        args.metrics,
        json,
    )?;
    // Pre-flight at the head, before any device, password prompt or hashing. (Ctrl-C here
    // ends the process at once: nothing has been submitted.)
    let state = live.runtime.block_on(state_at_head(
        &live.connection.client,
        target.netuid,
        &hotkey,
    ))?;
    if let Some(refusal) = state.refusal(target.netuid, &coldkey_public) {
        return Err(Failure::not_achieved(refusal.to_string()).into());
    }
    let coldkey = std::sync::Arc::new(unlock(signer)?);
    let started = live.start(&args.backend)?;

    let mut view = RegisterView::new(json);
    if live.metrics.is_some() {
        view.telemetry = Some(Telemetry::new(
            live.metrics.clone(),
            None,
            started.pool.clone(),
        ));
    }
    view.note(format!(
        "registering hotkey {} on subnet {} of {} with coldkey {} ({})",
        hotkey.to_ss58(42),
        target.netuid,
        regpow_chain::network::redact_url(live.connection.client.url()),
        coldkey_public.to_ss58(42),
        started
            .pool
            .devices()
            .iter()
            .map(|d| format!("{} [{}]", d.name, d.id))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let deadline = args
        .max_seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s));
    let hashes_before = started.pool.hashes();
    let (session, share, cancel) = (started.session, started.share, started.cancel);
    let streams = (started.devices, started.chain, started.head_states);
    let outcome = live.drive(&mut view, streams, |events| {
        register(
            session,
            share,
            regpow_chain::Submitter::new(coldkey),
            target,
            deadline,
            move |event| {
                let _ = events.send(event);
            },
            cancel,
        )
    });
    view.finish(started.pool.hashes().saturating_sub(hashes_before));
    let outcome = outcome.map_err(register_failure)?;
    live.stop();
    report(&target, outcome, &mut view, json)
}

/// Prints the registration (exit 0), or says why there is none (exit 1).
fn report(
    target: &TargetSpec,
    outcome: Outcome,
    view: &mut RegisterView,
    json: bool,
) -> anyhow::Result<()> {
    let elapsed = view.started.elapsed().as_secs_f64();
    let (netuid, hotkey) = (target.netuid, target.hotkey.to_ss58(42));
    let failure = match outcome {
        Outcome::Registered {
            uid,
            block,
            work_block,
        } => {
            if let Some(telemetry) = &mut view.telemetry {
                telemetry.registered(target);
            }
            let block_hash = format!("0x{}", hex::encode(block.hash));
            if json {
                output::json(&json!({
                    "registered": {
                        "netuid": netuid, "uid": uid, "hotkey": hotkey,
                        "block": block.number, "block_hash": block_hash, "work_block": work_block,
                        "seconds": elapsed,
                    }
                }));
            } else {
                output::out!(
                    "registered: netuid {netuid} uid {uid} hotkey {hotkey} in block #{} {block_hash} ({elapsed:.1}s)",
                    block.number,
                );
            }
            return Ok(());
        }
        Outcome::Refused { refused, in_doubt } => {
            format!("{refused}{}", words::in_doubt(in_doubt))
        }
        Outcome::RegisteredElsewhere { uid } => format!(
            "the hotkey became registered on subnet {netuid} (uid {uid}) by another submission \
             of this coldkey (another process, or an earlier run)"
        ),
        Outcome::TimedOut { in_doubt } => {
            let rate = view.hashes as f64 / elapsed.max(1e-9);
            let expected = view.difficulty as f64 / rate.max(1e-9);
            format!(
                "no registration within {}: difficulty {} at {} needs {} on average{}",
                output::human_seconds(elapsed),
                view.difficulty,
                output::rate(rate),
                output::human_seconds(expected),
                words::in_doubt(in_doubt)
            )
        }
        Outcome::Cancelled { in_doubt } => format!(
            "stopped before a registration ({}){}",
            crate::interrupts::stopped_by(),
            words::in_doubt(in_doubt)
        ),
    };
    Err(Failure::not_achieved(failure).into())
}
