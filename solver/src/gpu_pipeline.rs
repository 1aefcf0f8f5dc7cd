//! The search loop every GPU backend shares: two dispatches in flight per device, chunks
//! claimed from one cursor across devices, and every candidate re-verified on the CPU.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::backend::{
    BackendError, ChunkCursor, Hit, Job, NonceRange, SearchControl, SearchOutcome,
};
use crate::gpu_job::GpuJob;

/// Dispatches in flight per device: while the host reads one back, the GPU runs the other.
pub(crate) const IN_FLIGHT: usize = 2;

/// A GPU device that can hash one chunk of nonces per dispatch.
pub(crate) trait Dispatcher: Sync {
    /// A submitted dispatch, to be collected.
    type Pending;
    /// The device's dispatch size, which [`run_device`] keeps at its chosen length.
    fn sizing(&self) -> &BatchSize;
    /// Nonces per dispatch now.
    fn batch(&self) -> u32 {
        self.sizing().get()
    }
    /// Starts hashing `chunk` (at most [`Self::batch`] nonces) with buffer set `slot`
    /// (`0..IN_FLIGHT`); must not wait for the GPU.
    fn submit(
        &self,
        slot: usize,
        job: &GpuJob,
        chunk: NonceRange,
    ) -> Result<Self::Pending, BackendError>;
    /// Waits for a dispatch; returns the nonces whose seal lane 3 is within the target bound
    /// (candidates, not yet verified).
    fn collect(&self, pending: Self::Pending) -> Result<Vec<u64>, BackendError>;
}

/// `Backend::search` for a backend whose devices are the dispatchers in `self.workers`:
/// every GPU backend searches through this pipeline.
macro_rules! gpu_search_methods {
    () => {
        fn search(
            &self,
            device: usize,
            job: &$crate::backend::Job,
            range: $crate::backend::NonceRange,
            control: &$crate::backend::SearchControl,
        ) -> Result<$crate::backend::SearchOutcome, $crate::backend::BackendError> {
            $crate::gpu_pipeline::search_one_device(
                self.name(),
                &self.workers,
                device,
                job,
                range,
                control,
            )
        }
    };
}
pub(crate) use gpu_search_methods;

