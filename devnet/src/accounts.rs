//! `System::Account`: nonces and balances, and the well-known development accounts
//! (`//Alice` … `//Ferdie`, derived from Substrate's public development phrase).

use std::collections::BTreeMap;

use parity_scale_codec::Encode;

use crate::pow::AccountId;
use regpow_rules::keys::hex32;

/// One rao is 10⁻⁹ TAO.
pub const RAO_PER_TAO: u64 = 1_000_000_000;

/// The sr25519 public keys of Substrate's development accounts, by name.
pub const DEV_ACCOUNTS: [(&str, [u8; 32]); 6] = [
    (
        "Alice",
        hex32("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"),
    ),
    (
        "Bob",
        hex32("8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48"),
    ),
    (
        "Charlie",
        hex32("90b5ab205c6974c9ea841be688864633dc9ca8a357843eeacf2314649965fe22"),
    ),
    (
        "Dave",
        hex32("306721211d5404bd9da88e0204360a1a9ab8b87c66c1bc2fcdd37f3c2222cc20"),
    ),
    (
        "Eve",
        hex32("e659a7a1628cdd93febc04a4e0646ea20e9f5f0ce097d9a05290d4a9e054df4e"),
    ),
    (
        "Ferdie",
        hex32("1cbd2d43530a44705ad088af313e18f80b53ef16b36177cd4b77b846f2a5f07c"),
    ),
];

/// The public key of a development account named like `Alice` or `//alice`.
pub fn dev_account(name: &str) -> Option<AccountId> {
    let name = name.trim_start_matches("//");
    DEV_ACCOUNTS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, key)| *key)
}

/// The part of `frame_system::AccountInfo` the devnet tracks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountInfo {
    /// Transactions sent so far (`CheckNonce`).
    pub nonce: u32,
    /// Free balance in rao.
    pub free: u64,
}

impl AccountInfo {
    /// SCALE as runtime 475 stores it: nonce, consumers, providers, sufficients (u32 each),
    /// then `AccountData { free, reserved, frozen: u64, flags: u128 }`.
    pub fn encode(&self) -> Vec<u8> {
        let providers = u32::from(self.free > 0);
        (
            self.nonce, 0u32, providers, 0u32, self.free, 0u64, 0u64, 0u128,
        )
            .encode()
    }
}

/// Every account the chain knows, by public key.
pub type Accounts = BTreeMap<AccountId, AccountInfo>;
