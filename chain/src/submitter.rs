//! One submitter per coldkey: its submissions go out one at a time.
//!
//! Each `pow_register` is signed with the coldkey's account nonce as the chain reports it.
//! Two submissions signed at once would carry the same nonce and one would push the other out
//! of the pool (`1014 Priority is too low`) or be refused as outdated. Every registration of
//! a process that signs with one coldkey goes through that coldkey's `Submitter`, which
//! holds its turn from signing to the outcome, so a process's own transactions never race.

use std::sync::Arc;

use crate::api::ChainApi;
use crate::client::PowRegisterCall;
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
}

impl Submitter {
    /// The submitter of `coldkey`; make one per coldkey and share it.
    pub fn new(coldkey: Arc<Coldkey>) -> Self {
        Self {
            coldkey,
            turn: Arc::new(tokio::sync::Mutex::new(())),
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
