//! One registration run as an explicit state: what it knows of the chain ([`ChainView`]),
//! where its one submission stands ([`Submission`]: idle, waiting for the coldkey's turn, in
//! flight, in doubt), the seal it holds ([`Sealed`]: found, or to be signed again) and
//! whether it is ending. Each handler takes one input (a head, a state read, a submission's outcome, a
//! device event) and returns `Some` when the run is over. The guard "can a seal be used now"
//! is [`Run::can_use_seal`], and only there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::checks::{check_hit, doubt_registered, is_fatal, Doubt};
use super::devices::{Devices, Found};
use super::outcome::{Outcome, Refused, RegisterError};
use super::progress::{Discard, NotRegistered, Progress, ReadFailure, Resign, TargetEvent};
use crate::target::TargetSpec;
use regpow_chain::session::{HeadRead, Session, HEAD_SILENCE};
use regpow_chain::submitter::{SigningStopped, Submitter, Turn};
use regpow_chain::{
    ChainApi, ChainError, Head, NewHead, PoolRefusal, PowRegisterCall, Signing, SubmitOutcome,
    SubnetState,
};
use regpow_rules::challenge::Challenge;
use regpow_rules::difficulty::Difficulty;
use regpow_rules::keys::PublicKey;
use regpow_rules::{tx_pool, WORK_WINDOW};
use regpow_solver::{Job, PoolEvent};

/// Node rejections (other than nonce races and pool codes) in a row before giving up.
const MAX_REJECTIONS_IN_A_ROW: u32 = 3;

/// Pool refusals with code 255 in a row before giving up: the rules regpow checks itself
/// pass, so the refusal is one it cannot see (and would repeat for ever).
const MAX_POOL_REFUSALS_IN_A_ROW: u32 = 20;

/// Signatures one seal gets at most (the first and the re-signatures after nonce races or a
/// stranded nonce), one per head at most.
pub(super) const MAX_SIGNATURES_PER_SEAL: u32 = 4;

/// Heads a submission may go without an outcome before the run asks whether its nonce is
/// stranded.
const HEADS_BEFORE_STRANDED_CHECK: u64 = 2;

/// Block time assumed until two heads have been seen (subtensor's 12 s).
const DEFAULT_BLOCK_TIME: Duration = Duration::from_secs(12);

/// Slack on top of the window when waiting for an outcome: one RPC timeout.
const SETTLE_SLACK: Duration = Duration::from_secs(30);

/// How long a head event waits for its retarget time once its state is known.
const HEAD_REPORT_WAIT: Duration = Duration::from_millis(500);

/// The result a run ends with.
pub(super) type Finish = Result<Outcome, RegisterError>;

/// Why a run ends once nothing is in flight or in doubt.
#[derive(Clone, Debug)]
pub(super) enum Ending {
    Cancelled,
    TimedOut,
    Refused(Refused),
    Devices(String),
}

/// Where the run's one submission stands (nothing else is submitted while one waits for
/// its turn, is in flight or in doubt).
#[derive(Debug)]
enum Submission {
    /// None, or the last one settled.
    Idle,
    /// A seal waits for the coldkey's turn (see [`Submitter::turn`]).
    Waiting,
    /// Signed and sent; its outcome is awaited.
    InFlight(Box<InFlight>),
    /// Its final status was lost: only the chain's state can settle it.
    InDoubt(Doubt),
}

/// A submission on its way.
#[derive(Debug)]
struct InFlight {
    /// The seal it carries.
    sealed: Sealed,
    /// The coldkey nonce it was signed with, once the node has it.
    signer_nonce: Option<u64>,
    /// The newest head when it was signed.
    signed_at: u64,
    /// Set while a stranded-nonce check is running.
    checking: bool,
    /// The task that sends it and follows it.
    task: tokio::task::AbortHandle,
}

impl Submission {
    /// The work block of the submission whose outcome is not known yet.
    fn unsettled(&self) -> Option<u64> {
        match self {
            Self::Idle | Self::Waiting => None,
            Self::InFlight(flight) => Some(flight.sealed.found.work_block),
            Self::InDoubt(doubt) => Some(doubt.work_block),
        }
    }
}

/// A verified seal and how many times it has been signed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sealed {
    found: Found,
    signatures: u32,
}

/// What comes back from the tasks a run starts for its submission.
pub(super) enum Report {
    /// The coldkey's turn (or why it stopped signing).
    Turn(Result<Turn, SigningStopped>),
    /// The node answered the submission signed with this nonce (or may have it).
    Sent { signer_nonce: u64 },
    /// The submission's outcome; its turn is returned once the outcome is handled.
    Done {
        sealed: Box<Sealed>,
        turn: Turn,
        outcome: Result<SubmitOutcome, ChainError>,
    },
    /// Whether the submission with this nonce is stranded (see [`Submitter::stranded`]).
    Stranded { signer_nonce: u64, stranded: bool },
}

