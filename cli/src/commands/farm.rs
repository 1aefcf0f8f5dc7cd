//! `regpow farm`: register every (hotkey, netuid) target of a plan, on every device, with
//! one chain session and one submitter per coldkey. Exit 0 when every target is registered
//! or waits for a stated reason, 1 when the deadline (or Ctrl-C, or a chain refusal) leaves
//! targets unregistered, 2 for a bad plan, 3 when the chain or the devices are unavailable.
//! Wiring only: the view is `views/farm.rs`, the words `words.rs`.

use std::sync::Arc;
use std::time::Duration;

use regpow_chain::submitter::{SubmitterConfig, SubnetSlots};
use regpow_chain::wallet::{protect_process, Coldkey, Wallet};
use regpow_chain::{Network, Submitter};
use regpow_registrar::farm::{farm, FarmOptions, FarmTarget, Shard, TargetState};
use regpow_registrar::{TargetId, TargetSpec};
use regpow_rules::PublicKey;
use serde_json::json;
use zeroize::Zeroizing;

use crate::args::FarmArgs;
use crate::connect::register_failure;
use crate::failure::Failure;
use crate::farm_config::{self, ColdkeySource, HotkeySource};
use crate::live::Live;
use crate::signer::{unlock, Signer};
use crate::telemetry::{Journal, Telemetry};
use crate::views::farm::{FarmView, STATES};
use crate::{output, words};

/// One target of the plan, resolved: its spec and which of the plan's coldkeys signs it.
struct Planned {
    spec: TargetSpec,
    coldkey: usize,
}

/// Writes `url` and a newline to `path` whole: to a fresh file beside it, then renamed over
/// it, so a reader never sees half a URL and a symlink at `path` is replaced, not followed.
fn write_metrics_url(path: &std::path::Path, url: &str) -> Result<(), Failure> {
    let bad = |e: std::io::Error| {
        Failure::bad_input(format!("--metrics-url-file {}: {e}", path.display()))
    };
    let name = path
        .file_name()
        .ok_or_else(|| bad(std::io::Error::other("names no file")))?;
    let mut fresh_name = std::ffi::OsString::from(".");
    fresh_name.push(name);
    fresh_name.push(format!(".{}", std::process::id()));
    let fresh = path.with_file_name(fresh_name);
    let _ = std::fs::remove_file(&fresh);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&fresh)
        .and_then(|mut file| {
            use std::io::Write;
            file.write_all(format!("{url}\n").as_bytes())
        })
        .and_then(|()| std::fs::rename(&fresh, path))
        .map_err(bad)
}

/// Plan errors printed one per line; past these, the rest are counted (a generated plan
/// with 10,000 duplicates must not bury the terminal).
const PLAN_ERRORS_SHOWN: usize = 20;

/// Prints the first [`PLAN_ERRORS_SHOWN`] plan errors but the last shown, which becomes the
/// exit-2 error (with the count of those not shown).
fn plan_errors(errors: Vec<String>) -> Failure {
    let hidden = errors.len().saturating_sub(PLAN_ERRORS_SHOWN);
    let mut shown: Vec<String> = errors.into_iter().take(PLAN_ERRORS_SHOWN).collect();
    let last = shown.pop().unwrap_or_else(|| "the plan is invalid".into());
    for error in shown {
        output::err!("error: {error}");
    }
    match hidden {
        0 => Failure::bad_input(last),
        n => Failure::bad_input(format!("{last} (and {n} more plan errors not shown)")),
    }
}

