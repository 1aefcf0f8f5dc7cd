//! The chain client: subxt's dynamic API (metadata read at run time, so runtime upgrades do
//! not break it) over one websocket, for what registration needs: heads, the subnet's
//! registration state, and submitting `pow_register`.

use std::sync::Arc;
use std::time::Duration;

use subxt::dynamic;
use subxt::transactions::TransactionStatus;
use subxt::utils::H256;

use subxt::{OnlineClient, SubstrateConfig};

use super::runtime::check_runtime;
use super::ChainError;
use crate::wallet::Coldkey;
use regpow_rules::difficulty::Difficulty;
use regpow_rules::keys::PublicKey;

/// A connected client.
pub type Api = OnlineClient<SubstrateConfig>;

/// How long one RPC round may take before the endpoint counts as unreachable.
const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a submission may take from signing to a final outcome (about ten blocks).
pub const SUBMISSION_TIMEOUT: Duration = Duration::from_secs(120);

/// A block: its number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Block number.
    pub number: u64,
    /// Block hash (bound into the seal when this block is the work block).
    pub hash: [u8; 32],
}

/// The registration state of one subnet (and one hotkey on it) at one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetState {
    /// The block it was read at.
    pub head: Head,
    /// `NetworksAdded(netuid)`.
    pub exists: bool,
    /// `NetworkPowRegistrationAllowed(netuid)`.
    pub pow_allowed: bool,
    /// `Difficulty`, `MinDifficulty`, `MaxDifficulty` (raw).
    pub difficulty: u64,
    /// `MinDifficulty`.
    pub min_difficulty: u64,
    /// `MaxDifficulty`.
    pub max_difficulty: u64,
    /// `MaxAllowedUids(netuid)`.
    pub max_allowed_uids: u16,
    /// `RegistrationsThisBlock(netuid)`.
    pub registrations_this_block: u16,
    /// `MaxRegistrationsPerBlock(netuid)`.
    pub max_registrations_per_block: u16,
    /// `Uids(netuid, hotkey)`: the hotkey's uid if it is registered.
    pub uid: Option<u16>,
    /// `LastPowRegistrationBlock(hotkey)`.
    pub last_pow_block: Option<u64>,
    /// `Owner(hotkey)`: the coldkey that owns the hotkey, if any.
    pub owner: Option<PublicKey>,
    /// The signing coldkey's account nonce (`System::Account`), when asked for: once it
    /// passes a submission's nonce, that submission can no longer be included.
    pub signer_nonce: Option<u64>,
}

impl SubnetState {
    /// An open subnet (PoW on, 256 uids, one registration per block, hotkey unregistered and
    /// unowned) at `head` with `difficulty`: for tests.
    #[cfg(test)]
    pub(crate) fn sample(head: Head, difficulty: u64) -> Self {
        Self {
            head,
            exists: true,
            pow_allowed: true,
            difficulty,
            min_difficulty: 1,
            max_difficulty: u64::MAX,
            max_allowed_uids: 256,
            registrations_this_block: 0,
            max_registrations_per_block: 1,
            uid: None,
            last_pow_block: None,
            owner: None,
            signer_nonce: None,
        }
    }

    /// The effective difficulty (the chain's clamp, as the SDK computes it).
    pub fn effective_difficulty(&self) -> Difficulty {
        Difficulty::effective(self.difficulty, self.min_difficulty, self.max_difficulty)
    }

    /// Why a registration of the hotkey by `coldkey` cannot succeed at all, in words; `None`
    /// when it can (rules the chain checks against the work itself come later).
    pub fn refusal(&self, netuid: u16, coldkey: &PublicKey) -> Option<String> {
        if netuid == 0 {
            return Some("netuid 0 is the root subnet: PoW registration is not permitted".into());
        }
        if !self.exists {
            return Some(format!("subnet {netuid} does not exist"));
        }
        if !self.pow_allowed {
            return Some(format!(
                "PoW registration is disabled on subnet {netuid} (NetworkPowRegistrationAllowed is false)"
            ));
        }
        if let Some(uid) = self.uid {
            return Some(format!(
                "the hotkey is already registered on subnet {netuid} (uid {uid})"
            ));
        }
        if self.max_allowed_uids == 0 {
            return Some(format!(
                "subnet {netuid} allows no uids (MaxAllowedUids is 0)"
            ));
        }
        if self.max_registrations_per_block == 0 {
            return Some(format!(
                "subnet {netuid} takes no registrations (MaxRegistrationsPerBlock is 0)"
            ));
        }
        match self.owner {
            Some(owner) if owner != *coldkey => Some(format!(
                "the hotkey belongs to another coldkey ({})",
                owner.to_ss58(42)
            )),
            _ => None,
        }
    }

