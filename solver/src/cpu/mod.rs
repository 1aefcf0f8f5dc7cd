//! The CPU backend: every core searching its own chunks of the nonce range.
//!
//! Work distribution: a shared cursor hands out chunks of `CHUNK` nonces; each thread runs
//! the kernel over its chunk in steps of `STEP` nonces, checking the stop flag and adding to
//! the hash counter after each step (so a stop takes effect within about a millisecond).
//! Every candidate from the kernel is re-derived with the reference seal before it counts.

pub(crate) mod keccak;
mod kernel;
mod lanes;
mod midstate;
// Off x86_64 only the tests use multi-buffer SHA-256 (the scalar kernel uses the sha2 crate).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod multibuffer;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod words;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub use kernel::CpuKernel;
pub use midstate::SealMidstate;

use crate::backend::{
    Backend, BackendError, ChunkCursor, DeviceInfo, Hit, Job, NonceRange, SearchControl,
    SearchOutcome,
};

/// Nonces a thread claims at a time.
const CHUNK: u64 = 1 << 16;
/// Nonces hashed between checks of the stop flag.
const STEP: u64 = 1 << 10;

/// Searches on CPU threads with one [`CpuKernel`].
pub struct CpuBackend {
    kernel: CpuKernel,
    threads: usize,
    pool: rayon::ThreadPool,
}

impl CpuBackend {
    /// A backend on `threads` threads (default: every logical CPU) with `kernel` (default:
    /// the best this CPU supports). Fails if the kernel is not supported here.
    pub fn new(threads: Option<usize>, kernel: Option<CpuKernel>) -> Result<Self, BackendError> {
        let kernel = kernel.unwrap_or_else(CpuKernel::best);
        if !kernel.is_supported() {
            return Err(BackendError::Unavailable(format!(
                "CPU kernel {kernel} is not supported by this CPU (supported: {})",
                CpuKernel::supported()
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("regpow-cpu-{i}"))
            .build()
            .map_err(|e| BackendError::Unavailable(format!("cannot start CPU threads: {e}")))?;
        Ok(Self {
            kernel,
            threads,
            pool,
        })
    }

    /// The kernel in use.
    pub fn kernel(&self) -> CpuKernel {
        self.kernel
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Searches one chunk; returns a verified hit if one is found.
    fn search_chunk(
        &self,
        job: &Job,
        midstate: &SealMidstate,
        chunk: NonceRange,
        halt: &AtomicBool,
        control: &SearchControl,
    ) -> Option<Hit> {
        let high = job.bound.high();
        let mut next = chunk.start;
        loop {
            if halt.load(Ordering::Relaxed) || control.is_stopped() {
                return None;
            }
            let remaining = chunk.end - next; // nonces after `next`
            let count = remaining.min(STEP - 1) + 1;
            match self.kernel.first_candidate(midstate, next, count, high) {
                Some(nonce) => {
                    control.add_hashes(0, nonce - next + 1);
                    if let Some(hit) = job.verify(nonce) {
                        return Some(hit);
                    }
                    if nonce == chunk.end {
                        return None;
                    }
                    next = nonce + 1;
                }
                None => {
                    control.add_hashes(0, count);
                    if next + (count - 1) == chunk.end {
                        return None;
                    }
                    next += count;
                }
            }
        }
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn devices(&self) -> Vec<DeviceInfo> {
        vec![DeviceInfo {
            id: "cpu".into(),
            name: format!(
                "cpu ({} kernel, {} thread{})",
                self.kernel,
                self.threads,
                if self.threads == 1 { "" } else { "s" }
            ),
            kind: "cpu".into(),
            driver: format!("regpow {} kernel", self.kernel),
        }]
    }

    /// The CPU is one device (device 0): every thread of its rayon pool claims chunks of
    /// `range` from one cursor.
    fn search(
        &self,
        device: usize,
        job: &Job,
        range: NonceRange,
        control: &SearchControl,
    ) -> Result<SearchOutcome, BackendError> {
        if device != 0 {
            return Err(BackendError::Unavailable(format!(
                "cpu has no device {device}"
            )));
        }
        let midstate = SealMidstate::new(&job.prefix);
        let cursor = ChunkCursor::new(range);
        let halt = AtomicBool::new(false);
        let found: Mutex<Option<Hit>> = Mutex::new(None);
        self.pool.broadcast(|_| {
            while let Some(chunk) = cursor.claim(CHUNK) {
                if let Some(hit) = self.search_chunk(job, &midstate, chunk, &halt, control) {
                    let mut slot = found.lock().unwrap_or_else(|e| e.into_inner());
                    // Keep the lowest nonce when two threads hit at once: deterministic output.
                    if slot.is_none_or(|h| hit.nonce < h.nonce) {
                        *slot = Some(hit);
                    }
                    halt.store(true, Ordering::Relaxed);
                }
                if halt.load(Ordering::Relaxed) || control.is_stopped() {
                    break;
                }
            }
        });
        let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(match found {
            Some(hit) => SearchOutcome::Found(hit),
            None if control.is_stopped() => SearchOutcome::Stopped,
            None => SearchOutcome::Exhausted,
        })
    }
}

/// Every nonce in `range` whose seal meets `job`'s target, found with `kernel` on the calling
/// thread. Slow but complete: tests use it to prove kernels never miss a valid nonce.
pub fn scan_all_hits(kernel: CpuKernel, job: &Job, range: NonceRange) -> Vec<Hit> {
    let midstate = SealMidstate::new(&job.prefix);
    let mut hits = Vec::new();
    let mut next = range.start;
    loop {
        let count = (range.end - next).min(STEP - 1) + 1;
        match kernel.first_candidate(&midstate, next, count, job.bound.high()) {
            Some(nonce) => {
                hits.extend(job.verify(nonce));
                if nonce == range.end {
                    return hits;
                }
                next = nonce + 1;
            }
            None if next + (count - 1) == range.end => return hits,
            None => next += count,
        }
    }
}
