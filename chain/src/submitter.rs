//! One submitter per coldkey: its nonces, its submissions in flight, and its bounds.
//!
//! A seal does not depend on the coldkey's nonce, so a submission refused for its nonce is
//! signed again with a fresh one, never mined again. The submitter hands out what that
//! needs:
//!
//! - **Turns.** Up to [`SubmitterConfig::in_flight`] submissions of the coldkey are in flight
//!   at once, and per subnet no more than the subnet takes in one block, counted over every
//!   coldkey of the process that shares one [`SubnetSlots`] (more would fail with
//!   `TooManyRegistrationsThisBlock`). A registration waits for a [`Turn`], checks its seal
//!   against the newest state, then signs.
//! - **Nonces.** Each signature takes the node's pool-aware next index
//!   (`system_accountNextIndex`) reconciled with this process's own submissions in flight: the
//!   lowest nonce at or above the node's index that none of them holds. A gap left by a
//!   refused or dropped submission is filled first, which promotes what waits behind it in the
//!   node's pool. Another process signing with the same coldkey costs at most a re-signature
//!   (the pool refuses the second of two transactions with one nonce, `1014`).
//! - **Stranded nonces.** A submission whose nonce sits above the node's next index with
//!   none of ours filling the gap below it waits in the pool's future queue for ever; the
//!   registration asks [`Submitter::stranded`] and signs its seal again.
//! - **A bound on signing.** Consecutive refusals of the coldkey's submissions are counted
//!   (any registration, any subnet); at [`SubmitterConfig::max_refusals_in_a_row`] the
//!   submitter stops handing out turns, so a node that refuses everything (broken or
//!   hostile) gets a bounded number of signatures.
//! - **Work-block claims.** The chain takes a hotkey's next PoW registration, on any subnet,
//!   only with a work block later than its `LastPowRegistrationBlock`; a seal on a work block
//!   no later than one already submitted for that hotkey would be refused, so registrations
//!   claim the work block first.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::api::ChainApi;
use crate::wallet::Coldkey;
use crate::ChainError;
use regpow_rules::PublicKey;

/// How many submissions of one coldkey may be in flight at once by default: enough for
/// registrations on several subnets to land in one block.
pub const DEFAULT_IN_FLIGHT: usize = 8;

/// Once a coldkey has lost a nonce race (another process signs with it), each of its turns
/// starts after a random wait of up to this long: processes that all find seals right after
/// a head then sign one after another instead of all picking the same next nonce. Small
/// next to a block (a seal stays valid for five) and paid only under contention.
pub const CONTENDED_JITTER: std::time::Duration = std::time::Duration::from_millis(200);

/// Consecutive refusals of one coldkey's submissions after which it stops signing.
pub const DEFAULT_MAX_REFUSALS_IN_A_ROW: u32 = 24;

/// A submitter's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmitterConfig {
    /// Submissions in flight at once (at least 1).
    pub in_flight: usize,
    /// Consecutive refusals before the coldkey stops signing.
    pub max_refusals_in_a_row: u32,
}

impl Default for SubmitterConfig {
    fn default() -> Self {
        Self {
            in_flight: DEFAULT_IN_FLIGHT,
            max_refusals_in_a_row: DEFAULT_MAX_REFUSALS_IN_A_ROW,
        }
    }
}

/// Why a coldkey stopped signing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the node refused {count} submissions of this coldkey in a row (the last: {last})")]
pub struct SigningStopped {
    /// Refusals in a row.
    pub count: u32,
    /// The last refusal, in words.
    pub last: String,
}

/// Submissions in flight per subnet, over every submitter that shares it: a process's
/// coldkeys together never send a subnet more in one block than it takes. Clones share.
#[derive(Clone, Default)]
pub struct SubnetSlots {
    inner: Arc<SlotsInner>,
}

#[derive(Default)]
struct SlotsInner {
    held: Mutex<HashMap<u16, usize>>,
    /// Woken whenever a turn is returned (or a coldkey stops signing).
    freed: Notify,
}

