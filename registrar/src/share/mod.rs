//! The device pool shared by every registration of a process.
//!
//! A [`DeviceShare`] owns the process's [`DevicePool`]; each registration holds a [`Lease`]
//! on it. A lease says what its registration would hash (its job), whether it can use a seal
//! now, and its limits; the share turns all of them into one pool assignment with
//! [`policy::allocate`] when any of them changes, and routes the pool's events back: hits to
//! the lease whose target id the job carries as its tag, retarget times to the leases the
//! assignment carries, faults to all.
//!
//! The assignment is planned on the share's own thread, once per burst of changes: at a new
//! head every registration of a farm changes its job within a few milliseconds, and planning
//! (and retargeting the devices) once for all of them, not once per lease, keeps the cost
//! per head linear in the plan. A quiet share plans a change at once.
//! `regpow register` is a share with one lease; `regpow farm` has one per target.

pub mod policy;

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use regpow_solver::{DevicePool, PoolEvent, PoolJob};
use tokio::sync::mpsc;

use crate::target::{TargetId, TargetSpec};

use policy::Candidate;

/// One lease as the share keeps it.
struct HeldLease {
    target: TargetSpec,
    job: Option<PoolJob>,
    /// Counts the jobs set on this lease.
    job_seq: u64,
    /// The newest job (by `job_seq`) an assignment carried, and that assignment's generation.
    placed: Option<(u64, u64)>,
    /// Whether the assignment in force carries one of this lease's jobs (`None` until the
    /// share has planned with the lease).
    hashed: Option<bool>,
    ready: bool,
    events: mpsc::UnboundedSender<PoolEvent>,
}

impl HeldLease {
    /// Whether a pool job is this lease's (jobs carry their target's id as their tag).
    fn owns(&self, job: &PoolJob) -> bool {
        job.tag == self.target.id.tag()
    }
}

/// The pool's rate, measured from its cumulative counters.
struct RateMeter {
    last: Option<(u64, Instant)>,
    rate: f64,
}

impl RateMeter {
    /// Smallest interval between two samples.
    const INTERVAL: Duration = Duration::from_millis(500);

    fn sample(&mut self, hashes: u64) -> f64 {
        let now = Instant::now();
        match self.last {
            None => self.last = Some((hashes, now)),
            Some((before, at)) if now.duration_since(at) >= Self::INTERVAL => {
                let rate =
                    hashes.saturating_sub(before) as f64 / now.duration_since(at).as_secs_f64();
                self.rate = if self.rate == 0.0 {
                    rate
                } else {
                    0.7 * self.rate + 0.3 * rate
                };
                self.last = Some((hashes, now));
            }
            Some(_) => {}
        }
        self.rate
    }
}

struct Inner {
    leases: BTreeMap<u64, HeldLease>,
    next_id: u64,
    /// The jobs (with weights) of the last assignment and its generation.
    assigned: (Vec<PoolJob>, u64),
    rate: RateMeter,
    block_secs: f64,
}

/// Shortest time between two plans while changes keep coming (longer when planning itself
/// takes long: see [`Planner`]).
const PLAN_EVERY: Duration = Duration::from_millis(2);

/// While changes keep coming, the planner waits this many times as long as its last plan
/// took (at least [`PLAN_EVERY`]): with ten thousand leases a plan takes about a
/// millisecond, and the changes of one head arrive over a hundred or so, so the planner
/// spends at most a ninth of that time planning rather than a fifth.
const PLAN_GAP_FACTOR: u32 = 8;

/// Wakes the share's planning thread.
#[derive(Default)]
struct Planner {
    /// A change waits to be planned; `closed` once the share is gone.
    state: Mutex<(bool, bool)>,
    wake: Condvar,
}

impl Planner {
    fn request(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !state.0 {
            state.0 = true;
            self.wake.notify_one();
        }
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.wake.notify_one();
    }

    /// Waits for a change; false once closed.
    fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !state.0 && !state.1 {
            state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.0 = false;
        !state.1
    }
}

/// The pool, shared by leases. See the module documentation.
pub struct DeviceShare {
    pool: Arc<DevicePool>,
    inner: Arc<Mutex<Inner>>,
    planner: Arc<Planner>,
}

