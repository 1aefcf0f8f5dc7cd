//! Writes the CUDA kernel, compiled by NVRTC for one architecture, to a file and prints
//! ptxas' resource report: `cargo run -p regpow-solver --example cuda_cubin -- 90 seal.cubin`.
//! `benches/cuda_sass.sh` disassembles the result to count instructions per nonce.

use regpow_solver::cuda::compile::{compile, resource_report};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(arch), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: cuda_cubin ARCH OUT.cubin   (ARCH: 70, 80, 86, 89, 90, ...)");
        std::process::exit(2);
    };
    let Ok(arch) = arch.parse::<u32>() else {
        eprintln!("ARCH must be a number such as 90");
        std::process::exit(2);
    };
    match compile(arch, true) {
        Ok(compiled) => {
            std::fs::write(&out, &compiled.image).expect("write the cubin");
            for usage in resource_report(&compiled.log) {
                println!("{usage:?}");
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(3);
        }
    }
}
