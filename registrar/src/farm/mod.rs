//! Many registrations in one process: every (hotkey, netuid) target of a plan on one device
//! share, one chain session and one submitter per coldkey.
//!
//! At the start each target's state is read at the best head (one batched round): a hotkey
//! already registered by its coldkey is done (so a re-run resumes), one the chain would
//! refuse for good is skipped with the reason, and one that cannot be registered *now* (PoW
//! off, no registrations per block, above its difficulty cap) waits and is read again at
//! every head. Every other target runs [`register`] with its own lease on the devices, and
//! the share's policy decides which of them hash (see [`crate::share::policy`]). Each
//! registration keeps every rule of `register`: a lost status is settled from the chain's
//! state, nothing is resubmitted while in doubt, and the chain says what happened.
//!
//! The farm ends when every target is registered or waits for a stated reason, at the
//! deadline, or on Ctrl-C (running registrations first settle what they have in flight).

pub mod shard;

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use regpow_rules::PublicKey;
use tokio::sync::{broadcast, mpsc};

use crate::register::{register, until, Outcome, Progress, Refused, RegisterError, TargetEvent};
use crate::share::DeviceShare;
use crate::target::TargetSpec;
use regpow_chain::session::{Session, SessionEvent};
use regpow_chain::submitter::Submitter;
use regpow_chain::{ChainApi, ChainError, Head, Refusal, SubnetState};

pub use shard::Shard;

/// One target of the farm: what to register, and the coldkey's submitter that signs it
/// (shared by every target of that coldkey).
#[derive(Clone)]
pub struct FarmTarget {
    /// The target (its id is its index in the farm's list).
    pub spec: TargetSpec,
    /// The coldkey's submitter.
    pub submitter: Submitter,
}

/// Where a target stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// Its registration runs (hashing, or waiting for its turn on the devices).
    Running,
    /// It cannot be registered now (PoW off, above its difficulty cap, …): reported as
    /// skipped, and read again at every head.
    Waiting(WaitReason),
    /// The chain refuses it for good at the start (the subnet does not exist, the hotkey is
    /// another coldkey's).
    Skipped(Refused),
    /// Its registration ran and the chain refused it for good (a fatal pool code, or the
    /// hotkey was registered by someone else).
    Refused(Refused),
    /// Registered by this farm.
    Registered {
        /// The uid.
        uid: u16,
        /// The block that holds it.
        block: Head,
        /// The winning seal's work block.
        work_block: u64,
    },
    /// Already registered to its coldkey at the start.
    AlreadyRegistered {
        /// The uid.
        uid: u16,
    },
    /// The deadline came first.
    TimedOut {
        /// The work block of a submission whose outcome was unknown at exit.
        in_doubt: Option<u64>,
    },
    /// Ctrl-C came first.
    Cancelled {
        /// As for [`TargetState::TimedOut`].
        in_doubt: Option<u64>,
    },
}

impl TargetState {
    /// One word for tables, metrics and `--json`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Running => "running",
            // Reported as skipped, as every target the chain will not take now is.
            Self::Waiting(_) => "skipped",
            Self::Skipped(_) => "skipped",
            Self::Refused(_) => "refused",
            Self::Registered { .. } => "registered",
            Self::AlreadyRegistered { .. } => "already_registered",
            Self::TimedOut { .. } => "timed_out",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether the target counts as done for the exit code: registered, or not
    /// registrable for a stated reason.
    pub fn settled(&self) -> bool {
        matches!(
            self,
            Self::Waiting(_)
                | Self::Skipped(_)
                | Self::Registered { .. }
                | Self::AlreadyRegistered { .. }
        )
    }

    /// Whether nothing more will happen to it in this run.
    fn is_final(&self) -> bool {
        !matches!(self, Self::Running | Self::Waiting(_))
    }
}