/// A read the run made itself (the session's read at each head covers the rest).
pub(super) enum Read {
    /// The blocks from a head back over the work window: its parent was not the block the
    /// run knew (a re-organisation, or heads it missed).
    Ancestry {
        head: Head,
        blocks: Result<Vec<Head>, ChainError>,
    },
    /// The subnet's and the hotkey's state at a head that the session's read did not cover.
    State {
        head: Head,
        state: Result<SubnetState, ChainError>,
    },
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

/// What the run knows of the chain.
struct ChainView {
    /// The newest state read (its head may lag behind `newest`).
    state: SubnetState,
    /// The newest head seen.
    newest: Head,
    /// Block hashes of the followed chain by number (the work window and a little more).
    recent: BTreeMap<u64, [u8; 32]>,
    /// Set when the last state read failed: `state` is an older head's, moved to the new
    /// head for the window only, and no seal is signed against it.
    state_unread: bool,
    /// Set when the newest head's parent was not the block we knew: its ancestry (and so
    /// the hash of every work block in the window) is being read; nothing is submitted
    /// until it arrives.
    awaiting_ancestry: bool,
    /// The block time as measured, and when the last head arrived.
    block_time: Duration,
    last_head_at: Option<Instant>,
}

/// Where the run's results come back to it.
pub(super) struct Inbox {
    pub(super) devices: mpsc::UnboundedReceiver<PoolEvent>,
    pub(super) reports: mpsc::UnboundedReceiver<Box<Report>>,
}

/// Consecutive refusals, to give up on what would repeat for ever.
#[derive(Default)]
struct Streaks {
    rejections: u32,
    pool_refusals: u32,
}

/// Everything one run keeps track of.
pub(super) struct Run<C: ChainApi, P: FnMut(TargetEvent)> {
    target: TargetSpec,
    coldkey: PublicKey,
    session: Arc<Session<C>>,
    submitter: Submitter,
    progress: P,
    devices: Devices,
    chain: ChainView,
    /// The difficulty the devices search at.
    difficulty: Difficulty,
    /// The newest head's event, until its state and its retarget time are both known.
    head_report: Option<HeadReport>,
    /// The difficulty, fullness and cap verdict the last head event said.
    last_head_event: Option<(u64, bool, bool)>,
    /// The newest verified hit not yet submitted, or a seal to sign again.
    pending: Option<Sealed>,
    submission: Submission,
    /// The newest head a submission was signed at (at most one per head).
    signed_at: Option<u64>,
    /// A turn that came while the newest head's state was still being read: the seal is
    /// signed once it is known.
    held_turn: Option<Turn>,
    /// Seals on work blocks up to this one can never land (another submission of the hotkey
    /// claimed it, or the chain used it): the devices' hits on them are let go unreported.
    unusable_up_to: Option<u64>,
    streaks: Streaks,
    /// Set once the run must end; it ends when nothing is in flight or in doubt, or when
    /// the wait runs out.
    ending: Option<(Ending, tokio::time::Instant)>,
    /// Boxed, as the state reads: a channel holds a block of 32 messages from the start,
    /// and a farm has thousands of runs.
    reports: mpsc::UnboundedSender<Box<Report>>,
    /// The run's own reads in progress (polled by the run's own loop, not a task each).
    pub(super) reads:
        futures::stream::FuturesUnordered<futures::future::BoxFuture<'static, Box<Read>>>,
}

impl<C: ChainApi, P: FnMut(TargetEvent)> Run<C, P> {
    /// A run on `first` (the state the pre-flight read), with the devices already moved to
    /// its head's challenge, and the inbox its results come back to.
    pub(super) fn start(
        session: Arc<Session<C>>,
        devices: (Devices, mpsc::UnboundedReceiver<PoolEvent>),
        submitter: Submitter,
        target: TargetSpec,
        first: SubnetState,
        progress: P,
    ) -> (Self, Inbox) {
        let head_received = Instant::now();
        let (reports, reports_rx) = mpsc::unbounded_channel();
        let head = first.subnet.head;
        let mut run = Run {
            difficulty: first.effective_difficulty(),
            devices: devices.0,
            head_report: None,
            last_head_event: None,
            coldkey: submitter.public(),
            submitter,
            session,
            progress,
            chain: ChainView {
                newest: head,
                state_unread: false,
                awaiting_ancestry: false,
                recent: BTreeMap::from([(head.number, head.hash)]),
                state: first,
                block_time: DEFAULT_BLOCK_TIME,
                last_head_at: None,
            },
            pending: None,
            submission: Submission::Idle,
            signed_at: None,
            held_turn: None,
            unusable_up_to: None,
            streaks: Streaks::default(),
            ending: None,
            reports,
            reads: futures::stream::FuturesUnordered::new(),
            target,
        };
        let job = run.job_for(head, run.difficulty);
        run.devices.switch(job, head.number, Some(head_received));
        run.head_report = Some(HeadReport {
            number: head.number,
            state: Some((
                run.difficulty.get(),
                run.chain.state.block_is_full(),
                Instant::now(),
            )),
            retarget_ms: None,
        });
        let inbox = Inbox {
            devices: devices.1,
            reports: reports_rx,
        };
        (run, inbox)
    }

