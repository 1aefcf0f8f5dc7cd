//! The registration loop (`regpow_registrar::register`) against the devnet with devices that
//! misbehave (panic, error, return wrong nonces, stall, hold a hit across a head switch)
//! and chains that re-organise. Each scenario checks the outcome, the progress the user
//! sees, what was submitted and what the chain holds.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::{devnet_with, subnet, HOTKEY, UNREACHABLE_DIFFICULTY};
use regpow_chain::wallet::Coldkey;
use regpow_chain::{ChainClient, Session, Submitter};
use regpow_devnet::DevnetHandle;
use regpow_registrar::register::{register, Discard, Outcome, Progress, RegisterError};
use regpow_registrar::{watch_devices, DeviceEvent, DeviceShare, TargetId, TargetSpec};
use regpow_rules::{reference_seal, PublicKey};
use regpow_solver::{
    Backend, BackendError, DeviceInfo, DevicePool, Hit, Job, NonceRange, SearchControl,
    SearchOutcome,
};
use tokio::sync::mpsc;

fn device(name: &str) -> DeviceInfo {
    DeviceInfo {
        id: name.into(),
        name: name.into(),
        kind: "test".into(),
        driver: "test".into(),
    }
}

/// The first nonce from `range.start` whose seal meets the job, by the reference seal,
/// checking for a stop as it goes (the jobs here are easy: a few hundred tries).
fn honest_search(job: &Job, range: NonceRange, control: &SearchControl) -> SearchOutcome {
    let mut nonce = range.start;
    loop {
        if control.is_stopped() {
            return SearchOutcome::Stopped;
        }
        control.add_hashes(0, 1);
        if let Some(hit) = job.verify(nonce) {
            return SearchOutcome::Found(hit);
        }
        if nonce == range.end {
            return SearchOutcome::Exhausted;
        }
        nonce += 1;
    }
}

/// What a misbehaving device does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    Honest,
    /// Honest, but finds nothing until the backend's gate opens.
    HonestOnceOpen,
    /// Panics on its first search.
    Panic,
    /// Errors on its first search.
    Error,
    /// Finds one real hit, then panics.
    HitThenPanic,
    /// Returns hits whose seal is not the nonce's.
    WrongSeal,
    /// Never computes anything.
    Stall,
}

/// A backend of several devices, each with its own behaviour.
struct TestBackend {
    devices: Vec<Behaviour>,
    hits_returned: AtomicUsize,
    open: Arc<AtomicBool>,
}

