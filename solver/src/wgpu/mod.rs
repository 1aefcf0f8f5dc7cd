//! The wgpu backend: the WGSL kernel (`kernels/seal.wgsl`) on every adapter wgpu finds
//! (Vulkan, Metal, DX12, GL), so AMD, Intel, Apple and NVIDIA GPUs all work without a
//! vendor toolkit.
//!
//! Each selected device gets a host thread that keeps two dispatches in flight and claims
//! nonce chunks (one dispatch each) from a shared cursor. Every candidate the GPU reports is
//! re-derived with the reference seal before it counts as a hit.

mod adapters;
mod worker;

pub use adapters::{list, AdapterSummary};
pub use worker::LaneMode;

use crate::backend::{Backend, BackendError, DeviceInfo, Job};
use crate::gpu_pipeline::{gpu_search_methods, Dispatcher};
use worker::Worker;

/// How to open the wgpu backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WgpuOptions {
    /// Indices into [`list`]; `None` = every real GPU, or every adapter if there is no GPU.
    pub devices: Option<Vec<usize>>,
    /// Nonces per dispatch; `None` = tuned per device and kept at 20 ms per dispatch as the
    /// device's speed changes (up to 75 ms where each dispatch has a large fixed cost).
    pub batch: Option<u32>,
    /// Keccak lane representation.
    pub lanes: LaneMode,
}

/// Searches on one or more wgpu adapters.
pub struct WgpuBackend {
    workers: Vec<Worker>,
}

impl WgpuBackend {
    /// Opens the selected adapters, compiles the kernel on each and tunes batch sizes.
    /// No adapter, or an index that does not exist, is [`BackendError::Unavailable`].
    pub fn open(options: &WgpuOptions) -> Result<Self, BackendError> {
        let instance = adapters::instance();
        let mut found = adapters::enumerate(&instance);
        if found.is_empty() {
            return Err(BackendError::Unavailable(
                "wgpu: no adapter found (needs a Vulkan, Metal, DX12 or GL driver; on Linux \
                 install your GPU's Vulkan driver, e.g. mesa-vulkan-drivers)"
                    .into(),
            ));
        }
        let chosen: Vec<usize> = match &options.devices {
            Some(indices) => {
                if let Some(bad) = indices.iter().find(|&&i| i >= found.len()) {
                    return Err(BackendError::Unavailable(format!(
                        "wgpu: no device {bad} (this machine has {}: 0..{})",
                        found.len(),
                        found.len() - 1
                    )));
                }
                indices.clone()
            }
            None if found.iter().any(|(_, s)| s.is_gpu) => found
                .iter()
                .filter(|(_, s)| s.is_gpu)
                .map(|(_, s)| s.index)
                .collect(),
            None => (0..found.len()).collect(),
        };
        let mut workers = Vec::new();
        for index in chosen {
            let (adapter, summary) = found
                .get_mut(index)
                .map(|(a, s)| (a.clone(), s.clone()))
                .expect("index checked");
            workers.push(Worker::open(
                adapter,
                summary,
                options.lanes,
                options.batch,
            )?);
        }
        Ok(Self { workers })
    }

    /// Whether any device in use is a real GPU (not a software rasteriser).
    pub fn has_gpu(&self) -> bool {
        self.workers.iter().any(|w| w.summary.is_gpu)
    }

    /// Nonces per dispatch on each device.
    pub fn batches(&self) -> Vec<u32> {
        self.workers.iter().map(|w| w.batch()).collect()
    }

    /// Full seals of `count` nonces from `start` on device `device` (position in
    /// [`Backend::devices`]), computed on the GPU. For checking the kernel against the
    /// reference; searches never need it.
    pub fn gpu_seals(
        &self,
        device: usize,
        job: &Job,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, BackendError> {
        let worker = self
            .workers
            .get(device)
            .ok_or_else(|| BackendError::Unavailable(format!("wgpu: no device {device}")))?;
        worker.seals(job, start, count)
    }
}

impl Backend for WgpuBackend {
    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn devices(&self) -> Vec<DeviceInfo> {
        self.workers
            .iter()
            .map(|w| DeviceInfo {
                id: format!("wgpu:{}", w.summary.index),
                name: format!("{} ({})", w.summary.name, w.summary.api),
                kind: w.summary.device_type.clone(),
                driver: format!(
                    "{}; {} lanes, {} nonces per dispatch",
                    w.summary.driver,
                    if w.int64_lanes { "u64" } else { "u32-pair" },
                    w.batch()
                ),
            })
            .collect()
    }

    gpu_search_methods!();
}