/// The plan's targets with their keys: every hotkey's public key and every distinct
/// coldkey's signer (unlocked later), or every problem as one line naming the plan's line.
fn resolve(
    plan: &farm_config::FarmPlan,
    file: &str,
    allow_insecure: bool,
    password: &Option<Zeroizing<String>>,
) -> Result<(Vec<Planned>, Vec<Signer>), Vec<String>> {
    let mut signers: Vec<(PublicKey, Signer)> = Vec::new();
    let mut planned = Vec::new();
    let mut errors = Vec::new();
    // A coldkey is derived once however many jobs name it (deriving takes ~2 ms: a plan of
    // ten thousand one-hotkey jobs would wait 20 s).
    let mut derived: std::collections::HashMap<&str, PublicKey> = std::collections::HashMap::new();
    for job in &plan.jobs {
        let at = |key: &str| format!("{file}:{}: job[{}].{key}", job.line, job.number);
        let (public, signer) = match &job.coldkey {
            ColdkeySource::Uri(uri) => match derived.get(uri.expose()) {
                Some(public) => (*public, None),
                None => match Coldkey::from_uri(uri.expose()) {
                    Ok(key) => {
                        derived.insert(uri.expose(), key.public());
                        (key.public(), Some(Signer::Uri(Box::new(key))))
                    }
                    Err(e) => {
                        errors.push(format!("{}: {e}", at("coldkey_uri")));
                        continue;
                    }
                },
            },
            ColdkeySource::Wallet { root, name } => {
                let wallet =
                    Wallet::new(root, name, "default").allow_insecure_coldkey(allow_insecure);
                let public = wallet
                    .coldkey_public()
                    .and_then(|p| wallet.check_coldkey_permissions().map(|()| p));
                match public {
                    Ok(public) => (
                        public,
                        Some(Signer::Wallet {
                            wallet,
                            password: password.as_ref().map(|p| Zeroizing::new(p.to_string())),
                        }),
                    ),
                    Err(e) => {
                        errors.push(format!("{}: {e}", at("wallet_name")));
                        continue;
                    }
                }
            }
        };
        let coldkey = match signers.iter().position(|(p, _)| *p == public) {
            Some(i) => i,
            None => {
                let signer = signer.expect("a coldkey derived before is among the signers");
                signers.push((public, signer));
                signers.len() - 1
            }
        };
        for hotkey in &job.hotkeys {
            let hotkey = match hotkey {
                HotkeySource::Key(key) => *key,
                HotkeySource::Wallet(name) => {
                    let (root, wallet) = job
                        .wallet
                        .as_ref()
                        .expect("checked: wallet_hotkeys needs wallet_name");
                    match Wallet::new(root, wallet, name).hotkey_public() {
                        Ok(key) => key,
                        Err(e) => {
                            errors.push(format!("{}: {e}", at("wallet_hotkeys")));
                            continue;
                        }
                    }
                }
            };
            for &netuid in &job.netuids {
                let spec = TargetSpec {
                    weight: job.weight,
                    difficulty_cap: job.max_difficulty,
                    // Numbered once the shard is known.
                    ..TargetSpec::new(TargetId(0), netuid, hotkey)
                };
                planned.push((Planned { spec, coldkey }, job.line));
            }
        }
    }
    let pairs: Vec<(PublicKey, u16, usize)> = planned
        .iter()
        .map(|(p, line)| (p.spec.hotkey, p.spec.netuid, *line))
        .collect();
    errors.extend(farm_config::duplicate_targets(file, &pairs));
    if !errors.is_empty() {
        return Err(errors);
    }
    let planned = planned.into_iter().map(|(p, _)| p).collect();
    Ok((planned, signers.into_iter().map(|(_, s)| s).collect()))
}

/// The targets of `shard`, numbered in plan order: a target's id is its place among them.
fn shard_of(planned: Vec<Planned>, shard: Shard) -> Vec<Planned> {
    planned
        .into_iter()
        .filter(|p| shard.keeps(&p.spec.hotkey, p.spec.netuid))
        .enumerate()
        .map(|(id, p)| Planned {
            spec: TargetSpec {
                id: TargetId(u32::try_from(id).expect("fewer than 2^32 targets")),
                ..p.spec
            },
            ..p
        })
        .collect()
}