impl TestBackend {
    fn new(devices: Vec<Behaviour>) -> Arc<Self> {
        Arc::new(Self {
            devices,
            hits_returned: AtomicUsize::new(0),
            open: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Backend for TestBackend {
    fn name(&self) -> &'static str {
        "test"
    }
    fn devices(&self) -> Vec<DeviceInfo> {
        (0..self.devices.len())
            .map(|i| device(&format!("test{i}")))
            .collect()
    }
    fn search(
        &self,
        device: usize,
        job: &Job,
        range: NonceRange,
        control: &SearchControl,
    ) -> Result<SearchOutcome, BackendError> {
        match self.devices[device] {
            Behaviour::Honest => Ok(honest_search(job, range, control)),
            Behaviour::HonestOnceOpen => {
                while !self.open.load(Ordering::SeqCst) {
                    if control.is_stopped() {
                        return Ok(SearchOutcome::Stopped);
                    }
                    control.add_hashes(0, 1);
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(honest_search(job, range, control))
            }
            Behaviour::Panic => panic!("test device {device} exploded"),
            Behaviour::Error => Err(BackendError::Fault("test device lost".into())),
            Behaviour::HitThenPanic => {
                if self.hits_returned.fetch_add(1, Ordering::SeqCst) > 0 {
                    panic!("test device {device} exploded after its hit");
                }
                Ok(honest_search(job, range, control))
            }
            Behaviour::WrongSeal => {
                std::thread::sleep(Duration::from_millis(20));
                control.add_hashes(0, 1);
                let nonce = range.start;
                let mut seal = reference_seal(&job.prefix, nonce);
                seal.0[31] ^= 0x80;
                Ok(SearchOutcome::Found(Hit { nonce, seal }))
            }
            Behaviour::Stall => {
                while !control.is_stopped() {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(SearchOutcome::Stopped)
            }
        }
    }
}

/// Runs a registration on `devnet` for the test hotkey, signing with `//Alice`; returns
/// the outcome and every progress event.
async fn run(
    devnet: &DevnetHandle,
    backend: Arc<dyn Backend>,
    max: Duration,
    stall_after: Duration,
) -> (Result<Outcome, RegisterError>, Vec<Seen>) {
    let (cancel_tx, cancel) = mpsc::unbounded_channel();
    // The sender lives as long as the run: nothing cancels it.
    run_at(
        devnet.url.clone(),
        backend,
        max,
        stall_after,
        cancel,
        move |_| {
            let _ = &cancel_tx;
        },
    )
    .await
}

/// What a run showed: its registration's events and the device stream's, in order.
#[derive(Clone, Debug)]
enum Seen {
    Target(Progress),
    Device(DeviceEvent),
}

/// [`run`] by URL, calling `watch` on each event as it happens.
async fn run_at(
    url: String,
    backend: Arc<dyn Backend>,
    max: Duration,
    stall_after: Duration,
    cancel: mpsc::UnboundedReceiver<()>,
    mut watch: impl FnMut(&Seen),
) -> (Result<Outcome, RegisterError>, Vec<Seen>) {
    let client = ChainClient::connect(&url).await.unwrap();
    let coldkey = Arc::new(Coldkey::from_uri("//Alice").unwrap());
    let target = TargetSpec::new(TargetId(0), 1, HOTKEY.parse::<PublicKey>().unwrap());
    let pool = Arc::new(DevicePool::new(vec![backend]));
    let mut devices = watch_devices(pool.clone(), stall_after);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let run = register(
        Session::start(client).await.unwrap(),
        DeviceShare::new(pool),
        Submitter::new(coldkey),
        target,
        Some(tokio::time::Instant::now() + max),
        move |event| {
            let _ = events_tx.send(event);
        },
        cancel,
    );
    tokio::pin!(run);
    let mut seen = Vec::new();
    let mut record = |event: Seen| {
        watch(&event);
        seen.push(event);
    };
    let outcome = loop {
        tokio::select! {
            biased;
            Some(event) = events.recv() => {
                // Every event is tagged with this registration.
                assert_eq!(event.target, target);
                record(Seen::Target(event.progress));
            }
            Some(event) = devices.recv() => record(Seen::Device(event)),
            outcome = &mut run => break outcome,
        }
    };
    while let Ok(event) = events.try_recv() {
        record(Seen::Target(event.progress));
    }
    (outcome, seen)
}

fn uid_on_chain(devnet: &DevnetHandle) -> Option<u16> {
    let hotkey: PublicKey = HOTKEY.parse().unwrap();
    devnet.node.lock().chain.state.subnets[&1]
        .uids
        .get(&hotkey.0)
        .copied()
}

fn submissions(events: &[Seen]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Seen::Target(Progress::Submitting { .. })))
        .count()
}

fn faults(events: &[Seen]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Seen::Device(DeviceEvent::Fault { name, reason, .. }) => {
                Some(format!("{name}: {reason}"))
            }
            _ => None,
        })
        .collect()
}

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_device_leaves_and_the_others_register() {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 2000)]).await;
    // The healthy device finds nothing until the fault has been reported, so the run must
    // go on past the fault to register.
    let backend = TestBackend::new(vec![Behaviour::Panic, Behaviour::HonestOnceOpen]);
    let open = backend.open.clone();
    let (_cancel_tx, cancel) = mpsc::unbounded_channel();
    let (outcome, events) = run_at(
        devnet.url.clone(),
        backend,
        LONG,
        LONG,
        cancel,
        move |event| {
            if matches!(event, Seen::Device(DeviceEvent::Fault { .. })) {
                open.store(true, Ordering::SeqCst);
            }
        },
    )
    .await;
    assert!(
        matches!(outcome, Ok(Outcome::Registered { .. })),
        "{outcome:?}"
    );
    assert_eq!(
        faults(&events),
        vec!["test0: panicked: test device 0 exploded".to_string()]
    );
    assert!(uid_on_chain(&devnet).is_some());
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_device_fails_the_run_ends_with_a_device_fault() {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 2000)]).await;
    for (behaviour, words) in [
        (Behaviour::Panic, "test0: panicked: test device 0 exploded"),
        (Behaviour::Error, "test0: test device lost"),
    ] {
        let backend = TestBackend::new(vec![behaviour]);
        let (outcome, events) =
            tokio::time::timeout(Duration::from_secs(20), run(&devnet, backend, LONG, LONG))
                .await
                .expect("a failed device must not hang the run");
        match outcome {
            Err(RegisterError::Devices {
                last_fault,
                in_doubt: None,
            }) => assert_eq!(last_fault, words),
            other => panic!("{other:?}"),
        }
        assert_eq!(submissions(&events), 0);
    }
    assert_eq!(uid_on_chain(&devnet), None);
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_fault_with_a_submission_in_flight_waits_for_the_chain() {
    // The only device finds a seal and dies; the submission is in the pool until the next
    // block (3 s): the run waits for it and reports the registration, not the fault.
    let devnet = devnet_with(Duration::from_secs(3), vec![subnet(1, true, 2000)]).await;
    let backend = TestBackend::new(vec![Behaviour::HitThenPanic]);
    let (outcome, events) = run(&devnet, backend, LONG, LONG).await;
    assert!(
        matches!(outcome, Ok(Outcome::Registered { .. })),
        "{outcome:?}"
    );
    assert_eq!(faults(&events).len(), 1);
    assert!(events
        .iter()
        .any(|e| matches!(e, Seen::Target(Progress::Settling { .. }))));
    assert_eq!(submissions(&events), 1);
    assert!(uid_on_chain(&devnet).is_some());
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_seals_from_a_device_are_never_submitted() {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 2000)]).await;
    // The pool re-derives every hit: a device that reports a seal that is not its nonce's
    // is faulty and leaves at its first; with no device left the run ends (exit 3).
    let backend = TestBackend::new(vec![Behaviour::WrongSeal]);
    let (outcome, events) = run(&devnet, backend, Duration::from_secs(3), LONG).await;
    assert!(
        matches!(&outcome, Err(RegisterError::Devices { last_fault, .. }) if last_fault.contains("does not meet the target")),
        "{outcome:?}"
    );
    assert_eq!(faults(&events).len(), 1, "{events:?}");
    assert_eq!(submissions(&events), 0);
    assert!(devnet.node.lock().tx_pool.pending().is_empty());
    assert_eq!(uid_on_chain(&devnet), None);
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_is_reported() {
    let devnet = devnet_with(Duration::from_millis(300), vec![subnet(1, true, 2000)]).await;
    let backend = TestBackend::new(vec![Behaviour::Stall]);
    let (outcome, events) = run(
        &devnet,
        backend,
        Duration::from_secs(4),
        Duration::from_secs(1),
    )
    .await;
    assert!(
        matches!(outcome, Ok(Outcome::TimedOut { .. })),
        "{outcome:?}"
    );
    let stalled: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Seen::Device(DeviceEvent::Stalled { name, .. }) if name == "test0"))
        .collect();
    assert_eq!(stalled.len(), 1, "reported once per stall: {stalled:?}");
    devnet.stop().await;
}

