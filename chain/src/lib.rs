//! regpow-chain: node I/O and wallets: everything that talks to a subtensor node or reads a
//! key, and nothing that hashes (the orchestration of registrations is `regpow-registrar`).
//!
//! - [`api`]: what registration needs from a chain, as a trait (tests script a chain).
//! - Talking to a subtensor chain: which endpoint and which chain ([`network`]), the one
//!   transaction regpow signs, encoded from its own definition ([`transaction`]), whether a
//!   runtime agrees with that definition ([`runtime`]), the client that follows heads, reads
//!   the subnet's state (batched: [`batch`]) and submits ([`client`]), why an endpoint could
//!   not be reached, in one line ([`reach`]), and node text made safe to print
//!   ([`node_text`]).
//! - What the chain says: a subnet's registration state at a block ([`state`]), and what
//!   became of a submission ([`outcome`]).
//! - [`session`]: one per network, shared by every registration: heads, reconnects, and
//!   each subnet's state read once per head.
//! - [`submitter`]: one per coldkey: its nonces, its submissions in flight, its bounds.
//! - [`wallet`]: bittensor wallets on disk and the coldkey that signs.
//!
//! The modules depend one way: `api` (the trait and its vocabulary) uses `state` and
//! `outcome`; `client` implements `api`; `session` and `submitter` use `api` only.

pub mod api;
pub mod batch;
pub mod client;
pub mod network;
pub mod node_text;
pub mod outcome;
pub mod reach;
pub mod runtime;
pub mod session;
pub mod state;
pub mod submitter;
pub mod transaction;
pub mod wallet;

pub use api::{ChainApi, Heads, PowRegisterCall, Signing};
pub use client::ChainClient;
pub use network::Network;
pub use outcome::{classify_refusal, PoolRefusal, SubmitOutcome};
pub use runtime::check_runtime;
pub use session::{HeadRead, HeadState, Session, SessionEvent, Watch};
pub use state::{
    Head, HotkeyInfo, NewHead, Refusal, StateQuery, StateSnapshot, SubnetInfo, SubnetState,
};
pub use submitter::Submitter;

/// Why the chain could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The endpoint could not be reached (exit 3).
    #[error("cannot reach {}", node_text::printable(.0))]
    Unreachable(String),
    /// An RPC failed or timed out after connecting (retried by callers).
    #[error("{}", node_text::printable(.0))]
    Rpc(String),
    /// The runtime has no PoW registration.
    #[error(
        "this chain's runtime (spec {spec_version}) has no SubtensorModule::pow_register: \
         PoW registration does not exist on it"
    )]
    NoPowRegister {
        /// The runtime's spec version.
        spec_version: u32,
    },
    /// The runtime's registration call or extensions are not what regpow signs (exit 3).
    #[error("{}", node_text::printable(.0))]
    Runtime(String),
    /// The node serves another chain than the one the endpoint stands for (a finney host
    /// with another genesis, or a reconnection that reached another chain): exit 3.
    #[error("{}", node_text::printable(.0))]
    WrongChain(String),
}
