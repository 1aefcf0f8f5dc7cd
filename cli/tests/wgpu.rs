//! `regpow` with the wgpu backend on a real adapter (CI: Mesa's lavapipe), and without one.
//! Checks that need a real GPU or a GL adapter follow the GPU test policy (the solver's
//! `tests/common/gpu.rs`): skipped without the hardware, failed under REGPOW_REQUIRE_GPU=1.

use std::process::{Command, Output};

use serde_json::Value;

#[path = "../../solver/tests/common/gpu.rs"]
mod gpu;
use gpu::{gpu_or_skip, require_gpu};

fn regpow_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpow"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run regpow")
}

fn regpow(args: &[&str]) -> Output {
    regpow_env(args, &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn solved() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/tests/data/vectors.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["solved"].as_array().unwrap().clone()
}

fn challenge_flags(v: &Value) -> Vec<String> {
    let mut flags = vec!["--netuid".to_string(), v["netuid"].to_string()];
    for (flag, key) in [
        ("--block-hash", "block_hash"),
        ("--hotkey", "hotkey"),
        ("--coldkey", "coldkey"),
        ("--difficulty", "difficulty"),
        ("--start-nonce", "start_nonce"),
    ] {
        flags.push(flag.into());
        flags.push(v[key].as_str().unwrap().into());
    }
    flags
}

#[test]
fn devices_lists_the_cpu_and_the_adapters() {
    let out = regpow(&["--json", "devices"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert!(!json["cpu"]["kernels"].as_array().unwrap().is_empty());
    let adapters = json["wgpu"].as_array().unwrap();
    assert!(
        !adapters.is_empty(),
        "no wgpu adapter: install mesa-vulkan-drivers"
    );
    assert_eq!(adapters[0]["index"], 0);
    assert!(!adapters[0]["name"].as_str().unwrap().is_empty());
    // Real GPUs are listed first: lavapipe is enough here, except under REGPOW_REQUIRE_GPU=1.
    require_gpu((adapters[0]["is_gpu"] != true).then(|| {
        format!(
            "wgpu adapter 0 is {} ({}), not a GPU",
            adapters[0]["name"].as_str().unwrap_or("?"),
            adapters[0]["device_type"].as_str().unwrap_or("?")
        )
    }));
    let human = regpow(&["devices"]);
    assert!(text(&human.stdout).contains("wgpu 0: "));
}

#[test]
fn solve_with_wgpu_finds_the_first_solution() {
    for v in solved().iter().take(4) {
        let json = solve_with_wgpu(v, &[]);
        assert_eq!(json["seal"], v["seal"]);
        assert_eq!(json["backend"], "wgpu");
    }
}

/// `regpow --json solve --backend wgpu` on a solved vector (small batches, so the first
/// solution is found); asserts exit 0 and the reference's nonce, returns the JSON.
fn solve_with_wgpu(v: &Value, env: &[(&str, &str)]) -> Value {
    let flags = challenge_flags(v);
    let mut args = vec![
        "--json",
        "solve",
        "--backend",
        "wgpu",
        "--gpu-batch",
        "65536",
    ];
    args.extend(flags.iter().map(String::as_str));
    let out = regpow_env(&args, env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(json["nonce"].to_string(), v["nonce"].as_str().unwrap());
    json
}

#[test]
fn bench_with_wgpu_reports_per_device_hashrate() {
    for lanes in ["u32", "u64"] {
        let out = regpow(&[
            "--json",
            "bench",
            "--backend",
            "wgpu",
            "--device",
            "0",
            "--gpu-lanes",
            lanes,
            "--seconds",
            "1",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let json: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
        assert_eq!(json["backend"], "wgpu");
        let devices = json["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 1);
        assert!(devices[0]["hashrate"].as_f64().unwrap() > 0.0);
        assert!(json["hashrate"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn no_adapter_is_exit_3_with_one_line() {
    // Metal does not exist on Linux: wgpu finds no adapter at all.
    let out = regpow_env(
        &["bench", "--backend", "wgpu", "--seconds", "1"],
        &[("WGPU_BACKEND", "metal")],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: wgpu: no adapter found"), "{err}");
}

#[test]
fn a_missing_device_is_exit_3() {
    let out = regpow(&[
        "bench",
        "--backend",
        "wgpu",
        "--device",
        "99",
        "--seconds",
        "1",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("no device 99"), "{err}");
}

#[test]
fn auto_falls_back_to_the_cpu_with_a_note() {
    // lavapipe is a CPU rasteriser, not a GPU: auto must not pick it over the CPU backend.
    let listed: Value =
        serde_json::from_str(&text(&regpow(&["--json", "devices"]).stdout)).unwrap();
    let has_gpu = listed["wgpu"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["is_gpu"] == true);
    let out = regpow(&["--json", "bench", "--seconds", "0.3", "--threads", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    if listed["cuda"]["available"] == true {
        assert_eq!(json["backend"], "cuda");
        return;
    }
    if has_gpu {
        assert_eq!(json["backend"], "wgpu");
        return;
    }
    require_gpu(Some(format!(
        "--backend auto found no GPU (CUDA: {}; wgpu: no GPU adapter)",
        listed["cuda"]["reason"].as_str().unwrap_or("?")
    )));
    assert_eq!(json["backend"], "cpu");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("note: --backend auto: no GPU (CUDA: "),
        "{err}"
    );
    assert!(err.contains("wgpu: no GPU adapter); using cpu ("), "{err}");
}

#[test]
fn an_adapter_without_int64_runs_the_u32_kernel() {
    // Mesa's GL driver (llvmpipe) has no 64-bit shader integers: the path most older or
    // mobile GPUs take.
    let gl = [("WGPU_BACKEND", "gl")];
    let listed: Value =
        serde_json::from_str(&text(&regpow_env(&["--json", "devices"], &gl).stdout)).unwrap();
    let Some(adapter) = listed["wgpu"].as_array().unwrap().first().cloned() else {
        gpu_or_skip(Some("no GL adapter on this machine".into()));
        return;
    };
    assert_eq!(adapter["int64"], false, "{adapter}");
    for v in solved().iter().skip(4).take(3) {
        solve_with_wgpu(v, &gl);
    }
    let out = regpow_env(
        &[
            "bench",
            "--backend",
            "wgpu",
            "--gpu-lanes",
            "u64",
            "--seconds",
            "1",
        ],
        &gl,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("no 64-bit shader integers"), "{err}");
}

/// On a machine without XDG_RUNTIME_DIR (servers, containers, ssh sessions) probing GPUs
/// prints no driver noise: regpow gives the driver a private runtime directory of its own
/// (mode 0700, in the temp dir).
#[test]
fn no_runtime_dir_noise_without_xdg_runtime_dir() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = std::env::temp_dir().join(format!("regpow-xdg-test-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for args in [
        vec!["devices"],
        vec!["--json", "devices"],
        vec!["bench", "--backend", "wgpu", "--seconds", "1"],
        vec!["bench", "--backend", "auto", "--seconds", "0.5"],
    ] {
        for runtime_dir in [
            None,
            Some(""),
            Some("relative/dir"),
            Some("/nonexistent/xdg"),
        ] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpow"));
            cmd.args(&args).env("TMPDIR", &tmp);
            match runtime_dir {
                None => cmd.env_remove("XDG_RUNTIME_DIR"),
                Some(dir) => cmd.env("XDG_RUNTIME_DIR", dir),
            };
            let out = cmd.output().unwrap();
            let err = text(&out.stderr);
            assert!(
                !err.contains("XDG_RUNTIME_DIR"),
                "{args:?} {runtime_dir:?}: {err}"
            );
            assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        }
    }
    let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let private = tmp.join(format!("regpow-runtime-{}", uid.unwrap()));
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{}", private.display());
    std::fs::remove_dir_all(&tmp).unwrap();
}
