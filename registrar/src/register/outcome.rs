//! How a registration run ends, and why the chain refused it, as types.

use regpow_chain::submitter::SigningStopped;
use regpow_chain::{ChainError, Head, PoolRefusal, Refusal};
use regpow_rules::tx_pool;

/// How a registration run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The chain registered the hotkey with one of this run's seals.
    Registered {
        /// The uid taken.
        uid: u16,
        /// The block that included it (or, when learnt from state, a block holding it).
        block: Head,
        /// The work block of the winning seal.
        work_block: u64,
    },
    /// The hotkey became registered to this coldkey by a submission this run did not make
    /// (an earlier run that was killed, another process of a farm).
    RegisteredElsewhere {
        /// The uid it holds.
        uid: u16,
    },
    /// The chain refuses this registration.
    Refused {
        /// Why.
        refused: Refused,
        /// The work block of a submission whose outcome was still unknown at exit.
        in_doubt: Option<u64>,
    },
    /// The time bound passed without a registration.
    TimedOut {
        /// As for [`Outcome::Refused`].
        in_doubt: Option<u64>,
    },
    /// The caller cancelled (Ctrl-C).
    Cancelled {
        /// As for [`Outcome::Refused`] (a second Ctrl-C, or the wait for it ran out).
        in_doubt: Option<u64>,
    },
}

/// Why the chain refuses a registration. [`Refused::may_lift`] tells a refusal a farm waits
/// out from one that stands.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The subnet's or the hotkey's state rules it out.
    #[error(transparent)]
    State(#[from] Refusal),
    /// The hotkey is registered on the subnet to another coldkey.
    #[error("registered on subnet {netuid} (uid {uid}) to another coldkey")]
    RegisteredToOther {
        /// The subnet.
        netuid: u16,
        /// The uid it holds.
        uid: u16,
    },
    /// The hotkey became registered during the run by a submission that is not this
    /// coldkey's.
    #[error("the hotkey became registered on subnet {netuid} (uid {uid}) by another submission")]
    TakenDuringRun {
        /// The subnet.
        netuid: u16,
        /// The uid it holds.
        uid: u16,
    },
    /// The pool refused with a code no later seal can pass.
    #[error("{}", pool_code_words(*.0))]
    PoolCode(u8),
    /// Included but failed with a module error no later seal can pass.
    #[error("the chain refused the registration: {0}")]
    Failed(String),
    /// The pool refused this many seals in a row with code 255: a rule regpow cannot check
    /// beforehand (a system account, the coldkey's hotkey limit).
    #[error(
        "the pool refused {count} seals in a row (custom code 255: a rule regpow cannot check \
         beforehand, e.g. a system account or the coldkey's hotkey limit)"
    )]
    OpaqueRefusals {
        /// How many.
        count: u32,
    },
    /// The coldkey stopped signing: the node refused too many of its submissions in a row
    /// (of every registration it signs).
    #[error(transparent)]
    SigningStopped(SigningStopped),
    /// The node rejected this many submissions in a row.
    #[error("the node rejected {count} submissions in a row: {last}")]
    Rejected {
        /// How many.
        count: u32,
        /// The last rejection.
        last: PoolRefusal,
    },
}

/// The words for a fatal pool code.
fn pool_code_words(code: u8) -> String {
    match code {
        tx_pool::SUBNET_NOT_EXISTS => "the chain says the subnet does not exist".into(),
        tx_pool::NON_ASSOCIATED_COLDKEY => {
            "the chain says the hotkey belongs to another coldkey".into()
        }
        code => format!("refused by the pool (custom code {code})"),
    }
}

impl Refused {
    /// Whether the refusal may lift while the process runs (a subnet setting its owner can
    /// change): a farm target waits and is read again at every head; any other refusal
    /// stands.
    pub fn may_lift(&self) -> bool {
        matches!(self, Self::State(refusal) if refusal.may_lift())
    }
}

/// Why the loop could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The chain could not be reached or used.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Every device failed.
    #[error("{last_fault}")]
    Devices {
        /// The last device's fault, `name: reason`.
        last_fault: String,
        /// The work block of a submission whose outcome was still unknown at exit.
        in_doubt: Option<u64>,
    },
}
