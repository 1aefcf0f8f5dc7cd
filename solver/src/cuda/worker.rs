//! One CUDA device: its context, two streams (one per dispatch in flight), the compiled
//! kernels and the result buffers.

use std::sync::{Arc, Mutex};

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, DriverError, LaunchConfig,
    PushKernelArg,
};
use cudarc::nvrtc::Ptx;

use super::compile::{compile_cached, CompiledKernel, ResourceUsage};
use super::describe;
use crate::backend::{BackendError, Job, NonceRange};
use crate::gpu_job::GpuJob;
use crate::gpu_pipeline::{choose_batch, BatchSize, Dispatcher, IN_FLIGHT};

/// Threads per block (matches `__launch_bounds__(256)` in seal.cu).
const BLOCK: u32 = 256;
/// Nonces each thread hashes per launch.
const NONCES_PER_THREAD: u32 = 8;
/// Batches are whole blocks.
const GRANULE: u32 = BLOCK * NONCES_PER_THREAD;
/// Candidate slots per launch.
const CAPACITY: u32 = 1024;
/// Words in a result buffer: counter, padding, then (lo, hi) per slot.
const RESULT_WORDS: usize = 2 + 2 * CAPACITY as usize;

/// seal.cu's `struct Job`, passed by value as the first kernel parameter.
#[repr(C)]
#[derive(Clone, Copy)]
struct KernelJob {
    midstate: [u32; 8],
    state14: [u32; 8],
    block2: [u32; 16],
    target_high: u64,
}

// SAFETY: plain-old-data with the C layout seal.cu declares.
unsafe impl DeviceRepr for KernelJob {}

impl From<&GpuJob> for KernelJob {
    fn from(job: &GpuJob) -> Self {
        Self {
            midstate: job.midstate,
            state14: job.state14,
            block2: job.block2,
            target_high: job.target_high,
        }
    }
}

/// One launch in flight.
pub(crate) struct Pending {
    slot: usize,
}

/// A CUDA device ready to search.
pub(crate) struct Worker {
    pub(crate) name: String,
    pub(crate) ordinal: usize,
    pub(crate) arch: u32,
    pub(crate) image_kind: &'static str,
    pub(crate) resources: Vec<ResourceUsage>,
    ctx: Arc<CudaContext>,
    streams: [Arc<CudaStream>; IN_FLIGHT],
    search: CudaFunction,
    seal_full: CudaFunction,
    results: Mutex<Vec<CudaSlice<u32>>>,
    batch: BatchSize,
}

fn driver_fault(what: &str, ordinal: usize, e: DriverError) -> BackendError {
    BackendError::Fault(format!("CUDA device {ordinal}: {what}: {}", describe(&e)))
}

