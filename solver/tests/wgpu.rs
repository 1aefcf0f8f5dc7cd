//! The WGSL kernel on a real wgpu adapter (in CI: Mesa's lavapipe, a Vulkan driver on the CPU).
//!
//! These tests need an adapter; install one with `apt-get install mesa-vulkan-drivers`.
//! They fail rather than skip without one, so CI can never pass them vacuously. A software
//! adapter such as lavapipe is enough, except under REGPOW_REQUIRE_GPU=1 (`common::gpu`),
//! where adapter 0 must be a real GPU.

mod common;

use std::sync::Arc;

use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use regpow_solver::search::solve;
use regpow_solver::wgpu::{LaneMode, WgpuBackend, WgpuOptions};
use regpow_solver::DevicePool;
use regpow_solver::{Backend, Job, NonceRange, SearchControl, SearchOutcome};

fn open(lanes: LaneMode, batch: Option<u32>) -> WgpuBackend {
    std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    // Real GPUs are listed first, so adapter 0 is one wherever the machine has one.
    if let Some(adapter) = regpow_solver::wgpu::list().first() {
        common::gpu::require_gpu((!adapter.is_gpu).then(|| {
            format!(
                "wgpu adapter 0 is {} ({}, {}), not a GPU",
                adapter.name, adapter.device_type, adapter.api
            )
        }));
    }
    WgpuBackend::open(&WgpuOptions {
        devices: Some(vec![0]),
        batch,
        lanes,
    })
    .expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)")
}

fn random_job(seed: u8) -> Job {
    let ch = Challenge::new(
        u16::from(seed) * 257 + 1,
        [seed.wrapping_mul(3); 32],
        PublicKey([seed.wrapping_add(1); 32]),
        PublicKey([seed.wrapping_add(2); 32]),
    )
    .unwrap();
    Job::new(ch, Difficulty::new(1000).unwrap())
}

fn check_seals(backend: &WgpuBackend, job: &Job, start: u64, count: u32) {
    let seals = backend.gpu_seals(0, job, start, count).unwrap();
    for (i, seal) in seals.iter().enumerate() {
        let nonce = start.wrapping_add(i as u64);
        assert_eq!(
            hex::encode(seal),
            hex::encode(reference_seal(&job.prefix, nonce).0),
            "nonce {nonce:#x}"
        );
    }
}

#[test]
fn kernel_seals_equal_the_reference_in_both_lane_modes() {
    for lanes in [LaneMode::U32, LaneMode::U64] {
        let backend = open(lanes, Some(1 << 14));
        eprintln!("{:?}: {:?}", lanes, backend.devices());
        for seed in 0..4 {
            let job = random_job(seed);
            // Edges: 0, around 2^32 (nonce byte 4 and the 32-bit carry), 2^40 (the split
            // between blocks 2 and 3), and the top of the range (wrapping past 2^64 − 1).
            for start in [0u64, (1 << 32) - 40, (1 << 40) - 3, u64::MAX - 30] {
                check_seals(&backend, &job, start, 77);
            }
        }
    }
}

#[test]
fn wgpu_solves_the_reference_challenges() {
    let pool = DevicePool::new(vec![Arc::new(open(LaneMode::Auto, Some(1 << 16)))]);
    for case in common::solved() {
        let report = solve(&pool, &case.job, NonceRange::from(case.start), None).unwrap();
        let hit = report.hit.expect("a hit");
        // One device, batches in order, lowest candidate first: the first solution.
        assert_eq!(hit.nonce, case.nonce);
        assert_eq!(hit.seal.to_string(), case.seal);
    }
}

#[test]
fn an_exhausted_range_counts_every_nonce_and_a_stop_ends_the_search() {
    let backend = open(LaneMode::U32, Some(1 << 14));
    let job = Job::new(random_job(9).challenge, Difficulty::new(u64::MAX).unwrap());
    let range = NonceRange::with_len(u64::MAX - 100_000, 100_001);
    let control = SearchControl::new();
    assert_eq!(
        backend.search(0, &job, range, &control).unwrap(),
        SearchOutcome::Exhausted
    );
    assert_eq!(u128::from(control.hashes()), range.len());
    assert_eq!(control.hashes(), control.device_hashes(0));

    let control = SearchControl::new();
    control.stop();
    assert_eq!(
        backend
            .search(0, &job, NonceRange::from(0), &control)
            .unwrap(),
        SearchOutcome::Stopped
    );
}
