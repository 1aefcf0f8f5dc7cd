//! A running devnet: the chain behind a lock, a block producer on a timer, and the broadcast
//! of new heads that subscriptions and the CLI's log follow.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jsonrpsee::core::id_providers::RandomStringIdProvider;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use tokio::sync::broadcast;

use crate::chain::{Chain, Header};
use crate::config::DevnetConfig;
use crate::events::EventRecord;
use crate::pool::{Pool, TxStatus};

/// The real SCALE metadata (V14) of subtensor mainnet runtime 475, the first with
/// `pow_register`: clients see exactly the types, pallet indices, storage hashers and
/// transaction extensions they see on mainnet.
pub const METADATA: &[u8] = include_bytes!("../metadata/runtime475.scale");

/// `spec_version` of the runtime the metadata describes.
pub const SPEC_VERSION: u32 = 475;
/// `transaction_version` of that runtime.
pub const TRANSACTION_VERSION: u32 = 1;

/// The chain and the transaction pool, under one lock so that admission and block
/// building always see the same state.
pub struct Ledger {
    /// Blocks and state.
    pub chain: Chain,
    /// Transactions waiting for the next block.
    pub pool: Pool,
}

/// A block just produced, as announced to subscribers and the CLI's log.
#[derive(Clone, Debug)]
pub struct Imported {
    /// Its hash.
    pub hash: [u8; 32],
    /// Its header (finality is immediate: it is also the finalized head).
    pub header: Header,
    /// The events its extrinsics deposited.
    pub events: Vec<EventRecord>,
}

/// Shared state of a running devnet.
pub struct Node {
    ledger: Mutex<Ledger>,
    blocks: broadcast::Sender<Imported>,
    /// The configuration it started with.
    pub config: DevnetConfig,
}

impl Node {
    /// A node at genesis (not serving anything yet).
    pub fn new(config: DevnetConfig) -> Self {
        let (blocks, _) = broadcast::channel(64);
        Self {
            ledger: Mutex::new(Ledger {
                chain: Chain::new(&config),
                pool: Pool::default(),
            }),
            blocks,
            config,
        }
    }

    /// The chain and pool, locked (blocks are produced under this lock).
    pub fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks produced from now on.
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<Imported> {
        self.blocks.subscribe()
    }

    /// How long after `inBlock` a watcher hears `finalized`: half a block time, from 50 ms
    /// to 1 s. Blocks are final at once, but a node announces finality a while after
    /// inclusion, and clients rely on that order: polkadot-js, handed both at once, reports
    /// only `Finalized` and never `isInBlock`.
    pub fn finality_delay(&self) -> Duration {
        (self.config.block_time / 2).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// Produces the next block now from the pooled transactions, and announces it; the
    /// included transactions' watchers hear `Finalized` after [`Node::finality_delay`]
    /// (at once outside a tokio runtime).
    pub fn produce_block(&self) -> Imported {
        let (imported, finalizing) = {
            let mut guard = self.lock();
            let Ledger { chain, pool } = &mut *guard;
            let block = pool.build_block(chain);
            let imported = Imported {
                hash: block.hash,
                header: block.header.clone(),
                events: block.events.clone(),
            };
            (imported, pool.take_finalizing())
        };
        let _ = self.blocks.send(imported.clone());
        let finalize = move || {
            for (watcher, hash) in finalizing {
                let _ = watcher.send(TxStatus::Finalized(hash));
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let delay = self.finality_delay();
                runtime.spawn(async move {
                    tokio::time::sleep(delay).await;
                    finalize();
                });
            }
            Err(_) => finalize(),
        }
        imported
    }
}

impl Node {
    /// Development only: re-organises the newest `depth` blocks onto a fork of `depth + 1`
    /// new blocks (see [`Chain::reorg`]) and announces the new head alone, as a node
    /// announces its new best block after a re-organisation.
    pub fn reorg(&self, depth: usize) -> Result<Imported, String> {
        let imported = {
            let mut guard = self.lock();
            let block = guard.chain.reorg(depth)?;
            Imported {
                hash: block.hash,
                header: block.header.clone(),
                events: block.events.clone(),
            }
        };
        let _ = self.blocks.send(imported.clone());
        Ok(imported)
    }
}

/// The RPC server's configuration: subscription ids are random strings, as a node hands
/// them out (subxt's chain-head backend needs a string `chainHead_v1_follow` id).
fn server_config() -> ServerConfig {
    ServerConfig::builder()
        .set_id_provider(RandomStringIdProvider::new(16))
        .build()
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
    /// Closes the RPC server and every connection while the chain keeps producing blocks
    /// (what a node restart or network cut looks like to clients).
    pub async fn stop_rpc(&mut self) {
        let _ = self.server.stop();
        self.server.clone().stopped().await;
    }

    /// Serves RPC again on the same address after [`DevnetHandle::stop_rpc`].
    pub async fn restart_rpc(&mut self) -> Result<(), DevnetError> {
        let listen_error = |reason: String| DevnetError::Listen {
            port: self.addr.port(),
            reason,
        };
        let server = Server::builder()
            .set_config(server_config())
            .build(self.addr)
            .await
            .map_err(|e| listen_error(e.to_string()))?;
        let module =
            crate::rpc::module(self.node.clone()).map_err(|e| listen_error(e.to_string()))?;
        self.server = server.start(module);
        Ok(())
    }

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
        .set_config(server_config())
        .build(("127.0.0.1", config.port))
        .await
        .map_err(|e| listen_error(e.to_string()))?;
    let addr = server
        .local_addr()
        .map_err(|e| listen_error(e.to_string()))?;
    let node = Arc::new(Node::new(config.clone()));
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
