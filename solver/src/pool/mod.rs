//! The device pool: one long-lived worker per device, for the whole run.
//!
//! Every device of every backend the pool is given (the CPU thread group, each CUDA device,
//! each wgpu adapter) gets one thread, started once. What a device hashes is its
//! *assignment*, published through one watch-style slot: [`DevicePool::assign`] replaces the
//! jobs and wakes the workers; a worker finishes (drains) its current batch and takes the new
//! assignment in place. Nothing is respawned when work changes, a device only ever drives one
//! job's buffers at a time, and counters (hashes, seals found, errors) are cumulative for the
//! life of the pool.
//!
//! Several jobs can share the pool: `plan.rs` splits the devices among them by weight. Hits,
//! faults and retarget times come out as [`PoolEvent`]s to every subscriber, tagged with the
//! device and the job. Every hit is re-derived with the reference seal here, whatever the
//! backend already checked.

mod plan;
mod worker;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::backend::{Backend, DeviceInfo, Hit, Job, NonceRange, SearchControl};

/// A job as the pool runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolJob {
    /// The challenge and difficulty.
    pub job: Job,
    /// The number of the block whose hash the challenge carries (hits report it back).
    pub work_block: u64,
    /// Weight of the job relative to the other jobs of the assignment (at least 1 is used).
    pub weight: u32,
    /// Nonces to search; `None` = all of them, each device starting at a random point of
    /// its stripe.
    pub range: Option<NonceRange>,
    /// Whose job it is (the registrar puts its target's id here), reported back with every
    /// hit; the pool does not read it. 0 for `solve` and `bench`.
    pub tag: u64,
}

impl PoolJob {
    /// `job` on block `work_block`, weight 1, every nonce, tag 0.
    pub fn new(job: Job, work_block: u64) -> Self {
        Self {
            job,
            work_block,
            weight: 1,
            range: None,
            tag: 0,
        }
    }
}

/// What the pool reports.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolEvent {
    /// A seal meeting the job's target, re-verified with the reference seal.
    Hit {
        /// Index of the device in [`DevicePool::devices`].
        device: usize,
        /// The assignment it belongs to.
        generation: u64,
        /// The job it was found for (boxed: it carries the 123-byte prefix).
        job: Box<PoolJob>,
        /// Nonce and seal.
        hit: Hit,
    },
    /// A device searched its whole stripe of a job with a bounded range.
    Exhausted {
        /// The device.
        device: usize,
        /// The assignment.
        generation: u64,
        /// Index of the job in that assignment.
        job: usize,
    },
    /// A device failed (an error, a panic, or a hit that did not verify) and left the pool;
    /// its work is split among the others.
    Fault {
        /// The device.
        device: usize,
        /// What happened.
        reason: String,
    },
    /// Every live device with work is hashing assignment `generation`.
    Retargeted {
        /// The assignment.
        generation: u64,
        /// When the last device started on it.
        at: Instant,
        /// From [`DevicePool::assign`] to `at`.
        took: Duration,
    },
}

/// A device's counters, cumulative for the life of the pool.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeviceStats {
    /// Stable id (`cpu`, `cuda:0`, `wgpu:1`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Seals computed.
    pub hashes: u64,
    /// Verified hits.
    pub seals_found: u64,
    /// Faults (the device leaves the pool at the first).
    pub errors: u64,
    /// Still in the pool.
    pub alive: bool,
    /// Holding work now.
    pub busy: bool,
}

/// How long dropping the pool waits for its workers to finish their batches.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// A subscriber: returns false once it no longer listens.
type Subscriber = Box<dyn Fn(&PoolEvent) -> bool + Send + Sync>;

/// One device's entry in the shared state.
struct DeviceState {
    info: DeviceInfo,
    /// Seals from searches that have ended.
    finished: u64,
    /// The search running now (stopped by a new assignment).
    running: Option<Arc<SearchControl>>,
    seals: u64,
    errors: u64,
    alive: bool,
    /// Time spent searching, for the device's rate.
    busy_time: Duration,
    /// The newest generation this device has started hashing.
    started: u64,
    /// The newest generation whose every share this device has searched to the end.
    drained: u64,
}

