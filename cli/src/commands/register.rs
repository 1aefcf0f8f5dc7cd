//! `regpow register`: win a UID slot. Checks everything the chain would refuse before any
//! hashing, then follows the chain and submits the first seal that passes every check.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use regpow_registrar::register::{register, DeviceRate, Event, Outcome, Plan, Progress};
use serde_json::json;

use crate::args::RegisterArgs;
use crate::connect::{connect, failure, register_failure, state_at_head};
use crate::events::event_json;
use crate::failure::Failure;
use crate::interrupts::interrupts;
use crate::metrics::{self, Metrics};
use crate::signer::{keys, unlock};
use crate::telemetry::Telemetry;
use crate::{backends, output};

/// How progress is shown: JSON lines, a live line on a terminal, or plain log lines.
struct View {
    json: bool,
    bar: Option<ProgressBar>,
    block: u64,
    difficulty: u64,
    hashrate: f64,
    devices: Vec<DeviceRate>,
    hashes: u64,
    submissions: u32,
    started: Instant,
    /// `--metrics`, fed from the same events.
    telemetry: Option<Telemetry>,
}

impl View {
    fn new(json: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("static template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            json,
            bar,
            block: 0,
            difficulty: 0,
            hashrate: 0.0,
            devices: Vec::new(),
            hashes: 0,
            submissions: 0,
            started: Instant::now(),
            telemetry: None,
        }
    }

    /// A notable event: a line above the live line, or on stderr.
    fn note(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => output::err!("{text}"),
        }
    }

    fn status(&self) -> String {
        let expected = if self.hashrate > 0.0 {
            self.difficulty as f64 / self.hashrate
        } else {
            f64::INFINITY
        };
        let chance = 1.0 - (-60.0 / expected).exp();
        let per_device = if self.devices.len() > 1 {
            let rates: Vec<String> = self
                .devices
                .iter()
                .map(|d| format!("{} {}", d.name, output::rate(d.hashrate)))
                .collect();
            format!(" ({})", rates.join(", "))
        } else {
            String::new()
        };
        format!(
            "block #{} · difficulty {} · {}{per_device} · expected {} · {:.1}% within a minute",
            self.block,
            self.difficulty,
            output::rate(self.hashrate),
            output::human_seconds(expected),
            100.0 * chance
        )
    }

    fn show(&mut self, event: Event) {
        if let Some(telemetry) = &mut self.telemetry {
            telemetry.event(&event);
        }
        if self.json {
            output::json(&event_json(&event));
        }
        match event.progress {
            Progress::Head {
                number,
                difficulty,
                full,
                ..
            } => {
                self.block = number;
                self.difficulty = difficulty;
                if full && !self.json {
                    self.note(format!(
                        "block #{number} already holds the subnet's registrations; seals wait for the next"
                    ));
                }
                if self.bar.is_none() && !self.json {
                    output::err!("{}", self.status());
                }
            }
            Progress::Hashrate {
                total,
                devices,
                hashes,
            } => {
                self.hashrate = total;
                self.devices = devices;
                self.hashes = hashes;
            }
            Progress::Submitting { work_block, nonce } => {
                self.submissions += 1;
                if !self.json {
                    self.note(format!(
                        "seal found (work block {work_block}, nonce {nonce}): submitting"
                    ));
                }
            }
            Progress::NotRegistered { reason } if !self.json => {
                self.note(format!("not registered: {reason}; solving on"))
            }
            Progress::Discarded { reason } if !self.json => {
                self.note(format!("seal dropped: {reason}"))
            }
            Progress::Reconnecting { reason, retry_in } if !self.json => self.note(format!(
                "connection lost ({reason}); reconnecting in {}",
                humantime::format_duration(retry_in)
            )),
            Progress::Reconnected if !self.json => self.note("reconnected".into()),
            Progress::StatusLost { work_block, reason } if !self.json => self.note(format!(
                "lost the status of the submission with work block {work_block} ({reason}); \
                 the chain's state will tell whether it registered"
            )),
            Progress::Waiting { reason } if !self.json => self.note(reason),
            Progress::DeviceFault { device, reason, .. } if !self.json => {
                self.note(format!("device fault: {device}: {reason}"))
            }
            Progress::DeviceStalled { device, idle, .. } if !self.json => self.note(format!(
                "warning: {device} has computed nothing for {}",
                output::human_seconds(idle.as_secs_f64())
            )),
            Progress::Done { hashes } => self.hashes = hashes,
            _ => {}
        }
        if let Some(bar) = &self.bar {
            bar.set_message(self.status());
        }
    }

    /// Clears the live line and prints what the run cost.
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let average = self.hashes as f64 / seconds.max(1e-9);
        if self.json {
            output::json(&json!({"summary": {
                "seconds": seconds, "hashes": self.hashes, "hashrate": average,
                "submissions": self.submissions,
            }}));
        } else {
            output::err!(
                "summary: {} seals in {} ({} on average), {} seal(s) submitted",
                self.hashes,
                output::human_seconds(seconds),
                output::rate(average),
                self.submissions
            );
        }
    }
}

