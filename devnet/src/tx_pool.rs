//! The transaction pool: admits a submitted extrinsic with the same checks as the chain's pool
//! (signature, nonce, era, then the PoW admission rules), keeps it until a block takes it, and
//! tells watchers what became of it.
//!
//! As a Substrate node's pool does, it keeps two queues per account, by nonce: *ready*
//! transactions (their nonces follow the account's without a gap, so the next block takes
//! them) and *future* ones (a nonce above a gap: they wait). A transaction that fills the gap
//! promotes those behind it; `system_accountNextIndex` counts the ready ones only. After each
//! block the future queue is checked again: what became stale (its nonce used, its PoW no
//! longer admissible) is dropped, what became ready is promoted. A transaction whose tags
//! (its signer nonce, its hotkey and work block) a ready one already provides is refused with
//! `1014` at submission, and dropped at promotion.

use tokio::sync::mpsc;

use crate::chain::{Chain, Inclusion};
use crate::extrinsic::{Decoded, FormatError, SignedExtrinsic};
use crate::validity::InvalidTransaction;

/// What a watcher of one transaction hears (`author_extrinsicUpdate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// In the pool, ready for the next block.
    Ready,
    /// In the pool behind a gap in its signer's nonces.
    Future,
    /// Included in the block with this hash.
    InBlock([u8; 32]),
    /// That block is final (the finality lag after `InBlock`).
    Finalized([u8; 32]),
    /// The block with this hash, which included it, was re-organised away: the transaction
    /// is checked again and pooled (`Ready` or `Future` follow), or `Invalid`.
    Retracted([u8; 32]),
    /// Left out of a block, or out of the pool, because it was no longer valid.
    Invalid,
}

impl TxStatus {
    /// Whether nothing follows it.
    pub fn is_last(&self) -> bool {
        matches!(self, TxStatus::Finalized(_) | TxStatus::Invalid)
    }
}

