//! What a registration reports while it runs, as facts: each event is tagged with its
//! target, and every reason is a type (the CLI words them; `Display` gives the plain
//! English of each, as an error's would).

use std::time::Duration;

use regpow_chain::PoolRefusal;

use crate::target::TargetSpec;

/// A progress event tagged with the target it belongs to: the per-target stream every view
/// (the terminal, `--json`, metrics, the journal) reads, one registration or many. What the
/// devices do is the device stream ([`crate::device_watch`]); the connection's drops and
/// returns are the session's own events (`regpow_chain::SessionEvent`), once per network.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetEvent {
    /// The target.
    pub target: TargetSpec,
    /// What happened.
    pub progress: Progress,
}

/// What happened to a registration.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A new best head and the subnet's state at it: at every head while the devices hash
    /// this target, else only when the state changed for it (see `Run::emit_head`).
    Head {
        /// Block number.
        number: u64,
        /// Effective difficulty at that block.
        difficulty: u64,
        /// Whether the block already holds the subnet's registrations for the block.
        full: bool,
        /// Milliseconds from receiving the head to every device hashing its challenge
        /// (`None` when a newer head overtook it first, or the target had no devices).
        retarget_ms: Option<f64>,
    },
    /// A seal passed every check against the newest state, was signed and reached the node
    /// (the node answered, or may hold it).
    Submitting {
        /// Its work block.
        work_block: u64,
        /// Its nonce.
        nonce: u64,
        /// The coldkey nonce it was signed with.
        signer_nonce: u64,
        /// Which signature of this seal it is (1 the first; more after nonce races).
        signature: u32,
    },
    /// A submitted seal will be signed again with a fresh coldkey nonce (at the next head at
    /// the earliest): the seal itself is still good.
    Resigning {
        /// Its work block.
        work_block: u64,
        /// Why its signature did not do.
        why: Resign,
    },
    /// A submission ended without registering; solving goes on.
    NotRegistered(NotRegistered),
    /// A submission's final status was lost; the chain's state will settle it before
    /// anything else is submitted.
    StatusLost {
        /// Its work block.
        work_block: u64,
        /// What was lost, as the client said it.
        reason: String,
    },
    /// Reading the chain at a head failed; the next head reads again (nothing is submitted
    /// on what could not be read).
    ReadFailed(ReadFailure),
    /// The run was asked to end but waits for the chain to settle a submission first.
    Settling {
        /// The submission's work block.
        work_block: u64,
        /// The longest it waits (the work block's window plus one block).
        at_most: Duration,
    },
    /// A found seal was dropped before submission.
    Discarded(Discard),
}

/// How a submission ended without registering the hotkey.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotRegistered {
    /// Nothing was sent: the submitter could not prepare it (the nonce or the block could
    /// not be read). The seal is kept and signed at the next head.
    #[error("not sent: {error}")]
    NotSent {
        /// The read that failed.
        error: String,
    },
    /// Included, but it failed with this `SubtensorModule` error (one that may pass later).
    #[error("included but failed: {error}")]
    Failed {
        /// The module error's name.
        error: String,
    },
    /// The node refused it: it is not in the pool.
    #[error("{0}")]
    Refused(PoolRefusal),
    /// A submission whose status was lost was not included before its work block left the
    /// window.
    #[error("the submission with work block {work_block} was not included before it expired")]
    Expired {
        /// Its work block.
        work_block: u64,
    },
    /// A submission whose status was lost can no longer be included: the coldkey's nonce
    /// moved past it.
    #[error(
        "the submission with work block {work_block} was not included (the coldkey's nonce moved on)"
    )]
    NonceMovedOn {
        /// Its work block.
        work_block: u64,
    },
}

impl NotRegistered {
    /// Whether this settles a submission whose status was lost (reported as
    /// [`Progress::StatusLost`] before), rather than ending one just made.
    pub fn settles_doubt(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::NonceMovedOn { .. })
    }
}

