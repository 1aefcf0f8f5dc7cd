//! The node: the chain and the pool behind one lock, block production, and the broadcast of
//! new heads that subscriptions and the CLI's log follow. `server.rs` runs it.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::chain::{Chain, Header};
use crate::config::DevnetConfig;
use crate::events::EventRecord;
use crate::tx_pool::{TxPool, TxStatus};

/// The chain and the transaction pool, under one lock so that admission and block
/// building always see the same state.
pub struct Ledger {
    /// Blocks and state.
    pub chain: Chain,
    /// Transactions waiting for the next block.
    pub tx_pool: TxPool,
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
    /// Refuses an unsafe RPC method unless the devnet runs with
    /// [`RpcMethods::Unsafe`](crate::config::RpcMethods) (a node's own error, code -32601).
    pub fn check_unsafe(&self) -> jsonrpsee::core::RpcResult<()> {
        match self.config.rpc_methods {
            crate::config::RpcMethods::Unsafe => Ok(()),
            crate::config::RpcMethods::Safe => Err(crate::rpc::error(
                -32601,
                "RPC call is unsafe to be called externally",
            )),
        }
    }

    /// A node at genesis (not serving anything yet).
    pub fn new(config: DevnetConfig) -> Self {
        let (blocks, _) = broadcast::channel(64);
        Self {
            ledger: Mutex::new(Ledger {
                chain: Chain::new(&config),
                tx_pool: TxPool::default(),
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
            let Ledger { chain, tx_pool } = &mut *guard;
            let block = tx_pool.build_block(chain);
            let imported = Imported {
                hash: block.hash,
                header: block.header.clone(),
                events: block.events.clone(),
            };
            (imported, tx_pool.take_finalizing())
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
    /// new blocks (see [`Chain::reorg`]), checks the pool again against the new head, and
    /// announces the new head alone, as a node announces its new best block after a
    /// re-organisation.
    pub fn reorg(&self, depth: usize) -> Result<Imported, String> {
        let imported = {
            let mut guard = self.lock();
            let Ledger { chain, tx_pool } = &mut *guard;
            let block = chain.reorg(depth)?;
            let imported = Imported {
                hash: block.hash,
                header: block.header.clone(),
                events: block.events.clone(),
            };
            tx_pool.after_reorg(chain);
            imported
        };
        let _ = self.blocks.send(imported.clone());
        Ok(imported)
    }
}
