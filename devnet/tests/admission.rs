//! Every PoW admission rule refusing with its exact error, in chain order, and the state
//! change of a successful registration. Seals are real (mined with the reference seal).

use regpow_devnet::pow::{u64f64_bits, AccountId, PowError, PowRegister, PowState, Subnet};
use regpow_rules::{reference_seal, Challenge, Difficulty, PublicKey};

const COLD: AccountId = [0xC0; 32];
const HOT: AccountId = [0x40; 32];
const HEAD: u64 = 100;

fn hash_of(n: u64) -> Option<[u8; 32]> {
    (n <= HEAD + 1).then(|| sp_like_hash(n))
}

fn sp_like_hash(n: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&n.to_le_bytes());
    h[31] = 0xAA;
    h
}

fn subnet(pow: bool, difficulty: u64) -> Subnet {
    Subnet {
        pow_allowed: pow,
        registration_allowed: true,
        difficulty,
        min_difficulty: 1,
        max_difficulty: u64::MAX,
        burn_half_life: 360,
        burn_increase_mult: u64f64_bits(1.26),
        max_allowed_uids: 256,
        max_registrations_per_block: 3,
        registrations_this_block: 0,
        uids: Default::default(),
        neurons: Vec::new(),
    }
}

fn state() -> PowState {
    let mut s = PowState {
        max_owned_hotkeys: 50,
        ..Default::default()
    };
    s.subnets.insert(1, subnet(true, 50));
    s.subnets.insert(2, subnet(false, 50));
    s.subnets.insert(3, subnet(true, 50));
    s
}

/// A valid call for (netuid, hotkey, coldkey) on `work_block`, mined at `difficulty`.
fn mined(
    netuid: u16,
    work_block: u64,
    hotkey: AccountId,
    coldkey: AccountId,
    difficulty: u64,
) -> PowRegister {
    let ch = Challenge {
        netuid,
        block_hash: hash_of(work_block).unwrap_or([0; 32]),
        hotkey: PublicKey(hotkey),
        coldkey: PublicKey(coldkey),
    };
    let prefix = ch.prefix();
    let target = Difficulty::new(difficulty).unwrap().bound();
    let nonce = (0u64..)
        .find(|&n| reference_seal(&prefix, n).meets(&target))
        .unwrap();
    PowRegister {
        netuid,
        work_block,
        nonce,
        work: reference_seal(&prefix, nonce).0,
        hotkey,
    }
}

fn now() -> u64 {
    HEAD + 1
}

#[test]
fn a_valid_registration_takes_a_uid_and_bumps_the_difficulty() {
    let mut s = state();
    let call = mined(1, HEAD, HOT, COLD, 50);
    assert_eq!(s.register(&call, &COLD, now(), hash_of), Ok(0));
    let subnet = &s.subnets[&1];
    assert_eq!(subnet.uids.get(&HOT), Some(&0));
    assert_eq!(subnet.neurons.len(), 1);
    assert_eq!(subnet.registrations_this_block, 1);
    assert_eq!(subnet.difficulty, 63); // 50 × 1.26
    assert_eq!(s.owner.get(&HOT), Some(&COLD));
    assert_eq!(s.last_pow_block.get(&HOT), Some(&HEAD));
    let second = mined(1, HEAD, [0x41; 32], COLD, 63);
    assert_eq!(s.register(&second, &COLD, now(), hash_of), Ok(1));
}

#[test]
fn each_rule_refuses_with_its_error() {
    use PowError::*;
    let cases: Vec<(&str, PowState, PowRegister, AccountId, PowError)> = vec![
        (
            "root",
            state(),
            mined(0, HEAD, HOT, COLD, 1),
            COLD,
            RegistrationNotPermittedOnRootSubnet,
        ),
        (
            "unknown subnet",
            state(),
            mined(9, HEAD, HOT, COLD, 1),
            COLD,
            SubnetNotExists,
        ),
        (
            "pow disabled",
            state(),
            mined(2, HEAD, HOT, COLD, 50),
            COLD,
            SubNetRegistrationDisabled,
        ),
        (
            "stale work",
            state(),
            mined(1, HEAD - 5, HOT, COLD, 50),
            COLD,
            InvalidWorkBlock,
        ),
        (
            "future work",
            state(),
            mined(1, HEAD + 1, HOT, COLD, 50),
            COLD,
            InvalidWorkBlock,
        ),
        (
            "wrong seal",
            state(),
            {
                let mut c = mined(1, HEAD, HOT, COLD, 50);
                c.work[0] ^= 1;
                c
            },
            COLD,
            InvalidSeal,
        ),
        (
            "wrong coldkey in the seal",
            state(),
            mined(1, HEAD, HOT, [0xC1; 32], 50),
            COLD,
            InvalidSeal,
        ),
        (
            "too little work",
            state(),
            {
                // A nonce whose seal is real but misses difficulty 50.
                let ch = Challenge {
                    netuid: 1,
                    block_hash: hash_of(HEAD).unwrap(),
                    hotkey: PublicKey(HOT),
                    coldkey: PublicKey(COLD),
                };
                let target = Difficulty::new(50).unwrap().bound();
                let nonce = (0u64..)
                    .find(|&n| !reference_seal(&ch.prefix(), n).meets(&target))
                    .unwrap();
                PowRegister {
                    netuid: 1,
                    work_block: HEAD,
                    nonce,
                    work: reference_seal(&ch.prefix(), nonce).0,
                    hotkey: HOT,
                }
            },
            COLD,
            InvalidDifficulty,
        ),
    ];
    for (name, s, call, coldkey, want) in cases {
        assert_eq!(
            s.check(&call, &coldkey, now(), hash_of),
            Err(want),
            "{name}"
        );
    }
}

