//! The search loop every GPU backend shares: two dispatches in flight per device, chunks
//! claimed from one cursor across devices, and every candidate re-verified on the CPU.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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
    /// Nonces per dispatch.
    fn batch(&self) -> u32;
    /// Starts hashing `chunk` (at most [`Self::batch`] nonces) with buffer set `slot`
    /// (`0..IN_FLIGHT`); must not wait for the GPU.
    fn submit(
        &self,
        slot: usize,
        job: &GpuJob,
        chunk: NonceRange,
    ) -> Result<Self::Pending, BackendError>;
    /// Waits for a dispatch; returns the nonces whose seal lane 3 is within the target
    /// (candidates, not yet verified).
    fn collect(&self, pending: Self::Pending) -> Result<Vec<u64>, BackendError>;
}

/// `Backend::search` and `Backend::search_device` for a backend whose devices are the
/// dispatchers in `self.workers`: every GPU backend searches through this pipeline.
macro_rules! gpu_search_methods {
    () => {
        fn search(
            &self,
            job: &$crate::backend::Job,
            range: $crate::backend::NonceRange,
            control: &$crate::backend::SearchControl,
        ) -> Result<$crate::backend::SearchOutcome, $crate::backend::BackendError> {
            $crate::gpu_pipeline::search_devices(&self.workers, job, range, control)
        }

        fn search_device(
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
    let mut in_flight: VecDeque<(usize, NonceRange, D::Pending)> = VecDeque::new();
    for slot in 0..IN_FLIGHT {
        if !go_on() {
            break;
        }
        if let Some(chunk) = cursor.claim(u64::from(device.batch())) {
            in_flight.push_back((slot, chunk, device.submit(slot, &gpu_job, chunk)?));
        }
    }
    let mut found: Option<Hit> = None;
    while let Some((slot, chunk, pending)) = in_flight.pop_front() {
        let candidates = device.collect(pending)?;
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
            if let Some(next) = cursor.claim(u64::from(device.batch())) {
                in_flight.push_back((slot, next, device.submit(slot, &gpu_job, next)?));
            }
        }
    }
    Ok(found)
}

/// Device `device` of `devices` alone, on the calling thread (what
/// [`crate::Backend::search_device`] asks of a multi-GPU backend named `backend`): the
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

/// Searches `range` on every device at once, one host thread each.
pub(crate) fn search_devices<D: Dispatcher>(
    devices: &[D],
    job: &Job,
    range: NonceRange,
    control: &SearchControl,
) -> Result<SearchOutcome, BackendError> {
    let cursor = ChunkCursor::new(range);
    let halt = AtomicBool::new(false);
    let found: Mutex<Option<Hit>> = Mutex::new(None);
    let fault: Mutex<Option<BackendError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for (index, device) in devices.iter().enumerate() {
            let (cursor, halt, found, fault) = (&cursor, &halt, &found, &fault);
            scope.spawn(
                move || match run_device(device, index, job, cursor, halt, control) {
                    Ok(Some(hit)) => {
                        let mut slot = found.lock().unwrap_or_else(|e| e.into_inner());
                        if slot.is_none_or(|h| hit.nonce < h.nonce) {
                            *slot = Some(hit);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        halt.store(true, Ordering::Relaxed);
                        fault
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                    }
                },
            );
        }
    });
    if let Some(hit) = found.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Ok(SearchOutcome::Found(hit));
    }
    if let Some(e) = fault.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(if control.is_stopped() {
        SearchOutcome::Stopped
    } else {
        SearchOutcome::Exhausted
    })
}

/// The shortest dispatch tuning aims for: a new challenge waits for at most the two
/// dispatches in flight, so this keeps a real GPU's retarget under about 40 ms.
pub(crate) const SHORTEST_DISPATCH: Duration = Duration::from_millis(20);
/// The longest: where each dispatch has a large fixed cost (software drivers such as
/// lavapipe pay 10–15 ms per dispatch), longer dispatches keep that cost small.
pub(crate) const LONGEST_DISPATCH: Duration = Duration::from_millis(75);
/// A dispatch lasts at least this many times its fixed cost, so that cost stays near 5 %.
const COST_FACTOR: f64 = 20.0;
/// Tuning grows its test dispatch until one takes at least this long, so that fixed costs
/// (submission, read-back) do not distort the measured rate.
pub(crate) const TUNING_MIN: Duration = Duration::from_millis(40);