impl DeviceState {
    fn hashes(&self) -> u64 {
        self.finished + self.running.as_ref().map_or(0, |c| c.hashes())
    }

    fn rate(&self) -> Option<f64> {
        self.alive.then(|| {
            let secs = self.busy_time.as_secs_f64();
            if secs > 0.5 {
                self.finished as f64 / secs
            } else {
                0.0
            }
        })
    }
}

/// The assignment slot and every device's state, under one lock.
struct State {
    generation: u64,
    /// Bumped by every assignment and by every re-plan after a fault.
    version: u64,
    jobs: Arc<[PoolJob]>,
    /// Random start of each unbounded job's nonces (per stripe), fixed per assignment.
    offsets: Arc<[u64]>,
    plans: Vec<Vec<plan::Allocation>>,
    devices: Vec<DeviceState>,
    published_at: Instant,
    retarget_reported: u64,
    exit: bool,
}

impl State {
    /// Re-splits the current jobs among the live devices and stops what they run.
    fn replan(&mut self) {
        let weights: Vec<u32> = self.jobs.iter().map(|j| j.weight).collect();
        let rates: Vec<Option<f64>> = self.devices.iter().map(DeviceState::rate).collect();
        self.plans = plan::split(&weights, &rates);
        self.version += 1;
        for device in &self.devices {
            if let Some(control) = &device.running {
                control.stop();
            }
        }
    }

    /// The retarget event for the current generation, once every live device with work has
    /// started it.
    fn retarget_done(&mut self) -> Option<PoolEvent> {
        if self.retarget_reported >= self.generation || self.jobs.is_empty() {
            return None;
        }
        let pending = self
            .devices
            .iter()
            .zip(&self.plans)
            .any(|(d, plan)| d.alive && !plan.is_empty() && d.started < self.generation);
        if pending {
            return None;
        }
        self.retarget_reported = self.generation;
        let at = Instant::now();
        Some(PoolEvent::Retargeted {
            generation: self.generation,
            at,
            took: at.duration_since(self.published_at),
        })
    }
}

/// What the workers share with the pool.
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    subscribers: Mutex<Vec<Subscriber>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: PoolEvent) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.retain(|listen| listen(&event));
    }
}

