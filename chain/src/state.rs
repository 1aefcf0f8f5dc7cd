//! What the chain's state says about a registration: a block, and the subnet's and the
//! hotkey's registration state at it, with the rules read from it (the effective difficulty,
//! whether the registration can succeed at all, whether the block is full). Pure: the client
//! reads it, the registration policy judges by it.

use std::collections::{HashMap, HashSet};

use regpow_rules::difficulty::Difficulty;
use regpow_rules::keys::PublicKey;

/// A block: its number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Block number.
    pub number: u64,
    /// Block hash (bound into the seal when this block is the work block).
    pub hash: [u8; 32],
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

/// Why the chain's state rules a registration out at a block, before any work: the pre-flight
/// checks in the chain's order. Some lift when the subnet's owner changes a setting
/// ([`Refusal::may_lift`]); the rest stand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Netuid 0 is the root subnet, which takes no PoW registrations.
    #[error("netuid 0 is the root subnet: PoW registration is not permitted")]
    RootSubnet,
    /// `NetworksAdded(netuid)` is false.
    #[error("subnet {netuid} does not exist")]
    NoSubnet {
        /// The subnet.
        netuid: u16,
    },
    /// `NetworkPowRegistrationAllowed(netuid)` is false.
    #[error(
        "PoW registration is disabled on subnet {netuid} (NetworkPowRegistrationAllowed is false)"
    )]
    PowDisabled {
        /// The subnet.
        netuid: u16,
    },
    /// The hotkey already holds a uid on the subnet.
    #[error("the hotkey is already registered on subnet {netuid} (uid {uid})")]
    AlreadyRegistered {
        /// The subnet.
        netuid: u16,
        /// Its uid.
        uid: u16,
    },
    /// `MaxAllowedUids(netuid)` is 0.
    #[error("subnet {netuid} allows no uids (MaxAllowedUids is 0)")]
    NoUids {
        /// The subnet.
        netuid: u16,
    },
    /// `MaxRegistrationsPerBlock(netuid)` is 0.
    #[error("subnet {netuid} takes no registrations (MaxRegistrationsPerBlock is 0)")]
    NoRegistrationsPerBlock {
        /// The subnet.
        netuid: u16,
    },
    /// `Owner(hotkey)` is another coldkey.
    #[error("the hotkey belongs to another coldkey ({})", owner.to_ss58(42))]
    OtherColdkey {
        /// The coldkey that owns it.
        owner: PublicKey,
    },
}

impl Refusal {
    /// Whether the refusal may lift while the subnet exists: a subnet setting its owner can
    /// change (PoW off, no uids, no registrations per block). A farm waits on these and reads
    /// them again at every head; the others stand.
    pub fn may_lift(&self) -> bool {
        matches!(
            self,
            Self::PowDisabled { .. } | Self::NoUids { .. } | Self::NoRegistrationsPerBlock { .. }
        )
    }
}

/// A subnet's registration state at a block: the same for every hotkey, so a session reads it
/// once per subnet and head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetInfo {
    /// The block it was read at.
    pub head: Head,
    /// `NetworksAdded(netuid)`.
    pub exists: bool,
    /// `NetworkPowRegistrationAllowed(netuid)`.
    pub pow_allowed: bool,
    /// `Difficulty(netuid)` (raw).
    pub difficulty: u64,
    /// `MinDifficulty(netuid)`.
    pub min_difficulty: u64,
    /// `MaxDifficulty(netuid)`.
    pub max_difficulty: u64,
    /// `MaxAllowedUids(netuid)`.
    pub max_allowed_uids: u16,
    /// `RegistrationsThisBlock(netuid)`.
    pub registrations_this_block: u16,
    /// `MaxRegistrationsPerBlock(netuid)`.
    pub max_registrations_per_block: u16,
}

impl SubnetInfo {
    /// The effective difficulty (the chain's clamp, as the SDK computes it).
    pub fn effective_difficulty(&self) -> Difficulty {
        Difficulty::effective(self.difficulty, self.min_difficulty, self.max_difficulty)
    }

    /// Whether this block already holds the subnet's registrations for the block.
    pub fn block_is_full(&self) -> bool {
        self.registrations_this_block >= self.max_registrations_per_block
    }
}