    /// Sends `progress`, tagged with this run's target.
    pub(super) fn emit(&mut self, progress: Progress) {
        (self.progress)(TargetEvent {
            target: self.target,
            progress,
        });
    }

    /// Sends the head event if it has both halves; `force` sends it with what it has (a newer
    /// head overtook it).
    pub(super) fn report_head(&mut self, force: bool) {
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
        self.emit_head(report.number, difficulty, full, report.retarget_ms);
    }

    /// Emits a head event when it says something: the devices hash this registration (its
    /// retarget time), or its subnet's state changed for it since the last one (the block
    /// filled or emptied, the difficulty moved by more than 1 % or crossed the target's cap).
    /// A farm's thousands of waiting registrations so stay quiet at each head; the head
    /// itself is said once, by the session's state event.
    fn emit_head(&mut self, number: u64, difficulty: u64, full: bool, retarget_ms: Option<f64>) {
        let allowed = self.target.allows(difficulty);
        let news = match self.last_head_event {
            None => true,
            Some((was, was_full, was_allowed)) => {
                retarget_ms.is_some()
                    || was_full != full
                    || was_allowed != allowed
                    || was.abs_diff(difficulty) > was / 100
            }
        };
        if news || self.devices.assigned() {
            self.last_head_event = Some((difficulty, full, allowed));
            self.emit(Progress::Head {
                number,
                difficulty,
                full,
                retarget_ms,
            });
        }
    }

    /// Whether a head event waits for its retarget time (the run's tick sends it without
    /// one after [`HEAD_REPORT_WAIT`]).
    pub(super) fn head_report_pending(&self) -> bool {
        self.head_report.is_some()
    }

    fn job_for(&self, head: Head, difficulty: Difficulty) -> Job {
        Job::new(
            Challenge {
                netuid: self.target.netuid,
                block_hash: head.hash,
                hotkey: self.target.hotkey,
                coldkey: self.coldkey,
            },
            difficulty,
        )
    }

    fn solving(&self) -> bool {
        self.ending.is_none()
    }

    /// Whether a seal found now could be submitted: not while the run ends, a submission is
    /// in flight or in doubt, the window's hashes are being read again, or the block is
    /// full. A run that cannot use one yields its devices to the other registrations.
    pub(super) fn can_use_seal(&self) -> bool {
        self.solving()
            && matches!(self.submission, Submission::Idle)
            && !self.chain.awaiting_ancestry
            && !self.chain.state.block_is_full()
    }

    /// Tells the share whether this run can use a seal now.
    pub(super) fn publish_readiness(&mut self) {
        let ready = self.can_use_seal();
        self.devices.ready(ready);
    }

    /// The work block of a submission whose outcome is not known yet.
    pub(super) fn in_doubt(&self) -> Option<u64> {
        self.submission.unsettled()
    }

    /// When the wait for a settling submission runs out, while the run ends.
    pub(super) fn settle_deadline(&self) -> Option<tokio::time::Instant> {
        self.ending.as_ref().map(|(_, at)| *at)
    }

    /// Whether the run has been asked to end.
    pub(super) fn is_ending(&self) -> bool {
        self.ending.is_some()
    }

    /// Asks the run to end: at once when nothing is in flight or in doubt, else after the
    /// chain has settled it (bounded by the work block's window plus one block).
    pub(super) fn end(&mut self, ending: Ending) -> Option<Finish> {
        if self.ending.is_some() {
            return None;
        }
        self.devices.stop();
        self.pending = None;
        if matches!(self.submission, Submission::Waiting) {
            self.submission = Submission::Idle; // the turn goes back when it comes
            self.held_turn = None;
        }
        let Some(work_block) = self.in_doubt() else {
            return Some(conclude(ending, None));
        };
        let blocks_left = (work_block + WORK_WINDOW + 1).saturating_sub(self.chain.newest.number);
        let at_most =
            self.chain.block_time * u32::try_from(blocks_left).unwrap_or(u32::MAX) + SETTLE_SLACK;
        self.emit(Progress::Settling {
            work_block,
            at_most,
        });
        self.ending = Some((ending, tokio::time::Instant::now() + at_most));
        None
    }

    /// The run's result now, whatever is in doubt (a second Ctrl-C, or the wait ran out).
    pub(super) fn give_up(&mut self, ending: Option<Ending>) -> Finish {
        let in_doubt = self.in_doubt();
        let ending = ending
            .or_else(|| self.ending.take().map(|(ending, _)| ending))
            .unwrap_or(Ending::Cancelled);
        conclude(ending, in_doubt)
    }