    /// Whether this block already holds the subnet's registrations for the block.
    pub fn block_is_full(&self) -> bool {
        self.registrations_this_block >= self.max_registrations_per_block
    }
}

/// What became of a submitted `pow_register`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// `NeuronRegistered` for our hotkey.
    Registered {
        /// The uid taken.
        uid: u16,
        /// The block it was included in.
        block: Head,
    },
    /// Included but failed: `ExtrinsicFailed` with this `SubtensorModule` error name.
    Failed(String),
    /// The node answered the submission with an error: the transaction is not in its pool.
    Refused(PoolRefusal),
    /// The node may have taken the transaction, but its final status never arrived (the
    /// connection or the status stream was lost, it timed out, or the node dropped it from
    /// its own pool while peers may still hold it). Only the chain's state can tell.
    Unknown {
        /// What was lost, in words.
        reason: String,
        /// The signer nonce it was signed with: once the account's nonce passes it, it can
        /// no longer be included.
        nonce: u64,
    },
}

/// Why the node refused a submission, read from the JSON-RPC error's code and data
/// (Substrate puts the reason in `data`: `"Custom error: 255"`, `"Transaction is
/// outdated"`), never from display text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolRefusal {
    /// `InvalidTransaction::Custom(code)`: subtensor's pool codes (3 unknown subnet, 25
    /// hotkey of another coldkey, 255 any other PoW rule).
    Custom(u8),
    /// The signer's nonce was used or is ahead (a race with our own previous submission):
    /// the next attempt signs with a fresh nonce.
    NonceRace(String),
    /// Anything else, as the node worded it.
    Other {
        /// JSON-RPC error code (1010 invalid, 1012 banned, 1014 priority too low, …).
        code: i32,
        /// Message and data.
        message: String,
    },
}

impl std::fmt::Display for PoolRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolRefusal::Custom(code) => write!(f, "refused by the pool (custom code {code})"),
            PoolRefusal::NonceRace(message) => write!(f, "nonce race: {message}"),
            PoolRefusal::Other { code, message } => write!(f, "{message} (code {code})"),
        }
    }
}

/// Reads a JSON-RPC error answer to a submission: `code`, `message` and the raw JSON of
/// its `data` (a JSON string in Substrate's author API).
pub fn classify_refusal(code: i32, message: &str, data: Option<&str>) -> PoolRefusal {
    let data = data.map(|raw| match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::String(text)) => text,
        _ => raw.to_string(),
    });
    let detail = data.as_deref().unwrap_or("");
    if let Some(rest) = detail.strip_prefix("Custom error: ") {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(custom) = digits.parse::<u8>() {
            return PoolRefusal::Custom(custom);
        }
    }
    let text = if detail.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {detail}")
    };
    if detail.contains("Transaction is outdated") || detail.contains("will be valid in the future")
    {
        return PoolRefusal::NonceRace(text);
    }
    PoolRefusal::Other {
        code,
        message: text,
    }
}

/// The JSON-RPC error object inside a failed submission, when the node answered with one.
fn rpc_user_error(error: &subxt::error::ExtrinsicError) -> Option<&subxt::rpcs::UserError> {
    use subxt::error::{BackendError, ExtrinsicError, RpcError};
    match error {
        ExtrinsicError::ErrorSubmittingTransaction(BackendError::Rpc(RpcError::ClientError(
            subxt::rpcs::Error::User(user),
        ))) => Some(user),
        _ => None,
    }
}

