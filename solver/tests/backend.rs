//! The CPU backend's contract: it counts every hash, ends at the end of its range, stops when
//! told, and reports hits only after verifying them.

use std::time::{Duration, Instant};

use regpow_solver::cpu::{CpuBackend, CpuKernel};
use std::sync::Arc;

use regpow_rules::{Challenge, Difficulty, PublicKey};
use regpow_solver::search::solve;
use regpow_solver::DevicePool;
use regpow_solver::{Backend, Job, NonceRange, SearchControl, SearchOutcome};

fn unreachable_job() -> Job {
    let ch = Challenge::new(3, [0xAB; 32], PublicKey([1; 32]), PublicKey([2; 32])).unwrap();
    Job::new(ch, Difficulty::new(u64::MAX).unwrap())
}

#[test]
fn an_exhausted_range_counts_every_nonce() {
    for kernel in CpuKernel::supported() {
        let backend = CpuBackend::new(Some(2), Some(kernel)).unwrap();
        // Odd length, crossing chunk boundaries and ending at u64::MAX.
        let range = NonceRange::with_len(u64::MAX - 200_002, 200_003);
        let control = SearchControl::new();
        let outcome = backend
            .search(0, &unreachable_job(), range, &control)
            .unwrap();
        assert_eq!(outcome, SearchOutcome::Exhausted, "{kernel}");
        assert_eq!(u128::from(control.hashes()), range.len(), "{kernel}");
    }
}

#[test]
fn a_stop_ends_the_search_promptly() {
    let backend = CpuBackend::new(Some(2), None).unwrap();
    let control = SearchControl::new();
    let started = Instant::now();
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            control.stop();
        });
        backend
            .search(0, &unreachable_job(), NonceRange::from(0), &control)
            .unwrap()
    });
    assert_eq!(outcome, SearchOutcome::Stopped);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(control.hashes() > 0);
}

#[test]
fn solve_times_out_without_a_hit() {
    let pool = DevicePool::new(vec![Arc::new(CpuBackend::new(Some(1), None).unwrap())]);
    let report = solve(
        &pool,
        &unreachable_job(),
        NonceRange::from(0),
        Some(Duration::from_millis(300)),
    )
    .unwrap();
    assert!(report.hit.is_none() && !report.exhausted);
    assert!(report.elapsed >= Duration::from_millis(300));
    assert!(report.hashes > 0 && report.hashrate() > 0.0);
}

#[test]
fn difficulty_one_accepts_the_first_nonce() {
    let pool = DevicePool::new(vec![Arc::new(CpuBackend::new(None, None).unwrap())]);
    let mut job = unreachable_job();
    job = Job::new(job.challenge, Difficulty::new(1).unwrap());
    let report = solve(&pool, &job, NonceRange::from(u64::MAX), None).unwrap();
    assert_eq!(report.hit.unwrap().nonce, u64::MAX);
}

#[test]
fn devices_name_the_kernel_and_threads() {
    let backend = CpuBackend::new(Some(1), Some(CpuKernel::Scalar)).unwrap();
    let devices = backend.devices();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name, "cpu (scalar kernel, 1 thread)");
}