/// Why the pool refused a submission; each maps to the author RPC's error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Not a decodable extrinsic.
    #[error("Extrinsic has invalid format: {0}")]
    BadFormat(#[from] FormatError),
    /// Refused by the runtime's validation.
    #[error("Invalid Transaction: {0}")]
    Invalid(#[from] InvalidTransaction),
    /// The same extrinsic is already pooled.
    #[error("Transaction Already Imported")]
    AlreadyImported,
    /// Another pooled transaction provides the same tag (same signer nonce, or the same
    /// hotkey and work block) at no lower priority.
    #[error("Priority is too low: (0 vs 0)")]
    TooLowPriority,
}

impl SubmitError {
    /// The JSON-RPC error code Substrate's author API uses.
    pub fn code(&self) -> i32 {
        match self {
            SubmitError::BadFormat(_) => 1001,
            SubmitError::Invalid(_) => 1010,
            SubmitError::AlreadyImported => 1013,
            SubmitError::TooLowPriority => 1014,
        }
    }

    /// `(message, data)` as Substrate's author API words them.
    pub fn message_and_data(&self) -> (String, Option<String>) {
        match self {
            SubmitError::BadFormat(e) => (format!("Extrinsic has invalid format: {e}"), None),
            SubmitError::Invalid(e) => ("Invalid Transaction".into(), Some(e.to_string())),
            SubmitError::AlreadyImported => ("Transaction Already Imported".into(), None),
            SubmitError::TooLowPriority => (
                "Priority is too low: (0 vs 0)".into(),
                Some(
                    "The transaction has too low priority to replace another transaction \
                     already in the pool."
                        .into(),
                ),
            ),
        }
    }
}

struct Pooled {
    xt: SignedExtrinsic,
    provides: Vec<Vec<u8>>,
    watchers: Vec<mpsc::UnboundedSender<TxStatus>>,
    /// Its watchers last heard `Ready` (so a promotion does not say it again).
    said_ready: bool,
}

/// Transactions waiting for a block: ready ones in the order they became ready, and future
/// ones.
#[derive(Default)]
pub struct TxPool {
    ready: Vec<Pooled>,
    future: Vec<Pooled>,
    /// Watchers of included transactions until their block is final (`Finalized`) or
    /// re-organised away (`Retracted`, and the transaction pooled again).
    awaiting_finality: Vec<Included>,
}

/// A watcher of a transaction a block included.
struct Included {
    watcher: mpsc::UnboundedSender<TxStatus>,
    /// The transaction's hash (a re-organisation hands its watcher back to it).
    transaction: [u8; 32],
    /// The block's number and hash.
    number: u64,
    block: [u8; 32],
}

impl TxPool {
    /// Validates `bytes` against the head and pools them (ready, or future behind a gap in
    /// the signer's nonces); with `watch`, also returns the receiver of the transaction's
    /// status updates (starting with `Ready` or `Future`).
    pub fn submit(
        &mut self,
        chain: &Chain,
        bytes: &[u8],
        watch: bool,
    ) -> Result<([u8; 32], Option<mpsc::UnboundedReceiver<TxStatus>>), SubmitError> {
        let xt = match SignedExtrinsic::decode(bytes)? {
            Decoded::Signed(xt) => *xt,
            Decoded::Bare => return Err(InvalidTransaction::Call.into()),
        };
        if self.all().any(|p| p.xt.hash == xt.hash) {
            return Err(SubmitError::AlreadyImported);
        }
        // The runtime's validation accepts any nonce not yet used (a later one requires its
        // predecessor); whether it waits is the pool's business.
        let valid = chain.validate(&xt, u32::MAX)?;
        // A nonce a ready transaction already holds (or its seal) is refused, ready or not.
        if self.conflicts(&valid.provides) {
            return Err(SubmitError::TooLowPriority);
        }
        let ready = xt.nonce == self.next_nonce(chain, &xt.signer);
        let hash = xt.hash;
        let mut watchers = Vec::new();
        let receiver = watch.then(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            let _ = sender.send(if ready {
                TxStatus::Ready
            } else {
                TxStatus::Future
            });
            watchers.push(sender);
            receiver
        });
        let pooled = Pooled {
            xt,
            provides: valid.provides,
            watchers,
            said_ready: ready,
        };
        if ready {
            let signer = pooled.xt.signer;
            self.ready.push(pooled);
            self.promote(chain, &signer);
        } else {
            self.future.push(pooled);
        }
        Ok((hash, receiver))
    }

    /// Every pooled transaction, ready and future.
    fn all(&self) -> impl Iterator<Item = &Pooled> {
        self.ready.iter().chain(&self.future)
    }

    /// Whether a ready transaction already provides one of these tags.
    fn conflicts(&self, provides: &[Vec<u8>]) -> bool {
        self.ready
            .iter()
            .any(|p| p.provides.iter().any(|tag| provides.contains(tag)))
    }

    /// Moves the signer's future transactions that no gap holds back any more to the ready
    /// queue, in nonce order; one whose tags a ready transaction provides is dropped (its
    /// watchers hear `Invalid`), as a node's pool drops a promotion it cannot import.
    fn promote(&mut self, chain: &Chain, signer: &[u8; 32]) {
        loop {
            let next = self.next_nonce(chain, signer);
            let Some(at) = self
                .future
                .iter()
                .position(|p| &p.xt.signer == signer && p.xt.nonce == next)
            else {
                return;
            };
            let pooled = self.future.remove(at);
            if self.conflicts(&pooled.provides) {
                for watcher in pooled.watchers {
                    let _ = watcher.send(TxStatus::Invalid);
                }
                continue;
            }
            if !pooled.said_ready {
                for watcher in &pooled.watchers {
                    let _ = watcher.send(TxStatus::Ready);
                }
            }
            let mut pooled = pooled;
            pooled.said_ready = true;
            self.ready.push(pooled);
        }
    }

    /// The signer's next nonce counting its ready transactions (`system_accountNextIndex`).
    pub fn next_nonce(&self, chain: &Chain, signer: &[u8; 32]) -> u32 {
        let pooled = self.ready.iter().filter(|p| &p.xt.signer == signer).count();
        chain.account(signer).nonce + pooled as u32
    }

    /// The pooled extrinsics, ready then future, encoded (`author_pendingExtrinsics`).
    pub fn pending(&self) -> Vec<Vec<u8>> {
        self.all().map(|p| p.xt.bytes.clone()).collect()
    }

    /// How many transactions wait in the future queue.
    pub fn future_len(&self) -> usize {
        self.future.len()
    }

    /// Removes the pooled transactions with these hashes (`author_removeExtrinsic`); their
    /// watchers hear `Invalid`. Returns the hashes removed.
    pub fn remove(&mut self, hashes: &[[u8; 32]]) -> Vec<[u8; 32]> {
        let (removed, kept): (Vec<Pooled>, Vec<Pooled>) = std::mem::take(&mut self.ready)
            .into_iter()
            .partition(|p| hashes.contains(&p.xt.hash));
        self.ready = kept;
        let (removed_future, kept): (Vec<Pooled>, Vec<Pooled>) = std::mem::take(&mut self.future)
            .into_iter()
            .partition(|p| hashes.contains(&p.xt.hash));
        self.future = kept;
        let removed = removed.into_iter().chain(removed_future);
        removed
            .into_iter()
            .map(|p| {
                for watcher in p.watchers {
                    let _ = watcher.send(TxStatus::Invalid);
                }
                p.xt.hash
            })
            .collect()
    }

    /// Tells the watchers of transactions whose block is now final `Finalized`, except
    /// those of the head (see [`TxPool::take_head_finality`]).
    pub fn finalize(&mut self, chain: &Chain) {
        let head = u64::from(chain.head().header.number);
        self.awaiting_finality.retain(|included| {
            if included.number < head && chain.is_final(included.number, &included.block) {
                let _ = included.watcher.send(TxStatus::Finalized(included.block));
                return false;
            }
            true
        });
    }

    /// The watchers of transactions in the head block when the head is final already (a
    /// finality lag of 0), with the block's hash, for the caller to tell `Finalized` a
    /// moment later: a node announces finality a while after inclusion, and clients rely
    /// on that order (polkadot-js, handed both at once, reports only `Finalized`, never
    /// `isInBlock`).
    pub fn take_head_finality(
        &mut self,
        chain: &Chain,
    ) -> Vec<(mpsc::UnboundedSender<TxStatus>, [u8; 32])> {
        let head = chain.head();
        if !chain.is_final(u64::from(head.header.number), &head.hash) {
            return Vec::new();
        }
        let (now, later): (Vec<Included>, Vec<Included>) =
            std::mem::take(&mut self.awaiting_finality)
                .into_iter()
                .partition(|included| included.block == head.hash);
        self.awaiting_finality = later;
        now.into_iter()
            .map(|included| (included.watcher, included.block))
            .collect()
    }

    /// Tells the watchers of transactions whose block a re-organisation left `Retracted`;
    /// returns them by transaction hash, for the transaction pooled again.
    fn retract_orphans(
        &mut self,
        chain: &Chain,
    ) -> Vec<([u8; 32], mpsc::UnboundedSender<TxStatus>)> {
        let mut retracted = Vec::new();
        self.awaiting_finality.retain(|included| {
            if chain.hash_of(included.number) == Some(included.block) {
                return true;
            }
            let _ = included.watcher.send(TxStatus::Retracted(included.block));
            retracted.push((included.transaction, included.watcher.clone()));
            false
        });
        retracted
    }

    /// Hands every ready transaction to block building and tells its watchers the outcome;
    /// then checks the future queue against the new block (see the module's notes).
    pub fn build_block<'c>(&mut self, chain: &'c mut Chain) -> &'c crate::chain::Block {
        let taken = std::mem::take(&mut self.ready);
        let (xts, watchers): (Vec<_>, Vec<_>) =
            taken.into_iter().map(|p| (p.xt, p.watchers)).unzip();
        let (hash, number, outcomes) = {
            let (block, outcomes) = chain.produce_block(xts.clone());
            (block.hash, u64::from(block.header.number), outcomes)
        };
        for ((xt, (_, inclusion)), watchers) in xts.into_iter().zip(outcomes).zip(watchers) {
            match inclusion {
                Inclusion::Included(_) => {
                    for watcher in watchers {
                        let _ = watcher.send(TxStatus::InBlock(hash));
                        self.awaiting_finality.push(Included {
                            watcher,
                            transaction: xt.hash,
                            number,
                            block: hash,
                        });
                    }
                }
                // Its nonce came after one the block could not take: it waits again.
                Inclusion::Dropped(InvalidTransaction::Future) => {
                    for watcher in &watchers {
                        let _ = watcher.send(TxStatus::Future);
                    }
                    if let Ok(valid) = chain.validate(&xt, u32::MAX) {
                        self.future.push(Pooled {
                            xt,
                            provides: valid.provides,
                            watchers,
                            said_ready: false,
                        });
                    } else {
                        for watcher in watchers {
                            let _ = watcher.send(TxStatus::Invalid);
                        }
                    }
                }
                Inclusion::Dropped(_) => {
                    for watcher in watchers {
                        let _ = watcher.send(TxStatus::Invalid);
                    }
                }
            }
        }
        self.revalidate_future(chain);
        self.finalize(chain);
        chain.head()
    }

    /// After a re-organisation: the orphaned blocks' transactions (`orphaned`, oldest
    /// first) come back to the pool with their watchers (`Retracted` first), and every
    /// pooled transaction is checked again against the new head, as a node's pool does when
    /// its best chain changes: the accounts' nonces went back to the fork point's, so what
    /// was ready may now wait behind a gap (its watchers hear `Future`), be ready again, or
    /// be stale (`Invalid`).
    pub fn after_reorg(&mut self, chain: &Chain, orphaned: Vec<SignedExtrinsic>) {
        let mut retracted = self.retract_orphans(chain);
        self.finalize(chain);
        let mut waiting: Vec<Pooled> = Vec::new();
        for xt in orphaned {
            let watchers = retracted
                .iter()
                .filter(|(hash, _)| *hash == xt.hash)
                .map(|(_, watcher)| watcher.clone())
                .collect();
            retracted.retain(|(hash, _)| *hash != xt.hash);
            match chain.validate(&xt, u32::MAX) {
                Ok(valid) if !self.all().any(|p| p.xt.hash == xt.hash) => waiting.push(Pooled {
                    xt,
                    provides: valid.provides,
                    watchers,
                    said_ready: false,
                }),
                _ => {
                    for watcher in watchers {
                        let _ = watcher.send(TxStatus::Invalid);
                    }
                }
            }
        }
        // Watchers whose transaction the orphaned blocks did not carry (none, unless a
        // block was built elsewhere): nothing will include it again.
        for (_, watcher) in retracted {
            let _ = watcher.send(TxStatus::Invalid);
        }
        waiting.append(&mut std::mem::take(&mut self.ready));
        let moved: Vec<[u8; 32]> = waiting.iter().map(|p| p.xt.hash).collect();
        self.future.splice(0..0, waiting);
        self.revalidate_future(chain);
        // Those now behind a gap say so; the ones promoted heard `Ready` unless it was the
        // last thing they heard.
        for pooled in &mut self.future {
            if moved.contains(&pooled.xt.hash) {
                for watcher in &pooled.watchers {
                    let _ = watcher.send(TxStatus::Future);
                }
                pooled.said_ready = false;
            }
        }
    }

    /// Drops the future transactions the new head makes invalid (a used nonce, a PoW that is
    /// no longer admissible) and promotes those whose gap closed.
    fn revalidate_future(&mut self, chain: &Chain) {
        let mut kept = Vec::new();
        for mut pooled in std::mem::take(&mut self.future) {
            match chain.validate(&pooled.xt, u32::MAX) {
                Ok(valid) => {
                    pooled.provides = valid.provides;
                    kept.push(pooled);
                }
                Err(_) => {
                    for watcher in pooled.watchers {
                        let _ = watcher.send(TxStatus::Invalid);
                    }
                }
            }
        }
        self.future = kept;
        let mut signers: Vec<[u8; 32]> = self.future.iter().map(|p| p.xt.signer).collect();
        signers.sort_unstable();
        signers.dedup();
        for signer in signers {
            self.promote(chain, &signer);
        }
    }
}