/// From two timed dispatches (`(nonces, time)`, the second four times the first): the
/// device's rate in nonces per second and how long its dispatches should last. The fit
/// `time = fixed + nonces / rate` gives the fixed cost per dispatch; the target is
/// [`COST_FACTOR`] times that, within [`SHORTEST_DISPATCH`]..=[`LONGEST_DISPATCH`]. When the
/// two timings do not fit (noise), the longest target and the plain rate are used.
pub(crate) fn dispatch_target(
    smaller: Option<(u32, Duration)>,
    larger: (u32, Duration),
) -> (f64, Duration) {
    let (n2, t2) = (f64::from(larger.0), larger.1.as_secs_f64().max(1e-9));
    let plain = (n2 / t2, LONGEST_DISPATCH);
    let Some((n1, t1)) = smaller.map(|(n, t)| (f64::from(n), t.as_secs_f64())) else {
        return plain;
    };
    if n2 <= n1 || t2 <= t1 {
        return plain;
    }
    let rate = (n2 - n1) / (t2 - t1);
    let fixed = t2 - n2 / rate;
    if fixed < 0.0 {
        // Faster per nonce at the larger size than the fit allows: no fixed cost to speak of.
        return (n2 / t2, SHORTEST_DISPATCH);
    }
    let target =
        Duration::from_secs_f64(fixed * COST_FACTOR).clamp(SHORTEST_DISPATCH, LONGEST_DISPATCH);
    (rate, target)
}

/// Nonces per dispatch for `device`: `requested` rounded to whole granules, or else measured:
/// a test dispatch grows fourfold until it takes at least [`TUNING_MIN`], and the last two
/// timings give the rate and the target length ([`dispatch_target`]).
pub(crate) fn choose_batch<D: Dispatcher>(
    device: &D,
    granule: u32,
    requested: Option<u32>,
) -> Result<u32, BackendError> {
    if let Some(n) = requested {
        return Ok(round_batch(granule, u64::from(n)));
    }
    // Any job will do: the target rejects everything, so only hashing is timed.
    let job = GpuJob {
        midstate: [1; 8],
        state14: [2; 8],
        block2: [3; 16],
        target_high: 0,
    };
    let time_batch = |batch: u32| -> Result<Duration, BackendError> {
        let started = std::time::Instant::now();
        let pending = device.submit(0, &job, NonceRange::with_len(0, u64::from(batch)))?;
        device.collect(pending)?;
        Ok(started.elapsed())
    };
    let mut batch = granule.saturating_mul(16);
    // The first dispatch pays for loading and warming up: not used.
    time_batch(batch)?;
    let mut previous = None;
    loop {
        let took = time_batch(batch)?;
        if took >= TUNING_MIN || batch >= u32::MAX / 8 {
            let (rate, target) = dispatch_target(previous, (batch, took));
            return Ok(round_batch(granule, (rate * target.as_secs_f64()) as u64));
        }
        previous = Some((batch, took));
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
    fn a_real_gpu_gets_short_dispatches_and_a_software_driver_long_ones() {
        // A GPU: 1 G nonces/s and 20 µs per launch.
        let (rate, target) = dispatch_target(
            Some((10_000_000, Duration::from_micros(10_020))),
            (40_000_000, Duration::from_micros(40_020)),
        );
        assert!((rate - 1e9).abs() < 1e6, "{rate}");
        assert_eq!(target, SHORTEST_DISPATCH);
        // lavapipe on this machine: 2.25 M/s and ~10 ms per dispatch.
        let (rate, target) = dispatch_target(Some((33_792, ms(25))), (135_168, ms(70)));
        assert!((rate - 2.25e6).abs() < 0.01e6, "{rate}");
        assert_eq!(target, LONGEST_DISPATCH);
        // 1.5 ms per dispatch: 30 ms dispatches.
        let (_, target) = dispatch_target(
            Some((1_000_000, Duration::from_micros(11_500))),
            (4_000_000, Duration::from_micros(41_500)),
        );
        assert!(target > ms(29) && target < ms(31), "{target:?}");
    }

    #[test]
    fn timings_that_do_not_fit_keep_the_longest_target() {
        assert_eq!(dispatch_target(None, (1000, ms(50))).1, LONGEST_DISPATCH);
        assert_eq!(
            dispatch_target(Some((250, ms(60))), (1000, ms(50))).1,
            LONGEST_DISPATCH
        );
        let (rate, _) = dispatch_target(None, (1000, ms(50)));
        assert_eq!(rate, 20_000.0);
    }
}
