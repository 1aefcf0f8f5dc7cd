//! One device's thread: take the newest assignment from the slot, search this device's share
//! of it, report what it finds, and keep the device's counters.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::plan::{stripe_of, Allocation};
use super::{PoolEvent, PoolJob, Shared};
use crate::backend::{Backend, BackendError, NonceRange, SearchControl, SearchOutcome};

/// A device shared by several jobs gives each a slice of this period, by weight. Long
/// against a switch (a batch, ~20–75 ms on a GPU, ~1 ms on the CPU), short against a block.
const SLICE_PERIOD: Duration = Duration::from_millis(400);

/// Where a device is in its stripe of one job: the next nonce (`None` once the stripe is
/// searched) and the stripe's last nonce.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    next: Option<u64>,
    end: u64,
}

/// The start of this device's allocation of `job`: its stripe of the job's range, or of every
/// nonce from a random point in the stripe's first half (`offset`, drawn per assignment).
fn start_cursor(job: &PoolJob, offset: u64, allocation: &Allocation) -> Option<Cursor> {
    match job.range {
        Some(range) => stripe_of(range, allocation.stripe, allocation.stripes).map(|s| Cursor {
            next: Some(s.start),
            end: s.end,
        }),
        None => {
            let s = stripe_of(NonceRange::from(0), allocation.stripe, allocation.stripes)?;
            let half = ((s.end - s.start) / 2).max(1);
            Some(Cursor {
                next: Some(s.start + offset % half),
                end: s.end,
            })
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// The assignment a worker holds.
struct Held {
    version: u64,
    generation: u64,
    jobs: Arc<[PoolJob]>,
    plan: Vec<Allocation>,
    cursors: Vec<Option<Cursor>>,
    /// Time given to each share so far (time slicing).
    used: Vec<Duration>,
}

impl Held {
    fn idle() -> Self {
        Self {
            version: u64::MAX,
            generation: 0,
            jobs: Arc::from(Vec::new()),
            plan: Vec::new(),
            cursors: Vec::new(),
            used: Vec::new(),
        }
    }

    /// The share to search next: the live one furthest behind its share of the time.
    fn pick(&self) -> Option<usize> {
        (0..self.plan.len())
            .filter(|&i| self.cursors[i].is_some_and(|c| c.next.is_some()))
            .min_by(|&a, &b| {
                let behind = |i: usize| self.used[i].as_secs_f64() / self.plan[i].time;
                behind(a).total_cmp(&behind(b))
            })
    }
}

/// Marks device `index` as hashing `generation` and reports the retarget if it was the last.
fn mark_started(shared: &Shared, index: usize, generation: u64) {
    let mut state = shared.lock();
    let device = &mut state.devices[index];
    device.started = device.started.max(generation);
    let done = state.retarget_done();
    drop(state);
    if let Some(event) = done {
        shared.emit(event);
    }
}

/// Marks device `index` as done with every share of `generation` (bounded ranges end).
fn mark_drained(shared: &Shared, index: usize, generation: u64) {
    let mut state = shared.lock();
    let device = &mut state.devices[index];
    device.drained = device.drained.max(generation);
}

/// The body of device `index`'s thread (device `local` of `backend`).
pub(super) fn run(shared: Arc<Shared>, index: usize, backend: Arc<dyn Backend>, local: usize) {
    let mut held = Held::idle();
    loop {
        // Wait for a new assignment, unless the current one still has nonces to search.
        {
            let mut state = shared.lock();
            loop {
                if state.exit || !state.devices[index].alive {
                    return;
                }
                if state.version != held.version {
                    let plan = state.plans[index].clone();
                    let cursors = plan
                        .iter()
                        .map(|s| start_cursor(&state.jobs[s.job], state.offsets[s.job], s))
                        .collect();
                    held = Held {
                        version: state.version,
                        generation: state.generation,
                        jobs: state.jobs.clone(),
                        used: vec![Duration::ZERO; plan.len()],
                        plan,
                        cursors,
                    };
                    break;
                }
                if held.pick().is_some() {
                    break;
                }
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        }
        let Some(pick) = held.pick() else {
            // Work with nothing left for this device (a short range): it is as retargeted
            // as it will get.
            if !held.plan.is_empty() {
                mark_started(&shared, index, held.generation);
                mark_drained(&shared, index, held.generation);
            }
            continue;
        };
        let allocation = held.plan[pick];
        let job = held.jobs[allocation.job];
        let cursor = held.cursors[pick].expect("picked a live cursor");
        let range = NonceRange::new(cursor.next.expect("live"), cursor.end).expect("in stripe");
        let control = Arc::new(if held.plan.len() > 1 {
            SearchControl::until(Instant::now() + SLICE_PERIOD.mul_f64(allocation.time))
        } else {
            SearchControl::new()
        });
        {
            let mut state = shared.lock();
            if state.exit || state.version != held.version {
                continue;
            }
            state.devices[index].running = Some(control.clone());
        }
        mark_started(&shared, index, held.generation);

        let began = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            backend.search(local, &job.job, range, &control)
        }))
        .unwrap_or_else(|panic| {
            Err(BackendError::Fault(format!(
                "panicked: {}",
                panic_text(&*panic)
            )))
        });
        let spent = began.elapsed();
        held.used[pick] += spent;
        let searched = control.hashes();

        let mut event = None;
        let mut fault = None;
        let next = match result {
            Ok(SearchOutcome::Found(hit)) => {
                // The backend checked it; the pool checks again with the reference seal.
                if job.job.verify(hit.nonce) == Some(hit) {
                    event = Some(PoolEvent::Hit {
                        device: index,
                        generation: held.generation,
                        job: Box::new(job),
                        hit,
                    });
                    hit.nonce.checked_add(1).filter(|&n| n <= cursor.end)
                } else {
                    fault = Some(format!(
                        "reported nonce {} but its seal does not meet the target",
                        hit.nonce
                    ));
                    None
                }
            }
            Ok(SearchOutcome::Exhausted) => {
                if job.range.is_some() {
                    event = Some(PoolEvent::Exhausted {
                        device: index,
                        generation: held.generation,
                        job: allocation.job,
                    });
                }
                None
            }
            // Resume after what was hashed. On a multi-threaded device a few nonces of
            // partly searched chunks may be skipped or searched twice; neither matters.
            Ok(SearchOutcome::Stopped) => range
                .start
                .checked_add(searched)
                .filter(|&n| n <= cursor.end),
            Err(e) => {
                fault = Some(match e {
                    BackendError::Fault(reason) | BackendError::Unavailable(reason) => reason,
                });
                None
            }
        };
        held.cursors[pick] = Some(Cursor { next, ..cursor });

        let retargeted = {
            let mut state = shared.lock();
            let device = &mut state.devices[index];
            device.finished += searched;
            device.running = None;
            device.busy_time += spent;
            if matches!(event, Some(PoolEvent::Hit { .. })) {
                device.seals += 1;
            }
            if fault.is_some() {
                device.errors += 1;
                device.alive = false;
                // The others take over this device's share.
                state.replan();
                state.retarget_done()
            } else {
                None
            }
        };
        if let Some(event) = event {
            shared.emit(event);
        }
        // Drained only after its last hit is out, so a waiter that sees the device drained
        // has already been sent every hit.
        if fault.is_none() && held.pick().is_none() {
            mark_drained(&shared, index, held.generation);
        }
        if let Some(reason) = fault {
            shared.wake.notify_all();
            shared.emit(PoolEvent::Fault {
                device: index,
                reason,
            });
            if let Some(event) = retargeted {
                shared.emit(event);
            }
            return;
        }
    }
}