    /// Ends now if the run is ending and nothing is in flight or in doubt any more.
    pub(super) fn settled(&mut self) -> Option<Finish> {
        if self.in_doubt().is_some() {
            return None;
        }
        let (ending, _) = self.ending.take()?;
        Some(conclude(ending, None))
    }

    fn registered(&self, uid: u16, block: Head, work_block: u64) -> Finish {
        Ok(Outcome::Registered {
            uid,
            block,
            work_block,
        })
    }

    /// Asks for the coldkey's turn when a seal waits and can be used now: not twice at one
    /// head, and only for a seal that passes every check now (it is checked again when the
    /// turn comes).
    pub(super) fn try_submit(&mut self) {
        if !self.can_use_seal()
            || self.signed_at == Some(self.chain.newest.number)
            || !self.state_is_current()
        {
            return;
        }
        let Some(sealed) = self.pending else {
            return;
        };
        if let Err(discard) = self.check(&sealed) {
            self.pending = None;
            self.drop_seal(&sealed, discard);
            return;
        }
        self.submission = Submission::Waiting;
        let (submitter, reports) = (self.submitter.clone(), self.reports.clone());
        let (netuid, per_block) = (
            self.target.netuid,
            self.chain.state.subnet.max_registrations_per_block,
        );
        tokio::spawn(async move {
            let turn = submitter.turn(netuid, per_block).await;
            let _ = reports.send(Box::new(Report::Turn(turn)));
        });
    }

    /// Whether the state read is of the newest head (a seal is signed against nothing older).
    fn state_is_current(&self) -> bool {
        self.chain.state.subnet.head == self.chain.newest && !self.chain.state_unread
    }

    /// Every check a seal passes before it is signed, against the newest head and state.
    fn check(&self, sealed: &Sealed) -> Result<(), Discard> {
        let chain = &self.chain;
        check_hit(
            &sealed.found,
            &chain.state,
            chain.newest.number,
            &chain.recent,
        )?;
        if sealed.signatures >= MAX_SIGNATURES_PER_SEAL {
            return Err(Discard::SignaturesSpent {
                work_block: sealed.found.work_block,
                signatures: sealed.signatures,
            });
        }
        let (hotkey, netuid, work_block) = (
            &self.target.hotkey,
            self.target.netuid,
            sealed.found.work_block,
        );
        self.submitter
            .claimable(hotkey, netuid, work_block)
            .map_err(|claimed| Discard::WorkBlockClaimed {
                work_block,
                claimed,
            })
    }

    /// A seal that can no longer land: its claim goes (a later seal may use the block).
    fn drop_seal(&mut self, sealed: &Sealed, discard: Discard) {
        let never = match discard {
            Discard::WorkBlockClaimed { claimed, .. } => Some(claimed),
            Discard::WorkBlockUsed { work_block } => Some(work_block),
            _ => None,
        };
        if let Some(up_to) = never {
            self.unusable_up_to = self.unusable_up_to.max(Some(up_to));
        }
        if sealed.signatures > 0 {
            self.submitter
                .release(&self.target.hotkey, sealed.found.work_block);
        }
        self.emit(Progress::Discarded(discard));
    }

    /// The coldkey's turn came: the seal is checked against the newest state once more and
    /// signed at once, or the turn goes back.
    fn on_turn(&mut self, turn: Result<Turn, SigningStopped>) -> Option<Finish> {
        if !matches!(self.submission, Submission::Waiting) {
            return None; // the run moved on (a registration seen in state, the end)
        }
        let mut turn = match turn {
            Ok(turn) => turn,
            Err(stopped) => {
                self.submission = Submission::Idle;
                return self.end(Ending::Refused(Refused::SigningStopped(stopped)));
            }
        };
        if self.solving() && !self.state_is_current() {
            self.held_turn = Some(turn); // signed when the newest head's state arrives
            return None;
        }
        self.submission = Submission::Idle;
        if !self.can_use_seal() {
            return None;
        }
        let sealed = self.pending.take()?;
        if let Err(discard) = self.check(&sealed) {
            self.drop_seal(&sealed, discard);
            return None;
        }
        let found = sealed.found;
        if let Err(claimed) =
            self.submitter
                .claim(&self.target.hotkey, self.target.netuid, found.work_block)
        {
            let work_block = found.work_block;
            self.drop_seal(
                &sealed,
                Discard::WorkBlockClaimed {
                    work_block,
                    claimed,
                },
            );
            return None;
        }
        let sealed = Sealed {
            found,
            signatures: sealed.signatures + 1,
        };
        let call = PowRegisterCall {
            netuid: self.target.netuid,
            work_block: found.work_block,
            nonce: found.hit.nonce,
            work: found.hit.seal.0,
            hotkey: self.target.hotkey,
        };
        let (client, submitter, reports) = (
            self.session.client(),
            self.submitter.clone(),
            self.reports.clone(),
        );
        let at = self.chain.newest;
        let task = tokio::spawn(async move {
            let outcome = match submitter.nonce(&mut turn, &client).await {
                Err(e) => Err(e),
                Ok(nonce) => {
                    let signing = Signing { nonce, at };
                    let sent = reports.clone();
                    let sent = move || {
                        let _ = sent.send(Box::new(Report::Sent {
                            signer_nonce: nonce,
                        }));
                    };
                    client
                        .submit_pow_register(&call, submitter.coldkey(), signing, sent)
                        .await
                }
            };
            let _ = reports.send(Box::new(Report::Done {
                sealed: Box::new(sealed),
                turn,
                outcome,
            }));
        });
        self.signed_at = Some(at.number);
        self.submission = Submission::InFlight(Box::new(InFlight {
            sealed,
            signer_nonce: None,
            signed_at: at.number,
            checking: false,
            task: task.abort_handle(),
        }));
        None
    }