/// One hotkey's registration state on a subnet at a block (and its signer's nonce): what a
/// session reads for many hotkeys in one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HotkeyInfo {
    /// `Uids(netuid, hotkey)`.
    pub uid: Option<u16>,
    /// `LastPowRegistrationBlock(hotkey)`.
    pub last_pow_block: Option<u64>,
    /// `Owner(hotkey)`, `None` for the chain's default (the zero account).
    pub owner: Option<PublicKey>,
    /// The signer's account nonce, when one was asked for.
    pub signer_nonce: Option<u64>,
}

/// What one read of the chain's state asks for at a block: subnets, hotkeys on subnets and
/// signers' account nonces. A session gathers what every registration of the process asks
/// for into one query per head, so that the requests per head do not grow with the plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateQuery {
    /// Subnets whose [`SubnetInfo`] is read.
    pub subnets: HashSet<u16>,
    /// `(hotkey, netuid)` pairs whose [`HotkeyInfo`] is read.
    pub hotkeys: HashSet<(PublicKey, u16)>,
    /// Accounts whose nonce is read.
    pub signers: HashSet<PublicKey>,
}

impl StateQuery {
    /// Adds what one registration judges by: its subnet, its hotkey there, its signer.
    pub fn ask(&mut self, netuid: u16, hotkey: PublicKey, signer: Option<PublicKey>) {
        self.subnets.insert(netuid);
        self.hotkeys.insert((hotkey, netuid));
        self.signers.extend(signer);
    }

    /// Whether this query reads everything `ask` would add.
    pub fn covers(&self, netuid: u16, hotkey: &PublicKey, signer: Option<&PublicKey>) -> bool {
        self.subnets.contains(&netuid)
            && self.hotkeys.contains(&(*hotkey, netuid))
            && signer.is_none_or(|s| self.signers.contains(s))
    }

    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.subnets.is_empty() && self.hotkeys.is_empty() && self.signers.is_empty()
    }
}

/// What a [`StateQuery`] found at one block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateSnapshot {
    /// Each subnet asked for.
    pub subnets: HashMap<u16, SubnetInfo>,
    /// Each `(hotkey, netuid)` asked for (their `signer_nonce` is `None`: see `nonces`).
    pub hotkeys: HashMap<(PublicKey, u16), HotkeyInfo>,
    /// Each signer's account nonce.
    pub nonces: HashMap<PublicKey, u64>,
}

impl StateSnapshot {
    /// One registration's state from the snapshot: `None` when the query did not cover it.
    pub fn subnet_state(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
        signer: Option<&PublicKey>,
    ) -> Option<SubnetState> {
        let subnet = self.subnets.get(&netuid)?.clone();
        let mut info = self.hotkeys.get(&(*hotkey, netuid))?.clone();
        info.signer_nonce = match signer {
            Some(signer) => Some(*self.nonces.get(signer)?),
            None => None,
        };
        Some(SubnetState::from_parts(subnet, info))
    }
}

/// The registration state of one subnet and one hotkey on it at one block: what one
/// registration judges by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetState {
    /// The subnet's part (with the block it was read at).
    pub subnet: SubnetInfo,
    /// The hotkey's part.
    pub hotkey: HotkeyInfo,
}

impl SubnetState {
    /// The state one registration judges by: its subnet's and its hotkey's.
    pub fn from_parts(subnet: SubnetInfo, hotkey: HotkeyInfo) -> Self {
        Self { subnet, hotkey }
    }

    /// An open subnet (PoW on, 256 uids, one registration per block, hotkey unregistered and
    /// unowned) at `head` with `difficulty`: the starting point of policy tests here and in
    /// the registrar.
    pub fn sample(head: Head, difficulty: u64) -> Self {
        Self {
            subnet: SubnetInfo {
                head,
                exists: true,
                pow_allowed: true,
                difficulty,
                min_difficulty: 1,
                max_difficulty: u64::MAX,
                max_allowed_uids: 256,
                registrations_this_block: 0,
                max_registrations_per_block: 1,
            },
            hotkey: HotkeyInfo {
                uid: None,
                last_pow_block: None,
                owner: None,
                signer_nonce: None,
            },
        }
    }

    /// The effective difficulty (the chain's clamp, as the SDK computes it).
    pub fn effective_difficulty(&self) -> Difficulty {
        self.subnet.effective_difficulty()
    }

