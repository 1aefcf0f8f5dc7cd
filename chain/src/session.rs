//! One session per network, shared by every registration of a process.
//!
//! The session follows the chain's best heads once and hands each to every registration
//! subscribed to it; it watches for silence, reconnects with backoff when the subscription
//! drops, and reads a subnet's state at a head once however many registrations ask for it at
//! the same time (concurrent reads of the same head, subnet, hotkey and signer share one
//! round of RPCs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};

use crate::api::{ChainApi, Heads};
use crate::client::NewHead;
use crate::network::redact_url;
use crate::state::{Head, SubnetState};
use crate::ChainError;
use regpow_rules::PublicKey;

/// With no new block for this long the connection is treated as lost (five 12 s blocks).
pub const HEAD_SILENCE: Duration = Duration::from_secs(60);

/// Connection attempts in a row before the endpoint counts as gone.
const MAX_CONNECT_ATTEMPTS: u32 = 8;

/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// State reads kept for sharing (a few heads' worth for every subnet and hotkey).
const CACHED_READS: usize = 256;

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

type StateRead = Shared<BoxFuture<'static, Result<SubnetState, ChainError>>>;
type StateKey = ([u8; 32], u16, [u8; 32], Option<[u8; 32]>);

/// A chain connection shared by registrations. Dropping it stops following.
pub struct Session<C: ChainApi> {
    url: String,
    client: watch::Receiver<C>,
    events: broadcast::Sender<SessionEvent>,
    reads: Mutex<(HashMap<StateKey, StateRead>, Vec<StateKey>)>,
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
            reads: Mutex::new((HashMap::new(), Vec::new())),
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

    /// The subnet's and the hotkey's state at `head` (with `signer`'s nonce): one read for
    /// every registration asking the same question at the same time.
    pub async fn subnet_state(
        &self,
        head: Head,
        netuid: u16,
        hotkey: &PublicKey,
        signer: Option<&PublicKey>,
    ) -> Result<SubnetState, ChainError> {
        let key = (head.hash, netuid, hotkey.0, signer.map(|s| s.0));
        let read = {
            let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            let (map, order) = &mut *reads;
            match map.get(&key) {
                Some(read) => read.clone(),
                None => {
                    let client = self.client();
                    let (hotkey, signer) = (*hotkey, signer.copied());
                    let read = async move {
                        client
                            .subnet_state(head, netuid, &hotkey, signer.as_ref())
                            .await
                    }
                    .boxed()
                    .shared();
                    map.insert(key, read.clone());
                    order.push(key);
                    if order.len() > CACHED_READS {
                        let old = order.remove(0);
                        map.remove(&old);
                    }
                    read
                }
            }
        };
        let result = read.await;
        if result.is_err() {
            // A failed read is not kept: the next asker tries again.
            let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            reads.0.remove(&key);
            reads.1.retain(|k| *k != key);
        }
        result
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
