//! The registration policy driven by a scripted chain: heads every 40 ms, the subnet's state
//! computed from what the script decided, and each submission answered as the script says
//! (included, refused with a pool code, lost). The script also checks every submission as
//! the chain's pool would (seal, difficulty, work window, work block hash) and records any
//! breach, so each scenario proves nothing invalid or stale was ever sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use regpow_chain::wallet::Coldkey;
use regpow_chain::{
    ChainApi, ChainError, Head, Heads, HotkeyInfo, NewHead, PoolRefusal, PowRegisterCall, Session,
    SessionEvent, Signing, StateQuery, StateSnapshot, SubmitOutcome, Submitter, SubnetInfo,
};
use regpow_registrar::register::{
    register, NotRegistered, Outcome, Progress, Refused, Resign, TargetEvent,
};
use regpow_registrar::DeviceShare;
use regpow_registrar::{TargetId, TargetSpec};
use regpow_rules::window::in_window;
use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use regpow_solver::cpu::CpuBackend;
use regpow_solver::DevicePool;
use tokio::sync::mpsc;

const NETUID: u16 = 3;
const HOTKEY: PublicKey = PublicKey([0x77; 32]);
const DIFFICULTY: u64 = 2_000;
const BLOCK: Duration = Duration::from_millis(40);

/// How the script answers a submission.
#[derive(Clone, Debug)]
enum Reply {
    /// Included: the hotkey takes uid 7 in the next block.
    Include,
    /// The status is lost; `lands` says whether it was in fact included.
    Lost { lands: bool },
    /// Refused by the pool.
    Refuse(PoolRefusal),
}

/// The chain as the script has it.
struct Script {
    chain: Vec<Head>,
    followers: Vec<mpsc::UnboundedSender<Result<NewHead, ChainError>>>,
    replies: VecDeque<Reply>,
    /// `(uid, block)` once the hotkey is registered.
    registered: Option<(u16, u64)>,
    last_pow_block: Option<u64>,
    owner: Option<PublicKey>,
    /// The coldkey's nonce before any registration lands.
    signer_nonce: u64,
    /// Each submission with the head it was made at.
    submissions: Vec<(PowRegisterCall, u64)>,
    /// What the pool would have refused.
    breaches: Vec<String>,
    /// Each state read: its head and how many hotkeys it asked for.
    rounds: Vec<(u64, usize)>,
    /// Blocks below this one already hold the subnet's registrations (nothing is sent).
    full_below: u64,
}

fn hash_of(number: u64) -> [u8; 32] {
    let mut hash = [0xB0; 32];
    hash[..8].copy_from_slice(&number.to_le_bytes());
    hash
}

impl Script {
    fn head(&self) -> Head {
        *self.chain.last().expect("genesis")
    }

    /// Produces a block and announces it.
    fn produce(&mut self) {
        let parent = self.head();
        let head = Head {
            number: parent.number + 1,
            hash: hash_of(parent.number + 1),
        };
        self.chain.push(head);
        let new = NewHead {
            head,
            parent: parent.hash,
        };
        self.followers.retain(|f| f.send(Ok(new)).is_ok());
    }

    /// Replaces the newest block with a sibling (a re-organisation one block deep) and
    /// announces it.
    fn fork(&mut self) {
        let orphaned = self.chain.pop().expect("a block above genesis");
        let parent = self.head();
        let mut hash = hash_of(orphaned.number);
        hash[31] = 0xF0;
        let head = Head {
            number: orphaned.number,
            hash,
        };
        self.chain.push(head);
        let new = NewHead {
            head,
            parent: parent.hash,
        };
        self.followers.retain(|f| f.send(Ok(new)).is_ok());
    }

    /// The hash of block `number` on the chain as it is now.
    fn hash_at(&self, number: u64) -> Option<[u8; 32]> {
        self.chain
            .iter()
            .find(|h| h.number == number)
            .map(|h| h.hash)
    }

