//! One job on the device pool, against a deadline: `regpow solve` and `regpow bench`.

use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::backend::{BackendError, Hit, Job, NonceRange};
use crate::pool::{DevicePool, PoolEvent, PoolJob};

/// How a timed search ended, with what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct SolveReport {
    /// The verified hit, or `None` if time or the range ran out.
    pub hit: Option<Hit>,
    /// Whether the range was searched to the end without a hit.
    pub exhausted: bool,
    /// Seals computed.
    pub hashes: u64,
    /// Seals computed per device, in the order of [`DevicePool::devices`].
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

/// Searches `range` for `job` on every device of `pool` until a hit, the end of the range,
/// or `timeout` (none = no limit); the pool is idle again when this returns.
///
/// The pool re-verifies every hit with the reference seal and this checks it once more, so no
/// backend fault can produce a reported seal that the chain would refuse. With several
/// devices the hit is the first found, not necessarily the lowest nonce.
pub fn solve(
    pool: &DevicePool,
    job: &Job,
    range: NonceRange,
    timeout: Option<Duration>,
) -> Result<SolveReport, BackendError> {
    let events = pool.events();
    let before: Vec<u64> = pool.stats().iter().map(|s| s.hashes).collect();
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let generation = pool.assign(vec![PoolJob {
        range: Some(range),
        ..PoolJob::new(*job, 0)
    }]);
    let mut hit = None;
    let mut exhausted = false;
    let mut fault = None;
    loop {
        let wait = deadline.map_or(Duration::from_millis(50), |d| {
            d.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50))
        });
        match events.recv_timeout(wait) {
            Ok(PoolEvent::Hit {
                generation: g,
                hit: found,
                ..
            }) if g == generation => {
                hit = Some(found);
                break;
            }
            Ok(PoolEvent::Fault { reason, .. }) if pool.alive() == 0 => {
                fault = Some(reason);
                break;
            }
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if pool.drained(generation) {
            // Every device has sent its hits before it counts as drained: take any still
            // queued before calling the range exhausted.
            hit = events.try_iter().find_map(|event| match event {
                PoolEvent::Hit {
                    generation: g, hit, ..
                } if g == generation => Some(hit),
                _ => None,
            });
            exhausted = hit.is_none();
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    pool.stop();
    // Seals of the batches still in flight count too (as the time they took).
    pool.settle(Duration::from_secs(10));
    let elapsed = started.elapsed();
    if let Some(reason) = fault {
        return Err(BackendError::Fault(reason));
    }
    if let Some(found) = hit {
        if job.verify(found.nonce) != Some(found) {
            return Err(BackendError::Fault(format!(
                "nonce {} was reported but its seal does not meet the target",
                found.nonce
            )));
        }
    }
    let device_hashes: Vec<u64> = pool
        .stats()
        .iter()
        .zip(&before)
        .map(|(s, b)| s.hashes - b)
        .collect();
    Ok(SolveReport {
        hit,
        exhausted,
        hashes: device_hashes.iter().sum(),
        device_hashes,
        elapsed,
    })
}
