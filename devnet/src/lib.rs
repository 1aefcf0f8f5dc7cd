//! regpow-devnet: a local chain that speaks Substrate's JSON-RPC and enforces subtensor's
//! proof-of-work registration rules, for tests and for rehearsing a registration offline.
//!
//! - [`config`]: subnets, block time and port (TOML and flags).
//! - [`chain`]: blocks and headers (blake2-256 over SCALE), each with its storage.
//! - [`storage`]: storage keys with the real hashers and SCALE values.
//! - [`pow`]: the admission rules of `pow_register` in chain order, with the pallet's errors.

pub mod chain;
pub mod config;
pub mod pow;
pub mod storage;
