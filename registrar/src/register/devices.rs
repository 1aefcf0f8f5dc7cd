//! The shared devices as one registration uses them: its job (through its [`Lease`]), the
//! hits that come back, faults, hash counts since the run began and the stall watchdog.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regpow_solver::{DevicePool, Hit, Job};

use crate::share::Lease;

/// A verified hit with the job (and work block) it belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    /// The job the device searched.
    pub job: Job,
    /// The block whose hash the job is bound to.
    pub work_block: u64,
    /// What the device found.
    pub hit: Hit,
}

/// The shared devices, as one registration drives them.
pub(crate) struct Devices {
    lease: Lease,
    pool: Arc<DevicePool>,
    /// `(id, name)` of every device, in pool order.
    names: Vec<(String, String)>,
    /// Each device's count when the run began (the pool's counters are cumulative).
    baseline: Vec<u64>,
    /// Hash count at the last progress and when it was seen (the stall watchdog), and
    /// whether the stall was reported.
    seen: Vec<(u64, Instant, bool)>,
    /// When the head behind each head-driven assignment was received.
    heads: BTreeMap<u64, (u64, Instant)>,
}

impl Devices {
    /// The registration's view through `lease` (whose events it reads elsewhere).
    pub(crate) fn new(lease: Lease) -> Self {
        let pool = lease.share().pool().clone();
        let names = pool.devices().into_iter().map(|d| (d.id, d.name)).collect();
        let baseline: Vec<u64> = pool.stats().iter().map(|s| s.hashes).collect();
        let now = Instant::now();
        Self {
            seen: baseline.iter().map(|&h| (h, now, false)).collect(),
            baseline,
            names,
            pool,
            lease,
            heads: BTreeMap::new(),
        }
    }

    /// `(id, name)` of device `index`.
    pub(crate) fn name(&self, index: usize) -> (String, String) {
        self.names.get(index).cloned().unwrap_or_default()
    }

    /// Every device's `(id, name)`.
    pub(crate) fn names(&self) -> &[(String, String)] {
        &self.names
    }

    /// Asks for `job` on the devices (each drains its batch first); `head_received` is when
    /// the head that asked for it arrived, for the retarget time. Without one (the same
    /// challenge at a new difficulty), a head whose retarget is still pending is timed on
    /// this assignment instead, which supersedes its own. A registration the share gives no
    /// devices now has no retarget time.
    pub(crate) fn switch(&mut self, job: Job, work_block: u64, head_received: Option<Instant>) {
        let Some(generation) = self.lease.set_job(job, work_block) else {
            self.heads.clear();
            return;
        };
        let timed = match head_received {
            Some(at) => Some((work_block, at)),
            None => self.heads.pop_last().map(|(_, head)| head),
        };
        if let Some(head) = timed {
            self.heads.insert(generation, head);
            while self.heads.len() > 16 {
                self.heads.pop_first();
            }
        }
    }

    /// Whether the registration can use a seal now: one that cannot yields its devices to
    /// the other registrations of the share.
    pub(crate) fn ready(&mut self, ready: bool) {
        self.lease.set_ready(ready);
    }

    /// The chain's block time as the registration measures it (the share plans by it).
    pub(crate) fn block_time(&self, block_time: Duration) {
        self.lease.set_block_time(block_time);
    }

    /// The head block and the retarget time of the newest head-driven assignment that
    /// assignment `generation` covers (a later assignment carries this registration's job
    /// too, so every device hashing it means the head's challenge is being hashed).
    pub(crate) fn retargeted(&mut self, generation: u64, at: Instant) -> Option<(u64, Duration)> {
        let mut newest = None;
        while let Some(entry) = self.heads.first_entry() {
            if *entry.key() > generation {
                break;
            }
            newest = Some(entry.remove());
        }
        let (block, received) = newest?;
        Some((block, at.saturating_duration_since(received)))
    }

    /// Stops hashing for this registration.
    pub(crate) fn stop(&mut self) {
        self.lease.stop();
    }

    /// How many devices are still in the pool.
    pub(crate) fn alive(&self) -> usize {
        self.pool.alive()
    }

    /// Seals computed since the run began, per device.
    pub(crate) fn hashes(&self) -> Vec<u64> {
        self.pool
            .stats()
            .iter()
            .zip(&self.baseline)
            .map(|(s, b)| s.hashes.saturating_sub(*b))
            .collect()
    }

    /// Live devices holding work that have computed nothing for `after`, as `(id, name,
    /// idle)`; each is
    /// named once per stall (again if it recovers and stalls anew).
    pub(crate) fn stalled(&mut self, after: Duration) -> Vec<(String, String, Duration)> {
        let now = Instant::now();
        let mut stalled = Vec::new();
        let stats = self.pool.stats();
        for (index, (stats, seen)) in stats.iter().zip(&mut self.seen).enumerate() {
            let idle = now.duration_since(seen.1);
            if stats.hashes != seen.0 || !stats.busy {
                *seen = (stats.hashes, now, false);
            } else if idle >= after && !seen.2 {
                seen.2 = true;
                let (id, name) = self.names[index].clone();
                stalled.push((id, name, idle));
            }
        }
        stalled
    }
}
