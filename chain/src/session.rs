//! One session per network, shared by every registration of a process.
//!
//! The session follows the chain's best heads once and hands each to every registration
//! subscribed to it; it watches for silence, reconnects with backoff when the subscription
//! drops, and reads state for all of them together: a subnet's state once per head, and the
//! hotkeys asked about within a few milliseconds of each other in one round.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};

use crate::api::{ChainApi, Heads};
use crate::network::redact_url;
use crate::state::NewHead;
use crate::state::{Head, HotkeyInfo, SubnetInfo, SubnetState};
use crate::ChainError;
use regpow_rules::PublicKey;

/// With no new block for this long the connection is treated as lost (five 12 s blocks).
pub const HEAD_SILENCE: Duration = Duration::from_secs(60);

/// Connection attempts in a row before the endpoint counts as gone.
const MAX_CONNECT_ATTEMPTS: u32 = 8;

/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reads kept for sharing (a few heads' worth of every subnet and hotkey batch).
const CACHED_READS: usize = 256;

/// How long a hotkey read waits for others to join its round.
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

type SubnetRead = Shared<BoxFuture<'static, Result<SubnetInfo, ChainError>>>;
type HotkeyKey = (PublicKey, Option<PublicKey>);
type HotkeyRead =
    Shared<BoxFuture<'static, Result<Arc<HashMap<HotkeyKey, HotkeyInfo>>, ChainError>>>;

/// Hotkeys asked about at one head on one subnet: open until its round starts.
struct HotkeyBatch {
    /// Closed once the round has taken its list; later askers start a new batch.
    keys: Arc<Mutex<(bool, Vec<HotkeyKey>)>>,
    read: HotkeyRead,
}

/// The reads a session shares, oldest first for pruning.
#[derive(Default)]
struct Reads {
    subnets: HashMap<([u8; 32], u16), SubnetRead>,
    subnet_order: Vec<([u8; 32], u16)>,
    batches: HashMap<([u8; 32], u16), HotkeyBatch>,
    batch_order: Vec<([u8; 32], u16)>,
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

/// A chain connection shared by registrations. Dropping it stops following.
pub struct Session<C: ChainApi> {
    url: String,
    client: watch::Receiver<C>,
    events: broadcast::Sender<SessionEvent>,
    reads: Mutex<Reads>,
    follower: tokio::task::JoinHandle<()>,
}

impl<C: ChainApi> Session<C> {
    /// Starts following `client`'s heads (within a tokio runtime). Subscribe before reading
    /// anything, so that no head is missed.
    pub async fn start(client: C) -> Result<Arc<Self>, ChainError> {
        let heads = client.follow_heads().await?;
        let url = client.url().to_string();
        let (client_tx, client_rx) = watch::channel(client);
        let (events, _) = broadcast::channel(256);
        let follower = tokio::spawn(follow(heads, client_tx, events.clone(), url.clone()));
        Ok(Arc::new(Self {
            url,
            client: client_rx,
            events,
            reads: Mutex::new(Reads::default()),
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

    fn reads(&self) -> std::sync::MutexGuard<'_, Reads> {
        self.reads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The subnet's and the hotkey's state at `head` (with `signer`'s nonce). The subnet's
    /// part is read once per head for every registration; the hotkey's joins the other
    /// hotkeys asked about within `BATCH_WINDOW` (2 ms) in one round.
    pub async fn subnet_state(
        &self,
        head: Head,
        netuid: u16,
        hotkey: &PublicKey,
        signer: Option<&PublicKey>,
    ) -> Result<SubnetState, ChainError> {
        let (subnet, hotkey) = tokio::try_join!(
            self.subnet_info(head, netuid),
            self.hotkey_info(head, netuid, (*hotkey, signer.copied())),
        )?;
        Ok(SubnetState::from_parts(subnet, hotkey))
    }

    /// The subnet's state at `head`, read once however many ask.
    pub async fn subnet_info(&self, head: Head, netuid: u16) -> Result<SubnetInfo, ChainError> {
        let key = (head.hash, netuid);
        let read = {
            let mut reads = self.reads();
            match reads.subnets.get(&key) {
                Some(read) => read.clone(),
                None => {
                    let client = self.client();
                    let read = async move { client.subnet_info(head, netuid).await }
                        .boxed()
                        .shared();
                    let Reads {
                        subnets,
                        subnet_order,
                        ..
                    } = &mut *reads;
                    remember(subnets, subnet_order, key, read.clone());
                    read
                }
            }
        };
        let result = read.await;
        if result.is_err() {
            // A failed read is not kept: the next asker tries again.
            self.reads().subnets.remove(&key);
        }
        result
    }

    /// One hotkey's state at `head`, in a round with every hotkey of the subnet asked about
    /// at about the same time.
    pub async fn hotkey_info(
        &self,
        head: Head,
        netuid: u16,
        asked: HotkeyKey,
    ) -> Result<HotkeyInfo, ChainError> {
        let key = (head.hash, netuid);
        let read = {
            let mut reads = self.reads();
            let joined = reads.batches.get(&key).and_then(|batch| {
                let mut keys = batch.keys.lock().unwrap_or_else(|p| p.into_inner());
                if keys.0 {
                    return None;
                }
                if !keys.1.contains(&asked) {
                    keys.1.push(asked);
                }
                Some(batch.read.clone())
            });
            match joined {
                Some(read) => read,
                None => {
                    let keys = Arc::new(Mutex::new((false, vec![asked])));
                    let client = self.client();
                    let round = keys.clone();
                    let read = async move {
                        tokio::time::sleep(BATCH_WINDOW).await;
                        let asked = {
                            let mut keys = round.lock().unwrap_or_else(|p| p.into_inner());
                            keys.0 = true;
                            keys.1.clone()
                        };
                        let infos = client.hotkey_infos(head, netuid, &asked).await?;
                        Ok(Arc::new(asked.into_iter().zip(infos).collect()))
                    }
                    .boxed()
                    .shared();
                    let Reads {
                        batches,
                        batch_order,
                        ..
                    } = &mut *reads;
                    let batch = HotkeyBatch {
                        keys,
                        read: read.clone(),
                    };
                    remember(batches, batch_order, key, batch);
                    read
                }
            }
        };
        let infos = read.await?;
        infos
            .get(&asked)
            .cloned()
            .ok_or_else(|| ChainError::Rpc("the chain returned no state for the hotkey".into()))
    }
}

impl<C: ChainApi> Drop for Session<C> {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// Follows heads until the endpoint is gone, reconnecting with backoff; announces everything
/// on `events`.
async fn follow<C: ChainApi>(
    mut heads: Heads,
    client: watch::Sender<C>,
    events: broadcast::Sender<SessionEvent>,
    url: String,
) {
    let announce = |event: SessionEvent| {
        // No subscriber at the moment is fine: registrations come and go.
        let _ = events.send(event);
    };
    loop {
        let lost = loop {
            match tokio::time::timeout(HEAD_SILENCE, heads.next()).await {
                Ok(Some(Ok(new))) => announce(SessionEvent::Head {
                    new,
                    received: Instant::now(),
                }),
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
                Err(e @ (ChainError::NoPowRegister { .. } | ChainError::Runtime(_))) => {
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
