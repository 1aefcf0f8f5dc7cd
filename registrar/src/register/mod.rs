//! The registration loop: follow the chain's best heads, keep every device on the newest
//! challenge, and submit a seal the moment one is found, re-verified on the CPU against the
//! latest difficulty and the chain's five-block work window.
//!
//! The devices never wait for the network: a registration the devices hash switches the
//! search to a new head's challenge as soon as its header arrives; the subnet's state
//! (difficulty, registrations in the block, the hotkey's uid) comes with the session's read
//! of the head right after, and only the submission waits for it. A registration the devices
//! do not hash (a farm's thousands waiting for their turn) learns of a head only with that
//! read: one wake-up per head, not two. Nothing the node does (slow replies, a dropped
//! connection) delays Ctrl-C or the time bound by more than a moment.
//!
//! The outcome rule: a submission whose final status is lost is settled from the chain's
//! state (the hotkey's uid, owner and `LastPowRegistrationBlock`, the coldkey's nonce)
//! before anything else is submitted, and a lost status is never counted as a refusal.
//! When the run is asked to end (Ctrl-C, the time bound, no devices left) with a
//! submission in flight or in doubt, it waits for that outcome (bounded by the work
//! block's window plus one block) so that the result it reports is the chain's.
//!
//! What it is made of: heads and state reads come from the network's [`Session`] (shared by
//! every registration of the process, which reads every registration's state in one round
//! at each head), hashing from the device pool through a lease on the
//! [`DeviceShare`] (`devices.rs`), submissions take turns from the coldkey's [`Submitter`]
//! (its nonces, its submissions in flight, its bound on refusals; a seal that did not land for
//! a reason not its own is signed again, never mined again), the
//! judgements are the pure functions of `checks.rs`, and `run.rs` holds the run's state.
//! Progress goes out as [`TargetEvent`]s tagged with the target; what the devices do is the
//! process's device stream ([`crate::device_watch`]).

mod checks;
mod devices;
mod outcome;
mod progress;
mod run;

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};

use crate::share::DeviceShare;
use crate::target::TargetSpec;
use devices::Devices;
use regpow_chain::session::{HeadRead, Session, SessionEvent, Watch};
use regpow_chain::submitter::Submitter;
use regpow_chain::{ChainApi, ChainError};
use run::{Ending, Finish, Inbox, Run};

pub use outcome::{Outcome, Refused, RegisterError};
pub use progress::{Discard, NotRegistered, Progress, ReadFailure, Resign, TargetEvent};