/// Why a target cannot be registered now (the CLI words these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// The chain's state rules it out for now, in a way the subnet's owner can lift (PoW
    /// off, no uids, no registrations per block): see [`Refusal::may_lift`].
    Chain(Refusal),
    /// Harder than the target's difficulty cap.
    AboveCap {
        /// The subnet's effective difficulty.
        difficulty: u64,
        /// The target's cap.
        cap: u64,
    },
    /// Its state could not be read (the next head tries again).
    Unreadable(String),
}

impl WaitReason {
    /// Whether `other` is the same reason, whatever its figures (the difficulty moves every
    /// block; that alone is not news).
    pub fn same_kind(&self, other: &WaitReason) -> bool {
        match (self, other) {
            (Self::Chain(a), Self::Chain(b)) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

/// What the farm reports.
#[derive(Clone, Debug, PartialEq)]
pub enum FarmEvent {
    /// A target's state changed.
    Target {
        /// The target.
        target: TargetSpec,
        /// The new state.
        state: TargetState,
    },
    /// Progress of one target's registration.
    Registration(TargetEvent),
}

/// Run-wide settings.
#[derive(Clone, Copy, Debug)]
pub struct FarmOptions {
    /// End after this long.
    pub max_duration: Option<Duration>,
    /// A standing farm: keep following the chain once every target is settled, until
    /// Ctrl-C or the deadline. Skipped targets are read again at every head, and so are
    /// registered ones: a hotkey pruned from its subnet is registered again.
    pub keep_running: bool,
}

/// What to do with a target, from its state at a head (signed by `coldkey`).
fn classify(state: &SubnetState, target: &TargetSpec, coldkey: &PublicKey) -> TargetState {
    let netuid = target.netuid;
    // A registered hotkey first: a re-run resumes whatever the subnet's settings are now.
    if let Some(uid) = state.hotkey.uid {
        return if state.hotkey.owner.is_none_or(|owner| owner == *coldkey) {
            TargetState::AlreadyRegistered { uid }
        } else {
            TargetState::Skipped(Refused::RegisteredToOther { netuid, uid })
        };
    }
    match state.refusal(netuid, coldkey) {
        Some(refusal) if refusal.may_lift() => TargetState::Waiting(WaitReason::Chain(refusal)),
        Some(refusal) => TargetState::Skipped(refusal.into()),
        None => above_cap(target, state.effective_difficulty().get())
            .map_or(TargetState::Running, TargetState::Waiting),
    }
}

/// Why `target` waits at `difficulty`, if its cap rules it out.
fn above_cap(target: &TargetSpec, difficulty: u64) -> Option<WaitReason> {
    match target.difficulty_cap {
        Some(cap) if !target.allows(difficulty) => Some(WaitReason::AboveCap { difficulty, cap }),
        _ => None,
    }
}

/// A registration's task, ended when the farm lets go of it (a farm that returns early
/// leaves nothing running).
struct Spawned(tokio::task::JoinHandle<Result<Outcome, RegisterError>>);

impl Drop for Spawned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running registration's handle: its Ctrl-C channel.
struct Running {
    cancel: mpsc::UnboundedSender<()>,
}

/// Why the farm stops starting registrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stopping {
    /// Ctrl-C.
    Cancelled,
    /// The deadline.
    TimedOut,
    /// Every unfinished target waits for a stated reason (the running ones are all above
    /// their difficulty cap): they are asked to end, and the farm is done.
    WindingDown,
}

/// The state reads of a check in progress: `(target index, its state or the read error)`.
type Check = std::pin::Pin<
    Box<dyn std::future::Future<Output = Vec<(usize, Result<TargetState, ChainError>)>> + Send>,
>;

/// Everything one farm run keeps track of. Targets are indexed by their id.
struct Farm<C: ChainApi, P: FnMut(FarmEvent)> {
    session: Arc<Session<C>>,
    share: Arc<DeviceShare>,
    targets: Vec<FarmTarget>,
    options: FarmOptions,
    deadline: Option<tokio::time::Instant>,
    progress: P,
    /// Each target's state (`None` until its first read).
    states: Vec<Option<TargetState>>,
    running: Vec<Option<Running>>,
    events: mpsc::UnboundedSender<TargetEvent>,
    stopping: Option<Stopping>,
}

/// A registration run, ending with its target's index and outcome.
type RegistrationRun = std::pin::Pin<
    Box<dyn std::future::Future<Output = (usize, Result<Outcome, RegisterError>)> + Send>,
>;

impl<C: ChainApi, P: FnMut(FarmEvent)> Farm<C, P> {
    /// Records target `index`'s state and reports it if it changed (a skipped target that
    /// stays skipped for the same reason is not news, whatever the difficulty does).
    fn set(&mut self, index: usize, state: TargetState) {
        let news = match (&self.states[index], &state) {
            (Some(TargetState::Waiting(old)), TargetState::Waiting(new)) => !old.same_kind(new),
            (old, new) => old.as_ref() != Some(new),
        };
        self.states[index] = Some(state.clone());
        if news {
            (self.progress)(FarmEvent::Target {
                target: self.targets[index].spec,
                state,
            });
        }
    }

    /// Reads the state of targets `which` at `head` (one batched round in the session).
    fn check(&self, head: Head, which: Vec<usize>) -> Check {
        let reads: Vec<_> = which
            .into_iter()
            .map(|i| {
                let (session, target) = (self.session.clone(), self.targets[i].clone());
                async move {
                    let coldkey = target.submitter.public();
                    let spec = target.spec;
                    let state = session
                        .subnet_state(head, spec.netuid, &spec.hotkey, Some(&coldkey))
                        .await;
                    (i, state.map(|s| classify(&s, &spec, &coldkey)))
                }
            })
            .collect();
        Box::pin(futures::future::join_all(reads))
    }

    /// The targets to read again at a new head: the waiting ones, and on a standing farm the
    /// registered ones (a pruned hotkey is registered again).
    fn to_recheck(&self) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|&i| {
                self.running[i].is_none()
                    && match &self.states[i] {
                        Some(TargetState::Waiting(_)) => true,
                        Some(
                            TargetState::Registered { .. } | TargetState::AlreadyRegistered { .. },
                        ) => self.options.keep_running,
                        _ => false,
                    }
            })
            .collect()
    }

