//! The registration loop: follow the chain's best heads, keep every device on the newest
//! challenge, and submit a seal the moment one is found, re-verified on the CPU against the
//! latest difficulty and the chain's five-block work window.
//!
//! The devices never wait for the network: a new head switches the search to the new
//! challenge as soon as its header arrives; the subnet's state (difficulty, registrations in
//! the block, the hotkey's uid) is read right after and only the submission waits for it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::backend::{Backend, Hit, Job, NonceRange, SearchControl, SearchOutcome};
use crate::chain::client::is_nonce_race;
use crate::chain::{ChainClient, ChainError, Head, PowRegisterCall, SubmitOutcome, SubnetState};
use crate::challenge::Challenge;
use crate::difficulty::Difficulty;
use crate::keys::PublicKey;
use crate::seal::reference_seal;
use crate::wallet::Coldkey;

/// How many blocks back a work block may be when the pool checks it (at head + 1).
pub const WORK_WINDOW: u64 = 5;

/// With no new block for this long the connection is treated as lost (five 12 s blocks).
const HEAD_SILENCE: Duration = Duration::from_secs(60);

/// Node rejections (other than nonce races) in a row before giving up.
const MAX_REJECTIONS_IN_A_ROW: u32 = 3;

/// Pool refusals with code 255 in a row before giving up: the rules regpow checks itself
/// pass, so the refusal is one it cannot see (and would repeat for ever).
const MAX_POOL_REFUSALS_IN_A_ROW: u32 = 20;

/// What to register.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Subnet.
    pub netuid: u16,
    /// Hotkey to register.
    pub hotkey: PublicKey,
    /// Give up after this long (`--max-seconds`).
    pub max_duration: Option<Duration>,
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
    },
    /// Hashrate over the last interval, per device (in the backend's device order).
    Hashrate {
        /// `(device name, seals per second)`.
        devices: Vec<(String, f64)>,
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
    /// A found seal was dropped before submission (stale work block, difficulty rose, …).
    Discarded {
        /// Why.
        reason: String,
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

/// How a registration run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `NeuronRegistered` for the hotkey.
    Registered {
        /// Subnet.
        netuid: u16,
        /// The uid taken.
        uid: u16,
        /// The hotkey.
        hotkey: PublicKey,
        /// The block that included it.
        block: Head,
        /// The work block of the winning seal.
        work_block: u64,
    },
    /// The chain refuses this registration outright (one line saying why).
    Refused(String),
    /// `max_duration` passed without a registration.
    TimedOut {
        /// Seals computed.
        hashes: u64,
    },
    /// The caller's cancel future completed (Ctrl-C).
    Cancelled,
}

/// Why the loop could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The chain could not be reached or used.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A device failed.
    #[error("{0}")]
    Device(String),
}

/// A hit with the job it belongs to.
struct Found {
    job: Job,
    work_block: u64,
    hit: Hit,
}

/// Runs the backend on one job at a time in a thread, switching jobs on demand; hits come
/// back on a channel. Hash counts survive job switches for the hashrate.
struct Searcher {
    backend: Arc<dyn Backend>,
    devices: Vec<String>,
    control: Option<Arc<SearchControl>>,
    retired: Vec<u64>,
    hits: mpsc::UnboundedSender<Result<Found, String>>,
}

impl Searcher {
    fn new(backend: Arc<dyn Backend>, hits: mpsc::UnboundedSender<Result<Found, String>>) -> Self {
        let devices: Vec<String> = backend.devices().into_iter().map(|d| d.name).collect();
        Self {
            retired: vec![0; devices.len()],
            devices,
            backend,
            control: None,
            hits,
        }
    }

