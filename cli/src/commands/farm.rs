//! `regpow farm`: register every (hotkey, netuid) target of a plan, on every device, with
//! one chain session and one submitter per coldkey. Exit 0 when every target is registered
//! or waits for a stated reason, 1 when the deadline (or Ctrl-C, or a chain refusal) leaves
//! targets unregistered, 2 for a bad plan, 3 when the chain or the devices are unavailable.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use regpow_registrar::farm::{farm, FarmEvent, FarmOptions, Shard, Target, TargetState, WaitReason};
use regpow_registrar::register::{DeviceRate, Progress};
use regpow_chain::wallet::{protect_process, take_secret_env, Coldkey, Wallet};
use regpow_chain::{Network, Session, Submitter};
use regpow_registrar::DeviceShare;
use regpow_rules::PublicKey;
use serde_json::json;
use zeroize::Zeroizing;

use crate::args::FarmArgs;
use crate::connect::{connect, failure, register_failure};
use crate::events::{event_json, target_json};
use crate::failure::Failure;
use crate::farm_config::{self, ColdkeySource, HotkeySource};
use crate::interrupts::interrupts;
use crate::metrics::{self, Metrics};
use crate::signer::{unlock, Signer, PASSWORD_ENV};
use crate::telemetry::{Journal, Telemetry};
use crate::{backends, output};

/// Every state a target can be in, for the `regpow_targets` gauge (zeros included).
const STATES: [&str; 7] = [
    "running",
    "skipped",
    "refused",
    "registered",
    "already_registered",
    "timed_out",
    "cancelled",
];

/// One target of the plan, resolved.
struct Planned {
    netuid: u16,
    hotkey: PublicKey,
    coldkey: usize,
    weight: u32,
    max_difficulty: Option<u64>,
}

/// A row of the live table.
struct Row {
    netuid: u16,
    hotkey: PublicKey,
    /// `None` until its first state read.
    state: Option<TargetState>,
    difficulty: Option<u64>,
}

/// The live view: a table on a terminal, notes on stderr otherwise, or `--json` lines.
struct View {
    json: bool,
    bar: Option<ProgressBar>,
    rows: Vec<Row>,
    devices: Vec<DeviceRate>,
    total: f64,
    hashes: u64,
    shares: HashMap<(u16, [u8; 32]), f64>,
    last_rate_line: Option<Instant>,
    last_status: Instant,
    submissions: u32,
    started: Instant,
    telemetry: Telemetry,
    /// Device faults and stalls already shown, by (is a fault, device id).
    device_notes: HashMap<(bool, String), Instant>,
}

