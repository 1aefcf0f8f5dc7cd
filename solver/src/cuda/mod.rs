//! The CUDA backend: `kernels/seal.cu` compiled by NVRTC for each NVIDIA GPU's own
//! architecture and run through the driver API (cudarc, loaded at run time, so the same
//! binary runs on machines without CUDA and says so cleanly).

pub mod compile;
mod worker;

use cudarc::driver::CudaContext;

use crate::backend::{Backend, BackendError, DeviceInfo, Job};
use crate::gpu_pipeline::{gpu_search_methods, Dispatcher};
pub use compile::ResourceUsage;
use worker::Worker;

/// One CUDA device as `regpow devices` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CudaDeviceSummary {
    /// CUDA ordinal: what `--device` takes.
    pub index: usize,
    /// Device name from the driver.
    pub name: String,
    /// Compute capability, e.g. `9.0`.
    pub compute_capability: String,
}

/// Whether CUDA can run here, and on what.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CudaStatus {
    /// True when the driver, at least one device and NVRTC are all present.
    pub available: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    /// Driver API version, e.g. `12.8`.
    pub driver: Option<String>,
    /// NVRTC version, e.g. `12.9`.
    pub nvrtc: Option<String>,
    /// The devices the driver reports.
    pub devices: Vec<CudaDeviceSummary>,
}

fn driver_present() -> bool {
    // SAFETY: only tries to dlopen libcuda.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

fn driver_version() -> Option<String> {
    if !driver_present() {
        return None;
    }
    let mut version = 0;
    // SAFETY: the library is present and the pointer is valid for the call.
    let rc = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) };
    (rc == cudarc::driver::sys::CUresult::CUDA_SUCCESS)
        .then(|| format!("{}.{}", version / 1000, (version % 1000) / 10))
}

/// `CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)`: a driver error for people.
pub(crate) fn describe(e: &cudarc::driver::DriverError) -> String {
    let name = e.error_name().map(|s| s.to_string_lossy().into_owned());
    let text = e.error_string().map(|s| s.to_string_lossy().into_owned());
    match (name, text) {
        (Ok(name), Ok(text)) => format!("{name} ({text})"),
        (Ok(name), Err(_)) => name,
        _ => format!("{e:?}"),
    }
}

/// "driver 12.8, NVRTC 12.9", for error messages.
pub(crate) fn versions_text() -> String {
    format!(
        "driver {}, NVRTC {}",
        driver_version().unwrap_or_else(|| "unknown".into()),
        compile::nvrtc_version().map_or("not found".into(), |(a, b)| format!("{a}.{b}"))
    )
}

/// Looks for the driver, devices and NVRTC without starting any work.
pub fn status() -> CudaStatus {
    let nvrtc = compile::nvrtc_version().map(|(a, b)| format!("{a}.{b}"));
    let mut status = CudaStatus {
        available: false,
        reason: None,
        driver: driver_version(),
        nvrtc: nvrtc.clone(),
        devices: Vec::new(),
    };
    if !driver_present() {
        status.reason = Some("libcuda.so not found (no NVIDIA driver)".into());
        return status;
    }
    let count = match CudaContext::device_count() {
        Ok(n) => n.max(0) as usize,
        Err(e) => {
            status.reason = Some(format!("the CUDA driver reports {}", describe(&e)));
            return status;
        }
    };
    for index in 0..count {
        if let Ok(ctx) = CudaContext::new(index) {
            let name = ctx
                .name()
                .unwrap_or_else(|_| format!("CUDA device {index}"));
            let cc = ctx
                .compute_capability()
                .map_or("?".into(), |(a, b)| format!("{a}.{b}"));
            status.devices.push(CudaDeviceSummary {
                index,
                name,
                compute_capability: cc,
            });
        }
    }
    status.reason = if status.devices.is_empty() {
        Some("no CUDA device".into())
    } else if nvrtc.is_none() {
        Some("NVRTC (libnvrtc.so.12) not found".into())
    } else {
        None
    };
    status.available = status.reason.is_none();
    status
}

/// How to open the CUDA backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CudaOptions {
    /// CUDA ordinals; `None` = every device.
    pub devices: Option<Vec<usize>>,
    /// Nonces per launch; `None` = tuned per device and kept at 20 ms per launch as the
    /// device's speed changes (up to 75 ms where each launch has a large fixed cost).
    pub batch: Option<u32>,
}

/// Searches on one or more NVIDIA GPUs.
pub struct CudaBackend {
    workers: Vec<Worker>,
}

impl CudaBackend {
    /// Opens the selected devices, compiling the kernel once per architecture. Without a
    /// driver, device or NVRTC this is [`BackendError::Unavailable`] with the reason.
    pub fn open(options: &CudaOptions) -> Result<Self, BackendError> {
        let status = status();
        if let Some(reason) = &status.reason {
            return Err(BackendError::Unavailable(format!(
                "CUDA unavailable: {reason}"
            )));
        }
        let ordinals: Vec<usize> = match &options.devices {
            Some(list) => {
                if let Some(bad) = list.iter().find(|&&i| i >= status.devices.len()) {
                    return Err(BackendError::Unavailable(format!(
                        "CUDA: no device {bad} (this machine has {})",
                        status.devices.len()
                    )));
                }
                list.clone()
            }
            None => status.devices.iter().map(|d| d.index).collect(),
        };
        let workers = ordinals
            .into_iter()
            .map(|i| Worker::open(i, options.batch))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { workers })
    }

    /// ptxas' register and spill report for each device's kernels.
    pub fn resources(&self) -> Vec<(usize, Vec<ResourceUsage>)> {
        self.workers
            .iter()
            .map(|w| (w.ordinal, w.resources.clone()))
            .collect()
    }

    /// Full seals of `count` nonces from `start` on device `device` (position in
    /// [`Backend::devices`]): for checking the kernel against the reference.
    pub fn gpu_seals(
        &self,
        device: usize,
        job: &Job,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, BackendError> {
        self.workers
            .get(device)
            .ok_or_else(|| BackendError::Unavailable(format!("CUDA: no device {device}")))?
            .seals(job, start, count)
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn devices(&self) -> Vec<DeviceInfo> {
        self.workers
            .iter()
            .map(|w| DeviceInfo {
                id: format!("cuda:{}", w.ordinal),
                name: format!("{} (cuda {})", w.name, w.ordinal),
                kind: "gpu".into(),
                driver: format!(
                    "sm_{} {}, {}; {} nonces per launch",
                    w.arch,
                    w.image_kind,
                    versions_text(),
                    w.batch()
                ),
            })
            .collect()
    }

    gpu_search_methods!();
}
