//! What registration needs from a chain, as a small trait: the subxt client implements it
//! for real chains, and tests drive the registration policy with a scripted chain.

use std::future::Future;

use futures::stream::BoxStream;

use crate::outcome::SubmitOutcome;
use crate::state::{Head, NewHead, StateQuery, StateSnapshot, SubnetState};
use crate::wallet::Coldkey;
use crate::ChainError;
use regpow_rules::PublicKey;

/// New best heads as a chain announces them.
pub type Heads = BoxStream<'static, Result<NewHead, ChainError>>;

/// A chain a registration can follow and submit to.
pub trait ChainApi: Clone + Send + Sync + Sized + 'static {
    /// Connects (again) to `url`.
    fn connect(url: &str) -> impl Future<Output = Result<Self, ChainError>> + Send;

    /// The endpoint, for reconnecting and for messages (redact it before printing).
    fn url(&self) -> &str;

    /// The hash of the chain's block 0: a reconnection must reach the same chain.
    fn genesis_hash(&self) -> [u8; 32];

    /// The best block now.
    fn best_head(&self) -> impl Future<Output = Result<Head, ChainError>> + Send;

    /// New best heads from now on, the current one first.
    fn follow_heads(&self) -> impl Future<Output = Result<Heads, ChainError>> + Send;

    /// The parent hash of block `block` (from its header).
    fn parent_hash(
        &self,
        block: [u8; 32],
    ) -> impl Future<Output = Result<[u8; 32], ChainError>> + Send;

    /// The blocks of `head`'s chain back to `from`, newest first, stopping early at a block
    /// `known` already has right (see `ChainClient::ancestry`).
    fn ancestry(
        &self,
        head: NewHead,
        from: u64,
        known: impl Fn(u64, &[u8; 32]) -> bool + Send,
    ) -> impl Future<Output = Result<Vec<Head>, ChainError>> + Send;

    /// Everything `query` asks for at `head`, in as few requests as the endpoint allows
    /// (a real node: batched `state_queryStorageAt`, not one request per item).
    fn read_state(
        &self,
        head: Head,
        query: &StateQuery,
    ) -> impl Future<Output = Result<StateSnapshot, ChainError>> + Send;

    /// The subnet's and one hotkey's state at `head` (with `signer`'s nonce), read together.
    fn subnet_state(
        &self,
        head: Head,
        netuid: u16,
        hotkey: &PublicKey,
        signer: Option<&PublicKey>,
    ) -> impl Future<Output = Result<SubnetState, ChainError>> + Send {
        let mut query = StateQuery::default();
        query.ask(netuid, *hotkey, signer.copied());
        let (hotkey, signer) = (*hotkey, signer.copied());
        async move {
            self.read_state(head, &query)
                .await?
                .subnet_state(netuid, &hotkey, signer.as_ref())
                .ok_or_else(|| ChainError::Rpc("the chain returned no state for the hotkey".into()))
        }
    }

    /// The account's next nonce counting its transactions in the node's pool
    /// (`system_accountNextIndex`): the nonce a new transaction of it should carry.
    fn account_next_index(
        &self,
        account: &PublicKey,
    ) -> impl Future<Output = Result<u64, ChainError>> + Send;

    /// Signs `call` with `coldkey` as `signing` says and follows it to its outcome (see
    /// `ChainClient::submit_pow_register`). `sent` is called once the node has answered the
    /// submission (taken or refused it) or may have it, and never when nothing reached it.
    fn submit_pow_register(
        &self,
        call: &PowRegisterCall,
        coldkey: &Coldkey,
        signing: Signing,
        sent: impl FnOnce() + Send,
    ) -> impl Future<Output = Result<SubmitOutcome, ChainError>> + Send;
}

/// How a submission is signed: the coldkey's nonce it carries, and the block its mortal era
/// starts at (the newest head the registration knows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signing {
    /// The signer nonce (from [`ChainApi::account_next_index`] and the submitter's books).
    pub nonce: u64,
    /// The block signed at.
    pub at: Head,
}

/// A `pow_register` call's arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowRegisterCall {
    /// Subnet.
    pub netuid: u16,
    /// Block whose hash the seal is bound to.
    pub work_block: u64,
    /// The nonce.
    pub nonce: u64,
    /// The seal.
    pub work: [u8; 32],
    /// The hotkey to register.
    pub hotkey: PublicKey,
}