    /// The checks the chain's pool makes, at the next block.
    fn check(&mut self, call: &PowRegisterCall, coldkey: PublicKey) {
        let checked_at = self.head().number + 1;
        if !in_window(call.work_block, checked_at) {
            self.breaches.push(format!(
                "work block {} outside the window at {checked_at}",
                call.work_block
            ));
            return;
        }
        let Some(block_hash) = self.hash_at(call.work_block) else {
            self.breaches.push(format!(
                "work block {} is not on the chain",
                call.work_block
            ));
            return;
        };
        let challenge = Challenge {
            netuid: call.netuid,
            block_hash,
            hotkey: call.hotkey,
            coldkey,
        };
        let seal = reference_seal(&challenge.prefix(), call.nonce);
        if seal.0 != call.work {
            self.breaches.push("the seal is not the nonce's".into());
        }
        if !seal.meets(&Difficulty::new(DIFFICULTY).unwrap().bound()) {
            self.breaches.push("the seal misses the difficulty".into());
        }
    }
}

/// Scripts by URL, so that `ChainApi::connect` finds its own.
fn scripts() -> &'static Mutex<HashMap<String, Arc<Mutex<Script>>>> {
    static SCRIPTS: OnceLock<Mutex<HashMap<String, Arc<Mutex<Script>>>>> = OnceLock::new();
    SCRIPTS.get_or_init(Default::default)
}

#[derive(Clone)]
struct Scripted {
    url: String,
    script: Arc<Mutex<Script>>,
}

impl Scripted {
    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }
}

impl ChainApi for Scripted {
    async fn connect(url: &str) -> Result<Self, ChainError> {
        let script = scripts().lock().unwrap().get(url).cloned();
        script
            .map(|script| Scripted {
                url: url.to_string(),
                script,
            })
            .ok_or_else(|| ChainError::Unreachable(url.to_string()))
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn genesis_hash(&self) -> [u8; 32] {
        hash_of(0)
    }

    async fn best_head(&self) -> Result<Head, ChainError> {
        Ok(self.lock().head())
    }

    async fn follow_heads(&self) -> Result<Heads, ChainError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut script = self.lock();
        let head = script.head();
        let parent = script
            .chain
            .get(script.chain.len().saturating_sub(2))
            .map_or([0; 32], |h| h.hash);
        let _ = tx.send(Ok(NewHead { head, parent }));
        script.followers.push(tx);
        Ok(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed())
    }

    async fn parent_hash(&self, block: [u8; 32]) -> Result<[u8; 32], ChainError> {
        let script = self.lock();
        let at = script.chain.iter().position(|h| h.hash == block);
        match at {
            Some(0) => Ok([0; 32]),
            Some(i) => Ok(script.chain[i - 1].hash),
            None => Err(ChainError::Rpc("no such block".into())),
        }
    }

    async fn ancestry(
        &self,
        head: NewHead,
        from: u64,
        _known: impl Fn(u64, &[u8; 32]) -> bool + Send,
    ) -> Result<Vec<Head>, ChainError> {
        let script = self.lock();
        Ok(script
            .chain
            .iter()
            .rev()
            .filter(|h| h.number <= head.head.number && h.number >= from)
            .copied()
            .collect())
    }