/// Every device of the given backends, each on its own long-lived thread.
pub struct DevicePool {
    shared: Arc<Shared>,
    backends: Vec<&'static str>,
    /// The workers (joined on drop, within [`RELEASE_WAIT`]).
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl DevicePool {
    /// Starts one idle worker per device of `backends`.
    pub fn new(backends: Vec<Arc<dyn Backend>>) -> Self {
        let mut devices = Vec::new();
        let mut owners = Vec::new();
        for backend in &backends {
            for (local, info) in backend.devices().into_iter().enumerate() {
                devices.push(DeviceState {
                    info,
                    finished: 0,
                    running: None,
                    seals: 0,
                    errors: 0,
                    alive: true,
                    busy_time: Duration::ZERO,
                    started: 0,
                    drained: 0,
                });
                owners.push((backend.clone(), local));
            }
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                generation: 0,
                version: 0,
                jobs: Arc::from(Vec::new()),
                offsets: Arc::from(Vec::new()),
                plans: vec![Vec::new(); devices.len()],
                devices,
                published_at: Instant::now(),
                retarget_reported: 0,
                exit: false,
            }),
            wake: Condvar::new(),
            subscribers: Mutex::new(Vec::new()),
        });
        let threads = owners
            .into_iter()
            .enumerate()
            .map(|(index, (backend, local))| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("regpow-device-{index}"))
                    .spawn(move || worker::run(shared, index, backend, local))
                    .expect("spawning a device thread")
            })
            .collect();
        Self {
            shared,
            backends: backends.iter().map(|b| b.name()).collect(),
            threads,
        }
    }

    /// Calls `listen` with every event from now on, on the device threads (keep it short: a
    /// channel send), until it returns false.
    pub fn subscribe(&self, listen: impl Fn(&PoolEvent) -> bool + Send + Sync + 'static) {
        self.shared
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(listen));
    }

    /// Every event from now on, through a channel (dropped receivers unsubscribe).
    pub fn events(&self) -> std::sync::mpsc::Receiver<PoolEvent> {
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        self.subscribe(move |event| {
            tx.lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(event.clone())
                .is_ok()
        });
        rx
    }

    /// Whether every live device with a share of assignment `generation` has searched all of
    /// it (only bounded ranges end), and that assignment is still the current one.
    pub fn drained(&self, generation: u64) -> bool {
        let state = self.shared.lock();
        state.generation == generation
            && state
                .devices
                .iter()
                .zip(&state.plans)
                .all(|(d, plan)| !d.alive || plan.is_empty() || d.drained >= generation)
    }

    /// The names of the backends, in the order given (`cpu`, `cuda`, `wgpu`).
    pub fn backends(&self) -> &[&'static str] {
        &self.backends
    }

    /// The devices, in pool order (the `device` of every event indexes this).
    pub fn devices(&self) -> Vec<DeviceInfo> {
        let state = self.shared.lock();
        state.devices.iter().map(|d| d.info.clone()).collect()
    }

    /// Publishes a new assignment and returns its generation: every device stops its current
    /// batch and takes its share of `jobs` (an empty list idles the pool). Never blocks on
    /// the devices.
    pub fn assign(&self, jobs: Vec<PoolJob>) -> u64 {
        let mut state = self.shared.lock();
        state.generation += 1;
        state.offsets = jobs.iter().map(|_| rand::random::<u64>()).collect();
        state.jobs = Arc::from(jobs);
        state.published_at = Instant::now();
        state.replan();
        let generation = state.generation;
        drop(state);
        self.shared.wake.notify_all();
        generation
    }

    /// Idles every device (an empty assignment).
    pub fn stop(&self) {
        self.assign(Vec::new());
    }

    /// Waits until no device is running a search (after [`DevicePool::stop`]: every device
    /// has drained its last batch, so the counters are final), at most `limit`. Returns
    /// whether that happened in time.
    pub fn settle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self
                .shared
                .lock()
                .devices
                .iter()
                .all(|d| d.running.is_none())
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Every device's counters.
    pub fn stats(&self) -> Vec<DeviceStats> {
        let state = self.shared.lock();
        state
            .devices
            .iter()
            .zip(&state.plans)
            .map(|(d, plan)| DeviceStats {
                id: d.info.id.clone(),
                name: d.info.name.clone(),
                hashes: d.hashes(),
                seals_found: d.seals,
                errors: d.errors,
                alive: d.alive,
                busy: d.alive && !plan.is_empty(),
            })
            .collect()
    }

    /// Seals computed by every device since the pool started.
    pub fn hashes(&self) -> u64 {
        self.stats().iter().map(|s| s.hashes).sum()
    }

    /// How many devices are still in the pool.
    pub fn alive(&self) -> usize {
        self.stats().iter().filter(|s| s.alive).count()
    }
}

impl Drop for DevicePool {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.exit = true;
            for device in &state.devices {
                if let Some(control) = &device.running {
                    control.stop();
                }
            }
        }
        self.shared.wake.notify_all();
        // Each worker returns once its batch ends, dropping its backend, so devices are
        // released in order before the process exits (a driver torn down by the exit while
        // its device is alive can crash). A device stuck in its driver must not hang the
        // exit, though: after `RELEASE_WAIT` the rest are left to end on their own.
        let deadline = Instant::now() + RELEASE_WAIT;
        for thread in self.threads.drain(..) {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests;