/// Waits for the next cancel request; a closed channel never cancels.
async fn cancelled(cancel: &mut mpsc::UnboundedReceiver<()>) {
    if cancel.recv().await.is_none() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps until `at`, or for ever without one.
pub(crate) async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Registers `target.hotkey` on `target.netuid`, submitting through `submitter` (the
/// coldkey's, shared by every registration it signs), searching on the devices of `share`
/// (alone, or with the process's other registrations, as the share's policy splits them),
/// until `deadline`. The first state check happens before any hashing: a registration the
/// chain would refuse ends here with [`Outcome::Refused`]. Each message on `cancel` is one
/// Ctrl-C: the first ends the run (after waiting for a submission in flight), a second ends
/// it at once.
pub async fn register<C: ChainApi>(
    session: Arc<Session<C>>,
    share: Arc<DeviceShare>,
    submitter: Submitter,
    target: TargetSpec,
    deadline: Option<tokio::time::Instant>,
    progress: impl FnMut(TargetEvent),
    mut cancel: mpsc::UnboundedReceiver<()>,
) -> Result<Outcome, RegisterError> {
    let coldkey = submitter.public();
    // The session reads this target's state at every head from now on; heads and those
    // reads are subscribed to first, so none is missed; then the pre-flight, before any
    // hashing. Ctrl-C and the time bound apply here too.
    let watch = session.watch(target.netuid, target.hotkey, Some(coldkey));
    let following = Following {
        heads: session.subscribe(),
        head_reads: session.subscribe_head_reads(),
        ended: session.ended(),
        _watch: watch,
    };
    let first = tokio::select! {
        biased;
        _ = cancelled(&mut cancel) => return Ok(Outcome::Cancelled { in_doubt: None }),
        _ = until(deadline) => return Ok(Outcome::TimedOut { in_doubt: None }),
        read = async {
            let head = session.best_head().await?;
            session
                .subnet_state(head, target.netuid, &target.hotkey, Some(&coldkey))
                .await
        } => read?,
    };
    // Registered to this coldkey since the caller last looked (an earlier run's submission
    // that landed, another process): that is the chain's answer, not a refusal.
    if let Some(uid) = first.hotkey.uid {
        if first.hotkey.owner.is_none_or(|owner| owner == coldkey) {
            return Ok(Outcome::RegisteredElsewhere { uid });
        }
    }
    if let Some(refusal) = first.refusal(target.netuid, &coldkey) {
        let refused = refusal.into();
        return Ok(Outcome::Refused {
            refused,
            in_doubt: None,
        });
    }
    let (device_tx, device_events) = mpsc::unbounded_channel();
    let devices = Devices::new(share.lease(target, device_tx));
    let (mut run, inbox) = Run::start(
        session,
        (devices, device_events),
        submitter,
        target,
        first,
        progress,
    );
    let finish = drive(&mut run, inbox, following, cancel, deadline).await;
    run.stop();
    finish
}

/// What a run hears from the network's session.
struct Following {
    /// Every head as it arrives (listened to only while the devices hash the run).
    heads: broadcast::Receiver<SessionEvent>,
    /// The session's read at every head.
    head_reads: broadcast::Receiver<Arc<HeadRead>>,
    /// Set when the session has ended for good.
    ended: watch::Receiver<Option<ChainError>>,
    /// Keeps the target in the session's reads while the run lasts.
    _watch: Watch,
}

/// The run's loop: one input at a time until the run is over.
async fn drive<C: ChainApi, P: FnMut(TargetEvent)>(
    run: &mut Run<C, P>,
    mut inbox: Inbox,
    mut following: Following,
    mut cancel: mpsc::UnboundedReceiver<()>,
    deadline: Option<tokio::time::Instant>,
) -> Finish {
    // Timers made once, not at every turn of the loop (a farm runs thousands of these
    // loops): the deadline, the wait for a settling submission, and a tick that only runs
    // while a head event waits for its retarget time.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let until_deadline = until(deadline);
    tokio::pin!(until_deadline);
    let mut settle_at = run.settle_deadline();
    let until_settled = until(settle_at);
    tokio::pin!(until_settled);
    let mut timed_out = false;
    let mut follows_heads = false;
    loop {
        if let Some(finish) = run.settled() {
            return finish;
        }
        run.try_submit();
        run.publish_readiness();
        if run.settle_deadline() != settle_at {
            settle_at = run.settle_deadline();
            until_settled.set(until(settle_at));
        }
        // Heads that came while the run did not listen are old: it starts from the next.
        let follows_now = run.follows_heads();
        if follows_now && !follows_heads {
            following.heads = following.heads.resubscribe();
        }
        follows_heads = follows_now;
        let step: Option<Finish> = tokio::select! {
            biased;
            // A second Ctrl-C exits now, saying what may still land.
            _ = cancelled(&mut cancel) => match run.is_ending() {
                true => Some(run.give_up(Some(Ending::Cancelled))),
                false => run.end(Ending::Cancelled),
            },
            _ = &mut until_deadline, if !timed_out => {
                timed_out = true;
                run.end(Ending::TimedOut)
            },
            _ = &mut until_settled => Some(run.give_up(None)),
            Some(event) = inbox.devices.recv() => run.on_device(event),
            Some(report) = inbox.reports.recv() => run.on_report(*report),
            Some(read) = futures::StreamExt::next(&mut run.reads), if !run.reads.is_empty() => run.on_read(*read),
            // A head whose devices have not all moved yet is reported without its retarget.
            _ = tick.tick(), if run.head_report_pending() => {
                run.report_head(false);
                None
            },
            event = following.heads.recv(), if follows_heads => on_session(run, event),
            read = following.head_reads.recv() => match read {
                Ok(read) => run.on_head_read(&read),
                // Reads were missed: the next head's parent is unknown to the run, so the
                // window is read again from the chain.
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => Some(Err(session_ended().into())),
            },
            ended = following.ended.changed() => Some(Err(match ended {
                Ok(()) => following.ended.borrow().clone().unwrap_or_else(session_ended),
                Err(_) => session_ended(),
            }.into())),
        };
        if let Some(finish) = step {
            return finish;
        }
    }
}

/// Why a run stops when its session is gone without saying why.
fn session_ended() -> ChainError {
    ChainError::Rpc("the chain session ended".into())
}

/// What the network's session said (only heads matter: the end comes through `ended`).
fn on_session<C: ChainApi, P: FnMut(TargetEvent)>(
    run: &mut Run<C, P>,
    event: Result<SessionEvent, broadcast::error::RecvError>,
) -> Option<Finish> {
    match event {
        Ok(SessionEvent::Head { new, received }) => {
            run.on_head(new, received);
            None
        }
        // The session reports these once for everyone who follows it.
        Ok(SessionEvent::Reconnecting { .. } | SessionEvent::Reconnected) => None,
        Ok(SessionEvent::Lost(e)) => Some(Err(e.into())),
        // Heads were missed: the next one's parent is unknown, so the window is read again
        // from the chain.
        Err(broadcast::error::RecvError::Lagged(_)) => None,
        Err(broadcast::error::RecvError::Closed) => Some(Err(session_ended().into())),
    }
}