/// A connection to a chain that has PoW registration.
#[derive(Clone)]
pub struct ChainClient {
    api: Api,
    rpc: subxt::rpcs::RpcClient,
    url: String,
}

/// A new best head as the subscription announces it, with its parent's hash so that a
/// re-organisation (a parent the client did not see) is noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewHead {
    /// The block.
    pub head: Head,
    /// Its parent's hash.
    pub parent: [u8; 32],
}

async fn timed<T, E: std::fmt::Display>(
    what: &str,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ChainError> {
    match tokio::time::timeout(RPC_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ChainError::Rpc(format!("{what}: {e}"))),
        Err(_) => Err(ChainError::Rpc(format!(
            "{what}: no answer in {}s",
            RPC_TIMEOUT.as_secs()
        ))),
    }
}

impl ChainClient {
    /// Connects and checks the runtime (`pow_register` present, every extension encodable).
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        // Errors name the endpoint without its credentials and the cause in a few words.
        let shown = super::network::redact_url(url);
        let no_answer = || {
            ChainError::Unreachable(format!(
                "{shown}: {}",
                super::reach::short_cause("no answer")
            ))
        };
        let unreachable = |e: &(dyn std::error::Error + 'static)| {
            ChainError::Unreachable(format!("{shown}: {}", super::reach::cause_of(e)))
        };
        let rpc = tokio::time::timeout(RPC_TIMEOUT, subxt::rpcs::RpcClient::from_insecure_url(url))
            .await
            .map_err(|_| no_answer())?
            .map_err(|e| unreachable(&e))?;
        // The legacy RPC backend, always: subxt's default picks the new spec's
        // `chainHead_v1` / `transactionWatch_v1` wherever a node lists them (subtensor nodes
        // do), and those answer a refused submission with free text only, where the legacy
        // author API carries the pool's error code and data that `classify_refusal` reads.
        // Every node serves the legacy methods, so one path is tested and used everywhere.
        let backend =
            subxt::backend::LegacyBackend::<SubstrateConfig>::builder().build(rpc.clone());
        let api = tokio::time::timeout(RPC_TIMEOUT, Api::from_backend(Arc::new(backend)))
            .await
            .map_err(|_| no_answer())?
            .map_err(|e| unreachable(&e))?;
        let client = Self {
            api,
            rpc,
            url: url.to_string(),
        };
        let at = timed("runtime", client.api.at_current_block()).await?;
        check_runtime(at.metadata_ref(), at.spec_version())?;
        Ok(client)
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain's best block now.
    pub async fn best_head(&self) -> Result<Head, ChainError> {
        let mut heads = timed("heads", self.api.stream_best_blocks()).await?;
        match timed("heads", async { heads.next().await.transpose() }).await? {
            Some(block) => Ok(Head {
                number: block.number(),
                hash: block.hash().0,
            }),
            None => Err(ChainError::Rpc("heads: stream ended".into())),
        }
    }

    /// New best heads as they arrive (the current one first), each with its parent's hash.
    pub async fn follow_heads(
        &self,
    ) -> Result<impl futures::Stream<Item = Result<NewHead, ChainError>> + use<>, ChainError> {
        use futures::StreamExt;
        let blocks = timed("heads", self.api.stream_best_blocks()).await?;
        Ok(blocks.map(|block| {
            block
                .map(|b| NewHead {
                    head: Head {
                        number: b.number(),
                        hash: b.hash().0,
                    },
                    parent: b.header().parent_hash.0,
                })
                .map_err(|e| ChainError::Rpc(format!("heads: {e}")))
        }))
    }