    async fn read_state(
        &self,
        head: Head,
        query: &StateQuery,
    ) -> Result<StateSnapshot, ChainError> {
        self.lock().rounds.push((head.number, query.hotkeys.len()));
        // An RPC round takes a moment: readers asking at the same time overlap.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let script = self.lock();
        let registered = script.registered.filter(|&(_, at)| at <= head.number);
        let subnets = query
            .subnets
            .iter()
            .map(|&netuid| {
                let info = SubnetInfo {
                    head,
                    exists: netuid == NETUID,
                    pow_allowed: true,
                    difficulty: DIFFICULTY,
                    min_difficulty: 1,
                    max_difficulty: u64::MAX,
                    max_allowed_uids: 256,
                    registrations_this_block: u16::from(head.number < script.full_below),
                    max_registrations_per_block: 1,
                };
                (netuid, info)
            })
            .collect();
        let hotkeys = query
            .hotkeys
            .iter()
            .map(|&(hotkey, netuid)| {
                let ours = registered.filter(|_| hotkey == HOTKEY);
                let info = HotkeyInfo {
                    uid: ours.map(|(uid, _)| uid),
                    last_pow_block: ours.and(script.last_pow_block),
                    owner: ours.and(script.owner),
                    signer_nonce: None,
                };
                ((hotkey, netuid), info)
            })
            .collect();
        // The registration and the nonce it used land in the same block.
        let nonce = script.signer_nonce + u64::from(registered.is_some());
        let nonces = query.signers.iter().map(|&s| (s, nonce)).collect();
        Ok(StateSnapshot {
            subnets,
            hotkeys,
            nonces,
        })
    }

    async fn account_next_index(&self, _account: &PublicKey) -> Result<u64, ChainError> {
        let script = self.lock();
        Ok(script.signer_nonce + u64::from(script.registered.is_some()))
    }

    async fn submit_pow_register(
        &self,
        call: &PowRegisterCall,
        coldkey: &Coldkey,
        signing: Signing,
        sent: impl FnOnce() + Send,
    ) -> Result<SubmitOutcome, ChainError> {
        sent();
        let reply = {
            let mut script = self.lock();
            let head = script.head().number;
            script.submissions.push((*call, head));
            script.check(call, coldkey.public());
            script.replies.pop_front().unwrap_or(Reply::Include)
        };
        // The pool answers, or the block comes, a moment later.
        tokio::time::sleep(BLOCK).await;
        let mut script = self.lock();
        let nonce = signing.nonce;
        let land = |script: &mut Script| {
            let at = script.head().number + 1;
            script.registered = Some((7, at));
            script.last_pow_block = Some(call.work_block);
            script.owner = Some(coldkey.public());
            at
        };
        Ok(match reply {
            Reply::Include => {
                let at = land(&mut script);
                SubmitOutcome::Registered {
                    uid: 7,
                    block: Head {
                        number: at,
                        hash: hash_of(at),
                    },
                }
            }
            Reply::Lost { lands } => {
                if lands {
                    land(&mut script);
                }
                SubmitOutcome::Unknown {
                    reason: "the connection dropped".into(),
                    nonce,
                }
            }
            Reply::Refuse(refusal) => SubmitOutcome::Refused(refusal),
        })
    }
}

