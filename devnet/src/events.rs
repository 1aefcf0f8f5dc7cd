//! `System::Events` records as runtime 475 encodes them (checked against its metadata by
//! decoding them with subxt in the end-to-end test).

use parity_scale_codec::{Compact, Encode};

use crate::pow::{AccountId, PowError};

/// Pallet index of `System`.
const SYSTEM_PALLET: u8 = 0;
/// Pallet index of `SubtensorModule`.
const SUBTENSOR_PALLET: u8 = 7;

/// The events the devnet deposits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `System::ExtrinsicSuccess` (the dispatch info of a fee-free call).
    ExtrinsicSuccess,
    /// `System::ExtrinsicFailed` with `DispatchError::Module` of `SubtensorModule`.
    ExtrinsicFailed(PowError),
    /// `SubtensorModule::NeuronRegistered(netuid, uid, hotkey)`.
    NeuronRegistered {
        /// Subnet.
        netuid: u16,
        /// The uid taken.
        uid: u16,
        /// The hotkey registered.
        hotkey: AccountId,
    },
}

/// Weight reported for a dispatched `pow_register` (informational only): ref time and proof
/// size, in events and in `TransactionPaymentApi_query_info`.
pub(crate) const POW_REGISTER_REF_TIME: u64 = 200_000_000;
/// See [`POW_REGISTER_REF_TIME`].
pub(crate) const POW_REGISTER_PROOF_SIZE: u64 = 4_000;

/// `DispatchEventInfo { weight, class: Normal, pays_fee: No }`.
fn encode_dispatch_info(out: &mut Vec<u8>) {
    Compact(POW_REGISTER_REF_TIME).encode_to(out);
    Compact(POW_REGISTER_PROOF_SIZE).encode_to(out);
    out.push(0); // DispatchClass::Normal
    out.push(1); // Pays::No
}

impl Event {
    /// `RuntimeEvent` encoding: pallet index, event index, fields.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Event::ExtrinsicSuccess => {
                out.extend_from_slice(&[SYSTEM_PALLET, 0]);
                encode_dispatch_info(out);
            }
            Event::ExtrinsicFailed(error) => {
                out.extend_from_slice(&[SYSTEM_PALLET, 1]);
                // DispatchError::Module(ModuleError { index, error: [u8; 4] })
                out.extend_from_slice(&[3, SUBTENSOR_PALLET, error.index(), 0, 0, 0]);
                encode_dispatch_info(out);
            }
            Event::NeuronRegistered {
                netuid,
                uid,
                hotkey,
            } => {
                out.extend_from_slice(&[SUBTENSOR_PALLET, 7]);
                (netuid, uid, hotkey).encode_to(out);
            }
        }
    }
}

/// An event with the index of the extrinsic that emitted it (`Phase::ApplyExtrinsic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// Index of the extrinsic in its block.
    pub extrinsic: u32,
    /// The event.
    pub event: Event,
}

/// `Vec<EventRecord { phase, event, topics: [] }>` as stored in `System::Events`.
pub fn encode_events(records: &[EventRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    Compact(records.len() as u32).encode_to(&mut out);
    for record in records {
        out.push(0); // Phase::ApplyExtrinsic
        record.extrinsic.encode_to(&mut out);
        record.event.encode_to(&mut out);
        out.push(0); // no topics
    }
    out
}
