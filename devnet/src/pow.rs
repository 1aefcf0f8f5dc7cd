//! Subtensor's PoW registration rules (`docs/SPEC.md`, "Admission rules"), checked in chain
//! order with the chain's error names, and the state change of a successful registration.

use std::collections::{BTreeMap, BTreeSet};

use regpow_rules::tx_pool;
use regpow_rules::window::in_window;
use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};

/// A 32-byte account (hotkey or coldkey public key).
pub type AccountId = [u8; 32];

/// `SubtensorModule::pow_register`'s arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowRegister {
    /// Subnet to register on.
    pub netuid: u16,
    /// Block whose hash the seal is bound to.
    pub work_block: u64,
    /// The nonce.
    pub nonce: u64,
    /// The claimed seal.
    pub work: [u8; 32],
    /// The hotkey to register.
    pub hotkey: AccountId,
}

/// The module errors a PoW registration can fail with, named as in the pallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    /// Rule 1.
    #[error("RegistrationNotPermittedOnRootSubnet")]
    RegistrationNotPermittedOnRootSubnet,
    /// Rule 2.
    #[error("SubnetNotExists")]
    SubnetNotExists,
    /// Rule 3.
    #[error("SubNetRegistrationDisabled")]
    SubNetRegistrationDisabled,
    /// Rule 4.
    #[error("HotKeyAlreadyRegisteredInSubNet")]
    HotKeyAlreadyRegisteredInSubNet,
    /// Rule 5, or no uid could be freed.
    #[error("NoNeuronIdAvailable")]
    NoNeuronIdAvailable,
    /// Rule 6.
    #[error("TooManyRegistrationsThisBlock")]
    TooManyRegistrationsThisBlock,
    /// Rules 7–9.
    #[error("InvalidWorkBlock")]
    InvalidWorkBlock,
    /// Rule 10.
    #[error("InvalidSeal")]
    InvalidSeal,
    /// Rule 11.
    #[error("InvalidDifficulty")]
    InvalidDifficulty,
    /// Rule 12.
    #[error("CannotUseSystemAccount")]
    CannotUseSystemAccount,
    /// Rule 13.
    #[error("NonAssociatedColdKey")]
    NonAssociatedColdKey,
    /// Rule 14.
    #[error("TooManyStakingHotkeys")]
    TooManyStakingHotkeys,
}

impl PowError {
    /// The error's name in the pallet's `Error` enum.
    pub fn name(self) -> String {
        self.to_string()
    }

    /// The variant's index in runtime 475's `pallet_subtensor::Error` (the second byte of
    /// `DispatchError::Module` in `ExtrinsicFailed`).
    pub fn index(self) -> u8 {
        use PowError::*;
        match self {
            NonAssociatedColdKey => 7,
            TooManyRegistrationsThisBlock => 20,
            HotKeyAlreadyRegisteredInSubNet => 21,
            InvalidWorkBlock => 24,
            InvalidDifficulty => 25,
            InvalidSeal => 26,
            SubNetRegistrationDisabled => 37,
            RegistrationNotPermittedOnRootSubnet => 42,
            NoNeuronIdAvailable => 48,
            SubnetNotExists => 76,
            CannotUseSystemAccount => 141,
            TooManyStakingHotkeys => 163,
        }
    }

    /// Every error, in rule order.
    pub const ALL: [PowError; 12] = [
        PowError::RegistrationNotPermittedOnRootSubnet,
        PowError::SubnetNotExists,
        PowError::SubNetRegistrationDisabled,
        PowError::HotKeyAlreadyRegisteredInSubNet,
        PowError::NoNeuronIdAvailable,
        PowError::TooManyRegistrationsThisBlock,
        PowError::InvalidWorkBlock,
        PowError::InvalidSeal,
        PowError::InvalidDifficulty,
        PowError::CannotUseSystemAccount,
        PowError::NonAssociatedColdKey,
        PowError::TooManyStakingHotkeys,
    ];