#[test]
fn the_work_window_is_five_blocks() {
    let s = state();
    for back in 1..=5 {
        let call = mined(1, now() - back, HOT, COLD, 50);
        assert_eq!(s.check(&call, &COLD, now(), hash_of), Ok(()), "{back} back");
    }
    let call = mined(1, now() - 6, HOT, COLD, 50);
    assert_eq!(
        s.check(&call, &COLD, now(), hash_of),
        Err(PowError::InvalidWorkBlock)
    );
}

#[test]
fn a_zero_block_hash_is_an_invalid_work_block() {
    let s = state();
    let call = mined(1, HEAD, HOT, COLD, 50);
    let zero = |_| Some([0u8; 32]);
    assert_eq!(
        s.check(&call, &COLD, now(), zero),
        Err(PowError::InvalidWorkBlock)
    );
}

#[test]
fn already_registered_and_reused_work_blocks_are_refused() {
    let mut s = state();
    s.register(&mined(1, HEAD, HOT, COLD, 50), &COLD, now(), hash_of)
        .unwrap();
    let again = mined(1, HEAD, HOT, COLD, 63);
    assert_eq!(
        s.check(&again, &COLD, now(), hash_of),
        Err(PowError::HotKeyAlreadyRegisteredInSubNet)
    );
    // Same hotkey, another subnet, same work block: LastPowRegistrationBlock forbids it.
    let reuse = mined(3, HEAD, HOT, COLD, 50);
    assert_eq!(
        s.check(&reuse, &COLD, now(), hash_of),
        Err(PowError::InvalidWorkBlock)
    );
    // A newer work block is fine.
    let mut later = s.clone();
    later.on_new_block(HEAD + 2);
    let fresh = mined(3, HEAD + 1, HOT, COLD, 50);
    assert_eq!(
        later.check(&fresh, &COLD, HEAD + 2, |n| (n <= HEAD + 1)
            .then(|| sp_like_hash(n))),
        Ok(())
    );
}

#[test]
fn per_block_capacity_and_uid_limits() {
    let mut s = state();
    s.subnets.get_mut(&1).unwrap().max_registrations_per_block = 1;
    s.register(&mined(1, HEAD, HOT, COLD, 50), &COLD, now(), hash_of)
        .unwrap();
    let other = mined(1, HEAD, [0x42; 32], COLD, 63);
    assert_eq!(
        s.check(&other, &COLD, now(), hash_of),
        Err(PowError::TooManyRegistrationsThisBlock)
    );
    s.on_new_block(HEAD + 2);
    assert_eq!(s.subnets[&1].registrations_this_block, 0);

    let mut none = state();
    none.subnets.get_mut(&1).unwrap().max_allowed_uids = 0;
    let call = mined(1, HEAD, HOT, COLD, 50);
    assert_eq!(
        none.check(&call, &COLD, now(), hash_of),
        Err(PowError::NoNeuronIdAvailable)
    );

    // A full subnet replaces its oldest neuron.
    let mut full = state();
    full.subnets.get_mut(&1).unwrap().max_allowed_uids = 1;
    full.register(&mined(1, HEAD, HOT, COLD, 50), &COLD, now(), hash_of)
        .unwrap();
    full.on_new_block(HEAD + 2);
    let d = full.subnets[&1].effective_difficulty().get();
    let newcomer = [0x43; 32];
    assert_eq!(
        full.register(&mined(1, HEAD, newcomer, COLD, d), &COLD, now(), hash_of),
        Ok(0)
    );
    assert!(!full.subnets[&1].uids.contains_key(&HOT));
}

#[test]
fn ownership_rules() {
    let mut s = state();
    s.system_accounts.insert(HOT);
    let call = mined(1, HEAD, HOT, COLD, 50);
    assert_eq!(
        s.check(&call, &COLD, now(), hash_of),
        Err(PowError::CannotUseSystemAccount)
    );

    let mut s = state();
    s.owner.insert(HOT, [0xEE; 32]);
    let err = s.check(&call, &COLD, now(), hash_of).unwrap_err();
    assert_eq!((err, err.pool_code()), (PowError::NonAssociatedColdKey, 25));

    let mut s = state();
    s.max_owned_hotkeys = 0;
    assert_eq!(
        s.check(&call, &COLD, now(), hash_of),
        Err(PowError::TooManyStakingHotkeys)
    );
}

#[test]
fn the_first_failing_rule_wins_and_pool_codes_match_the_spec() {
    // PoW disabled AND a wrong seal: rule 3 comes first.
    let mut call = mined(2, HEAD, HOT, COLD, 50);
    call.work = [0; 32];
    let err = state().check(&call, &COLD, now(), hash_of).unwrap_err();
    assert_eq!(
        (err, err.pool_code()),
        (PowError::SubNetRegistrationDisabled, 255)
    );
    assert_eq!(PowError::SubnetNotExists.pool_code(), 3);
    assert_eq!(PowError::InvalidSeal.name(), "InvalidSeal");
}

#[test]
fn difficulty_decays_by_half_over_the_half_life() {
    let mut s = state();
    s.subnets.get_mut(&1).unwrap().difficulty = 1_000_000;
    for number in 2..362 {
        s.on_new_block(number);
    }
    let d = s.subnets[&1].difficulty;
    assert!((499_000..=500_000).contains(&d), "{d}");
    s.subnets.get_mut(&1).unwrap().min_difficulty = 600_000;
    s.on_new_block(362);
    assert_eq!(s.subnets[&1].difficulty, 600_000);
}