    /// Starts target `index`'s registration.
    fn start(&mut self, index: usize) -> RegistrationRun {
        let target = self.targets[index].clone();
        let (cancel_tx, cancel_rx) = mpsc::unbounded_channel();
        self.running[index] = Some(Running { cancel: cancel_tx });
        let (session, share, events, deadline) = (
            self.session.clone(),
            self.share.clone(),
            self.events.clone(),
            self.deadline,
        );
        // Each registration is a task of its own, so that thousands of them spread over the
        // runtime's workers rather than all being polled by the farm's loop.
        let task = Spawned(tokio::spawn(async move {
            register(
                session,
                share,
                target.submitter.clone(),
                target.spec,
                deadline,
                move |event| {
                    let _ = events.send(event);
                },
                cancel_rx,
            )
            .await
        }));
        Box::pin(async move {
            let mut task = task;
            let outcome = match (&mut task.0).await {
                Ok(outcome) => outcome,
                // A panic in a registration: the farm stops as for a lost chain.
                Err(e) => Err(ChainError::Rpc(format!("a registration failed: {e}")).into()),
            };
            (index, outcome)
        })
    }

    /// A check's results: new states, and the registrations to start.
    fn on_checked(
        &mut self,
        results: Vec<(usize, Result<TargetState, ChainError>)>,
    ) -> Vec<RegistrationRun> {
        let mut started = Vec::new();
        for (index, result) in results {
            let known = self.states[index].is_some();
            let state = match result {
                // Still registered: the state it has says more (uid, block).
                Ok(TargetState::AlreadyRegistered { .. })
                    if matches!(
                        self.states[index],
                        Some(
                            TargetState::Registered { .. } | TargetState::AlreadyRegistered { .. }
                        )
                    ) =>
                {
                    continue
                }
                Ok(state) => state,
                // A failed re-check changes nothing: the next head tries again.
                Err(_) if known => continue,
                Err(e) => TargetState::Waiting(WaitReason::Unreadable(e.to_string())),
            };
            if state == TargetState::Running && self.stopping.is_none() {
                started.push(self.start(index));
            }
            self.set(index, state);
        }
        started
    }

