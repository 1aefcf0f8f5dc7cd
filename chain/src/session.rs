//! One session per network, shared by every registration of a process.
//!
//! The session follows the chain's best heads once (one subscription per process) and hands
//! each to every registration subscribed to it; it watches for silence, reconnects with
//! backoff when the subscription drops, and reads state for all of them together: at every
//! head, one round (batched storage reads, see [`crate::batch`]) reads every subnet, hotkey
//! and signer watched (see [`Session::watch`]) or asked for at the last few heads, so that the
//! requests per head do not grow with the plan; a question no round covers joins the others
//! asked within a few milliseconds. Each round's result goes out once to everyone
//! ([`HeadRead`]): a farm's thousands of registrations that no device hashes learn of a head
//! only with its state, one wake-up each, and only those the devices hash follow the heads
//! themselves.
//! After a re-organisation each block header the registrations walk through is read once for
//! everyone (the headers of followed heads are known already).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};

use crate::api::{ChainApi, Heads};
use crate::network::redact_url;
use crate::state::{Head, NewHead, StateQuery, StateSnapshot, SubnetInfo, SubnetState};
use crate::ChainError;
use regpow_rules::PublicKey;

/// With no new block for this long the connection is treated as lost (five 12 s blocks).
pub const HEAD_SILENCE: Duration = Duration::from_secs(60);

/// Connection attempts in a row before the endpoint counts as gone.
const MAX_CONNECT_ATTEMPTS: u32 = 8;

/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Heads whose rounds are kept for sharing (block headers: `HEADERS_KEPT`).
const CACHED_READS: usize = 8;

/// How long a question no round covers waits for others to join its round.
const BATCH_WINDOW: Duration = Duration::from_millis(2);

/// What the session tells its registrations.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    /// A new best head, and when the session received it.
    Head {
        /// The head and its parent's hash.
        new: NewHead,
        /// When it arrived (the start of every retarget time).
        received: Instant,
    },
    /// The connection dropped or went silent; the next attempt is in `retry_in`.
    Reconnecting {
        /// What failed.
        reason: String,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// Connected again; heads follow.
    Reconnected,
    /// The endpoint is gone for good (every attempt failed, or its runtime cannot register):
    /// the session has ended.
    Lost(ChainError),
}

/// The subnets' state at a head as the session's read at that head found it: what a view
/// shows once per head, whatever the number of registrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadState {
    /// The head.
    pub head: Head,
    /// Every subnet asked about lately, with its netuid, in netuid order.
    pub subnets: Vec<(u16, SubnetInfo)>,
}

/// The session's read at a head, whether it succeeded or not: what registrations judge the
/// head by (each finds its own part in the snapshot).
#[derive(Clone, Debug)]
pub struct HeadRead {
    /// The head and its parent's hash.
    pub new: NewHead,
    /// When the head arrived.
    pub received: Instant,
    /// Everything watched or asked for lately, at the head.
    pub snapshot: Result<Arc<StateSnapshot>, ChainError>,
}

/// What a registration's [`Session::watch`] keeps in every round.
type WatchKey = (u16, PublicKey, Option<PublicKey>);

/// Keeps a subnet, a hotkey on it and a signer in the session's read at every head until
/// dropped.
pub struct Watch {
    key: WatchKey,
    reads: std::sync::Weak<Mutex<Reads>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("netuid", &self.key.0)
            .finish()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(reads) = self.reads.upgrade() {
            let mut reads = lock(&reads);
            if let Some(count) = reads.watched.held.get_mut(&self.key) {
                *count -= 1;
                if *count == 0 {
                    reads.watched.held.remove(&self.key);
                }
            }
        }
    }
}

/// Heads a key stays in the read a session makes at every head after it was last asked for.
const WATCH_HEADS: u64 = 3;

/// One read of the chain's state at a head, shared by everyone it covers.
type Round = Shared<BoxFuture<'static, Result<Arc<StateSnapshot>, ChainError>>>;

/// A block's parent hash, read once however many registrations walk through the block.
type ParentRead = Shared<BoxFuture<'static, Result<[u8; 32], ChainError>>>;

/// Block headers (their parents) kept for walks after a re-organisation.
const HEADERS_KEPT: usize = 256;

