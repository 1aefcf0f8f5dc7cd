//! CPU hashing kernels: the same seal search compiled for several instruction sets, the best
//! one chosen at run time.
//!
//! Each kernel hashes `WIDTH` nonces per step: SHA-256 per nonce from the midstate
//! ([`SealMidstate`]), then Keccak-f[1600] on `WIDTH` states at once ([`super::keccak`]),
//! then an early reject on lane 3, the seal's most significant 64 bits.

use std::fmt;
use std::str::FromStr;

use super::keccak::seal_high_lane;
use super::lanes::Lanes;
use super::midstate::SealMidstate;
use super::multibuffer::digests;
use super::words::Words;

/// Widest kernel's nonces per step; sizes the stack buffers.
const MAX_WIDTH: usize = 16;

/// A CPU kernel (instruction set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuKernel {
    /// One nonce at a time; runs on every CPU.
    Scalar,
    /// Eight SHA-256 states per AVX2 register, then four Keccak states per register.
    Avx2,
    /// SHA-256 one nonce at a time with the SHA-NI instructions, then four Keccak states
    /// per AVX2 register: faster than 8-way SHA-256 where SHA-NI is fast.
    Avx2ShaNi,
    /// Sixteen SHA-256 states per AVX-512 register, then eight Keccak states per register,
    /// with native rotates and three-input logic in both.
    Avx512,
}

impl CpuKernel {
    /// Every kernel, slowest first.
    pub const ALL: [CpuKernel; 4] = [
        CpuKernel::Scalar,
        CpuKernel::Avx2,
        CpuKernel::Avx2ShaNi,
        CpuKernel::Avx512,
    ];

