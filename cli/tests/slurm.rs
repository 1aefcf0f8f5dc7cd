//! The shipped Slurm script (`deploy/slurm/regpow-farm.sbatch`) on a real one-node Slurm
//! cluster: Debian's slurm-wlm and munge, started here on loopback in a temporary folder,
//! with a `gpu` GRES backed by device nodes that stand for two GPUs, so the README's
//! `--gres=gpu:1` path runs as written. It needs root (the daemons and the device nodes);
//! where Slurm is missing it is skipped with a message, unless `REGPOW_REQUIRE_SLURM=1`
//! (CI) makes that a failure.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{devnet_with, free_port, subnet};
use regpow_devnet::DevnetHandle;
use regpow_rules::PublicKey;
use serde_json::Value;

/// The script as shipped.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/slurm/regpow-farm.sbatch"
);

/// A one-node Slurm cluster in a temporary folder; its daemons are stopped by pid when
/// dropped.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd, or says why it cannot (`None`).
    fn start() -> Option<Self> {
        let required = std::env::var("REGPOW_REQUIRE_SLURM").as_deref() == Ok("1");
        let missing = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol"]
            .into_iter()
            .find(|tool| find_tool(tool).is_none());
        let root = unsafe { libc::geteuid() } == 0;
        let why = match (missing, root) {
            (Some(tool), _) => format!("{tool} is not installed (Debian: slurm-wlm, munge)"),
            (None, false) => "the Slurm daemons here need root".to_string(),
            (None, true) => String::new(),
        };
        if !why.is_empty() {
            assert!(!required, "REGPOW_REQUIRE_SLURM=1 but {why}");
            eprintln!("skipped: {why}");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("regpow-slurm-cluster-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["state", "spool", "log", "munge", "dev", "work"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let cluster = Cluster { dir };
        cluster.configure();
        cluster.run_daemons();
        Some(cluster)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// slurm.conf, gres.conf and the munge key; two device nodes stand for the GPUs.
    fn configure(&self) {
        let d = self.dir.display();
        let key: Vec<u8> = (0..1024).map(|i| (i * 7 + 13) as u8).collect();
        let key_path = self.path("munge/munge.key");
        std::fs::write(&key_path, key).unwrap();
        set_mode(&key_path, 0o400);
        for gpu in ["gpu0", "gpu1"] {
            let node = self.path(&format!("dev/{gpu}"));
            // The same device as /dev/null (char 1:3): Slurm only needs it to exist.
            assert!(Command::new("mknod")
                .arg(&node)
                .args(["c", "1", "3"])
                .status()
                .unwrap()
                .success());
        }
        let (ctld, slurmd) = (free_port(), free_port());
        // The node's CPUs and memory are overridden: two arrays of two 2-CPU, 2 GB tasks
        // run at once on this machine, as they would on a larger node.
        let conf = format!(
            "ClusterName=regpowtest\n\
             SlurmctldHost=localhost(127.0.0.1)\n\
             SlurmctldPort={ctld}\n\
             SlurmdPort={slurmd}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={d}/munge/munge.socket\n\
             StateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/log/slurmctld.log\n\
             SlurmdLogFile={d}/log/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SchedulerType=sched/backfill\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core_Memory\n\
             SlurmdParameters=config_overrides\n\
             ReturnToService=2\n\
             MpiDefault=none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             GresTypes=gpu\n\
             MinJobAge=3600\n\
             KillWait=30\n\
             NodeName=localhost NodeAddr=127.0.0.1 CPUs=8 RealMemory=16000 Gres=gpu:2 \
             State=UNKNOWN\n\
             PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n"
        );
        std::fs::write(self.path("slurm.conf"), conf).unwrap();
        std::fs::write(
            self.path("gres.conf"),
            format!("NodeName=localhost Name=gpu File={d}/dev/gpu[0-1]\n"),
        )
        .unwrap();
    }

    fn run_daemons(&self) {
        let d = self.dir.display().to_string();
        let munged = Command::new(find_tool("munged").unwrap())
            .arg(format!("--key-file={d}/munge/munge.key"))
            .arg(format!("--socket={d}/munge/munge.socket"))
            .arg(format!("--pid-file={d}/munge/munged.pid"))
            .arg(format!("--log-file={d}/log/munged.log"))
            .arg(format!("--seed-file={d}/munge/seed"))
            .arg("--force")
            .status()
            .unwrap();
        assert!(munged.success(), "munged");
        let ctld = self.command("slurmctld").arg("-c").status().unwrap();
        assert!(ctld.success(), "slurmctld: {}", self.logs());
        let slurmd = self
            .command("slurmd")
            .args(["-N", "localhost"])
            .status()
            .unwrap();
        assert!(slurmd.success(), "slurmd: {}", self.logs());
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self
                .command("sinfo")
                .args(["-h", "-o", "%T"])
                .output()
                .unwrap();
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "idle" {
                return;
            }
            assert!(
                Instant::now() < until,
                "the node never came up ({state}): {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A Slurm command against this cluster.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(find_tool(program).unwrap_or_else(|| program.into()));
        command.env("SLURM_CONF", self.path("slurm.conf"));
        command
    }

    /// `sbatch ARGS SCRIPT` with the farm's variables; the job id.
    fn sbatch(&self, args: &[&str], env: &[(&str, String)]) -> u64 {
        let regpow_dir = Path::new(env!("CARGO_BIN_EXE_regpow")).parent().unwrap();
        let path = format!(
            "{}:{}",
            regpow_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = self
            .command("sbatch")
            .arg("--parsable")
            .arg(format!("--chdir={}", self.path("work").display()))
            .args(args)
            .arg(SCRIPT)
            .env("PATH", path)
            .env("HOME", self.path("work"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "sbatch: {}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Waits until every task of array job `job` has ended; their (state, exit code) by
    /// task index.
    fn wait(&self, job: u64, limit: Duration) -> BTreeMap<u64, (String, String)> {
        let until = Instant::now() + limit;
        loop {
            let (tasks, waiting) = self.tasks(job);
            let running = ["PENDING", "RUNNING", "COMPLETING", "CONFIGURING"];
            if !waiting
                && !tasks.is_empty()
                && tasks.values().all(|(s, _)| !running.contains(&s.as_str()))
            {
                return tasks;
            }
            assert!(
                Instant::now() < until,
                "job {job} still running: {tasks:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Every started task of array job `job` as `scontrol` sees it, (state, exit code),
    /// and whether tasks are still waiting to start (one record for them all, "2-3").
    fn tasks(&self, job: u64) -> (BTreeMap<u64, (String, String)>, bool) {
        let out = self
            .command("scontrol")
            .args(["-o", "show", "job", &job.to_string()])
            .output()
            .unwrap();
        let mut tasks = BTreeMap::new();
        let mut waiting = false;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|f| f.strip_prefix(&format!("{name}=")))
                    .map(str::to_string)
            };
            let Some(id) = field("ArrayTaskId") else {
                continue;
            };
            let Ok(task) = id.parse() else {
                waiting = true; // the remainder of an array that has not started ("2-3")
                continue;
            };
            tasks.insert(
                task,
                (field("JobState").unwrap(), field("ExitCode").unwrap()),
            );
        }
        (tasks, waiting)
    }

    /// What task `task` of job `job` wrote (the script's `--output`).
    fn output(&self, job: u64, task: u64) -> String {
        std::fs::read_to_string(self.path(&format!("work/regpow-farm-{job}_{task}.out")))
            .unwrap_or_default()
    }

    fn logs(&self) -> String {
        ["log/slurmctld.log", "log/slurmd.log", "log/munged.log"]
            .iter()
            .map(|log| {
                let text = std::fs::read_to_string(self.path(log)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "== {log}\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Cluster {
    /// The step daemons (`slurmstepd`) of this cluster's jobs still alive: found by their
    /// working folder, inside the cluster's.
    fn step_daemons(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
                comm.trim() == "slurmstepd" && cwd.starts_with(&self.dir)
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The jobs' step daemons end on their own once slurmd has their reports; whatever
        // is left after a few seconds is stopped by pid.
        let until = Instant::now() + Duration::from_secs(5);
        while !self.step_daemons().is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
        for pid in self.step_daemons() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for pid_file in ["slurmd.pid", "slurmctld.pid", "munge/munged.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.path(pid_file)) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where `tool` is: on PATH, or in the sbin folders a user's PATH may leave out.
fn find_tool(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Hotkey `n` of the test's farm.
fn hotkey(n: u8) -> String {
    PublicKey([n; 32]).to_ss58(42)
}

/// A plan at `path`: hotkeys `keys` on `netuid`, signed by //Alice.
fn write_plan(path: &Path, url: &str, netuid: u16, keys: &[String]) {
    let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    std::fs::write(
        path,
        format!(
            "network = \"{url}\"\n\n[[job]]\nnetuids = [{netuid}]\nhotkeys = [{}]\n\
             coldkey_uri = \"//Alice\"\n",
            keys.join(", ")
        ),
    )
    .unwrap();
}

/// The hotkeys a journal names.
fn journal_hotkeys(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|l| l["hotkey"].as_str().map(str::to_string))
        .collect()
}

/// The hotkeys the output's target lines name.
fn output_hotkeys(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == "target")
        .filter_map(|l| l["hotkey"].as_str().map(str::to_string))
        .collect()
}

fn registered(devnet: &DevnetHandle, netuid: u16) -> BTreeSet<String> {
    let ledger = devnet.node.lock();
    ledger.chain.state.subnets[&netuid]
        .uids
        .keys()
        .map(|k| PublicKey(*k).to_ss58(42))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_script_runs_a_sharded_farm_on_a_real_slurm_cluster() {
    let Some(cluster) = tokio::task::spawn_blocking(Cluster::start).await.unwrap() else {
        return;
    };
    let easy = regpow_devnet::SubnetConfig {
        max_registrations_per_block: 12,
        ..subnet(1, true, 2_000)
    };
    let devnet = devnet_with(
        Duration::from_millis(300),
        vec![easy, subnet(2, true, common::UNREACHABLE_DIFFICULTY)],
    )
    .await;
    // Twelve hotkeys, three in each of the four shards (so every task has work).
    let mut per_shard = [0; 4];
    let keys: Vec<String> = (1..=u8::MAX)
        .filter(|&n| {
            let shard =
                (regpow_registrar::farm::shard::target_hash(&PublicKey([n; 32]), 1) % 4) as usize;
            per_shard[shard] += 1;
            per_shard[shard] <= 3
        })
        .take(12)
        .map(hotkey)
        .collect();
    let plan = cluster.path("work/farm.toml");
    write_plan(&plan, &devnet.url, 1, &keys);
    let state = cluster.path("work/farm");
    let env = vec![
        ("REGPOW_PLAN", plan.display().to_string()),
        ("REGPOW_STATE", state.display().to_string()),
    ];

    // The README's command: four shards, a GPU each.
    let c = &cluster;
    let job = tokio::task::block_in_place(|| {
        let job = c.sbatch(&["--array=0-3", "--gres=gpu:1"], &env);
        (job, c.wait(job, Duration::from_secs(180)))
    });
    let (job, tasks) = job;
    let outputs: Vec<String> = (0..4).map(|t| cluster.output(job, t)).collect();
    assert_eq!(tasks.len(), 4, "{tasks:?}");
    for (task, (state, exit)) in &tasks {
        assert_eq!(
            (state.as_str(), exit.as_str()),
            ("COMPLETED", "0:0"),
            "task {task}: {}",
            outputs[*task as usize]
        );
    }
    assert_eq!(
        std::fs::read_to_string(state.join("shards")).unwrap(),
        "4\n",
        "the split is recorded"
    );
    // Every target registered once, by exactly one shard.
    assert_eq!(registered(&devnet, 1), keys.iter().cloned().collect());
    let shards: Vec<BTreeSet<String>> = (0..4)
        .map(|t| journal_hotkeys(&state.join(format!("journal-{t}.jsonl"))))
        .collect();
    let mut union = BTreeSet::new();
    for (t, shard) in shards.iter().enumerate() {
        assert!(!shard.is_empty(), "shard {t} had targets: {shards:?}");
        assert!(union.is_disjoint(shard), "shards overlap: {shards:?}");
        union.extend(shard.iter().cloned());
        assert_eq!(&output_hotkeys(&outputs[t]), shard, "task {t}'s output");
    }
    assert_eq!(union, keys.iter().cloned().collect());

    // One task resubmitted alone runs its own shard of the recorded split, not 0/1.
    let (again, tasks) = tokio::task::block_in_place(|| {
        let job = c.sbatch(&["--array=1"], &env);
        (job, c.wait(job, Duration::from_secs(120)))
    });
    let output = cluster.output(again, 1);
    assert_eq!(
        tasks[&1],
        ("COMPLETED".to_string(), "0:0".to_string()),
        "{output}"
    );
    assert_eq!(output_hotkeys(&output), shards[1], "{output}");

    // A task outside the farm's shards: exit 2 with one line.
    let (outside, tasks) = tokio::task::block_in_place(|| {
        let job = c.sbatch(&["--array=5"], &env);
        (job, c.wait(job, Duration::from_secs(60)))
    });
    let output = cluster.output(outside, 5);
    assert_eq!(
        tasks[&5],
        ("FAILED".to_string(), "2:0".to_string()),
        "{output}"
    );
    assert_eq!(
        output.trim(),
        format!(
            "error: task 5 is outside this farm's 4 shards (0-3, recorded in {}/shards)",
            state.display()
        )
    );

    // Two arrays on one node at once: each task serves metrics on its own port.
    let unreachable = cluster.path("work/unreachable.toml");
    write_plan(&unreachable, &devnet.url, 2, &keys);
    let jobs: Vec<u64> = ["a", "b"]
        .iter()
        .map(|name| {
            let env = vec![
                ("REGPOW_PLAN", unreachable.display().to_string()),
                (
                    "REGPOW_STATE",
                    cluster.path(&format!("work/{name}")).display().to_string(),
                ),
                ("REGPOW_MAX_SECONDS", "20".to_string()),
            ];
            cluster.sbatch(&["--array=0-1"], &env)
        })
        .collect();
    let mut urls = BTreeSet::new();
    let until = Instant::now() + Duration::from_secs(60);
    while urls.len() < 4 {
        assert!(Instant::now() < until, "metrics URLs: {urls:?}");
        for &job in &jobs {
            for task in 0..2 {
                let output = cluster.output(job, task);
                let url = output
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .find(|l| l["event"] == "metrics")
                    .and_then(|l| l["url"].as_str().map(str::to_string));
                if let Some(url) = url {
                    if !urls.contains(&url) {
                        let get = url.clone();
                        let body = tokio::task::spawn_blocking(move || common::http_get_url(&get))
                            .await
                            .unwrap()
                            .unwrap_or_default();
                        assert!(body.contains("regpow_chain_head_block"), "{url}: {body}");
                        urls.insert(url);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Every task hashing before it is stopped: the stop then settles a running farm.
    let until = Instant::now() + Duration::from_secs(60);
    while !jobs
        .iter()
        .all(|&job| (0..2).all(|task| cluster.output(job, task).contains("\"hashrate\"")))
    {
        assert!(Instant::now() < until, "the tasks never started hashing");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Each URL is also in the farm's state folder, one file per shard.
    for name in ["a", "b"] {
        for task in 0..2 {
            let file = cluster.path(&format!("work/{name}/metrics-{task}.url"));
            let url = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(
                urls.contains(url.trim()),
                "{}: {url:?} not in {urls:?}",
                file.display()
            );
        }
    }
    for job in jobs {
        // SIGTERM, as scancel sends it, settles each task: its summary, exit 1 (not done).
        let cancelled = cluster
            .command("scancel")
            .args(["--signal=TERM", "--batch", &job.to_string()])
            .status()
            .unwrap();
        assert!(cancelled.success());
        let tasks = tokio::task::block_in_place(|| cluster.wait(job, Duration::from_secs(60)));
        for (task, (state, exit)) in tasks {
            let output = cluster.output(job, task);
            assert_eq!(
                (state.as_str(), exit.as_str()),
                ("FAILED", "1:0"),
                "{output}"
            );
            assert!(output.contains("\"summary\""), "{output}");
            assert!(output.contains("stopped (SIGTERM)"), "{output}");
        }
    }
    drop(cluster);
    devnet.stop().await;
}