    /// The `InvalidTransaction::Custom` code the transaction pool answers with: 3 for
    /// `SubnetNotExists`, 25 for `NonAssociatedColdKey`, 255 ("bad request") otherwise.
    pub fn pool_code(self) -> u8 {
        match self {
            PowError::SubnetNotExists => tx_pool::SUBNET_NOT_EXISTS,
            PowError::NonAssociatedColdKey => tx_pool::NON_ASSOCIATED_COLDKEY,
            _ => tx_pool::BAD_REQUEST,
        }
    }
}

/// One subnet's registration state.
#[derive(Clone, Debug, PartialEq)]
pub struct Subnet {
    /// `NetworkPowRegistrationAllowed`.
    pub pow_allowed: bool,
    /// `NetworkRegistrationAllowed` (burned registration; not used by PoW).
    pub registration_allowed: bool,
    /// `Difficulty` (raw, before clamping).
    pub difficulty: u64,
    /// `MinDifficulty`.
    pub min_difficulty: u64,
    /// `MaxDifficulty`.
    pub max_difficulty: u64,
    /// `BurnHalfLife`.
    pub burn_half_life: u16,
    /// `BurnIncreaseMult` as U64F64 bits.
    pub burn_increase_mult: u128,
    /// `MaxAllowedUids`.
    pub max_allowed_uids: u16,
    /// `MaxRegistrationsPerBlock`.
    pub max_registrations_per_block: u16,
    /// `RegistrationsThisBlock` (reset every block).
    pub registrations_this_block: u16,
    /// `Uids(netuid, hotkey)`.
    pub uids: BTreeMap<AccountId, u16>,
    /// Hotkey and registration block per uid (index = uid): `SubnetworkN` is its length.
    pub neurons: Vec<(AccountId, u64)>,
}

impl Subnet {
    /// The effective difficulty (the chain's clamp).
    pub fn effective_difficulty(&self) -> Difficulty {
        Difficulty::effective(self.difficulty, self.min_difficulty, self.max_difficulty)
    }
}

/// The part of subtensor's state that PoW registration reads and writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PowState {
    /// Subnets by netuid (`NetworksAdded`).
    pub subnets: BTreeMap<u16, Subnet>,
    /// `Owner(hotkey) = coldkey`.
    pub owner: BTreeMap<AccountId, AccountId>,
    /// `OwnedHotkeys(coldkey)`.
    pub owned_hotkeys: BTreeMap<AccountId, Vec<AccountId>>,
    /// `LastPowRegistrationBlock(hotkey)`.
    pub last_pow_block: BTreeMap<AccountId, u64>,
    /// Subnet system accounts, which can never be registered as hotkeys (rule 12).
    pub system_accounts: BTreeSet<AccountId>,
    /// Most hotkeys one coldkey may own (rule 14).
    pub max_owned_hotkeys: usize,
}

