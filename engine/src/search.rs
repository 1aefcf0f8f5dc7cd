//! Running a backend against a deadline: `regpow solve` and benchmarks use this.

use std::time::{Duration, Instant};

use crate::backend::{Backend, BackendError, Hit, Job, NonceRange, SearchControl, SearchOutcome};

/// How a timed search ended, with what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct SolveReport {
    /// The verified hit, or `None` if time or the range ran out.
    pub hit: Option<Hit>,
    /// Whether the range was searched to the end without a hit.
    pub exhausted: bool,
    /// Seals computed.
    pub hashes: u64,
    /// Seals computed per device, in the order of [`Backend::devices`].
    pub device_hashes: Vec<u64>,
    /// Wall time spent.
    pub elapsed: Duration,
}

impl SolveReport {
    /// Seals per second over the whole search.
    pub fn hashrate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.hashes as f64 / secs
        } else {
            0.0
        }
    }
}

/// Searches `range` with `backend` until a hit or `timeout` (none = no limit).
///
/// The hit is re-verified here with the reference seal, independently of the backend, so
/// no backend fault can produce a reported seal that the chain would refuse.
pub fn solve(
    backend: &dyn Backend,
    job: &Job,
    range: NonceRange,
    timeout: Option<Duration>,
) -> Result<SolveReport, BackendError> {
    let control = SearchControl::new();
    let started = Instant::now();
    let outcome = std::thread::scope(|scope| {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        if let Some(limit) = timeout {
            let control = &control;
            scope.spawn(move || {
                // Either the search finishes (sender dropped) or the deadline passes.
                if done_rx.recv_timeout(limit).is_err() {
                    control.stop();
                }
            });
        }
        let outcome = backend.search(job, range, &control);
        drop(done_tx);
        outcome
    })?;
    let elapsed = started.elapsed();
    let hit = match outcome {
        SearchOutcome::Found(hit) => {
            let verified = job.verify(hit.nonce);
            if verified != Some(hit) {
                return Err(BackendError::Fault(format!(
                    "{} backend reported nonce {} but its seal does not meet the target",
                    backend.name(),
                    hit.nonce
                )));
            }
            Some(hit)
        }
        SearchOutcome::Exhausted | SearchOutcome::Stopped => None,
    };
    Ok(SolveReport {
        hit,
        exhausted: outcome == SearchOutcome::Exhausted,
        hashes: control.hashes(),
        device_hashes: (0..backend.devices().len())
            .map(|d| control.device_hashes(d))
            .collect(),
        elapsed,
    })
}