/// Runs one device until a verified hit, the end of the range, `halt` or a stop; returns
/// the lowest verified hit of the first dispatch that had one.
pub(crate) fn run_device<D: Dispatcher>(
    device: &D,
    index: usize,
    job: &Job,
    cursor: &ChunkCursor,
    halt: &AtomicBool,
    control: &SearchControl,
) -> Result<Option<Hit>, BackendError> {
    let gpu_job = GpuJob::new(job);
    let go_on = || !halt.load(Ordering::Relaxed) && !control.is_stopped();
    // Each entry: slot, chunk, whether it was a full batch (only those time the device).
    let mut in_flight: VecDeque<(usize, NonceRange, bool, D::Pending)> = VecDeque::new();
    let submit = |slot: usize, in_flight: &mut VecDeque<_>| -> Result<(), BackendError> {
        let batch = device.batch();
        if let Some(chunk) = cursor.claim(u64::from(batch)) {
            let full = chunk.len() == u128::from(batch);
            in_flight.push_back((slot, chunk, full, device.submit(slot, &gpu_job, chunk)?));
        }
        Ok(())
    };
    for slot in 0..IN_FLIGHT {
        if !go_on() {
            break;
        }
        submit(slot, &mut in_flight)?;
    }
    // With dispatches queued back to back, the time between two completions is how long the
    // later one ran on the device. The first completion only starts that clock: how much of
    // the first dispatch ran while the second was being submitted depends on the driver
    // (lavapipe runs much of it inside the submission).
    let mut last_done: Option<Instant> = None;
    let mut found: Option<Hit> = None;
    while let Some((slot, chunk, full, pending)) = in_flight.pop_front() {
        let candidates = device.collect(pending)?;
        let done = Instant::now();
        if let (true, Some(last)) = (full, last_done) {
            let nonces = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            device.sizing().observe(nonces, done - last);
        }
        last_done = Some(done);
        control.add_hashes(index, u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        if found.is_none() {
            let mut nonces: Vec<u64> = candidates
                .into_iter()
                .filter(|n| (chunk.start..=chunk.end).contains(n))
                .collect();
            nonces.sort_unstable();
            // The GPU only pre-selects: the reference seal decides what is a hit.
            found = nonces.into_iter().find_map(|n| job.verify(n));
            if found.is_some() {
                halt.store(true, Ordering::Relaxed);
            }
        }
        if go_on() {
            submit(slot, &mut in_flight)?;
        }
    }
    Ok(found)
}

/// Device `device` of `devices` alone, on the calling thread (what
/// [`crate::Backend::search`] asks of a multi-GPU backend named `backend`): the
/// device pool's worker thread drives the GPU itself, no thread is spawned per job.
pub(crate) fn search_one_device<D: Dispatcher>(
    backend: &str,
    devices: &[D],
    device: usize,
    job: &Job,
    range: NonceRange,
    control: &SearchControl,
) -> Result<SearchOutcome, BackendError> {
    let one = devices
        .get(device)
        .ok_or_else(|| BackendError::Unavailable(format!("{backend} has no device {device}")))?;
    let cursor = ChunkCursor::new(range);
    let halt = AtomicBool::new(false);
    Ok(match run_device(one, 0, job, &cursor, &halt, control)? {
        Some(hit) => SearchOutcome::Found(hit),
        None if control.is_stopped() => SearchOutcome::Stopped,
        None => SearchOutcome::Exhausted,
    })
}

/// The shortest dispatch tuning aims for: a new challenge waits for at most the two
/// dispatches in flight, so this keeps a device's retarget under about 40 ms.
pub(crate) const SHORTEST_DISPATCH: Duration = Duration::from_millis(20);
/// The longest: where each dispatch has a large fixed cost (a driver that does real work
/// per submission), longer dispatches keep that cost small at the price of slower retargets.
pub(crate) const LONGEST_DISPATCH: Duration = Duration::from_millis(75);
/// A dispatch lasts at least this many times its fixed cost, so that cost stays near 5 %.
const COST_FACTOR: f64 = 20.0;
/// Tuning grows its test dispatch until one takes at least this long, so that fixed costs
/// (submission, read-back) do not distort the measured rate.
pub(crate) const TUNING_MIN: Duration = Duration::from_millis(40);
/// Each tuning measurement is the fastest of this many runs: other work on the machine only
/// ever adds time.
const TUNING_RUNS: usize = 3;
/// How far one observed dispatch moves the batch towards the size that would have lasted the
/// chosen length: a quarter, so one slow dispatch (the machine was busy) barely moves it.
const ADAPT_STEP: f64 = 0.25;

/// Nonces per dispatch for one device. A tuned size follows the device's speed: every full
/// dispatch's duration moves it towards [`BatchSize::length`], so a device that slows down
/// (a busy host under a software driver, a throttling GPU) keeps its retarget time, and one
/// that speeds up keeps its fixed costs small. A size the user chose stays as it is.
#[derive(Debug)]
pub(crate) struct BatchSize {
    granule: u32,
    nonces: AtomicU32,
    length: Option<Duration>,
}

impl BatchSize {
    /// A size that never changes (`--gpu-batch`), rounded to whole granules.
    pub(crate) fn fixed(granule: u32, nonces: u32) -> Self {
        Self {
            granule,
            nonces: AtomicU32::new(round_batch(granule, u64::from(nonces))),
            length: None,
        }
    }

    /// A tuned size: `nonces` to start with, kept near `length` per dispatch.
    pub(crate) fn tuned(granule: u32, nonces: u64, length: Duration) -> Self {
        Self {
            granule,
            nonces: AtomicU32::new(round_batch(granule, nonces)),
            length: Some(length),
        }
    }

    /// Nonces per dispatch now.
    pub(crate) fn get(&self) -> u32 {
        self.nonces.load(Ordering::Relaxed)
    }

    /// A full dispatch of `nonces` took `took` on the device: moves the size
    /// [`ADAPT_STEP`] of the way towards what would have lasted the chosen length, by at most a
    /// factor of two.
    pub(crate) fn observe(&self, nonces: u64, took: Duration) {
        let Some(length) = self.length else {
            return;
        };
        if nonces == 0 || took < Duration::from_micros(50) {
            return; // too short to time
        }
        let ideal = nonces as f64 * length.as_secs_f64() / took.as_secs_f64();
        let now = f64::from(self.get());
        let next = (now + (ideal - now) * ADAPT_STEP).clamp(now / 2.0, now * 2.0);
        self.nonces
            .store(round_batch(self.granule, next as u64), Ordering::Relaxed);
    }
}

/// From the time of the smallest dispatch (`fixed`: submission, launch and read-back, with
/// next to no hashing) and one long timed dispatch (`larger`: nonces, time): the device's
/// rate in nonces per second and how long its dispatches should last, [`COST_FACTOR`] times
/// the fixed cost within [`SHORTEST_DISPATCH`]..=[`LONGEST_DISPATCH`].
pub(crate) fn dispatch_length(fixed: Duration, larger: (u32, Duration)) -> (f64, Duration) {
    let (nonces, took) = (f64::from(larger.0), larger.1.as_secs_f64().max(1e-9));
    let hashing = took - fixed.as_secs_f64();
    // A long dispatch no slower than an empty one: the timings are noise; use the plain rate.
    let rate = nonces / if hashing > took / 2.0 { hashing } else { took };
    let length = fixed
        .mul_f64(COST_FACTOR)
        .clamp(SHORTEST_DISPATCH, LONGEST_DISPATCH);
    (rate, length)
}

/// The dispatch size for `device`: `requested` as a fixed size, or else measured. The fixed
/// cost per dispatch is the time of a one-granule dispatch; the rate comes from a test
/// dispatch grown fourfold until it takes at least [`TUNING_MIN`]; each is the fastest of
/// [`TUNING_RUNS`] runs. [`dispatch_length`] turns them into a starting size and a length
/// length, which [`BatchSize`] then holds to as the device's speed changes.
pub(crate) fn choose_batch<D: Dispatcher>(
    device: &D,
    granule: u32,
    requested: Option<u32>,
) -> Result<BatchSize, BackendError> {
    if let Some(n) = requested {
        return Ok(BatchSize::fixed(granule, n));
    }
    // Any job will do: the target bound rejects everything, so only hashing is timed.
    let job = GpuJob {
        midstate: [1; 8],
        state14: [2; 8],
        block2: [3; 16],
        target_high: 0,
    };
    let time_batch = |batch: u32| -> Result<Duration, BackendError> {
        let started = Instant::now();
        let pending = device.submit(0, &job, NonceRange::with_len(0, u64::from(batch)))?;
        device.collect(pending)?;
        Ok(started.elapsed())
    };
    let fastest = |batch: u32, first: Duration| -> Result<Duration, BackendError> {
        let mut best = first;
        for _ in 1..TUNING_RUNS {
            best = best.min(time_batch(batch)?);
        }
        Ok(best)
    };
    // The first dispatch pays for loading and warming up: not used.
    time_batch(granule.saturating_mul(16))?;
    let fixed = fastest(granule, time_batch(granule)?)?;
    let mut batch = granule.saturating_mul(16);
    loop {
        let took = time_batch(batch)?;
        if took >= TUNING_MIN || batch >= u32::MAX / 8 {
            let (rate, length) = dispatch_length(fixed, (batch, fastest(batch, took)?));
            return Ok(BatchSize::tuned(
                granule,
                (rate * length.as_secs_f64()) as u64,
                length,
            ));
        }
        batch = batch.saturating_mul(4);
    }
}

/// A batch rounded up to whole granules, within what one dispatch can address (2^31).
pub(crate) fn round_batch(granule: u32, nonces: u64) -> u32 {
    let granule = u64::from(granule);
    let max_granules = u64::from(u32::MAX / 2) / granule;
    let granules = nonces.div_ceil(granule).clamp(1, max_granules);
    (granules * granule) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_real_gpu_gets_short_dispatches_and_a_costly_driver_long_ones() {
        // A GPU: 1 G nonces/s and 20 µs per launch.
        let (rate, length) = dispatch_length(
            Duration::from_micros(20),
            (40_000_000, Duration::from_micros(40_020)),
        );
        assert!((rate - 1e9).abs() < 1e6, "{rate}");
        assert_eq!(length, SHORTEST_DISPATCH);
        // lavapipe on this machine: 2.3 M/s and ~0.5 ms per dispatch.
        let (rate, length) = dispatch_length(Duration::from_micros(500), (262_144, ms(114)));
        assert!((rate - 2.31e6).abs() < 0.01e6, "{rate}");
        assert_eq!(length, SHORTEST_DISPATCH);
        // A driver with 10 ms per dispatch: the longest dispatches.
        let (rate, length) = dispatch_length(ms(10), (135_168, ms(70)));
        assert!((rate - 2.25e6).abs() < 0.01e6, "{rate}");
        assert_eq!(length, LONGEST_DISPATCH);
        // 1.5 ms per dispatch: 30 ms dispatches.
        let (_, length) = dispatch_length(Duration::from_micros(1500), (4_000_000, ms(40)));
        assert!(length > ms(29) && length < ms(31), "{length:?}");
    }

    #[test]
    fn a_tuned_size_follows_the_device_and_a_chosen_one_stays() {
        let size = BatchSize::tuned(1024, 2_000_000, ms(20));
        // The device runs at half the tuned speed: 2 M nonces take 40 ms.
        for _ in 0..40 {
            let n = u64::from(size.get());
            size.observe(n, Duration::from_secs_f64(n as f64 / 50e6));
        }
        let settled = size.get();
        assert!((990_000..=1_010_000).contains(&settled), "{settled}");
        assert_eq!(settled % 1024, 0);
        // One slow dispatch (a busy host) moves it by a quarter of the way, not all of it.
        size.observe(u64::from(settled), ms(80));
        let after = f64::from(size.get()) / f64::from(settled);
        assert!((0.8..0.9).contains(&after), "{after}");
        // Dispatches too short to time leave it alone.
        let before = size.get();
        size.observe(1024, Duration::from_micros(10));
        assert_eq!(size.get(), before);

        let chosen = BatchSize::fixed(1024, 5000);
        assert_eq!(chosen.get(), 5120);
        chosen.observe(5120, ms(500));
        assert_eq!(chosen.get(), 5120);
    }

    #[test]
    fn timings_that_do_not_fit_use_the_plain_rate() {
        // The long dispatch was no slower than an empty one: noise, not a negative rate.
        let (rate, length) = dispatch_length(ms(60), (1000, ms(50)));
        assert_eq!(rate, 20_000.0);
        assert_eq!(length, LONGEST_DISPATCH);
    }
}