impl View {
    fn note(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => output::err!("{text}"),
        }
    }

    fn row(&mut self, netuid: u16, hotkey: &PublicKey) -> Option<&mut Row> {
        self.rows
            .iter_mut()
            .find(|r| r.netuid == netuid && r.hotkey == *hotkey)
    }

    fn counts(&self) -> Vec<(&'static str, usize)> {
        STATES
            .iter()
            .map(|s| {
                let count = self
                    .rows
                    .iter()
                    .filter(|r| r.state.as_ref().is_some_and(|state| state.word() == *s))
                    .count();
                (*s, count)
            })
            .collect()
    }

    fn table(&self) -> String {
        let mut lines = vec![format!(
            "{:>6}  {:<14} {:>20} {:>6} {:>10}  state",
            "subnet", "hotkey", "difficulty", "share", "expected"
        )];
        for row in &self.rows {
            let running = row.state == Some(TargetState::Running);
            let share = self
                .shares
                .get(&(row.netuid, row.hotkey.0))
                .copied()
                .filter(|_| running)
                .unwrap_or(0.0);
            let expected = match (row.difficulty, share * self.total) {
                (Some(d), rate) if rate > 0.0 => output::human_seconds(d as f64 / rate),
                _ => "-".into(),
            };
            let address = row.hotkey.to_ss58(42);
            let short = format!("{}…{}", &address[..5], &address[address.len() - 4..]);
            let state = match &row.state {
                None => "checking".to_string(),
                Some(TargetState::Running) if share > 0.0 => "hashing".into(),
                Some(TargetState::Running) => "queued".into(),
                Some(TargetState::Waiting(why)) => format!("skipped: {why}"),
                Some(TargetState::Registered { uid, block, .. }) => {
                    format!("registered: uid {uid} in #{}", block.number)
                }
                Some(other) => describe(other),
            };
            lines.push(format!(
                "{:>6}  {:<14} {:>20} {:>5.0}% {:>10}  {state}",
                row.netuid,
                short,
                row.difficulty.map_or("-".into(), |d| d.to_string()),
                share * 100.0,
                expected,
            ));
        }
        let devices: Vec<String> = self
            .devices
            .iter()
            .map(|d| format!("{} {}", d.id, output::rate(d.hashrate)))
            .collect();
        lines.push(format!(
            "devices: {} · total {}",
            if devices.is_empty() {
                "-".into()
            } else {
                devices.join(", ")
            },
            output::rate(self.total)
        ));
        lines.join("\n")
    }

    fn summary_line(&self) -> String {
        let counts: Vec<String> = self
            .counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {}", s.replace('_', " ")))
            .collect();
        format!("farm: {} · {}", counts.join(", "), output::rate(self.total))
    }

    fn show(&mut self, event: FarmEvent, share: &DeviceShare) {
        match event {
            FarmEvent::Target {
                netuid,
                hotkey,
                state,
            } => {
                self.telemetry.target(netuid, &hotkey, &state);
                if let Some(row) = self.row(netuid, &hotkey) {
                    row.state = Some(state.clone());
                    if let TargetState::Waiting(WaitReason::AboveMax { difficulty, .. }) = state {
                        row.difficulty = Some(difficulty);
                    }
                }
                self.telemetry.target_counts(&self.counts());
                if self.json {
                    output::json(&target_json(netuid, &hotkey, &state));
                    if let TargetState::Registered {
                        uid,
                        block,
                        work_block,
                    } = &state
                    {
                        output::json(&json!({"registered": {
                            "netuid": netuid, "uid": uid, "hotkey": hotkey.to_ss58(42),
                            "block": block.number,
                            "block_hash": format!("0x{}", hex::encode(block.hash)),
                            "work_block": work_block,
                            "seconds": self.started.elapsed().as_secs_f64(),
                        }}));
                    }
                } else {
                    self.note(format!(
                        "subnet {netuid} hotkey {}: {}",
                        hotkey.to_ss58(42),
                        describe(&state)
                    ));
                }
            }
            FarmEvent::Registration(event) => {
                self.telemetry.event(&event);
                match &event.progress {
                    Progress::Head { difficulty, .. } => {
                        let difficulty = *difficulty;
                        if let Some(row) = self.row(event.netuid, &event.hotkey) {
                            row.difficulty = Some(difficulty);
                        }
                        if self.json {
                            output::json(&event_json(&event));
                        }
                    }
                    Progress::Hashrate {
                        devices,
                        total,
                        hashes,
                    } => {
                        // Every registration reports the same pool: shown once a second.
                        self.devices = devices.clone();
                        self.total = *total;
                        self.hashes = *hashes;
                        self.shares = share
                            .shares()
                            .into_iter()
                            .map(|(n, h, f)| ((n, h.0), f))
                            .collect();
                        let due = self
                            .last_rate_line
                            .is_none_or(|at| at.elapsed() >= Duration::from_millis(900));
                        if due {
                            self.last_rate_line = Some(Instant::now());
                            if self.json {
                                output::json(&json!({
                                    "event": "hashrate", "hashrate": total,
                                    "devices": devices.iter().map(|d| json!({"id": d.id, "name": d.name, "hashrate": d.hashrate})).collect::<Vec<_>>(),
                                }));
                            }
                        }
                    }
                    Progress::Done { .. } => {}
                    Progress::DeviceFault { id, .. } | Progress::DeviceStalled { id, .. } => {
                        // Every registration watches the same devices: said once, not once
                        // per target (a stall again after a minute).
                        let key = (
                            matches!(event.progress, Progress::DeviceFault { .. }),
                            id.clone(),
                        );
                        let fresh = self
                            .device_notes
                            .get(&key)
                            .is_none_or(|at| !key.0 && at.elapsed() >= Duration::from_secs(60));
                        if fresh {
                            self.device_notes.insert(key, Instant::now());
                            if self.json {
                                output::json(&event_json(&event));
                            } else if let Some(text) = note_for(&event.progress) {
                                self.note(text);
                            }
                        }
                    }
                    progress => {
                        if matches!(progress, Progress::Submitting { .. }) {
                            self.submissions += 1;
                        }
                        if self.json {
                            output::json(&event_json(&event));
                        } else if let Some(text) = note_for(progress) {
                            self.note(format!(
                                "subnet {} hotkey {}: {text}",
                                event.netuid,
                                event.hotkey.to_ss58(42)
                            ));
                        }
                    }
                }
            }
        }
        match &self.bar {
            Some(bar) => bar.set_message(self.table()),
            None if !self.json && self.last_status.elapsed() >= Duration::from_secs(10) => {
                self.last_status = Instant::now();
                output::err!("{}", self.summary_line());
            }
            None => {}
        }
    }
}

