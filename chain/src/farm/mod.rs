//! Many registrations in one process: every (hotkey, netuid) target of a plan on one device
//! share, one chain session and one submitter per coldkey.
//!
//! At the start each target's state is read at the best head (one batched round): a hotkey
//! already registered by its coldkey is done (so a re-run resumes), one the chain would
//! refuse for good is skipped with the reason, and one that cannot be registered *now* (PoW
//! off, no registrations per block, above its `max_difficulty`) waits and is read again at
//! every head. Every other target runs [`register`] with its own lease on the devices, and
//! the share's policy decides which of them hash (see [`crate::share::policy`]). Each
//! registration keeps every rule of `register`: a lost status is settled from the chain's
//! state, nothing is resubmitted while in doubt, and the chain says what happened.
//!
//! The farm ends when every target is registered or waits for a stated reason, at the
//! deadline, or on Ctrl-C (running registrations first settle what they have in flight).

pub mod shard;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use regpow_rules::PublicKey;
use tokio::sync::{broadcast, mpsc};

use crate::register::{register, Event, Outcome, Plan, Progress, RegisterError};
use crate::session::{Session, SessionEvent};
use crate::share::DeviceShare;
use crate::submitter::Submitter;
use crate::{ChainApi, ChainError, Head, SubnetState};

pub use shard::Shard;

/// One (hotkey, netuid) pair to register.
#[derive(Clone)]
pub struct Target {
    /// Subnet.
    pub netuid: u16,
    /// Hotkey.
    pub hotkey: PublicKey,
    /// The coldkey's submitter (shared by every target it signs).
    pub submitter: Submitter,
    /// Share of the devices relative to other targets (the job's `weight`).
    pub weight: u32,
    /// Wait while the subnet is harder than this.
    pub max_difficulty: Option<u64>,
}

/// Where a target stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// Its registration runs (hashing, or waiting for its turn on the devices).
    Running,
    /// It cannot be registered now (PoW off, above its `max_difficulty`, …): reported as
    /// skipped, and read again at every head.
    Waiting(String),
    /// The chain refuses it for good at the start (a stated reason: the subnet does not
    /// exist, the hotkey is another coldkey's).
    Skipped(String),
    /// Its registration ran and the chain refused it (a fatal pool code, or the hotkey was
    /// registered by someone else).
    Refused(String),
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

/// What the farm reports.
#[derive(Clone, Debug, PartialEq)]
pub enum FarmEvent {
    /// A target's state changed.
    Target {
        /// Subnet.
        netuid: u16,
        /// Hotkey.
        hotkey: PublicKey,
        /// The new state.
        state: TargetState,
    },
    /// Progress of one target's registration.
    Registration(Event),
}

/// Run-wide settings.
#[derive(Clone, Copy, Debug)]
pub struct FarmOptions {
    /// End after this long.
    pub max_duration: Option<Duration>,
    /// Report a device idle this long.
    pub stall_after: Duration,
    /// A standing farm: keep following the chain once every target is settled, until
    /// Ctrl-C or the deadline. Skipped targets are read again at every head, and so are
    /// registered ones: a hotkey pruned from its subnet is registered again.
    pub keep_running: bool,
}

/// What to do with a target, from its state at a head.
fn classify(state: &SubnetState, target: &Target) -> TargetState {
    let netuid = target.netuid;
    let coldkey = target.submitter.public();
    if let Some(uid) = state.hotkey.uid {
        return if state.hotkey.owner.is_none_or(|owner| owner == coldkey) {
            TargetState::AlreadyRegistered { uid }
        } else {
            TargetState::Skipped(format!(
                "registered on subnet {netuid} (uid {uid}) to another coldkey"
            ))
        };
    }
    if !state.subnet.exists || netuid == 0 {
        return TargetState::Skipped(format!("subnet {netuid} does not exist"));
    }
    if let Some(owner) = state.hotkey.owner.filter(|o| *o != coldkey) {
        return TargetState::Skipped(format!(
            "the hotkey belongs to another coldkey ({})",
            owner.to_ss58(42)
        ));
    }
    if !state.subnet.pow_allowed {
        return TargetState::Waiting("PoW disabled".into());
    }
    if state.subnet.max_allowed_uids == 0 || state.subnet.max_registrations_per_block == 0 {
        return TargetState::Waiting("the subnet takes no registrations".into());
    }
    if let Some(why) = state.refusal(netuid, &coldkey) {
        return TargetState::Waiting(why);
    }
    let difficulty = state.effective_difficulty().get();
    match target.max_difficulty {
        Some(max) if difficulty > max => TargetState::Waiting(format!(
            "difficulty {difficulty} above max_difficulty {max}"
        )),
        _ => TargetState::Running,
    }
}

