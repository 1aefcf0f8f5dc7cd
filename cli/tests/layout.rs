//! The workspace's shape, as the README's layout and architecture sections state it: the
//! crates depend one way, the devnet holds nothing of the GPU or client stacks, the chain
//! crate holds no solver, and the kernels live at the top level (the solver packages them
//! through its `kernels` link).

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Every package `package` depends on (normal and dev dependencies, all features), by name.
fn tree(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "tree",
            "--offline",
            "--locked",
            "--all-features",
            "-e",
            "normal,dev",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            package,
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn the_devnet_and_the_chain_crate_hold_only_what_their_jobs_need() {
    let devnet = tree("regpow-devnet");
    for banned in ["wgpu", "cudarc", "subxt", "regpow-solver", "regpow-chain"] {
        assert!(
            !devnet.iter().any(|p| p == banned),
            "regpow-devnet depends on {banned}"
        );
    }
    let chain = tree("regpow-chain");
    for banned in ["regpow-solver", "regpow-registrar", "wgpu", "cudarc"] {
        assert!(
            !chain.iter().any(|p| p == banned),
            "regpow-chain depends on {banned}"
        );
    }
    let solver = tree("regpow-solver");
    for banned in ["regpow-chain", "regpow-registrar", "subxt"] {
        assert!(
            !solver.iter().any(|p| p == banned),
            "regpow-solver depends on {banned}"
        );
    }
    let registrar = tree("regpow-registrar");
    for needed in ["regpow-solver", "regpow-chain", "regpow-rules"] {
        assert!(registrar.iter().any(|p| p == needed), "{needed}");
    }
}

#[test]
fn the_kernels_live_at_the_top_level_and_the_solver_builds_them_from_there() {
    for kernel in ["seal.cu", "seal.wgsl", "lanes_u32.wgsl", "lanes_u64.wgsl"] {
        let top = root().join("kernels").join(kernel);
        let through_solver = root().join("solver/kernels").join(kernel);
        assert!(top.is_file(), "{}", top.display());
        assert_eq!(
            std::fs::canonicalize(&through_solver).unwrap(),
            std::fs::canonicalize(&top).unwrap(),
            "solver/kernels/{kernel} is the top-level file"
        );
    }
}
