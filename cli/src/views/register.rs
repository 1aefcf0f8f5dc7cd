//! The view of `regpow register`: a live status line (block, difficulty, hashrate, the
//! chance of a seal within a minute), notes for what happens, or `--json` lines, and the
//! summary of what the run cost.

use std::time::{Duration, Instant};

use regpow_registrar::register::{Progress, TargetEvent};
use regpow_registrar::{DeviceEvent, DeviceRate};
use serde_json::json;

use super::{EventSink, Screen};
use crate::events::{device_json, event_json};
use crate::telemetry::Telemetry;
use crate::{output, words};

/// The register command's view.
pub struct RegisterView {
    screen: Screen,
    block: u64,
    /// The latest effective difficulty.
    pub difficulty: u64,
    hashrate: f64,
    devices: Vec<DeviceRate>,
    /// Seals computed since the run began.
    pub hashes: u64,
    submissions: u32,
    /// When the run began.
    pub started: Instant,
    /// `--metrics`, fed from the same events.
    pub telemetry: Option<Telemetry>,
}

impl RegisterView {
    /// A view for a run starting now.
    pub fn new(json: bool) -> Self {
        Self {
            screen: Screen::new(
                json,
                "{spinner} {elapsed} {msg}",
                Duration::from_millis(120),
            ),
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

    /// A line of text above the live line (not with `--json`).
    pub fn note(&self, text: String) {
        self.screen.note(text);
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

    /// Clears the live line and prints what the run cost (`hashes`: the pool's count since
    /// the run began).
    pub fn finish(&mut self, hashes: u64) {
        self.hashes = hashes;
        self.screen.finish();
        let seconds = self.started.elapsed().as_secs_f64();
        let average = self.hashes as f64 / seconds.max(1e-9);
        if self.screen.json {
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

impl EventSink<TargetEvent> for RegisterView {
    fn on_event(&mut self, event: TargetEvent) {
        if let Some(telemetry) = &mut self.telemetry {
            telemetry.event(&event);
        }
        if self.screen.json {
            output::json(&event_json(&event));
        }
        match &event.progress {
            Progress::Head {
                number,
                difficulty,
                full,
                ..
            } => {
                (self.block, self.difficulty) = (*number, *difficulty);
                if *full {
                    self.note(format!(
                        "block #{number} already holds the subnet's registrations; seals wait for the next"
                    ));
                }
                if !self.screen.is_live() && !self.screen.json {
                    output::err!("{}", self.status());
                }
            }
            progress => {
                if matches!(progress, Progress::Submitting { .. }) {
                    self.submissions += 1;
                }
                if let Some(text) = words::progress(progress) {
                    self.note(text);
                }
            }
        }
        self.screen.set_live(self.status());
    }

    fn screen(&self) -> &Screen {
        &self.screen
    }

    fn on_device(&mut self, event: DeviceEvent) {
        if let Some(telemetry) = &mut self.telemetry {
            telemetry.device(&event);
        }
        if self.screen.json {
            output::json(&device_json(&event));
        }
        match event {
            DeviceEvent::Hashrate {
                devices,
                total,
                hashes,
            } => (self.devices, self.hashrate, self.hashes) = (devices, total, hashes),
            other => {
                if let Some(text) = words::device(&other) {
                    self.note(text);
                }
            }
        }
        self.screen.set_live(self.status());
    }
}