impl SubnetSlots {
    fn held(&self) -> MutexGuard<'_, HashMap<u16, usize>> {
        self.inner.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the submitter keeps, under one lock.
#[derive(Default)]
struct Books {
    /// Turns held.
    turns: usize,
    /// Nonces of this process's submissions signed and not yet settled.
    nonces: BTreeSet<u64>,
    /// Per hotkey: the work block and subnet of the newest submission that registered it or
    /// may still.
    claims: HashMap<[u8; 32], (u64, u16)>,
    refusals_in_a_row: u32,
    stopped: Option<SigningStopped>,
    /// Set once a submission lost a nonce race: another process signs with this coldkey.
    contended: bool,
}

struct Shared {
    coldkey: Arc<Coldkey>,
    config: SubmitterConfig,
    books: Mutex<Books>,
    slots: SubnetSlots,
}

impl Shared {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Submits for one coldkey. Clones share the books.
#[derive(Clone)]
pub struct Submitter {
    shared: Arc<Shared>,
}

/// A submission slot of the coldkey: held from the seal's last check until its outcome is
/// known; dropping it returns the slot (and its nonce, if it took one).
pub struct Turn {
    shared: Arc<Shared>,
    netuid: u16,
    nonce: Option<u64>,
}

impl Turn {
    /// The nonce this turn signs with, once [`Submitter::nonce`] gave it one.
    pub fn nonce(&self) -> Option<u64> {
        self.nonce
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        {
            let mut books = self.shared.books();
            books.turns -= 1;
            if let Some(nonce) = self.nonce {
                books.nonces.remove(&nonce);
            }
            let mut held = self.shared.slots.held();
            if let Some(count) = held.get_mut(&self.netuid) {
                *count -= 1;
                if *count == 0 {
                    held.remove(&self.netuid);
                }
            }
        }
        self.shared.slots.inner.freed.notify_waiters();
    }
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("netuid", &self.netuid)
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl Submitter {
    /// The submitter of `coldkey` with the default bounds; make one per coldkey and share it.
    pub fn new(coldkey: Arc<Coldkey>) -> Self {
        Self::with_config(coldkey, SubmitterConfig::default(), SubnetSlots::default())
    }

    /// The submitter of `coldkey` with these bounds, counting its subnets' places in a block
    /// with `slots` (share one among the coldkeys of a process).
    pub fn with_config(coldkey: Arc<Coldkey>, config: SubmitterConfig, slots: SubnetSlots) -> Self {
        let config = SubmitterConfig {
            in_flight: config.in_flight.max(1),
            max_refusals_in_a_row: config.max_refusals_in_a_row.max(1),
        };
        Self {
            shared: Arc::new(Shared {
                coldkey,
                config,
                books: Mutex::new(Books::default()),
                slots,
            }),
        }
    }

    /// The coldkey's public key (bound into every seal it submits).
    pub fn public(&self) -> PublicKey {
        self.shared.coldkey.public()
    }

    /// The coldkey that signs.
    pub fn coldkey(&self) -> &Coldkey {
        &self.shared.coldkey
    }

    /// Waits for a turn to submit on `netuid`, which takes `per_block` registrations per
    /// block: a free slot of the coldkey and fewer than `per_block` of its submissions in
    /// flight on that subnet. Fails once the coldkey has stopped signing.
    pub async fn turn(&self, netuid: u16, per_block: u16) -> Result<Turn, SigningStopped> {
        let per_subnet = usize::from(per_block.max(1));
        if self.shared.books().contended {
            let wait = rand::random_range(0..=CONTENDED_JITTER.as_millis() as u64);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        loop {
            let freed = self.shared.slots.inner.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut books = self.shared.books();
                if let Some(stopped) = &books.stopped {
                    return Err(stopped.clone());
                }
                let mut held = self.shared.slots.held();
                let on_subnet = held.get(&netuid).copied().unwrap_or(0);
                if books.turns < self.shared.config.in_flight && on_subnet < per_subnet {
                    books.turns += 1;
                    *held.entry(netuid).or_default() += 1;
                    return Ok(Turn {
                        shared: self.shared.clone(),
                        netuid,
                        nonce: None,
                    });
                }
            }
            freed.await;
        }
    }

    /// The nonce `turn` signs with: the lowest at or above the node's pool-aware next index
    /// that none of this process's submissions in flight holds (see the module's notes).
    pub async fn nonce<C: ChainApi>(&self, turn: &mut Turn, chain: &C) -> Result<u64, ChainError> {
        if let Some(nonce) = turn.nonce {
            return Ok(nonce);
        }
        let pool_next = chain.account_next_index(&self.public()).await?;
        let mut books = self.shared.books();
        let nonce = (pool_next..)
            .find(|n| !books.nonces.contains(n))
            .expect("a free nonce");
        books.nonces.insert(nonce);
        turn.nonce = Some(nonce);
        Ok(nonce)
    }

    /// Whether the submission signed with `nonce` is stranded: the node's next index is
    /// below it and none of this process's other submissions in flight fills the gap, so it
    /// waits in the pool's future queue until something takes the missing nonces.
    pub async fn stranded<C: ChainApi>(&self, nonce: u64, chain: &C) -> Result<bool, ChainError> {
        let pool_next = chain.account_next_index(&self.public()).await?;
        let books = self.shared.books();
        Ok(pool_next < nonce && !books.nonces.range(pool_next..nonce).any(|_| true))
    }

    /// Records that the node refused a submission of this coldkey; returns why signing stops
    /// when this was one refusal too many in a row.
    pub fn refused(&self, why: &str) -> Option<SigningStopped> {
        let stopped = {
            let mut books = self.shared.books();
            books.refusals_in_a_row += 1;
            if books.refusals_in_a_row < self.shared.config.max_refusals_in_a_row {
                return None;
            }
            let count = books.refusals_in_a_row;
            let stopped = books.stopped.get_or_insert_with(|| SigningStopped {
                count,
                last: why.to_string(),
            });
            stopped.clone()
        };
        self.shared.slots.inner.freed.notify_waiters();
        Some(stopped)
    }

    /// Records that a submission of this coldkey lost a nonce race: from now on its turns
    /// start after a short random wait ([`CONTENDED_JITTER`]).
    pub fn raced(&self) {
        self.shared.books().contended = true;
    }

    /// Records that the node took a submission of this coldkey (included it, or may have):
    /// the refusals in a row start again.
    pub fn taken(&self) {
        self.shared.books().refusals_in_a_row = 0;
    }

    /// Why this coldkey stopped signing, if it did.
    pub fn stopped(&self) -> Option<SigningStopped> {
        self.shared.books().stopped.clone()
    }

    /// Whether [`Submitter::claim`] would succeed now (it claims nothing).
    pub fn claimable(&self, hotkey: &PublicKey, netuid: u16, work_block: u64) -> Result<(), u64> {
        let books = self.shared.books();
        match books.claims.get(&hotkey.0) {
            Some(&(claimed, on))
                if claimed > work_block || (claimed == work_block && on != netuid) =>
            {
                Err(claimed)
            }
            _ => Ok(()),
        }
    }

    /// Claims `work_block` for a submission of `hotkey` on `netuid`; fails with the claimed
    /// block when another submission of this hotkey, on a later work block or on the same one
    /// for another subnet, registered or may still register (the chain would refuse this
    /// one). The same seal signed again keeps its claim.
    pub fn claim(&self, hotkey: &PublicKey, netuid: u16, work_block: u64) -> Result<(), u64> {
        let mut books = self.shared.books();
        match books.claims.get(&hotkey.0) {
            Some(&(claimed, on))
                if claimed > work_block || (claimed == work_block && on != netuid) =>
            {
                Err(claimed)
            }
            _ => {
                books.claims.insert(hotkey.0, (work_block, netuid));
                Ok(())
            }
        }
    }

    /// The submission of `hotkey` on `work_block` did not register and cannot: its claim
    /// goes.
    pub fn release(&self, hotkey: &PublicKey, work_block: u64) {
        let mut books = self.shared.books();
        if books.claims.get(&hotkey.0).map(|c| c.0) == Some(work_block) {
            books.claims.remove(&hotkey.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn submitter(in_flight: usize) -> Submitter {
        Submitter::with_config(
            Arc::new(Coldkey::from_uri("//Alice").unwrap()),
            SubmitterConfig {
                in_flight,
                max_refusals_in_a_row: 3,
            },
            SubnetSlots::default(),
        )
    }

    #[test]
    fn a_hotkey_needs_a_later_work_block_than_another_submissions_claim() {
        let submitter = submitter(1);
        let (a, b) = (PublicKey([1; 32]), PublicKey([2; 32]));
        assert_eq!(submitter.claim(&a, 1, 10), Ok(()));
        // The same seal signed again (after a nonce race) keeps its claim.
        assert_eq!(submitter.claim(&a, 1, 10), Ok(()));
        assert_eq!(
            submitter.claim(&a, 2, 10),
            Err(10),
            "another subnet, same block"
        );
        assert_eq!(submitter.claim(&a, 1, 9), Err(10));
        assert_eq!(submitter.claim(&b, 1, 10), Ok(()), "another hotkey is free");
        assert_eq!(submitter.claim(&a, 2, 11), Ok(()));
        // Releasing an older claim leaves the newer one.
        submitter.release(&a, 10);
        assert_eq!(submitter.claim(&a, 1, 10), Err(11));
        submitter.release(&a, 11);
        assert_eq!(submitter.claim(&a, 1, 5), Ok(()));
    }

    #[tokio::test]
    async fn turns_are_bounded_per_coldkey_and_per_subnet_block() {
        let submitter = submitter(3);
        let first = submitter.turn(1, 1).await.unwrap();
        let second = submitter.turn(2, 2).await.unwrap();
        let third = submitter.turn(2, 2).await.unwrap();
        // Subnet 1 takes one per block and has one in flight; the coldkey is at three.
        let waiting = tokio::time::timeout(Duration::from_millis(50), submitter.turn(3, 1));
        assert!(waiting.await.is_err(), "a fourth turn while three are held");
        drop(second);
        let on_one = tokio::time::timeout(Duration::from_millis(50), submitter.turn(1, 1));
        assert!(
            on_one.await.is_err(),
            "subnet 1 already has its block's one"
        );
        drop(first);
        let again = tokio::time::timeout(Duration::from_millis(500), submitter.turn(1, 1));
        assert!(again.await.is_ok(), "a returned turn wakes a waiter");
        drop(third);
    }

    #[tokio::test]
    async fn coldkeys_sharing_slots_share_a_subnets_places_in_a_block() {
        let slots = SubnetSlots::default();
        let config = SubmitterConfig::default();
        let [alice, bob] = ["//Alice", "//Bob"].map(|uri| {
            let coldkey = Arc::new(Coldkey::from_uri(uri).unwrap());
            Submitter::with_config(coldkey, config, slots.clone())
        });
        let first = alice.turn(1, 1).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(50), bob.turn(1, 1));
        assert!(waiting.await.is_err(), "subnet 1 took its one from Alice");
        let other = tokio::time::timeout(Duration::from_millis(50), bob.turn(2, 1));
        assert!(other.await.is_ok(), "subnet 2 is free");
        drop(first);
        let again = tokio::time::timeout(Duration::from_millis(500), bob.turn(1, 1));
        assert!(again.await.is_ok(), "Alice's returned turn wakes Bob");
    }

    #[tokio::test]
    async fn refusals_in_a_row_stop_signing_and_a_taken_one_resets_them() {
        let submitter = submitter(2);
        assert_eq!(submitter.refused("1014"), None);
        submitter.taken();
        assert_eq!(submitter.refused("1014"), None);
        assert_eq!(submitter.refused("1014"), None);
        let stopped = submitter.refused("1014 again").expect("the third in a row");
        assert_eq!(stopped.count, 3);
        assert_eq!(
            stopped.to_string(),
            "the node refused 3 submissions of this coldkey in a row (the last: 1014 again)"
        );
        assert_eq!(submitter.turn(1, 1).await.unwrap_err(), stopped);
    }
}
