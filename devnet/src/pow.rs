//! Subtensor's PoW registration rules (`shared/SPEC.md`, "Admission rules"), checked in chain
//! order with the chain's error names, and the state change of a successful registration.

use std::collections::{BTreeMap, BTreeSet};

use regpow_solver::{reference_seal, Challenge, Difficulty, PublicKey};

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
            PowError::SubnetNotExists => 3,
            PowError::NonAssociatedColdKey => 25,
            _ => 255,
        }
    }
}

/// How many blocks back a work block may be (rule 7).
pub const WORK_WINDOW: u64 = 5;

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
        if call.work_block >= now || now - call.work_block > WORK_WINDOW {
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
        if !seal.meets(&subnet.effective_difficulty().target()) {
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
        let mult = subnet.burn_increase_mult as f64 / 2f64.powi(64);
        let bumped = (subnet.difficulty as f64 * mult).min(u64::MAX as f64) as u64;
        subnet.difficulty =
            bumped.clamp(subnet.min_difficulty.max(1), subnet.max_difficulty.max(1));
        if self.owner.insert(call.hotkey, *coldkey).is_none() {
            self.owned_hotkeys
                .entry(*coldkey)
                .or_default()
                .push(call.hotkey);
        }
        self.last_pow_block.insert(call.hotkey, call.work_block);
        Ok(uid)
    }

    /// Start of a block: registrations per block reset, and every subnet's difficulty decays
    /// by a factor 2^(−1 / BurnHalfLife), never below its minimum.
    pub fn on_new_block(&mut self) {
        for subnet in self.subnets.values_mut() {
            subnet.registrations_this_block = 0;
            let factor = 0.5f64.powf(1.0 / f64::from(subnet.burn_half_life.max(1)));
            let decayed = (subnet.difficulty as f64 * factor) as u64;
            subnet.difficulty = decayed.max(subnet.min_difficulty.max(1));
        }
    }
}

/// U64F64 bits of a positive factor such as 1.26.
pub fn u64f64_bits(value: f64) -> u128 {
    (value * 2f64.powi(64)) as u128
}