/// A running registration's handle: its Ctrl-C channel.
struct Running {
    cancel: mpsc::UnboundedSender<()>,
}

/// Runs every target of the plan. Each message on `cancel` is one Ctrl-C, passed on to
/// every running registration (the first lets them settle, a second ends them at once).
/// Returns every target's final state, in plan order.
pub async fn farm<C: ChainApi>(
    session: Arc<Session<C>>,
    share: Arc<DeviceShare>,
    targets: Vec<Target>,
    options: FarmOptions,
    mut progress: impl FnMut(FarmEvent),
    mut cancel: mpsc::UnboundedReceiver<()>,
) -> Result<Vec<TargetState>, RegisterError> {
    let started = Instant::now();
    let deadline = options
        .max_duration
        .map(|d| tokio::time::Instant::from_std(started + d));
    let mut heads = session.subscribe();
    let mut states: Vec<Option<TargetState>> = vec![None; targets.len()];
    let mut running: Vec<Option<Running>> = (0..targets.len()).map(|_| None).collect();
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let mut runs = FuturesUnordered::new();
    let mut cancelled = false;
    let mut timed_out = false;
    // Set when every unfinished target waits: the running ones are asked to end.
    let mut winding_down = false;

    let set = |index: usize,
               state: TargetState,
               states: &mut Vec<Option<TargetState>>,
               progress: &mut dyn FnMut(FarmEvent)| {
        if states[index].as_ref() != Some(&state) {
            states[index] = Some(state.clone());
            progress(FarmEvent::Target {
                netuid: targets[index].netuid,
                hotkey: targets[index].hotkey,
                state,
            });
        }
    };

    // Reads every waiting (or new) target's state at `head`; starts those that can run.
    let check = |head: Head, which: Vec<usize>| {
        let session = session.clone();
        let reads: Vec<_> = which
            .into_iter()
            .map(|i| {
                let (session, target) = (session.clone(), targets[i].clone());
                async move {
                    let coldkey = target.submitter.public();
                    let state = session
                        .subnet_state(head, target.netuid, &target.hotkey, Some(&coldkey))
                        .await;
                    (i, state.map(|s| classify(&s, &target)))
                }
            })
            .collect();
        futures::future::join_all(reads)
    };

    let client = session.client();
    let first = tokio::select! {
        _ = cancel.recv() => return Ok(vec![TargetState::Cancelled { in_doubt: None }; targets.len()]),
        head = client.best_head() => head?,
    };
    let mut checking = Some(Box::pin(check(first, (0..targets.len()).collect())));

    loop {
        // Start what the last check cleared; see whether everything is settled.
        let all_final_or_waiting = states.iter().all(|s| {
            s.as_ref()
                .is_some_and(|s| s.is_final() || matches!(s, TargetState::Waiting(_)))
        });
        if !options.keep_running
            && checking.is_none()
            && running.iter().all(Option::is_none)
            && all_final_or_waiting
        {
            break;
        }
        if (cancelled || timed_out || winding_down)
            && running.iter().all(Option::is_none)
            && checking.is_none()
        {
            break;
        }
        tokio::select! {
            biased;
            message = cancel.recv() => {
                if message.is_none() {
                    // No more Ctrl-C can come: stop listening.
                    cancel = mpsc::unbounded_channel().1;
                    continue;
                }
                cancelled = true;
                checking = None;
                for run in running.iter().flatten() {
                    let _ = run.cancel.send(());
                }
            }
            _ = until(deadline), if !timed_out => {
                timed_out = true;
                checking = None;
            }
            Some(results) = async { match checking.as_mut() { Some(c) => Some(c.await), None => None } } => {
                checking = None;
                for (index, result) in results {
                    let state = match result {
                        // Still registered: the state it has says more (uid, block).
                        Ok(TargetState::AlreadyRegistered { .. })
                            if matches!(states[index], Some(TargetState::Registered { .. } | TargetState::AlreadyRegistered { .. })) =>
                        {
                            continue;
                        }
                        Ok(state) => state,
                        // A failed re-check changes nothing: the next head tries again.
                        Err(_) if states[index].is_some() => continue,
                        Err(e) => TargetState::Waiting(format!("reading its state: {e}")),
                    };
                    if state == TargetState::Running && !cancelled && !timed_out && !winding_down {
                        let target = targets[index].clone();
                        let (cancel_tx, cancel_rx) = mpsc::unbounded_channel();
                        running[index] = Some(Running { cancel: cancel_tx });
                        let plan = Plan {
                            netuid: target.netuid,
                            hotkey: target.hotkey,
                            max_duration: deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now())),
                            stall_after: options.stall_after,
                            weight: target.weight,
                            max_difficulty: target.max_difficulty,
                        };
                        let (session, share, events) = (session.clone(), share.clone(), events_tx.clone());
                        runs.push(async move {
                            let outcome = register(
                                session,
                                share,
                                target.submitter.clone(),
                                plan,
                                move |event| { let _ = events.send(event); },
                                cancel_rx,
                            )
                            .await;
                            (index, outcome)
                        });
                    }
                    set(index, state, &mut states, &mut progress);
                }
            }
            Some((index, outcome)) = runs.next() => {
                running[index] = None;
                let state = match outcome {
                    Ok(Outcome::Registered { uid, block, work_block, .. }) => TargetState::Registered { uid, block, work_block },
                    Ok(Outcome::Refused(why)) => TargetState::Refused(why),
                    Ok(Outcome::RegisteredElsewhere { uid, .. }) => TargetState::AlreadyRegistered { uid },
                    Ok(Outcome::TimedOut { in_doubt, .. }) => TargetState::TimedOut { in_doubt },
                    Ok(Outcome::Cancelled { .. }) if winding_down && !cancelled && matches!(states[index], Some(TargetState::Waiting(_))) => {
                        states[index].clone().expect("waiting")
                    }
                    Ok(Outcome::Cancelled { in_doubt }) if timed_out && !cancelled => TargetState::TimedOut { in_doubt },
                    Ok(Outcome::Cancelled { in_doubt }) => TargetState::Cancelled { in_doubt },
                    Err(e) => {
                        for run in running.iter().flatten() {
                            let _ = run.cancel.send(());
                            let _ = run.cancel.send(());
                        }
                        return Err(e);
                    }
                };
                set(index, state, &mut states, &mut progress);
            }
            Some(event) = events.recv() => {
                let index = targets.iter().position(|t| t.netuid == event.netuid && t.hotkey == event.hotkey);
                if let (Some(index), Progress::Head { difficulty, .. }) = (index, &event.progress) {
                    // A running target above its limit waits (the share gives it no devices).
                    let limit = targets[index].max_difficulty;
                    if let Some(max) = limit.filter(|&max| *difficulty > max) {
                        set(index, TargetState::Waiting(format!("difficulty {difficulty} above max_difficulty {max}")), &mut states, &mut progress);
                    } else if matches!(states[index], Some(TargetState::Waiting(_))) {
                        set(index, TargetState::Running, &mut states, &mut progress);
                    }
                }
                progress(FarmEvent::Registration(event));
            }
            event = heads.recv() => match event {
                Ok(SessionEvent::Head { new, .. }) => {
                    let recheck = |state: &Option<TargetState>| match state {
                        Some(TargetState::Waiting(_)) => true,
                        Some(TargetState::Registered { .. } | TargetState::AlreadyRegistered { .. }) => options.keep_running,
                        _ => false,
                    };
                    let waiting: Vec<usize> = (0..targets.len())
                        .filter(|&i| running[i].is_none() && recheck(&states[i]))
                        .collect();
                    if checking.is_none() && !waiting.is_empty() && !cancelled && !timed_out && !winding_down {
                        checking = Some(Box::pin(check(new.head, waiting)));
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(ChainError::Rpc("the chain session ended".into()).into());
                }
            },
        }
        // Every unfinished target is waiting for a stated reason: ask the running ones
        // (all above their max_difficulty) to end; the farm is done.
        let stuck = states.iter().enumerate().all(|(i, s)| match s {
            Some(TargetState::Waiting(_)) => true,
            Some(s) => s.is_final() && running[i].is_none(),
            None => false,
        });
        if stuck
            && !options.keep_running
            && !cancelled
            && !winding_down
            && running.iter().any(Option::is_some)
        {
            winding_down = true;
            for run in running.iter().flatten() {
                let _ = run.cancel.send(());
            }
        }
    }
    while let Ok(event) = events.try_recv() {
        progress(FarmEvent::Registration(event));
    }
    let finals = states
        .into_iter()
        .map(|s| match s {
            Some(TargetState::Running) | None if timed_out => {
                TargetState::TimedOut { in_doubt: None }
            }
            Some(TargetState::Running) | None => TargetState::Cancelled { in_doubt: None },
            Some(s) => s,
        })
        .collect();
    Ok(finals)
}

/// Sleeps until `at`, or for ever without one.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