impl Drop for DeviceShare {
    fn drop(&mut self) {
        self.planner.close();
    }
}

impl DeviceShare {
    /// Takes over `pool` (nothing else should assign it from now on).
    pub fn new(pool: Arc<DevicePool>) -> Arc<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            leases: BTreeMap::new(),
            next_id: 0,
            assigned: (Vec::new(), 0),
            rate: RateMeter {
                last: None,
                rate: 0.0,
            },
            block_secs: 12.0,
        }));
        let routes: Weak<Mutex<Inner>> = Arc::downgrade(&inner);
        pool.subscribe(move |event| {
            let Some(inner) = routes.upgrade() else {
                return false;
            };
            let inner = inner.lock().unwrap_or_else(|p| p.into_inner());
            match event {
                PoolEvent::Hit { job, .. } => {
                    if let Some(held) = inner.leases.values().find(|h| h.owns(job)) {
                        let _ = held.events.send(event.clone());
                    }
                }
                PoolEvent::Exhausted { .. } => {}
                // A retarget matters to the leases the assignment carries (their retarget
                // time); the others are not hashed.
                PoolEvent::Retargeted { .. } => {
                    for held in inner.leases.values() {
                        if inner.assigned.0.iter().any(|job| held.owns(job)) {
                            let _ = held.events.send(event.clone());
                        }
                    }
                }
                PoolEvent::Fault { .. } => {
                    for held in inner.leases.values() {
                        let _ = held.events.send(event.clone());
                    }
                }
            }
            true
        });
        let planner = Arc::new(Planner::default());
        let share = Arc::new(Self {
            pool,
            inner,
            planner: planner.clone(),
        });
        let weak = Arc::downgrade(&share);
        std::thread::Builder::new()
            .name("regpow-share".into())
            .spawn(move || plan_on_changes(weak, planner))
            .expect("spawning the share's planning thread");
        share
    }

    /// The pool (for its devices and counters).
    pub fn pool(&self) -> &Arc<DevicePool> {
        &self.pool
    }

    /// A lease for `target`; the pool's events for it go to `events` while it lives: its
    /// hits, every retarget, and every fault (the registration ends when no device is left).
    pub fn lease(
        self: &Arc<Self>,
        target: TargetSpec,
        events: mpsc::UnboundedSender<PoolEvent>,
    ) -> Lease {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.leases.insert(
            id,
            HeldLease {
                target,
                job: None,
                job_seq: 0,
                placed: None,
                hashed: None,
                ready: true,
                events,
            },
        );
        Lease {
            share: self.clone(),
            id,
        }
    }

    /// Each lease's current fraction of the devices, by target.
    pub fn allocations(&self) -> Vec<(TargetId, f64)> {
        let inner = self.lock();
        let total: f64 = inner.assigned.0.iter().map(|j| f64::from(j.weight)).sum();
        inner
            .leases
            .values()
            .map(|held| {
                let weight = inner
                    .assigned
                    .0
                    .iter()
                    .find(|j| held.owns(j))
                    .map_or(0.0, |j| f64::from(j.weight));
                let fraction = if total > 0.0 { weight / total } else { 0.0 };
                (held.target.id, fraction)
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Recomputes the assignment from every lease; publishes it if it changed, and notes in
    /// each lease whose job it carries which assignment that is.
    fn reassign(&self) {
        let hashes = self.pool.hashes();
        let mut inner = self.lock();
        let rate = inner.rate.sample(hashes);
        // The candidates are small; the jobs (a few hundred bytes each) are copied only for
        // the few the policy gives devices to (a farm has thousands of leases).
        let with_jobs: Vec<&HeldLease> =
            inner.leases.values().filter(|h| h.job.is_some()).collect();
        let candidates: Vec<Candidate> = with_jobs
            .iter()
            .filter_map(|held| {
                let difficulty = held.job.as_ref()?.job.difficulty.get();
                Some(Candidate {
                    difficulty,
                    weight: held.target.weight,
                    ready: held.ready,
                    allowed: held.target.allows(difficulty),
                })
            })
            .collect();
        let weights = policy::allocate(&candidates, rate, inner.block_secs);
        let jobs: Vec<PoolJob> = with_jobs
            .iter()
            .zip(&weights)
            .filter(|(_, &w)| w > 0)
            .filter_map(|(held, &weight)| held.job.map(|job| PoolJob { weight, ..job }))
            .collect();
        if jobs != inner.assigned.0 {
            let generation = self.pool.assign(jobs.clone());
            inner.assigned = (jobs, generation);
        }
        let generation = inner.assigned.1;
        let Inner {
            leases, assigned, ..
        } = &mut *inner;
        for held in leases.values_mut() {
            let tag = held.target.id.tag();
            held.hashed = Some(assigned.0.iter().any(|j| j.tag == tag));
            let carried = held.job.is_some_and(|job| {
                assigned
                    .0
                    .iter()
                    .any(|j| j.tag == job.tag && j.job == job.job && j.work_block == job.work_block)
            });
            if carried && held.placed.is_none_or(|(seq, _)| seq < held.job_seq) {
                held.placed = Some((held.job_seq, generation));
            }
        }
    }
}

/// The share's planning thread: one plan per burst of lease changes, at most one every
/// [`PLAN_EVERY`] (or [`PLAN_GAP_FACTOR`] times what the last plan took, if more), until the
/// share is gone.
fn plan_on_changes(share: std::sync::Weak<DeviceShare>, planner: Arc<Planner>) {
    let mut last: Option<(Instant, Duration)> = None;
    while planner.wait() {
        if let Some((at, took)) = last {
            let gap = PLAN_EVERY.max(took * PLAN_GAP_FACTOR);
            let since = at.elapsed();
            if since < gap {
                std::thread::sleep(gap - since);
            }
        }
        let Some(share) = share.upgrade() else {
            return;
        };
        let started = Instant::now();
        share.reassign();
        last = Some((started, started.elapsed()));
    }
}

/// A registration's hold on the shared devices; dropping it gives them back.
pub struct Lease {
    share: Arc<DeviceShare>,
    id: u64,
}

impl Lease {
    /// The share this lease is on.
    pub fn share(&self) -> &Arc<DeviceShare> {
        &self.share
    }

    fn update(&self, change: impl FnOnce(&mut HeldLease)) {
        if let Some(held) = self.share.lock().leases.get_mut(&self.id) {
            change(held);
        }
        self.share.planner.request();
    }

    /// This registration would now hash `job` (on `work_block`); the share plans it in with
    /// the other changes of the moment. Returns the job's number on this lease (see
    /// [`Lease::placed`]).
    pub fn set_job(&self, job: regpow_solver::Job, work_block: u64) -> u64 {
        let mut seq = 0;
        self.update(|held| {
            held.job_seq += 1;
            seq = held.job_seq;
            held.job = Some(PoolJob {
                tag: held.target.id.tag(),
                ..PoolJob::new(job, work_block)
            })
        });
        seq
    }

    /// The newest of this lease's jobs (its number from [`Lease::set_job`]) that an
    /// assignment carried, with that assignment's generation: the devices hash it once they
    /// have retargeted to that generation.
    pub fn placed(&self) -> Option<(u64, u64)> {
        self.share
            .lock()
            .leases
            .get(&self.id)
            .and_then(|h| h.placed)
    }

    /// Whether the devices hash one of this registration's jobs now (the last plan gave it
    /// devices); `None` until the share has planned with this lease.
    pub fn hashed(&self) -> Option<bool> {
        self.share
            .lock()
            .leases
            .get(&self.id)
            .and_then(|h| h.hashed)
    }

    /// Whether this registration can use a seal now (see [`policy`]): one that cannot
    /// yields its devices to the others.
    pub fn set_ready(&self, ready: bool) {
        let unchanged = {
            let inner = self.share.lock();
            inner.leases.get(&self.id).is_some_and(|h| h.ready == ready)
        };
        if !unchanged {
            self.update(|held| held.ready = ready);
        }
    }

    /// The chain's block time as this registration measures it.
    pub fn set_block_time(&self, block_time: Duration) {
        self.share.lock().block_secs = block_time.as_secs_f64();
    }

    /// Stops hashing for this registration.
    pub fn stop(&self) {
        self.update(|held| held.job = None);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.share.lock().leases.remove(&self.id);
        self.share.planner.request();
    }
}
