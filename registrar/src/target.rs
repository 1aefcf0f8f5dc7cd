//! What one registration is for: a target (a hotkey on a subnet) with its id and the user's
//! limits. Leases, pool jobs, events, the journal and view rows all carry the same
//! [`TargetSpec`] (or its [`TargetId`]), so nothing is routed by comparing fields.

use regpow_rules::PublicKey;

/// A target's id: its index in the process's list of targets (0 for `regpow register`),
/// stable for the life of the process. Pool jobs carry it as their tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(pub u32);

impl TargetId {
    /// The tag the device pool carries for this target's jobs (and reports with hits).
    pub fn tag(self) -> u64 {
        u64::from(self.0)
    }
}

/// One registration to make: which hotkey on which subnet, and the user's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    /// Its id.
    pub id: TargetId,
    /// Subnet.
    pub netuid: u16,
    /// Hotkey to register.
    pub hotkey: PublicKey,
    /// Share of the devices relative to the process's other targets (at least 1 is used).
    pub weight: u32,
    /// The user's cap on the difficulty (the plan's `max_difficulty`): the target does not
    /// hash while the subnet is harder. Not the chain's `MaxDifficulty`.
    pub difficulty_cap: Option<u64>,
}

impl TargetSpec {
    /// A target with weight 1 and no cap.
    pub fn new(id: TargetId, netuid: u16, hotkey: PublicKey) -> Self {
        Self {
            id,
            netuid,
            hotkey,
            weight: 1,
            difficulty_cap: None,
        }
    }

    /// Whether the user's cap lets the target hash at `difficulty`: the one place the cap is
    /// judged (the share and the farm both ask here).
    pub fn allows(&self, difficulty: u64) -> bool {
        self.difficulty_cap.is_none_or(|cap| difficulty <= cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_inclusive_and_absent_means_any() {
        let mut spec = TargetSpec::new(TargetId(3), 7, PublicKey([1; 32]));
        assert!(spec.allows(u64::MAX));
        spec.difficulty_cap = Some(5_000);
        assert!(spec.allows(5_000));
        assert!(!spec.allows(5_001));
        assert_eq!(TargetId(3).tag(), 3);
    }
}
