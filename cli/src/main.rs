//! `regpow`: win Bittensor UID slots by proof-of-work registration.
//!
//! This binary only parses flags, wires the rules, solver, chain and registrar crates
//! together, words their facts (`words.rs`), shows them (`views/`) and maps outcomes to exit
//! codes: 0 done, 1 not achieved, 2 bad input, 3 unavailable on this
//! machine.

mod args;
mod backends;
mod commands;
mod connect;
mod events;
mod failure;
mod farm_config;
mod interrupts;
mod live;
mod metrics;
mod output;
mod runtime_dir;
mod signer;
mod telemetry;
mod views;
mod words;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    // First, while this is the only thread: the environment is changed only here.
    runtime_dir::ensure();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_error(err),
    };
    let result = match &cli.command {
        Command::Seal(a) => commands::seal::run(a, cli.json),
        Command::Verify(a) => commands::verify::run(a, cli.json),
        Command::Solve(a) => commands::solve::run(a, cli.json),
        Command::Bench(a) => commands::bench::run(a, cli.json),
        Command::Devices => commands::devices::run(cli.json),
        Command::Devnet(a) => commands::devnet::run(a, cli.json),
        Command::Register(a) => commands::register::run(a, cli.json),
        Command::Status(a) => commands::status::run(a, cli.json),
        Command::Farm(a) => commands::farm::run(a, cli.json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = if let Some(failure) = err.downcast_ref::<Failure>() {
                failure.code()
            } else if err.is::<regpow_rules::InputError>() {
                failure::BAD_INPUT
            } else {
                failure::NOT_ACHIEVED
            };
            output::note(&format!("error: {}", one_line(&format!("{err:#}"))));
            ExitCode::from(code)
        }
    }
}

/// Help and version go to stdout with exit 0; every other parse error is bad input (exit 2),
/// reported on one line.
fn clap_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(failure::BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let text = err.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let first = redact_urls(first, err.get(clap::error::ContextKind::InvalidValue));
            let expected = match err.get(clap::error::ContextKind::ValidValue) {
                Some(clap::error::ContextValue::Strings(values)) => {
                    format!(" (expected one of: {})", values.join(", "))
                }
                _ => String::new(),
            };
            output::note(&format!("error: {}{expected}", one_line(&first)));
            ExitCode::from(failure::BAD_INPUT)
        }
    }
}

/// clap quotes a refused value as given: a `--network` URL may hold a password or an API
/// key, so the value (and any other word with `://`) is replaced by its redacted form, and
/// a value that may be a secret (several words, long, or a long hex string) by its size.
fn redact_urls(text: &str, value: Option<&clap::error::ContextValue>) -> String {
    use regpow_chain::network::redact_url;
    let mut text = text.to_string();
    if let Some(clap::error::ContextValue::String(value)) = value {
        if value.contains("://") {
            text = text.replace(value.as_str(), &redact_url(value));
        } else {
            // A mnemonic pasted into the wrong flag is not echoed (only its size).
            let shown = regpow_rules::error::quoted_input(value);
            if !shown.starts_with('\'') {
                text = text
                    .replace(&format!("'{value}'"), &shown)
                    .replace(value.as_str(), &shown);
            }
        }
    }
    text.split(' ')
        .map(|word| {
            if !word.contains("://") {
                return word.to_string();
            }
            let quotes: &[char] = &['\'', '"', '`', ','];
            let core = word.trim_matches(quotes);
            let start = word.find(core).unwrap_or(0);
            let end = start + core.len();
            format!("{}{}{}", &word[..start], redact_url(core), &word[end..])
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Collapses a message onto one line (causes joined with ": " by anyhow's `{:#}`).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
