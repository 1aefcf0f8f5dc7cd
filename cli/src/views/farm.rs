//! The view of `regpow farm`: a live table of targets on a terminal (state, difficulty,
//! share of the devices, expected time), notes on stderr otherwise, or `--json` lines; and
//! the farm's metrics and journal, fed from the same events. Rows are indexed by target id.
//!
//! Its cost does not grow with the plan per event: the counts by state are kept as states
//! change, `--json` writes one `head` line per head for every target together (from the
//! session's read of the head; a target's own lines only when something happens to it), and
//! the table is drawn at most four times a second, in full for a small plan, else as the
//! active targets and a line per subnet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regpow_chain::HeadState;
use regpow_registrar::farm::{FarmEvent, TargetState, WaitReason};
use regpow_registrar::register::{Progress, TargetEvent};
use regpow_registrar::{DeviceEvent, DeviceRate, DeviceShare, TargetId, TargetSpec};
use serde_json::json;

use super::{EventSink, Screen};
use crate::events::{device_json, discard_kind, event_json, resign_kind, target_json};
use crate::telemetry::Telemetry;
use crate::{output, words};

/// Every state a target can be in, for the `regpow_targets` gauge (zeros included).
pub const STATES: [&str; 7] = [
    "running",
    "skipped",
    "refused",
    "registered",
    "already_registered",
    "timed_out",
    "cancelled",
];

/// Rows the table shows in full; a larger plan shows its active targets (up to this many)
/// and a summary line per subnet.
const FULL_TABLE_ROWS: usize = 24;

/// Shortest time between two draws of the table.
const DRAW_EVERY: Duration = Duration::from_millis(250);

/// A row of the live table: one target.
struct Row {
    target: TargetSpec,
    /// `None` until its first state read.
    state: Option<TargetState>,
    difficulty: Option<u64>,
}

/// What became of the seals the farm's registrations took: submitted (once each, however
/// often signed), signed again after a nonce race or a stranded nonce, and dropped (by why).
#[derive(Debug, Default)]
pub struct SealTally {
    /// Seals submitted at least once.
    pub submitted: u32,
    /// Signatures after the first, over all seals.
    pub resignatures: u32,
    /// Submissions that did not land for a reason not their seal's (the seal was kept), by
    /// `--json`'s word for why.
    pub kept: std::collections::BTreeMap<&'static str, u32>,
    /// Seals dropped, by `--json`'s word for why.
    pub discarded: std::collections::BTreeMap<&'static str, u32>,
}

impl SealTally {
    /// Seals dropped, for any reason.
    pub fn discarded_total(&self) -> u32 {
        self.discarded.values().sum()
    }
}

/// The farm command's view.
pub struct FarmView {
    screen: Screen,
    rows: Vec<Row>,
    share: Arc<DeviceShare>,
    devices: Vec<DeviceRate>,
    total: f64,
    allocations: HashMap<TargetId, f64>,
    /// Targets by state word (kept as states change).
    state_counts: HashMap<&'static str, usize>,
    /// Each subnet's effective difficulty at the newest head read.
    subnet_difficulty: HashMap<u16, u64>,
    last_status: Instant,
    last_draw: Option<Instant>,
    /// Submissions that reached a node (a seal signed again counts again).
    pub submissions: u32,
    /// What became of the seals the registrations took.
    pub seals: SealTally,
    /// When the farm began.
    pub started: Instant,
    telemetry: Telemetry,
}

impl FarmView {
    /// A view of `targets` (in id order) on `share`.
    pub fn new(
        json: bool,
        targets: &[TargetSpec],
        share: Arc<DeviceShare>,
        telemetry: Telemetry,
    ) -> Self {
        Self {
            screen: Screen::new(json, "{msg}", Duration::from_millis(250)),
            rows: targets
                .iter()
                .map(|&target| Row {
                    target,
                    state: None,
                    difficulty: None,
                })
                .collect(),
            share,
            devices: Vec::new(),
            total: 0.0,
            allocations: HashMap::new(),
            state_counts: HashMap::new(),
            subnet_difficulty: HashMap::new(),
            last_status: Instant::now(),
            last_draw: None,
            submissions: 0,
            seals: SealTally::default(),
            started: Instant::now(),
            telemetry,
        }
    }

    fn row(&mut self, id: TargetId) -> Option<&mut Row> {
        self.rows.get_mut(id.0 as usize)
    }

    fn counts(&self) -> Vec<(&'static str, usize)> {
        STATES
            .iter()
            .map(|s| (*s, self.state_counts.get(s).copied().unwrap_or(0)))
            .collect()
    }

