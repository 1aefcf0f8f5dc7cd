//! The registration loop: follow the chain's best heads, keep every device on the newest
//! challenge, and submit a seal the moment one is found, re-verified on the CPU against the
//! latest difficulty and the chain's five-block work window.
//!
//! The devices never wait for the network: a new head switches the search to the new
//! challenge as soon as its header arrives; the subnet's state (difficulty, registrations in
//! the block, the hotkey's uid) is read in the background right after, and only the
//! submission waits for it. Nothing the node does (slow replies, a dropped connection)
//! delays Ctrl-C or the time bound by more than a moment.
//!
//! The outcome rule: a submission whose final status is lost is settled from the chain's
//! state (the hotkey's uid, owner and `LastPowRegistrationBlock`, the coldkey's nonce)
//! before anything else is submitted, and a lost status is never counted as a refusal.
//! When the run is asked to end (Ctrl-C, the time bound, no devices left) with a
//! submission in flight or in doubt, it waits for that outcome (bounded by the work
//! block's window plus one block) so that the result it reports is the chain's.
//!
//! What it is made of: heads and state reads come from the network's [`Session`] (shared by
//! every registration of the process), hashing from the [`DevicePool`] (`devices.rs` drives
//! it for one registration), submissions go through the coldkey's [`Submitter`], and the
//! judgements are the pure functions of `checks.rs`. Progress goes out as [`Event`]s tagged
//! with the subnet and the hotkey.

mod checks;
mod devices;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use regpow_chain::session::{Session, SessionEvent, HEAD_SILENCE};
use crate::share::{DeviceShare, LeaseSpec};
use regpow_chain::submitter::Submitter;
use regpow_chain::{
    ChainApi, ChainError, Head, NewHead, PoolRefusal, PowRegisterCall, SubmitOutcome, SubnetState,
};
use checks::{check_hit, is_fatal, is_ours, Doubt};
use devices::{Devices, Found};
use regpow_solver::{Job, PoolEvent};
use regpow_rules::challenge::Challenge;
use regpow_rules::difficulty::Difficulty;
use regpow_rules::keys::PublicKey;

pub use regpow_rules::WORK_WINDOW;

/// Node rejections (other than nonce races and pool codes) in a row before giving up.
const MAX_REJECTIONS_IN_A_ROW: u32 = 3;

/// Pool refusals with code 255 in a row before giving up: the rules regpow checks itself
/// pass, so the refusal is one it cannot see (and would repeat for ever).
const MAX_POOL_REFUSALS_IN_A_ROW: u32 = 20;

/// A device that computes nothing for this long is reported (see [`Plan::stall_after`]).
pub const DEVICE_STALL: Duration = Duration::from_secs(30);

/// Block time assumed until two heads have been seen (subtensor's 12 s).
const DEFAULT_BLOCK_TIME: Duration = Duration::from_secs(12);

/// Slack on top of the window when waiting for an outcome: one RPC timeout.
const SETTLE_SLACK: Duration = Duration::from_secs(30);

/// What to register.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Subnet.
    pub netuid: u16,
    /// Hotkey to register.
    pub hotkey: PublicKey,
    /// Give up after this long (`--max-seconds`).
    pub max_duration: Option<Duration>,
    /// Report a device that computes nothing for this long ([`DEVICE_STALL`] normally).
    pub stall_after: Duration,
    /// Share of the devices relative to the process's other registrations (1 alone).
    pub weight: u32,
    /// Do not hash while the difficulty is above this (the registration waits).
    pub max_difficulty: Option<u64>,
}