/// Runs one registration against a fresh script answering with `replies`; returns the
/// outcome, the progress, the submissions (with their heads) and the breaches.
async fn scenario(
    name: &str,
    replies: Vec<Reply>,
) -> (
    Outcome,
    Vec<Progress>,
    Vec<(PowRegisterCall, u64)>,
    Vec<String>,
) {
    let (url, script, producer) = start_script(name, 100);
    script.lock().unwrap().replies = replies.into();
    let chain = Scripted::connect(&url).await.unwrap();
    let pool = Arc::new(DevicePool::new(vec![Arc::new(
        CpuBackend::new(Some(1), None).unwrap(),
    )]));
    let coldkey = Arc::new(Coldkey::from_uri("//Alice").unwrap());
    let (_cancel_tx, cancel) = mpsc::unbounded_channel();
    let mut progress = Vec::new();
    let target = TargetSpec::new(TargetId(0), NETUID, HOTKEY);
    let outcome = register(
        Session::start(chain).await.unwrap(),
        DeviceShare::new(pool),
        Submitter::new(coldkey),
        target,
        Some(tokio::time::Instant::now() + Duration::from_secs(30)),
        |event: TargetEvent| {
            assert_eq!(event.target, target);
            progress.push(event.progress)
        },
        cancel,
    )
    .await
    .expect("the run ends with an outcome");
    producer.abort();
    let script = script.lock().unwrap();
    (
        outcome,
        progress,
        script.submissions.clone(),
        script.breaches.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_included_seal_registers() {
    let (outcome, progress, submissions, breaches) = scenario("included", vec![]).await;
    assert!(
        matches!(outcome, Outcome::Registered { uid: 7, .. }),
        "{outcome:?}"
    );
    assert_eq!(submissions.len(), 1);
    assert!(breaches.is_empty(), "{breaches:?}");
    // Head events carry the retarget time once every device hashes the head's challenge.
    assert!(
        progress
            .iter()
            .any(|p| matches!(p, Progress::Head { retarget_ms: Some(ms), .. } if *ms < 1_000.0)),
        "{progress:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_status_that_landed_is_settled_from_state_as_registered() {
    let (outcome, progress, submissions, breaches) =
        scenario("lost-landed", vec![Reply::Lost { lands: true }]).await;
    let Outcome::Registered { work_block, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(submissions.len(), 1, "nothing else is sent while in doubt");
    assert_eq!(work_block, submissions[0].0.work_block);
    assert!(progress
        .iter()
        .any(|p| matches!(p, Progress::StatusLost { .. })));
    assert!(breaches.is_empty(), "{breaches:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_status_is_not_a_refusal_and_waits_for_the_window_to_pass() {
    let (outcome, progress, submissions, breaches) = scenario(
        "lost-expired",
        vec![Reply::Lost { lands: false }, Reply::Include],
    )
    .await;
    assert!(matches!(outcome, Outcome::Registered { .. }), "{outcome:?}");
    assert_eq!(submissions.len(), 2);
    let (first, _) = submissions[0];
    let (_, second_at) = submissions[1];
    // Settled only once the chain proves it can no longer land: its window has passed or
    // the coldkey's nonce moved on (the script's nonce does not move for a lost one).
    assert!(
        second_at + 1 > first.work_block + regpow_rules::WORK_WINDOW,
        "resubmitted at {second_at} while work block {} could still land",
        first.work_block
    );
    assert!(progress
        .iter()
        .any(|p| matches!(p, Progress::NotRegistered(NotRegistered::Expired { work_block }) if *work_block == first.work_block)));
    assert!(breaches.is_empty(), "{breaches:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_pool_codes_end_the_run_and_others_are_retried() {
    let (outcome, _, submissions, breaches) = scenario(
        "fatal",
        vec![Reply::Refuse(PoolRefusal::Custom(
            regpow_rules::tx_pool::NON_ASSOCIATED_COLDKEY,
        ))],
    )
    .await;
    assert!(
        matches!(
            &outcome,
            Outcome::Refused { refused: Refused::PoolCode(code), in_doubt: None }
                if *code == regpow_rules::tx_pool::NON_ASSOCIATED_COLDKEY
        ),
        "{outcome:?}"
    );
    assert_eq!(submissions.len(), 1);
    assert!(breaches.is_empty(), "{breaches:?}");

    let (outcome, progress, submissions, breaches) = scenario(
        "retried",
        vec![
            Reply::Refuse(PoolRefusal::NonceRace("Transaction is outdated".into())),
            Reply::Refuse(PoolRefusal::Custom(regpow_rules::tx_pool::BAD_REQUEST)),
            Reply::Include,
        ],
    )
    .await;
    assert!(matches!(outcome, Outcome::Registered { .. }), "{outcome:?}");
    assert_eq!(submissions.len(), 3);
    // One signature per head at most, and the seal after a race is the same one or a newer.
    let heads: Vec<u64> = submissions.iter().map(|(_, head)| *head).collect();
    assert!(heads.windows(2).all(|w| w[0] < w[1]), "{heads:?}");
    let (first, second) = (submissions[0].0, submissions[1].0);
    assert!(
        (second.work_block, second.nonce) == (first.work_block, first.nonce)
            || second.work_block > first.work_block,
        "{first:?} then {second:?}"
    );
    // A nonce race costs a signature, not the seal: it is queued to be signed again (or a
    // newer seal takes its place); the pool's 255 keeps it too while it can land.
    assert!(
        progress.iter().any(|p| matches!(
            p,
            Progress::Resigning {
                why: Resign::NonceRace(_),
                ..
            }
        )),
        "{progress:?}"
    );
    assert!(
        progress.iter().any(|p| matches!(
            p,
            Progress::Resigning {
                why: Resign::PoolRefused,
                ..
            }
        )),
        "{progress:?}"
    );
    assert!(breaches.is_empty(), "{breaches:?}");
}

/// A script with no replies yet, its chain starting at block `genesis`, and a block
/// producer; registered under `name`.
fn start_script(
    name: &str,
    genesis: u64,
) -> (String, Arc<Mutex<Script>>, tokio::task::JoinHandle<()>) {
    let url = format!("scripted://{name}");
    let script = Arc::new(Mutex::new(Script {
        chain: vec![Head {
            number: genesis,
            hash: hash_of(genesis),
        }],
        followers: Vec::new(),
        replies: VecDeque::new(),
        registered: None,
        last_pow_block: None,
        owner: None,
        signer_nonce: 0,
        submissions: Vec::new(),
        breaches: Vec::new(),
        rounds: Vec::new(),
        full_below: 0,
    }));
    scripts()
        .lock()
        .unwrap()
        .insert(url.clone(), script.clone());
    let producer = {
        let script = script.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BLOCK).await;
                script.lock().unwrap().produce();
            }
        })
    };
    (url, script, producer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_reads_everything_asked_at_a_head_in_one_round() {
    let (url, script, producer) = start_script("shared-reads", 1);
    let session = Session::start(Scripted::connect(&url).await.unwrap())
        .await
        .unwrap();
    let head = session.best_head().await.unwrap();
    let signer = PublicKey([5; 32]);
    // Eight registrations (four hotkeys, each asked twice) ask at once: one subnet read and
    // one round for the four hotkeys.
    let hotkeys = [
        HOTKEY,
        PublicKey([1; 32]),
        PublicKey([2; 32]),
        PublicKey([3; 32]),
    ];
    let reads: Vec<_> = (0..8)
        .map(|i| {
            let session = session.clone();
            let hotkey = hotkeys[i % 4];
            tokio::spawn(async move {
                session
                    .subnet_state(head, NETUID, &hotkey, Some(&signer))
                    .await
            })
        })
        .collect();
    for read in reads {
        let state = read.await.unwrap().unwrap();
        assert_eq!(
            (state.subnet.head, state.subnet.difficulty),
            (head, DIFFICULTY)
        );
        assert_eq!(state.hotkey.signer_nonce, Some(0));
    }
    let rounds_at = |number: u64| -> Vec<usize> {
        let script = script.lock().unwrap();
        script
            .rounds
            .iter()
            .filter(|(at, _)| *at == number)
            .map(|(_, hotkeys)| *hotkeys)
            .collect()
    };
    assert_eq!(rounds_at(head.number), vec![4], "four hotkeys, one round");
    // At the next head the session reads everything asked for lately before anyone asks:
    // the question there finds that round.
    let later = loop {
        let now = session.best_head().await.unwrap();
        if now.number > head.number {
            break now;
        }
        tokio::time::sleep(BLOCK).await;
    };
    session
        .subnet_state(later, NETUID, &HOTKEY, Some(&signer))
        .await
        .unwrap();
    assert_eq!(rounds_at(later.number), vec![4], "read ahead, once");
    producer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reconnects_when_its_head_subscription_ends() {
    let (url, script, producer) = start_script("reconnect", 1);
    let session = Session::start(Scripted::connect(&url).await.unwrap())
        .await
        .unwrap();
    let mut events = session.subscribe();
    let first = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("a head in time")
        .unwrap();
    assert!(matches!(first, SessionEvent::Head { .. }));
    // The node drops every subscription.
    script.lock().unwrap().followers.clear();
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(SessionEvent::Head { .. })) || seen.len() < 3 {
        seen.push(
            tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("an event in time")
                .unwrap(),
        );
    }
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            SessionEvent::Head { .. } => "head",
            SessionEvent::Reconnecting { .. } => "reconnecting",
            SessionEvent::Reconnected => "reconnected",
            SessionEvent::Lost(_) => "lost",
        })
        .collect();
    let from = kinds
        .iter()
        .position(|k| *k == "reconnecting")
        .expect("reconnecting");
    assert_eq!(
        &kinds[from..from + 3],
        ["reconnecting", "reconnected", "head"],
        "{kinds:?}"
    );
    producer.abort();
}

/// A hotkey that became registered to this coldkey between the caller's look and the run's
/// first read (an earlier run's submission landing) is the chain's answer, not a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotkey_already_ours_at_the_first_read_is_registered_elsewhere() {
    let (url, script, producer) = start_script("already-ours", 100);
    let coldkey = Arc::new(Coldkey::from_uri("//Alice").unwrap());
    {
        let mut script = script.lock().unwrap();
        script.registered = Some((4, 0));
        script.last_pow_block = Some(98);
        script.owner = Some(coldkey.public());
    }
    let chain = Scripted::connect(&url).await.unwrap();
    let pool = Arc::new(DevicePool::new(vec![Arc::new(
        CpuBackend::new(Some(1), None).unwrap(),
    )]));
    let (_cancel_tx, cancel) = mpsc::unbounded_channel();
    let outcome = register(
        Session::start(chain).await.unwrap(),
        DeviceShare::new(pool),
        Submitter::new(coldkey),
        TargetSpec::new(TargetId(0), NETUID, HOTKEY),
        Some(tokio::time::Instant::now() + Duration::from_secs(30)),
        |_| {},
        cancel,
    )
    .await
    .unwrap();
    producer.abort();
    assert_eq!(outcome, Outcome::RegisteredElsewhere { uid: 4 });
    assert!(script.lock().unwrap().submissions.is_empty());
}

/// A watched target is in the session's read at every head, which goes out once to every
/// subscriber with the head; once the watch is dropped (and nothing else asks) the session
/// stops reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_keeps_its_target_in_every_head_read_until_dropped() {
    let (url, script, producer) = start_script("watched", 1);
    let session = Session::start(Scripted::connect(&url).await.unwrap())
        .await
        .unwrap();
    let signer = PublicKey([5; 32]);
    let mut head_reads = session.subscribe_head_reads();
    let watch = session.watch(NETUID, HOTKEY, Some(signer));
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let read = tokio::time::timeout(Duration::from_secs(10), head_reads.recv())
            .await
            .expect("a head read in time")
            .unwrap();
        let snapshot = read.snapshot.as_ref().expect("the read succeeds");
        let state = snapshot
            .subnet_state(NETUID, &HOTKEY, Some(&signer))
            .expect("the watched target is in the read");
        assert_eq!(state.subnet.head, read.new.head);
        assert_eq!(state.hotkey.signer_nonce, Some(0));
        seen.push(read.new.head.number);
    }
    assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
    {
        let script = script.lock().unwrap();
        for number in &seen {
            let at: Vec<usize> = script
                .rounds
                .iter()
                .filter(|(n, _)| n == number)
                .map(|(_, hotkeys)| *hotkeys)
                .collect();
            assert_eq!(at, vec![1], "one round of one hotkey at {number}");
        }
    }
    drop(watch);
    // A round already under way may still finish; after that, no head is read.
    tokio::time::sleep(BLOCK * 3).await;
    let rounds = script.lock().unwrap().rounds.len();
    tokio::time::sleep(BLOCK * 6).await;
    assert_eq!(
        script.lock().unwrap().rounds.len(),
        rounds,
        "nothing watched"
    );
    producer.abort();
}

