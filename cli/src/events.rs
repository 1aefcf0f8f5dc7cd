//! The `--json` form of every event: one object per line, each tagged with the subnet and
//! hotkey of the registration it belongs to. `regpow register`, `regpow farm` and the
//! farm's journal all write these.

use regpow_registrar::farm::TargetState;
use regpow_registrar::register::{Event, Progress};
use regpow_rules::PublicKey;
use serde_json::json;

/// One `--json` line: the event, tagged with its registration's subnet and hotkey.
pub fn event_json(event: &Event) -> serde_json::Value {
    let mut line = progress_json(&event.progress);
    if let Some(fields) = line.as_object_mut() {
        fields.insert("netuid".into(), json!(event.netuid));
        fields.insert("hotkey".into(), json!(event.hotkey.to_ss58(42)));
    }
    line
}

pub fn progress_json(event: &Progress) -> serde_json::Value {
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
        Progress::Hashrate {
            devices,
            total,
            hashes,
        } => json!({
            "event": "hashrate",
            "hashrate": total,
            "hashes": hashes,
            "devices": devices.iter().map(|d| json!({"id": d.id, "name": d.name, "hashrate": d.hashrate})).collect::<Vec<_>>(),
        }),
        Progress::Submitting { work_block, nonce } => {
            json!({"event": "submitting", "work_block": work_block, "nonce": nonce})
        }
        Progress::NotRegistered { reason } => json!({"event": "not_registered", "reason": reason}),
        Progress::Discarded { reason } => json!({"event": "discarded", "reason": reason}),
        Progress::Reconnecting { reason, retry_in } => json!({
            "event": "reconnecting", "reason": reason, "retry_in": retry_in.as_secs_f64(),
        }),
        Progress::Reconnected => json!({"event": "reconnected"}),
        Progress::StatusLost { work_block, reason } => {
            json!({"event": "status_lost", "work_block": work_block, "reason": reason})
        }
        Progress::Waiting { reason } => json!({"event": "waiting", "reason": reason}),
        Progress::DeviceFault { id, device, reason } => {
            json!({"event": "device_fault", "id": id, "device": device, "reason": reason})
        }
        Progress::DeviceStalled { id, device, idle } => {
            json!({"event": "device_stalled", "id": id, "device": device, "idle": idle.as_secs_f64()})
        }
        Progress::Done { hashes } => json!({"event": "done", "hashes": hashes}),
    }
}

/// A target's new state, as a `--json` line (`{"event": "target", "state": ..., ...}`).
pub fn target_json(netuid: u16, hotkey: &PublicKey, state: &TargetState) -> serde_json::Value {
    let mut line = json!({
        "event": "target", "netuid": netuid, "hotkey": hotkey.to_ss58(42), "state": state.word(),
    });
    let fields = line.as_object_mut().expect("an object");
    match state {
        TargetState::Waiting(reason) => {
            fields.insert("reason".into(), json!(reason.to_string()));
        }
        TargetState::Skipped(reason) | TargetState::Refused(reason) => {
            fields.insert("reason".into(), json!(reason));
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