/// A round and what it asks for; open until it starts reading (askers may still join).
struct RoundAt {
    /// Whether it has started reading, and what it asks for.
    query: Arc<Mutex<(bool, StateQuery)>>,
    read: Round,
}

/// What is watched (with the number of watches on it), and what was asked for lately: each
/// key with the newest head number it was asked at.
#[derive(Default)]
struct Watched {
    held: HashMap<WatchKey, usize>,
    subnets: HashMap<u16, u64>,
    hotkeys: HashMap<(PublicKey, u16), u64>,
    signers: HashMap<PublicKey, u64>,
}

impl Watched {
    fn note(&mut self, netuid: u16, hotkey: PublicKey, signer: Option<PublicKey>, at: u64) {
        let newest = |seen: &mut u64| *seen = (*seen).max(at);
        newest(self.subnets.entry(netuid).or_default());
        newest(self.hotkeys.entry((hotkey, netuid)).or_default());
        if let Some(signer) = signer {
            newest(self.signers.entry(signer).or_default());
        }
    }

    /// Forgets what was not asked for in the `WATCH_HEADS` heads before `head`, and returns
    /// the rest, with everything watched, as one query.
    fn query(&mut self, head: u64) -> StateQuery {
        let recent = |seen: &mut u64| *seen + WATCH_HEADS >= head;
        self.subnets.retain(|_, seen| recent(seen));
        self.hotkeys.retain(|_, seen| recent(seen));
        self.signers.retain(|_, seen| recent(seen));
        let mut query = StateQuery {
            subnets: self.subnets.keys().copied().collect(),
            hotkeys: self.hotkeys.keys().copied().collect(),
            signers: self.signers.keys().copied().collect(),
        };
        for (netuid, hotkey, signer) in self.held.keys() {
            query.ask(*netuid, *hotkey, *signer);
        }
        query
    }
}

/// The reads a session shares: rounds by head and block parents (oldest first for pruning).
#[derive(Default)]
struct Reads {
    watched: Watched,
    rounds: HashMap<[u8; 32], Vec<RoundAt>>,
    round_order: Vec<[u8; 32]>,
    parents: HashMap<[u8; 32], ParentRead>,
    parent_order: std::collections::VecDeque<[u8; 32]>,
}

/// Inserts `key` into `map`, forgetting the oldest entries past [`CACHED_READS`].
fn remember<K: Copy + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    order: &mut Vec<K>,
    key: K,
    value: V,
) {
    if map.insert(key, value).is_none() {
        order.push(key);
    }
    while order.len() > CACHED_READS {
        let old = order.remove(0);
        map.remove(&old);
    }
}

/// The shared reads, locked.
fn lock(reads: &Mutex<Reads>) -> std::sync::MutexGuard<'_, Reads> {
    reads.lock().unwrap_or_else(|p| p.into_inner())
}

/// A round at `head` for what `query` holds when it starts, after `wait` (askers arriving
/// meanwhile join it).
fn round<C: ChainApi>(
    client: C,
    head: Head,
    query: Arc<Mutex<(bool, StateQuery)>>,
    wait: Duration,
) -> Round {
    async move {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let query = {
            let mut query = query.lock().unwrap_or_else(|p| p.into_inner());
            query.0 = true;
            query.1.clone()
        };
        client.read_state(head, &query).await.map(Arc::new)
    }
    .boxed()
    .shared()
}

/// Starts the read a session makes at every new head: everything watched or asked for at
/// the last few heads, in one round, before anyone asks (the registrations' reads of this
/// head then all find it); its result goes out to the registrations and its subnets to the
/// views.
fn read_ahead<C: ChainApi>(
    reads: &Mutex<Reads>,
    client: C,
    (new, received): (NewHead, Instant),
    announce: &Announce,
) {
    let head = new.head;
    let mut shared = lock(reads);
    let query = shared.watched.query(head.number);
    if query.is_empty() || shared.rounds.contains_key(&head.hash) {
        return;
    }
    let query = Arc::new(Mutex::new((true, query)));
    let read = round(client, head, query.clone(), Duration::ZERO);
    // Driven now, whoever awaits it later.
    let (driven, announce) = (read.clone(), announce.clone());
    tokio::spawn(async move {
        let snapshot = driven.await;
        if let Ok(snapshot) = &snapshot {
            let mut subnets: Vec<(u16, SubnetInfo)> = snapshot
                .subnets
                .iter()
                .map(|(n, s)| (*n, s.clone()))
                .collect();
            subnets.sort_by_key(|(netuid, _)| *netuid);
            let _ = announce.states.send(Arc::new(HeadState { head, subnets }));
        }
        let _ = announce.head_reads.send(Arc::new(HeadRead {
            new,
            received,
            snapshot,
        }));
    });
    let Reads {
        rounds,
        round_order,
        ..
    } = &mut *shared;
    remember(
        rounds,
        round_order,
        head.hash,
        vec![RoundAt { query, read }],
    );
}

