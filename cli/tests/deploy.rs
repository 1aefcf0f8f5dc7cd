//! The deployment files farms use: the Kubernetes manifests pass `kubernetes-validate
//! --strict` for Kubernetes 1.32 and `yamllint`; every regpow flag they (and the Slurm
//! script) pass exists; the Slurm script is valid bash.
//!
//! The validators come from PyPI (`.ci/run` installs them into the venv that
//! `REGPOW_PYTHON` names). Without them the checks say why they skip, unless
//! `REGPOW_REQUIRE_CLIENTS=1` makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// A Python tool from the venv beside `REGPOW_PYTHON`, or from PATH.
fn tool(name: &str) -> Option<PathBuf> {
    let beside_python = std::env::var_os("REGPOW_PYTHON")
        .map(PathBuf::from)
        .and_then(|python| python.parent().map(|dir| dir.join(name)))
        .filter(|p| p.is_file());
    beside_python.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    })
}

fn tool_or_skip(name: &str) -> Option<PathBuf> {
    let found = tool(name);
    if found.is_none() {
        let why = format!("{name} is not installed (pip install {name})");
        if std::env::var("REGPOW_REQUIRE_CLIENTS").as_deref() == Ok("1") {
            panic!("{why}, and REGPOW_REQUIRE_CLIENTS=1");
        }
        eprintln!("skipped: {why}");
    }
    found
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy().join("kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
}

#[test]
fn kubernetes_manifests_validate_strictly_for_1_32() {
    let Some(validate) = tool_or_skip("kubernetes-validate") else {
        return;
    };
    let out = Command::new(validate)
        .args(["--strict", "--kubernetes-version", "1.32.0"])
        .args(manifests())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("passed for resource").count(), 7, "{text}");
}

#[test]
fn deploy_yaml_passes_yamllint() {
    let Some(yamllint) = tool_or_skip("yamllint") else {
        return;
    };
    let out = Command::new(yamllint)
        .arg("--strict")
        .arg("-c")
        .arg(deploy().join(".yamllint.yaml"))
        .arg(deploy())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `--flag` in `text` (as `--flag=…`, `--flag …` or a YAML list item).
fn flags(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || c == '"') {
        if let Some(flag) = word.strip_prefix("--") {
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn every_flag_the_deploy_files_pass_exists() {
    let help = Command::new(env!("CARGO_BIN_EXE_regpow"))
        .args(["farm", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let mut checked = 0;
    for file in manifests()
        .into_iter()
        .chain([deploy().join("slurm/regpow-farm.sbatch")])
    {
        let text = std::fs::read_to_string(&file).unwrap();
        // The regpow command line: after `args:` of the regpow container, or after
        // `exec regpow` in the Slurm script. kubectl's and sbatch's own flags are in
        // comments, which are left out.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let from = code
            .find("- farm")
            .or_else(|| code.find("regpow --json farm"));
        let Some(from) = from else { continue };
        for flag in flags(&code[from..]) {
            if flag == "json" {
                continue;
            }
            assert!(
                help.contains(&format!("--{flag}")),
                "{}: --{flag} is not a flag of regpow farm",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} flags checked");
}

#[test]
fn the_slurm_script_is_valid_bash() {
    let out = Command::new("bash")
        .arg("-n")
        .arg(deploy().join("slurm/regpow-farm.sbatch"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The pods' hardening, file by file: no service-account token, the runtime's seccomp
/// profile, the password as a private file and never in the environment, every emptyDir
/// bounded, a NetworkPolicy that admits only the scraper to the metrics port; the image
/// build leaves local state out; the Slurm script keeps what it writes private.
#[test]
fn deploy_files_are_hardened() {
    let read = |path: &str| std::fs::read_to_string(deploy().join(path)).unwrap();
    for pod in ["kubernetes/job.yaml", "kubernetes/statefulset.yaml"] {
        let text = read(pod);
        for needed in [
            "automountServiceAccountToken: false",
            "serviceAccountName: regpow",
            "type: RuntimeDefault",
            "REGPOW_COLDKEY_PASSWORD_FILE",
            "install -m 600 /secret/password",
            "readOnlyRootFilesystem: true",
        ] {
            assert!(text.contains(needed), "{pod} lacks {needed}");
        }
        assert!(
            !text.contains("name: REGPOW_COLDKEY_PASSWORD\n"),
            "{pod}: the password in the environment"
        );
        assert_eq!(
            text.matches("emptyDir:").count(),
            text.matches("sizeLimit:").count(),
            "{pod}: an emptyDir without sizeLimit"
        );
    }
    let access = read("kubernetes/access.yaml");
    for needed in [
        "kind: ServiceAccount",
        "kind: NetworkPolicy",
        "port: 9108",
        "policyTypes: [\"Ingress\", \"Egress\"]",
    ] {
        assert!(access.contains(needed), "access.yaml lacks {needed}");
    }
    let ignore = std::fs::read_to_string(deploy().join("../.dockerignore")).unwrap();
    for needed in ["target/", ".git/", "**/wallets/"] {
        assert!(
            ignore.lines().any(|l| l == needed),
            ".dockerignore lacks {needed}"
        );
    }
    // Every base image is pinned by digest: a re-pushed tag cannot change the build.
    let dockerfile = read("Dockerfile");
    let bases: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(bases.len(), 2, "{bases:?}");
    for base in bases {
        let image = base.split_whitespace().nth(1).unwrap();
        let digest = image.split_once("@sha256:").map(|(_, d)| d);
        assert!(
            digest.is_some_and(|d| d.len() == 64 && d.chars().all(|c| c.is_ascii_hexdigit())),
            "{base}: not pinned by digest"
        );
    }
    let slurm = read("slurm/regpow-farm.sbatch");
    assert!(slurm.contains("umask 077"));
    assert!(slurm.contains("REGPOW_COLDKEY_PASSWORD_FILE"));
    assert!(!slurm.contains("REGPOW_COLDKEY_PASSWORD=$(cat"));
}

/// The Slurm script refuses a password file others can read, before regpow starts.
#[test]
fn the_slurm_script_refuses_a_readable_password_file() {
    use std::os::unix::fs::PermissionsExt;
    let state = std::env::temp_dir().join(format!("regpow-slurm-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    let password = state.join("password");
    std::fs::write(&password, "secret\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new("bash")
        .arg(deploy().join("slurm/regpow-farm.sbatch"))
        .env("REGPOW_STATE", &state)
        .env("SLURM_ARRAY_TASK_COUNT", "1")
        .env("SLURM_ARRAY_TASK_ID", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    let _ = std::fs::remove_dir_all(&state);
}