/// What to say about a submission whose outcome was still unknown at exit.
fn in_doubt_note(in_doubt: Option<u64>) -> String {
    in_doubt
        .map(|block| {
            format!(
                " (the submission with work block {block} may still land: check with `regpow status`)"
            )
        })
        .unwrap_or_default()
}

/// Registers and prints the uid (exit 0); a refusal, the time bound or Ctrl-C is exit 1.
/// The chain is reached (and the registration pre-checked) before any device is opened
/// or any password asked for.
pub fn run(args: &RegisterArgs, json: bool) -> anyhow::Result<()> {
    // First, while this is the only thread: keys() takes the password out of the environment.
    let (hotkey, coldkey_public, signer) = keys(&args.wallet)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let netuid = args.chain.netuid;

    // Pre-flight at the head, before any device, password prompt or hashing. (Ctrl-C here
    // ends the process at once: nothing has been submitted.)
    let connection = runtime.block_on(async {
        let connection = connect(&args.chain.network, args.devnet_block_time).await?;
        let state = state_at_head(&connection.client, netuid, &hotkey).await?;
        if let Some(why) = state.refusal(netuid, &coldkey_public) {
            return Err(Failure::not_achieved(why));
        }
        Ok::<_, Failure>(connection)
    })?;
    let coldkey = Arc::new(unlock(signer)?);
    let pool = backends::pool(&args.backend)?;
    let metrics = match args.metrics {
        Some(addr) => {
            let metrics = Arc::new(Metrics::new());
            let bound = runtime.block_on(metrics::serve(addr, metrics.clone()))?;
            if !json {
                output::err!("metrics: http://{bound}/metrics");
            }
            Some(metrics)
        }
        None => None,
    };

    // From here on each Ctrl-C is a message: the first ends the run once a submission in
    // flight is settled, a second ends it at once.
    let cancel = interrupts(&runtime)?;

    let mut view = View::new(json);
    if metrics.is_some() {
        view.telemetry = Some(Telemetry::new(metrics, None, pool.clone()));
    }
    if !json {
        view.note(format!(
            "registering hotkey {} on subnet {netuid} of {} with coldkey {} ({})",
            hotkey.to_ss58(42),
            regpow_chain::network::redact_url(connection.client.url()),
            coldkey_public.to_ss58(42),
            pool.devices()
                .iter()
                .map(|d| format!("{} [{}]", d.name, d.id))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let plan = Plan {
        netuid,
        hotkey,
        max_duration: args.max_seconds.map(Duration::from_secs_f64),
        stall_after: regpow_registrar::register::DEVICE_STALL,
        weight: 1,
        max_difficulty: None,
    };
    let session = runtime
        .block_on(regpow_chain::Session::start(connection.client.clone()))
        .map_err(failure)?;
    let outcome = runtime.block_on(register(
        session,
        regpow_registrar::DeviceShare::new(pool.clone()),
        regpow_chain::Submitter::new(coldkey),
        plan,
        |event| view.show(event),
        cancel,
    ));
    view.finish();
    let elapsed = view.started.elapsed();
    let outcome = outcome.map_err(register_failure)?;
    if let Some(devnet) = connection.devnet {
        runtime.block_on(devnet.stop());
    }
    match outcome {
        Outcome::Registered {
            netuid,
            uid,
            hotkey,
            block,
            work_block,
        } => {
            if let Some(telemetry) = &mut view.telemetry {
                telemetry.registered(netuid, &hotkey);
            }
            let block_hash = format!("0x{}", hex::encode(block.hash));
            if json {
                output::json(&json!({
                    "registered": {
                        "netuid": netuid, "uid": uid, "hotkey": hotkey.to_ss58(42),
                        "block": block.number, "block_hash": block_hash, "work_block": work_block,
                        "seconds": elapsed.as_secs_f64(),
                    }
                }));
            } else {
                output::out!(
                    "registered: netuid {netuid} uid {uid} hotkey {} in block #{} {block_hash} ({:.1}s)",
                    hotkey.to_ss58(42),
                    block.number,
                    elapsed.as_secs_f64()
                );
            }
            Ok(())
        }
        Outcome::Refused(why) => Err(Failure::not_achieved(why).into()),
        Outcome::RegisteredElsewhere { netuid, uid } => Err(Failure::not_achieved(format!(
            "the hotkey became registered on subnet {netuid} (uid {uid}) by another submission \
             of this coldkey (another process, or an earlier run)"
        ))
        .into()),
        Outcome::TimedOut { hashes, in_doubt } => {
            let rate = hashes as f64 / elapsed.as_secs_f64().max(1e-9);
            let expected = view.difficulty as f64 / rate.max(1e-9);
            Err(Failure::not_achieved(format!(
                "no registration within {}: difficulty {} at {} needs {} on average{}",
                output::human_seconds(elapsed.as_secs_f64()),
                view.difficulty,
                output::rate(rate),
                output::human_seconds(expected),
                in_doubt_note(in_doubt)
            ))
            .into())
        }
        Outcome::Cancelled { in_doubt } => Err(Failure::not_achieved(format!(
            "stopped before a registration (Ctrl-C){}",
            in_doubt_note(in_doubt)
        ))
        .into()),
    }
}