/// Runs the farm.
pub fn run(args: &FarmArgs, json: bool) -> anyhow::Result<()> {
    // First, while this is the only thread: no core dumps, the password out of the
    // environment.
    protect_process().map_err(|e| {
        Failure::unavailable(format!(
            "cannot turn core dumps off before loading coldkeys: {e}"
        ))
    })?;
    let password = crate::signer::password(args.allow_insecure_keyfile)?;
    let file = args.config.display().to_string();
    let plan = farm_config::load(&args.config, args.allow_insecure_keyfile).map_err(plan_errors)?;

    // Keys: every hotkey's public key and every coldkey's, before any connection.
    let (planned, signers) =
        resolve(&plan, &file, args.allow_insecure_keyfile, &password).map_err(plan_errors)?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let planned = shard_of(planned, shard);
    let network = match (&args.network, &plan.network) {
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => Network::parse("finney").expect("a known network"),
    };
    if !json {
        output::err!(
            "farm: {} target(s){} on {}",
            planned.len(),
            if shard == Shard::ALL {
                String::new()
            } else {
                format!(" in shard {}/{}", shard.index, shard.count)
            },
            regpow_chain::network::redact_url(&network.to_string())
        );
    }

    let live = Live::connect(
        &network,
        args.allow_insecure_ws,
        args.expect_chain.or(plan.expect_chain),
        args.devnet_block_time,
        args.metrics,
        json,
    )?;
    if let (Some(path), Some(url)) = (&args.metrics_url_file, &live.metrics_url) {
        write_metrics_url(path, url)?;
    }
    let journal = args.journal.as_deref().map(Journal::open).transpose()?;
    // Coldkeys: unlocked once each (a password prompt per encrypted wallet on a terminal).
    let mut submitters = Vec::new();
    let slots = SubnetSlots::default();
    for signer in signers {
        let config = SubmitterConfig {
            in_flight: args.in_flight,
            ..SubmitterConfig::default()
        };
        let coldkey = Arc::new(unlock(signer)?);
        submitters.push(Submitter::with_config(coldkey, config, slots.clone()));
    }
    let started = live.start(&args.backend)?;
    let specs: Vec<TargetSpec> = planned.iter().map(|p| p.spec).collect();
    let targets: Vec<FarmTarget> = planned
        .iter()
        .map(|p| FarmTarget {
            spec: p.spec,
            submitter: submitters[p.coldkey].clone(),
        })
        .collect();
    let telemetry = Telemetry::new(live.metrics.clone(), journal, started.pool.clone());
    let mut view = FarmView::new(json, &specs, started.share.clone(), telemetry);
    let options = FarmOptions {
        max_duration: args.max_seconds.map(Duration::from_secs_f64),
        keep_running: args.keep_running,
    };
    let hashes_before = started.pool.hashes();
    let found_before = seals_found(&started.pool);
    let (session, share, cancel) = (started.session, started.share, started.cancel);
    let streams = (started.devices, started.chain, started.head_states);
    let finals = live.drive(&mut view, streams, |events| {
        farm(
            session,
            share,
            targets,
            options,
            move |event| {
                let _ = events.send(event);
            },
            cancel,
        )
    });
    view.finish();
    let finals = finals.map_err(register_failure)?;
    let hashes = started.pool.hashes().saturating_sub(hashes_before);
    let found = seals_found(&started.pool).saturating_sub(found_before);
    live.stop();
    report(json, &specs, &finals, &view, (hashes, found))
}

/// Seals the devices found (re-verified on the CPU), over the pool's life.
fn seals_found(pool: &regpow_solver::DevicePool) -> u64 {
    pool.stats().iter().map(|s| s.seals_found).sum()
}

/// The summary (a line per target and one overall, or a JSON summary), and the exit:
/// 0 when every target is settled, else 1 saying why.
fn report(
    json: bool,
    targets: &[TargetSpec],
    finals: &[TargetState],
    view: &FarmView,
    (hashes, found): (u64, u64),
) -> anyhow::Result<()> {
    let seconds = view.started.elapsed().as_secs_f64();
    let count = |word: &str| finals.iter().filter(|s| s.word() == word).count();
    if json {
        let mut by_state = serde_json::Map::new();
        for state in STATES {
            by_state.insert(state.into(), json!(count(state)));
        }
        output::json(&json!({"summary": {
            "targets": finals.len(), "states": by_state, "seconds": seconds,
            "hashes": hashes, "hashrate": hashes as f64 / seconds.max(1e-9),
            "submissions": view.submissions,
            "seals": {
                "found": found, "submitted": view.seals.submitted,
                "resignatures": view.seals.resignatures, "kept": view.seals.kept,
                "discarded": view.seals.discarded,
            },
        }}));
    } else {
        for (target, state) in targets.iter().zip(finals) {
            output::out!(
                "subnet {} hotkey {}: {}",
                target.netuid,
                target.hotkey.to_ss58(42),
                words::target_state(state)
            );
        }
        output::err!(
            "summary: {} of {} target(s) registered ({} already), {} hashes in {}, {} submission(s)",
            count("registered"),
            finals.len(),
            count("already_registered"),
            hashes,
            output::human_seconds(seconds),
            view.submissions
        );
        output::err!("seals: {}", words::seal_tally(found, &view.seals));
    }
    let unsettled: Vec<&TargetState> = finals.iter().filter(|s| !s.settled()).collect();
    match unsettled.first() {
        None => Ok(()),
        Some(TargetState::Refused(why)) => {
            Err(Failure::not_achieved(format!("the chain refused a target: {why}")).into())
        }
        Some(TargetState::Cancelled { .. }) => Err(Failure::not_achieved(format!(
            "stopped ({}) with {} target(s) unregistered",
            crate::interrupts::stopped_by(),
            unsettled.len()
        ))
        .into()),
        Some(_) => Err(Failure::not_achieved(format!(
            "{} target(s) not registered before the deadline",
            unsettled.len()
        ))
        .into()),
    }
}