    /// The blocks of `head`'s own chain from `head` back to `from` (inclusive), newest
    /// first, read header by header through their parent hashes: after a re-organisation
    /// this is the only way to learn the hashes of blocks no subscription announced.
    /// `known` stops the walk early at a block whose hash the caller already has right.
    pub async fn ancestry(
        &self,
        head: NewHead,
        from: u64,
        known: impl Fn(u64, &[u8; 32]) -> bool,
    ) -> Result<Vec<Head>, ChainError> {
        let methods =
            subxt::rpcs::LegacyRpcMethods::<subxt::config::RpcConfigFor<SubstrateConfig>>::new(
                self.rpc.clone(),
            );
        let mut chain = vec![head.head];
        let mut parent = head.parent;
        let mut number = head.head.number;
        while number > from {
            number -= 1;
            if known(number, &parent) {
                break;
            }
            chain.push(Head {
                number,
                hash: parent,
            });
            let header = timed("header", methods.chain_get_header(Some(H256(parent))))
                .await?
                .ok_or_else(|| ChainError::Rpc(format!("header of block {number}: not found")))?;
            parent = header.parent_hash.0;
        }
        Ok(chain)
    }

    /// Reads the subnet's registration state, and the hotkey's, at `head`; with `signer`,
    /// also that account's nonce.
    pub async fn subnet_state(
        &self,
        head: Head,
        netuid: u16,
        hotkey: &PublicKey,
        signer: Option<&PublicKey>,
    ) -> Result<SubnetState, ChainError> {
        let at = timed(
            "block",
            self.api
                .at_block_hash_and_number(H256(head.hash), head.number),
        )
        .await?;
        let storage = at.storage();
        macro_rules! value {
            ($item:literal, $ty:ty) => {
                async {
                    timed($item, async {
                        storage
                            .fetch(
                                dynamic::storage::<(u16,), $ty>("SubtensorModule", $item),
                                (netuid,),
                            )
                            .await
                            .map_err(|e| e.to_string())?
                            .decode()
                            .map_err(|e| e.to_string())
                    })
                    .await
                }
            };
        }
        macro_rules! optional {
            ($item:literal, $keys_ty:ty, $keys:expr, $ty:ty) => {
                async {
                    timed($item, async {
                        storage
                            .try_fetch(
                                dynamic::storage::<$keys_ty, $ty>("SubtensorModule", $item),
                                $keys,
                            )
                            .await
                            .map_err(|e| e.to_string())?
                            .map(|v| v.decode().map_err(|e| e.to_string()))
                            .transpose()
                    })
                    .await
                }
            };
        }
        let uid = optional!("Uids", (u16, [u8; 32]), (netuid, hotkey.0), u16);
        let last_pow_block = optional!("LastPowRegistrationBlock", ([u8; 32],), (hotkey.0,), u64);
        let owner = optional!("Owner", ([u8; 32],), (hotkey.0,), [u8; 32]);
        let (exists, pow_allowed, difficulty, min_difficulty, max_difficulty) = tokio::try_join!(
            value!("NetworksAdded", bool),
            value!("NetworkPowRegistrationAllowed", bool),
            value!("Difficulty", u64),
            value!("MinDifficulty", u64),
            value!("MaxDifficulty", u64),
        )?;
        let (max_allowed_uids, registrations_this_block, max_registrations_per_block) = tokio::try_join!(
            value!("MaxAllowedUids", u16),
            value!("RegistrationsThisBlock", u16),
            value!("MaxRegistrationsPerBlock", u16),
        )?;
        let signer_nonce = async {
            match signer {
                None => Ok(None),
                Some(account) => timed(
                    "nonce",
                    at.transactions()
                        .account_nonce(&subxt::utils::AccountId32(account.0)),
                )
                .await
                .map(Some),
            }
        };
        let (uid, last_pow_block, owner, signer_nonce) =
            tokio::try_join!(uid, last_pow_block, owner, signer_nonce)?;
        Ok(SubnetState {
            head,
            exists,
            pow_allowed,
            difficulty,
            min_difficulty,
            max_difficulty,
            max_allowed_uids,
            registrations_this_block,
            max_registrations_per_block,
            uid,
            last_pow_block,
            // The chain's default owner is the zero account: no owner.
            owner: owner.filter(|o| *o != [0u8; 32]).map(PublicKey),
            signer_nonce,
        })
    }

