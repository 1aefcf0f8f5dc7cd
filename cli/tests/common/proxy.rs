//! A fault-injecting websocket proxy for the tests: it sits between `regpow` and the devnet,
//! forwards JSON-RPC messages both ways, and on command drops the connection after a given
//! reply or message count, withholds or delays replies, and answers chosen methods with an
//! error of its own. It counts what passes (submissions above all).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// What the proxy does to the traffic; change it at any time through [`Proxy::faults`].
#[derive(Default, Debug, Clone)]
pub struct Faults {
    /// Close the connection abruptly right after forwarding a node message that contains
    /// this text (once; it is cleared when it fires).
    pub drop_after_reply: Option<String>,
    /// Close the connection abruptly after this many more client messages (once).
    pub drop_after_messages: Option<usize>,
    /// Never forward the node's replies to these methods.
    pub withhold: HashSet<String>,
    /// Hold every node message this long before forwarding it.
    pub delay: Duration,
    /// Answer these methods with these JSON-RPC error objects instead of forwarding them:
    /// each request takes the first error left in its method's queue; an empty queue
    /// forwards again.
    pub answer_with_error: HashMap<String, Vec<Value>>,
    /// Close new connections at once.
    pub refuse: bool,
    /// Change the node's replies: a hostile node's words.
    pub rewrite: Option<Rewrite>,
    /// Answer requests in the node's place: a hostile node's own protocol.
    pub intercept: Option<Intercept>,
}

/// Handles a client request instead of the node: given the request and a sender of
/// messages to the client, returns whether it answered (the request is then not forwarded).
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct Intercept(
    pub Arc<dyn Fn(&Value, &mpsc::UnboundedSender<Message>) -> bool + Send + Sync>,
);

impl std::fmt::Debug for Intercept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Intercept(..)")
    }
}

/// Changes a node reply's `result` in place, given the request's method and params.
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct Rewrite(pub Arc<dyn Fn(&str, &Value, &mut Value) + Send + Sync>);

impl std::fmt::Debug for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rewrite(..)")
    }
}

/// What went through the proxy.
#[derive(Default, Debug)]
pub struct Stats {
    /// `author_submitExtrinsic` / `author_submitAndWatchExtrinsic` requests forwarded or
    /// answered.
    pub submissions: AtomicUsize,
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Connections the proxy cut on purpose.
    pub drops: AtomicUsize,
}