    /// Stops the current search (it returns within a batch) and starts `job` from a random
    /// nonce, wrapping around, until stopped; every hit is sent and the search goes on.
    fn switch(&mut self, job: Job, work_block: u64) {
        self.stop();
        let control = Arc::new(SearchControl::new());
        self.control = Some(control.clone());
        let backend = self.backend.clone();
        let hits = self.hits.clone();
        let start = rand::random::<u64>();
        std::thread::spawn(move || {
            let mut next = Some(start);
            let mut wrapped = false;
            while let Some(from) = next {
                let end = if wrapped {
                    start.wrapping_sub(1)
                } else {
                    u64::MAX
                };
                let Some(range) = NonceRange::new(from, end) else {
                    return;
                };
                match backend.search(&job, range, &control) {
                    Ok(SearchOutcome::Found(hit)) => {
                        if hits
                            .send(Ok(Found {
                                job,
                                work_block,
                                hit,
                            }))
                            .is_err()
                        {
                            return;
                        }
                        next = hit.nonce.checked_add(1).filter(|&n| n <= end);
                    }
                    Ok(SearchOutcome::Stopped) => return,
                    Ok(SearchOutcome::Exhausted) => next = None,
                    Err(e) => {
                        let _ = hits.send(Err(e.to_string()));
                        return;
                    }
                }
                if next.is_none() && !wrapped && start > 0 {
                    wrapped = true;
                    next = Some(0);
                }
            }
        });
    }

    fn stop(&mut self) {
        if let Some(old) = self.control.take() {
            old.stop();
            for (i, retired) in self.retired.iter_mut().enumerate() {
                *retired += old.device_hashes(i);
            }
        }
    }

    /// Seals computed so far, per device.
    fn hashes(&self) -> Vec<u64> {
        self.retired
            .iter()
            .enumerate()
            .map(|(i, r)| r + self.control.as_ref().map_or(0, |c| c.device_hashes(i)))
            .collect()
    }
}

impl Drop for Searcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The checks a found seal passes before it is submitted: the reference seal on the CPU,
/// the latest effective difficulty, the work window at the latest head, the hotkey's last
/// PoW block, and the work block's hash as the chain has it now.
fn check_hit(
    found: &Found,
    state: &SubnetState,
    recent: &BTreeMap<u64, [u8; 32]>,
) -> Result<(), String> {
    let seal = reference_seal(&found.job.prefix, found.hit.nonce);
    if seal != found.hit.seal {
        return Err(format!(
            "seal of nonce {} did not re-verify on the CPU",
            found.hit.nonce
        ));
    }
    let difficulty = state.effective_difficulty();
    if !seal.meets(&difficulty.target()) {
        return Err(format!(
            "difficulty rose to {} before the seal could be submitted",
            difficulty.get()
        ));
    }
    let checked_at = state.head.number + 1;
    if found.work_block >= checked_at || checked_at - found.work_block > WORK_WINDOW {
        return Err(format!(
            "work block {} is outside the chain's window at block {}",
            found.work_block, checked_at
        ));
    }
    if state
        .last_pow_block
        .is_some_and(|last| last >= found.work_block)
    {
        return Err("the hotkey already has a PoW registration at or after this work block".into());
    }
    if recent
        .get(&found.work_block)
        .is_some_and(|hash| *hash != found.job.challenge.block_hash)
    {
        return Err(format!("block {} was re-organised", found.work_block));
    }
    Ok(())
}

/// What to do after a submission that did not register.
fn is_fatal(outcome: &SubmitOutcome) -> Option<String> {
    match outcome {
        SubmitOutcome::Refused(3) => Some("the chain says the subnet does not exist".into()),
        SubmitOutcome::Refused(25) => {
            Some("the chain says the hotkey belongs to another coldkey".into())
        }
        SubmitOutcome::Failed(name) => match name.as_str() {
            "TooManyRegistrationsThisBlock"
            | "InvalidWorkBlock"
            | "InvalidDifficulty"
            | "InvalidSeal" => None,
            other => Some(format!("the chain refused the registration: {other}")),
        },
        _ => None,
    }
}