    /// Whether a target is worth a row of its own in a large plan's table: it hashes, or
    /// something is happening to it (checking, submitting, refused, just registered).
    fn active(&self, row: &Row) -> bool {
        match &row.state {
            Some(TargetState::Running) => self
                .allocations
                .get(&row.target.id)
                .is_some_and(|s| *s > 0.0),
            None => true,
            Some(TargetState::Refused(_)) => true,
            Some(_) => false,
        }
    }

    fn table(&self) -> String {
        let mut lines = vec![format!(
            "{:>6}  {:<14} {:>20} {:>6} {:>10}  state",
            "subnet", "hotkey", "difficulty", "share", "expected"
        )];
        if self.rows.len() <= FULL_TABLE_ROWS {
            lines.extend(self.rows.iter().map(|row| self.table_row(row)));
        } else {
            let active: Vec<&Row> = self.rows.iter().filter(|r| self.active(r)).collect();
            lines.extend(
                active
                    .iter()
                    .take(FULL_TABLE_ROWS)
                    .map(|row| self.table_row(row)),
            );
            if active.len() > FULL_TABLE_ROWS {
                lines.push(format!("… {} more active", active.len() - FULL_TABLE_ROWS));
            }
            lines.extend(self.subnet_lines());
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

    /// A target's difficulty: its own last report, else its subnet's at the newest head.
    fn difficulty_of(&self, row: &Row) -> Option<u64> {
        row.difficulty
            .or_else(|| self.subnet_difficulty.get(&row.target.netuid).copied())
    }

    /// One line per subnet: its targets by state and its difficulty.
    fn subnet_lines(&self) -> Vec<String> {
        let mut subnets: std::collections::BTreeMap<
            u16,
            (HashMap<&'static str, usize>, Option<u64>),
        > = std::collections::BTreeMap::new();
        for row in &self.rows {
            let entry = subnets.entry(row.target.netuid).or_default();
            let word = row.state.as_ref().map_or("checking", TargetState::word);
            *entry.0.entry(word).or_default() += 1;
            entry.1 = entry.1.or(self.difficulty_of(row));
        }
        subnets
            .into_iter()
            .map(|(netuid, (counts, difficulty))| {
                let states: Vec<String> = std::iter::once("checking")
                    .chain(STATES)
                    .filter_map(|s| {
                        counts
                            .get(s)
                            .map(|n| format!("{n} {}", s.replace('_', " ")))
                    })
                    .collect();
                format!(
                    "subnet {netuid:>5}: {} · difficulty {}",
                    states.join(", "),
                    difficulty.map_or("-".into(), |d| d.to_string())
                )
            })
            .collect()
    }

    fn table_row(&self, row: &Row) -> String {
        let running = row.state == Some(TargetState::Running);
        let share = self
            .allocations
            .get(&row.target.id)
            .copied()
            .filter(|_| running)
            .unwrap_or(0.0);
        let difficulty = self.difficulty_of(row);
        let expected = match (difficulty, share * self.total) {
            (Some(d), rate) if rate > 0.0 => output::human_seconds(d as f64 / rate),
            _ => "-".into(),
        };
        let address = row.target.hotkey.to_ss58(42);
        let short = format!("{}…{}", &address[..5], &address[address.len() - 4..]);
        let state = match &row.state {
            None => "checking".to_string(),
            Some(TargetState::Running) if share > 0.0 => "hashing".into(),
            Some(TargetState::Running) => "queued".into(),
            Some(TargetState::Waiting(why)) => format!("skipped: {}", words::wait_reason(why)),
            Some(TargetState::Registered { uid, block, .. }) => {
                format!("registered: uid {uid} in #{}", block.number)
            }
            Some(other) => words::target_state(other),
        };
        format!(
            "{:>6}  {:<14} {:>20} {:>5.0}% {:>10}  {state}",
            row.target.netuid,
            short,
            difficulty.map_or("-".into(), |d| d.to_string()),
            share * 100.0,
            expected,
        )
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

    /// A target's new state.
    fn on_target(&mut self, target: TargetSpec, state: TargetState) {
        self.telemetry.target(&target, &state);
        if let Some(row) = self.rows.get_mut(target.id.0 as usize) {
            let before = row.state.as_ref().map(TargetState::word);
            row.state = Some(state.clone());
            if let TargetState::Waiting(WaitReason::AboveCap { difficulty, .. }) = state {
                row.difficulty = Some(difficulty);
            }
            if let Some(word) = before {
                if let Some(count) = self.state_counts.get_mut(word) {
                    *count = count.saturating_sub(1);
                }
            }
            *self.state_counts.entry(state.word()).or_default() += 1;
        }
        self.telemetry.target_counts(&self.counts());
        if !self.screen.json {
            self.screen.note(format!(
                "subnet {} hotkey {}: {}",
                target.netuid,
                target.hotkey.to_ss58(42),
                words::target_state(&state)
            ));
            return;
        }
        output::json(&target_json(&target, &state));
        if let TargetState::Registered {
            uid,
            block,
            work_block,
        } = &state
        {
            output::json(&json!({"registered": {
                "netuid": target.netuid, "uid": uid, "hotkey": target.hotkey.to_ss58(42),
                "block": block.number,
                "block_hash": format!("0x{}", hex::encode(block.hash)),
                "work_block": work_block,
                "seconds": self.started.elapsed().as_secs_f64(),
            }}));
        }
    }

    /// One of a registration's events.
    fn on_registration(&mut self, event: TargetEvent) {
        self.telemetry.event(&event);
        match &event.progress {
            Progress::Head { difficulty, .. } => {
                let difficulty = *difficulty;
                if let Some(row) = self.row(event.target.id) {
                    row.difficulty = Some(difficulty);
                }
                // The head itself is said once, from the session's read (`on_head_state`);
                // the retarget time is in the metrics.
                return;
            }
            Progress::Submitting { signature, .. } => {
                self.submissions += 1;
                if *signature == 1 {
                    self.seals.submitted += 1;
                } else {
                    self.seals.resignatures += 1;
                }
            }
            Progress::Resigning { why, .. } => {
                *self.seals.kept.entry(resign_kind(why)).or_default() += 1;
            }
            Progress::Discarded(why) => {
                *self.seals.discarded.entry(discard_kind(why)).or_default() += 1;
            }
            _ => {}
        }
        if self.screen.json {
            output::json(&event_json(&event));
        } else if let Some(text) = words::progress(&event.progress) {
            self.screen.note(format!(
                "subnet {} hotkey {}: {text}",
                event.target.netuid,
                event.target.hotkey.to_ss58(42)
            ));
        }
    }

    /// The `--json` line of a head: every subnet's state and the targets by state, once
    /// per head however many targets there are.
    fn head_json(&self, state: &HeadState) -> serde_json::Value {
        let subnets: Vec<serde_json::Value> = state
            .subnets
            .iter()
            .map(|(netuid, info)| {
                json!({
                    "netuid": netuid,
                    "difficulty": info.effective_difficulty().get(),
                    "full": info.block_is_full(),
                })
            })
            .collect();
        let targets: serde_json::Map<String, serde_json::Value> = self
            .counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        json!({
            "event": "head", "block": state.head.number,
            "hash": format!("0x{}", hex::encode(state.head.hash)),
            "subnets": subnets, "targets": targets,
        })
    }

    /// Redraws the table (at most every [`DRAW_EVERY`]), or says how the farm stands every
    /// 10 s without one.
    fn redraw(&mut self) {
        if self.screen.is_live() {
            if self.last_draw.is_none_or(|at| at.elapsed() >= DRAW_EVERY) {
                self.last_draw = Some(Instant::now());
                self.screen.set_live(self.table());
            }
        } else if !self.screen.json && self.last_status.elapsed() >= Duration::from_secs(10) {
            self.last_status = Instant::now();
            output::err!("{}", self.summary_line());
        }
    }

    /// Clears the live table for good.
    pub fn finish(&self) {
        self.screen.finish();
    }
}

impl EventSink<FarmEvent> for FarmView {
    fn on_event(&mut self, event: FarmEvent) {
        match event {
            FarmEvent::Target { target, state } => self.on_target(target, state),
            FarmEvent::Registration(event) => self.on_registration(event),
        }
        self.redraw();
    }

    fn screen(&self) -> &Screen {
        &self.screen
    }

    fn on_head_state(&mut self, state: Arc<HeadState>) {
        self.telemetry.head(state.head.number);
        for (netuid, info) in &state.subnets {
            self.subnet_difficulty
                .insert(*netuid, info.effective_difficulty().get());
        }
        if self.screen.json {
            output::json(&self.head_json(&state));
        }
        self.redraw();
    }

    fn on_device(&mut self, event: DeviceEvent) {
        self.telemetry.device(&event);
        if self.screen.json {
            output::json(&device_json(&event));
        }
        match event {
            DeviceEvent::Hashrate { devices, total, .. } => {
                (self.devices, self.total) = (devices, total);
                self.allocations = self.share.allocations().into_iter().collect();
            }
            other => {
                if let Some(text) = words::device(&other) {
                    self.screen.note(text);
                }
            }
        }
        self.redraw();
    }
}