/// A registration the devices do not hash (its cap is below the subnet's difficulty) does
/// not follow heads itself: it learns of each from the session's read, and so still sees
/// its hotkey taken by another coldkey and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_without_devices_follows_the_chain_through_the_head_reads() {
    let (url, script, producer) = start_script("dormant", 100);
    let chain = Scripted::connect(&url).await.unwrap();
    let pool = Arc::new(DevicePool::new(vec![Arc::new(
        CpuBackend::new(Some(1), None).unwrap(),
    )]));
    let (_cancel_tx, cancel) = mpsc::unbounded_channel();
    let target = TargetSpec {
        difficulty_cap: Some(DIFFICULTY - 1),
        ..TargetSpec::new(TargetId(0), NETUID, HOTKEY)
    };
    let run = tokio::spawn(register(
        Session::start(chain).await.unwrap(),
        DeviceShare::new(pool.clone()),
        Submitter::new(Arc::new(Coldkey::from_uri("//Alice").unwrap())),
        target,
        Some(tokio::time::Instant::now() + Duration::from_secs(30)),
        |_| {},
        cancel,
    ));
    tokio::time::sleep(BLOCK * 5).await;
    let taken_at = {
        let mut script = script.lock().unwrap();
        let at = script.head().number + 2;
        script.registered = Some((5, at));
        script.owner = Some(PublicKey([9; 32]));
        at
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the run ends soon after the hotkey is taken")
        .unwrap()
        .unwrap();
    producer.abort();
    assert_eq!(
        outcome,
        Outcome::Refused {
            refused: Refused::TakenDuringRun {
                netuid: NETUID,
                uid: 5
            },
            in_doubt: None
        }
    );
    assert!(script.lock().unwrap().head().number <= taken_at + 5);
    assert_eq!(pool.hashes(), 0, "capped: the devices never hashed it");
}

