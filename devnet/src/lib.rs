//! regpow-devnet: a local chain that speaks Substrate's JSON-RPC and enforces subtensor's
//! proof-of-work registration rules, for tests and for rehearsing a registration offline.
//!
//! - [`config`]: subnets, block time and port (TOML and flags).
//! - [`chain`]: blocks and headers (blake2-256 over SCALE), each with its storage.
//! - [`storage`]: storage keys with the real hashers and SCALE values.
//! - [`node`] and [`rpc`]: the running chain and its JSON-RPC server on 127.0.0.1.
//! - [`extrinsic`]: signed v4 extrinsics, their extensions and sr25519 signatures.
//! - [`pool`]: the transaction pool (admission, watchers) and [`validity`], its answers.
//! - [`accounts`] and [`events`]: `System::Account` and `System::Events`.
//! - [`pow`]: the admission rules of `pow_register` in chain order, with the pallet's errors.

pub mod accounts;
pub mod chain;
pub mod config;
pub mod events;
pub mod extrinsic;
pub mod node;
pub mod pool;
pub mod pow;
pub mod rpc;
pub mod storage;
pub mod validity;

pub use config::{DevnetConfig, SubnetConfig};
pub use node::{start, DevnetHandle, Node};