    /// What came back from a submission's tasks.
    pub(super) fn on_report(&mut self, report: Report) -> Option<Finish> {
        match report {
            Report::Turn(turn) => self.on_turn(turn),
            Report::Sent { signer_nonce } => {
                if let Submission::InFlight(flight) = &mut self.submission {
                    flight.signer_nonce = Some(signer_nonce);
                    let (found, signature) = (flight.sealed.found, flight.sealed.signatures);
                    self.emit(Progress::Submitting {
                        work_block: found.work_block,
                        nonce: found.hit.nonce,
                        signer_nonce,
                        signature,
                    });
                }
                None
            }
            Report::Done {
                sealed,
                turn,
                outcome,
            } => {
                let finish = self.on_result(*sealed, outcome);
                drop(turn);
                finish
            }
            Report::Stranded {
                signer_nonce,
                stranded,
            } => {
                self.on_stranded(signer_nonce, stranded);
                None
            }
        }
    }

    /// Asks whether the submission in flight is stranded, once it has gone
    /// [`HEADS_BEFORE_STRANDED_CHECK`] heads without an outcome.
    fn check_stranded(&mut self) {
        let newest = self.chain.newest.number;
        let Submission::InFlight(flight) = &mut self.submission else {
            return;
        };
        let Some(signer_nonce) = flight.signer_nonce else {
            return;
        };
        if flight.checking || newest < flight.signed_at + HEADS_BEFORE_STRANDED_CHECK {
            return;
        }
        flight.checking = true;
        let (client, submitter, reports) = (
            self.session.client(),
            self.submitter.clone(),
            self.reports.clone(),
        );
        tokio::spawn(async move {
            // A failed read says nothing: the next head asks again.
            let stranded = submitter
                .stranded(signer_nonce, &client)
                .await
                .unwrap_or(false);
            let _ = reports.send(Box::new(Report::Stranded {
                signer_nonce,
                stranded,
            }));
        });
    }

    /// A stranded submission is given up (its task stops following it) and its seal is
    /// signed again with the nonce that fills the gap.
    fn on_stranded(&mut self, signer_nonce: u64, stranded: bool) {
        let Submission::InFlight(flight) = &mut self.submission else {
            return;
        };
        if flight.signer_nonce != Some(signer_nonce) {
            return;
        }
        flight.checking = false;
        if !stranded {
            return;
        }
        flight.task.abort();
        let sealed = flight.sealed;
        self.submission = Submission::Idle;
        self.resign(sealed, Resign::Stranded { signer_nonce });
    }

    /// Queues `sealed` to be signed again (at the next head at the earliest), unless a newer
    /// seal waits already.
    fn resign(&mut self, sealed: Sealed, why: Resign) {
        let work_block = sealed.found.work_block;
        self.emit(Progress::Resigning { work_block, why });
        match self.pending {
            Some(newer) if newer.found.work_block > work_block => {
                self.drop_seal(&sealed, Discard::Superseded { work_block });
            }
            _ => self.pending = Some(sealed),
        }
    }

    /// Measures the block time from the arrival of heads (the share plans by it).
    fn time_block(&mut self, received: Instant) {
        if let Some(last) = self.chain.last_head_at.replace(received) {
            let seen = received
                .saturating_duration_since(last)
                .clamp(Duration::from_millis(50), HEAD_SILENCE);
            self.chain.block_time = (self.chain.block_time * 3 + seen) / 4;
            self.devices.block_time(self.chain.block_time);
        }
    }

    /// Whether the run follows every head as it arrives: the devices hash it, and a new
    /// head must move them at once. The others (a farm's thousands of waiting
    /// registrations) learn of each head with its state, from the session's read.
    pub(super) fn follows_heads(&self) -> bool {
        self.solving() && self.devices.assigned()
    }