/// Where the session's reads at each head go out.
#[derive(Clone)]
struct Announce {
    states: broadcast::Sender<Arc<HeadState>>,
    head_reads: broadcast::Sender<Arc<HeadRead>>,
}

/// A chain connection shared by registrations. Dropping it stops following.
pub struct Session<C: ChainApi> {
    url: String,
    client: watch::Receiver<C>,
    events: broadcast::Sender<SessionEvent>,
    announce: Announce,
    ended: watch::Receiver<Option<ChainError>>,
    latest: watch::Receiver<Option<NewHead>>,
    reads: Arc<Mutex<Reads>>,
    follower: tokio::task::JoinHandle<()>,
}

impl<C: ChainApi> Session<C> {
    /// Starts following `client`'s heads (within a tokio runtime). Subscribe before reading
    /// anything, so that no head is missed.
    pub async fn start(client: C) -> Result<Arc<Self>, ChainError> {
        let heads = client.follow_heads().await?;
        let url = client.url().to_string();
        let (client_tx, client_rx) = watch::channel(client);
        let (latest_tx, latest) = watch::channel(None);
        let (events, _) = broadcast::channel(256);
        let (states, _) = broadcast::channel(16);
        let (head_reads, _) = broadcast::channel(16);
        let announce = Announce { states, head_reads };
        let (ended_tx, ended) = watch::channel(None);
        let reads = Arc::new(Mutex::new(Reads::default()));
        let follower = tokio::spawn(follow(
            heads,
            client_tx,
            Following {
                events: events.clone(),
                announce: announce.clone(),
                ended: ended_tx,
                latest: latest_tx,
                reads: reads.clone(),
            },
            url.clone(),
        ));
        Ok(Arc::new(Self {
            url,
            client: client_rx,
            events,
            announce,
            ended,
            latest,
            reads,
            follower,
        }))
    }

