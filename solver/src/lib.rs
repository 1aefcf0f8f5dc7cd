//! regpow-solver: the hashing engine. It turns a job (a challenge and a difficulty) into
//! verified hits, on every device this machine has.
//!
//! - [`backend`]: the interface every backend implements, the job, nonce ranges, hits.
//! - [`cpu`]: the CPU backend (rayon threads, SIMD Keccak selected at run time).
//! - [`cuda`] (feature `cuda`): `kernels/seal.cu` through NVRTC and the CUDA driver, both
//!   loaded at run time, so the binary runs where CUDA is absent and says so.
//! - [`wgpu`] (feature `wgpu`): `kernels/seal.wgsl` on any Vulkan, Metal, DX12 or GL adapter.
//! - [`gpu_job`]: the per-job constants GPU kernels receive (midstate, block-2 rounds).
//! - [`pool`]: one long-lived worker per device; work is published as assignments, split
//!   among jobs by weight; hits, faults and retarget times come out as events.
//! - [`search`]: one job on the pool over a nonce range with a time limit (`solve`, `bench`).
//!
//! The rules (challenge, seal, difficulty) come from `regpow-rules`; every hit a backend
//! reports is re-derived with its reference seal before anyone sees it.

pub mod backend;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod gpu_job;
#[cfg(any(feature = "cuda", feature = "wgpu"))]
mod gpu_pipeline;
pub mod pool;
pub mod search;
#[cfg(feature = "wgpu")]
pub mod wgpu;

pub use backend::{
    Backend, BackendError, DeviceInfo, Hit, Job, NonceRange, SearchControl, SearchOutcome,
};
pub use pool::{DevicePool, DeviceStats, PoolEvent, PoolJob};
