//! The devices' side of a registration run: one long-lived thread per device, each running
//! one job at a time and switching when told.
//!
//! A device never holds two jobs: the thread finishes (drains) the old search before it
//! starts the new one, so the backend's buffers are only ever driven by one search. A
//! device that errors or panics is reported once and leaves the run; the others go on.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use regpow_engine::backend::{Backend, Hit, Job, NonceRange, SearchControl, SearchOutcome};

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

/// What the device threads report.
#[derive(Debug)]
pub(crate) enum DeviceEvent {
    /// A hit (still to be checked on the CPU before use).
    Hit(Box<Found>),
    /// The device failed (an error or a panic) and has left the run.
    Fault {
        /// Index of the device in the backend's order.
        device: usize,
        /// What happened.
        reason: String,
    },
}

/// A job handed to one device thread.
struct Assignment {
    job: Job,
    work_block: u64,
    control: Arc<SearchControl>,
}

/// One device: its thread's inbox, its live search and its hash count.
struct Device {
    name: String,
    inbox: std::sync::mpsc::Sender<Assignment>,
    /// The search the thread runs now, and seals finished by earlier ones (one lock, so a
    /// reader never counts a finished search twice).
    counts: Arc<Mutex<Counts>>,
    /// The newest assignment sent (running or still queued).
    latest: Option<Arc<SearchControl>>,
    alive: bool,
    /// Hash count at the last progress, and when it was seen (the stall watchdog).
    seen: (u64, Instant),
    stall_reported: bool,
}

/// Locks the counts (a poisoned lock still holds valid counts).
fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    counts.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct Counts {
    finished: u64,
    running: Option<Arc<SearchControl>>,
}

impl Counts {
    fn total(&self) -> u64 {
        self.finished + self.running.as_ref().map_or(0, |c| c.hashes())
    }
}

/// Every device of a backend, each on its own thread.
pub(crate) struct Searcher {
    devices: Vec<Device>,
}

/// How a device's hit loop ended.
enum Ended {
    Stopped,
    Closed,
    Fault(String),
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Searches `assignment` from a random nonce, wrapping round, sending every hit, until
/// stopped, the range is spent or the receiver is gone.
fn search_job(
    backend: &dyn Backend,
    device: usize,
    assignment: &Assignment,
    events: &mpsc::UnboundedSender<DeviceEvent>,
) -> Ended {
    let start = rand::random::<u64>();
    let mut next = Some(start);
    let mut wrapped = false;
    while let Some(from) = next {
        let end = if wrapped {
            start.wrapping_sub(1)
        } else {
            u64::MAX
        };
        let Some(range) = NonceRange::new(from, end) else {
            return Ended::Stopped;
        };
        match backend.search_device(device, &assignment.job, range, &assignment.control) {
            Ok(SearchOutcome::Found(hit)) => {
                let found = Found {
                    job: assignment.job,
                    work_block: assignment.work_block,
                    hit,
                };
                if events.send(DeviceEvent::Hit(Box::new(found))).is_err() {
                    return Ended::Closed;
                }
                next = hit.nonce.checked_add(1).filter(|&n| n <= end);
            }
            Ok(SearchOutcome::Stopped) => return Ended::Stopped,
            Ok(SearchOutcome::Exhausted) => next = None,
            Err(regpow_engine::backend::BackendError::Fault(reason)) => {
                return Ended::Fault(reason)
            }
            Err(e) => return Ended::Fault(e.to_string()),
        }
        if next.is_none() && !wrapped && start > 0 {
            wrapped = true;
            next = Some(0);
        }
    }
    Ended::Stopped
}

/// The body of one device thread: take the newest assignment, search it to its end (a
/// stop, a fault, a panic), count its seals, repeat until the searcher is dropped.
fn device_thread(
    backend: Arc<dyn Backend>,
    device: usize,
    inbox: std::sync::mpsc::Receiver<Assignment>,
    counts: Arc<Mutex<Counts>>,
    events: mpsc::UnboundedSender<DeviceEvent>,
) {
    while let Ok(mut assignment) = inbox.recv() {
        // Only the newest job matters; older queued ones were already stopped.
        while let Ok(newer) = inbox.try_recv() {
            assignment = newer;
        }
        if assignment.control.is_stopped() {
            continue;
        }
        lock(&counts).running = Some(assignment.control.clone());
        let ended = std::panic::catch_unwind(AssertUnwindSafe(|| {
            search_job(&*backend, device, &assignment, &events)
        }))
        .unwrap_or_else(|panic| Ended::Fault(format!("panicked: {}", panic_text(&*panic))));
        {
            let mut counts = lock(&counts);
            counts.finished += assignment.control.hashes();
            counts.running = None;
        }
        match ended {
            Ended::Stopped => {}
            Ended::Closed => return,
            Ended::Fault(reason) => {
                let _ = events.send(DeviceEvent::Fault { device, reason });
                return;
            }
        }
    }
}

impl Searcher {
    /// Starts one idle thread per device of `backend`; hits and faults go to `events`.
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        events: mpsc::UnboundedSender<DeviceEvent>,
    ) -> Self {
        let names: Vec<String> = backend.devices().into_iter().map(|d| d.name).collect();
        let devices = names
            .into_iter()
            .enumerate()
            .map(|(index, name)| {
                let (inbox, receiver) = std::sync::mpsc::channel();
                let counts = Arc::new(Mutex::new(Counts::default()));
                let (backend, events, thread_counts) =
                    (backend.clone(), events.clone(), counts.clone());
                std::thread::Builder::new()
                    .name(format!("regpow-device-{index}"))
                    .spawn(move || device_thread(backend, index, receiver, thread_counts, events))
                    .expect("spawning a device thread");
                Device {
                    name,
                    inbox,
                    counts,
                    latest: None,
                    alive: true,
                    seen: (0, Instant::now()),
                    stall_reported: false,
                }
            })
            .collect();
        Self { devices }
    }

