//! The chain client: subxt's dynamic API (metadata read at run time, so runtime upgrades do
//! not break it) over one websocket, for what registration needs: heads, the subnet's
//! registration state, and submitting `pow_register`.

use std::time::Duration;

use subxt::dynamic;
use subxt::transactions::TransactionStatus;
use subxt::utils::H256;
use subxt::{OnlineClient, SubstrateConfig};

use super::runtime::check_runtime;
use super::ChainError;
use crate::difficulty::Difficulty;
use crate::keys::PublicKey;
use crate::wallet::Coldkey;

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
    /// Refused by the transaction pool: `InvalidTransaction::Custom(code)` (3, 25, 255).
    Refused(u8),
    /// Refused, dropped or invalidated for another reason (message from the node).
    Rejected(String),
}

/// A connection to a chain that has PoW registration.
#[derive(Clone)]
pub struct ChainClient {
    api: Api,
    url: String,
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
        let api = tokio::time::timeout(RPC_TIMEOUT, Api::from_insecure_url(url))
            .await
            .map_err(|_| ChainError::Unreachable(format!("{url}: no answer")))?
            .map_err(|e| ChainError::Unreachable(format!("{url}: {e}")))?;
        let client = Self {
            api,
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

    /// New best heads as they arrive (the current one first).
    pub async fn follow_heads(
        &self,
    ) -> Result<impl futures::Stream<Item = Result<Head, ChainError>> + use<>, ChainError> {
        use futures::StreamExt;
        let blocks = timed("heads", self.api.stream_best_blocks()).await?;
        Ok(blocks.map(|block| {
            block
                .map(|b| Head {
                    number: b.number(),
                    hash: b.hash().0,
                })
                .map_err(|e| ChainError::Rpc(format!("heads: {e}")))
        }))
    }

    /// Reads the subnet's registration state, and the hotkey's, at `head`.
    pub async fn subnet_state(
        &self,
        head: Head,
        netuid: u16,
        hotkey: &PublicKey,
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
        let (uid, last_pow_block, owner) = tokio::try_join!(uid, last_pow_block, owner)?;
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
        })
    }

    /// Signs `pow_register` with the coldkey (zero tip), submits it and follows it into a
    /// block; decodes the outcome, including the pool's custom rejection codes.
    /// The account nonce is read at `at` (the best head), not at the finalized head, so a
    /// registration attempt that just landed in a best block is counted. The whole
    /// submission is bounded by [`SUBMISSION_TIMEOUT`].
    pub async fn submit_pow_register(
        &self,
        call: &PowRegisterCall,
        coldkey: &Coldkey,
        at: Head,
    ) -> Result<SubmitOutcome, ChainError> {
        match tokio::time::timeout(
            SUBMISSION_TIMEOUT,
            self.submit_and_follow(call, coldkey, at),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Ok(SubmitOutcome::Rejected(format!(
                "no final status within {}s",
                SUBMISSION_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn submit_and_follow(
        &self,
        call: &PowRegisterCall,
        coldkey: &Coldkey,
        at: Head,
    ) -> Result<SubmitOutcome, ChainError> {
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
        let at = timed(
            "block",
            self.api.at_block_hash_and_number(H256(at.hash), at.number),
        )
        .await?;
        let mut transactions = at.transactions();
        let params = subxt::config::SubstrateExtrinsicParamsBuilder::new()
            .tip(0)
            .build();
        let mut progress = match tokio::time::timeout(
            RPC_TIMEOUT,
            transactions.sign_and_submit_then_watch(&payload, coldkey, params),
        )
        .await
        {
            Err(_) => return Err(ChainError::Rpc("submit: no answer".into())),
            Ok(Ok(progress)) => progress,
            Ok(Err(e)) => return Ok(classify_rejection(&e.to_string())),
        };
        loop {
            let status = match progress.next().await {
                None => return Ok(SubmitOutcome::Rejected("status stream ended".into())),
                Some(Err(e)) => return Ok(classify_rejection(&e.to_string())),
                Some(Ok(status)) => status,
            };
            let in_block = match status {
                TransactionStatus::InBestBlock(b) | TransactionStatus::InFinalizedBlock(b) => b,
                TransactionStatus::Invalid { message }
                | TransactionStatus::Dropped { message }
                | TransactionStatus::Error { message } => return Ok(classify_rejection(&message)),
                _ => continue,
            };
            let block_hash = in_block.block_hash().0;
            let block = timed("block", self.api.at_block(subxt::utils::H256(block_hash))).await?;
            let head = Head {
                number: block.block_number(),
                hash: block_hash,
            };
            return match in_block.wait_for_success().await {
                Ok(events) => {
                    for event in events.iter() {
                        let event = event.map_err(|e| ChainError::Rpc(format!("events: {e}")))?;
                        if event.pallet_name() == "SubtensorModule"
                            && event.event_name() == "NeuronRegistered"
                        {
                            let (_netuid, uid, hotkey): (u16, u16, [u8; 32]) =
                                parity_scale_codec::Decode::decode(&mut event.field_bytes())
                                    .map_err(|e| ChainError::Rpc(format!("event: {e}")))?;
                            if hotkey == call.hotkey.0 {
                                return Ok(SubmitOutcome::Registered { uid, block: head });
                            }
                        }
                    }
                    Ok(SubmitOutcome::Rejected(
                        "included without a NeuronRegistered event".into(),
                    ))
                }
                Err(subxt::error::TransactionEventsError::ExtrinsicFailed(
                    subxt::error::DispatchError::Module(module),
                )) => Ok(SubmitOutcome::Failed(
                    module
                        .details()
                        .map(|d| d.variant.name.clone())
                        .unwrap_or_else(|_| module.to_string()),
                )),
                Err(e) => Ok(SubmitOutcome::Rejected(e.to_string())),
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

/// Whether a rejection is about the signer's nonce (a race with our own previous
/// submission), which the next attempt resolves by reading the nonce again.
pub fn is_nonce_race(message: &str) -> bool {
    message.contains("Transaction is outdated") || message.contains("will be valid in the future")
}

/// Reads a pool rejection: `Custom error: N` is the pallet's code, anything else is kept as
/// the node worded it.
pub fn classify_rejection(message: &str) -> SubmitOutcome {
    let code = message.split("Custom error: ").nth(1).and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u8>().ok()
    });
    match code {
        Some(code) => SubmitOutcome::Refused(code),
        None => SubmitOutcome::Rejected(message.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_codes_are_read_from_the_nodes_message() {
        assert_eq!(
            classify_rejection(
                "Rpc error: ErrorObject { code: 1010, message: \"Invalid Transaction\", data: Some(\"Custom error: 255\") }"
            ),
            SubmitOutcome::Refused(255)
        );
        assert_eq!(
            classify_rejection("Invalid Transaction: Custom error: 3"),
            SubmitOutcome::Refused(3)
        );
        assert_eq!(
            classify_rejection("Transaction is outdated"),
            SubmitOutcome::Rejected("Transaction is outdated".into())
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