    /// Target `index`'s registration ended.
    fn on_outcome(&mut self, index: usize, outcome: Outcome) {
        self.running[index] = None;
        let waiting = matches!(self.states[index], Some(TargetState::Waiting(_)));
        let state = match outcome {
            Outcome::Registered {
                uid,
                block,
                work_block,
            } => TargetState::Registered {
                uid,
                block,
                work_block,
            },
            Outcome::RegisteredElsewhere { uid } => TargetState::AlreadyRegistered { uid },
            // A refusal the subnet's owner can lift (PoW turned off mid-run): the target
            // waits and is read again at every head. Any other stands.
            Outcome::Refused {
                refused: Refused::State(refusal),
                ..
            } if refusal.may_lift() && self.stopping.is_none() => {
                TargetState::Waiting(WaitReason::Chain(refusal))
            }
            Outcome::Refused { refused, .. } => TargetState::Refused(refused),
            Outcome::TimedOut { in_doubt } => TargetState::TimedOut { in_doubt },
            Outcome::Cancelled { in_doubt } => match self.stopping {
                Some(Stopping::WindingDown) if waiting => return,
                Some(Stopping::TimedOut) => TargetState::TimedOut { in_doubt },
                _ => TargetState::Cancelled { in_doubt },
            },
        };
        self.set(index, state);
    }

    /// A registration's event: passed on; a head above the target's cap makes it wait (the
    /// share gives it no devices), one within it makes it run again.
    fn on_event(&mut self, event: TargetEvent) {
        let index = event.target.id.0 as usize;
        if let Progress::Head { difficulty, .. } = event.progress {
            match above_cap(&event.target, difficulty) {
                Some(why) => self.set(index, TargetState::Waiting(why)),
                None if matches!(self.states[index], Some(TargetState::Waiting(_))) => {
                    self.set(index, TargetState::Running)
                }
                None => {}
            }
        }
        (self.progress)(FarmEvent::Registration(event));
    }

    /// Stops starting registrations, and asks every running one to end.
    fn stop(&mut self, why: Stopping) {
        if self.stopping.is_none() || why == Stopping::Cancelled {
            self.stopping = Some(why);
        }
        if why != Stopping::TimedOut {
            // (At the deadline every registration ends on its own, with its own outcome.)
            for run in self.running.iter().flatten() {
                let _ = run.cancel.send(());
            }
        }
    }

    /// Ends every running registration at once (a second Ctrl-C each).
    fn abort(&self) {
        for run in self.running.iter().flatten() {
            let _ = run.cancel.send(());
            let _ = run.cancel.send(());
        }
    }

    /// Whether every unfinished target waits for a stated reason while some still run.
    fn only_waiting_left(&self) -> bool {
        self.running.iter().any(Option::is_some)
            && self.states.iter().enumerate().all(|(i, s)| match s {
                Some(TargetState::Waiting(_)) => true,
                Some(s) => s.is_final() && self.running[i].is_none(),
                None => false,
            })
    }

    /// Whether the run is over (nothing running, no check in progress).
    fn done(&self, checking: bool) -> bool {
        if checking || self.running.iter().any(Option::is_some) {
            return false;
        }
        let settled = self.states.iter().all(|s| {
            s.as_ref()
                .is_some_and(|s| s.is_final() || matches!(s, TargetState::Waiting(_)))
        });
        self.stopping.is_some() || (settled && !self.options.keep_running)
    }

    /// Every target's final state.
    fn finals(self) -> Vec<TargetState> {
        let timed_out = self.stopping == Some(Stopping::TimedOut);
        self.states
            .into_iter()
            .map(|s| match s {
                Some(TargetState::Running) | None if timed_out => {
                    TargetState::TimedOut { in_doubt: None }
                }
                Some(TargetState::Running) | None => TargetState::Cancelled { in_doubt: None },
                Some(s) => s,
            })
            .collect()
    }
}

