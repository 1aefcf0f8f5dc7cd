//! A running devnet: the chain behind a lock, a block producer on a timer, and the broadcast
//! of new heads that subscriptions and the CLI's log follow.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use jsonrpsee::server::{Server, ServerHandle};
use tokio::sync::broadcast;

use crate::chain::{Chain, Header};
use crate::config::DevnetConfig;

/// The real SCALE metadata (V14) of subtensor mainnet runtime 475, the first with
/// `pow_register`: clients see exactly the types, pallet indices, storage hashers and
/// transaction extensions they see on mainnet.
pub const METADATA: &[u8] = include_bytes!("../metadata/runtime475.scale");

/// `spec_version` of the runtime the metadata describes.
pub const SPEC_VERSION: u32 = 475;
/// `transaction_version` of that runtime.
pub const TRANSACTION_VERSION: u32 = 1;

/// Shared state of a running devnet.
pub struct Node {
    chain: Mutex<Chain>,
    heads: broadcast::Sender<Header>,
    /// The configuration it started with.
    pub config: DevnetConfig,
}

impl Node {
    /// The chain, locked (blocks are produced under this lock).
    pub fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// New heads from now on (finality is immediate: each head is also finalized).
    pub fn subscribe_heads(&self) -> broadcast::Receiver<Header> {
        self.heads.subscribe()
    }

    /// Produces the next block now and announces it.
    pub fn produce_block(&self) -> Header {
        let header = {
            let mut chain = self.chain();
            chain
                .produce_block(|_state, _number| Vec::new())
                .header
                .clone()
        };
        let _ = self.heads.send(header.clone());
        header
    }
}

/// Why the devnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The port could not be bound or the RPC server failed to start.
    #[error("devnet: cannot listen on 127.0.0.1:{port}: {reason}")]
    Listen {
        /// Requested port.
        port: u16,
        /// What the OS said.
        reason: String,
    },
}

/// A started devnet; dropping it does not stop it, [`DevnetHandle::stop`] does.
pub struct DevnetHandle {
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The node, for in-process inspection.
    pub node: Arc<Node>,
    server: ServerHandle,
    producer: tokio::task::JoinHandle<()>,
}

impl DevnetHandle {
    /// Stops block production and the RPC server, and waits for the server to finish.
    pub async fn stop(self) {
        self.producer.abort();
        let _ = self.server.stop();
        self.server.stopped().await;
    }
}

/// Starts the devnet on 127.0.0.1 (must be called inside a tokio runtime). It accepts
/// connections when this returns.
pub async fn start(config: DevnetConfig) -> Result<DevnetHandle, DevnetError> {
    let listen_error = |reason: String| DevnetError::Listen {
        port: config.port,
        reason,
    };
    let server = Server::builder()
        .build(("127.0.0.1", config.port))
        .await
        .map_err(|e| listen_error(e.to_string()))?;
    let addr = server
        .local_addr()
        .map_err(|e| listen_error(e.to_string()))?;
    let (heads, _) = broadcast::channel(64);
    let node = Arc::new(Node {
        chain: Mutex::new(Chain::new(&config)),
        heads,
        config: config.clone(),
    });
    let module = crate::rpc::module(node.clone()).map_err(|e| listen_error(e.to_string()))?;
    let server = server.start(module);
    let producer = {
        let node = node.clone();
        let period = config.block_time;
        tokio::spawn(async move {
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                timer.tick().await;
                node.produce_block();
            }
        })
    };
    Ok(DevnetHandle {
        url: format!("ws://{addr}"),
        addr,
        node,
        server,
        producer,
    })
}
