//! regpow-registrar: who hashes what, and when a seal is submitted. It joins the solver (the
//! device pool) and the chain side (session, submitter) and owns the registration policy.
//!
//! - [`share`]: the device pool shared by every registration of a process, and the policy
//!   that decides which of them hash.
//! - [`register`]: the registration loop: follow heads, keep every device on the newest
//!   challenge, re-verify and submit hits.
//! - [`farm`]: many (hotkey, netuid) targets in one process, and shards of a plan.

pub mod farm;
pub mod register;
pub mod share;

pub use share::{DeviceShare, Lease, LeaseSpec};
