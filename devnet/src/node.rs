//! The node: the chain and the pool behind one lock, block production, and the broadcast of
//! new heads that subscriptions and the CLI's log follow. `server.rs` runs it.

use std::sync::{Mutex, MutexGuard};

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
    /// Its header.
    pub header: Header,
    /// The events its extrinsics deposited.
    pub events: Vec<EventRecord>,
    /// The newest final block once it was imported (the finality lag behind it).
    pub finalized: [u8; 32],
    /// It became the best block. A re-organisation imports its fork's blocks in order and
    /// only the last, the longest chain's head, becomes the best: the others are imported
    /// blocks (`chain_subscribeAllHeads`) but never new heads.
    pub best: bool,
}

impl Imported {
    /// The chain's head, as just imported.
    fn head_of(chain: &Chain) -> Self {
        Self::block_of(chain, chain.head(), true)
    }

    fn block_of(chain: &Chain, block: &crate::chain::Block, best: bool) -> Self {
        Self {
            hash: block.hash,
            header: block.header.clone(),
            events: block.events.clone(),
            finalized: chain.finalized().hash,
            best,
        }
    }
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

    /// Produces the next block now from the pooled transactions, and announces it; the
    /// watchers of transactions in the block that became final hear `Finalized`. With a
    /// finality lag of 0 the new block is final at once, and its transactions' watchers
    /// hear it [`Node::finality_delay`] after `InBlock` (at once outside a tokio runtime).
    pub fn produce_block(&self) -> Imported {
        let (imported, final_at_once) = {
            let mut guard = self.lock();
            let Ledger { chain, tx_pool } = &mut *guard;
            tx_pool.build_block(chain);
            (Imported::head_of(chain), tx_pool.take_head_finality(chain))
        };
        let _ = self.blocks.send(imported.clone());
        if !final_at_once.is_empty() {
            let finalize = move || {
                for (watcher, hash) in final_at_once {
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
        }
        imported
    }

    /// How long after `InBlock` a watcher hears `Finalized` when blocks are final as they
    /// are produced: half a block time, from 50 ms to 1 s.
    pub fn finality_delay(&self) -> std::time::Duration {
        (self.config.block_time / 2).clamp(
            std::time::Duration::from_millis(50),
            std::time::Duration::from_secs(1),
        )
    }
}

impl Node {
    /// Development only: re-organises the newest `depth` blocks onto a fork of `depth + 1`
    /// new blocks (see [`Chain::reorg`]) and checks the pool again against the new head.
    /// Each fork block is announced as imported, in order, and only the last as the new
    /// best head, as a node importing the fork announces it. Returns the new head.
    pub fn reorg(&self, depth: usize) -> Result<Imported, String> {
        let imported: Vec<Imported> = {
            let mut guard = self.lock();
            let Ledger { chain, tx_pool } = &mut *guard;
            let orphaned = chain.reorg(depth)?;
            tx_pool.after_reorg(chain, orphaned);
            let head = u64::from(chain.head().header.number);
            (head - depth as u64..=head)
                .filter_map(|n| chain.block(n))
                .map(|block| Imported::block_of(chain, block, block.hash == chain.head().hash))
                .collect()
        };
        for block in &imported {
            let _ = self.blocks.send(block.clone());
        }
        Ok(imported.last().expect("the new head").clone())
    }
}
