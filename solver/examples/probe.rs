use regpow_solver::cpu::{CpuKernel, SealMidstate};
use std::time::Instant;
fn main() {
    let m = SealMidstate::new(&[7u8; 123]);
    for k in CpuKernel::supported() {
        let n = 2_000_000u64;
        let t = Instant::now();
        let r = k.first_candidate(&m, 0, n, 0);
        let dt = t.elapsed().as_secs_f64();
        println!(
            "{k}: {:.2} M/s ({:.1} ns/seal) {:?}",
            n as f64 / dt / 1e6,
            dt / n as f64 * 1e9,
            r
        );
    }
}