impl Worker {
    /// Opens device `ordinal`, compiles seal.cu for its architecture and sizes batches.
    pub(crate) fn open(ordinal: usize, batch: Option<u32>) -> Result<Self, BackendError> {
        let unavailable = |e: DriverError| {
            BackendError::Unavailable(format!(
                "CUDA unavailable: device {ordinal}: {}",
                describe(&e)
            ))
        };
        let ctx = CudaContext::new(ordinal).map_err(unavailable)?;
        let name = ctx.name().map_err(unavailable)?;
        let (major, minor) = ctx.compute_capability().map_err(unavailable)?;
        let arch = (major * 10 + minor) as u32;
        let (module, compiled) = load_kernels(&ctx, arch, ordinal)?;
        let search = module
            .load_function("search")
            .map_err(|e| driver_fault("loading search()", ordinal, e))?;
        let seal_full = module
            .load_function("seal_full")
            .map_err(|e| driver_fault("loading seal_full()", ordinal, e))?;
        let streams = [
            ctx.new_stream().map_err(unavailable)?,
            ctx.new_stream().map_err(unavailable)?,
        ];
        let results = streams
            .iter()
            .map(|s| s.alloc_zeros::<u32>(RESULT_WORDS))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| driver_fault("allocating result buffers", ordinal, e))?;
        let mut worker = Self {
            name,
            ordinal,
            arch,
            image_kind: if compiled.cubin { "cubin" } else { "ptx" },
            resources: super::compile::resource_report(&compiled.log),
            ctx,
            streams,
            search,
            seal_full,
            results: Mutex::new(results),
            batch: BatchSize::fixed(GRANULE, GRANULE),
        };
        worker.batch = choose_batch(&worker, GRANULE, batch)?;
        Ok(worker)
    }

    /// Full seals of `count` nonces from `start`, computed by the `seal_full` kernel.
    pub(crate) fn seals(
        &self,
        job: &Job,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, BackendError> {
        let stream = &self.streams[0];
        let kernel_job = KernelJob::from(&GpuJob::new(job));
        let mut out = stream
            .alloc_zeros::<u64>(4 * count as usize)
            .map_err(|e| driver_fault("allocating seals", self.ordinal, e))?;
        let cfg = LaunchConfig {
            grid_dim: (count.div_ceil(BLOCK), 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut launch = stream.launch_builder(&self.seal_full);
        launch
            .arg(&kernel_job)
            .arg(&start)
            .arg(&count)
            .arg(&mut out);
        // SAFETY: the arguments match seal_full's signature; `out` holds 4 × count limbs.
        unsafe { launch.launch(cfg) }
            .map_err(|e| driver_fault("launching seal_full()", self.ordinal, e))?;
        let limbs = stream
            .clone_dtoh(&out)
            .map_err(|e| driver_fault("reading seals", self.ordinal, e))?;
        stream
            .synchronize()
            .map_err(|e| driver_fault("seal_full()", self.ordinal, e))?;
        Ok(limbs
            .chunks_exact(4)
            .map(|l| {
                let mut seal = [0u8; 32];
                for (bytes, limb) in seal.chunks_exact_mut(8).zip(l) {
                    bytes.copy_from_slice(&limb.to_le_bytes());
                }
                seal
            })
            .collect())
    }
}

/// Compiles for the exact architecture (CUBIN) and loads it; falls back to PTX (driver JIT)
/// when this NVRTC cannot build a CUBIN for it. Errors name the driver and NVRTC versions.
fn load_kernels(
    ctx: &Arc<CudaContext>,
    arch: u32,
    ordinal: usize,
) -> Result<(Arc<cudarc::driver::CudaModule>, CompiledKernel), BackendError> {
    let versions = super::versions_text();
    let compiled = compile_cached(arch, true).or_else(|_| compile_cached(arch, false))?;
    let image = if compiled.cubin {
        Ptx::from_binary(compiled.image.clone())
    } else {
        Ptx::from_src(String::from_utf8_lossy(&compiled.image).trim_end_matches('\0'))
    };
    let module = ctx.load_module(image).map_err(|e| {
        BackendError::Unavailable(format!(
            "CUDA unavailable: device {ordinal} (sm_{arch}) rejected the compiled kernel ({}); \
             {versions}",
            describe(&e)
        ))
    })?;
    Ok((module, compiled))
}

impl Dispatcher for Worker {
    type Pending = Pending;

    fn sizing(&self) -> &BatchSize {
        &self.batch
    }

    fn submit(
        &self,
        slot: usize,
        job: &GpuJob,
        chunk: NonceRange,
    ) -> Result<Pending, BackendError> {
        let count = u32::try_from(chunk.len()).expect("chunks fit in u32");
        let stream = &self.streams[slot];
        let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = &mut results[slot];
        stream
            .memset_zeros(buffer)
            .map_err(|e| driver_fault("clearing results", self.ordinal, e))?;
        let kernel_job = KernelJob::from(job);
        let threads = count.div_ceil(NONCES_PER_THREAD);
        let cfg = LaunchConfig {
            grid_dim: (threads.div_ceil(BLOCK), 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let (npt, capacity) = (NONCES_PER_THREAD, CAPACITY);
        let mut launch = stream.launch_builder(&self.search);
        launch
            .arg(&kernel_job)
            .arg(&chunk.start)
            .arg(&count)
            .arg(&npt)
            .arg(buffer)
            .arg(&capacity);
        // SAFETY: the arguments match search()'s signature and the buffer holds
        // 2 + 2 × capacity words.
        unsafe { launch.launch(cfg) }
            .map_err(|e| driver_fault("launching search()", self.ordinal, e))?;
        Ok(Pending { slot })
    }

    fn collect(&self, pending: Pending) -> Result<Vec<u64>, BackendError> {
        let stream = &self.streams[pending.slot];
        let words = {
            let results = self.results.lock().unwrap_or_else(|p| p.into_inner());
            stream
                .clone_dtoh(&results[pending.slot])
                .map_err(|e| driver_fault("reading results", self.ordinal, e))?
        };
        stream
            .synchronize()
            .map_err(|e| driver_fault("search()", self.ordinal, e))?;
        let kept = words[0].min(CAPACITY) as usize;
        Ok((0..kept)
            .map(|i| u64::from(words[2 + 2 * i]) | u64::from(words[3 + 2 * i]) << 32)
            .collect())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.ctx.synchronize();
    }
}
