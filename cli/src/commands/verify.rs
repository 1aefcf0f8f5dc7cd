//! `regpow verify`: does a nonce's seal meet a difficulty (and match a claimed seal)?

use regpow_rules::{reference_seal, Seal};
use serde::Serialize;

use crate::args::VerifyArgs;
use crate::failure::Failure;
use crate::output;
use crate::output::out;

#[derive(Serialize)]
struct VerifyJson {
    valid: bool,
    nonce: u64,
    seal: String,
    difficulty: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// Exit 0 and `valid`, or exit 1 with the reason.
pub fn run(args: &VerifyArgs, json: bool) -> anyhow::Result<()> {
    let prefix = args.challenge.challenge().prefix();
    let seal = reference_seal(&prefix, args.nonce);
    let reason = if args.seal.is_some_and(|claimed| Seal(claimed) != seal) {
        Some("seal does not match the challenge and nonce")
    } else if !seal.meets(&args.difficulty.bound()) {
        Some("seal does not meet difficulty")
    } else {
        None
    };
    if json {
        output::json(&VerifyJson {
            valid: reason.is_none(),
            nonce: args.nonce,
            seal: seal.to_string(),
            difficulty: args.difficulty.get(),
            reason,
        });
    }
    match reason {
        None => {
            if !json {
                out!("valid");
            }
            Ok(())
        }
        Some(reason) => Err(Failure::not_achieved(format!("invalid: {reason}")).into()),
    }
}
