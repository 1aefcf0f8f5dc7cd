//! Turns `--backend` and the device flags into ready backends and the device pool over them.

use std::sync::Arc;

use regpow_solver::cpu::CpuBackend;
use regpow_solver::cuda::{self, CudaBackend, CudaOptions};
use regpow_solver::wgpu::{self as gpu, LaneMode, WgpuBackend, WgpuOptions};
use regpow_solver::{Backend, DevicePool};

use crate::args::{BackendArgs, BackendChoice, GpuLanes};
use crate::failure::Failure;
use crate::output::err;

/// The device pool over every backend the flags ask for (see [`open_all`]).
pub fn pool(args: &BackendArgs) -> Result<Arc<DevicePool>, Failure> {
    Ok(Arc::new(DevicePool::new(open_all(args)?)))
}

/// The backends' names as the output shows them, e.g. `cpu,cuda`.
pub fn names(pool: &DevicePool) -> String {
    pool.backends().join(",")
}

/// Opens every backend of `--backend`: `auto` alone, or a list with at most one GPU backend
/// and no repeats (exit 2 otherwise). A backend or device that is not available here is
/// exit 3.
pub fn open_all(args: &BackendArgs) -> Result<Vec<Arc<dyn Backend>>, Failure> {
    let chosen = &args.backend;
    if chosen.len() > 1 && chosen.contains(&BackendChoice::Auto) {
        return Err(Failure::bad_input(
            "--backend: auto picks one backend by itself and cannot be combined with others",
        ));
    }
    for (i, choice) in chosen.iter().enumerate() {
        if chosen[..i].contains(choice) {
            return Err(Failure::bad_input(format!(
                "--backend: {} is listed twice",
                format!("{choice:?}").to_lowercase()
            )));
        }
    }
    if chosen.contains(&BackendChoice::Cuda) && chosen.contains(&BackendChoice::Wgpu) {
        return Err(Failure::bad_input(
            "--backend: cuda and wgpu together would drive the same GPUs twice; pick one \
             (cpu combines with either)",
        ));
    }
    chosen
        .iter()
        .map(|&choice| open(choice, args).map(Arc::from))
        .collect()
}

/// Builds one backend. `auto` takes the first of CUDA, wgpu GPUs and the CPU that works,
/// with a one-line note on stderr when it falls back to the CPU.
fn open(choice: BackendChoice, args: &BackendArgs) -> Result<Box<dyn Backend>, Failure> {
    match choice {
        BackendChoice::Cpu => open_cpu(args),
        BackendChoice::Wgpu => open_wgpu(args),
        BackendChoice::Cuda => open_cuda(args),
        BackendChoice::Auto => {
            // Prefer CUDA for NVIDIA GPUs; then any GPU through wgpu; then the CPU. One
            // backend only, so no GPU is driven twice (CUDA and Vulkan see the same cards).
            let cuda_status = cuda::status();
            if cuda_status.available {
                return open_cuda(args);
            }
            if args.device.is_some() {
                return open_wgpu(args);
            }
            let wgpu_has_gpu = gpu::list().iter().any(|a| a.is_gpu);
            if wgpu_has_gpu {
                match open_wgpu(args) {
                    Ok(backend) => return Ok(backend),
                    Err(e) => {
                        let cpu = open_cpu(args)?;
                        err!("note: --backend auto: {e}; using {}", cpu.devices()[0].name);
                        return Ok(cpu);
                    }
                }
            }
            let cpu = open_cpu(args)?;
            err!(
                "note: --backend auto: no GPU (CUDA: {}; wgpu: no GPU adapter); using {}",
                cuda_status.reason.as_deref().unwrap_or("unavailable"),
                cpu.devices()[0].name
            );
            Ok(cpu)
        }
    }
}

fn open_cpu(args: &BackendArgs) -> Result<Box<dyn Backend>, Failure> {
    CpuBackend::new(args.threads.map(usize::from), args.cpu_kernel)
        .map(|b| Box::new(b) as Box<dyn Backend>)
        .map_err(|e| Failure::unavailable(e.to_string()))
}

fn open_wgpu(args: &BackendArgs) -> Result<Box<dyn Backend>, Failure> {
    let options = WgpuOptions {
        devices: args.device.clone(),
        batch: args.gpu_batch,
        lanes: match args.gpu_lanes {
            GpuLanes::Auto => LaneMode::Auto,
            GpuLanes::U32 => LaneMode::U32,
            GpuLanes::U64 => LaneMode::U64,
        },
    };
    WgpuBackend::open(&options)
        .map(|b| Box::new(b) as Box<dyn Backend>)
        .map_err(|e| Failure::unavailable(e.to_string()))
}

fn open_cuda(args: &BackendArgs) -> Result<Box<dyn Backend>, Failure> {
    let options = CudaOptions {
        devices: args.device.clone(),
        batch: args.gpu_batch,
    };
    CudaBackend::open(&options)
        .map(|b| Box::new(b) as Box<dyn Backend>)
        .map_err(|e| Failure::unavailable(e.to_string()))
}