    /// The endpoint (redact it before printing).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client of the current connection.
    pub fn client(&self) -> C {
        self.client.borrow().clone()
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    /// The subnets' state at every head from now on, once the session's read at the head
    /// is done (for views and metrics).
    pub fn subscribe_states(&self) -> broadcast::Receiver<Arc<HeadState>> {
        self.announce.states.subscribe()
    }

    /// The session's read at every head from now on, failed or not, once it is done: what
    /// the registrations judge each head by, one message per head for all of them.
    pub fn subscribe_head_reads(&self) -> broadcast::Receiver<Arc<HeadRead>> {
        self.announce.head_reads.subscribe()
    }

    /// Why the session ended, once it has (the same error [`SessionEvent::Lost`] carries),
    /// for those that do not follow every event.
    pub fn ended(&self) -> watch::Receiver<Option<ChainError>> {
        self.ended.clone()
    }

    /// Keeps `netuid`, `hotkey` on it and `signer`'s nonce in the session's read at every
    /// head (see [`Self::subscribe_head_reads`]) until the returned guard is dropped.
    pub fn watch(&self, netuid: u16, hotkey: PublicKey, signer: Option<PublicKey>) -> Watch {
        let key = (netuid, hotkey, signer);
        *lock(&self.reads).watched.held.entry(key).or_default() += 1;
        Watch {
            key,
            reads: Arc::downgrade(&self.reads),
        }
    }

    /// The newest best head the session has followed (waiting for the first, at most
    /// [`HEAD_SILENCE`]), without a request of its own.
    pub async fn best_head(&self) -> Result<Head, ChainError> {
        let mut latest = self.latest.clone();
        let head = tokio::time::timeout(HEAD_SILENCE, latest.wait_for(Option::is_some)).await;
        match head {
            Ok(Ok(head)) => Ok(head.expect("waited for a head").head),
            Ok(Err(_)) => Err(ChainError::Rpc("the chain session ended".into())),
            Err(_) => Err(ChainError::Rpc(format!(
                "heads: no block for {}s",
                HEAD_SILENCE.as_secs()
            ))),
        }
    }

    /// The subnet's and the hotkey's state at `head` (with `signer`'s nonce). Everything
    /// asked for at a head is read together: in the round the session starts as the head
    /// arrives (what was asked for at the last few heads), or in one round with every other
    /// question no round covers, asked within `BATCH_WINDOW` (2 ms).
    pub async fn subnet_state(
        &self,
        head: Head,
        netuid: u16,
        hotkey: &PublicKey,
        signer: Option<&PublicKey>,
    ) -> Result<SubnetState, ChainError> {
        let read = {
            let mut reads = lock(&self.reads);
            reads
                .watched
                .note(netuid, *hotkey, signer.copied(), head.number);
            let Reads {
                rounds,
                round_order,
                ..
            } = &mut *reads;
            if !rounds.contains_key(&head.hash) {
                remember(rounds, round_order, head.hash, Vec::new());
            }
            let at = rounds.get_mut(&head.hash).expect("inserted");
            let covering = at.iter().find(|r| {
                let query = r.query.lock().unwrap_or_else(|p| p.into_inner());
                query.1.covers(netuid, hotkey, signer)
            });
            let joined = covering.map(|r| r.read.clone()).or_else(|| {
                at.iter().find_map(|r| {
                    let mut query = r.query.lock().unwrap_or_else(|p| p.into_inner());
                    (!query.0).then(|| {
                        query.1.ask(netuid, *hotkey, signer.copied());
                        r.read.clone()
                    })
                })
            });
            match joined {
                Some(read) => read,
                None => {
                    let mut query = StateQuery::default();
                    query.ask(netuid, *hotkey, signer.copied());
                    let query = Arc::new(Mutex::new((false, query)));
                    let read = round(self.client(), head, query.clone(), BATCH_WINDOW);
                    at.push(RoundAt {
                        query,
                        read: read.clone(),
                    });
                    read
                }
            }
        };
        let snapshot = match read.await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                // A failed read is not kept: the next asker tries again.
                if let Some(at) = lock(&self.reads).rounds.get_mut(&head.hash) {
                    at.retain(|r| r.read.peek().is_none_or(|done| done.is_ok()));
                }
                return Err(e);
            }
        };
        snapshot
            .subnet_state(netuid, hotkey, signer)
            .ok_or_else(|| ChainError::Rpc("the chain returned no state for the hotkey".into()))
    }

    /// The blocks of `head`'s chain from `head` back to `from` (inclusive), newest first,
    /// walked through their parents; `known` stops the walk early at a block the caller
    /// already has right. Each header is read once for every registration (after a
    /// re-organisation they all walk the same blocks), and the parents of the heads the
    /// session followed are known without a read.
    pub async fn ancestry(
        &self,
        head: NewHead,
        from: u64,
        known: impl Fn(u64, &[u8; 32]) -> bool,
    ) -> Result<Vec<Head>, ChainError> {
        let mut chain = vec![head.head];
        let (mut number, mut parent) = (head.head.number, head.parent);
        while number > from {
            number -= 1;
            if known(number, &parent) {
                break;
            }
            chain.push(Head {
                number,
                hash: parent,
            });
            parent = self.parent_of(parent).await?;
        }
        Ok(chain)
    }

    /// The parent hash of block `hash`, read once.
    async fn parent_of(&self, hash: [u8; 32]) -> Result<[u8; 32], ChainError> {
        let read = {
            let mut reads = lock(&self.reads);
            match reads.parents.get(&hash) {
                Some(read) => read.clone(),
                None => {
                    let client = self.client();
                    let read = async move { client.parent_hash(hash).await }
                        .boxed()
                        .shared();
                    remember_parent(&mut reads, hash, read.clone());
                    read
                }
            }
        };
        let parent = read.await;
        if parent.is_err() {
            lock(&self.reads).parents.remove(&hash);
        }
        parent
    }
}