/// A device that finds its first job's seal at once but hands it back only when the test
/// opens the gate (as a GPU finishing a batch after a head switch does); later jobs are
/// searched honestly.
struct HeldHit {
    gate: Mutex<bool>,
    opened: Condvar,
    first_job_seen: AtomicBool,
    /// The block hash of the job whose hit is held, once the device holds it.
    holding: Mutex<Option<[u8; 32]>>,
}

impl Backend for HeldHit {
    fn name(&self) -> &'static str {
        "held"
    }
    fn devices(&self) -> Vec<DeviceInfo> {
        vec![device("held")]
    }
    fn search(
        &self,
        _device: usize,
        job: &Job,
        range: NonceRange,
        control: &SearchControl,
    ) -> Result<SearchOutcome, BackendError> {
        if self.first_job_seen.swap(true, Ordering::SeqCst) {
            return Ok(honest_search(job, range, control));
        }
        let outcome = honest_search(job, range, &SearchControl::new());
        *self.holding.lock().unwrap() = Some(job.challenge.block_hash);
        let mut open = self.gate.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        control.add_hashes(0, 1);
        Ok(outcome)
    }
}

async fn reorg_scenario(depth: usize) {
    // Blocks come only when the test makes them.
    let devnet = devnet_with(Duration::from_secs(3600), vec![subnet(1, true, 2000)]).await;
    for _ in 0..4 {
        devnet.node.produce_block();
    }
    let backend = Arc::new(HeldHit {
        gate: Mutex::new(false),
        opened: Condvar::new(),
        first_job_seen: AtomicBool::new(false),
        holding: Mutex::new(None),
    });
    let (heads_tx, mut heads) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel) = mpsc::unbounded_channel();
    let running = tokio::spawn(run_at(
        devnet.url.clone(),
        backend.clone(),
        LONG,
        LONG,
        cancel,
        move |event| {
            if let Seen::Target(Progress::Head { number, .. }) = event {
                let _ = heads_tx.send(*number);
            }
        },
    ));
    // The device holds a seal on block 4; the chain re-organises under it.
    assert_eq!(heads.recv().await, Some(4));
    let orphaned = devnet.node.lock().chain.hash_of(4).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while backend.holding.lock().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the device never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*backend.holding.lock().unwrap(), Some(orphaned));
    let new_head = devnet.node.reorg(depth).unwrap().header.number;
    assert_eq!(new_head, 5);
    assert_ne!(devnet.node.lock().chain.hash_of(4).unwrap(), orphaned);
    while heads.recv().await != Some(5) {}
    *backend.gate.lock().unwrap() = true;
    backend.opened.notify_all();
    // The held seal must be dropped; the new head's seal goes into the pool.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while devnet.node.lock().tx_pool.pending().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing submitted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    devnet.node.produce_block();
    let (outcome, events) = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .unwrap()
        .unwrap();
    match outcome {
        Ok(Outcome::Registered { work_block, .. }) => assert_eq!(work_block, 5),
        other => panic!("{other:?}"),
    }
    assert!(
        events.iter().any(|e| matches!(
            e,
            Seen::Target(Progress::Discarded(Discard::Reorganised { work_block: 4 }))
        )),
        "{events:?}"
    );
    assert_eq!(
        submissions(&events),
        1,
        "the orphaned seal was not submitted"
    );
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_on_a_block_re_organised_away_at_depth_1_is_not_submitted() {
    reorg_scenario(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_on_a_block_re_organised_away_at_depth_3_is_not_submitted() {
    reorg_scenario(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_with_nothing_in_flight_ends_the_run_at_once() {
    let devnet = devnet_with(
        Duration::from_millis(300),
        vec![subnet(1, true, UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let backend = TestBackend::new(vec![Behaviour::Honest]);
    let (cancel_tx, cancel) = mpsc::unbounded_channel();
    let started = std::time::Instant::now();
    let (outcome, _) = run_at(
        devnet.url.clone(),
        backend,
        LONG,
        LONG,
        cancel,
        move |event| {
            if matches!(event, Seen::Device(DeviceEvent::Hashrate { hashes, .. }) if *hashes > 0) {
                let _ = cancel_tx.send(());
            }
        },
    )
    .await;
    assert_eq!(outcome.unwrap(), Outcome::Cancelled { in_doubt: None });
    assert!(started.elapsed() < Duration::from_secs(10));
    devnet.stop().await;
}
