//! regpow-registrar: who hashes what, and when a seal is submitted. It joins the solver (the
//! device pool) and the chain side (session, submitter) and owns the registration policy.
//!
//! - [`target`]: what a registration is for (a [`TargetSpec`] with its [`TargetId`]), the
//!   one record leases, pool jobs, events and views carry.
//! - [`share`]: the device pool shared by every registration of a process, and the policy
//!   that decides which of them hash.
//! - [`register`]: the registration loop: follow heads, keep every device on the newest
//!   challenge, re-verify and submit hits. Its events are the per-target stream.
//! - [`device_watch`]: the per-device stream (hashrate, faults, stalls), measured once per
//!   process.
//! - [`farm`]: many targets in one process, and shards of a plan.
//!
//! The library reports facts (enums); the CLI words them.

pub mod device_watch;
pub mod farm;
pub mod register;
pub mod share;
pub mod target;

pub use device_watch::{watch_devices, DeviceEvent, DeviceRate, DEVICE_STALL};
pub use share::{DeviceShare, Lease};
pub use target::{TargetId, TargetSpec};
