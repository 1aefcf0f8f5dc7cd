//! Shared by the backend test files: the solved reference challenges as ready jobs, and the
//! policy for tests that need a real GPU ([`gpu`]).

pub mod gpu;

use regpow_rules::keys::parse_hex32;
use regpow_rules::{Challenge, PublicKey};
use regpow_solver::Job;
use serde_json::Value;

/// A solved challenge from `rules/tests/data/vectors.json`: the job, where the search starts, and
/// the reference's first solution from there.
pub struct Solved {
    pub job: Job,
    pub start: u64,
    pub nonce: u64,
    pub seal: String,
}

/// Every solved challenge in the reference vectors.
pub fn solved() -> Vec<Solved> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/tests/data/vectors.json"
    );
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    vectors["solved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let text = |k: &str| v[k].as_str().unwrap().to_string();
            let challenge = Challenge::new(
                v["netuid"].as_u64().unwrap() as u16,
                parse_hex32("block hash", &text("block_hash")).unwrap(),
                PublicKey::parse("hotkey", &text("hotkey")).unwrap(),
                PublicKey::parse("coldkey", &text("coldkey")).unwrap(),
            )
            .unwrap();
            Solved {
                job: Job::new(challenge, text("difficulty").parse().unwrap()),
                start: text("start_nonce").parse().unwrap(),
                nonce: text("nonce").parse().unwrap(),
                seal: text("seal"),
            }
        })
        .collect()
}