/// A running proxy.
pub struct Proxy {
    /// `ws://127.0.0.1:PORT`: point `regpow` here.
    pub url: String,
    faults: Arc<Mutex<Faults>>,
    /// Counters.
    pub stats: Arc<Stats>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (a `ws://` URL).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(Faults::default()));
        let stats = Arc::new(Stats::default());
        let (cut, cut_rx) = watch::channel(0u64);
        let upstream = upstream.to_string();
        {
            let (faults, stats) = (faults.clone(), stats.clone());
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    stats.connections.fetch_add(1, Ordering::SeqCst);
                    if faults.lock().unwrap().refuse {
                        drop(tcp);
                        continue;
                    }
                    let (faults, stats, upstream, cut_rx) = (
                        faults.clone(),
                        stats.clone(),
                        upstream.clone(),
                        cut_rx.clone(),
                    );
                    tokio::spawn(async move {
                        let _ = connection(tcp, &upstream, faults, stats, cut_rx).await;
                    });
                }
            });
        }
        Proxy {
            url,
            faults,
            stats,
            cut,
        }
    }

    /// Changes the faults.
    pub fn faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.faults.lock().unwrap());
    }

    /// Cuts every open connection now.
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Submissions seen so far.
    pub fn submissions(&self) -> usize {
        self.stats.submissions.load(Ordering::SeqCst)
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn connection(
    tcp: tokio::net::TcpStream,
    upstream: &str,
    faults: Arc<Mutex<Faults>>,
    stats: Arc<Stats>,
    mut cut: watch::Receiver<u64>,
) -> Result<(), Error> {
    cut.mark_unchanged();
    let client = tokio_tungstenite::accept_async(tcp).await?;
    let (node, _) = tokio_tungstenite::connect_async(upstream).await?;
    let (mut to_client, mut from_client) = client.split();
    let (mut to_node, mut from_node) = node.split();
    // Everything for the client goes through one queue (node replies and our own errors).
    let (client_tx, mut client_rx) = mpsc::unbounded_channel::<Message>();
    // Request id → (method, params), to route replies to faults and rewrites.
    let methods: Arc<Mutex<HashMap<String, (String, Value)>>> = Default::default();
    let (kill_tx, mut kill) = watch::channel(false);

    let upward = {
        let (faults, stats, methods, client_tx, kill_tx) = (
            faults.clone(),
            stats.clone(),
            methods.clone(),
            client_tx.clone(),
            kill_tx.clone(),
        );
        async move {
            while let Some(Ok(message)) = from_client.next().await {
                if let Message::Text(text) = &message {
                    if let Ok(request) = serde_json::from_str::<Value>(text.as_str()) {
                        let method = request["method"].as_str().unwrap_or_default().to_string();
                        let id = request["id"].to_string();
                        if method.starts_with("author_submit") {
                            stats.submissions.fetch_add(1, Ordering::SeqCst);
                        }
                        let answer = faults
                            .lock()
                            .unwrap()
                            .answer_with_error
                            .get_mut(&method)
                            .filter(|queue| !queue.is_empty())
                            .map(|queue| queue.remove(0));
                        if let Some(error) = answer {
                            let reply = serde_json::json!({"jsonrpc": "2.0", "id": request["id"], "error": error});
                            let _ = client_tx.send(Message::text(reply.to_string()));
                            continue;
                        }
                        let intercept = faults.lock().unwrap().intercept.clone();
                        if let Some(Intercept(intercept)) = intercept {
                            if intercept(&request, &client_tx) {
                                continue;
                            }
                        }
                        methods
                            .lock()
                            .unwrap()
                            .insert(id, (method, request["params"].clone()));
                    }
                }
                if to_node.send(message).await.is_err() {
                    break;
                }
                let fire = {
                    let mut f = faults.lock().unwrap();
                    match f.drop_after_messages.as_mut() {
                        Some(0) | Some(1) => {
                            f.drop_after_messages = None;
                            true
                        }
                        Some(n) => {
                            *n -= 1;
                            false
                        }
                        None => false,
                    }
                };
                if fire {
                    stats.drops.fetch_add(1, Ordering::SeqCst);
                    let _ = kill_tx.send(true);
                    break;
                }
            }
            let _ = kill_tx.send(true);
        }
    };
    // Node messages are stamped on arrival and released `delay` later, so a delay is a
    // constant latency rather than one that piles up.
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel::<(tokio::time::Instant, Message)>();
    let reader = async move {
        while let Some(Ok(message)) = from_node.next().await {
            if arrived_tx
                .send((tokio::time::Instant::now(), message))
                .is_err()
            {
                break;
            }
        }
    };
    let downward = {
        let (faults, stats, methods, kill_tx) = (
            faults.clone(),
            stats.clone(),
            methods.clone(),
            kill_tx.clone(),
        );
        async move {
            while let Some((at, mut message)) = arrived.recv().await {
                let mut text = message.to_text().unwrap_or_default().to_string();
                let reply = serde_json::from_str::<Value>(&text).ok();
                let request = reply.as_ref().and_then(|reply| {
                    methods
                        .lock()
                        .unwrap()
                        .get(&reply["id"].to_string())
                        .cloned()
                });
                let method = request.as_ref().map(|(method, _)| method.clone());
                let (withheld, delay, rewrite) = {
                    let f = faults.lock().unwrap();
                    (
                        method.as_ref().is_some_and(|m| f.withhold.contains(m)),
                        f.delay,
                        f.rewrite.clone(),
                    )
                };
                if let (Some(Rewrite(rewrite)), Some((method, params)), Some(mut reply)) =
                    (rewrite, request, reply)
                {
                    if reply.get("result").is_some() {
                        rewrite(&method, &params, &mut reply["result"]);
                        text = reply.to_string();
                        message = Message::text(text.clone());
                    }
                }
                if withheld {
                    continue;
                }
                tokio::time::sleep_until(at + delay).await;
                if client_tx.send(message).is_err() {
                    break;
                }
                let fire = {
                    let mut f = faults.lock().unwrap();
                    let hit = f
                        .drop_after_reply
                        .as_ref()
                        .is_some_and(|needle| text.contains(needle.as_str()));
                    if hit {
                        f.drop_after_reply = None;
                    }
                    hit
                };
                if fire {
                    // Let the reply reach the client first.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    stats.drops.fetch_add(1, Ordering::SeqCst);
                    let _ = kill_tx.send(true);
                    break;
                }
            }
            let _ = kill_tx.send(true);
        }
    };
    let writer = async move {
        while let Some(message) = client_rx.recv().await {
            if to_client.send(message).await.is_err() {
                break;
            }
        }
    };
    // Whatever ends first (a cut, a fault firing, either side closing) ends all of it:
    // the sockets are dropped without a close frame, as a network fault would.
    tokio::select! {
        _ = upward => {}
        _ = downward => {}
        _ = reader => {}
        _ = writer => {}
        _ = kill.wait_for(|k| *k) => {}
        _ = cut.changed() => {}
    }
    Ok(())
}
