//! `regpow bench`: hashrate of a backend on a random challenge.

use std::time::{Duration, Instant};

use regpow_rules::{Challenge, Difficulty, PublicKey};
use regpow_solver::{Job, PoolJob};
use serde::Serialize;

use crate::args::BenchArgs;
use crate::backends;
use crate::output;
use crate::output::out;

#[derive(Serialize)]
struct DeviceJson {
    id: String,
    name: String,
    hashrate: f64,
}

#[derive(Serialize)]
struct BenchJson {
    backend: String,
    jobs: u16,
    devices: Vec<DeviceJson>,
    hashrate: f64,
    hashes: u64,
    seconds: f64,
}

/// Hashes a random challenge at an unreachable difficulty on the device pool for `--seconds`
/// and reports the rate, per device and in total.
pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let pool = backends::pool(&args.backend)?;
    let mut jobs = Vec::new();
    for _ in 0..args.jobs {
        let challenge = Challenge::new(
            rand::random_range(1..=u16::MAX),
            rand::random(),
            PublicKey(rand::random()),
            PublicKey(rand::random()),
        )?;
        // The top limb of the target is 1: a hit has odds of 2^-63 per seal, so the whole
        // run measures hashing (the pool carries on past one anyway).
        jobs.push(PoolJob::new(
            Job::new(challenge, Difficulty::new(u64::MAX)?),
            0,
        ));
    }
    let before = pool.stats();
    let started = Instant::now();
    pool.assign(jobs);
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    pool.stop();
    // The batches in flight finish and count, with the time they take.
    pool.settle(Duration::from_secs(30));
    let after = pool.stats();
    let seconds = started.elapsed().as_secs_f64();
    let devices: Vec<DeviceJson> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| DeviceJson {
            id: a.id.clone(),
            name: a.name.clone(),
            hashrate: (a.hashes - b.hashes) as f64 / seconds,
        })
        .collect();
    let hashes: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.hashes - b.hashes)
        .sum();
    let hashrate = hashes as f64 / seconds;
    if json {
        output::json(&BenchJson {
            backend: backends::names(&pool),
            jobs: args.jobs,
            devices,
            hashrate,
            hashes,
            seconds,
        });
    } else {
        for d in &devices {
            out!("{} [{}]: {}", d.name, d.id, output::rate(d.hashrate));
        }
        out!(
            "total: {} ({hashes} seals in {seconds:.1}s)",
            output::rate(hashrate)
        );
    }
    Ok(())
}
