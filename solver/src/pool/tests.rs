use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;

use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};

use super::*;
use crate::backend::{BackendError, DeviceInfo, SearchOutcome};
use crate::cpu::CpuBackend;

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

fn pool_of(backends: Vec<Arc<dyn Backend>>) -> (DevicePool, mpsc::Receiver<PoolEvent>) {
    let pool = DevicePool::new(backends);
    let rx = pool.events();
    (pool, rx)
}

fn cpu(threads: usize) -> Arc<dyn Backend> {
    Arc::new(CpuBackend::new(Some(threads), None).unwrap())
}

fn info(id: &str) -> DeviceInfo {
    DeviceInfo {
        id: id.into(),
        name: id.into(),
        kind: "test".into(),
        driver: "test".into(),
    }
}

/// The next event that is not a retarget report.
fn next_work_event(rx: &mpsc::Receiver<PoolEvent>) -> PoolEvent {
    loop {
        match rx.recv_timeout(Duration::from_secs(20)).expect("an event") {
            PoolEvent::Retargeted { .. } => continue,
            other => return other,
        }
    }
}

#[test]
fn every_hit_carries_its_own_job_across_assignments() {
    let (pool, rx) = pool_of(vec![cpu(1)]);
    assert_eq!(pool.devices()[0].id, "cpu");
    let first = pool.assign(vec![PoolJob::new(job(1, 64), 1)]);
    let PoolEvent::Hit {
        job: j, generation, ..
    } = next_work_event(&rx)
    else {
        panic!("not a hit")
    };
    assert_eq!((j.work_block, generation), (1, first));
    let second = pool.assign(vec![PoolJob::new(job(2, 64), 2)]);
    let mut seen_new = 0;
    while seen_new < 3 {
        let PoolEvent::Hit {
            job,
            hit,
            generation,
            device,
        } = next_work_event(&rx)
        else {
            panic!("not a hit")
        };
        assert_eq!(device, 0);
        assert_eq!(reference_seal(&job.job.prefix, hit.nonce), hit.seal);
        assert!(hit.seal.meets(&job.job.bound));
        assert_eq!(job.job.challenge.block_hash, [job.work_block as u8; 32]);
        if generation == second {
            assert_eq!(job.work_block, 2);
            seen_new += 1;
        }
    }
    let before = pool.stats()[0].clone();
    assert!(before.hashes > 0 && before.seals_found >= 4, "{before:?}");
    pool.stop();
    std::thread::sleep(Duration::from_millis(100));
    let settled = pool.hashes();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(pool.hashes(), settled, "an idle pool hashes no more");
    assert!(settled >= before.hashes, "counters are cumulative");
    assert!(!pool.stats()[0].busy);
}