/// Why a seal is signed again: its submission did not land, for a reason that is not the
/// seal's (a seal does not depend on the coldkey's nonce, nor on who else registered in a
/// block). It is checked against the newest state first, as every seal is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Resign {
    /// The node refused the signature for its nonce (used meanwhile, by this coldkey's other
    /// process or an earlier submission; or a pooled transaction holds the nonce).
    #[error("nonce race: {0}")]
    NonceRace(String),
    /// The signature's nonce waited above a gap in the coldkey's nonces that nothing filled.
    #[error("coldkey nonce {signer_nonce} was stranded behind a gap")]
    Stranded {
        /// The nonce it carried.
        signer_nonce: u64,
    },
    /// The node took it into its pool and then left it out.
    #[error("the node dropped it from its pool: {0}")]
    Dropped(String),
    /// Included when the subnet's block was already full (`TooManyRegistrationsThisBlock`):
    /// the chain took the nonce, not the seal.
    #[error("the subnet's block was full when it was included")]
    BlockFull,
    /// The pool refused it with code 255 (a PoW rule failed at the node's head, which may
    /// have moved on from the one it was checked at).
    #[error("refused by the pool (custom code 255)")]
    PoolRefused,
}

/// A read of the chain at a head that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadFailure {
    /// The subnet's and hotkey's state.
    #[error("reading the subnet's state: {0}")]
    State(String),
    /// The chain's recent blocks after a re-organisation (the work window's hashes).
    #[error("reading the chain after a re-organisation: {0}")]
    Ancestry(String),
}

/// Why a found seal was dropped before submission.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Discard {
    /// The hotkey is registered already.
    #[error("the hotkey is already registered (uid {uid})")]
    AlreadyRegistered {
        /// Its uid.
        uid: u16,
    },
    /// The reference seal on the CPU disagrees with the device's.
    #[error("seal of nonce {nonce} did not re-verify on the CPU")]
    NotReverified {
        /// The nonce.
        nonce: u64,
    },
    /// The seal no longer meets the latest effective difficulty.
    #[error("difficulty rose to {difficulty} before the seal could be submitted")]
    DifficultyRose {
        /// The latest difficulty.
        difficulty: u64,
    },
    /// The work block is outside the chain's five-block window.
    #[error("work block {work_block} is outside the chain's window at block {checked_at}")]
    OutsideWindow {
        /// The seal's work block.
        work_block: u64,
        /// The block the chain would check it at.
        checked_at: u64,
    },
    /// The hotkey's last PoW registration used this work block or a later one.
    #[error("the hotkey already has a PoW registration at or after work block {work_block}")]
    WorkBlockUsed {
        /// The seal's work block.
        work_block: u64,
    },
    /// The work block was re-organised away.
    #[error("block {work_block} was re-organised")]
    Reorganised {
        /// The seal's work block.
        work_block: u64,
    },
    /// The work block is not on the chain regpow follows.
    #[error("block {work_block} is not on the chain regpow follows")]
    NotFollowed {
        /// The seal's work block.
        work_block: u64,
    },
    /// The seal was signed as often as one seal may be.
    #[error("the seal on work block {work_block} was signed {signatures} times without landing")]
    SignaturesSpent {
        /// The seal's work block.
        work_block: u64,
        /// Its signatures.
        signatures: u32,
    },
    /// A seal on a later work block took its place.
    #[error("a seal on a later work block replaced the one on {work_block}")]
    Superseded {
        /// The seal's work block.
        work_block: u64,
    },
    /// Another submission of this hotkey claimed this work block or a later one.
    #[error(
        "work block {work_block} is not after {claimed}, which another submission of this \
         hotkey used (the chain needs a later one)"
    )]
    WorkBlockClaimed {
        /// The seal's work block.
        work_block: u64,
        /// The work block the other submission holds.
        claimed: u64,
    },
}
