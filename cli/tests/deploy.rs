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
        // `exec "$regpow"` in the Slurm script. kubectl's and sbatch's own flags are in
        // comments, which are left out.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let from = code
            .find("- farm")
            .or_else(|| code.find("\"$regpow\" --json farm"));
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

/// The shard count comes from one place (the ConfigMap's `shards`), and the Job's
/// completions and the StatefulSet's replicas match it, so every pod's `--shard I/N` is a
/// shard of the same split; each pod serves metrics on its own network namespace's 9108.
/// A deploy file's text.
fn read(path: &str) -> String {
    std::fs::read_to_string(deploy().join(path)).unwrap()
}

#[test]
fn kubernetes_shards_come_from_the_configmap_and_match_the_pods() {
    let value = |text: &str, key: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let configmap = read("kubernetes/configmap.yaml");
    let shards = value(&configmap, "shards").expect("the ConfigMap names the shard count");
    let shards: u32 = shards.parse().unwrap();
    for (file, count_key) in [
        ("kubernetes/job.yaml", "completions"),
        ("kubernetes/statefulset.yaml", "replicas"),
    ] {
        let text = read(file);
        assert_eq!(
            value(&text, count_key).and_then(|v| v.parse().ok()),
            Some(shards),
            "{file}: {count_key}"
        );
        assert!(text.contains("--shard=$(SHARD)/$(SHARDS)"), "{file}");
        let env = text.split("- name: SHARDS").nth(1).expect("SHARDS is set");
        let env: String = env.lines().take(5).collect::<Vec<_>>().join("\n");
        assert!(
            env.contains("configMapKeyRef") && env.contains("key: shards"),
            "{file}: SHARDS from the ConfigMap: {env}"
        );
        assert!(!env.contains("value:"), "{file}: no second shard count");
    }
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
        .env("REGPOW_BIN", env!("CARGO_BIN_EXE_regpow"))
        .envs(array_task(0, 0, 0))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    let _ = std::fs::remove_dir_all(&state);
}

/// The variables Slurm sets for task `id` of an array `min`-`max` (every index between).
fn array_task(id: u32, min: u32, max: u32) -> Vec<(&'static str, String)> {
    vec![
        ("SLURM_ARRAY_TASK_ID", id.to_string()),
        ("SLURM_ARRAY_TASK_MIN", min.to_string()),
        ("SLURM_ARRAY_TASK_MAX", max.to_string()),
        ("SLURM_ARRAY_TASK_COUNT", (max - min + 1).to_string()),
    ]
}

/// The Slurm script's shard numbering, with `echo` standing in for regpow (its command
/// line is the output): the split is fixed at the first submission and recorded, a task
/// resubmitted alone runs its shard of it, and anything that would overlap or fall outside
/// it exits 2 with one line. A missing regpow is named (exit 3).
#[test]
fn the_slurm_script_fixes_the_split_at_the_first_submission() {
    let state = std::env::temp_dir().join(format!("regpow-slurm-split-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let run = |regpow: &str, task: Vec<(&'static str, String)>, shards: Option<&str>| {
        let mut command = Command::new("bash");
        command
            .arg(deploy().join("slurm/regpow-farm.sbatch"))
            .env("REGPOW_STATE", &state)
            .env("REGPOW_BIN", regpow)
            .env_remove("REGPOW_SHARDS")
            .envs(task);
        if let Some(shards) = shards {
            command.env("REGPOW_SHARDS", shards);
        }
        let out = command.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    };
    let shard_of = |stdout: &str| {
        let words: Vec<&str> = stdout.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "--shard").unwrap();
        words[at + 1].to_string()
    };
    // A first submission that is not 0..N-1 cannot say how many shards there are.
    let (code, _, err) = run("echo", array_task(2, 0, 6), None);
    assert_eq!(code, Some(0), "0-6 is contiguous: {err}");
    std::fs::remove_file(state.join("shards")).unwrap();
    let mut stepped = array_task(2, 0, 6);
    stepped[3].1 = "4".into(); // --array=0-7:2: 4 tasks, 0..6
    let (code, _, err) = run("echo", stepped, None);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: the first submission of a farm is --array=0-N"),
        "{err}"
    );
    assert!(!state.join("shards").exists());

    // The first submission, 0-3: four shards, recorded.
    let (code, out, err) = run("echo", array_task(2, 0, 3), None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(shard_of(&out), "2/4");
    assert!(out.contains("--backend auto"), "{out}");
    assert!(out.contains("--metrics 127.0.0.1:0"), "{out}");
    assert_eq!(
        std::fs::read_to_string(state.join("shards")).unwrap(),
        "4\n"
    );
    // Resubmitted alone (--array=1): shard 1 of the same four, not 0/1 or 1/1.
    let (code, out, _) = run("echo", array_task(1, 1, 1), None);
    assert_eq!((code, shard_of(&out)), (Some(0), "1/4".to_string()));
    // Resubmitted as --array=0,1 (count 2): still of four.
    let (code, out, _) = run("echo", array_task(1, 0, 1), None);
    assert_eq!((code, shard_of(&out)), (Some(0), "1/4".to_string()));
    // Outside the farm, or a different split asked for: one line, exit 2.
    let (code, out, err) = run("echo", array_task(4, 4, 4), None);
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert_eq!(
        err,
        format!(
            "error: task 4 is outside this farm's 4 shards (0-3, recorded in {}/shards)",
            state.display()
        )
    );
    let (code, _, err) = run("echo", array_task(1, 0, 7), Some("8"));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("split into 4 shards") && err.contains("REGPOW_SHARDS=8"),
        "{err}"
    );
    // regpow missing from the batch PATH: named, exit 3.
    let (code, _, err) = run("regpow-not-installed", array_task(0, 0, 3), None);
    assert_eq!(code, Some(3));
    assert!(
        err.contains("'regpow-not-installed' not found on the batch PATH"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&state);
}
