//! The chain client: subxt's dynamic API (metadata read at run time, so runtime upgrades do
//! not break it) over one websocket, for what registration needs: heads, the subnet's
//! registration state, and submitting `pow_register`.

use std::sync::Arc;
use std::time::Duration;

use subxt::transactions::TransactionStatus;
use subxt::utils::H256;

use subxt::{OnlineClient, SubstrateConfig};

use crate::api::{ChainApi, Heads, PowRegisterCall, Signing};
use crate::batch::StateReader;
use crate::network::{expected_chains, ChainPin};
use crate::node_text::printable;
use crate::outcome::{classify_refusal, SubmitOutcome};
use crate::runtime::check_runtime;
use crate::state::{Head, NewHead, StateQuery, StateSnapshot, SubnetState};
use crate::transaction::{signed_pow_register, ChainContext};
use crate::wallet::Coldkey;
use crate::ChainError;
use regpow_rules::keys::PublicKey;

/// A connected client.
pub type Api = OnlineClient<SubstrateConfig>;

/// How long one RPC round may take before the endpoint counts as unreachable.
const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a submission may take from signing to a final outcome (about ten blocks).
pub const SUBMISSION_TIMEOUT: Duration = Duration::from_secs(120);

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
    /// The chain's block 0 hash: every signature is bound to it.
    genesis_hash: [u8; 32],
    /// Batched storage reads with the connected runtime's keys.
    reader: Arc<StateReader>,
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

/// Largest JSON-RPC message accepted from a node: runtime metadata in hex (the largest
/// answer regpow asks for) is under 2 MiB for subtensor; a batched storage read of 1,000
/// keys is well under 1 MiB.
pub const MAX_MESSAGE_BYTES: u32 = 8 << 20;

/// Messages a subscription may hold before regpow reads them; a node that floods one gets
/// it closed (and regpow reconnects) rather than memory without bound. subxt's default is
/// 4,096 (with 10 MB messages, 40 GB).
pub const SUBSCRIPTION_BUFFER: usize = 32;

/// A websocket JSON-RPC client with bounds a hostile node cannot push past: message size
/// ([`MAX_MESSAGE_BYTES`], both ways) and per-subscription buffering
/// ([`SUBSCRIPTION_BUFFER`]).
async fn bounded_client(
    url: &str,
) -> Result<subxt::rpcs::RpcClient, Box<dyn std::error::Error + Send + Sync + 'static>> {
    use subxt::ext::jsonrpsee::client_transport::ws::{Url, WsTransportClientBuilder};
    use subxt::ext::jsonrpsee::core::client::ClientBuilder;
    let (sender, receiver) = WsTransportClientBuilder::default()
        .max_request_size(MAX_MESSAGE_BYTES)
        .max_response_size(MAX_MESSAGE_BYTES)
        .build(Url::parse(url)?)
        .await?;
    let client = ClientBuilder::default()
        .max_buffer_capacity_per_subscription(SUBSCRIPTION_BUFFER)
        .build_with_tokio(sender, receiver);
    Ok(subxt::rpcs::RpcClient::new(client))
}

/// Refuses a node whose genesis is not the chain the user pinned (`pin`) or the one its
/// well-known finney or test host serves: a signature made for another genesis would be one
/// the user never meant to make.
fn check_chain(
    url: &str,
    pin: Option<ChainPin>,
    genesis_hash: &[u8; 32],
) -> Result<(), ChainError> {
    match expected_chains(url, pin)
        .into_iter()
        .find(|expected| expected.genesis_hash() != *genesis_hash)
    {
        Some(expected) => Err(ChainError::WrongChain(format!(
            "{}: the node's genesis is 0x{}, not {}: refusing to sign for another chain",
            super::network::redact_url(url),
            hex::encode(genesis_hash),
            match expected {
                ChainPin::Known(chain) => format!(
                    "{}'s (0x{})",
                    chain.name(),
                    hex::encode(chain.genesis_hash())
                ),
                ChainPin::Genesis(hash) => format!("the expected 0x{}", hex::encode(hash)),
            },
        ))),
        None => Ok(()),
    }
}

