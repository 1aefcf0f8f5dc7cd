//! `regpow solve`: search for a nonce meeting a difficulty, offline.

use std::time::Duration;

use regpow_solver::search::solve;
use regpow_solver::{Job, NonceRange};
use serde::Serialize;

use crate::args::SolveArgs;
use crate::backends;
use crate::failure::Failure;
use crate::output;
use crate::output::{err, out};

#[derive(Serialize)]
struct SolveJson {
    nonce: Option<u64>,
    seal: Option<String>,
    hashes: u64,
    seconds: f64,
    hashrate: f64,
    backend: String,
}

/// Prints the nonce and seal (exit 0), or exit 1 when time or nonces run out.
pub fn run(args: &SolveArgs, json: bool) -> anyhow::Result<()> {
    let pool = backends::pool(&args.backend)?;
    let job = Job::new(args.challenge.challenge(), args.difficulty);
    let timeout = args.timeout.map(Duration::from_secs_f64);
    let report = solve(&pool, &job, NonceRange::from(args.start_nonce), timeout)?;
    let seconds = report.elapsed.as_secs_f64();
    if json {
        output::json(&SolveJson {
            nonce: report.hit.map(|h| h.nonce),
            seal: report.hit.map(|h| h.seal.to_string()),
            hashes: report.hashes,
            seconds,
            hashrate: report.hashrate(),
            backend: backends::names(&pool),
        });
    }
    match report.hit {
        Some(hit) => {
            if !json {
                out!("nonce {}", hit.nonce);
                out!("seal  {}", hit.seal);
                err!(
                    "{} hashes in {seconds:.2}s ({}, {})",
                    report.hashes,
                    output::rate(report.hashrate()),
                    backends::names(&pool)
                );
            }
            Ok(())
        }
        None if report.exhausted => Err(Failure::not_achieved(format!(
            "no valid nonce between {} and 2^64-1 ({} hashes)",
            args.start_nonce, report.hashes
        ))
        .into()),
        None => Err(Failure::not_achieved(format!(
            "no valid nonce found within {seconds:.1}s ({} hashes at {})",
            report.hashes,
            output::rate(report.hashrate())
        ))
        .into()),
    }
}
