//! Criterion benchmark of the wgpu backend: one search over a fixed range on adapter 0,
//! including dispatch, read-back and verification. Skipped (with a message) without an
//! adapter.
//!
//! Run: `cargo bench -p regpow-benches --bench wgpu_backend`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use regpow_rules::{Challenge, Difficulty, PublicKey};
use regpow_solver::wgpu::{LaneMode, WgpuBackend, WgpuOptions};
use regpow_solver::{Backend, Job, NonceRange, SearchControl};

fn wgpu_search(c: &mut Criterion) {
    let ch = Challenge::new(1, [0x11; 32], PublicKey([0x22; 32]), PublicKey([0x33; 32])).unwrap();
    let job = Job::new(ch, Difficulty::new(u64::MAX).unwrap());
    let mut group = c.benchmark_group("wgpu_search");
    group.sample_size(10);
    for lanes in [LaneMode::U32, LaneMode::U64] {
        let options = WgpuOptions {
            devices: Some(vec![0]),
            batch: None,
            lanes,
        };
        let backend = match WgpuBackend::open(&options) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("skipped wgpu_search/{lanes:?}: {e}");
                continue;
            }
        };
        // Four tuned dispatches per iteration: both buffers cycle twice.
        let nonces = u64::from(backend.batches()[0]) * 4;
        group.throughput(Throughput::Elements(nonces));
        let name = format!("{:?}/{}", lanes, backend.devices()[0].name);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let control = SearchControl::new();
                backend
                    .search(0, &job, NonceRange::with_len(0, nonces), &control)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, wgpu_search);
criterion_main!(benches);