    /// Device names, in the backend's order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.devices.iter().map(|d| d.name.clone()).collect()
    }

    /// Moves every live device to `job`: the running search is told to stop and the device
    /// starts the new one as soon as it has drained (within a batch).
    pub(crate) fn switch(&mut self, job: Job, work_block: u64) {
        for device in self.devices.iter_mut().filter(|d| d.alive) {
            if let Some(old) = device.latest.take() {
                old.stop();
            }
            let control = Arc::new(SearchControl::new());
            device.latest = Some(control.clone());
            if device
                .inbox
                .send(Assignment {
                    job,
                    work_block,
                    control,
                })
                .is_err()
            {
                device.alive = false;
            }
        }
    }

    /// Stops every device (each returns within a batch).
    pub(crate) fn stop(&mut self) {
        for device in &mut self.devices {
            if let Some(old) = device.latest.take() {
                old.stop();
            }
        }
    }

    /// Marks a device as gone (after its fault was reported).
    pub(crate) fn retire(&mut self, device: usize) {
        if let Some(d) = self.devices.get_mut(device) {
            d.alive = false;
            d.latest = None;
        }
    }

    /// How many devices still search.
    pub(crate) fn alive(&self) -> usize {
        self.devices.iter().filter(|d| d.alive).count()
    }

    /// Seals computed so far, per device.
    pub(crate) fn hashes(&self) -> Vec<u64> {
        self.devices
            .iter()
            .map(|d| lock(&d.counts).total())
            .collect()
    }

    /// Live devices that have computed nothing for `after` while holding a job; each is
    /// named once per stall (it is named again if it recovers and stalls anew).
    pub(crate) fn stalled(&mut self, after: Duration) -> Vec<(String, Duration)> {
        let now = Instant::now();
        let hashes = self.hashes();
        let mut stalled = Vec::new();
        for (device, hashes) in self.devices.iter_mut().zip(hashes) {
            let busy = device.alive && device.latest.is_some();
            if hashes != device.seen.0 || !busy {
                device.seen = (hashes, now);
                device.stall_reported = false;
            } else if now.duration_since(device.seen.1) >= after && !device.stall_reported {
                device.stall_reported = true;
                stalled.push((device.name.clone(), now.duration_since(device.seen.1)));
            }
        }
        stalled
    }
}

