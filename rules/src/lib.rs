//! regpow-rules: the rules of subtensor's proof-of-work registration, and nothing else.
//!
//! What a seal is bound to, how it is computed, what it must meet and when it is still
//! usable, as `docs/SPEC.md` states them from the chain's source. Every other regpow crate
//! (the solver, the chain side, the registrar, the devnet) takes these rules from here, so there is
//! exactly one definition of each. Hash crates only: no I/O, no async, no GPU.
//!
//! - [`challenge`]: the 123-byte seal prefix built from netuid, block hash, hotkey and coldkey.
//! - [`keys`]: 32-byte public keys from SS58 (any network prefix, checksum verified) or 0x-hex.
//! - [`seal`]: the reference seal `keccak256(sha256(prefix ‖ nonce))`, the single source of truth
//!   every backend is checked against.
//! - [`difficulty`]: effective difficulty, the 256-bit target and the little-endian check.
//! - [`sha256`]: the nonce-independent SHA-256 work of a challenge (midstate, block 2's
//!   constant rounds), shared by the CPU and GPU kernels' hosts.
//! - [`keccak`]: Keccak-f\[1600\]'s round constants, for the kernels.
//! - [`window`]: the five-block work window.
//! - [`tx_pool`]: the transaction pool's refusal codes.
//! - [`error`]: why a user-supplied value cannot be used.

pub mod challenge;
pub mod difficulty;
pub mod error;
pub mod keccak;
pub mod keys;
pub mod seal;
pub mod sha256;
pub mod tx_pool;
pub mod window;

pub use challenge::{Challenge, Prefix, PREFIX_LEN, SEAL_TAG};
pub use difficulty::{Difficulty, TargetBound};
pub use error::InputError;
pub use keys::PublicKey;
pub use seal::{reference_seal, Seal};
pub use window::WORK_WINDOW;