    /// A new best head: devices move to it at once; its state comes with the session's read
    /// of it (and its ancestry is read when its parent is not the block the run knew).
    pub(super) fn on_head(&mut self, new: NewHead, received: Instant) {
        let head = new.head;
        let chain = &mut self.chain;
        if chain.recent.get(&head.number) == Some(&head.hash) && chain.state.subnet.head == head {
            return; // the head we already work on (subscriptions start with it)
        }
        // A head that arrived before the newest one the run follows (its read finished
        // late, or a head event waited in a channel) is not the chain's best any more:
        // moving back to it would hash, and sign, on a block a re-organisation left.
        if chain.last_head_at.is_some_and(|newest| received <= newest) {
            return;
        }
        self.time_block(received);
        let chain = &mut self.chain;
        // A parent we did not know means a re-organisation (or a gap): the whole window is
        // read again, as it is until an ancestry read succeeds.
        let parent_known = !chain.awaiting_ancestry
            && (head.number == 0 || chain.recent.get(&(head.number - 1)) == Some(&new.parent));
        chain.awaiting_ancestry |= !parent_known;
        chain.recent.insert(head.number, head.hash);
        chain.recent.retain(|&n, _| n <= head.number);
        while chain.recent.len() > 64 {
            chain.recent.pop_first();
        }
        let fresh = chain.newest != head;
        chain.newest = head;
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
        if !parent_known {
            self.read_ancestry(new);
        }
    }

    /// The session's read at a head: the head itself for a run that does not follow heads
    /// (or has not seen this one yet), and the state the run judges it by.
    pub(super) fn on_head_read(&mut self, read: &HeadRead) -> Option<Finish> {
        let head = read.new.head;
        let chain = &self.chain;
        if head.number >= chain.newest.number && chain.recent.get(&head.number) != Some(&head.hash)
        {
            self.on_head(read.new, read.received);
        }
        let state = match &read.snapshot {
            Ok(snapshot) => {
                let (netuid, hotkey) = (self.target.netuid, &self.target.hotkey);
                match snapshot.subnet_state(netuid, hotkey, Some(&self.coldkey)) {
                    Some(state) => Ok(state),
                    // Watched only since the read started: the run reads its own.
                    None => {
                        self.read_state(head);
                        return None;
                    }
                }
            }
            Err(e) => Err(e.clone()),
        };
        self.on_state(head, state)
    }

    /// Reads the blocks from `new` back over the work window in the background (the walk
    /// stops at a block whose hash this run already has right); they come back as a
    /// [`Read::Ancestry`].
    fn read_ancestry(&mut self, new: NewHead) {
        let session = self.session.clone();
        let known = self.chain.recent.clone();
        self.reads.push(Box::pin(async move {
            let head = new.head;
            let from = head.number.saturating_sub(WORK_WINDOW + 1);
            let known = |n: u64, hash: &[u8; 32]| known.get(&n) == Some(hash);
            let blocks = session.ancestry(new, from, known).await;
            Box::new(Read::Ancestry { head, blocks })
        }));
    }

    /// Reads the state at `head` in the background; it comes back as a [`Read::State`].
    fn read_state(&mut self, head: Head) {
        let session = self.session.clone();
        let (netuid, hotkey, coldkey) = (self.target.netuid, self.target.hotkey, self.coldkey);
        self.reads.push(Box::pin(async move {
            let state = session
                .subnet_state(head, netuid, &hotkey, Some(&coldkey))
                .await;
            Box::new(Read::State { head, state })
        }));
    }

    /// A read the run made itself.
    pub(super) fn on_read(&mut self, read: Read) -> Option<Finish> {
        match read {
            Read::Ancestry { head, blocks } => {
                self.on_ancestry(head, blocks);
                None
            }
            Read::State { head, state } => self.on_state(head, state),
        }
    }

    /// The blocks of `head`'s chain over the work window.
    fn on_ancestry(&mut self, head: Head, blocks: Result<Vec<Head>, ChainError>) {
        let newest = head == self.chain.newest;
        match blocks {
            Ok(blocks) => {
                for block in blocks {
                    self.chain.recent.insert(block.number, block.hash);
                }
                if newest {
                    self.chain.awaiting_ancestry = false;
                }
            }
            // Without the ancestry the window's hashes are unknown: keep waiting (the next
            // head retries) rather than submit a seal on an orphaned block.
            Err(e) if newest => {
                self.emit(Progress::ReadFailed(ReadFailure::Ancestry(e.to_string())))
            }
            Err(_) => {}
        }
    }