    /// Name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            CpuKernel::Scalar => "scalar",
            CpuKernel::Avx2 => "avx2",
            CpuKernel::Avx2ShaNi => "avx2-shani",
            CpuKernel::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            CpuKernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            CpuKernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            CpuKernel::Avx2ShaNi => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("sha")
            }
            #[cfg(target_arch = "x86_64")]
            CpuKernel::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernels this CPU supports, slowest first.
    pub fn supported() -> Vec<CpuKernel> {
        Self::ALL.into_iter().filter(|k| k.is_supported()).collect()
    }

    /// The fastest kernel on this CPU, measured once per process: each supported kernel
    /// hashes a few thousand nonces (best of three short runs, a few milliseconds in all) and
    /// the quickest wins. Which SHA-256 is faster (SHA-NI one nonce at a time, or 8 or 16
    /// nonces per vector) depends on the core, so it is measured rather than assumed.
    pub fn best() -> CpuKernel {
        static BEST: std::sync::OnceLock<CpuKernel> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let midstate = SealMidstate::new(&[0x5A; regpow_rules::challenge::PREFIX_LEN]);
            let seconds_per_seal = |kernel: CpuKernel| {
                let nonces = 4096;
                (0..3)
                    .map(|run| {
                        let started = std::time::Instant::now();
                        // A target of 0 is never met: the whole range is hashed.
                        let _ = kernel.first_candidate(&midstate, run * nonces, nonces, 0);
                        started.elapsed().as_secs_f64() / nonces as f64
                    })
                    .fold(f64::INFINITY, f64::min)
            };
            Self::supported()
                .into_iter()
                .map(|kernel| (kernel, seconds_per_seal(kernel)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(kernel, _)| kernel)
                .expect("scalar is always supported")
        })
    }

    /// Nonces hashed per step.
    pub fn width(self) -> usize {
        match self {
            CpuKernel::Scalar => 1,
            CpuKernel::Avx2 => 8,
            CpuKernel::Avx2ShaNi => 4,
            CpuKernel::Avx512 => 16,
        }
    }

    /// The first nonce in `start .. start + count` whose seal's most significant 64 bits are
    /// at most `high`, or `None`. A candidate still needs the full check
    /// ([`crate::Job::verify`]). `start + count - 1` must not pass `u64::MAX`.
    ///
    /// # Panics
    /// If the CPU does not support the kernel (construct kernels via [`Self::best`] or check
    /// [`Self::is_supported`]).
    pub fn first_candidate(
        self,
        midstate: &SealMidstate,
        start: u64,
        count: u64,
        high: u64,
    ) -> Option<u64> {
        assert!(self.is_supported(), "{self} kernel unsupported on this CPU");
        match self {
            CpuKernel::Scalar => first_candidate::<u64>(midstate, start, count, high),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: support was checked above.
            CpuKernel::Avx2 => unsafe { x86::first_candidate_avx2(midstate, start, count, high) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: support was checked above.
            CpuKernel::Avx2ShaNi => unsafe {
                x86::first_candidate_avx2_shani(midstate, start, count, high)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: support was checked above.
            CpuKernel::Avx512 => unsafe {
                x86::first_candidate_avx512(midstate, start, count, high)
            },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only scalar is supported off x86_64"),
        }
    }

    /// Writes the seal's most significant 64 bits (Keccak lane 3) for the nonces `start`,
    /// `start + 1`, … (wrapping past `u64::MAX`) into `out`. Used by tests and benchmarks to
    /// compare kernels with the reference seal.
    ///
    /// # Panics
    /// If the CPU does not support the kernel.
    pub fn high_lanes(self, midstate: &SealMidstate, start: u64, out: &mut [u64]) {
        assert!(self.is_supported(), "{self} kernel unsupported on this CPU");
        match self {
            CpuKernel::Scalar => high_lanes::<u64>(midstate, start, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: support was checked above.
            CpuKernel::Avx2 => unsafe { x86::high_lanes_avx2(midstate, start, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: support was checked above.
            CpuKernel::Avx2ShaNi => unsafe { x86::high_lanes_avx2_shani(midstate, start, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: support was checked above.
            CpuKernel::Avx512 => unsafe { x86::high_lanes_avx512(midstate, start, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only scalar is supported off x86_64"),
        }
    }
}

impl fmt::Display for CpuKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CpuKernel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown CPU kernel '{s}' (expected scalar, avx2, avx2-shani or avx512)")
            })
    }
}

/// Lane 3 of the seals of `V::WIDTH` consecutive nonces from `base`.
#[inline(always)]
fn step<V: Lanes>(
    midstate: &SealMidstate,
    scratch: &mut super::midstate::TailBlocks,
    base: u64,
    out: &mut [u64; MAX_WIDTH],
) {
    let mut digests = [[0u64; MAX_WIDTH]; 4];
    for k in 0..V::WIDTH {
        let lanes = midstate.digest_lanes(scratch, base.wrapping_add(k as u64));
        for (column, lane) in digests.iter_mut().zip(lanes) {
            column[k] = lane;
        }
    }
    let digest = [
        V::load(&digests[0]),
        V::load(&digests[1]),
        V::load(&digests[2]),
        V::load(&digests[3]),
    ];
    seal_high_lane(digest).store(out);
}

/// Lane 3 of the seals of `W::WIDTH` consecutive nonces from `base`: multi-buffer SHA-256
/// on `W`, then Keccak on `V` (`W::WIDTH / V::WIDTH` passes).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn step_multi<W: Words, V: Lanes>(midstate: &SealMidstate, base: u64, out: &mut [u64; MAX_WIDTH]) {
    let job = &midstate.multi;
    let mut nonce_words = [[0u32; MAX_WIDTH]; 3];
    for k in 0..W::WIDTH {
        let words = job.nonce_words(base.wrapping_add(k as u64));
        for (column, word) in nonce_words.iter_mut().zip(words) {
            column[k] = word;
        }
    }
    let state = digests::<W>(
        job,
        W::load(&nonce_words[0]),
        W::load(&nonce_words[1]),
        W::load(&nonce_words[2]),
    );
    let mut words = [[0u32; MAX_WIDTH]; 8];
    for (column, word) in words.iter_mut().zip(state) {
        word.store(column);
    }
    // The digest is the state words big-endian; Keccak reads its bytes little-endian.
    let mut lanes = [[0u64; MAX_WIDTH]; 4];
    for (j, lane) in lanes.iter_mut().enumerate() {
        for k in 0..W::WIDTH {
            lane[k] = u64::from(words[2 * j][k].swap_bytes())
                | u64::from(words[2 * j + 1][k].swap_bytes()) << 32;
        }
    }
    let mut pass = 0;
    while pass < W::WIDTH {
        let digest = [
            V::load(&lanes[0][pass..]),
            V::load(&lanes[1][pass..]),
            V::load(&lanes[2][pass..]),
            V::load(&lanes[3][pass..]),
        ];
        seal_high_lane(digest).store(&mut out[pass..]);
        pass += V::WIDTH;
    }
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn first_candidate_multi<W: Words, V: Lanes>(
    midstate: &SealMidstate,
    start: u64,
    count: u64,
    high: u64,
) -> Option<u64> {
    let mut out = [0u64; MAX_WIDTH];
    let mut done = 0u64;
    while done < count {
        let base = start.wrapping_add(done);
        step_multi::<W, V>(midstate, base, &mut out);
        let valid = (count - done).min(W::WIDTH as u64) as usize;
        if let Some(k) = out[..valid].iter().position(|&lane| lane <= high) {
            return Some(base + k as u64);
        }
        done += W::WIDTH as u64;
    }
    None
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn high_lanes_multi<W: Words, V: Lanes>(midstate: &SealMidstate, start: u64, out: &mut [u64]) {
    let mut buf = [0u64; MAX_WIDTH];
    for (i, chunk) in out.chunks_mut(W::WIDTH).enumerate() {
        let base = start.wrapping_add((i * W::WIDTH) as u64);
        step_multi::<W, V>(midstate, base, &mut buf);
        chunk.copy_from_slice(&buf[..chunk.len()]);
    }
}

#[inline(always)]
fn first_candidate<V: Lanes>(
    midstate: &SealMidstate,
    start: u64,
    count: u64,
    high: u64,
) -> Option<u64> {
    let mut scratch = midstate.scratch();
    let mut out = [0u64; MAX_WIDTH];
    let mut done = 0u64;
    while done < count {
        let base = start.wrapping_add(done);
        step::<V>(midstate, &mut scratch, base, &mut out);
        let valid = (count - done).min(V::WIDTH as u64) as usize;
        if let Some(k) = out[..valid].iter().position(|&lane| lane <= high) {
            return Some(base + k as u64);
        }
        done += V::WIDTH as u64;
    }
    None
}

#[inline(always)]
fn high_lanes<V: Lanes>(midstate: &SealMidstate, start: u64, out: &mut [u64]) {
    let mut scratch = midstate.scratch();
    let mut buf = [0u64; MAX_WIDTH];
    for (i, chunk) in out.chunks_mut(V::WIDTH).enumerate() {
        let base = start.wrapping_add((i * V::WIDTH) as u64);
        step::<V>(midstate, &mut scratch, base, &mut buf);
        chunk.copy_from_slice(&buf[..chunk.len()]);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The generic kernels instantiated inside `#[target_feature]` functions, so every
    //! inlined lane operation is compiled for that instruction set.
    use super::super::lanes::{Avx2x4, Avx512x8};
    use super::super::words::{Avx2x8, Avx512x16};
    use super::SealMidstate;

    #[target_feature(enable = "avx2")]
    pub(super) fn first_candidate_avx2(m: &SealMidstate, s: u64, n: u64, h: u64) -> Option<u64> {
        super::first_candidate_multi::<Avx2x8, Avx2x4>(m, s, n, h)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn first_candidate_avx2_shani(
        m: &SealMidstate,
        s: u64,
        n: u64,
        h: u64,
    ) -> Option<u64> {
        super::first_candidate::<Avx2x4>(m, s, n, h)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn high_lanes_avx2_shani(m: &SealMidstate, s: u64, out: &mut [u64]) {
        super::high_lanes::<Avx2x4>(m, s, out)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn first_candidate_avx512(m: &SealMidstate, s: u64, n: u64, h: u64) -> Option<u64> {
        super::first_candidate_multi::<Avx512x16, Avx512x8>(m, s, n, h)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn high_lanes_avx2(m: &SealMidstate, s: u64, out: &mut [u64]) {
        super::high_lanes_multi::<Avx2x8, Avx2x4>(m, s, out)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn high_lanes_avx512(m: &SealMidstate, s: u64, out: &mut [u64]) {
        super::high_lanes_multi::<Avx512x16, Avx512x8>(m, s, out)
    }
}
