//! The `--json` form of every event: one object per line. Target events are tagged with the
//! target's id, subnet and hotkey; device events with the device's id. `regpow register`,
//! `regpow farm` and the farm's journal all write these. Each `reason` is the CLI's words
//! ([`crate::words`]); each `kind` names the fact in one word.

use regpow_chain::SessionEvent;
use regpow_registrar::farm::TargetState;
use regpow_registrar::register::{
    Discard, NotRegistered, Progress, ReadFailure, Resign, TargetEvent,
};
use regpow_registrar::{DeviceEvent, TargetSpec};
use serde_json::json;

use crate::words;

/// Adds the target's tags to `line`.
fn tagged(mut line: serde_json::Value, target: &TargetSpec) -> serde_json::Value {
    if let Some(fields) = line.as_object_mut() {
        fields.insert("target".into(), json!(target.id.0));
        fields.insert("netuid".into(), json!(target.netuid));
        fields.insert("hotkey".into(), json!(target.hotkey.to_ss58(42)));
    }
    line
}

/// One `--json` line: a registration's event, tagged with its target.
pub fn event_json(event: &TargetEvent) -> serde_json::Value {
    tagged(progress_json(&event.progress), &event.target)
}

/// The untagged JSON of a registration's event.
fn progress_json(event: &Progress) -> serde_json::Value {
    match event {
        Progress::Head {
            number,
            difficulty,
            full,
            retarget_ms,
        } => json!({
            "event": "head", "block": number, "difficulty": difficulty, "full": full,
            "retarget_ms": retarget_ms,
        }),
        Progress::Submitting {
            work_block,
            nonce,
            signer_nonce,
            signature,
        } => json!({
            "event": "submitting", "work_block": work_block, "nonce": nonce,
            "signer_nonce": signer_nonce, "signature": signature,
        }),
        Progress::Resigning { work_block, why } => json!({
            "event": "resigning", "work_block": work_block,
            "kind": resign_kind(why),
            "reason": why.to_string(),
        }),
        Progress::NotRegistered(why) => json!({
            "event": "not_registered", "kind": not_registered_kind(why), "reason": why.to_string(),
        }),
        Progress::Discarded(why) => json!({
            "event": "discarded", "kind": discard_kind(why), "reason": why.to_string(),
        }),
        Progress::ReadFailed(why) => json!({
            "event": "read_failed",
            "reading": match why {
                ReadFailure::State(_) => "state",
                ReadFailure::Ancestry(_) => "ancestry",
            },
            "reason": why.to_string(),
        }),
        Progress::StatusLost { work_block, reason } => {
            json!({"event": "status_lost", "work_block": work_block, "reason": reason})
        }
        Progress::Settling {
            work_block,
            at_most,
        } => json!({
            "event": "waiting", "work_block": work_block, "at_most": at_most.as_secs_f64(),
            "reason": words::settling(*work_block, at_most.as_secs()),
        }),
    }
}

/// One word for how a submission ended without registering.
fn not_registered_kind(why: &NotRegistered) -> &'static str {
    match why {
        NotRegistered::NotSent { .. } => "not_sent",
        NotRegistered::Failed { .. } => "failed",
        NotRegistered::Refused(_) => "refused",
        NotRegistered::Expired { .. } => "expired",
        NotRegistered::NonceMovedOn { .. } => "nonce_moved_on",
    }
}

/// One word for why a seal is signed again.
pub fn resign_kind(why: &Resign) -> &'static str {
    match why {
        Resign::NonceRace(_) => "nonce_race",
        Resign::Stranded { .. } => "stranded",
        Resign::Dropped(_) => "dropped",
        Resign::BlockFull => "block_full",
        Resign::PoolRefused => "pool_refused",
    }
}

/// One word for why a seal was dropped.
pub fn discard_kind(why: &Discard) -> &'static str {
    match why {
        Discard::AlreadyRegistered { .. } => "already_registered",
        Discard::NotReverified { .. } => "not_reverified",
        Discard::DifficultyRose { .. } => "difficulty_rose",
        Discard::OutsideWindow { .. } => "outside_window",
        Discard::WorkBlockUsed { .. } => "work_block_used",
        Discard::Reorganised { .. } => "reorganised",
        Discard::NotFollowed { .. } => "not_followed",
        Discard::WorkBlockClaimed { .. } => "work_block_claimed",
        Discard::SignaturesSpent { .. } => "signatures_spent",
        Discard::Superseded { .. } => "superseded",
    }
}

/// The `--json` line for a session event worth showing (the connection dropping and coming
/// back; heads show through the registrations).
pub fn session_json(event: &SessionEvent) -> Option<serde_json::Value> {
    match event {
        SessionEvent::Reconnecting { reason, retry_in } => Some(json!({
            "event": "reconnecting", "reason": reason, "retry_in": retry_in.as_secs_f64(),
        })),
        SessionEvent::Reconnected => Some(json!({"event": "reconnected"})),
        SessionEvent::Head { .. } | SessionEvent::Lost(_) => None,
    }
}

/// One `--json` line for a device event.
pub fn device_json(event: &DeviceEvent) -> serde_json::Value {
    match event {
        DeviceEvent::Hashrate {
            devices,
            total,
            hashes,
        } => json!({
            "event": "hashrate",
            "hashrate": total,
            "hashes": hashes,
            "devices": devices.iter().map(|d| json!({"id": d.id, "name": d.name, "hashrate": d.hashrate})).collect::<Vec<_>>(),
        }),
        DeviceEvent::Fault { id, name, reason } => {
            json!({"event": "device_fault", "id": id, "device": name, "reason": reason})
        }
        DeviceEvent::Stalled { id, name, idle } => {
            json!({"event": "device_stalled", "id": id, "device": name, "idle": idle.as_secs_f64()})
        }
    }
}

/// A target's new state, as a `--json` line (`{"event": "target", "state": ..., ...}`).
pub fn target_json(target: &TargetSpec, state: &TargetState) -> serde_json::Value {
    let mut line = tagged(json!({"event": "target", "state": state.word()}), target);
    let fields = line.as_object_mut().expect("an object");
    match state {
        TargetState::Waiting(reason) => {
            fields.insert("reason".into(), json!(words::wait_reason(reason)));
        }
        TargetState::Skipped(reason) | TargetState::Refused(reason) => {
            fields.insert("reason".into(), json!(reason.to_string()));
        }
        TargetState::Registered {
            uid,
            block,
            work_block,
        } => {
            fields.insert("uid".into(), json!(uid));
            fields.insert("block".into(), json!(block.number));
            fields.insert(
                "block_hash".into(),
                json!(format!("0x{}", hex::encode(block.hash))),
            );
            fields.insert("work_block".into(), json!(work_block));
        }
        TargetState::AlreadyRegistered { uid } => {
            fields.insert("uid".into(), json!(uid));
        }
        TargetState::TimedOut { in_doubt } | TargetState::Cancelled { in_doubt } => {
            fields.insert("in_doubt".into(), json!(in_doubt));
        }
        TargetState::Running => {}
    }
    line
}
