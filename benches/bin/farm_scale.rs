//! `farm-scale`: what a farm costs besides hashing, as its plan grows. For each plan size it
//! starts the devnet in this process (PoW subnets 1..=S at a difficulty no run reaches,
//! blocks every `--block-time`), writes a plan of `targets ÷ S` hotkeys × S subnets signed by
//! `//Alice`, runs `regpow farm --threads 1 --json` (or, with `--table`, with its live table
//! on a terminal that `script` provides) against it for `--seconds`, and prints a
//! row: JSON-RPC requests per head (median over the heads after the warm-up, counted by the
//! devnet), CPU outside hashing (every thread but `regpow-cpu-*` and `regpow-device-*`, per
//! minute), peak RSS, time from start to the first hash, the hashrate (and its ratio to
//! `regpow bench --threads 1` run just before and just after, with the same devnet up: the
//! mean of the two, so that a machine whose speed drifts during a row does not read as the
//! farm's cost), and `--json` lines per minute. Run through `benches/farm-scale.sh`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use regpow_devnet::{DevnetConfig, SubnetConfig};
use regpow_rules::PublicKey;

/// A difficulty one CPU thread does not reach in a run.
const UNREACHABLE: u64 = 10_000_000_000_000;

struct Options {
    regpow: PathBuf,
    seconds: u64,
    warmup: u64,
    block_time: Duration,
    subnets: u16,
    /// The live table (under a terminal) instead of `--json`.
    table: bool,
    extra: Vec<String>,
    sizes: Vec<usize>,
}

const USAGE: &str = "usage: farm-scale [--regpow PATH] [--seconds N] [--warmup N] \
[--block-time 1s] [--subnets N] [--table] [--arg FLAG]... [TARGETS]...";

fn options() -> Options {
    let mut options = Options {
        regpow: PathBuf::from("target/release/regpow"),
        seconds: 40,
        warmup: 10,
        block_time: Duration::from_secs(1),
        subnets: 5,
        table: false,
        extra: Vec::new(),
        sizes: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--regpow" => options.regpow = value().into(),
            "--seconds" => options.seconds = value().parse().expect("--seconds N"),
            "--warmup" => options.warmup = value().parse().expect("--warmup N"),
            "--block-time" => {
                options.block_time =
                    humantime::parse_duration(&value()).expect("--block-time like 1s")
            }
            "--subnets" => options.subnets = value().parse().expect("--subnets N"),
            "--table" => options.table = true,
            "--arg" => options.extra.push(value()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            size => match size.parse() {
                Ok(size) => options.sizes.push(size),
                Err(_) => {
                    eprintln!("farm-scale: '{size}' is not a number of targets\n{USAGE}");
                    std::process::exit(2);
                }
            },
        }
    }
    if options.sizes.is_empty() {
        options.sizes = vec![10, 100, 1_000, 10_000];
    }
    options
}

/// The plan: `hotkeys` made-up hotkeys on subnets 1..=`subnets`, signed by //Alice.
fn write_plan(dir: &Path, hotkeys: usize, subnets: u16) -> PathBuf {
    let keys: Vec<String> = (0..hotkeys)
        .map(|i| {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            key[31] = 0x5c;
            format!("\"{}\"", PublicKey(key).to_ss58(42))
        })
        .collect();
    let netuids: Vec<String> = (1..=subnets).map(|n| n.to_string()).collect();
    let plan = format!(
        "[[job]]\nnetuids = [{}]\ncoldkey_uri = \"//Alice\"\nhotkeys = [{}]\n",
        netuids.join(", "),
        keys.join(", ")
    );
    let path = dir.join("farm.toml");
    std::fs::write(&path, plan).unwrap();
    path
}

/// CPU seconds of the process's threads: (hashing, everything else).
fn cpu_seconds(pid: u32) -> Option<(f64, f64)> {
    let ticks = 100.0; // USER_HZ on Linux
    let mut hashing = 0.0;
    let mut other = 0.0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let used =
            fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        if name.starts_with("regpow-cpu") || name.starts_with("regpow-devic") {
            hashing += used / ticks;
        } else {
            other += used / ticks;
        }
    }
    Some((hashing, other))
}