    /// Signs `pow_register` with the coldkey (zero tip), submits it and follows it into a
    /// block; decodes the outcome, including the pool's refusal codes.
    /// The account nonce is read at `at` (the best head), not at the finalized head, so a
    /// registration attempt that just landed in a best block is counted. Once the node may
    /// hold the transaction, every failure to learn its fate is [`SubmitOutcome::Unknown`],
    /// never a refusal; an error return means nothing was sent. The whole submission is
    /// bounded by [`SUBMISSION_TIMEOUT`].
    pub async fn submit_pow_register(
        &self,
        call: &PowRegisterCall,
        coldkey: &Coldkey,
        at: Head,
    ) -> Result<SubmitOutcome, ChainError> {
        use subxt::transactions::Signer;
        let block = timed(
            "block",
            self.api.at_block_hash_and_number(H256(at.hash), at.number),
        )
        .await?;
        let mut transactions = block.transactions();
        let nonce = timed("nonce", transactions.account_nonce(&coldkey.account_id())).await?;
        let payload = dynamic::transaction(
            "SubtensorModule",
            "pow_register",
            (
                call.netuid,
                call.work_block,
                call.nonce,
                call.work,
                call.hotkey.0,
            ),
        );
        let params = subxt::config::SubstrateExtrinsicParamsBuilder::new()
            .tip(0)
            .nonce(nonce)
            .build();
        let signed = timed(
            "signing",
            transactions.create_signed(&payload, coldkey, params),
        )
        .await?;
        let unknown = |reason: String| SubmitOutcome::Unknown { reason, nonce };
        let watched = tokio::time::timeout(SUBMISSION_TIMEOUT, async {
            let mut progress =
                match tokio::time::timeout(RPC_TIMEOUT, signed.submit_and_watch()).await {
                    Err(_) => {
                        return unknown(format!("submit: no answer in {}s", RPC_TIMEOUT.as_secs()))
                    }
                    Ok(Ok(progress)) => progress,
                    Ok(Err(e)) => {
                        return match rpc_user_error(&e) {
                            Some(user) => SubmitOutcome::Refused(classify_refusal(
                                user.code,
                                &user.message,
                                user.data.as_deref().map(|raw| raw.get()),
                            )),
                            // The request may have reached the node before the fault.
                            None => unknown(format!("submit: {e}")),
                        };
                    }
                };
            self.follow_submission(&mut progress, call, nonce).await
        })
        .await;
        Ok(watched.unwrap_or_else(|_| {
            unknown(format!(
                "no final status within {}s",
                SUBMISSION_TIMEOUT.as_secs()
            ))
        }))
    }

    /// Follows an accepted submission's status to its block and reads its events there.
    async fn follow_submission<C>(
        &self,
        progress: &mut subxt::transactions::TransactionProgress<SubstrateConfig, C>,
        call: &PowRegisterCall,
        nonce: u64,
    ) -> SubmitOutcome
    where
        C: subxt::client::OnlineClientAtBlockT<SubstrateConfig>,
    {
        let unknown = |reason: String| SubmitOutcome::Unknown { reason, nonce };
        loop {
            let status = match progress.next().await {
                None => return unknown("status stream ended".into()),
                Some(Err(e)) => return unknown(format!("status: {e}")),
                Some(Ok(status)) => status,
            };
            let in_block = match status {
                TransactionStatus::InBestBlock(b) | TransactionStatus::InFinalizedBlock(b) => b,
                // The node left it out of its own pool; peers may still include it.
                TransactionStatus::Invalid { message }
                | TransactionStatus::Dropped { message }
                | TransactionStatus::Error { message } => {
                    return unknown(format!("the node dropped it: {message}"))
                }
                _ => continue,
            };
            let block_hash = in_block.block_hash().0;
            let block = match timed("block", self.api.at_block(H256(block_hash))).await {
                Ok(block) => block,
                Err(e) => return unknown(e.to_string()),
            };
            let head = Head {
                number: block.block_number(),
                hash: block_hash,
            };
            let events = tokio::time::timeout(RPC_TIMEOUT, in_block.wait_for_success()).await;
            return match events {
                Err(_) => unknown(format!("events: no answer in {}s", RPC_TIMEOUT.as_secs())),
                Ok(Ok(events)) => {
                    for event in events.iter() {
                        let Ok(event) = event else {
                            return unknown("events could not be decoded".into());
                        };
                        if event.pallet_name() == "SubtensorModule"
                            && event.event_name() == "NeuronRegistered"
                        {
                            let decoded: Result<(u16, u16, [u8; 32]), _> =
                                parity_scale_codec::Decode::decode(&mut event.field_bytes());
                            match decoded {
                                Ok((_netuid, uid, hotkey)) if hotkey == call.hotkey.0 => {
                                    return SubmitOutcome::Registered { uid, block: head }
                                }
                                Ok(_) => {}
                                Err(e) => return unknown(format!("event: {e}")),
                            }
                        }
                    }
                    // Success without the event for our hotkey: only the state can say what
                    // happened (it never happens with subtensor's pow_register).
                    unknown("included without a NeuronRegistered event for the hotkey".into())
                }
                Ok(Err(subxt::error::TransactionEventsError::ExtrinsicFailed(
                    subxt::error::DispatchError::Module(module),
                ))) => SubmitOutcome::Failed(
                    module
                        .details()
                        .map(|d| d.variant.name.clone())
                        .unwrap_or_else(|_| module.to_string()),
                ),
                Ok(Err(e)) => unknown(format!("events: {e}")),
            };
        }
    }

