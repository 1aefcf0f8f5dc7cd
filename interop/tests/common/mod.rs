//! Helpers shared by the devnet's test binaries: mining a `pow_register` with regpow's CPU
//! backend and signing it with subxt.

#![allow(dead_code)] // each test binary uses its own subset

use regpow_devnet::pow::PowRegister;
use regpow_solver::cpu::CpuBackend;
use std::sync::Arc;

use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};
use regpow_solver::search::solve;
use regpow_solver::DevicePool;
use regpow_solver::{Job, NonceRange};
use subxt::config::SubstrateExtrinsicParamsBuilder as Params;
use subxt::dynamic;
use subxt::{OnlineClient, SubstrateConfig};
use subxt_signer::sr25519::Keypair;

/// subxt's client for the devnet.
pub type Client = OnlineClient<SubstrateConfig>;

/// `0x`-prefixed hex.
pub fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Bytes from `0x`-prefixed hex.
pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.trim_start_matches("0x")).unwrap()
}

/// Mines a valid `pow_register` for (netuid, work block) with the CPU backend, re-checked
/// with the reference seal.
pub fn mine(
    netuid: u16,
    work_block: u64,
    block_hash: [u8; 32],
    hotkey: [u8; 32],
    coldkey: [u8; 32],
    difficulty: Difficulty,
) -> PowRegister {
    let challenge = Challenge {
        netuid,
        block_hash,
        hotkey: PublicKey(hotkey),
        coldkey: PublicKey(coldkey),
    };
    let job = Job::new(challenge, difficulty);
    let pool = DevicePool::new(vec![Arc::new(CpuBackend::new(Some(1), None).unwrap())]);
    let report = solve(&pool, &job, NonceRange::from(0), None).unwrap();
    let hit = report.hit.expect("a seal within the range");
    assert_eq!(reference_seal(&challenge.prefix(), hit.nonce), hit.seal);
    PowRegister {
        netuid,
        work_block,
        nonce: hit.nonce,
        work: hit.seal.0,
        hotkey,
    }
}

/// The dynamic `SubtensorModule::pow_register` call subxt encodes from the metadata.
pub fn payload(call: &PowRegister) -> impl subxt::transactions::Payload {
    dynamic::transaction(
        "SubtensorModule",
        "pow_register",
        (
            call.netuid,
            call.work_block,
            call.nonce,
            call.work,
            call.hotkey,
        ),
    )
}

/// `pow_register` signed by `signer` with subxt (nonce given, immortal).
pub async fn signed(api: &Client, call: &PowRegister, signer: &Keypair, nonce: u64) -> Vec<u8> {
    let mut tx = api.at_current_block().await.unwrap().transactions();
    let params = Params::new().nonce(nonce).immortal().build();
    tx.create_signed(&payload(call), signer, params)
        .await
        .unwrap()
        .into_encoded()
}

/// A mined `pow_register` on `netuid` at the devnet's head, for `hotkey`, signed by
/// `signer` with its next nonce `nonce`.
pub async fn registration(
    devnet: &regpow_devnet::DevnetHandle,
    api: &Client,
    netuid: u16,
    hotkey: [u8; 32],
    signer: &Keypair,
    nonce: u64,
) -> Vec<u8> {
    let (number, hash, difficulty) = {
        let ledger = devnet.node.lock();
        let head = ledger.chain.head();
        let subnet = &ledger.chain.state.subnets[&netuid];
        let difficulty = Difficulty::effective(
            subnet.difficulty,
            subnet.min_difficulty,
            subnet.max_difficulty,
        );
        (u64::from(head.header.number), head.hash, difficulty)
    };
    let coldkey: [u8; 32] = signer.public_key().0;
    let call = mine(netuid, number, hash, hotkey, coldkey, difficulty);
    signed(api, &call, signer, nonce).await
}
