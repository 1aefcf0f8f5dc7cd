//! What a run records besides its view: Prometheus metrics (`--metrics`) and the journal
//! (`--journal`), both fed from the same event stream as the terminal and `--json`.
//!
//! The journal appends one JSON line per submission (once a node has it), per submission
//! outcome, per seal signed again or dropped and per target state change, each written and synced to disk before the run goes on, so that a
//! `kill -9` loses nothing that was reported. It is history: on a restart, the chain's
//! state (not the journal) says what is registered.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use regpow_registrar::farm::TargetState;
use regpow_registrar::register::{NotRegistered, Progress, TargetEvent};
use regpow_registrar::{DeviceEvent, TargetSpec};
use regpow_solver::DevicePool;
use serde_json::json;

use crate::events::{event_json, target_json};
use crate::failure::Failure;
use crate::metrics::{Metrics, SubmissionEnd};

/// The append-only journal file.
pub struct Journal {
    file: std::fs::File,
    path: String,
    warned: bool,
}

impl Journal {
    /// Opens `path` for appending (created if missing, readable by the user alone: it
    /// names hotkeys, coldkeys and what they did). Never through a symlink (another user who
    /// can write the folder must not make regpow append to a file of their choosing), and
    /// only a regular file.
    pub fn open(path: &Path) -> Result<Self, Failure> {
        let bad = |e: String| Failure::bad_input(format!("--journal {}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let mut file = options.open(path).map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return bad("is a symbolic link; give the file itself".into());
            }
            bad(e.to_string())
        })?;
        let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        if let Some(torn) = torn_tail(&file, meta.len()).map_err(|e| bad(e.to_string()))? {
            // A crash mid-write left a line without its end: the next line would be glued to
            // it. End it, so every later line is whole JSON again, and say where it was.
            file.write_all(b"\n")
                .and_then(|()| file.sync_data())
                .map_err(|e| bad(e.to_string()))?;
            crate::output::err!(
                "warning: --journal {}: its last line was torn ({} bytes at byte {}, not \
                 JSON); the journal goes on from the next line",
                path.display(),
                torn.len,
                torn.at
            );
        }
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

/// A last line without its newline: where it starts and how long it is.
#[derive(Debug, PartialEq, Eq)]
struct TornLine {
    at: u64,
    len: u64,
}

/// The journal's last line if it was torn (the file does not end with a newline). Only the
/// tail is read: a line is far shorter than [`TORN_SCAN`].
fn torn_tail(file: &std::fs::File, len: u64) -> std::io::Result<Option<TornLine>> {
    use std::os::unix::fs::FileExt;
    if len == 0 {
        return Ok(None);
    }
    let start = len.saturating_sub(TORN_SCAN);
    let mut tail = vec![0u8; (len - start) as usize];
    file.read_exact_at(&mut tail, start)?;
    if tail.last() == Some(&b'\n') {
        return Ok(None);
    }
    let at = match tail.iter().rposition(|&b| b == b'\n') {
        Some(newline) => start + newline as u64 + 1,
        None => start,
    };
    Ok(Some(TornLine { at, len: len - at }))
}

/// How much of a journal's end is read to find a torn line's start.
const TORN_SCAN: u64 = 1 << 20;

/// Metrics and journal, fed from the typed events: each submission is counted once, by the
/// event that ends it.
pub struct Telemetry {
    metrics: Option<Arc<Metrics>>,
    journal: Option<Journal>,
    pool: Arc<DevicePool>,
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
            last_head: None,
        }
    }

    fn count(&self, outcome: SubmissionEnd) {
        if let Some(m) = &self.metrics {
            m.submission(outcome);
        }
    }

    /// A new head whose subnets' state the session has read.
    pub fn head(&mut self, number: u64) {
        self.last_head = Some(Instant::now());
        if let Some(m) = &self.metrics {
            m.head(number);
        }
    }

    /// One registration event. Submissions (once the node has them), their outcomes, seals
    /// signed again and seals dropped are journaled; a submission that ends without
    /// registering counts as `not_registered`, one whose seal is signed again by why
    /// (`nonce_race`, `block_full`, …), one whose status was lost as `status_lost` (its later
    /// settlement is journaled, not counted again). Nothing that never reached a node is.
    pub fn event(&mut self, event: &TargetEvent) {
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
            Progress::Submitting { .. } => true,
            // Nothing reached a node: no submission to count or journal.
            Progress::NotRegistered(NotRegistered::NotSent { .. }) => false,
            Progress::NotRegistered(why) => {
                if !why.settles_doubt() {
                    self.count(SubmissionEnd::NotRegistered);
                }
                true
            }
            Progress::Resigning { why, .. } => {
                self.count(SubmissionEnd::Resigned(crate::events::resign_kind(why)));
                true
            }
            Progress::Discarded(why) => {
                if let Some(m) = &self.metrics {
                    m.seal_discarded(crate::events::discard_kind(why));
                }
                true
            }
            Progress::StatusLost { .. } => {
                self.count(SubmissionEnd::StatusLost);
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

    /// One device event: the devices' counters and rates, and how long since the last head.
    pub fn device(&mut self, event: &DeviceEvent) {
        let (Some(m), DeviceEvent::Hashrate { devices, .. }) = (&self.metrics, event) else {
            return;
        };
        let rates: Vec<(String, f64)> =
            devices.iter().map(|d| (d.id.clone(), d.hashrate)).collect();
        m.devices(&self.pool.stats(), &rates);
        if let Some(at) = self.last_head {
            m.head_lag(at.elapsed().as_secs_f64());
        }
    }

    /// A registration was won with this run's seal (by `regpow register`, or a farm target),
    /// whether its submission's status arrived or the chain's state told.
    pub fn registered(&mut self, target: &TargetSpec) {
        self.count(SubmissionEnd::Registered);
        if let Some(m) = &self.metrics {
            m.registration(target.netuid);
        }
    }

    /// A farm target's new state (journaled; metrics count states separately).
    pub fn target(&mut self, target: &TargetSpec, state: &TargetState) {
        if matches!(state, TargetState::Registered { .. }) {
            self.registered(target);
        }
        if let Some(journal) = &mut self.journal {
            journal.write(target_json(target, state));
        }
    }

    /// The number of targets in each state.
    pub fn target_counts(&self, counts: &[(&str, usize)]) {
        if let Some(m) = &self.metrics {
            m.targets(counts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regpow_chain::PoolRefusal;
    use regpow_registrar::register::{Discard, NotRegistered, ReadFailure, Resign};
    use regpow_registrar::TargetId;
    use regpow_rules::PublicKey;

    fn event(progress: Progress) -> TargetEvent {
        TargetEvent {
            target: TargetSpec::new(TargetId(2), 3, PublicKey([4; 32])),
            progress,
        }
    }

    /// A journal whose last line a crash tore goes on from a fresh line: the torn line is
    /// found (where and how long), and every line written after it is whole JSON.
    #[test]
    fn a_torn_last_line_is_ended_and_the_journal_goes_on_from_the_next() {
        let dir = std::env::temp_dir().join(format!("regpow-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.jsonl");
        let whole = "{\"kind\":\"submitted\"}\n";
        std::fs::write(&path, format!("{whole}{{\"kind\":\"regis")).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        assert_eq!(
            torn_tail(&file, len).unwrap(),
            Some(TornLine {
                at: whole.len() as u64,
                len: 14
            })
        );
        let mut journal = Journal::open(&path).unwrap();
        journal.write(json!({ "kind": "after" }));
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(lines[1]).is_err());
        let after: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(after["kind"], "after");
        // Whole now: opening it again changes nothing.
        let file = std::fs::File::open(&path).unwrap();
        assert_eq!(torn_tail(&file, text.len() as u64).unwrap(), None);
        assert_eq!(torn_tail(&file, 0).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_submission_is_counted_once_by_the_event_that_ends_it() {
        let path = std::env::temp_dir().join(format!("regpow-journal-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let metrics = Arc::new(Metrics::new());
        let pool = Arc::new(DevicePool::new(Vec::new()));
        let journal = Journal::open(&path).unwrap();
        let mut telemetry = Telemetry::new(Some(metrics.clone()), Some(journal), pool);
        let lost = "the connection dropped".to_string();
        for progress in [
            Progress::Submitting {
                work_block: 5,
                nonce: 1,
                signer_nonce: 0,
                signature: 1,
            },
            // A failed read while the submission is in flight is not its outcome.
            Progress::ReadFailed(ReadFailure::State("timed out".into())),
            Progress::NotRegistered(NotRegistered::Refused(PoolRefusal::Custom(255))),
            Progress::Submitting {
                work_block: 6,
                nonce: 2,
                signer_nonce: 1,
                signature: 1,
            },
            Progress::StatusLost {
                work_block: 6,
                reason: lost,
            },
            // Its settlement later is journaled, not counted a second time.
            Progress::NotRegistered(NotRegistered::Expired { work_block: 6 }),
            // Nothing reached a node: neither counted nor journaled.
            Progress::NotRegistered(NotRegistered::NotSent {
                error: "no answer".into(),
            }),
            Progress::Submitting {
                work_block: 7,
                nonce: 3,
                signer_nonce: 2,
                signature: 1,
            },
            // A nonce race ends the submission, not the seal.
            Progress::Resigning {
                work_block: 7,
                why: Resign::NonceRace("Priority is too low".into()),
            },
            Progress::Discarded(Discard::OutsideWindow {
                work_block: 7,
                checked_at: 13,
            }),
        ] {
            telemetry.event(&event(progress));
        }
        let text = metrics.encode();
        assert!(text.contains("regpow_submissions_total{outcome=\"not_registered\"} 1"));
        assert!(text.contains("regpow_submissions_total{outcome=\"status_lost\"} 1"));
        assert!(text.contains("regpow_submissions_total{outcome=\"nonce_race\"} 1"));
        assert!(text.contains("regpow_seals_discarded_total{reason=\"outside_window\"} 1"));
        assert!(!text.contains("outcome=\"registered\""), "{text}");
        let journal = std::fs::read_to_string(&path).unwrap();
        let kinds: Vec<String> = journal
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "\"submitting\"",
                "\"not_registered\"",
                "\"submitting\"",
                "\"status_lost\"",
                "\"not_registered\"",
                "\"submitting\"",
                "\"resigning\"",
                "\"discarded\""
            ]
        );
        assert!(journal.lines().all(|l| l.contains("\"target\":2")));
        std::fs::remove_file(&path).unwrap();
    }
}
