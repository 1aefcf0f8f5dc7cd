//! Turns `--backend`, `--threads` and `--cpu-kernel` into a ready [`Backend`].

use regpow_solver::cpu::CpuBackend;
use regpow_solver::Backend;

use crate::args::{BackendArgs, BackendChoice};
use crate::failure::Failure;

/// Builds the backend the flags ask for; unavailable backends or kernels are exit 3.
pub fn open(args: &BackendArgs) -> Result<Box<dyn Backend>, Failure> {
    match args.backend {
        // Only the CPU backend exists so far, so `auto` is the CPU.
        BackendChoice::Auto | BackendChoice::Cpu => {
            let threads = args.threads.map(usize::from);
            CpuBackend::new(threads, args.cpu_kernel)
                .map(|b| Box::new(b) as Box<dyn Backend>)
                .map_err(|e| Failure::unavailable(e.to_string()))
        }
    }
}
