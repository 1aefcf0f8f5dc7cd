//! seal.cu through NVRTC, without a GPU: it must compile to PTX for sm_70, sm_80 and sm_90,
//! and to CUBINs whose ptxas report shows no local-memory spills.
//!
//! Needs NVRTC (`pip install nvidia-cuda-nvrtc-cu12`, its lib folder on LD_LIBRARY_PATH).
//! Without it the tests say so and pass, unless REGPOW_REQUIRE_NVRTC=1 (set by `.ci/run`),
//! where a missing NVRTC fails them.

use regpow_solver::cuda::compile::{compile, nvrtc_version, resource_report};

fn nvrtc_or_skip() -> bool {
    if nvrtc_version().is_some() {
        return true;
    }
    assert!(
        std::env::var("REGPOW_REQUIRE_NVRTC").as_deref() != Ok("1"),
        "REGPOW_REQUIRE_NVRTC=1 but NVRTC (libnvrtc.so.12) cannot be loaded"
    );
    eprintln!("skipped: NVRTC not found (pip install nvidia-cuda-nvrtc-cu12)");
    false
}

#[test]
fn seal_cu_compiles_to_ptx_for_volta_ampere_and_hopper() {
    if !nvrtc_or_skip() {
        return;
    }
    for arch in [70, 80, 90] {
        let compiled = compile(arch, false).unwrap_or_else(|e| panic!("sm_{arch}: {e}"));
        let ptx = String::from_utf8_lossy(&compiled.image);
        assert!(ptx.contains(&format!(".target sm_{arch}")), "sm_{arch}");
        assert!(ptx.contains(".entry search("), "sm_{arch}: no search entry");
        assert!(
            ptx.contains(".entry seal_full("),
            "sm_{arch}: no seal_full entry"
        );
    }
}

#[test]
fn cubins_use_no_local_memory() {
    if !nvrtc_or_skip() {
        return;
    }
    for arch in [70, 80, 90] {
        let compiled = compile(arch, true).unwrap_or_else(|e| panic!("sm_{arch}: {e}"));
        assert!(compiled.cubin && compiled.image.starts_with(b"\x7fELF"));
        let report = resource_report(&compiled.log);
        eprintln!("sm_{arch}: {report:?}");
        let search = report
            .iter()
            .find(|r| r.kernel == "search")
            .unwrap_or_else(|| panic!("no ptxas report for search():\n{}", compiled.log));
        assert_eq!(
            (search.stack_bytes, search.spill_stores, search.spill_loads),
            (0, 0, 0),
            "sm_{arch} search() uses local memory: {search:?}"
        );
        assert!(search.registers <= 255);
    }
}

#[test]
fn cubins_are_cached_on_disk() {
    if !nvrtc_or_skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("regpow-cuda-cache-{}", std::process::id()));
    std::env::set_var("XDG_CACHE_HOME", &dir);
    let compiled = regpow_solver::cuda::compile::compile_cached(75, true).unwrap();
    let cached: Vec<_> = std::fs::read_dir(dir.join("regpow/cuda"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cubin"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert_eq!(std::fs::read(&cached[0]).unwrap(), compiled.image);
    let _ = std::fs::remove_dir_all(dir);
}