impl PowState {
    /// Checks a `pow_register` signed by `coldkey` for inclusion in block `now` (the block
    /// being built; the pool validates as head + 1). `block_hash(n)` is the chain's hash of
    /// block `n`. Returns the first rule that fails, in chain order.
    pub fn check(
        &self,
        call: &PowRegister,
        coldkey: &AccountId,
        now: u64,
        block_hash: impl Fn(u64) -> Option<[u8; 32]>,
    ) -> Result<(), PowError> {
        use PowError::*;
        if call.netuid == 0 {
            return Err(RegistrationNotPermittedOnRootSubnet);
        }
        let subnet = self.subnets.get(&call.netuid).ok_or(SubnetNotExists)?;
        if !subnet.pow_allowed {
            return Err(SubNetRegistrationDisabled);
        }
        if subnet.uids.contains_key(&call.hotkey) {
            return Err(HotKeyAlreadyRegisteredInSubNet);
        }
        if subnet.max_allowed_uids == 0 {
            return Err(NoNeuronIdAvailable);
        }
        if subnet.registrations_this_block >= subnet.max_registrations_per_block {
            return Err(TooManyRegistrationsThisBlock);
        }
        if !in_window(call.work_block, now) {
            return Err(InvalidWorkBlock);
        }
        if self
            .last_pow_block
            .get(&call.hotkey)
            .is_some_and(|&last| last >= call.work_block)
        {
            return Err(InvalidWorkBlock);
        }
        let hash = block_hash(call.work_block)
            .filter(|h| *h != [0u8; 32])
            .ok_or(InvalidWorkBlock)?;
        let challenge = Challenge {
            netuid: call.netuid,
            block_hash: hash,
            hotkey: PublicKey(call.hotkey),
            coldkey: PublicKey(*coldkey),
        };
        let seal = reference_seal(&challenge.prefix(), call.nonce);
        if seal.0 != call.work {
            return Err(InvalidSeal);
        }
        if !seal.meets(&subnet.effective_difficulty().bound()) {
            return Err(InvalidDifficulty);
        }
        if self.system_accounts.contains(&call.hotkey) {
            return Err(CannotUseSystemAccount);
        }
        match self.owner.get(&call.hotkey) {
            Some(owner) if owner != coldkey => return Err(NonAssociatedColdKey),
            Some(_) => {}
            None => {
                let owned = self.owned_hotkeys.get(coldkey).map_or(0, Vec::len);
                if owned >= self.max_owned_hotkeys {
                    return Err(TooManyStakingHotkeys);
                }
            }
        }
        Ok(())
    }

    /// Checks and applies a registration in block `now`; returns the uid taken. On error the
    /// state is unchanged (the chain runs it in one storage transaction).
    pub fn register(
        &mut self,
        call: &PowRegister,
        coldkey: &AccountId,
        now: u64,
        block_hash: impl Fn(u64) -> Option<[u8; 32]>,
    ) -> Result<u16, PowError> {
        self.check(call, coldkey, now, block_hash)?;
        let subnet = self.subnets.get_mut(&call.netuid).expect("checked");
        let uid = if subnet.neurons.len() < usize::from(subnet.max_allowed_uids) {
            subnet.neurons.push((call.hotkey, now));
            (subnet.neurons.len() - 1) as u16
        } else {
            // Full: replace the neuron registered longest ago.
            let (uid, _) = subnet
                .neurons
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, block))| *block)
                .ok_or(PowError::NoNeuronIdAvailable)?;
            let old = subnet.neurons[uid].0;
            subnet.uids.remove(&old);
            subnet.neurons[uid] = (call.hotkey, now);
            uid as u16
        };
        subnet.uids.insert(call.hotkey, uid);
        subnet.registrations_this_block += 1;
        let bumped = mul_u64f64(subnet.difficulty, subnet.burn_increase_mult.max(U64F64_ONE));
        subnet.difficulty = subnet.clamp(bumped);
        if self.owner.insert(call.hotkey, *coldkey).is_none() {
            self.owned_hotkeys
                .entry(*coldkey)
                .or_default()
                .push(call.hotkey);
        }
        self.last_pow_block.insert(call.hotkey, call.work_block);
        Ok(uid)
    }

    /// Start of block `number`: registrations per block reset, and from block 2 on every
    /// subnet's difficulty decays by the per-block factor `f` with `f^BurnHalfLife = 1/2`,
    /// in the chain's Q32 fixed point, then is clamped to its bounds.
    pub fn on_new_block(&mut self, number: u64) {
        for subnet in self.subnets.values_mut() {
            subnet.registrations_this_block = 0;
            if number > 1 && subnet.burn_half_life > 0 {
                let factor = decay_factor_q32(subnet.burn_half_life);
                subnet.difficulty = subnet.clamp(mul_q32(subnet.difficulty, factor));
            }
        }
    }
}