/// The `regpow` process started under `script` (pid `parent`), found among its
/// descendants within a few seconds.
fn regpow_under(parent: u32) -> Option<u32> {
    for _ in 0..100 {
        let mut frontier = vec![parent];
        while let Some(pid) = frontier.pop() {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for task in tasks.flatten() {
                let children =
                    std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                for child in children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok())
                {
                    let comm =
                        std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
                    if comm.trim() == "regpow" {
                        return Some(child);
                    }
                    frontier.push(child);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Peak resident memory in MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

struct Row {
    targets: usize,
    requests_per_head: f64,
    subscriptions: u64,
    other_cpu_per_min: f64,
    hashing_cpu_per_min: f64,
    rss_mb: f64,
    first_hash: Option<f64>,
    /// The farm's hashrate from its `--json` events (none with `--table`).
    hashrate: Option<f64>,
    /// `regpow bench --threads 1` before and after the farm.
    bench_rate: (f64, f64),
    json_lines_per_min: f64,
}

fn median(mut values: Vec<u64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2] as f64
    } else {
        (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0
    }
}

/// The hashrate of `regpow bench --threads 1` over `--seconds`.
fn bench_rate(options: &Options, dir: &Path) -> f64 {
    let bench = Command::new(&options.regpow)
        .args(["bench", "--threads", "1", "--json", "--seconds"])
        .arg(options.seconds.to_string())
        .env("XDG_RUNTIME_DIR", dir)
        .stderr(Stdio::null())
        .output()
        .expect("regpow bench runs");
    String::from_utf8_lossy(&bench.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["hashrate"].as_f64())
        .next_back()
        .unwrap_or(f64::NAN)
}

async fn measure(options: &Options, targets: usize) -> Row {
    let subnets = options.subnets;
    let hotkeys = targets.div_ceil(usize::from(subnets));
    let config = DevnetConfig {
        block_time: options.block_time,
        subnets: (1..=subnets)
            .map(|netuid| SubnetConfig {
                difficulty: UNREACHABLE,
                min_difficulty: UNREACHABLE,
                max_difficulty: UNREACHABLE,
                max_uids: 4096,
                ..SubnetConfig::new(netuid, true)
            })
            .collect(),
        ..DevnetConfig::default()
    };
    let devnet = regpow_devnet::start(config).await.expect("a devnet");
    let dir = std::env::temp_dir().join(format!(
        "regpow-farm-scale-{}-{targets}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = write_plan(&dir, hotkeys, subnets);
    // What the devices do alone, on the same machine with the same devnet running.
    let bench_before = bench_rate(options, &dir);
    let run_secs = options.seconds + options.warmup;
    let start = Instant::now();
    let mut args: Vec<String> = vec!["farm".into(), "--config".into()];
    args.push(plan.display().to_string());
    args.extend(["--network", &devnet.url, "--threads", "1"].map(String::from));
    // Stopped once measured: its own deadline comes later, so that the end of the run
    // (every target's final state) is not measured.
    args.extend(["--max-seconds".to_string(), (run_secs + 30).to_string()]);
    args.extend(options.extra.iter().cloned());
    let mut child = if options.table {
        // The live table needs a terminal: `script` gives it one (its output is dropped).
        let line = std::iter::once(options.regpow.display().to_string())
            .chain(args)
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        Command::new("script")
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .env("XDG_RUNTIME_DIR", &dir)
            .env("COLUMNS", "160")
            .env("LINES", "50")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("script runs")
    } else {
        Command::new(&options.regpow)
            .arg("--json")
            .args(&args)
            .env("XDG_RUNTIME_DIR", &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("regpow runs")
    };
    let pid = if options.table {
        regpow_under(child.id()).expect("regpow under script")
    } else {
        child.id()
    };
    let lines = Arc::new(AtomicU64::new(0));
    let first_hash = Arc::new(std::sync::Mutex::new(None::<f64>));
    let hashrates = Arc::new(std::sync::Mutex::new(Vec::<(f64, f64)>::new()));
    {
        let (lines, first_hash, hashrates) = (lines.clone(), first_hash.clone(), hashrates.clone());
        let stdout: Box<dyn std::io::Read + Send> = match child.stdout.take() {
            Some(stdout) => Box::new(stdout),
            None => Box::new(std::io::empty()),
        };
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.fetch_add(1, Ordering::Relaxed);
                if line.contains("\"event\":\"hashrate\"") {
                    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let at = start.elapsed().as_secs_f64();
                    let mut first = first_hash.lock().unwrap();
                    if first.is_none() && value["hashes"].as_u64().unwrap_or(0) > 0 {
                        *first = Some(at);
                    }
                    let rate = value["hashrate"].as_f64().unwrap_or(0.0);
                    hashrates.lock().unwrap().push((at, rate));
                }
            }
        });
    }
    // Per head: the devnet's calls between two blocks, after the warm-up.
    let mut blocks = devnet.node.subscribe_blocks();
    let warm = start + Duration::from_secs(options.warmup);
    let end = start + Duration::from_secs(run_secs);
    let mut per_head = Vec::new();
    let mut last: Option<u64> = None;
    let mut window: Option<(f64, f64, Instant, u64)> = None;
    let mut peak = 0.0f64;
    loop {
        let wait = tokio::time::timeout(Duration::from_millis(500), blocks.recv()).await;
        if let Some(rss) = peak_rss_mb(pid) {
            peak = peak.max(rss);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("regpow farm ended early ({status}) at {targets} targets");
        }
        if Instant::now() >= end {
            break;
        }
        if Instant::now() < warm {
            continue;
        }
        if window.is_none() {
            if let Some((hashing, other)) = cpu_seconds(pid) {
                window = Some((
                    hashing,
                    other,
                    Instant::now(),
                    lines.load(Ordering::Relaxed),
                ));
            }
        }
        if let Ok(Ok(_)) = wait {
            let total = devnet.rpc_calls.total();
            if let Some(before) = last {
                per_head.push(total - before);
            }
            last = Some(total);
        }
    }
    let (hashing_after, other_after) = cpu_seconds(pid).unwrap_or((0.0, 0.0));
    let lines_after = lines.load(Ordering::Relaxed);
    let (hashing_before, other_before, at, lines_before) =
        window.unwrap_or((0.0, 0.0, Instant::now(), 0));
    let minutes = at.elapsed().as_secs_f64() / 60.0;
    if options.table {
        // SIGKILL to regpow itself: `script` ends with it.
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let _ = child.kill();
    let _ = child.wait();
    let bench_after = bench_rate(options, &dir);
    let calls = devnet.rpc_calls.snapshot();
    let subscriptions = calls.get("chain_subscribeNewHeads").copied().unwrap_or(0);
    devnet.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    // The devices' own hashrate, averaged over the measured window.
    let warm_secs = options.warmup as f64;
    let rates: Vec<f64> = hashrates
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at >= warm_secs)
        .map(|(_, rate)| *rate)
        .collect();
    let hashrate = (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64);
    let first_hash = *first_hash.lock().unwrap();
    Row {
        targets,
        requests_per_head: median(per_head),
        subscriptions,
        other_cpu_per_min: (other_after - other_before) / minutes,
        hashing_cpu_per_min: (hashing_after - hashing_before) / minutes,
        rss_mb: peak,
        first_hash,
        hashrate,
        bench_rate: (bench_before, bench_after),
        json_lines_per_min: (lines_after - lines_before) as f64 / minutes,
    }
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "| targets | requests per head (median) | head subscriptions | CPU outside hashing | hashing CPU | peak RSS | first hash | hashrate (÷ bench) | bench before / after | `--json` lines per minute |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &size in &options.sizes {
        let row = runtime.block_on(measure(&options, size));
        println!(
            "| {} | {:.0} | {} | {:.2} s/min | {:.1} s/min | {:.0} MB | {} | {} | {:.2} / {:.2} M/s | {} |",
            row.targets,
            row.requests_per_head,
            row.subscriptions,
            row.other_cpu_per_min,
            row.hashing_cpu_per_min,
            row.rss_mb,
            row.first_hash.map_or("-".into(), |s| format!("{s:.1} s")),
            row.hashrate.map_or("- (no --json)".into(), |rate| format!(
                "{:.2} M/s ({:.3})",
                rate / 1e6,
                rate / ((row.bench_rate.0 + row.bench_rate.1) / 2.0)
            )),
            row.bench_rate.0 / 1e6,
            row.bench_rate.1 / 1e6,
            if options.table {
                "- (table)".to_string()
            } else {
                format!("{:.0}", row.json_lines_per_min)
            },
        );
    }
}