/// A re-organisation one block deep whose orphaned block's read finishes after the new
/// block arrived: the run never moves back to the orphaned block (its devices, its state,
/// its signature), and what it signs is valid on the chain as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_read_of_an_orphaned_block_never_moves_the_run_back_to_it() {
    let (url, script, producer) = start_script("late-read", 100);
    producer.abort();
    // Nothing can be sent below block 103: the run has seals waiting when the fork comes.
    script.lock().unwrap().full_below = 103;
    let chain = Scripted::connect(&url).await.unwrap();
    let pool = Arc::new(DevicePool::new(vec![Arc::new(
        CpuBackend::new(Some(1), None).unwrap(),
    )]));
    let (_cancel_tx, cancel) = mpsc::unbounded_channel();
    let target = TargetSpec::new(TargetId(0), NETUID, HOTKEY);
    let run = tokio::spawn(register(
        Session::start(chain).await.unwrap(),
        DeviceShare::new(pool),
        Submitter::new(Arc::new(Coldkey::from_uri("//Alice").unwrap())),
        target,
        Some(tokio::time::Instant::now() + Duration::from_secs(30)),
        |_| {},
        cancel,
    ));
    for _ in 0..2 {
        tokio::time::sleep(BLOCK).await;
        script.lock().unwrap().produce();
    }
    tokio::time::sleep(BLOCK).await;
    // Block 103, replaced 2 ms later by its sibling: the read of the first (20 ms) ends
    // after the second has arrived.
    script.lock().unwrap().produce();
    tokio::time::sleep(Duration::from_millis(2)).await;
    script.lock().unwrap().fork();
    let producer = {
        let script = script.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BLOCK * 4).await;
                script.lock().unwrap().produce();
            }
        })
    };
    let outcome = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the run ends")
        .unwrap()
        .unwrap();
    producer.abort();
    let script = script.lock().unwrap();
    assert!(script.breaches.is_empty(), "{:?}", script.breaches);
    assert!(matches!(outcome, Outcome::Registered { .. }), "{outcome:?}");
    assert!(!script.submissions.is_empty());
}
