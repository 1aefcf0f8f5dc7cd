//! The CUDA backend on a real NVIDIA GPU. Without one these tests print `skipped: <reason>`
//! and pass, unless REGPOW_REQUIRE_GPU=1, where they fail (`common::gpu`); on a GPU machine
//! they check the kernel against the reference, solve the reference challenges and split a
//! range across devices.

use regpow_solver::cuda::{self, CudaBackend, CudaOptions};
mod common;

use std::sync::Arc;

use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use regpow_solver::search::solve;
use regpow_solver::DevicePool;
use regpow_solver::{Backend, Job, NonceRange};

fn backend(devices: Option<Vec<usize>>) -> Option<CudaBackend> {
    let missing = cuda::status()
        .reason
        .map(|reason| format!("CUDA unavailable here: {reason}"));
    if !common::gpu::gpu_or_skip(missing) {
        return None;
    }
    let options = CudaOptions {
        devices,
        batch: Some(1 << 16),
    };
    Some(CudaBackend::open(&options).expect("CUDA is available, so the backend must open"))
}

#[test]
fn kernel_seals_equal_the_reference() {
    let Some(backend) = backend(Some(vec![0])) else {
        return;
    };
    eprintln!("{:?} {:?}", backend.devices(), backend.resources());
    for seed in 1..=4u8 {
        let ch = Challenge::new(
            u16::from(seed),
            [seed; 32],
            PublicKey([seed ^ 1; 32]),
            PublicKey([seed ^ 2; 32]),
        )
        .unwrap();
        let job = Job::new(ch, Difficulty::new(1000).unwrap());
        for start in [0u64, (1 << 32) - 40, (1 << 40) - 3, u64::MAX - 30] {
            let seals = backend.gpu_seals(0, &job, start, 77).unwrap();
            for (i, seal) in seals.iter().enumerate() {
                let nonce = start.wrapping_add(i as u64);
                assert_eq!(
                    *seal,
                    reference_seal(&job.prefix, nonce).0,
                    "nonce {nonce:#x}"
                );
            }
        }
    }
}

#[test]
fn cuda_solves_the_reference_challenges() {
    let Some(backend) = backend(Some(vec![0])) else {
        return;
    };
    let pool = DevicePool::new(vec![Arc::new(backend)]);
    for case in common::solved() {
        let hit = solve(&pool, &case.job, NonceRange::from(case.start), None)
            .unwrap()
            .hit
            .expect("a hit");
        assert_eq!(hit.nonce, case.nonce);
        assert_eq!(hit.seal.to_string(), case.seal);
    }
}

#[test]
fn every_device_takes_part_in_a_search() {
    let Some(all) = backend(None) else {
        return;
    };
    // Several devices at once is the pool's job: one worker per GPU, stripes of the range.
    let n = all.devices().len();
    let pool = DevicePool::new(vec![Arc::new(all)]);
    let ch = Challenge::new(5, [5; 32], PublicKey([6; 32]), PublicKey([7; 32])).unwrap();
    let job = Job::new(ch, Difficulty::new(u64::MAX).unwrap());
    let range = NonceRange::with_len(u64::MAX - (1 << 24), 1 << 24);
    let report = solve(&pool, &job, range, None).unwrap();
    assert!(report.hit.is_none() && report.exhausted, "{report:?}");
    assert_eq!(u128::from(report.hashes), range.len());
    for (d, hashes) in report.device_hashes.iter().enumerate() {
        assert!(*hashes > 0, "device {d} did no work (of {n})");
    }
}
