//! One submitter per coldkey: its submissions go out one at a time.
//!
//! Each `pow_register` is signed with the coldkey's account nonce as the chain reports it.
//! Two submissions signed at once would carry the same nonce and one would push the other out
//! of the pool (`1014 Priority is too low`) or be refused as outdated. Every registration of
//! a process that signs with one coldkey goes through that coldkey's `Submitter`, which
//! holds its turn from signing to the outcome, so a process's own transactions never race.
//!
//! It also keeps each hotkey's *claimed* work block. The chain takes a hotkey's next PoW
//! registration, on any subnet, only with a work block later than its
//! `LastPowRegistrationBlock`; so when one hotkey is registered on several subnets at once,
//! a seal on a work block no later than one already submitted for that hotkey would be
//! refused. Registrations claim the work block before submitting and drop a seal whose
//! claim fails, instead of wasting a submission (and a block) on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::api::ChainApi;
use crate::api::PowRegisterCall;
use crate::outcome::SubmitOutcome;
use crate::state::Head;
use crate::wallet::Coldkey;
use crate::ChainError;
use regpow_rules::PublicKey;

/// Submits for one coldkey, serially. Clones share the queue.
#[derive(Clone)]
pub struct Submitter {
    coldkey: Arc<Coldkey>,
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Per hotkey: the newest work block of a submission that registered it or may still.
    claims: Arc<Mutex<HashMap<[u8; 32], u64>>>,
}

impl Submitter {
    /// The submitter of `coldkey`; make one per coldkey and share it.
    pub fn new(coldkey: Arc<Coldkey>) -> Self {
        Self {
            coldkey,
            turn: Arc::new(tokio::sync::Mutex::new(())),
            claims: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], u64>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims `work_block` for a submission of `hotkey`; fails with the claimed block when
    /// a submission of this hotkey on the same or a later work block registered or may
    /// still register (the chain would refuse this one).
    pub fn claim(&self, hotkey: &PublicKey, work_block: u64) -> Result<(), u64> {
        let mut claims = self.claims();
        match claims.get(&hotkey.0) {
            Some(&claimed) if claimed >= work_block => Err(claimed),
            _ => {
                claims.insert(hotkey.0, work_block);
                Ok(())
            }
        }
    }

    /// The submission of `hotkey` on `work_block` did not register: its claim goes.
    pub fn release(&self, hotkey: &PublicKey, work_block: u64) {
        let mut claims = self.claims();
        if claims.get(&hotkey.0) == Some(&work_block) {
            claims.remove(&hotkey.0);
        }
    }

    /// The coldkey's public key (bound into every seal it submits).
    pub fn public(&self) -> PublicKey {
        self.coldkey.public()
    }

    /// Signs `call` at block `at` and follows it to its outcome, after every earlier
    /// submission of this coldkey has its own.
    pub async fn submit<C: ChainApi>(
        &self,
        chain: &C,
        call: &PowRegisterCall,
        at: Head,
    ) -> Result<SubmitOutcome, ChainError> {
        let _turn = self.turn.lock().await;
        chain.submit_pow_register(call, &self.coldkey, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hotkey_needs_a_later_work_block_than_its_last_claim() {
        let submitter = Submitter::new(Arc::new(Coldkey::from_uri("//Alice").unwrap()));
        let (a, b) = (PublicKey([1; 32]), PublicKey([2; 32]));
        assert_eq!(submitter.claim(&a, 10), Ok(()));
        assert_eq!(submitter.claim(&a, 10), Err(10));
        assert_eq!(submitter.claim(&a, 9), Err(10));
        assert_eq!(submitter.claim(&b, 10), Ok(()), "another hotkey is free");
        assert_eq!(submitter.claim(&a, 11), Ok(()));
        // Releasing an older claim leaves the newer one.
        submitter.release(&a, 10);
        assert_eq!(submitter.claim(&a, 11), Err(11));
        submitter.release(&a, 11);
        assert_eq!(submitter.claim(&a, 5), Ok(()));
    }
}