impl Subnet {
    /// The stored difficulty kept within `[MinDifficulty, MaxDifficulty]` (and at least 1).
    fn clamp(&self, difficulty: u64) -> u64 {
        let lo = self.min_difficulty.max(1);
        difficulty.clamp(lo, self.max_difficulty.max(lo))
    }
}

/// 1.0 in Q32 fixed point.
const Q32_ONE: u64 = 1 << 32;
/// 1.0 as U64F64 bits.
const U64F64_ONE: u128 = 1 << 64;

/// `value × factor` with a Q32 factor, truncated, saturating at `u64::MAX`.
pub fn mul_q32(value: u64, factor_q32: u64) -> u64 {
    let product = u128::from(value) * u128::from(factor_q32);
    u64::try_from(product >> 32).unwrap_or(u64::MAX)
}

/// `base^exp` in Q32 by repeated squaring, each step truncated like the chain's.
fn pow_q32(base_q32: u64, exp: u16) -> u64 {
    let mut result = Q32_ONE;
    let mut square = base_q32;
    let mut remaining = exp;
    while remaining > 0 {
        if remaining & 1 == 1 {
            result = mul_q32(result, square);
        }
        remaining >>= 1;
        if remaining > 0 {
            square = mul_q32(square, square);
        }
    }
    result
}

/// The per-block decay factor in Q32: the largest `f` whose `half_life`-th power (computed
/// as above) does not exceed one half, found by bisection over `[0, 1)`.
pub fn decay_factor_q32(half_life: u16) -> u64 {
    if half_life == 0 {
        return Q32_ONE;
    }
    let (mut low, mut high) = (0u64, Q32_ONE);
    while low + 1 < high {
        let middle = low + (high - low) / 2;
        if pow_q32(middle, half_life) > Q32_ONE / 2 {
            high = middle;
        } else {
            low = middle;
        }
    }
    low
}

/// `value × factor` with a U64F64 factor, truncated to an integer, saturating at `u64::MAX`.
pub fn mul_u64f64(value: u64, factor_bits: u128) -> u64 {
    let whole = u128::from(value).saturating_mul(factor_bits >> 64);
    let fraction = (u128::from(value) * (factor_bits & u128::from(u64::MAX))) >> 64;
    u64::try_from(whole.saturating_add(fraction)).unwrap_or(u64::MAX)
}

/// U64F64 bits of a positive factor such as 1.26.
pub fn u64f64_bits(value: f64) -> u128 {
    (value * 2f64.powi(64)) as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decay_factor_is_the_largest_q32_value_that_halves_over_the_half_life() {
        for half_life in [1u16, 2, 7, 360, 1000, u16::MAX] {
            let f = decay_factor_q32(half_life);
            assert!(pow_q32(f, half_life) <= Q32_ONE / 2, "{half_life}");
            assert!(pow_q32(f + 1, half_life) > Q32_ONE / 2, "{half_life}");
            let exact = 0.5f64.powf(1.0 / f64::from(half_life)) * Q32_ONE as f64;
            assert!(
                (f as f64 - exact).abs() / exact < 1e-6,
                "{half_life}: {f} vs {exact}"
            );
        }
        assert_eq!(decay_factor_q32(1), Q32_ONE / 2);
        assert_eq!(decay_factor_q32(0), Q32_ONE);
    }

    #[test]
    fn fixed_point_products_truncate_and_saturate() {
        assert_eq!(mul_q32(1000, Q32_ONE / 2), 500);
        assert_eq!(mul_q32(3, Q32_ONE / 2), 1);
        assert_eq!(mul_q32(u64::MAX, Q32_ONE), u64::MAX);
        assert_eq!(mul_u64f64(50, u64f64_bits(1.26)), 63);
        assert_eq!(mul_u64f64(100, U64F64_ONE + U64F64_ONE / 4), 125);
        assert_eq!(mul_u64f64(u64::MAX, 2 * U64F64_ONE), u64::MAX);
        assert_eq!(mul_u64f64(u64::MAX, U64F64_ONE), u64::MAX);
    }
}
