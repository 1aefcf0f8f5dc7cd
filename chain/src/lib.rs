//! regpow-chain: the chain side of registration.
//!
//! - Talking to a subtensor chain: which endpoint ([`network`]), whether its runtime can take
//!   a `pow_register` regpow signs ([`runtime`]), the client that follows heads, reads the
//!   subnet's state and submits ([`client`]), and why an endpoint could not be reached, in one
//!   line ([`reach`]).
//! - [`wallet`]: bittensor wallets on disk and the coldkey that signs.
//! - [`register`]: the registration loop: follow heads, keep every device on the newest
//!   challenge, re-verify and submit hits.

pub mod client;
pub mod network;
pub mod reach;
pub mod register;
pub mod runtime;
pub mod wallet;

pub use client::{
    ChainClient, Head, NewHead, PoolRefusal, PowRegisterCall, SubmitOutcome, SubnetState,
};
pub use network::Network;
pub use runtime::check_runtime;

/// Why the chain could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The endpoint could not be reached (exit 3).
    #[error("cannot reach {0}")]
    Unreachable(String),
    /// An RPC failed or timed out after connecting (retried by callers).
    #[error("{0}")]
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
    /// The runtime's registration call or extensions are not what regpow can sign.
    #[error("{0}")]
    Runtime(String),
}
