//! What a run records besides its view: Prometheus metrics (`--metrics`) and the journal
//! (`--journal`), both fed from the same event stream as the terminal and `--json`.
//!
//! The journal appends one JSON line per submission, per submission outcome and per
//! target state change, each written and synced to disk before the run goes on, so that a
//! `kill -9` loses nothing that was reported. It is history: on a restart, the chain's
//! state (not the journal) says what is registered.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use regpow_registrar::farm::TargetState;
use regpow_registrar::register::{Event, Progress};
use regpow_solver::DevicePool;
use regpow_rules::PublicKey;
use serde_json::json;

use crate::events::{event_json, target_json};
use crate::failure::Failure;
use crate::metrics::{Metrics, SubmissionOutcome};

/// The append-only journal file.
pub struct Journal {
    file: std::fs::File,
    path: String,
    warned: bool,
}

impl Journal {
    /// Opens `path` for appending (created if missing).
    pub fn open(path: &Path) -> Result<Self, Failure> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Failure::bad_input(format!("--journal {}: {e}", path.display())))?;
        Ok(Self {
            file,
            path: path.display().to_string(),
            warned: false,
        })
    }

    /// Appends `line` with the time, and syncs it to disk. A failure is reported once on
    /// stderr; the run goes on (the chain, not the journal, is the record).
    fn write(&mut self, mut line: serde_json::Value) {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Some(fields) = line.as_object_mut() {
            fields.insert("time".into(), json!(time));
        }
        let mut text = line.to_string();
        text.push('\n');
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            if !self.warned {
                self.warned = true;
                crate::output::err!("warning: writing the journal {}: {e}", self.path);
            }
        }
    }
}

/// Metrics and journal, fed from events.
pub struct Telemetry {
    metrics: Option<Arc<Metrics>>,
    journal: Option<Journal>,
    pool: Arc<DevicePool>,
    /// Submissions in flight per target: the next outcome event of that target labels one.
    pending: HashMap<(u16, [u8; 32]), u32>,
    last_head: Option<Instant>,
}

impl Telemetry {
    /// Records into `metrics` and `journal` (either may be absent).
    pub fn new(
        metrics: Option<Arc<Metrics>>,
        journal: Option<Journal>,
        pool: Arc<DevicePool>,
    ) -> Self {
        Self {
            metrics,
            journal,
            pool,
            pending: HashMap::new(),
            last_head: None,
        }
    }

    fn submission_ended(&mut self, event: &Event, outcome: SubmissionOutcome) -> bool {
        let key = (event.netuid, event.hotkey.0);
        match self.pending.get_mut(&key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                if let Some(m) = &self.metrics {
                    m.submission(outcome);
                }
                true
            }
            _ => false,
        }
    }

    /// One registration event.
    pub fn event(&mut self, event: &Event) {
        let journal_it = match &event.progress {
            Progress::Head {
                number,
                retarget_ms,
                ..
            } => {
                self.last_head = Some(Instant::now());
                if let Some(m) = &self.metrics {
                    m.head(*number);
                    if let Some(ms) = retarget_ms {
                        m.retarget(ms / 1e3);
                    }
                }
                false
            }
            Progress::Hashrate { devices, .. } => {
                if let Some(m) = &self.metrics {
                    let rates: Vec<(String, f64)> =
                        devices.iter().map(|d| (d.id.clone(), d.hashrate)).collect();
                    m.devices(&self.pool.stats(), &rates);
                    if let Some(at) = self.last_head {
                        m.head_lag(at.elapsed().as_secs_f64());
                    }
                }
                false
            }
            Progress::Submitting { .. } => {
                *self
                    .pending
                    .entry((event.netuid, event.hotkey.0))
                    .or_default() += 1;
                true
            }
            Progress::NotRegistered { .. } => {
                self.submission_ended(event, SubmissionOutcome::NotRegistered)
            }
            Progress::StatusLost { .. } => {
                self.submission_ended(event, SubmissionOutcome::StatusLost);
                true
            }
            _ => false,
        };
        if journal_it {
            if let Some(journal) = &mut self.journal {
                journal.write(event_json(event));
            }
        }
    }

    /// A registration was won (by `regpow register`, or a farm target).
    pub fn registered(&mut self, netuid: u16, hotkey: &PublicKey) {
        let event = Event {
            netuid,
            hotkey: *hotkey,
            progress: Progress::Done { hashes: 0 },
        };
        if !self.submission_ended(&event, SubmissionOutcome::Registered) {
            // Learnt from the chain's state after a lost status: still this run's seal.
            if let Some(m) = &self.metrics {
                m.submission(SubmissionOutcome::Registered);
            }
        }
        if let Some(m) = &self.metrics {
            m.registration(netuid);
        }
    }

    /// A farm target's new state (journaled; metrics count states separately).
    pub fn target(&mut self, netuid: u16, hotkey: &PublicKey, state: &TargetState) {
        if matches!(state, TargetState::Registered { .. }) {
            self.registered(netuid, hotkey);
        }
        if let Some(journal) = &mut self.journal {
            journal.write(target_json(netuid, hotkey, state));
        }
    }

    /// The number of targets in each state.
    pub fn target_counts(&self, counts: &[(&str, usize)]) {
        if let Some(m) = &self.metrics {
            m.targets(counts);
        }
    }
}
