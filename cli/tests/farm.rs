//! `regpow farm` end to end on the devnet: a plan of 3 hotkeys × 2 PoW subnets and one
//! PoW-off subnet; a re-run; two shards at once; `kill -9` and a restart; the journal and
//! the metrics, scraped by a real Prometheus server, against the chain's own state.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{devnet_with, free_port, http_get, interrupt, json_lines, output, stderr, subnet};
use regpow_devnet::{DevnetHandle, SubnetConfig};
use regpow_rules::PublicKey;
use serde_json::Value;

/// Alice, Bob and Charlie's public keys as hotkeys.
const HOTKEYS: [&str; 3] = [
    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
    "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y",
];

/// Subnets 1 and 2 with PoW at `difficulty`, subnet 3 with PoW off.
fn subnets(difficulty: u64) -> Vec<SubnetConfig> {
    let pow = |netuid| SubnetConfig {
        min_difficulty: difficulty,
        max_difficulty: difficulty,
        max_registrations_per_block: 6,
        ..subnet(netuid, true, difficulty)
    };
    vec![pow(1), pow(2), subnet(3, false, difficulty)]
}

/// A plan at `dir/farm.toml` on `url` with these `[[job]]` bodies.
fn write_jobs(dir: &Path, url: &str, jobs: &[String]) -> PathBuf {
    let path = dir.join("farm.toml");
    let jobs: Vec<String> = jobs.iter().map(|job| format!("[[job]]\n{job}")).collect();
    std::fs::write(&path, format!("network = \"{url}\"\n\n{}", jobs.join("\n"))).unwrap();
    path
}

/// A job of `hotkeys` on `netuids` (a TOML array), signed by //Alice.
fn job(netuids: &str, hotkeys: &[&str]) -> String {
    let hotkeys: Vec<String> = hotkeys.iter().map(|h| format!("\"{h}\"")).collect();
    format!(
        "netuids = {netuids}\nhotkeys = [{}]\ncoldkey_uri = \"//Alice\"\n",
        hotkeys.join(", ")
    )
}

/// The plan: every hotkey on subnets 1, 2 and 3, signed by //Alice.
fn write_plan(dir: &Path, url: &str) -> PathBuf {
    write_jobs(dir, url, &[job("[1, 2, 3]", &HOTKEYS)])
}

