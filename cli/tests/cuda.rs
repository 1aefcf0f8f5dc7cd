//! `--backend cuda` where CUDA cannot run: no driver at all, and a driver with no device
//! (a real shared library standing in for libcuda, built here from
//! `tests/fixtures/fake_libcuda.c`); and where it can, on a real NVIDIA GPU. The GPU tests
//! follow the GPU test policy (the solver's `tests/common/gpu.rs`): without a GPU they print
//! `skipped: <reason>` and pass, under REGPOW_REQUIRE_GPU=1 they fail.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

#[path = "../../solver/tests/common/gpu.rs"]
mod gpu;
use gpu::gpu_or_skip;

fn regpow(args: &[&str], library_path: Option<&PathBuf>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpow"));
    cmd.args(args).env("XDG_RUNTIME_DIR", std::env::temp_dir());
    if let Some(dir) = library_path {
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    cmd.output().expect("run regpow")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

const SOLVE: &[&str] = &[
    "solve",
    "--backend",
    "cuda",
    "--netuid",
    "1",
    "--block-hash",
    "0x0101010101010101010101010101010101010101010101010101010101010101",
    "--hotkey",
    "0x0202020202020202020202020202020202020202020202020202020202020202",
    "--coldkey",
    "0x0303030303030303030303030303030303030303030303030303030303030303",
    "--difficulty",
    "1000",
];

/// Builds a libcuda whose every call answers CUDA_ERROR_NO_DEVICE.
fn fake_driver_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("regpow-fake-cuda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake_libcuda.c");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    for name in ["libcuda.so", "libcuda.so.1"] {
        let status = Command::new(&compiler)
            .args(["-shared", "-fPIC", "-o"])
            .arg(dir.join(name))
            .arg(source)
            .status()
            .expect("a C compiler");
        assert!(status.success());
    }
    dir
}

#[test]
fn a_driver_without_devices_is_exit_3_with_the_driver_error() {
    let dir = fake_driver_dir();
    let out = regpow(SOLVE, Some(&dir));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: CUDA unavailable: the CUDA driver reports CUDA_ERROR_NO_DEVICE"),
        "{err}"
    );
    let out = regpow(&["--json", "devices"], Some(&dir));
    let json: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(json["cuda"]["available"], false);
    assert_eq!(json["cuda"]["driver"], "12.8");
    assert!(json["cuda"]["devices"].as_array().unwrap().is_empty());
    let human = text(&regpow(&["devices"], Some(&dir)).stdout);
    assert!(human.contains("cuda: unavailable: the CUDA driver reports CUDA_ERROR_NO_DEVICE"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn no_driver_is_exit_3_with_one_line() {
    let listed: Value =
        serde_json::from_str(&text(&regpow(&["--json", "devices"], None).stdout)).unwrap();
    if listed["cuda"]["reason"] != "libcuda.so not found (no NVIDIA driver)" {
        eprintln!("skipped: this machine has an NVIDIA driver");
        return;
    }
    let out = regpow(SOLVE, None);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(
        err.trim(),
        "error: CUDA unavailable: libcuda.so not found (no NVIDIA driver)"
    );
}

/// Why `--backend cuda` cannot run here, as `regpow --json devices` says; `None` when it can.
fn cuda_missing() -> Option<String> {
    let listed: Value =
        serde_json::from_str(&text(&regpow(&["--json", "devices"], None).stdout)).unwrap();
    (listed["cuda"]["available"] != true).then(|| {
        format!(
            "CUDA unavailable here: {}",
            listed["cuda"]["reason"].as_str().unwrap_or("?")
        )
    })
}

#[test]
fn solve_with_cuda_finds_the_first_solution() {
    if !gpu_or_skip(cuda_missing()) {
        return;
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/tests/data/vectors.json"
    );
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for v in vectors["solved"].as_array().unwrap() {
        let netuid = v["netuid"].to_string();
        // One device, small launches in order: the first solution from the start nonce.
        let mut args = vec![
            "--json",
            "solve",
            "--backend",
            "cuda",
            "--device",
            "0",
            "--gpu-batch",
            "65536",
            "--netuid",
            &netuid,
        ];
        for (flag, key) in [
            ("--block-hash", "block_hash"),
            ("--hotkey", "hotkey"),
            ("--coldkey", "coldkey"),
            ("--difficulty", "difficulty"),
            ("--start-nonce", "start_nonce"),
        ] {
            args.extend([flag, v[key].as_str().unwrap()]);
        }
        let out = regpow(&args, None);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let json: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
        assert_eq!(json["nonce"].to_string(), v["nonce"].as_str().unwrap());
        assert_eq!(json["seal"], v["seal"]);
        assert_eq!(json["backend"], "cuda");
    }
}

#[test]
fn bench_with_cuda_reports_every_device() {
    if !gpu_or_skip(cuda_missing()) {
        return;
    }
    let listed: Value =
        serde_json::from_str(&text(&regpow(&["--json", "devices"], None).stdout)).unwrap();
    let count = listed["cuda"]["devices"].as_array().unwrap().len();
    let out = regpow(
        &["--json", "bench", "--backend", "cuda", "--seconds", "1"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(json["backend"], "cuda");
    let devices = json["devices"].as_array().unwrap();
    assert_eq!(devices.len(), count, "{json}");
    for d in devices {
        assert!(d["hashrate"].as_f64().unwrap() > 0.0, "{json}");
    }
    assert!(json["hashrate"].as_f64().unwrap() > 0.0, "{json}");
}