impl Drop for Searcher {
    fn drop(&mut self) {
        // Dropping the inboxes ends each thread once its search returns.
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regpow_engine::backend::{BackendError, DeviceInfo};
    use regpow_rules::challenge::Challenge;
    use regpow_rules::difficulty::Difficulty;
    use regpow_rules::keys::PublicKey;
    use regpow_rules::seal::reference_seal;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn job(block: u8, difficulty: u64) -> Job {
        Job::new(
            Challenge {
                netuid: 1,
                block_hash: [block; 32],
                hotkey: PublicKey([0x11; 32]),
                coldkey: PublicKey([0x22; 32]),
            },
            Difficulty::new(difficulty).unwrap(),
        )
    }

    #[test]
    fn every_hit_carries_its_own_job_across_switches() {
        let backend: Arc<dyn Backend> =
            Arc::new(regpow_engine::cpu::CpuBackend::new(Some(1), None).unwrap());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut searcher = Searcher::new(backend, tx);
        searcher.switch(job(1, 64), 1);
        let DeviceEvent::Hit(first) = rx.blocking_recv().unwrap() else {
            panic!("fault")
        };
        assert_eq!(first.work_block, 1);
        searcher.switch(job(2, 64), 2);
        let mut seen_new = 0;
        while seen_new < 3 {
            let DeviceEvent::Hit(hit) = rx.blocking_recv().unwrap() else {
                panic!("fault")
            };
            assert_eq!(reference_seal(&hit.job.prefix, hit.hit.nonce), hit.hit.seal);
            assert!(hit.hit.seal.meets(&hit.job.target));
            assert_eq!(hit.job.challenge.block_hash, [hit.work_block as u8; 32]);
            if hit.work_block == 2 {
                seen_new += 1;
            }
        }
        assert!(searcher.hashes()[0] > 0);
        searcher.stop();
        std::thread::sleep(Duration::from_millis(50));
        let settled = searcher.hashes()[0];
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            searcher.hashes()[0],
            settled,
            "stopped searches hash no more"
        );
    }

    /// A device whose search takes its time to notice a stop (as a GPU finishing its
    /// batches does), and that records whether two searches ever ran at once.
    struct SlowToDrain {
        busy: AtomicBool,
        overlapped: AtomicBool,
        searches: AtomicU64,
    }

    impl Backend for SlowToDrain {
        fn name(&self) -> &'static str {
            "slow"
        }
        fn devices(&self) -> Vec<DeviceInfo> {
            vec![DeviceInfo {
                name: "slow".into(),
                kind: "test".into(),
                driver: "test".into(),
            }]
        }
        fn search(
            &self,
            _job: &Job,
            _range: NonceRange,
            control: &SearchControl,
        ) -> Result<SearchOutcome, BackendError> {
            if self.busy.swap(true, Ordering::SeqCst) {
                self.overlapped.store(true, Ordering::SeqCst);
            }
            self.searches.fetch_add(1, Ordering::SeqCst);
            while !control.is_stopped() {
                control.add_hashes(0, 1);
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(30)); // draining its last batches
            self.busy.store(false, Ordering::SeqCst);
            Ok(SearchOutcome::Stopped)
        }
    }

    #[test]
    fn a_device_never_runs_two_jobs_at_once() {
        let backend = Arc::new(SlowToDrain {
            busy: AtomicBool::new(false),
            overlapped: AtomicBool::new(false),
            searches: AtomicU64::new(0),
        });
        let (tx, _rx) = mpsc::unbounded_channel();
        let mut searcher = Searcher::new(backend.clone(), tx);
        for block in 0..20u8 {
            searcher.switch(job(block, 1 << 40), u64::from(block));
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !backend.overlapped.load(Ordering::SeqCst),
            "two jobs ran at once"
        );
        assert!(backend.searches.load(Ordering::SeqCst) >= 2);
    }

    /// A device that panics (or errors) on its first search.
    struct Faulty {
        panic: bool,
    }

    impl Backend for Faulty {
        fn name(&self) -> &'static str {
            "faulty"
        }
        fn devices(&self) -> Vec<DeviceInfo> {
            vec![DeviceInfo {
                name: "faulty".into(),
                kind: "test".into(),
                driver: "test".into(),
            }]
        }
        fn search(
            &self,
            _job: &Job,
            _range: NonceRange,
            _control: &SearchControl,
        ) -> Result<SearchOutcome, BackendError> {
            if self.panic {
                panic!("kernel exploded");
            }
            Err(BackendError::Fault("lost the device".into()))
        }
    }

    #[test]
    fn a_panic_or_an_error_is_reported_as_a_fault_not_a_hang() {
        for (panic, words) in [
            (true, "panicked: kernel exploded"),
            (false, "lost the device"),
        ] {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let mut searcher = Searcher::new(Arc::new(Faulty { panic }), tx);
            searcher.switch(job(1, 64), 1);
            match rx.blocking_recv() {
                Some(DeviceEvent::Fault { device: 0, reason }) => {
                    assert!(reason.contains(words), "{reason}")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
