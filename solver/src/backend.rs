//! The interface every search backend implements (CPU now; CUDA and wgpu later).
//!
//! A backend searches a nonce range for one job until it finds a hit, runs out of range,
//! or is told to stop. It counts hashes as it goes so callers can report hashrate, and it
//! must re-verify every hit with [`reference_seal`] before returning it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use thiserror::Error;

use regpow_rules::challenge::{Challenge, Prefix};
use regpow_rules::difficulty::{Difficulty, TargetBound};
use regpow_rules::seal::{reference_seal, Seal};

/// One unit of work: a challenge and the difficulty its seal must meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// What the seal is bound to.
    pub challenge: Challenge,
    /// The 123-byte prefix of `challenge`, computed once.
    pub prefix: Prefix,
    /// The (effective) difficulty.
    pub difficulty: Difficulty,
    /// `U256::MAX / difficulty`.
    pub bound: TargetBound,
}

impl Job {
    /// Prepares a job: the prefix and target bound are derived once here, not per nonce.
    pub fn new(challenge: Challenge, difficulty: Difficulty) -> Self {
        Self {
            challenge,
            prefix: challenge.prefix(),
            difficulty,
            bound: difficulty.bound(),
        }
    }

    /// Re-derives the seal of `nonce` with the reference implementation and returns it as a
    /// hit only if it meets the target. Backends call this on every candidate.
    pub fn verify(&self, nonce: u64) -> Option<Hit> {
        let seal = reference_seal(&self.prefix, nonce);
        seal.meets(&self.bound).then_some(Hit { nonce, seal })
    }
}

/// An inclusive range of nonces, `start..=end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonceRange {
    /// First nonce to try.
    pub start: u64,
    /// Last nonce to try (inclusive, so the range can reach `u64::MAX`).
    pub end: u64,
}

impl NonceRange {
    /// `start..=end`; `None` when `end < start`.
    pub fn new(start: u64, end: u64) -> Option<Self> {
        (start <= end).then_some(Self { start, end })
    }

    /// Every nonce from `start` up to `u64::MAX`.
    pub fn from(start: u64) -> Self {
        Self {
            start,
            end: u64::MAX,
        }
    }

    /// `count` nonces from `start` (at least one), clipped at `u64::MAX`.
    pub fn with_len(start: u64, count: u64) -> Self {
        let end = start.saturating_add(count.max(1) - 1);
        Self { start, end }
    }

    /// Number of nonces in the range (up to 2^64, hence u128).
    pub fn len(&self) -> u128 {
        u128::from(self.end - self.start) + 1
    }

    /// Always false: a range holds at least one nonce.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A nonce whose seal meets the target, verified with the reference seal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The winning nonce.
    pub nonce: u64,
    /// Its seal.
    pub seal: Seal,
}

/// How a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchOutcome {
    /// A verified hit.
    Found(Hit),
    /// Every nonce in the range was tried without a hit.
    Exhausted,
    /// [`SearchControl::stop`] was called before a hit.
    Stopped,
}

/// Most devices one search tracks separately (more are counted in the total only).
pub const MAX_TRACKED_DEVICES: usize = 64;

/// Shared between a running search and whoever watches it: a stop flag and hash counters
/// (in total and per device, for per-device hashrates).
#[derive(Debug)]
pub struct SearchControl {
    stop: AtomicBool,
    /// Stop on its own at this moment (a time slice of a shared device).
    deadline: Option<Instant>,
    hashes: AtomicU64,
    device_hashes: [AtomicU64; MAX_TRACKED_DEVICES],
}

impl Default for SearchControl {
    fn default() -> Self {
        Self {
            stop: AtomicBool::new(false),
            deadline: None,
            hashes: AtomicU64::new(0),
            device_hashes: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl SearchControl {
    /// A fresh control: not stopped, no hashes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh control that also stops by itself at `deadline`.
    pub fn until(deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..Self::default()
        }
    }

    /// Asks the search to stop as soon as it can (within about a millisecond on the CPU).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was requested or the deadline has passed.
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Called by backends as they finish batches (`device` indexes [`Backend::devices`]).
    pub fn add_hashes(&self, device: usize, n: u64) {
        self.hashes.fetch_add(n, Ordering::Relaxed);
        if let Some(counter) = self.device_hashes.get(device) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Seals computed so far by device `device`.
    pub fn device_hashes(&self, device: usize) -> u64 {
        self.device_hashes
            .get(device)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Seals computed so far.
    pub fn hashes(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }
}

/// Hands out consecutive chunks of a nonce range to parallel workers, lowest first.
pub(crate) struct ChunkCursor {
    next: std::sync::Mutex<Option<u64>>,
    end: u64,
}

impl ChunkCursor {
    /// A cursor over `range`.
    pub(crate) fn new(range: NonceRange) -> Self {
        Self {
            next: std::sync::Mutex::new(Some(range.start)),
            end: range.end,
        }
    }

    /// The next chunk of at most `len` nonces, or `None` once the range is handed out.
    pub(crate) fn claim(&self, len: u64) -> Option<NonceRange> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let start = (*next)?;
        let end = NonceRange::with_len(start, len).end.min(self.end);
        *next = end.checked_add(1).filter(|&n| n <= self.end);
        NonceRange::new(start, end)
    }
}

/// A device a backend can search on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    /// Stable id for the life of the process and across runs with the same hardware:
    /// `cpu`, `cuda:<ordinal>`, `wgpu:<adapter index>`. Metrics and events name devices by it.
    pub id: String,
    /// Human-readable name, e.g. `cpu (avx512, 8 threads)`.
    pub name: String,
    /// Device type: `cpu`, `gpu`, ...
    pub kind: String,
    /// Driver or implementation detail.
    pub driver: String,
}

/// Why a backend could not search.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The backend or device asked for does not exist on this machine.
    #[error("{0}")]
    Unavailable(String),
    /// The device failed while searching.
    #[error("device fault: {0}")]
    Fault(String),
}

/// A search backend: one or more devices behind one interface.
pub trait Backend: Send + Sync {
    /// Short name used on the command line (`cpu`, `cuda`, `wgpu`).
    fn name(&self) -> &'static str;

    /// The devices this backend searches on.
    fn devices(&self) -> Vec<DeviceInfo>;

    /// Searches `range` for `job` on device `device` alone (an index into
    /// [`Backend::devices`]) until a verified hit, the end of the range, or a stop, on the
    /// calling thread, adding its hashes to `control` as device 0. This is the only way a
    /// backend searches: the device pool gives each device its own long-lived thread and
    /// calls this there, so one device's fault or panic does not stop the others and a device
    /// never holds two jobs at once. Several devices at once is the pool's job
    /// ([`crate::search::solve`]). A device the backend does not have is
    /// [`BackendError::Unavailable`].
    fn search(
        &self,
        device: usize,
        job: &Job,
        range: NonceRange,
        control: &SearchControl,
    ) -> Result<SearchOutcome, BackendError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_reach_the_top() {
        assert_eq!(NonceRange::from(0).len(), 1u128 << 64);
        assert_eq!(NonceRange::with_len(u64::MAX - 1, 10).end, u64::MAX);
        assert_eq!(NonceRange::with_len(5, 0).len(), 1);
        assert!(NonceRange::new(3, 2).is_none());
    }
}