/// Runs every target of the plan (`targets[i].spec.id` must be `i`). Each message on
/// `cancel` is one Ctrl-C, passed on to every running registration (the first lets them
/// settle, a second ends them at once). Returns every target's final state, in plan order.
pub async fn farm<C: ChainApi>(
    session: Arc<Session<C>>,
    share: Arc<DeviceShare>,
    targets: Vec<FarmTarget>,
    options: FarmOptions,
    progress: impl FnMut(FarmEvent),
    mut cancel: mpsc::UnboundedReceiver<()>,
) -> Result<Vec<TargetState>, RegisterError> {
    assert!(
        targets
            .iter()
            .enumerate()
            .all(|(i, t)| t.spec.id.0 as usize == i),
        "a farm target's id is its index"
    );
    let heads = session.subscribe();
    let (events_tx, events) = mpsc::unbounded_channel::<TargetEvent>();
    let count = targets.len();
    let mut farm = Farm {
        session,
        share,
        targets,
        deadline: options
            .max_duration
            .map(|d| tokio::time::Instant::now() + d),
        options,
        progress,
        states: vec![None; count],
        running: (0..count).map(|_| None).collect(),
        events: events_tx,
        stopping: None,
    };
    let first = tokio::select! {
        _ = cancel.recv() => return Ok(vec![TargetState::Cancelled { in_doubt: None }; count]),
        head = farm.session.best_head() => head?,
    };
    let checking = Some(farm.check(first, (0..count).collect()));
    drive(&mut farm, checking, events, heads, cancel).await?;
    Ok(farm.finals())
}