/// `regpow --json farm --config PLAN --backend cpu --threads 1 ARGS…`.
fn farm(plan: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_regpow"));
    command
        .arg("--json")
        .arg("farm")
        .arg("--config")
        .arg(plan)
        .args(["--backend", "cpu", "--threads", "1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The (netuid, hotkey) pairs the chain has registered, on the PoW subnets.
fn registered_on_chain(devnet: &DevnetHandle) -> BTreeSet<(u16, String)> {
    let node = devnet.node.lock();
    let mut pairs = BTreeSet::new();
    for netuid in [1u16, 2, 3] {
        for hotkey in node.chain.state.subnets[&netuid].uids.keys() {
            pairs.insert((netuid, PublicKey(*hotkey).to_ss58(42)));
        }
    }
    pairs
}

/// Every target of the plan on the PoW subnets.
fn all_pow_targets() -> BTreeSet<(u16, String)> {
    [1u16, 2]
        .iter()
        .flat_map(|&n| HOTKEYS.iter().map(move |h| (n, h.to_string())))
        .collect()
}

/// The (netuid, hotkey) of the lines of `kind` (an event, or a target state).
fn pairs(lines: &[Value], event: &str, state: Option<&str>) -> Vec<(u16, String)> {
    lines
        .iter()
        .filter(|l| l["event"] == event && state.is_none_or(|s| l["state"] == s))
        .map(|l| {
            (
                l["netuid"].as_u64().unwrap() as u16,
                l["hotkey"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn journal(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line {l}: {e}")))
        .collect()
}

/// Waits (off the runtime) until `done` or `limit`; returns whether it happened.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

/// Prometheus (Debian's package) scraping 127.0.0.1:`target` every second, on its own
/// port; `None` (with the reason printed) where it is not installed, unless
/// `REGPOW_REQUIRE_PROMETHEUS=1` makes that a failure.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile_dir::Dir,
}

mod tempfile_dir {
    /// A temporary folder removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    pub fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("regpow-{name}-{}", rand_suffix()));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
    fn rand_suffix() -> String {
        format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )
    }
}

fn binary(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn prometheus_or_skip(target: u16) -> Option<Prometheus> {
    let Some(bin) = binary("prometheus") else {
        let why = "prometheus is not installed (apt-get install prometheus)";
        if std::env::var("REGPOW_REQUIRE_PROMETHEUS").as_deref() == Ok("1") {
            panic!("{why}, and REGPOW_REQUIRE_PROMETHEUS=1");
        }
        eprintln!("skipped: {why}");
        return None;
    };
    let dir = tempfile_dir::new("prometheus");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: regpow\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Some(Prometheus {
        child,
        port,
        _dir: dir,
    })
}

impl Prometheus {
    /// The value of an instant query that returns one sample.
    fn query(&self, query: &str) -> Option<f64> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let body = http_get(self.port, &format!("/api/v1/query?query={encoded}"))?;
        let reply: Value = serde_json::from_str(&body).ok()?;
        reply["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_farm_registers_every_target_and_a_rerun_submits_nothing() {
    let devnet = devnet_with(Duration::from_millis(250), subnets(20_000)).await;
    let dir = tempfile_dir::new("farm");
    let plan = write_plan(&dir.0, &devnet.url);
    let journal_path = dir.0.join("journal.jsonl");
    let metrics_port = free_port();
    let prometheus = prometheus_or_skip(metrics_port);

    // A standing farm (so the metrics stay up for the scrape), stopped with Ctrl-C.
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let child = farm(
        &plan,
        &[
            "--keep-running",
            "--metrics",
            &metrics_addr,
            "--journal",
            journal_path.to_str().unwrap(),
            "--max-seconds",
            "120",
        ],
    )
    .spawn()
    .unwrap();
    let registered = wait_for(Duration::from_secs(60), || {
        pairs(&journal(&journal_path), "target", Some("registered")).len() >= 6
    })
    .await;
    assert!(registered, "journal: {:#?}", journal(&journal_path));
    assert_eq!(registered_on_chain(&devnet), all_pow_targets());

    // The exposition passes promtool; Prometheus saw every registration.
    let exposition = http_get(metrics_port, "/metrics").expect("the farm serves /metrics");
    assert!(
        exposition.contains("regpow_registrations_total{netuid=\"1\"} 3"),
        "{exposition}"
    );
    if let Some(promtool) = binary("promtool") {
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check
            .stdin
            .take()
            .unwrap()
            .write_all(exposition.as_bytes())
            .unwrap();
        let checked = check.wait_with_output().unwrap();
        assert!(
            checked.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    if let Some(prometheus) = &prometheus {
        let seen = wait_for(Duration::from_secs(30), || {
            prometheus.query("sum(regpow_registrations_total)") == Some(6.0)
        })
        .await;
        assert!(
            seen,
            "Prometheus says {:?}",
            prometheus.query("sum(regpow_registrations_total)")
        );
        assert_eq!(
            prometheus.query("regpow_targets{state=\"skipped\"}"),
            Some(3.0)
        );
    }

    interrupt(child.id());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    let won: BTreeSet<(u16, String)> = lines
        .iter()
        .filter_map(|l| l.get("registered"))
        .map(|r| {
            (
                r["netuid"].as_u64().unwrap() as u16,
                r["hotkey"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(won, all_pow_targets());
    let skipped = pairs(&lines, "target", Some("skipped"));
    assert_eq!(skipped.len(), 3, "{lines:#?}");
    assert!(skipped.iter().all(|(netuid, _)| *netuid == 3));
    assert!(lines
        .iter()
        .filter(|l| l["state"] == "skipped")
        .all(|l| l["reason"] == "PoW disabled"));

    // The journal agrees with the chain: one submission and one registration per target.
    let history = journal(&journal_path);
    let submitted = pairs(&history, "submitting", None);
    let submitted_set: BTreeSet<_> = submitted.iter().cloned().collect();
    assert_eq!(submitted.len(), 6, "{history:#?}");
    assert_eq!(submitted_set, all_pow_targets());
    assert!(history.iter().all(|l| l["time"].as_f64().is_some()));

    // A re-run finds everything done: nothing submitted, exit 0.
    let out = output(farm(&plan, &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert!(pairs(&lines, "submitting", None).is_empty(), "{lines:#?}");
    let summary = lines.iter().find_map(|l| l.get("summary")).unwrap();
    assert_eq!(summary["states"]["already_registered"], 6);
    assert_eq!(summary["states"]["skipped"], 3);
    assert_eq!(summary["submissions"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_split_the_plan_and_never_overlap() {
    let devnet = devnet_with(Duration::from_millis(250), subnets(20_000)).await;
    let dir = tempfile_dir::new("shards");
    let plan = write_plan(&dir.0, &devnet.url);
    let journals = [dir.0.join("0.jsonl"), dir.0.join("1.jsonl")];
    let runs: Vec<_> = (0..2)
        .map(|i| {
            let shard = format!("{i}/2");
            let journal = journals[i].to_str().unwrap().to_string();
            output(farm(&plan, &["--shard", &shard, "--journal", &journal]))
        })
        .collect();
    let outs = futures::future::join_all(runs).await;
    let mut owned = Vec::new();
    for (out, journal_path) in outs.iter().zip(&journals) {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        let lines = json_lines(out);
        let mine: BTreeSet<(u16, String)> = pairs(&lines, "target", None).into_iter().collect();
        let submitted: BTreeSet<(u16, String)> = pairs(&journal(journal_path), "submitting", None)
            .into_iter()
            .collect();
        assert!(submitted.is_subset(&mine), "{submitted:?} ⊄ {mine:?}");
        owned.push((mine, submitted));
    }
    assert!(owned[0].0.is_disjoint(&owned[1].0), "{owned:?}");
    assert!(owned[0].1.is_disjoint(&owned[1].1), "{owned:?}");
    let everything: BTreeSet<(u16, String)> = owned[0].0.union(&owned[1].0).cloned().collect();
    assert_eq!(everything.len(), 9);
    assert_eq!(registered_on_chain(&devnet), all_pow_targets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_farm_finishes_its_plan_on_restart() {
    // About a second per seal on one thread: the kill comes mid-plan.
    let devnet = devnet_with(Duration::from_millis(250), subnets(3_000_000)).await;
    let dir = tempfile_dir::new("restart");
    let plan = write_plan(&dir.0, &devnet.url);
    let journal_path = dir.0.join("journal.jsonl");
    let journal_arg = journal_path.to_str().unwrap().to_string();
    let mut first = farm(&plan, &["--journal", &journal_arg]).spawn().unwrap();
    let one = wait_for(Duration::from_secs(60), || {
        !pairs(&journal(&journal_path), "target", Some("registered")).is_empty()
    })
    .await;
    assert!(one, "no registration within a minute");
    first.kill().unwrap(); // SIGKILL: no clean-up at all
    first.wait().unwrap();
    let before = registered_on_chain(&devnet);
    assert!(
        before.len() < 6,
        "the plan finished before the kill: {before:?}"
    );

    let out = output(farm(&plan, &["--journal", &journal_arg])).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(registered_on_chain(&devnet), all_pow_targets());
    let lines = json_lines(&out);
    let summary = lines.iter().find_map(|l| l.get("summary")).unwrap();
    let done = summary["states"]["registered"].as_u64().unwrap()
        + summary["states"]["already_registered"].as_u64().unwrap();
    assert_eq!(done, 6, "{summary}");
    // The restart submitted nothing for what the first run had registered.
    let resubmitted: BTreeSet<(u16, String)> = pairs(&lines, "submitting", None)
        .into_iter()
        .filter(|p| before.contains(p))
        .collect();
    assert!(resubmitted.is_empty(), "{resubmitted:?}");
    // The journal holds both runs: every target registered exactly once.
    let registered = pairs(&journal(&journal_path), "target", Some("registered"));
    let distinct: BTreeSet<_> = registered.iter().cloned().collect();
    assert_eq!(registered.len(), distinct.len(), "{registered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_plan_names_every_bad_line_and_runs_nothing() {
    let dir = tempfile_dir::new("bad-plan");
    let plan = dir.0.join("farm.toml");
    std::fs::write(
        &plan,
        "network = \"ws://127.0.0.1:1\"\n[[job]]\nnetuids = [0]\nhotkeys = [\"5Nope\"]\ncoldkey_uri = \"//Alice\"\nweight = 0\n",
    )
    .unwrap();
    let out = output(farm(&plan, &[])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let errors = common::error_lines(&out);
    let file = plan.display().to_string();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    for (error, (line, key)) in errors.iter().zip([
        (3, "job[1].netuids"),
        (4, "job[1].hotkeys"),
        (6, "job[1].weight"),
    ]) {
        assert!(
            error.starts_with(&format!("error: {file}:{line}: {key}: ")),
            "{error}"
        );
    }
}

/// A SIGTERM that comes while the farm is still connecting (a scheduler may stop a task at
/// any moment) is not the signal's default death: the run ends as soon as it starts, with
/// its summary and exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_connecting_still_ends_with_a_summary() {
    let devnet = devnet_with(
        Duration::from_millis(250),
        vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)],
    )
    .await;
    // Every node message 300 ms late: connecting takes seconds.
    let proxy = common::proxy::Proxy::start(&devnet.url).await;
    proxy.faults(|f| f.delay = Duration::from_millis(300));
    let dir = tempfile_dir::new("sigterm-connecting");
    let plan = write_jobs(&dir.0, &proxy.url, &[job("[1]", &HOTKEYS[..1])]);
    let mut child = farm(&plan, &["--metrics", "127.0.0.1:0"]).spawn().unwrap();
    // The metrics line comes before the chain is reached.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let first = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (line, stdout)
    })
    .await
    .unwrap();
    assert!(first.0.contains("\"event\":\"metrics\""), "{}", first.0);
    common::terminate(child.id());
    let rest = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut stdout = first.1;
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let out = child.wait_with_output().unwrap();
        (rest, out)
    })
    .await
    .unwrap();
    let (rest, out) = rest;
    assert_eq!(out.status.code(), Some(1), "{}{rest}", stderr(&out));
    assert!(rest.contains("\"summary\""), "{rest}");
    assert!(
        stderr(&out).contains("stopped (SIGTERM)"),
        "{}",
        stderr(&out)
    );
    devnet.stop().await;
}

/// A generated plan with many errors shows the first 20 and counts the rest in the exit-2
/// line, rather than one line per error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_many_errors_shows_the_first_and_counts_the_rest() {
    let dir = tempfile_dir::new("many-errors");
    let jobs: Vec<String> = (0..50).map(|_| job("[1]", &HOTKEYS[..1])).collect();
    let plan = write_jobs(&dir.0, "ws://127.0.0.1:1", &jobs);
    let out = output(farm(&plan, &[])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let errors = common::error_lines(&out);
    assert_eq!(errors.len(), 20, "{errors:#?}");
    assert!(errors[..19]
        .iter()
        .all(|e| e.contains("is already a target")));
    assert!(
        errors[19].ends_with("(and 29 more plan errors not shown)"),
        "{}",
        errors[19]
    );
}

/// SIGTERM, as a scheduler stops a farm, settles as Ctrl-C does: the summary is written,
/// the journal ends with whole lines, and the exit is 1 (not all registered), not 143.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_farm_with_its_summary_and_exit_1() {
    let devnet = devnet_with(
        Duration::from_millis(250),
        vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let dir = tempfile_dir::new("sigterm");
    let plan = write_jobs(&dir.0, &devnet.url, &[job("[1]", &HOTKEYS[..2])]);
    let journal_path = dir.0.join("journal.jsonl");
    let mut child = farm(&plan, &["--journal", journal_path.to_str().unwrap()])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            seen.push(line);
        }
        seen
    });
    assert!(
        wait_for(Duration::from_secs(30), || journal(&journal_path).len()
            >= 2)
        .await,
        "the farm started its targets"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    common::terminate(child.id());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<Value> = lines
        .join()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines
        .iter()
        .find_map(|l| l.get("summary"))
        .unwrap_or_else(|| panic!("a summary: {lines:#?}"));
    assert_eq!(summary["states"]["cancelled"], 2, "{summary}");
    assert_eq!(
        common::error_lines(&out),
        vec!["error: stopped (SIGTERM) with 2 target(s) unregistered".to_string()]
    );
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_difficulty_skips_a_target_and_the_deadline_is_exit_1() {
    let devnet = devnet_with(
        Duration::from_millis(250),
        vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let dir = tempfile_dir::new("max-difficulty");
    let limited = job("[1]", &HOTKEYS[..1]) + "max_difficulty = 1000\n";
    let plan = write_jobs(&dir.0, &devnet.url, &[limited, job("[1]", &HOTKEYS[1..2])]);
    let started = Instant::now();
    let out = output(farm(&plan, &["--max-seconds", "3"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    let lines = json_lines(&out);
    let skipped: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "target" && l["state"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{lines:#?}");
    assert_eq!(skipped[0]["hotkey"], HOTKEYS[0]);
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .ends_with("above max_difficulty 1000"),
        "{}",
        skipped[0]
    );
    let summary = lines.iter().find_map(|l| l.get("summary")).unwrap();
    assert_eq!(summary["states"]["timed_out"], 1, "{summary}");
    assert_eq!(summary["states"]["skipped"], 1, "{summary}");
    assert!(summary["hashes"].as_u64().unwrap() > 0);
    assert!(common::error_lines(&out)[0].contains("not registered before the deadline"));
}

/// `regpow register` at a difficulty it cannot reach, serving metrics on a free loopback
/// port: the devnet (keep it alive), the port and the running child.
async fn register_serving_metrics() -> (DevnetHandle, u16, std::process::Child) {
    let devnet = devnet_with(
        Duration::from_millis(250),
        vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = common::register_command(&devnet.url, "1", "//Alice", &["--metrics", &addr])
        .spawn()
        .unwrap();
    (devnet, port, child)
}

/// Ctrl-C to a run that registered nothing: it ends with exit 1.
async fn stop_unregistered(child: std::process::Child) {
    interrupt(child.id());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_serves_the_same_metrics() {
    let (_devnet, port, child) = register_serving_metrics().await;
    let mut exposition = String::new();
    let seen = wait_for(Duration::from_secs(30), || {
        exposition = http_get(port, "/metrics").unwrap_or_default();
        exposition.contains("regpow_hashes_total{device=\"cpu\"}")
            && exposition.contains("regpow_chain_head_block")
            && exposition.contains("regpow_retarget_seconds_count")
    })
    .await;
    assert!(seen, "{exposition}");
    assert!(exposition.contains("# TYPE regpow_hashes_total counter"));
    assert!(
        !exposition.contains("hotkey"),
        "no hotkey labels: {exposition}"
    );
    stop_unregistered(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_endpoint_outlives_a_flood_of_half_open_requests() {
    let (_devnet, port, child) = register_serving_metrics().await;
    assert!(
        wait_for(Duration::from_secs(30), || http_get(port, "/metrics")
            .is_some())
        .await,
        "metrics up"
    );
    // 300 clients that send half a request and then nothing, held open.
    let mut half_open = Vec::new();
    for _ in 0..300 {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
            half_open.push(stream);
        }
    }
    // A scraper (10 s timeout, as Prometheus's default) still gets its answer: the
    // half-open ones are cut after the header timeout, the ones over the cap at once.
    let started = std::time::Instant::now();
    let scraped = wait_for(Duration::from_secs(10), || {
        http_get(port, "/metrics").is_some_and(|body| body.contains("regpow_hashes_total"))
    })
    .await;
    assert!(scraped, "no scrape within 10 s of the flood");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Every half-open client has been cut by the server (over the cap at once, the rest
    // after the 3 s header timeout): none holds a slot for ever.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for stream in &mut half_open {
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 512];
        let closed = loop {
            match std::io::Read::read(stream, &mut buf) {
                Ok(0) => break true,
                Ok(_) => continue, // a 408 or similar, then the close
                Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        };
        assert!(closed, "a half-open client still holds a connection");
    }
    drop(half_open);
    stop_unregistered(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pow_turned_off_mid_run_is_skipped_not_refused() {
    let devnet = devnet_with(
        Duration::from_millis(250),
        vec![subnet(1, true, common::UNREACHABLE_DIFFICULTY)],
    )
    .await;
    let dir = tempfile_dir::new("pow-off");
    let plan = write_jobs(&dir.0, &devnet.url, &[job("[1]", &HOTKEYS[..1])]);
    let child = farm(&plan, &["--max-seconds", "60"]).spawn().unwrap();
    // Hashing for a moment, then the subnet turns PoW off.
    tokio::time::sleep(Duration::from_secs(2)).await;
    common::change_subnet(&devnet, 1, |subnet| subnet.pow_allowed = false);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    let states: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "target")
        .map(|l| l["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["running", "skipped"], "{lines:#?}");
    let last = lines.iter().rfind(|l| l["event"] == "target").unwrap();
    assert_eq!(last["reason"], "PoW disabled");
}