/// Progress, for the progress line or `--json` output.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A new best head and the subnet's state at it.
    Head {
        /// Block number.
        number: u64,
        /// Effective difficulty at that block.
        difficulty: u64,
        /// Whether the block already holds the subnet's registrations for the block.
        full: bool,
        /// Milliseconds from receiving the head to every device hashing its challenge
        /// (`None` when a newer head overtook it first).
        retarget_ms: Option<f64>,
    },
    /// Hashrate over the last interval, per device (in the pool's device order).
    Hashrate {
        /// Each device's rate.
        devices: Vec<DeviceRate>,
        /// Sum of the devices.
        total: f64,
        /// Seals computed since the start.
        hashes: u64,
    },
    /// A seal was found and passed every check; it is being submitted.
    Submitting {
        /// Its work block.
        work_block: u64,
        /// Its nonce.
        nonce: u64,
    },
    /// A submission did not register; solving goes on.
    NotRegistered {
        /// Why, as the chain said it.
        reason: String,
    },
    /// A submission's final status was lost; the chain's state will settle it before
    /// anything else is submitted.
    StatusLost {
        /// Its work block.
        work_block: u64,
        /// What was lost.
        reason: String,
    },
    /// The run was asked to end but waits for the outcome of a submission first.
    Waiting {
        /// What it waits for, in words.
        reason: String,
    },
    /// A found seal was dropped before submission (stale work block, difficulty rose, …).
    Discarded {
        /// Why.
        reason: String,
    },
    /// A device failed and left the run (the others go on).
    DeviceFault {
        /// Its stable id (`cpu`, `cuda:0`, …).
        id: String,
        /// Its name.
        device: String,
        /// What happened.
        reason: String,
    },
    /// A device has computed nothing for a while.
    DeviceStalled {
        /// Its stable id.
        id: String,
        /// Its name.
        device: String,
        /// For how long.
        idle: Duration,
    },
    /// The connection dropped; reconnecting after `retry_in`.
    Reconnecting {
        /// What failed.
        reason: String,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// Connected again.
    Reconnected,
    /// The run is over (the outcome follows); seals computed in all.
    Done {
        /// Seals computed since the start.
        hashes: u64,
    },
}

/// One device's hashrate over the last interval.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRate {
    /// Stable id (`cpu`, `cuda:0`, `wgpu:1`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Seals per second.
    pub hashrate: f64,
}

/// A progress event tagged with the registration it belongs to: the event stream every view
/// (the terminal line, `--json`) reads, one registration or many.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Subnet of the registration.
    pub netuid: u16,
    /// Hotkey of the registration.
    pub hotkey: PublicKey,
    /// What happened.
    pub progress: Progress,
}

/// The head event being put together: the state read and the retarget time arrive
/// separately, and the event goes out once it has both, or [`HEAD_REPORT_WAIT`] after its
/// state without the retarget (a device still busy with its previous batch).
#[derive(Clone, Copy, Debug)]
struct HeadReport {
    number: u64,
    /// Difficulty, whether the block is full, and when they arrived.
    state: Option<(u64, bool, Instant)>,
    retarget_ms: Option<f64>,
}

/// How long a head event waits for its retarget time once its state is known.
const HEAD_REPORT_WAIT: Duration = Duration::from_millis(500);

/// How a registration run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The chain registered the hotkey with one of this run's seals.
    Registered {
        /// Subnet.
        netuid: u16,
        /// The uid taken.
        uid: u16,
        /// The hotkey.
        hotkey: PublicKey,
        /// The block that included it (or, when learnt from state, a block holding it).
        block: Head,
        /// The work block of the winning seal.
        work_block: u64,
    },
    /// The hotkey became registered to this coldkey by a submission this run did not make
    /// (an earlier run that was killed, another process of a farm).
    RegisteredElsewhere {
        /// Subnet.
        netuid: u16,
        /// The uid it holds.
        uid: u16,
    },
    /// The chain refuses this registration outright (one line saying why).
    Refused(String),
    /// `max_duration` passed without a registration.
    TimedOut {
        /// Seals computed.
        hashes: u64,
        /// The work block of a submission whose outcome was still unknown at exit.
        in_doubt: Option<u64>,
    },
    /// The caller cancelled (Ctrl-C).
    Cancelled {
        /// The work block of a submission whose outcome was still unknown at exit (a
        /// second Ctrl-C, or the wait for it ran out).
        in_doubt: Option<u64>,
    },
}

/// Why the loop could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The chain could not be reached or used.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Every device failed.
    #[error("{0}")]
    Device(String),
}

