//! seal.cu's hashing functions compiled as host C++ (no GPU, no CUDA) and compared with the
//! reference seal: random challenges, edge nonces, and the early-reject lane.

use std::io::Write;
use std::process::{Command, Stdio};

use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use regpow_solver::gpu_job::GpuJob;
use regpow_solver::Job;

/// Builds kernels/host_harness.cpp (which includes seal.cu) with the system C++ compiler.
fn build_harness() -> std::path::PathBuf {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels");
    let out = std::env::temp_dir().join(format!("regpow-seal-harness-{}", std::process::id()));
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let status = Command::new(&compiler)
        .args([
            "-O2",
            "-std=c++17",
            "-Wall",
            "-Wno-unknown-pragmas",
            "-Werror",
            "-o",
        ])
        .arg(&out)
        .arg(format!("{root}/host_harness.cpp"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C++ compiler '{compiler}': {e}"));
    assert!(status.success(), "seal.cu does not compile as host C++");
    out
}

fn run_harness(harness: &std::path::Path, job: &Job, nonces: &[u64]) -> Vec<(String, u64)> {
    let gpu = GpuJob::new(job);
    let mut input = String::new();
    for word in gpu.midstate.iter().chain(&gpu.state14).chain(&gpu.block2) {
        input.push_str(&format!("{word:08x} "));
    }
    input.push('\n');
    for nonce in nonces {
        input.push_str(&format!("{nonce}\n"));
    }
    let mut child = Command::new(harness)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (seal, high) = line.split_once(' ').unwrap();
            (seal.to_string(), u64::from_str_radix(high, 16).unwrap())
        })
        .collect()
}

#[test]
fn host_build_of_the_cuda_kernel_matches_the_reference() {
    let harness = build_harness();
    let mut nonces: Vec<u64> = vec![0, 1, 255, 256];
    for edge in [1u64 << 32, 1 << 40, 1 << 63, u64::MAX] {
        nonces.extend((0..5).map(|i| edge.wrapping_sub(2).wrapping_add(i)));
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..64 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        nonces.push(state);
    }
    for seed in 1..=6u8 {
        let ch = Challenge::new(
            u16::from(seed) * 1000,
            [seed; 32],
            PublicKey([seed ^ 0x5A; 32]),
            PublicKey([seed ^ 0xA5; 32]),
        )
        .unwrap();
        let job = Job::new(ch, Difficulty::new(1000).unwrap());
        let got = run_harness(&harness, &job, &nonces);
        assert_eq!(got.len(), nonces.len());
        for (nonce, (seal, high)) in nonces.iter().zip(got) {
            let want = reference_seal(&job.prefix, *nonce);
            assert_eq!(seal, hex::encode(want.0), "nonce {nonce:#x}");
            assert_eq!(high, want.limbs()[3], "early-reject lane, nonce {nonce:#x}");
        }
    }
    let _ = std::fs::remove_file(harness);
}
