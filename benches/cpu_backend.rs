//! Criterion benchmarks of the CPU hot paths: each kernel on one thread, the reference seal,
//! and the whole backend on every thread.
//!
//! Run: `cargo bench -p regpow-benches` (figures in `target/criterion/`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use regpow_solver::cpu::{CpuBackend, CpuKernel, SealMidstate};
use regpow_solver::{Backend, Job, NonceRange, SearchControl};

fn job() -> Job {
    let ch = Challenge::new(1, [0x11; 32], PublicKey([0x22; 32]), PublicKey([0x33; 32])).unwrap();
    // Unreachable difficulty: nothing but hashing is measured.
    Job::new(ch, Difficulty::new(u64::MAX).unwrap())
}

fn kernels(c: &mut Criterion) {
    const NONCES: u64 = 1 << 14;
    let job = job();
    let midstate = SealMidstate::new(&job.prefix);
    let mut group = c.benchmark_group("kernel_one_thread");
    group.throughput(Throughput::Elements(NONCES));
    for kernel in CpuKernel::supported() {
        group.bench_function(BenchmarkId::from_parameter(kernel), |b| {
            b.iter(|| kernel.first_candidate(&midstate, 1 << 32, NONCES, job.bound.high()))
        });
    }
    group.finish();
}

fn reference(c: &mut Criterion) {
    let job = job();
    let mut group = c.benchmark_group("reference_seal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_seal", |b| {
        let mut nonce = 0u64;
        b.iter(|| {
            nonce += 1;
            reference_seal(&job.prefix, nonce)
        })
    });
    group.finish();
}

fn backend_all_threads(c: &mut Criterion) {
    const NONCES: u64 = 1 << 20;
    let job = job();
    let backend = CpuBackend::new(None, None).unwrap();
    let mut group = c.benchmark_group("backend_all_threads");
    group.throughput(Throughput::Elements(NONCES));
    group.sample_size(10);
    group.bench_function(
        BenchmarkId::from_parameter(format!("{}x{}", backend.kernel(), backend.threads())),
        |b| {
            b.iter(|| {
                let control = SearchControl::new();
                backend
                    .search(0, &job, NonceRange::with_len(0, NONCES), &control)
                    .unwrap()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, kernels, reference, backend_all_threads);
criterion_main!(benches);
