//! regpow-devnet: a local chain that speaks Substrate's JSON-RPC and enforces subtensor's
//! proof-of-work registration rules, for tests and for rehearsing a registration offline.
//!
//! - [`config`]: subnets, block time and port (TOML and flags).
//! - [`chain`]: blocks and headers (blake2-256 over SCALE), each with its storage.
//! - [`storage`]: storage keys with the real hashers and SCALE values.
//! - [`node`]: the chain and the pool under one lock, producing blocks.
//! - [`rpc`] and [`server`]: the JSON-RPC methods, served on 127.0.0.1 while a timer
//!   produces blocks; [`rpc_calls`] counts the calls by method.
//! - [`runtime`]: runtime 475's metadata and versions, which the devnet presents.
//! - [`extrinsic`]: signed v4 extrinsics, their extensions and sr25519 signatures.
//! - [`tx_pool`]: the transaction pool (ready and future queues by nonce, admission,
//!   watchers) and [`validity`], its answers.
//! - [`accounts`] and [`events`]: `System::Account` and `System::Events`.
//! - [`pow`]: the admission rules of `pow_register` in chain order, with the pallet's errors.

pub mod access;
pub mod accounts;
pub mod chain;
pub mod config;
pub mod events;
pub mod extrinsic;
pub mod idle;
pub mod node;
pub mod pow;
pub mod rpc;
pub mod rpc_calls;
pub mod runtime;
pub mod server;
pub mod storage;
pub mod tx_pool;
pub mod validity;

pub use config::{DevnetConfig, SubnetConfig};
pub use node::Node;
pub use server::{start, DevnetError, DevnetHandle};