    /// The subxt client, for callers that need more.
    pub fn api(&self) -> &Api {
        &self.api
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The error exactly as subxt hands it back when the node answers a submission with a
    /// JSON-RPC error: built from the wire JSON, so the test sees what production sees.
    fn submit_error(wire: &str) -> subxt::error::ExtrinsicError {
        use subxt::error::{BackendError, ExtrinsicError, RpcError};
        let user: subxt::rpcs::UserError = serde_json::from_str(wire).unwrap();
        ExtrinsicError::ErrorSubmittingTransaction(BackendError::Rpc(RpcError::ClientError(
            subxt::rpcs::Error::User(user),
        )))
    }

    fn refusal_of(wire: &str) -> Option<PoolRefusal> {
        let e = submit_error(wire);
        // subxt's display text drops `data`: classification must not depend on it.
        assert!(!e.to_string().contains("Custom error"), "{e}");
        rpc_user_error(&e)
            .map(|u| classify_refusal(u.code, &u.message, u.data.as_deref().map(|r| r.get())))
    }

    #[test]
    fn pool_refusals_are_read_from_the_error_code_and_data() {
        assert_eq!(
            refusal_of(
                r#"{"code":1010,"message":"Invalid Transaction","data":"Custom error: 255"}"#
            ),
            Some(PoolRefusal::Custom(255))
        );
        assert_eq!(
            refusal_of(
                r#"{"code":1010,"message":"Invalid Transaction","data":"Custom error: 25"}"#
            ),
            Some(PoolRefusal::Custom(25))
        );
        assert_eq!(
            refusal_of(
                r#"{"code":1010,"message":"Invalid Transaction","data":"Transaction is outdated"}"#
            ),
            Some(PoolRefusal::NonceRace(
                "Invalid Transaction: Transaction is outdated".into()
            ))
        );
        assert!(matches!(
            refusal_of(
                r#"{"code":1010,"message":"Invalid Transaction","data":"Transaction will be valid in the future"}"#
            ),
            Some(PoolRefusal::NonceRace(_))
        ));
        assert_eq!(
            refusal_of(r#"{"code":1014,"message":"Priority is too low: (0 vs 0)","data":"The transaction has too low priority to replace another transaction already in the pool."}"#),
            Some(PoolRefusal::Other {
                code: 1014,
                message: "Priority is too low: (0 vs 0): The transaction has too low priority to replace another transaction already in the pool.".into()
            })
        );
        assert_eq!(
            refusal_of(r#"{"code":1002,"message":"Verification Error: Runtime error"}"#),
            Some(PoolRefusal::Other {
                code: 1002,
                message: "Verification Error: Runtime error".into()
            })
        );
        // A transport fault is not a refusal: the node may have the transaction.
        let lost = subxt::error::ExtrinsicError::ErrorSubmittingTransaction(
            subxt::error::BackendError::Rpc(subxt::error::RpcError::SubscriptionDropped),
        );
        assert!(rpc_user_error(&lost).is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any error object a node (or anything posing as one) sends back is classified
        /// without a panic, and only a `data` that starts with "Custom error: N" is a pool
        /// code.
        #[test]
        fn any_error_object_is_classified(
            code in proptest::num::i32::ANY,
            message in "\\PC{0,40}",
            data in proptest::option::of("\\PC{0,60}"),
        ) {
            let wire = serde_json::json!({"code": code, "message": message, "data": data});
            let user: subxt::rpcs::UserError = serde_json::from_value(wire).unwrap();
            let raw = user.data.as_deref().map(|r| r.get());
            let refusal = classify_refusal(user.code, &user.message, raw);
            if let PoolRefusal::Custom(n) = refusal {
                let expected = format!("Custom error: {n}");
                proptest::prop_assert!(data.unwrap_or_default().starts_with(&expected));
            }
        }

        /// Every pool code round-trips; a code beyond u8 is not mistaken for one.
        #[test]
        fn pool_codes_round_trip(n in 0u32..100_000) {
            let data = serde_json::to_string(&format!("Custom error: {n}")).unwrap();
            let refusal = classify_refusal(1010, "Invalid Transaction", Some(&data));
            match u8::try_from(n) {
                Ok(n) => proptest::prop_assert_eq!(refusal, PoolRefusal::Custom(n)),
                Err(_) => proptest::prop_assert!(matches!(refusal, PoolRefusal::Other { code: 1010, .. }), "{:?}", refusal),
            }
        }

        /// Raw data that is not a JSON string (an object, a number, broken JSON) is kept as
        /// text and never panics.
        #[test]
        fn raw_data_of_any_shape_is_kept(raw in "\\PC{0,60}") {
            let refusal = classify_refusal(1002, "Verification Error", Some(&raw));
            proptest::prop_assert!(!matches!(refusal, PoolRefusal::Custom(_)) || raw.contains("Custom error: "));
        }
    }

    /// The one place an unreachable endpoint becomes an error: the URL redacted, the cause
    /// one short phrase with a hint, nothing else of the error chain.
    #[tokio::test]
    async fn an_unreachable_endpoint_is_named_redacted_with_a_short_cause() {
        let url = "ws://user:secretpw@127.0.0.1:1/ws?apikey=topsecret";
        let Err(e) = ChainClient::connect(url).await else {
            panic!("port 1 answered")
        };
        assert_eq!(
            e,
            ChainError::Unreachable(
                "ws://***@127.0.0.1:1/ws?***: connection refused (is the node running and the URL right?)"
                    .into()
            )
        );
    }

    fn state() -> SubnetState {
        SubnetState::sample(
            Head {
                number: 10,
                hash: [1; 32],
            },
            100,
        )
    }

    #[test]
    fn preflight_refusals_name_the_rule() {
        let cold = PublicKey([3; 32]);
        assert_eq!(state().refusal(1, &cold), None);
        type Change = fn(&mut SubnetState);
        let cases: [(Change, &str); 5] = [
            (|s| s.exists = false, "does not exist"),
            (|s| s.pow_allowed = false, "PoW registration is disabled"),
            (
                |s| s.uid = Some(4),
                "already registered on subnet 1 (uid 4)",
            ),
            (|s| s.max_allowed_uids = 0, "MaxAllowedUids is 0"),
            (|s| s.owner = Some(PublicKey([9; 32])), "another coldkey"),
        ];
        for (change, want) in cases {
            let mut s = state();
            change(&mut s);
            let got = s.refusal(1, &cold).unwrap();
            assert!(got.contains(want), "{got}");
        }
        assert!(state().refusal(0, &cold).unwrap().contains("root"));
        let mut own = state();
        own.owner = Some(cold);
        assert_eq!(own.refusal(1, &cold), None);
        let mut full = state();
        full.registrations_this_block = 1;
        assert!(full.block_is_full());
    }
}