/// A target's state for people.
fn describe(state: &TargetState) -> String {
    match state {
        TargetState::Running => "running".into(),
        TargetState::Waiting(why) => format!("skipped: {why} (checked again every block)"),
        TargetState::Skipped(why) => format!("skipped: {why}"),
        TargetState::Refused(why) => format!("refused: {why}"),
        TargetState::Registered {
            uid,
            block,
            work_block,
        } => format!(
            "registered: uid {uid} in block #{} (work block {work_block})",
            block.number
        ),
        TargetState::AlreadyRegistered { uid } => format!("already registered (uid {uid})"),
        TargetState::TimedOut { .. } => "not registered before the deadline".into(),
        TargetState::Cancelled { .. } => "stopped (Ctrl-C)".into(),
    }
}

/// The line a registration event gets in the text view, if any.
fn note_for(progress: &Progress) -> Option<String> {
    Some(match progress {
        Progress::Submitting { work_block, nonce } => {
            format!("seal found (work block {work_block}, nonce {nonce}): submitting")
        }
        Progress::NotRegistered { reason } => format!("not registered: {reason}"),
        Progress::StatusLost { work_block, reason } => {
            format!("lost the status of the submission with work block {work_block} ({reason})")
        }
        Progress::Discarded { reason } => format!("seal dropped: {reason}"),
        Progress::DeviceFault { device, reason, .. } => format!("device fault: {device}: {reason}"),
        Progress::DeviceStalled { device, idle, .. } => format!(
            "warning: {device} has computed nothing for {}",
            output::human_seconds(idle.as_secs_f64())
        ),
        Progress::Reconnecting { reason, .. } => {
            format!("connection lost ({reason}); reconnecting")
        }
        Progress::Waiting { reason } => reason.clone(),
        _ => return None,
    })
}