/// The farm's loop: checks, registrations, their events and heads, until it is done.
async fn drive<C: ChainApi, P: FnMut(FarmEvent)>(
    farm: &mut Farm<C, P>,
    mut checking: Option<Check>,
    mut events: mpsc::UnboundedReceiver<TargetEvent>,
    mut heads: broadcast::Receiver<SessionEvent>,
    mut cancel: mpsc::UnboundedReceiver<()>,
) -> Result<(), RegisterError> {
    let mut runs: FuturesUnordered<RegistrationRun> = FuturesUnordered::new();
    while !farm.done(checking.is_some()) {
        let checked = async {
            match checking.as_mut() {
                Some(check) => Some(check.await),
                None => None,
            }
        };
        tokio::select! {
            biased;
            message = cancel.recv() => match message {
                Some(()) => {
                    checking = None;
                    farm.stop(Stopping::Cancelled);
                }
                // No more Ctrl-C can come: stop listening.
                None => cancel = mpsc::unbounded_channel().1,
            },
            _ = until(farm.deadline), if farm.stopping.is_none() => {
                checking = None;
                farm.stop(Stopping::TimedOut);
            }
            Some(results) = checked => {
                checking = None;
                runs.extend(farm.on_checked(results));
            }
            Some((index, outcome)) = runs.next() => match outcome {
                Ok(outcome) => farm.on_outcome(index, outcome),
                // The chain or every device is gone: the others end now too.
                Err(e) => {
                    farm.abort();
                    return Err(e);
                }
            },
            Some(event) = events.recv() => farm.on_event(event),
            event = heads.recv() => match event {
                Ok(SessionEvent::Head { new, .. }) => {
                    let recheck = farm.to_recheck();
                    if checking.is_none() && !recheck.is_empty() && farm.stopping.is_none() {
                        checking = Some(farm.check(new.head, recheck));
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(ChainError::Rpc("the chain session ended".into()).into());
                }
            },
        }
        if farm.only_waiting_left() && !farm.options.keep_running && farm.stopping.is_none() {
            farm.stop(Stopping::WindingDown);
        }
    }
    while let Ok(event) = events.try_recv() {
        (farm.progress)(FarmEvent::Registration(event));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetId;
    use regpow_chain::wallet::Coldkey;

    fn target(difficulty_cap: Option<u64>) -> (TargetSpec, PublicKey) {
        let coldkey = Coldkey::from_uri("//Alice").unwrap().public();
        let spec = TargetSpec {
            difficulty_cap,
            ..TargetSpec::new(TargetId(0), 7, PublicKey([9; 32]))
        };
        (spec, coldkey)
    }

    fn classify_for(state: &SubnetState, (spec, coldkey): (TargetSpec, PublicKey)) -> TargetState {
        classify(state, &spec, &coldkey)
    }

    fn state() -> SubnetState {
        SubnetState::sample(
            Head {
                number: 3,
                hash: [3; 32],
            },
            5_000,
        )
    }

    #[test]
    fn an_open_subnet_runs_and_limits_make_it_wait() {
        assert_eq!(classify_for(&state(), target(None)), TargetState::Running);
        assert_eq!(
            classify_for(&state(), target(Some(5_000))),
            TargetState::Running
        );
        assert_eq!(
            classify_for(&state(), target(Some(4_999))),
            TargetState::Waiting(WaitReason::AboveCap {
                difficulty: 5_000,
                cap: 4_999
            })
        );
        let mut off = state();
        off.subnet.pow_allowed = false;
        assert_eq!(
            classify_for(&off, target(None)),
            TargetState::Waiting(WaitReason::Chain(Refusal::PowDisabled { netuid: 7 }))
        );
        let mut closed = state();
        closed.subnet.max_registrations_per_block = 0;
        assert_eq!(
            classify_for(&closed, target(None)),
            TargetState::Waiting(WaitReason::Chain(Refusal::NoRegistrationsPerBlock {
                netuid: 7
            }))
        );
    }

    #[test]
    fn registered_hotkeys_are_done_or_skipped_by_owner() {
        let alice = target(None);
        let mut ours = state();
        ours.hotkey.uid = Some(4);
        ours.hotkey.owner = Some(alice.1);
        assert_eq!(
            classify_for(&ours, alice),
            TargetState::AlreadyRegistered { uid: 4 }
        );
        // Registered and ours although PoW is off now: done, not waiting.
        let mut ours_off = ours.clone();
        ours_off.subnet.pow_allowed = false;
        assert_eq!(
            classify_for(&ours_off, alice),
            TargetState::AlreadyRegistered { uid: 4 }
        );
        let mut theirs = ours.clone();
        theirs.hotkey.owner = Some(PublicKey([1; 32]));
        assert_eq!(
            classify_for(&theirs, alice),
            TargetState::Skipped(Refused::RegisteredToOther { netuid: 7, uid: 4 })
        );
        let mut owned = state();
        owned.hotkey.owner = Some(PublicKey([1; 32]));
        assert!(matches!(
            classify_for(&owned, alice),
            TargetState::Skipped(Refused::State(Refusal::OtherColdkey { .. }))
        ));
        let mut gone = state();
        gone.subnet.exists = false;
        assert_eq!(
            classify_for(&gone, alice),
            TargetState::Skipped(Refused::State(Refusal::NoSubnet { netuid: 7 }))
        );
    }

    #[test]
    fn a_moving_difficulty_is_the_same_reason_to_wait() {
        let a = WaitReason::AboveCap {
            difficulty: 10,
            cap: 5,
        };
        let b = WaitReason::AboveCap {
            difficulty: 9,
            cap: 5,
        };
        assert!(a.same_kind(&b));
        let off = WaitReason::Chain(Refusal::PowDisabled { netuid: 7 });
        let closed = WaitReason::Chain(Refusal::NoUids { netuid: 7 });
        assert!(!a.same_kind(&off));
        assert!(!off.same_kind(&closed));
        assert!(TargetState::Waiting(a).settled());
        assert!(!TargetState::TimedOut { in_doubt: None }.settled());
        assert_eq!(TargetState::Waiting(b).word(), "skipped");
    }
}