/// Why a run ends once nothing is in flight or in doubt.
#[derive(Clone, Debug)]
enum Ending {
    Cancelled,
    TimedOut,
    Refused(String),
    Devices(String),
}

/// The subnet's state at a head, with the head's recent ancestry (for re-orgs).
struct StateRead {
    head: NewHead,
    state: Result<SubnetState, ChainError>,
    ancestry: Result<Vec<Head>, ChainError>,
}

/// Waits for the next cancel request; a closed channel never cancels.
async fn cancelled(cancel: &mut mpsc::UnboundedReceiver<()>) {
    if cancel.recv().await.is_none() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps until `at`, or for ever without one.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Everything one run keeps track of.
struct Run<C: ChainApi, P: FnMut(Event)> {
    plan: Plan,
    submitter: Submitter,
    coldkey_public: PublicKey,
    session: Arc<Session<C>>,
    devices: Devices,
    progress: P,
    /// The newest head's event, until its state and its retarget time are both known.
    head_report: Option<HeadReport>,
    /// The newest state read, and the newest head seen (it may be ahead of the state).
    state: SubnetState,
    newest: Head,
    /// Set when the newest head's parent was not the block we knew: its ancestry (and so
    /// the hash of every work block in the window) is being read; nothing is submitted
    /// until it arrives.
    awaiting_ancestry: bool,
    difficulty: Difficulty,
    /// Block hashes of the followed chain by number (the work window and a little more).
    recent: BTreeMap<u64, [u8; 32]>,
    pending: Option<Found>,
    in_flight: Option<u64>,
    doubts: Vec<Doubt>,
    submitted: BTreeSet<u64>,
    rejections_in_a_row: u32,
    pool_refusals_in_a_row: u32,
    /// Set once the run must end; it ends when nothing is in flight or in doubt, or when
    /// the wait runs out.
    ending: Option<(Ending, tokio::time::Instant)>,
    block_time: Duration,
    last_head_at: Option<Instant>,
    results: mpsc::UnboundedSender<(Found, Result<SubmitOutcome, ChainError>)>,
    states: mpsc::UnboundedSender<StateRead>,
}

type Finish = Result<Outcome, RegisterError>;

impl<C: ChainApi, P: FnMut(Event)> Run<C, P> {
    /// Sends `progress`, tagged with this registration.
    fn emit(&mut self, progress: Progress) {
        (self.progress)(Event {
            netuid: self.plan.netuid,
            hotkey: self.plan.hotkey,
            progress,
        });
    }

    /// Sends the head event if it has both halves; `force` sends it with what it has (a newer
    /// head overtook it).
    fn report_head(&mut self, force: bool) {
        let Some(report) = self.head_report else {
            return;
        };
        let Some((difficulty, full, since)) = report.state else {
            if force {
                self.head_report = None;
            }
            return;
        };
        if report.retarget_ms.is_none() && !force && since.elapsed() < HEAD_REPORT_WAIT {
            return;
        }
        self.head_report = None;
        self.emit(Progress::Head {
            number: report.number,
            difficulty,
            full,
            retarget_ms: report.retarget_ms,
        });
    }

    fn job_for(&self, head: Head, difficulty: Difficulty) -> Job {
        Job::new(
            Challenge {
                netuid: self.plan.netuid,
                block_hash: head.hash,
                hotkey: self.plan.hotkey,
                coldkey: self.coldkey_public,
            },
            difficulty,
        )
    }

    fn solving(&self) -> bool {
        self.ending.is_none()
    }

    /// Whether a seal found now could be submitted soon: not while the run ends, a
    /// submission is in flight or in doubt, the window's hashes are being read again, or
    /// the block is full. Otherwise the registration yields its devices to the others.
    fn can_use_seal(&self) -> bool {
        self.solving()
            && self.in_flight.is_none()
            && self.doubts.is_empty()
            && !self.awaiting_ancestry
            && !self.state.block_is_full()
    }

    /// The oldest submission whose outcome is not known yet.
    fn in_doubt(&self) -> Option<u64> {
        self.in_flight
            .or_else(|| self.doubts.iter().map(|d| d.work_block).min())
    }

    /// Asks the run to end: at once when nothing is in flight or in doubt, else after the
    /// chain has settled it (bounded by the work block's window plus one block).
    fn end(&mut self, ending: Ending) -> Option<Finish> {
        if self.ending.is_some() {
            return None;
        }
        self.devices.stop();
        self.pending = None;
        let Some(work_block) = self.in_doubt() else {
            return Some(self.conclude(ending, None));
        };
        let blocks_left = (work_block + WORK_WINDOW + 1).saturating_sub(self.newest.number);
        let wait = self.block_time * u32::try_from(blocks_left).unwrap_or(u32::MAX) + SETTLE_SLACK;
        self.emit(Progress::Waiting {
            reason: format!(
                "waiting for the outcome of the submission with work block {work_block} \
                 (at most {}s; Ctrl-C again to exit now)",
                wait.as_secs()
            ),
        });
        self.ending = Some((ending, tokio::time::Instant::now() + wait));
        None
    }

    /// The run's result for `ending`, with `in_doubt` when a submission's fate is unknown.
    fn conclude(&mut self, ending: Ending, in_doubt: Option<u64>) -> Finish {
        let hashes = self.devices.hashes().iter().sum();
        let doubt_note = |text: String| {
            match in_doubt {
            Some(block) => format!(
                "{text} (the submission with work block {block} may still land: check with `regpow status`)"
            ),
            None => text,
        }
        };
        match ending {
            Ending::Cancelled => Ok(Outcome::Cancelled { in_doubt }),
            Ending::TimedOut => Ok(Outcome::TimedOut { hashes, in_doubt }),
            Ending::Refused(why) => Ok(Outcome::Refused(doubt_note(why))),
            Ending::Devices(why) => Err(RegisterError::Device(doubt_note(why))),
        }
    }

    /// Ends now if the run is ending and nothing is in flight or in doubt any more.
    fn settled(&mut self) -> Option<Finish> {
        if self.in_doubt().is_some() {
            return None;
        }
        let (ending, _) = self.ending.take()?;
        Some(self.conclude(ending, None))
    }

    fn registered(&self, uid: u16, block: Head, work_block: u64) -> Finish {
        Ok(Outcome::Registered {
            netuid: self.plan.netuid,
            uid,
            hotkey: self.plan.hotkey,
            block,
            work_block,
        })
    }

    /// Submits the newest hit when it passes every check and nothing else is in flight or
    /// in doubt.
    fn try_submit(&mut self) {
        if !self.solving()
            || self.in_flight.is_some()
            || !self.doubts.is_empty()
            || self.awaiting_ancestry
            || self.state.block_is_full()
        {
            return;
        }
        let Some(found) = self.pending.take() else {
            return;
        };
        if let Err(reason) = check_hit(&found, &self.state, self.newest.number, &self.recent) {
            self.emit(Progress::Discarded { reason });
            return;
        }
        if let Err(claimed) = self.submitter.claim(&self.plan.hotkey, found.work_block) {
            self.emit(Progress::Discarded {
                reason: format!(
                    "work block {} is not after {claimed}, which another submission of this \
                     hotkey used (the chain needs a later one)",
                    found.work_block
                ),
            });
            return;
        }
        self.emit(Progress::Submitting {
            work_block: found.work_block,
            nonce: found.hit.nonce,
        });
        self.in_flight = Some(found.work_block);
        self.submitted.insert(found.work_block);
        let call = PowRegisterCall {
            netuid: self.plan.netuid,
            work_block: found.work_block,
            nonce: found.hit.nonce,
            work: found.hit.seal.0,
            hotkey: self.plan.hotkey,
        };
        let (client, submitter, at, results) = (
            self.session.client(),
            self.submitter.clone(),
            self.state.subnet.head,
            self.results.clone(),
        );
        tokio::spawn(async move {
            let outcome = submitter.submit(&client, &call, at).await;
            let _ = results.send((found, outcome));
        });
    }

    /// A new best head: devices move to it at once; its state is read in the background.
    fn on_head(&mut self, new: NewHead, received: Instant) {
        let head = new.head;
        if self.recent.get(&head.number) == Some(&head.hash) && self.state.subnet.head == head {
            return; // the head we already work on (subscriptions start with it)
        }
        if let Some(last) = self.last_head_at.replace(received) {
            let seen = received
                .saturating_duration_since(last)
                .clamp(Duration::from_millis(50), HEAD_SILENCE);
            self.block_time = (self.block_time * 3 + seen) / 4;
            self.devices.block_time(self.block_time);
        }
        // A parent we did not know means a re-organisation (or a gap): the whole window is
        // read again, as it is until an ancestry read succeeds.
        let parent_known = !self.awaiting_ancestry
            && (head.number == 0 || self.recent.get(&(head.number - 1)) == Some(&new.parent));
        self.awaiting_ancestry |= !parent_known;
        self.recent.insert(head.number, head.hash);
        self.recent.retain(|&n, _| n <= head.number);
        while self.recent.len() > 64 {
            self.recent.pop_first();
        }
        let fresh = self.newest != head;
        self.newest = head;
        if fresh && self.solving() {
            let job = self.job_for(head, self.difficulty);
            self.devices.switch(job, head.number, Some(received));
            self.report_head(true);
            self.head_report = Some(HeadReport {
                number: head.number,
                state: None,
                retarget_ms: None,
            });
        }
        let known = self.recent.clone();
        let (session, states) = (self.session.clone(), self.states.clone());
        let (netuid, hotkey, coldkey) = (self.plan.netuid, self.plan.hotkey, self.coldkey_public);
        tokio::spawn(async move {
            let from = head.number.saturating_sub(WORK_WINDOW + 1);
            let known = |n: u64, hash: &[u8; 32]| known.get(&n) == Some(hash);
            let (ancestry, state) = tokio::join!(
                async {
                    if parent_known {
                        Ok(vec![head])
                    } else {
                        session.client().ancestry(new, from, known).await
                    }
                },
                session.subnet_state(head, netuid, &hotkey, Some(&coldkey)),
            );
            let _ = states.send(StateRead {
                head: new,
                state,
                ancestry,
            });
        });
    }

    /// The state at a head: our registration, settled doubts, refusals, the difficulty.
    fn on_state(&mut self, read: StateRead) -> Option<Finish> {
        let head = read.head.head;
        let newest = head == self.newest;
        if !newest && head.number <= self.state.subnet.head.number {
            return None; // an older read that arrived late
        }
        match read.ancestry {
            Ok(chain) => {
                for block in chain {
                    self.recent.insert(block.number, block.hash);
                }
                if newest {
                    self.awaiting_ancestry = false;
                }
            }
            Err(e) if newest => {
                // Without the ancestry the window's hashes are unknown: keep waiting (the
                // next head retries) rather than submit a seal on an orphaned block.
                self.emit(Progress::NotRegistered {
                    reason: format!("reading the chain after a re-organisation: {e}"),
                });
            }
            Err(_) => {}
        }
        let state = match read.state {
            Ok(state) => state,
            Err(e) => {
                // Keep the last state but move its head, so seals on the new head are
                // judged against the right window.
                self.state.subnet.head = head;
                self.emit(Progress::NotRegistered {
                    reason: e.to_string(),
                });
                return None;
            }
        };
        self.state = state;
        if let Some(uid) = self.state.hotkey.uid {
            if is_ours(&self.state, &self.coldkey_public, &self.submitted) {
                let work_block = self.state.hotkey.last_pow_block.unwrap_or_default();
                return Some(self.registered(uid, self.state.subnet.head, work_block));
            }
            if self.state.hotkey.owner == Some(self.coldkey_public) {
                return Some(Ok(Outcome::RegisteredElsewhere {
                    netuid: self.plan.netuid,
                    uid,
                }));
            }
            return Some(Ok(Outcome::Refused(format!(
                "the hotkey became registered on subnet {} (uid {uid}) by another submission",
                self.plan.netuid
            ))));
        }
        // The hotkey is not registered at this head: doubts the chain has now settled.
        let state = &self.state;
        let mut settled = Vec::new();
        self.doubts.retain(|doubt| match doubt.settled_by(state) {
            Some(reason) => {
                settled.push((reason, doubt.work_block));
                false
            }
            None => true,
        });
        for (reason, work_block) in settled {
            // It cannot land any more: its work block is free for another seal.
            self.submitter.release(&self.plan.hotkey, work_block);
            self.emit(Progress::NotRegistered { reason });
        }
        if let Some(why) = self.state.refusal(self.plan.netuid, &self.coldkey_public) {
            if let Some(finish) = self.end(Ending::Refused(why)) {
                return Some(finish);
            }
        }
        if self.solving() {
            // The difficulty decays a little every block; restarting the devices for that
            // is not worth it (found seals are re-checked against the latest value anyway).
            // A real change is.
            let latest = self.state.effective_difficulty();
            if latest.get().abs_diff(self.difficulty.get()) > self.difficulty.get() / 100 {
                let job = self.job_for(self.newest, latest);
                self.devices.switch(job, self.newest.number, None);
            }
            self.difficulty = latest;
        }
        let state = (
            self.state.effective_difficulty().get(),
            self.state.block_is_full(),
            Instant::now(),
        );
        match &mut self.head_report {
            Some(report) if report.number == head.number => {
                report.state = Some(state);
                self.report_head(false);
            }
            _ => self.emit(Progress::Head {
                number: head.number,
                difficulty: state.0,
                full: state.1,
                retarget_ms: None,
            }),
        }
        None
    }

    /// A submission's outcome.
    fn on_result(
        &mut self,
        found: Found,
        outcome: Result<SubmitOutcome, ChainError>,
    ) -> Option<Finish> {
        self.in_flight = None;
        let registered_or_unknown = matches!(
            outcome,
            Ok(SubmitOutcome::Registered { .. } | SubmitOutcome::Unknown { .. })
        );
        if !registered_or_unknown {
            self.submitter.release(&self.plan.hotkey, found.work_block);
        }
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                // Nothing was sent (the nonce or block could not be read).
                self.emit(Progress::NotRegistered {
                    reason: e.to_string(),
                });
                return None;
            }
        };
        if let SubmitOutcome::Registered { uid, block } = outcome {
            return Some(self.registered(uid, block, found.work_block));
        }
        if let SubmitOutcome::Unknown { reason, nonce } = outcome {
            self.doubts.push(Doubt {
                work_block: found.work_block,
                nonce,
            });
            self.emit(Progress::StatusLost {
                work_block: found.work_block,
                reason,
            });
            return None;
        }
        if let Some(why) = is_fatal(&outcome) {
            return self.end(Ending::Refused(why));
        }
        let reason = match &outcome {
            SubmitOutcome::Failed(name) => {
                self.rejections_in_a_row = 0;
                self.pool_refusals_in_a_row = 0;
                format!("included but failed: {name}")
            }
            // Our previous attempt used the nonce: the next signs with a fresh one.
            SubmitOutcome::Refused(refusal @ PoolRefusal::NonceRace(_)) => refusal.to_string(),
            SubmitOutcome::Refused(refusal @ PoolRefusal::Custom(_)) => {
                self.rejections_in_a_row = 0;
                self.pool_refusals_in_a_row += 1;
                if self.pool_refusals_in_a_row >= MAX_POOL_REFUSALS_IN_A_ROW {
                    return self.end(Ending::Refused(format!(
                        "the pool refused {MAX_POOL_REFUSALS_IN_A_ROW} seals in a row \
                         (custom code 255: a rule regpow cannot check beforehand, \
                         e.g. a system account or the coldkey's hotkey limit)"
                    )));
                }
                refusal.to_string()
            }
            SubmitOutcome::Refused(refusal) => {
                self.rejections_in_a_row += 1;
                if self.rejections_in_a_row >= MAX_REJECTIONS_IN_A_ROW {
                    return self.end(Ending::Refused(format!(
                        "the node rejected {MAX_REJECTIONS_IN_A_ROW} submissions in a row: {refusal}"
                    )));
                }
                refusal.to_string()
            }
            SubmitOutcome::Registered { .. } | SubmitOutcome::Unknown { .. } => unreachable!(),
        };
        self.emit(Progress::NotRegistered { reason });
        None
    }

    /// A hit, a fault or a retarget from the device pool.
    fn on_device(&mut self, event: PoolEvent) -> Option<Finish> {
        match event {
            PoolEvent::Hit { job, hit, .. } => {
                let found = Found {
                    job: job.job,
                    work_block: job.work_block,
                    hit,
                };
                // Keep the newest work block: it stays valid longest.
                if self.solving()
                    && self
                        .pending
                        .as_ref()
                        .is_none_or(|p| p.work_block <= found.work_block)
                {
                    self.pending = Some(found);
                }
                None
            }
            PoolEvent::Fault { device, reason } => {
                let (id, name) = self.devices.name(device);
                self.emit(Progress::DeviceFault {
                    id,
                    device: name.clone(),
                    reason: reason.clone(),
                });
                if self.devices.alive() == 0 {
                    return self.end(Ending::Devices(format!("{name}: {reason}")));
                }
                None
            }
            PoolEvent::Retargeted { generation, at, .. } => {
                if let Some((block, took)) = self.devices.retargeted(generation, at) {
                    if let Some(report) = self.head_report.as_mut().filter(|r| r.number == block) {
                        report.retarget_ms = Some(took.as_secs_f64() * 1e3);
                        self.report_head(false);
                    }
                }
                None
            }
            PoolEvent::Exhausted { .. } => None,
        }
    }

    fn hashrate(&mut self, last: &mut (Vec<u64>, Instant)) {
        // A head whose devices have not all moved yet is reported without its retarget.
        self.report_head(false);
        let now = Instant::now();
        let hashes = self.devices.hashes();
        let secs = now.duration_since(last.1).as_secs_f64().max(1e-3);
        let devices: Vec<DeviceRate> = self
            .devices
            .names()
            .iter()
            .zip(hashes.iter().zip(&last.0))
            .map(|((id, name), (now, before))| DeviceRate {
                id: id.clone(),
                name: name.clone(),
                hashrate: now.saturating_sub(*before) as f64 / secs,
            })
            .collect();
        let total = devices.iter().map(|d| d.hashrate).sum();
        self.emit(Progress::Hashrate {
            devices,
            total,
            hashes: hashes.iter().sum(),
        });
        *last = (hashes, now);
        if self.solving() {
            for (id, device, idle) in self.devices.stalled(self.plan.stall_after) {
                self.emit(Progress::DeviceStalled { id, device, idle });
            }
        }
    }
}