/// Prints every plan error but the last, which becomes the exit-2 error.
fn plan_errors(mut errors: Vec<String>) -> Failure {
    let last = errors.pop().unwrap_or_else(|| "the plan is invalid".into());
    for error in errors {
        output::err!("error: {error}");
    }
    Failure::bad_input(last)
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
    for job in &plan.jobs {
        let at = |key: &str| format!("{file}:{}: job[{}].{key}", job.line, job.number);
        let (public, signer) = match &job.coldkey {
            ColdkeySource::Uri(uri) => match Coldkey::from_uri(uri) {
                Ok(key) => (key.public(), Signer::Uri(Box::new(key))),
                Err(e) => {
                    errors.push(format!("{}: {e}", at("coldkey_uri")));
                    continue;
                }
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
                        Signer::Wallet {
                            wallet,
                            password: password.as_ref().map(|p| Zeroizing::new(p.to_string())),
                        },
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
                planned.push((
                    Planned {
                        netuid,
                        hotkey,
                        coldkey,
                        weight: job.weight,
                        max_difficulty: job.max_difficulty,
                    },
                    job.line,
                ));
            }
        }
    }
    let pairs: Vec<(PublicKey, u16, usize)> = planned
        .iter()
        .map(|(p, line)| (p.hotkey, p.netuid, *line))
        .collect();
    errors.extend(farm_config::duplicate_targets(file, &pairs));
    if !errors.is_empty() {
        return Err(errors);
    }
    let planned = planned.into_iter().map(|(p, _)| p).collect();
    Ok((planned, signers.into_iter().map(|(_, s)| s).collect()))
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
    let password =
        take_secret_env(PASSWORD_ENV).map_err(|e| Failure::bad_input(format!("wallet: {e}")))?;
    let file = args.config.display().to_string();
    let plan = farm_config::load(&args.config).map_err(plan_errors)?;

    // Keys: every hotkey's public key and every coldkey's, before any connection.
    let (planned, signers) =
        resolve(&plan, &file, args.allow_insecure_keyfile, &password).map_err(plan_errors)?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let planned: Vec<Planned> = planned
        .into_iter()
        .filter(|p| shard.keeps(&p.hotkey, p.netuid))
        .collect();
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

    let runtime = tokio::runtime::Runtime::new()?;
    let metrics = args.metrics.map(|_| Arc::new(Metrics::new()));
    let connection = runtime.block_on(async {
        if let (Some(addr), Some(m)) = (args.metrics, &metrics) {
            let bound = metrics::serve(addr, m.clone()).await?;
            if !json {
                output::err!("metrics: http://{bound}/metrics");
            }
        }
        connect(&network, args.devnet_block_time).await
    })?;
    let journal = args.journal.as_deref().map(Journal::open).transpose()?;

    // Coldkeys: unlocked once each (a password prompt per encrypted wallet on a terminal).
    let mut submitters = Vec::new();
    for signer in signers {
        submitters.push(Submitter::new(Arc::new(unlock(signer)?)));
    }
    let pool = backends::pool(&args.backend)?;
    let share = DeviceShare::new(pool.clone());
    let targets: Vec<Target> = planned
        .iter()
        .map(|p| Target {
            netuid: p.netuid,
            hotkey: p.hotkey,
            submitter: submitters[p.coldkey].clone(),
            weight: p.weight,
            max_difficulty: p.max_difficulty,
        })
        .collect();

    // From here on each Ctrl-C is a message: the first ends the run once a submission in
    // flight is settled, a second ends it at once.
    let cancel = interrupts(&runtime)?;

    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{msg}").expect("static template"));
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    });
    let view = Arc::new(Mutex::new(View {
        json,
        bar,
        rows: planned
            .iter()
            .map(|p| Row {
                netuid: p.netuid,
                hotkey: p.hotkey,
                state: None,
                difficulty: None,
            })
            .collect(),
        devices: Vec::new(),
        total: 0.0,
        hashes: 0,
        shares: HashMap::new(),
        last_rate_line: None,
        last_status: Instant::now(),
        submissions: 0,
        started: Instant::now(),
        telemetry: Telemetry::new(metrics, journal, pool.clone()),
        device_notes: HashMap::new(),
    }));
    let session = runtime
        .block_on(Session::start(connection.client.clone()))
        .map_err(failure)?;
    let options = FarmOptions {
        max_duration: args.max_seconds.map(Duration::from_secs_f64),
        stall_after: regpow_registrar::register::DEVICE_STALL,
        keep_running: args.keep_running,
    };
    let shown = view.clone();
    let share_for_view = share.clone();
    let finals = runtime.block_on(farm(
        session,
        share,
        targets,
        options,
        move |event| {
            shown
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .show(event, &share_for_view)
        },
        cancel,
    ));
    let view = view.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bar) = &view.bar {
        bar.finish_and_clear();
    }
    let finals = finals.map_err(register_failure)?;
    if let Some(devnet) = connection.devnet {
        runtime.block_on(devnet.stop());
    }
    report(json, &planned, &finals, &view, pool.hashes())
}

/// The summary (a line per target and one overall, or a JSON summary), and the exit:
/// 0 when every target is settled, else 1 saying why.
fn report(
    json: bool,
    planned: &[Planned],
    finals: &[TargetState],
    view: &View,
    hashes: u64,
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
        }}));
    } else {
        for (p, state) in planned.iter().zip(finals) {
            output::out!(
                "subnet {} hotkey {}: {}",
                p.netuid,
                p.hotkey.to_ss58(42),
                describe(state)
            );
        }
        output::err!(
            "summary: {} of {} target(s) registered ({} already), {} seals in {}, {} submission(s)",
            count("registered"),
            finals.len(),
            count("already_registered"),
            hashes,
            output::human_seconds(seconds),
            view.submissions
        );
    }
    let unsettled: Vec<&TargetState> = finals.iter().filter(|s| !s.settled()).collect();
    match unsettled.first() {
        None => Ok(()),
        Some(TargetState::Refused(why)) => {
            Err(Failure::not_achieved(format!("the chain refused a target: {why}")).into())
        }
        Some(TargetState::Cancelled { .. }) => Err(Failure::not_achieved(format!(
            "stopped (Ctrl-C) with {} target(s) unregistered",
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
