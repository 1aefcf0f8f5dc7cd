//! `regpow devices`: what each backend (cpu, cuda, wgpu) can use on this machine.

use regpow_solver::cpu::CpuKernel;
use regpow_solver::cuda::{self, CudaStatus};
use regpow_solver::wgpu::{self as gpu, AdapterSummary};
use serde::Serialize;

use crate::output;
use crate::output::out;

#[derive(Serialize)]
struct CpuJson {
    name: String,
    threads: usize,
    kernels: Vec<&'static str>,
    best_kernel: &'static str,
}

#[derive(Serialize)]
struct DevicesJson {
    cpu: CpuJson,
    cuda: CudaStatus,
    wgpu: Vec<AdapterSummary>,
}

/// Lists the CPU, CUDA's status and devices, and every wgpu adapter, each GPU with the
/// index `--device` takes.
pub fn run(json: bool) -> anyhow::Result<()> {
    let cpu = CpuJson {
        name: cpu_model(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernels: CpuKernel::supported().iter().map(|k| k.name()).collect(),
        best_kernel: CpuKernel::best().name(),
    };
    let cuda = cuda::status();
    let wgpu = gpu::list();
    if json {
        output::json(&DevicesJson { cpu, cuda, wgpu });
        return Ok(());
    }
    out!(
        "cpu: {} ({} threads; kernels {}, using {})",
        cpu.name,
        cpu.threads,
        cpu.kernels.join(", "),
        cpu.best_kernel
    );
    match &cuda.reason {
        Some(reason) => out!("cuda: unavailable: {reason}"),
        None => out!(
            "cuda: driver {}, NVRTC {}",
            cuda.driver.as_deref().unwrap_or("?"),
            cuda.nvrtc.as_deref().unwrap_or("?")
        ),
    }
    for d in &cuda.devices {
        out!(
            "cuda {}: {} (compute {})",
            d.index,
            d.name,
            d.compute_capability
        );
    }
    if wgpu.is_empty() {
        out!("wgpu: no adapter (needs a Vulkan, Metal, DX12 or GL driver)");
    }
    for a in &wgpu {
        out!(
            "wgpu {}: {} [{}, {}{}] {}",
            a.index,
            a.name,
            a.device_type,
            a.api,
            if a.int64 { ", int64" } else { "" },
            a.driver
        );
    }
    Ok(())
}

/// The CPU's marketing name where the OS tells it (Linux), else its architecture.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