    /// The state at a head: our registration, a settled doubt, refusals, the difficulty.
    fn on_state(&mut self, head: Head, state: Result<SubnetState, ChainError>) -> Option<Finish> {
        let newest = head == self.chain.newest;
        if !newest && head.number <= self.chain.state.subnet.head.number {
            return None; // an older read that arrived late
        }
        if self.chain.recent.get(&head.number) != Some(&head.hash) {
            return None; // a block off the chain the run follows (a re-organisation left it)
        }
        match state {
            Ok(state) => self.chain.state = state,
            Err(e) => {
                // Keep the last state but move its head, so seals on the new head are
                // judged against the right window; nothing is signed on it (the next head
                // reads again), and a turn held for it goes back.
                self.chain.state.subnet.head = head;
                self.chain.state_unread = true;
                if self.held_turn.take().is_some() {
                    self.submission = Submission::Idle;
                }
                self.emit(Progress::ReadFailed(ReadFailure::State(e.to_string())));
                return None;
            }
        }
        self.chain.state_unread = false;
        if let Some(finish) = self.judge_state() {
            return Some(finish);
        }
        self.follow_difficulty();
        self.report_state(head);
        match self.held_turn.take() {
            Some(turn) => self.on_turn(Ok(turn)),
            None => None,
        }
    }

    /// What the new state says about the hotkey and the submission in doubt.
    fn judge_state(&mut self) -> Option<Finish> {
        let state = &self.chain.state;
        if let Some(uid) = state.hotkey.uid {
            if state.hotkey.owner == Some(self.coldkey) {
                match &self.submission {
                    // Its own outcome says whether it was this one (the events of the block
                    // that included it).
                    Submission::InFlight(_) => return None,
                    Submission::InDoubt(doubt) if doubt_registered(state, &self.coldkey, doubt) => {
                        let work_block = doubt.work_block;
                        return Some(self.registered(uid, state.subnet.head, work_block));
                    }
                    // Another process of this coldkey (or an earlier run) registered it.
                    _ => return Some(Ok(Outcome::RegisteredElsewhere { uid })),
                }
            }
            // Our submission (if one is in doubt) cannot land on a registered hotkey.
            let refused = Refused::TakenDuringRun {
                netuid: self.target.netuid,
                uid,
            };
            let in_doubt = None;
            return Some(Ok(Outcome::Refused { refused, in_doubt }));
        }
        // The hotkey is not registered at this head: a doubt the chain has now settled.
        if let Submission::InDoubt(doubt) = self.submission {
            if let Some(ended) = doubt.settled_by(state) {
                // It cannot land any more: its work block is free for another seal.
                self.submission = Submission::Idle;
                self.submitter
                    .release(&self.target.hotkey, doubt.work_block);
                self.emit(Progress::NotRegistered(ended));
            }
        }
        self.check_stranded();
        let refusal = self.chain.state.refusal(self.target.netuid, &self.coldkey);
        refusal.and_then(|refusal| self.end(Ending::Refused(refusal.into())))
    }

    /// Moves the devices to a new difficulty when it changed by more than 1 %: it decays a
    /// little every block, and restarting the devices for that is not worth it (found seals
    /// are re-checked against the latest value anyway).
    fn follow_difficulty(&mut self) {
        if !self.solving() {
            return;
        }
        let latest = self.chain.state.effective_difficulty();
        if latest.get().abs_diff(self.difficulty.get()) > self.difficulty.get() / 100 {
            let job = self.job_for(self.chain.newest, latest);
            self.devices.switch(job, self.chain.newest.number, None);
        }
        self.difficulty = latest;
    }

    /// The head event's state half.
    fn report_state(&mut self, head: Head) {
        let state = &self.chain.state;
        let half = (
            state.effective_difficulty().get(),
            state.block_is_full(),
            Instant::now(),
        );
        match &mut self.head_report {
            Some(report) if report.number == head.number => {
                report.state = Some(half);
                // A registration the devices do not hash has no retarget time to wait for.
                let assigned = self.devices.assigned();
                self.report_head(!assigned);
            }
            _ => self.emit_head(head.number, half.0, half.1, None),
        }
    }

