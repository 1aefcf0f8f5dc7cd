//! regpow-solver: everything regpow knows about Bittensor's proof-of-work registration.
//!
//! - [`challenge`]: the 123-byte seal prefix built from netuid, block hash, hotkey and coldkey.
//! - [`keys`]: 32-byte public keys from SS58 (any network prefix, checksum verified) or 0x-hex.
//! - [`seal`]: the reference seal `keccak256(sha256(prefix ‖ nonce))`, the single source of truth
//!   every backend is checked against.
//! - [`difficulty`]: effective difficulty, the 256-bit target and the little-endian check.
//! - [`backend`]: the interface every search backend implements.
//! - [`cpu`]: the CPU backend (rayon threads, SIMD Keccak selected at run time).
//! - [`cuda`]: `kernels/seal.cu` through NVRTC and the CUDA driver, loaded at run time.
//! - [`gpu_job`]: the per-job constants GPU kernels receive (midstate, block-2 rounds).
//! - [`wgpu`]: the WGSL kernel on any Vulkan, Metal, DX12 or GL adapter.
//! - [`search`]: drives a backend over a nonce range with a time limit and re-verifies hits.
//! - [`chain`]: the subxt client (heads, subnet state, submitting `pow_register`).
//! - [`wallet`]: bittensor wallets on disk and the coldkey that signs.
//! - [`register`]: the registration loop: follow heads, keep every device on the newest
//!   challenge, re-verify and submit hits.
//!
//! The rules are subtensor's `pow_register` (its pallet source); the chain is the authority.

pub mod backend;
pub mod chain;
pub mod challenge;
pub mod cpu;
pub mod cuda;
pub mod difficulty;
pub mod error;
pub mod gpu_job;
mod gpu_pipeline;
pub mod keys;
pub mod register;
pub mod seal;
pub mod search;
pub mod wallet;
pub mod wgpu;

pub use backend::{
    Backend, BackendError, DeviceInfo, Hit, Job, NonceRange, SearchControl, SearchOutcome,
};
pub use challenge::{Challenge, Prefix, PREFIX_LEN, SEAL_TAG};
pub use difficulty::{Difficulty, Target};
pub use error::InputError;
pub use keys::PublicKey;
pub use seal::{reference_seal, Seal};
