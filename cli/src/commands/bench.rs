//! `regpow bench`: hashrate of a backend on a random challenge.

use std::time::{Duration, Instant};

use regpow_engine::search::solve;
use regpow_engine::{Job, NonceRange};
use regpow_rules::{Challenge, Difficulty, PublicKey};
use serde::Serialize;

use crate::args::BenchArgs;
use crate::backends;
use crate::output;
use crate::output::out;

#[derive(Serialize)]
struct DeviceJson {
    name: String,
    hashrate: f64,
}

#[derive(Serialize)]
struct BenchJson {
    backend: &'static str,
    devices: Vec<DeviceJson>,
    hashrate: f64,
    hashes: u64,
    seconds: f64,
}

/// Hashes a random challenge at an unreachable difficulty for `--seconds` and reports the rate.
pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<()> {
    let backend = backends::open(&args.backend)?;
    let challenge = Challenge::new(
        rand::random_range(1..=u16::MAX),
        rand::random(),
        PublicKey(rand::random()),
        PublicKey(rand::random()),
    )?;
    // The top limb of the target is 1: a hit has odds of 2^-63 per seal, so the whole run
    // measures hashing. Should one happen anyway, the loop simply carries on past it.
    let job = Job::new(challenge, Difficulty::new(u64::MAX)?);
    let budget = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut hashes = 0u64;
    let mut per_device = vec![0u64; backend.devices().len()];
    let mut start = rand::random::<u64>() >> 1;
    while let Some(left) = budget.checked_sub(started.elapsed()) {
        let report = solve(backend.as_ref(), &job, NonceRange::from(start), Some(left))?;
        hashes += report.hashes;
        for (total, n) in per_device.iter_mut().zip(&report.device_hashes) {
            *total += n;
        }
        match report.hit {
            Some(hit) => start = hit.nonce + 1,
            None => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let hashrate = hashes as f64 / seconds;
    let devices: Vec<DeviceJson> = backend
        .devices()
        .into_iter()
        .zip(&per_device)
        .map(|(d, &n)| DeviceJson {
            name: d.name,
            hashrate: n as f64 / seconds,
        })
        .collect();
    if json {
        output::json(&BenchJson {
            backend: backend.name(),
            devices,
            hashrate,
            hashes,
            seconds,
        });
    } else {
        for d in &devices {
            out!("{}: {}", d.name, output::rate(d.hashrate));
        }
        out!(
            "total: {} ({hashes} seals in {seconds:.1}s)",
            output::rate(hashrate)
        );
    }
    Ok(())
}
