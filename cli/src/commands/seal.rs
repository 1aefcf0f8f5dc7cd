//! `regpow seal`: the seal of one nonce.

use regpow_rules::reference_seal;
use serde::Serialize;

use crate::args::SealArgs;
use crate::output;
use crate::output::out;

#[derive(Serialize)]
struct SealJson {
    nonce: u64,
    seal: String,
}

/// Prints `0x<seal>` (or JSON).
pub fn run(args: &SealArgs, json: bool) -> anyhow::Result<()> {
    let prefix = args.challenge.challenge().prefix();
    let seal = reference_seal(&prefix, args.nonce);
    if json {
        output::json(&SealJson {
            nonce: args.nonce,
            seal: seal.to_string(),
        });
    } else {
        out!("{seal}");
    }
    Ok(())
}