    /// A submission's outcome.
    fn on_result(
        &mut self,
        sealed: Sealed,
        outcome: Result<SubmitOutcome, ChainError>,
    ) -> Option<Finish> {
        if !matches!(self.submission, Submission::InFlight(_)) {
            return None; // given up as stranded, or the run moved on
        }
        self.submission = Submission::Idle;
        let found = sealed.found;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                // Nothing reached a node: the seal waits for the next head, unsigned.
                let error = e.to_string();
                self.emit(Progress::NotRegistered(NotRegistered::NotSent { error }));
                let unsent = Sealed {
                    signatures: sealed.signatures - 1,
                    ..sealed
                };
                if self.pending.is_none() {
                    self.pending = Some(unsent);
                }
                return None;
            }
        };
        match &outcome {
            SubmitOutcome::Refused(refusal) => {
                if let Some(stopped) = self.submitter.refused(&refusal.to_string()) {
                    self.submitter
                        .release(&self.target.hotkey, found.work_block);
                    return self.end(Ending::Refused(Refused::SigningStopped(stopped)));
                }
            }
            _ => self.submitter.taken(),
        }
        match outcome {
            SubmitOutcome::Registered { uid, block } => {
                Some(self.registered(uid, block, found.work_block))
            }
            SubmitOutcome::Unknown { reason, nonce } => {
                let work_block = found.work_block;
                self.submission = Submission::InDoubt(Doubt { work_block, nonce });
                self.emit(Progress::StatusLost { work_block, reason });
                None
            }
            // The seal does not depend on the nonce, nor on who filled the block: it is signed
            // again while it can land.
            SubmitOutcome::Refused(PoolRefusal::NonceRace(refusal)) => {
                self.submitter.raced();
                self.resign(sealed, Resign::NonceRace(refusal));
                None
            }
            SubmitOutcome::Dropped { reason, .. } => {
                self.resign(sealed, Resign::Dropped(reason));
                None
            }
            SubmitOutcome::Failed(error) if error == "TooManyRegistrationsThisBlock" => {
                self.streaks = Streaks::default();
                self.resign(sealed, Resign::BlockFull);
                None
            }
            SubmitOutcome::Refused(PoolRefusal::Custom(tx_pool::BAD_REQUEST)) => {
                self.streaks.rejections = 0;
                self.streaks.pool_refusals += 1;
                if self.streaks.pool_refusals >= MAX_POOL_REFUSALS_IN_A_ROW {
                    self.submitter
                        .release(&self.target.hotkey, found.work_block);
                    let count = MAX_POOL_REFUSALS_IN_A_ROW;
                    return self.end(Ending::Refused(Refused::OpaqueRefusals { count }));
                }
                self.resign(sealed, Resign::PoolRefused);
                None
            }
            outcome => {
                self.submitter
                    .release(&self.target.hotkey, found.work_block);
                match is_fatal(&outcome) {
                    Some(refused) => self.end(Ending::Refused(refused)),
                    None => self.not_registered(outcome),
                }
            }
        }
    }

    /// A submission the chain did not take, for a reason a later seal may pass: counted
    /// towards giving up on what repeats for ever.
    fn not_registered(&mut self, outcome: SubmitOutcome) -> Option<Finish> {
        let ended = match outcome {
            SubmitOutcome::Failed(error) => {
                self.streaks = Streaks::default();
                NotRegistered::Failed { error }
            }
            SubmitOutcome::Refused(refusal @ PoolRefusal::Custom(_)) => {
                self.streaks.rejections = 0;
                NotRegistered::Refused(refusal)
            }
            SubmitOutcome::Refused(refusal) => {
                self.streaks.rejections += 1;
                if self.streaks.rejections >= MAX_REJECTIONS_IN_A_ROW {
                    let (count, last) = (MAX_REJECTIONS_IN_A_ROW, refusal);
                    return self.end(Ending::Refused(Refused::Rejected { count, last }));
                }
                NotRegistered::Refused(refusal)
            }
            SubmitOutcome::Registered { .. }
            | SubmitOutcome::Unknown { .. }
            | SubmitOutcome::Dropped { .. } => return None,
        };
        self.emit(Progress::NotRegistered(ended));
        None
    }

    /// A hit, a fault or a retarget from the device pool (through the lease).
    pub(super) fn on_device(&mut self, event: PoolEvent) -> Option<Finish> {
        match event {
            PoolEvent::Hit { job, hit, .. } => {
                let found = Found {
                    job: job.job,
                    work_block: job.work_block,
                    hit,
                };
                // Keep the newest work block: it stays valid longest.
                let newer = self
                    .pending
                    .as_ref()
                    .is_none_or(|p| p.found.work_block < found.work_block);
                let usable = self.unusable_up_to.is_none_or(|n| found.work_block > n);
                if self.solving() && newer && usable {
                    self.pending = Some(Sealed {
                        found,
                        signatures: 0,
                    });
                }
                None
            }
            // The fault itself is reported on the device stream; a run with no device left
            // ends.
            PoolEvent::Fault { device, reason } if self.devices.alive() == 0 => {
                let name = self.devices.name(device);
                self.end(Ending::Devices(format!("{name}: {reason}")))
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
            PoolEvent::Fault { .. } | PoolEvent::Exhausted { .. } => None,
        }
    }

    /// Stops the run's hashing for good.
    pub(super) fn stop(&mut self) {
        self.devices.stop();
    }
}

/// The run's result for `ending`, with `in_doubt` when a submission's fate is unknown.
fn conclude(ending: Ending, in_doubt: Option<u64>) -> Finish {
    match ending {
        Ending::Cancelled => Ok(Outcome::Cancelled { in_doubt }),
        Ending::TimedOut => Ok(Outcome::TimedOut { in_doubt }),
        Ending::Refused(refused) => Ok(Outcome::Refused { refused, in_doubt }),
        Ending::Devices(last_fault) => Err(RegisterError::Devices {
            last_fault,
            in_doubt,
        }),
    }
}
