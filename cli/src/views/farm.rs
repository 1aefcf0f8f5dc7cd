//! The view of `regpow farm`: a live table of targets on a terminal (state, difficulty,
//! share of the devices, expected time), notes on stderr otherwise, or `--json` lines; and
//! the farm's metrics and journal, fed from the same events. Rows are indexed by target id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    last_status: Instant,
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
            last_status: Instant::now(),
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
            lines.push(self.table_row(row));
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

    fn table_row(&self, row: &Row) -> String {
        let running = row.state == Some(TargetState::Running);
        let share = self
            .allocations
            .get(&row.target.id)
            .copied()
            .filter(|_| running)
            .unwrap_or(0.0);
        let expected = match (row.difficulty, share * self.total) {
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
            row.difficulty.map_or("-".into(), |d| d.to_string()),
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
        if let Some(row) = self.row(target.id) {
            row.state = Some(state.clone());
            if let TargetState::Waiting(WaitReason::AboveCap { difficulty, .. }) = state {
                row.difficulty = Some(difficulty);
            }
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

    /// Redraws the table, or says how the farm stands every 10 s without one.
    fn redraw(&mut self) {
        if self.screen.is_live() {
            self.screen.set_live(self.table());
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
