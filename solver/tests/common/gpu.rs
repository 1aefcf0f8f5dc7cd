//! The one policy for tests that need a real GPU, shared by regpow-solver's tests (as
//! `common::gpu`) and by regpow's (through `#[path]`):
//!
//! - without the hardware a test prints one line, `skipped: <reason>`, on stderr and passes;
//! - with `REGPOW_REQUIRE_GPU=1` (`benches/gpu-check.sh` sets it where a GPU is present) the
//!   missing hardware fails the test with the reason instead, so a GPU run never passes
//!   vacuously.
//!
//! Tests that run on any adapter, software ones included (the wgpu tests on lavapipe), never
//! skip; with `REGPOW_REQUIRE_GPU=1` they must also have had a real GPU ([`require_gpu`]).

#![allow(dead_code)] // each test binary uses its own share of these

/// `REGPOW_REQUIRE_GPU=1`: a missing GPU fails the test instead of skipping it.
pub fn gpu_required() -> bool {
    std::env::var("REGPOW_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// Whether a test that needs a real GPU runs: `missing` is `None` when the hardware is here,
/// else why not. Without the hardware it prints `skipped: <reason>` and returns false, or,
/// with `REGPOW_REQUIRE_GPU=1`, panics with the reason.
pub fn gpu_or_skip(missing: Option<String>) -> bool {
    let Some(reason) = missing else {
        return true;
    };
    assert!(!gpu_required(), "REGPOW_REQUIRE_GPU=1 but {reason}");
    eprintln!("skipped: {reason} (REGPOW_REQUIRE_GPU=1 makes this a failure)");
    false
}

/// For a test that runs on whatever adapter there is: with `REGPOW_REQUIRE_GPU=1`, panics
/// with the reason when `missing` says there is no real GPU; otherwise does nothing.
pub fn require_gpu(missing: Option<String>) {
    if let Some(reason) = missing {
        assert!(!gpu_required(), "REGPOW_REQUIRE_GPU=1 but {reason}");
    }
}
