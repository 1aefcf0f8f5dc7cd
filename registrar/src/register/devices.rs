//! The shared devices as one registration uses them: its job (through its [`Lease`]), and
//! the retarget time of each head it moved the devices for. What the devices themselves do
//! (hashrate, faults, stalls) is measured once per process (`crate::device_watch`).

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
    /// The head block and when it was received, by the number of the job it asked for.
    heads: BTreeMap<u64, (u64, Instant)>,
    /// What the lease was last told about readiness.
    ready: Option<bool>,
}

impl Devices {
    /// The registration's view through `lease` (whose events it reads elsewhere).
    pub(crate) fn new(lease: Lease) -> Self {
        Self {
            pool: lease.share().pool().clone(),
            lease,
            heads: BTreeMap::new(),
            ready: None,
        }
    }

    /// Asks for `job` on the devices (each drains its batch first); `head_received` is when
    /// the head that asked for it arrived, for the retarget time. Without one (the same
    /// challenge at a new difficulty), a head whose retarget is still pending is timed on
    /// this job instead, which supersedes its own. A registration the share gives no devices
    /// has no retarget time.
    pub(crate) fn switch(&mut self, job: Job, work_block: u64, head_received: Option<Instant>) {
        let seq = self.lease.set_job(job, work_block);
        let timed = match head_received {
            Some(at) => Some((work_block, at)),
            None => self.heads.pop_last().map(|(_, head)| head),
        };
        if let Some(head) = timed {
            self.heads.insert(seq, head);
            while self.heads.len() > 16 {
                self.heads.pop_first();
            }
        }
    }

    /// Whether the share's last plan gives this registration devices (for any of its jobs,
    /// not necessarily the newest), or the share has not planned with it yet (a new
    /// registration expects devices): its devices move to each new job it sets.
    pub(crate) fn assigned(&self) -> bool {
        self.lease.hashed().unwrap_or(true)
    }

    /// Whether the registration can use a seal now: one that cannot yields its devices to
    /// the other registrations of the share.
    pub(crate) fn ready(&mut self, ready: bool) {
        if self.ready != Some(ready) {
            self.ready = Some(ready);
            self.lease.set_ready(ready);
        }
    }

    /// The chain's block time as the registration measures it (the share plans by it).
    pub(crate) fn block_time(&self, block_time: Duration) {
        self.lease.set_block_time(block_time);
    }

    /// The head block and the retarget time of the newest head-driven job that the
    /// assignment of `generation` covers (the devices retargeted to it at `at`): an
    /// assignment carrying a later job of this registration means every earlier head's
    /// challenge has been left for a newer one.
    pub(crate) fn retargeted(&mut self, generation: u64, at: Instant) -> Option<(u64, Duration)> {
        let (seq, placed_in) = self.lease.placed()?;
        if placed_in > generation {
            return None;
        }
        let mut newest = None;
        while let Some(entry) = self.heads.first_entry() {
            if *entry.key() > seq {
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

    /// The name of device `index` in the pool.
    pub(crate) fn name(&self, index: usize) -> String {
        self.pool
            .devices()
            .get(index)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    }

    /// How many devices are still in the pool.
    pub(crate) fn alive(&self) -> usize {
        self.pool.alive()
    }
}