#[test]
fn a_new_assignment_is_reported_once_every_device_hashes_it() {
    let (pool, rx) = pool_of(vec![cpu(1), cpu(1)]);
    for block in 1..=5u8 {
        let generation = pool.assign(vec![PoolJob::new(job(block, 1 << 40), u64::from(block))]);
        let took = loop {
            match rx
                .recv_timeout(Duration::from_secs(10))
                .expect("a retarget")
            {
                PoolEvent::Retargeted {
                    generation: g,
                    took,
                    ..
                } if g == generation => break took,
                _ => {}
            }
        };
        assert!(took < Duration::from_secs(1), "{took:?}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// A device whose search takes its time to notice a stop (as a GPU finishing its batches
/// does), and that records whether two searches ever ran at once.
#[derive(Default)]
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
        vec![info("slow")]
    }
    fn search(
        &self,
        _device: usize,
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
    let backend = Arc::new(SlowToDrain::default());
    let (pool, _rx) = pool_of(vec![backend.clone()]);
    for block in 0..20u8 {
        pool.assign(vec![PoolJob::new(job(block, 1 << 40), u64::from(block))]);
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !backend.overlapped.load(Ordering::SeqCst),
        "two jobs ran at once"
    );
    assert!(backend.searches.load(Ordering::SeqCst) >= 2);
}

/// A device that panics, errors, or claims a hit that is not one, on its first search.
struct Faulty {
    how: &'static str,
}

impl Backend for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn devices(&self) -> Vec<DeviceInfo> {
        vec![info("faulty")]
    }
    fn search(
        &self,
        _device: usize,
        job: &Job,
        range: NonceRange,
        _control: &SearchControl,
    ) -> Result<SearchOutcome, BackendError> {
        match self.how {
            "panic" => panic!("kernel exploded"),
            "error" => Err(BackendError::Fault("lost the device".into())),
            _ => Ok(SearchOutcome::Found(crate::backend::Hit {
                nonce: range.start,
                seal: reference_seal(&job.prefix, range.start.wrapping_add(1)),
            })),
        }
    }
}

#[test]
fn a_faulty_device_leaves_and_the_others_take_its_share() {
    for (how, words) in [
        ("panic", "panicked: kernel exploded"),
        ("error", "lost the device"),
        ("lie", "does not meet the target"),
    ] {
        let (pool, rx) = pool_of(vec![Arc::new(Faulty { how }), cpu(1)]);
        pool.assign(vec![PoolJob::new(job(1, 64), 1)]);
        let mut fault = None;
        let mut hits_after = 0;
        while hits_after < 3 {
            match next_work_event(&rx) {
                PoolEvent::Fault { device, reason } => {
                    assert_eq!(device, 0);
                    fault = Some(reason);
                }
                PoolEvent::Hit { device, .. } => {
                    assert_eq!(device, 1, "{how}: the faulty device never reports a hit");
                    hits_after += usize::from(fault.is_some());
                }
                other => panic!("{other:?}"),
            }
        }
        let reason = fault.unwrap();
        assert!(reason.contains(words), "{reason}");
        let stats = pool.stats();
        assert!(!stats[0].alive && stats[0].errors == 1 && stats[1].alive);
        assert_eq!(pool.alive(), 1);
    }
}

/// Records every range it is asked to search and searches it at once (no hits).
#[derive(Default)]
struct Recorder {
    ranges: Mutex<Vec<NonceRange>>,
}

impl Backend for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn devices(&self) -> Vec<DeviceInfo> {
        vec![info("rec")]
    }
    fn search(
        &self,
        _device: usize,
        _job: &Job,
        range: NonceRange,
        control: &SearchControl,
    ) -> Result<SearchOutcome, BackendError> {
        self.ranges.lock().unwrap().push(range);
        control.add_hashes(0, range.len() as u64);
        Ok(SearchOutcome::Exhausted)
    }
}

#[test]
fn devices_search_disjoint_stripes_that_cover_a_bounded_range() {
    let recorders: Vec<Arc<Recorder>> = (0..3).map(|_| Arc::new(Recorder::default())).collect();
    let (pool, rx) = pool_of(
        recorders
            .iter()
            .map(|r| r.clone() as Arc<dyn Backend>)
            .collect(),
    );
    let range = NonceRange::new(1000, 1999).unwrap();
    pool.assign(vec![PoolJob {
        range: Some(range),
        ..PoolJob::new(job(1, 1 << 40), 1)
    }]);
    for _ in 0..3 {
        assert!(matches!(
            next_work_event(&rx),
            PoolEvent::Exhausted { job: 0, .. }
        ));
    }
    let mut all: Vec<NonceRange> = recorders
        .iter()
        .flat_map(|r| r.ranges.lock().unwrap().clone())
        .collect();
    all.sort_by_key(|r| r.start);
    assert_eq!(all.first().unwrap().start, 1000);
    assert_eq!(all.last().unwrap().end, 1999);
    for pair in all.windows(2) {
        assert_eq!(pair[0].end + 1, pair[1].start, "{all:?}");
    }
    assert_eq!(pool.hashes(), 1000);
}

#[test]
fn jobs_share_one_device_by_weight() {
    let (pool, rx) = pool_of(vec![cpu(1)]);
    let heavy = PoolJob {
        weight: 3,
        ..PoolJob::new(job(1, 512), 1)
    };
    let light = PoolJob::new(job(2, 512), 2);
    pool.assign(vec![light, heavy]);
    let mut hits = [0u32; 2];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        if let Ok(PoolEvent::Hit { job, .. }) = rx.recv_timeout(Duration::from_millis(100)) {
            hits[usize::from(job.work_block == 1)] += 1;
        }
    }
    pool.stop();
    // Time shares 1:3, so hits about 1:3 (hundreds of each at difficulty 512).
    let share = f64::from(hits[1]) / f64::from(hits[0] + hits[1]);
    assert!(hits[0] > 20 && (0.6..0.9).contains(&share), "{hits:?}");
}