/// Keeps `read` as block `hash`'s parent, forgetting the oldest past [`HEADERS_KEPT`].
fn remember_parent(reads: &mut Reads, hash: [u8; 32], read: ParentRead) {
    if reads.parents.insert(hash, read).is_none() {
        reads.parent_order.push_back(hash);
    }
    while reads.parent_order.len() > HEADERS_KEPT {
        if let Some(old) = reads.parent_order.pop_front() {
            reads.parents.remove(&old);
        }
    }
}

impl<C: ChainApi> Drop for Session<C> {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// Where the follower tells what it sees.
struct Following {
    events: broadcast::Sender<SessionEvent>,
    announce: Announce,
    ended: watch::Sender<Option<ChainError>>,
    latest: watch::Sender<Option<NewHead>>,
    reads: Arc<Mutex<Reads>>,
}

/// Follows heads until the endpoint is gone, reconnecting with backoff; announces everything
/// on `events`.
async fn follow<C: ChainApi>(
    mut heads: Heads,
    client: watch::Sender<C>,
    following: Following,
    url: String,
) {
    let Following {
        events,
        announce: reads_out,
        ended,
        latest,
        reads,
    } = following;
    // Every reconnection must reach the chain this session started on.
    let genesis_hash = client.borrow().genesis_hash();
    let announce = |event: SessionEvent| {
        if let SessionEvent::Lost(e) = &event {
            ended.send_replace(Some(e.clone()));
        }
        // No subscriber at the moment is fine: registrations come and go.
        let _ = events.send(event);
    };
    loop {
        let lost = loop {
            match tokio::time::timeout(HEAD_SILENCE, heads.next()).await {
                Ok(Some(Ok(new))) => {
                    let received = Instant::now();
                    let parent = futures::future::ready(Ok(new.parent)).boxed().shared();
                    remember_parent(&mut lock(&reads), new.head.hash, parent);
                    read_ahead(&reads, client.borrow().clone(), (new, received), &reads_out);
                    latest.send_replace(Some(new));
                    announce(SessionEvent::Head { new, received });
                }
                Ok(Some(Err(e))) => break e.to_string(),
                Ok(None) => break "head subscription ended".to_string(),
                Err(_) => break format!("no new block for {}s", HEAD_SILENCE.as_secs()),
            }
        };
        let mut wait = Duration::from_secs(1);
        announce(SessionEvent::Reconnecting {
            reason: lost,
            retry_in: wait,
        });
        let mut attempts = 0;
        loop {
            tokio::time::sleep(wait).await;
            let linked = async {
                let fresh = C::connect(&url).await?;
                if fresh.genesis_hash() != genesis_hash {
                    return Err(ChainError::WrongChain(format!(
                        "{}: reconnected to another chain (genesis 0x{}, was 0x{}): \
                         refusing to sign there",
                        redact_url(&url),
                        hex::encode(fresh.genesis_hash()),
                        hex::encode(genesis_hash)
                    )));
                }
                let heads = fresh.follow_heads().await?;
                Ok::<_, ChainError>((fresh, heads))
            }
            .await;
            match linked {
                Ok((fresh, new_heads)) => {
                    client.send_replace(fresh);
                    heads = new_heads;
                    announce(SessionEvent::Reconnected);
                    break;
                }
                Err(
                    e @ (ChainError::NoPowRegister { .. }
                    | ChainError::Runtime(_)
                    | ChainError::WrongChain(_)),
                ) => {
                    announce(SessionEvent::Lost(e));
                    return;
                }
                Err(e) => {
                    attempts += 1;
                    if attempts >= MAX_CONNECT_ATTEMPTS {
                        // `Unreachable` already names the (redacted) endpoint and the cause.
                        announce(SessionEvent::Lost(match e {
                            ChainError::Unreachable(_) => e,
                            other => {
                                ChainError::Unreachable(format!("{}: {other}", redact_url(&url)))
                            }
                        }));
                        return;
                    }
                    wait = (wait * 2).min(MAX_BACKOFF);
                    announce(SessionEvent::Reconnecting {
                        reason: e.to_string(),
                        retry_in: wait,
                    });
                }
            }
        }
    }
}