/// Registers `plan.hotkey` on `plan.netuid`, submitting through `submitter` (the coldkey's,
/// shared by every registration it signs), searching on the devices of `share` (alone, or
/// with the process's other registrations, as the share's policy splits them). The first
/// state check happens before any hashing: a registration the chain would refuse ends here
/// with [`Outcome::Refused`]. Each message on `cancel` is one
/// Ctrl-C: the first ends the run (after waiting for a submission in flight), a second
/// ends it at once.
pub async fn register<C: ChainApi>(
    session: Arc<Session<C>>,
    share: Arc<DeviceShare>,
    submitter: Submitter,
    plan: Plan,
    mut progress: impl FnMut(Event),
    mut cancel: mpsc::UnboundedReceiver<()>,
) -> Result<Outcome, RegisterError> {
    let started = Instant::now();
    let deadline = plan
        .max_duration
        .map(|d| tokio::time::Instant::from_std(started + d));
    let coldkey_public = submitter.public();

    // Heads from now on (subscribed first, so none is missed); then the pre-flight, before
    // any hashing. Ctrl-C and the time bound apply here too.
    let mut session_events = session.subscribe();
    let first = tokio::select! {
        biased;
        _ = cancelled(&mut cancel) => return Ok(Outcome::Cancelled { in_doubt: None }),
        _ = until(deadline) => return Ok(Outcome::TimedOut { hashes: 0, in_doubt: None }),
        read = async {
            let head = session.client().best_head().await?;
            session
                .subnet_state(head, plan.netuid, &plan.hotkey, Some(&coldkey_public))
                .await
        } => read?,
    };
    let head_received = Instant::now();
    if let Some(why) = first.refusal(plan.netuid, &coldkey_public) {
        return Ok(Outcome::Refused(why));
    }

    let (device_tx, mut device_events) = mpsc::unbounded_channel();
    let (results_tx, mut results) = mpsc::unbounded_channel();
    let (states_tx, mut states) = mpsc::unbounded_channel();
    let head = first.subnet.head;
    let mut run = Run {
        difficulty: first.effective_difficulty(),
        devices: Devices::new(share.lease(
            LeaseSpec {
                netuid: plan.netuid,
                hotkey: plan.hotkey,
                weight: plan.weight,
                max_difficulty: plan.max_difficulty,
            },
            device_tx,
        )),
        head_report: None,
        submitter,
        coldkey_public,
        session,
        progress: &mut progress,
        newest: head,
        awaiting_ancestry: false,
        recent: BTreeMap::from([(head.number, head.hash)]),
        state: first,
        pending: None,
        in_flight: None,
        doubts: Vec::new(),
        submitted: BTreeSet::new(),
        rejections_in_a_row: 0,
        pool_refusals_in_a_row: 0,
        ending: None,
        block_time: DEFAULT_BLOCK_TIME,
        last_head_at: None,
        results: results_tx,
        states: states_tx,
        plan,
    };
    let job = run.job_for(head, run.difficulty);
    run.devices.switch(job, head.number, Some(head_received));
    run.head_report = Some(HeadReport {
        number: head.number,
        state: Some((
            run.difficulty.get(),
            run.state.block_is_full(),
            Instant::now(),
        )),
        retarget_ms: None,
    });

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_rate = (run.devices.hashes(), Instant::now());
    let mut timed_out = false;

    let finish = loop {
        if let Some(finish) = run.settled() {
            break finish;
        }
        run.try_submit();
        let ready = run.can_use_seal();
        run.devices.ready(ready);
        let settle_at = run.ending.as_ref().map(|(_, at)| *at);
        let step: Option<Finish> = tokio::select! {
            biased;
            _ = cancelled(&mut cancel) => match run.ending {
                // A second Ctrl-C: exit now, saying what may still land.
                Some(_) => {
                    let in_doubt = run.in_doubt();
                    Some(Ok(Outcome::Cancelled { in_doubt }))
                }
                None => run.end(Ending::Cancelled),
            },
            _ = until(deadline), if !timed_out => {
                timed_out = true;
                run.end(Ending::TimedOut)
            },
            _ = until(settle_at) => {
                let (ending, _) = run.ending.take().expect("settling");
                let in_doubt = run.in_doubt();
                Some(run.conclude(ending, in_doubt))
            },
            Some(event) = device_events.recv() => run.on_device(event),
            Some((found, outcome)) = results.recv() => run.on_result(found, outcome),
            Some(read) = states.recv() => run.on_state(read),
            _ = tick.tick() => {
                run.hashrate(&mut last_rate);
                None
            },
            event = session_events.recv() => match event {
                Ok(SessionEvent::Head { new, received }) => {
                    run.on_head(new, received);
                    None
                }
                Ok(SessionEvent::Reconnecting { reason, retry_in }) => {
                    run.emit(Progress::Reconnecting { reason, retry_in });
                    None
                }
                Ok(SessionEvent::Reconnected) => {
                    run.emit(Progress::Reconnected);
                    None
                }
                Ok(SessionEvent::Lost(e)) => Some(Err(e.into())),
                // Heads were missed: the next one's parent is unknown, so the window is read
                // again from the chain.
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => {
                    Some(Err(ChainError::Rpc("the chain session ended".into()).into()))
                }
            },
        };
        if let Some(finish) = step {
            break finish;
        }
    };
    run.devices.stop();
    let hashes = run.devices.hashes().iter().sum();
    run.emit(Progress::Done { hashes });
    match finish {
        Ok(Outcome::TimedOut { in_doubt, .. }) => Ok(Outcome::TimedOut { hashes, in_doubt }),
        other => other,
    }
}
