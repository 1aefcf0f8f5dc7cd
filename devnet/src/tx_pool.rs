//! The transaction pool: admits a submitted extrinsic with the same checks as the chain's pool
//! (signature, nonce, era, then the PoW admission rules), keeps it until the next block, and
//! tells watchers what became of it.

use tokio::sync::mpsc;

use crate::chain::{Chain, Inclusion};
use crate::extrinsic::{Decoded, FormatError, SignedExtrinsic};
use crate::validity::InvalidTransaction;

/// What a watcher of one transaction hears (`author_extrinsicUpdate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// In the pool, ready for the next block.
    Ready,
    /// Included in the block with this hash.
    InBlock([u8; 32]),
    /// That block is final (announced a moment after `InBlock`; see `Node::produce_block`).
    Finalized([u8; 32]),
    /// Left out of a block because it was no longer valid.
    Invalid,
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
}

/// Transactions waiting for the next block, in arrival order.
#[derive(Default)]
pub struct TxPool {
    ready: Vec<Pooled>,
    /// Watchers of the transactions in the newest block, with its hash, until the node
    /// tells them `Finalized` (see `Node::produce_block` in `node.rs`).
    awaiting_finality: Vec<(mpsc::UnboundedSender<TxStatus>, [u8; 32])>,
}

impl TxPool {
    /// Validates `bytes` against the head and pools them; with `watch`, also returns the
    /// receiver of the transaction's status updates (starting with `Ready`).
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
        if self.ready.iter().any(|p| p.xt.hash == xt.hash) {
            return Err(SubmitError::AlreadyImported);
        }
        let next_nonce = self.next_nonce(chain, &xt.signer);
        let valid = chain.validate(&xt, next_nonce)?;
        if self
            .ready
            .iter()
            .any(|p| p.provides.iter().any(|tag| valid.provides.contains(tag)))
        {
            return Err(SubmitError::TooLowPriority);
        }
        let hash = xt.hash;
        let mut watchers = Vec::new();
        let receiver = watch.then(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            let _ = sender.send(TxStatus::Ready);
            watchers.push(sender);
            receiver
        });
        self.ready.push(Pooled {
            xt,
            provides: valid.provides,
            watchers,
        });
        Ok((hash, receiver))
    }

    /// The signer's next nonce counting its pooled transactions (`system_accountNextIndex`).
    pub fn next_nonce(&self, chain: &Chain, signer: &[u8; 32]) -> u32 {
        let pooled = self.ready.iter().filter(|p| &p.xt.signer == signer).count();
        chain.account(signer).nonce + pooled as u32
    }

    /// The pooled extrinsics, encoded (`author_pendingExtrinsics`).
    pub fn pending(&self) -> Vec<Vec<u8>> {
        self.ready.iter().map(|p| p.xt.bytes.clone()).collect()
    }

    /// Removes the pooled transactions with these hashes (`author_removeExtrinsic`); their
    /// watchers hear `Invalid`. Returns the hashes removed.
    pub fn remove(&mut self, hashes: &[[u8; 32]]) -> Vec<[u8; 32]> {
        let (removed, kept): (Vec<Pooled>, Vec<Pooled>) = std::mem::take(&mut self.ready)
            .into_iter()
            .partition(|p| hashes.contains(&p.xt.hash));
        self.ready = kept;
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

    /// The watchers of the transactions just included, with their block's hash: each is
    /// owed a `Finalized`.
    pub fn take_finalizing(&mut self) -> Vec<(mpsc::UnboundedSender<TxStatus>, [u8; 32])> {
        std::mem::take(&mut self.awaiting_finality)
    }

    /// Hands every pooled transaction to block building and tells its watchers the outcome.
    pub fn build_block<'c>(&mut self, chain: &'c mut Chain) -> &'c crate::chain::Block {
        let taken = std::mem::take(&mut self.ready);
        let (xts, watchers): (Vec<_>, Vec<_>) =
            taken.into_iter().map(|p| (p.xt, p.watchers)).unzip();
        let (block, outcomes) = chain.produce_block(xts);
        for ((_, inclusion), watchers) in outcomes.iter().zip(watchers) {
            for watcher in watchers {
                match inclusion {
                    Inclusion::Included(_) => {
                        let _ = watcher.send(TxStatus::InBlock(block.hash));
                        self.awaiting_finality.push((watcher, block.hash));
                    }
                    Inclusion::Dropped(_) => {
                        let _ = watcher.send(TxStatus::Invalid);
                    }
                }
            }
        }
        block
    }
}