/// Connects with retries: `attempts` tries with doubling waits from one second.
async fn reconnect(
    url: &str,
    progress: &mut impl FnMut(Progress),
    reason: String,
) -> Result<ChainClient, ChainError> {
    let mut wait = Duration::from_secs(1);
    let mut reason = reason;
    for _ in 0..8 {
        progress(Progress::Reconnecting {
            reason: reason.clone(),
            retry_in: wait,
        });
        tokio::time::sleep(wait).await;
        match ChainClient::connect(url).await {
            Ok(client) => {
                progress(Progress::Reconnected);
                return Ok(client);
            }
            Err(e @ (ChainError::NoPowRegister { .. } | ChainError::Runtime(_))) => return Err(e),
            Err(e) => reason = e.to_string(),
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
    Err(ChainError::Unreachable(format!("{url}: {reason}")))
}

/// Registers `plan.hotkey` on `plan.netuid`, signing with `coldkey`, searching with
/// `backend`. The first state check happens before any hashing: a registration the chain
/// would refuse ends here with [`Outcome::Refused`]. `cancel` completing stops the run.
pub async fn register(
    client: ChainClient,
    backend: Arc<dyn Backend>,
    coldkey: Arc<Coldkey>,
    plan: Plan,
    mut progress: impl FnMut(Progress),
    cancel: impl Future<Output = ()>,
) -> Result<Outcome, RegisterError> {
    let started = Instant::now();
    let url = client.url().to_string();
    let coldkey_public = coldkey.public();
    let head = client.best_head().await?;
    let mut state = client.subnet_state(head, plan.netuid, &plan.hotkey).await?;
    if let Some(why) = state.refusal(plan.netuid, &coldkey_public) {
        return Ok(Outcome::Refused(why));
    }

    let (hit_tx, mut hits) = mpsc::unbounded_channel();
    let mut searcher = Searcher::new(backend, hit_tx);
    let job_for = |head: Head, difficulty: Difficulty| {
        Job::new(
            Challenge {
                netuid: plan.netuid,
                block_hash: head.hash,
                hotkey: plan.hotkey,
                coldkey: coldkey_public,
            },
            difficulty,
        )
    };
    let mut difficulty = state.effective_difficulty();
    searcher.switch(job_for(head, difficulty), head.number);
    progress(Progress::Head {
        number: head.number,
        difficulty: difficulty.get(),
        full: state.block_is_full(),
    });

    let mut client = client;
    let mut heads = client.follow_heads().await?.boxed();
    let mut recent: BTreeMap<u64, [u8; 32]> = BTreeMap::from([(head.number, head.hash)]);
    let mut pending: Option<Found> = None;
    let (result_tx, mut results) =
        mpsc::unbounded_channel::<(Found, Result<SubmitOutcome, ChainError>)>();
    let mut in_flight = false;
    // Work blocks of seals we submitted: a uid that appears for our hotkey with one of these
    // as its LastPowRegistrationBlock and our coldkey as owner is our registration, even if
    // the submission's own status was lost.
    let mut submitted: std::collections::BTreeSet<u64> = Default::default();
    let mut rejections_in_a_row = 0;
    let mut pool_refusals_in_a_row = 0;
    let silence = tokio::time::sleep(HEAD_SILENCE);
    tokio::pin!(silence);
    let mut lost: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_hashes = searcher.hashes();
    let mut last_tick = Instant::now();
    let deadline = plan
        .max_duration
        .map(|d| tokio::time::Instant::from_std(started + d));
    let timeout = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timeout);
    tokio::pin!(cancel);
    // Every way out stops the devices and reports the final count first.
    macro_rules! finish {
        ($outcome:expr) => {{
            searcher.stop();
            let outcome = $outcome;
            progress(Progress::Done {
                hashes: searcher.hashes().iter().sum(),
            });
            return Ok(outcome);
        }};
    }

    loop {
        // Submit the best pending hit when nothing is in flight and the block has room.
        if !in_flight && !state.block_is_full() {
            if let Some(found) = pending.take() {
                match check_hit(&found, &state, &recent) {
                    Err(reason) => progress(Progress::Discarded { reason }),
                    Ok(()) => {
                        progress(Progress::Submitting {
                            work_block: found.work_block,
                            nonce: found.hit.nonce,
                        });
                        in_flight = true;
                        submitted.insert(found.work_block);
                        let at = state.head;
                        let client = client.clone();
                        let coldkey = coldkey.clone();
                        let tx = result_tx.clone();
                        let call = PowRegisterCall {
                            netuid: plan.netuid,
                            work_block: found.work_block,
                            nonce: found.hit.nonce,
                            work: found.hit.seal.0,
                            hotkey: plan.hotkey,
                        };
                        tokio::spawn(async move {
                            let outcome = client.submit_pow_register(&call, &coldkey, at).await;
                            let _ = tx.send((found, outcome));
                        });
                    }
                }
            }
        }

        tokio::select! {
            _ = &mut cancel => {
                finish!(Outcome::Cancelled);
            }
            _ = &mut timeout => {
                finish!(Outcome::TimedOut { hashes: searcher.hashes().iter().sum() });
            }
            _ = tick.tick() => {
                let now = Instant::now();
                let hashes = searcher.hashes();
                let secs = now.duration_since(last_tick).as_secs_f64().max(1e-3);
                let devices: Vec<(String, f64)> = searcher
                    .devices
                    .iter()
                    .zip(hashes.iter().zip(&last_hashes))
                    .map(|(name, (now, before))| (name.clone(), (now - before) as f64 / secs))
                    .collect();
                let total = devices.iter().map(|(_, r)| r).sum();
                progress(Progress::Hashrate { devices, total, hashes: hashes.iter().sum() });
                last_hashes = hashes;
                last_tick = now;
            }
            found = hits.recv() => match found {
                Some(Ok(found)) => {
                    // Keep the newest work block: it stays valid longest.
                    if pending.as_ref().is_none_or(|p| p.work_block <= found.work_block) {
                        pending = Some(found);
                    }
                }
                Some(Err(fault)) => return Err(RegisterError::Device(fault)),
                None => return Err(RegisterError::Device("search stopped".into())),
            },
            result = results.recv() => {
                let Some((found, outcome)) = result else { continue };
                in_flight = false;
                match outcome {
                    Ok(SubmitOutcome::Registered { uid, block }) => {
                        finish!(Outcome::Registered {
                            netuid: plan.netuid,
                            uid,
                            hotkey: plan.hotkey,
                            block,
                            work_block: found.work_block,
                        });
                    }
                    Ok(outcome) => {
                        if let Some(why) = is_fatal(&outcome) {
                            finish!(Outcome::Refused(why));
                        }
                        let reason = match &outcome {
                            SubmitOutcome::Failed(name) => format!("included but failed: {name}"),
                            SubmitOutcome::Refused(code) => format!("refused by the pool (custom code {code})"),
                            SubmitOutcome::Rejected(message) => message.clone(),
                            SubmitOutcome::Registered { .. } => unreachable!(),
                        };
                        match &outcome {
                            // Our previous attempt used the nonce: the next signs with a fresh one.
                            SubmitOutcome::Rejected(m) if is_nonce_race(m) => {}
                            SubmitOutcome::Rejected(_) => {
                                rejections_in_a_row += 1;
                                if rejections_in_a_row >= MAX_REJECTIONS_IN_A_ROW {
                                    finish!(Outcome::Refused(format!(
                                        "the node rejected {MAX_REJECTIONS_IN_A_ROW} submissions in a row: {reason}"
                                    )));
                                }
                            }
                            SubmitOutcome::Refused(_) => {
                                rejections_in_a_row = 0;
                                pool_refusals_in_a_row += 1;
                                if pool_refusals_in_a_row >= MAX_POOL_REFUSALS_IN_A_ROW {
                                    finish!(Outcome::Refused(format!(
                                        "the pool refused {MAX_POOL_REFUSALS_IN_A_ROW} seals in a row \
                                         (custom code 255: a rule regpow cannot check beforehand, \
                                         e.g. a system account or the coldkey's hotkey limit)"
                                    )));
                                }
                            }
                            _ => {
                                rejections_in_a_row = 0;
                                pool_refusals_in_a_row = 0;
                            }
                        }
                        progress(Progress::NotRegistered { reason });
                    }
                    Err(e) => progress(Progress::NotRegistered { reason: e.to_string() }),
                }
            }
            _ = &mut silence => {
                lost = Some(format!("no new block for {}s", HEAD_SILENCE.as_secs()));
            }
            head = heads.next() => match head.unwrap_or_else(|| Err(ChainError::Rpc("head subscription ended".into()))) {
                Ok(head) => {
                    silence.as_mut().reset(tokio::time::Instant::now() + HEAD_SILENCE);
                    if recent.get(&head.number) == Some(&head.hash) {
                        continue; // the head we already work on (subscriptions start with it)
                    }
                    recent.insert(head.number, head.hash);
                    while recent.len() > 64 {
                        recent.pop_first();
                    }
                    // Devices move to the new challenge before any storage is read.
                    searcher.switch(job_for(head, difficulty), head.number);
                    match client.subnet_state(head, plan.netuid, &plan.hotkey).await {
                        Ok(new_state) => {
                            state = new_state;
                            // Our own submission shows up here before its result does.
                            if let (Some(uid), false) = (state.uid, in_flight) {
                                let ours = state.owner == Some(coldkey_public)
                                    && state.last_pow_block.is_some_and(|b| submitted.contains(&b));
                                if ours {
                                    finish!(Outcome::Registered {
                                        netuid: plan.netuid,
                                        uid,
                                        hotkey: plan.hotkey,
                                        block: state.head,
                                        work_block: state.last_pow_block.unwrap_or_default(),
                                    });
                                }
                                finish!(Outcome::Refused(format!(
                                    "the hotkey became registered on subnet {} (uid {uid}) by another submission",
                                    plan.netuid
                                )));
                            }
                            if state.uid.is_none() {
                                if let Some(why) = state.refusal(plan.netuid, &coldkey_public) {
                                    finish!(Outcome::Refused(why));
                                }
                            }
                            // The difficulty decays a little every block; restarting the
                            // devices for that is not worth it (found seals are re-checked
                            // against the latest value anyway). A real change is.
                            let latest = state.effective_difficulty();
                            if latest.get().abs_diff(difficulty.get()) > difficulty.get() / 100 {
                                searcher.switch(job_for(head, latest), head.number);
                            }
                            difficulty = latest;
                            progress(Progress::Head {
                                number: head.number,
                                difficulty: difficulty.get(),
                                full: state.block_is_full(),
                            });
                        }
                        Err(e) => {
                            // Keep the last state but move its head, so seals on the new head
                            // are judged against the right window.
                            state.head = head;
                            progress(Progress::NotRegistered { reason: e.to_string() });
                        }
                    }
                }
                Err(e) => lost = Some(e.to_string()),
            },
        }

        if let Some(reason) = lost.take() {
            // Reconnecting can take minutes: Ctrl-C and the time bound still apply.
            enum Interrupted {
                Cancel,
                Timeout,
            }
            let attempt = tokio::select! {
                result = reconnect(&url, &mut progress, reason) => Ok(result),
                _ = &mut cancel => Err(Interrupted::Cancel),
                _ = &mut timeout => Err(Interrupted::Timeout),
            };
            match attempt {
                Ok(result) => {
                    client = result?;
                    heads = client.follow_heads().await?.boxed();
                    silence
                        .as_mut()
                        .reset(tokio::time::Instant::now() + HEAD_SILENCE);
                }
                Err(Interrupted::Cancel) => finish!(Outcome::Cancelled),
                Err(Interrupted::Timeout) => {
                    finish!(Outcome::TimedOut {
                        hashes: searcher.hashes().iter().sum()
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOTKEY: PublicKey = PublicKey([0x11; 32]);
    const COLDKEY: PublicKey = PublicKey([0x22; 32]);

    fn state(head: u64, difficulty: u64) -> SubnetState {
        SubnetState::sample(
            Head {
                number: head,
                hash: [head as u8; 32],
            },
            difficulty,
        )
    }

    /// A real hit at `difficulty` on work block `work_block` (hash = its number repeated).
    fn found(work_block: u64, difficulty: u64) -> Found {
        let job = Job::new(
            Challenge {
                netuid: 1,
                block_hash: [work_block as u8; 32],
                hotkey: HOTKEY,
                coldkey: COLDKEY,
            },
            Difficulty::new(difficulty).unwrap(),
        );
        let nonce = (0u64..)
            .find(|&n| reference_seal(&job.prefix, n).meets(&job.target))
            .unwrap();
        Found {
            job,
            work_block,
            hit: Hit {
                nonce,
                seal: reference_seal(&job.prefix, nonce),
            },
        }
    }

    fn recent(upto: u64) -> BTreeMap<u64, [u8; 32]> {
        (0..=upto).map(|n| (n, [n as u8; 32])).collect()
    }

    #[test]
    fn a_good_hit_passes_and_each_stale_or_wrong_one_is_dropped() {
        let hit = found(10, 8);
        assert_eq!(check_hit(&hit, &state(10, 8), &recent(10)), Ok(()));
        // Head 14: checked at 15, 15 − 10 = 5 blocks back: still inside the window.
        assert_eq!(check_hit(&hit, &state(14, 8), &recent(14)), Ok(()));

        let expect = |result: Result<(), String>, words: &str| {
            let why = result.unwrap_err();
            assert!(why.contains(words), "{why}");
        };
        expect(
            check_hit(&hit, &state(15, 8), &recent(15)),
            "outside the chain's window",
        );
        expect(
            check_hit(&hit, &state(9, 8), &recent(9)),
            "outside the chain's window",
        );

        // The difficulty rose past what the seal meets.
        let hard = (1u64..)
            .map(|k| 8 * k)
            .find(|&d| !hit.hit.seal.meets(&Difficulty::new(d).unwrap().target()))
            .unwrap();
        expect(
            check_hit(&hit, &state(11, hard), &recent(11)),
            "difficulty rose",
        );

        // A seal that does not re-verify on the CPU (a faulty device).
        let mut bad = found(10, 8);
        bad.hit.seal.0[0] ^= 1;
        expect(
            check_hit(&bad, &state(10, 8), &recent(10)),
            "did not re-verify",
        );

        // The work block was re-organised away.
        let mut reorged = recent(11);
        reorged.insert(10, [0xEE; 32]);
        expect(check_hit(&hit, &state(11, 8), &reorged), "re-organised");

        // The hotkey already has a PoW registration at this work block.
        let mut used = state(11, 8);
        used.last_pow_block = Some(10);
        expect(
            check_hit(&hit, &used, &recent(11)),
            "already has a PoW registration",
        );
    }

    #[test]
    fn only_rules_that_can_pass_later_keep_the_run_going() {
        for retry in [
            SubmitOutcome::Refused(255),
            SubmitOutcome::Failed("TooManyRegistrationsThisBlock".into()),
            SubmitOutcome::Failed("InvalidWorkBlock".into()),
            SubmitOutcome::Failed("InvalidDifficulty".into()),
            SubmitOutcome::Rejected("Transaction is outdated".into()),
        ] {
            assert_eq!(is_fatal(&retry), None, "{retry:?}");
        }
        for fatal in [
            SubmitOutcome::Refused(3),
            SubmitOutcome::Refused(25),
            SubmitOutcome::Failed("SubNetRegistrationDisabled".into()),
            SubmitOutcome::Failed("NonAssociatedColdKey".into()),
        ] {
            assert!(is_fatal(&fatal).is_some(), "{fatal:?}");
        }
    }

    #[test]
    fn the_searcher_follows_job_switches_and_every_hit_carries_its_own_job() {
        let backend: Arc<dyn Backend> =
            Arc::new(crate::cpu::CpuBackend::new(Some(1), None).unwrap());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut searcher = Searcher::new(backend, tx);
        let job = |block: u8| {
            Job::new(
                Challenge {
                    netuid: 1,
                    block_hash: [block; 32],
                    hotkey: HOTKEY,
                    coldkey: COLDKEY,
                },
                Difficulty::new(64).unwrap(),
            )
        };
        searcher.switch(job(1), 1);
        let first = rx.blocking_recv().unwrap().unwrap();
        assert_eq!(first.work_block, 1);
        searcher.switch(job(2), 2);
        // Hits already in flight from the old job may still arrive; then only the new one.
        let mut seen_new = 0;
        while seen_new < 3 {
            let hit = rx.blocking_recv().unwrap().unwrap();
            let prefix = hit.job.prefix;
            assert_eq!(reference_seal(&prefix, hit.hit.nonce), hit.hit.seal);
            assert!(hit.hit.seal.meets(&hit.job.target));
            assert_eq!(hit.job.challenge.block_hash, [hit.work_block as u8; 32]);
            if hit.work_block == 2 {
                seen_new += 1;
            }
        }
        let before = searcher.hashes()[0];
        assert!(before > 0);
        searcher.stop();
        std::thread::sleep(Duration::from_millis(50));
        let settled = searcher.hashes()[0];
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            searcher.hashes()[0],
            settled,
            "stopped searches hash no more"
        );
    }
}
