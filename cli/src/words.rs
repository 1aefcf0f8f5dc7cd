//! The CLI's words for the registrar's facts: one function per kind of fact, shared by every
//! text view (`register`, `farm`, the final reports) and by the `reason` fields of `--json`.
//! The library returns enums; only this file turns them into sentences for people.

use regpow_chain::{Refusal, SessionEvent};
use regpow_registrar::farm::{TargetState, WaitReason};
use regpow_registrar::register::Progress;
use regpow_registrar::DeviceEvent;

use crate::output;

/// Why a farm target waits, in a few words (`--json`'s `reason`, the table).
pub fn wait_reason(why: &WaitReason) -> String {
    match why {
        WaitReason::Chain(Refusal::PowDisabled { .. }) => "PoW disabled".into(),
        WaitReason::Chain(Refusal::NoUids { .. } | Refusal::NoRegistrationsPerBlock { .. }) => {
            "the subnet takes no registrations".into()
        }
        WaitReason::Chain(other) => other.to_string(),
        WaitReason::AboveCap { difficulty, cap } => {
            format!("difficulty {difficulty} above max_difficulty {cap}")
        }
        WaitReason::Unreadable(e) => format!("reading its state: {e}"),
    }
}

/// A farm target's state for people.
pub fn target_state(state: &TargetState) -> String {
    match state {
        TargetState::Running => "running".into(),
        TargetState::Waiting(why) => {
            format!("skipped: {} (checked again every block)", wait_reason(why))
        }
        TargetState::Skipped(why) => format!("skipped: {why}"),
        TargetState::Refused(why) => format!("refused: {why}"),
        TargetState::Registered {
            uid,
            block,
            work_block,
        } => format!(
            "registered: uid {uid} in block #{} (work block {work_block})",
            block.number
        ),
        TargetState::AlreadyRegistered { uid } => format!("already registered (uid {uid})"),
        TargetState::TimedOut { .. } => "not registered before the deadline".into(),
        TargetState::Cancelled { .. } => {
            format!("stopped ({})", crate::interrupts::stopped_by())
        }
    }
}

/// The line a registration event gets in a text view, if any (heads show in the status
/// line instead).
pub fn progress(progress: &Progress) -> Option<String> {
    Some(match progress {
        Progress::Head { .. } => return None,
        Progress::Submitting {
            work_block,
            nonce,
            signer_nonce,
            signature: 1,
        } => format!(
            "seal submitted (work block {work_block}, nonce {nonce}, coldkey nonce {signer_nonce})"
        ),
        Progress::Submitting {
            work_block,
            signer_nonce,
            signature,
            ..
        } => format!(
            "seal on work block {work_block} submitted again (signature {signature}, coldkey \
             nonce {signer_nonce})"
        ),
        Progress::Resigning { work_block, why } => {
            format!("{why}: the seal on work block {work_block} will be signed again")
        }
        Progress::NotRegistered(why) => format!("not registered: {why}; solving on"),
        Progress::StatusLost { work_block, reason } => format!(
            "lost the status of the submission with work block {work_block} ({reason}); \
             the chain's state will tell whether it registered"
        ),
        Progress::ReadFailed(why) => format!("{why}; reading again at the next block"),
        Progress::Settling {
            work_block,
            at_most,
        } => settling(*work_block, at_most.as_secs()),
        Progress::Discarded(why) => format!("seal dropped: {why}"),
    })
}

/// The line a session event gets in a text view, if any (the connection dropping and coming
/// back: said once for every registration that follows the network).
pub fn session(event: &SessionEvent) -> Option<String> {
    match event {
        SessionEvent::Reconnecting { reason, retry_in } => Some(format!(
            "connection lost ({reason}); reconnecting in {}",
            humantime::format_duration(*retry_in)
        )),
        SessionEvent::Reconnected => Some("reconnected".into()),
        SessionEvent::Head { .. } | SessionEvent::Lost(_) => None,
    }
}

/// What a run that ends says while it waits for the chain to settle a submission.
pub fn settling(work_block: u64, at_most_secs: u64) -> String {
    format!(
        "waiting for the outcome of the submission with work block {work_block} \
         (at most {at_most_secs}s; {} again to exit now)",
        crate::interrupts::stopped_by()
    )
}

/// The line a device event gets in a text view, if any (rates show in the status line).
pub fn device(event: &DeviceEvent) -> Option<String> {
    match event {
        DeviceEvent::Hashrate { .. } => None,
        DeviceEvent::Fault { name, reason, .. } => Some(format!("device fault: {name}: {reason}")),
        DeviceEvent::Stalled { name, idle, .. } => Some(format!(
            "warning: {name} has computed nothing for {}",
            output::human_seconds(idle.as_secs_f64())
        )),
    }
}

/// What to add about a submission whose outcome was still unknown at exit.
pub fn in_doubt(in_doubt: Option<u64>) -> String {
    in_doubt
        .map(|block| {
            format!(
                " (the submission with work block {block} may still land: check with `regpow status`)"
            )
        })
        .unwrap_or_default()
}

/// The farm summary's line on seals: found, submitted, signed again (and why their first
/// signature did not do), dropped (and why).
pub fn seal_tally(found: u64, seals: &crate::views::farm::SealTally) -> String {
    let why = |counts: &std::collections::BTreeMap<&'static str, u32>| {
        if counts.is_empty() {
            return String::new();
        }
        let words: Vec<String> = counts
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind.replace('_', " ")))
            .collect();
        format!(" ({})", words.join(", "))
    };
    format!(
        "{found} found, {} submitted, {} signed again{}, {} dropped{}",
        seals.submitted,
        seals.resignatures,
        why(&seals.kept),
        seals.discarded_total(),
        why(&seals.discarded)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_reasons_read_short_and_name_their_figures() {
        let above = WaitReason::AboveCap {
            difficulty: 10,
            cap: 5,
        };
        assert_eq!(wait_reason(&above), "difficulty 10 above max_difficulty 5");
        let off = WaitReason::Chain(Refusal::PowDisabled { netuid: 3 });
        assert_eq!(wait_reason(&off), "PoW disabled");
        assert!(target_state(&TargetState::Waiting(off)).contains("checked again every block"));
        assert_eq!(in_doubt(None), "");
        assert!(in_doubt(Some(7)).contains("work block 7 may still land"));
    }

    #[test]
    fn the_seal_line_says_what_became_of_every_seal_and_why() {
        let mut seals = crate::views::farm::SealTally::default();
        assert_eq!(
            seal_tally(0, &seals),
            "0 found, 0 submitted, 0 signed again, 0 dropped"
        );
        seals.submitted = 5;
        seals.resignatures = 2;
        seals.kept.insert("nonce_race", 2);
        seals.discarded.insert("work_block_claimed", 3);
        seals.discarded.insert("outside_window", 1);
        assert_eq!(
            seal_tally(40, &seals),
            "40 found, 5 submitted, 2 signed again (2 nonce race), 4 dropped \
             (1 outside window, 3 work block claimed)"
        );
    }
}
