//! Turns `--backend` and the device flags into a ready [`Backend`].

use regpow_engine::cpu::CpuBackend;
use regpow_engine::cuda::{self, CudaBackend, CudaOptions};
use regpow_engine::wgpu::{self as gpu, LaneMode, WgpuBackend, WgpuOptions};
use regpow_engine::Backend;

use crate::args::{BackendArgs, BackendChoice, GpuLanes};
use crate::failure::Failure;
use crate::output::err;

/// Builds the backend the flags ask for. A backend or device that is not available here is
/// exit 3; `auto` takes the first of CUDA, wgpu GPUs and the CPU that works, with a
/// one-line note on stderr when it falls back to the CPU.
pub fn open(args: &BackendArgs) -> Result<Box<dyn Backend>, Failure> {
    match args.backend {
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