impl ChainClient {
    /// Connects and checks the chain (a well-known finney or test host must serve its
    /// genesis) and the runtime (`pow_register` present, every extension encodable).
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        Self::connect_pinned(url, None).await
    }

    /// [`ChainClient::connect`], refusing too a node whose genesis is not `pin`'s
    /// (`--expect-chain`). Reconnections need the genesis of the first connection, so the
    /// pin holds for the whole run.
    pub async fn connect_pinned(url: &str, pin: Option<ChainPin>) -> Result<Self, ChainError> {
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
        let rpc = tokio::time::timeout(RPC_TIMEOUT, bounded_client(url))
            .await
            .map_err(|_| no_answer())?
            .map_err(|e| unreachable(&*e))?;
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
        let genesis_hash = api.genesis_hash().0;
        check_chain(url, pin, &genesis_hash)?;
        let at = timed("runtime", api.at_current_block()).await?;
        check_runtime(at.metadata_ref(), at.spec_version())?;
        Ok(Self {
            api,
            rpc,
            url: url.to_string(),
            genesis_hash,
            reader: Arc::new(StateReader::new(at)?),
        })
    }

    /// The hash of the chain's block 0, which every signature is bound to.
    pub fn genesis_hash(&self) -> [u8; 32] {
        self.genesis_hash
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

    /// The legacy RPC methods on this connection.
    fn legacy(
        &self,
    ) -> subxt::rpcs::LegacyRpcMethods<subxt::config::RpcConfigFor<SubstrateConfig>> {
        subxt::rpcs::LegacyRpcMethods::new(self.rpc.clone())
    }

    /// The account's next nonce counting the node's pool (`system_accountNextIndex`).
    pub async fn account_next_index(&self, account: &PublicKey) -> Result<u64, ChainError> {
        let id = subxt::utils::AccountId32(account.0);
        timed("next index", self.legacy().system_account_next_index(&id)).await
    }

    /// The parent hash of block `block`, from its header.
    pub async fn parent_hash(&self, block: [u8; 32]) -> Result<[u8; 32], ChainError> {
        let header = timed("header", self.legacy().chain_get_header(Some(H256(block))))
            .await?
            .ok_or_else(|| {
                ChainError::Rpc(format!(
                    "header of block 0x{}: not found",
                    hex::encode(block)
                ))
            })?;
        Ok(header.parent_hash.0)
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
        let methods = self.legacy();
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
        <Self as ChainApi>::subnet_state(self, head, netuid, hotkey, signer).await
    }

    /// Everything `query` asks for at `head`, in batched `state_queryStorageAt` requests
    /// (see [`crate::batch`]).
    pub async fn read_state(
        &self,
        head: Head,
        query: &StateQuery,
    ) -> Result<StateSnapshot, ChainError> {
        self.reader.read(&self.rpc, head, query, RPC_TIMEOUT).await
    }

    /// Signs `pow_register` with the coldkey (zero tip, the nonce `signing` gives, mortal
    /// from `signing.at`), submits it and follows it into a block; decodes the outcome,
    /// including the pool's refusal codes. `sent` is called once the node answered the
    /// submission or may hold it. Once the node may hold the transaction, every failure to
    /// learn its fate is [`SubmitOutcome::Unknown`], never a refusal; an error return means
    /// nothing was sent. The whole submission is bounded by [`SUBMISSION_TIMEOUT`].
    pub async fn submit_pow_register(
        &self,
        call: &PowRegisterCall,
        coldkey: &Coldkey,
        signing: Signing,
        sent: impl FnOnce(),
    ) -> Result<SubmitOutcome, ChainError> {
        let Signing { nonce, at } = signing;
        let block = timed(
            "block",
            self.api.at_block_hash_and_number(H256(at.hash), at.number),
        )
        .await?;
        // The runtime at the signing block must still agree with regpow's definition of
        // the call (a runtime upgrade, or a node that changed its story since connecting).
        check_runtime(block.metadata_ref(), block.spec_version())?;
        let chain = ChainContext {
            spec_version: block.spec_version(),
            transaction_version: block.transaction_version(),
            genesis_hash: self.genesis_hash,
        };
        let extrinsic = signed_pow_register(call, coldkey, nonce, at, &chain)
            .map_err(|e| ChainError::Rpc(format!("signing: {e}")))?;
        let signed = block.transactions().from_bytes(extrinsic);
        let unknown = |reason: String| SubmitOutcome::Unknown {
            reason: printable(&reason),
            nonce,
        };
        let watched = tokio::time::timeout(SUBMISSION_TIMEOUT, async {
            let answer = tokio::time::timeout(RPC_TIMEOUT, signed.submit_and_watch()).await;
            // Only a transport fault before the request left leaves the node without it;
            // subxt does not say which, so every answer (and silence) counts as sent.
            sent();
            let mut progress = match answer {
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
        let unknown = |reason: String| SubmitOutcome::Unknown {
            reason: printable(&reason),
            nonce,
        };
        loop {
            let status = match progress.next().await {
                None => return unknown("status stream ended".into()),
                Some(Err(e)) => return unknown(format!("status: {e}")),
                Some(Ok(status)) => status,
            };
            let in_block = match status {
                TransactionStatus::InBestBlock(b) | TransactionStatus::InFinalizedBlock(b) => b,
                // The node left it out of its own pool; peers may still include it.
                TransactionStatus::Invalid { message } | TransactionStatus::Dropped { message } => {
                    return SubmitOutcome::Dropped {
                        reason: printable(&message),
                        nonce,
                    }
                }
                TransactionStatus::Error { message } => {
                    return unknown(format!("the node's status: {message}"))
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
                                Ok((netuid, _uid, hotkey))
                                    if netuid == call.netuid && hotkey == call.hotkey.0 =>
                                {
                                    // The event is the node's word; the uid is read from
                                    // the state of the block that includes it.
                                    return self.registered_in(call, head, nonce).await;
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
                ))) => SubmitOutcome::Failed(printable(
                    &module
                        .details()
                        .map(|d| d.variant.name.clone())
                        .unwrap_or_else(|_| module.to_string()),
                )),
                Ok(Err(e)) => unknown(format!("events: {e}")),
            };
        }
    }

    /// The outcome of a submission whose block reports `NeuronRegistered` for the call's
    /// hotkey: `Registered` with the uid `Uids(netuid, hotkey)` holds in that block's state,
    /// and `Unknown` when the state does not show one (a node that fakes events does not
    /// make regpow report a registration that did not happen).
    async fn registered_in(
        &self,
        call: &PowRegisterCall,
        block: Head,
        nonce: u64,
    ) -> SubmitOutcome {
        let unknown = |reason: String| SubmitOutcome::Unknown {
            reason: printable(&reason),
            nonce,
        };
        match self
            .subnet_state(block, call.netuid, &call.hotkey, None)
            .await
        {
            Ok(state) => match state.hotkey.uid {
                Some(uid) => SubmitOutcome::Registered { uid, block },
                None => unknown(format!(
                    "block {} reports NeuronRegistered, but the hotkey holds no uid in its state",
                    block.number
                )),
            },
            Err(e) => unknown(format!("reading the uid at block {}: {e}", block.number)),
        }
    }

    /// The subxt client, for callers that need more.
    pub fn api(&self) -> &Api {
        &self.api
    }
}

impl ChainApi for ChainClient {
    async fn connect(url: &str) -> Result<Self, ChainError> {
        ChainClient::connect(url).await
    }

    fn url(&self) -> &str {
        ChainClient::url(self)
    }

    fn genesis_hash(&self) -> [u8; 32] {
        ChainClient::genesis_hash(self)
    }

    async fn best_head(&self) -> Result<Head, ChainError> {
        ChainClient::best_head(self).await
    }

    async fn follow_heads(&self) -> Result<Heads, ChainError> {
        use futures::StreamExt;
        Ok(ChainClient::follow_heads(self).await?.boxed())
    }

    async fn parent_hash(&self, block: [u8; 32]) -> Result<[u8; 32], ChainError> {
        ChainClient::parent_hash(self, block).await
    }

    async fn ancestry(
        &self,
        head: NewHead,
        from: u64,
        known: impl Fn(u64, &[u8; 32]) -> bool + Send,
    ) -> Result<Vec<Head>, ChainError> {
        ChainClient::ancestry(self, head, from, known).await
    }

    async fn read_state(
        &self,
        head: Head,
        query: &StateQuery,
    ) -> Result<StateSnapshot, ChainError> {
        ChainClient::read_state(self, head, query).await
    }

    async fn account_next_index(&self, account: &PublicKey) -> Result<u64, ChainError> {
        ChainClient::account_next_index(self, account).await
    }

    async fn submit_pow_register(
        &self,
        call: &PowRegisterCall,
        coldkey: &Coldkey,
        signing: Signing,
        sent: impl FnOnce() + Send,
    ) -> Result<SubmitOutcome, ChainError> {
        ChainClient::submit_pow_register(self, call, coldkey, signing, sent).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::PoolRefusal;

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
            Some(PoolRefusal::NonceRace(
                "Priority is too low: (0 vs 0): The transaction has too low priority to replace another transaction already in the pool.".into()
            ))
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
}