    /// Why a registration of the hotkey by `coldkey` on `netuid` cannot succeed at this
    /// block, in the chain's order; `None` when it can (rules the chain checks against the
    /// work itself come later).
    pub fn refusal(&self, netuid: u16, coldkey: &PublicKey) -> Option<Refusal> {
        if netuid == 0 {
            return Some(Refusal::RootSubnet);
        }
        if !self.subnet.exists {
            return Some(Refusal::NoSubnet { netuid });
        }
        if !self.subnet.pow_allowed {
            return Some(Refusal::PowDisabled { netuid });
        }
        if let Some(uid) = self.hotkey.uid {
            return Some(Refusal::AlreadyRegistered { netuid, uid });
        }
        if self.subnet.max_allowed_uids == 0 {
            return Some(Refusal::NoUids { netuid });
        }
        if self.subnet.max_registrations_per_block == 0 {
            return Some(Refusal::NoRegistrationsPerBlock { netuid });
        }
        match self.hotkey.owner {
            Some(owner) if owner != *coldkey => Some(Refusal::OtherColdkey { owner }),
            _ => None,
        }
    }

    /// Whether this block already holds the subnet's registrations for the block.
    pub fn block_is_full(&self) -> bool {
        self.subnet.block_is_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_query_covers_what_was_asked_and_a_snapshot_answers_only_that() {
        let (hotkey, signer, other) = (PublicKey([1; 32]), PublicKey([2; 32]), PublicKey([3; 32]));
        let mut query = StateQuery::default();
        assert!(query.is_empty());
        query.ask(7, hotkey, Some(signer));
        assert!(query.covers(7, &hotkey, Some(&signer)));
        assert!(query.covers(7, &hotkey, None));
        assert!(!query.covers(8, &hotkey, None), "another subnet");
        assert!(!query.covers(7, &other, None), "another hotkey");
        assert!(!query.covers(7, &hotkey, Some(&other)), "another signer");
        let sample = state();
        let mut snapshot = StateSnapshot::default();
        snapshot.subnets.insert(7, sample.subnet.clone());
        snapshot.hotkeys.insert((hotkey, 7), sample.hotkey.clone());
        snapshot.nonces.insert(signer, 41);
        let read = snapshot.subnet_state(7, &hotkey, Some(&signer)).unwrap();
        assert_eq!(read.hotkey.signer_nonce, Some(41));
        assert_eq!(read.subnet, sample.subnet);
        assert_eq!(
            snapshot
                .subnet_state(7, &hotkey, None)
                .unwrap()
                .hotkey
                .signer_nonce,
            None
        );
        assert_eq!(snapshot.subnet_state(7, &hotkey, Some(&other)), None);
        assert_eq!(snapshot.subnet_state(8, &hotkey, None), None);
        assert_eq!(snapshot.subnet_state(7, &other, None), None);
    }

    #[test]
    fn preflight_refusals_name_the_rule() {
        let cold = PublicKey([3; 32]);
        assert_eq!(state().refusal(1, &cold), None);
        type Edit = fn(&mut SubnetState);
        let cases: [(Edit, &str); 5] = [
            (|s| s.subnet.exists = false, "does not exist"),
            (
                |s| s.subnet.pow_allowed = false,
                "PoW registration is disabled",
            ),
            (
                |s| s.hotkey.uid = Some(4),
                "already registered on subnet 1 (uid 4)",
            ),
            (|s| s.subnet.max_allowed_uids = 0, "MaxAllowedUids is 0"),
            (
                |s| s.hotkey.owner = Some(PublicKey([9; 32])),
                "another coldkey",
            ),
        ];
        for (change, want) in cases {
            let mut s = state();
            change(&mut s);
            let got = s.refusal(1, &cold).unwrap().to_string();
            assert!(got.contains(want), "{got}");
        }
        assert_eq!(state().refusal(0, &cold), Some(Refusal::RootSubnet));
        let mut off = state();
        off.subnet.pow_allowed = false;
        assert!(off.refusal(1, &cold).unwrap().may_lift());
        let mut gone = state();
        gone.subnet.exists = false;
        assert!(!gone.refusal(1, &cold).unwrap().may_lift());
        let mut own = state();
        own.hotkey.owner = Some(cold);
        assert_eq!(own.refusal(1, &cold), None);
        let mut full = state();
        full.subnet.registrations_this_block = 1;
        assert!(full.block_is_full());
    }
}
