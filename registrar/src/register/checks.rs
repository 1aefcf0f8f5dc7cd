//! The judgements a registration run makes: may this seal be submitted now, does this
//! outcome end the run, and what the chain's state says about a submission whose status
//! was lost.

use std::collections::BTreeMap;

use super::devices::Found;
use super::outcome::Refused;
use super::progress::{Discard, NotRegistered};
use regpow_chain::{PoolRefusal, SubmitOutcome, SubnetState};
use regpow_rules::keys::PublicKey;
use regpow_rules::seal::reference_seal;
use regpow_rules::tx_pool;
use regpow_rules::window::{in_window, last_block_accepting};

/// The checks a found seal passes before it is submitted: the hotkey is not registered,
/// the reference seal on the CPU, the latest effective difficulty, the work window at the
/// newest head (`head_now`), the hotkey's last PoW block, and the work block's hash on the
/// chain as it is now (re-orgs of any depth inside the window).
pub(crate) fn check_hit(
    found: &Found,
    state: &SubnetState,
    head_now: u64,
    recent: &BTreeMap<u64, [u8; 32]>,
) -> Result<(), Discard> {
    if let Some(uid) = state.hotkey.uid {
        return Err(Discard::AlreadyRegistered { uid });
    }
    let seal = reference_seal(&found.job.prefix, found.hit.nonce);
    if seal != found.hit.seal {
        return Err(Discard::NotReverified {
            nonce: found.hit.nonce,
        });
    }
    let difficulty = state.effective_difficulty();
    if !seal.meets(&difficulty.bound()) {
        return Err(Discard::DifficultyRose {
            difficulty: difficulty.get(),
        });
    }
    let work_block = found.work_block;
    let checked_at = state.subnet.head.number.max(head_now) + 1;
    if !in_window(work_block, checked_at) {
        return Err(Discard::OutsideWindow {
            work_block,
            checked_at,
        });
    }
    if state
        .hotkey
        .last_pow_block
        .is_some_and(|last| last >= work_block)
    {
        return Err(Discard::WorkBlockUsed { work_block });
    }
    match recent.get(&work_block) {
        Some(hash) if *hash == found.job.challenge.block_hash => Ok(()),
        Some(_) => Err(Discard::Reorganised { work_block }),
        None => Err(Discard::NotFollowed { work_block }),
    }
}

/// Whether an outcome ends the run: `Some(why)` for rules no later seal can pass.
pub(crate) fn is_fatal(outcome: &SubmitOutcome) -> Option<Refused> {
    match outcome {
        SubmitOutcome::Refused(PoolRefusal::Custom(
            code @ (tx_pool::SUBNET_NOT_EXISTS | tx_pool::NON_ASSOCIATED_COLDKEY),
        )) => Some(Refused::PoolCode(*code)),
        SubmitOutcome::Failed(name) => match name.as_str() {
            "TooManyRegistrationsThisBlock"
            // Another submission (this coldkey's other process, or anyone's) took the hotkey
            // in the same block: the state at the next head says whose it is.
            | "HotKeyAlreadyRegisteredInSubNet"
            | "InvalidWorkBlock"
            | "InvalidDifficulty"
            | "InvalidSeal" => None,
            other => Some(Refused::Failed(other.to_string())),
        },
        _ => None,
    }
}

/// A submission whose final status was lost: only the chain's state can settle it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Doubt {
    /// Its work block.
    pub work_block: u64,
    /// The signer nonce it carries.
    pub nonce: u64,
}

impl Doubt {
    /// Whether `state` proves this submission can no longer register the hotkey (the
    /// caller has already seen that the hotkey is not registered at `state.subnet.head`): its work
    /// block is out of the window for every later block, or the signer's nonce moved past
    /// it (it, or another transaction with its nonce, was included).
    pub(crate) fn settled_by(&self, state: &SubnetState) -> Option<NotRegistered> {
        let work_block = self.work_block;
        if state.subnet.head.number + 1 > last_block_accepting(work_block) {
            return Some(NotRegistered::Expired { work_block });
        }
        if state.hotkey.signer_nonce.is_some_and(|n| n > self.nonce) {
            return Some(NotRegistered::NonceMovedOn { work_block });
        }
        None
    }
}

/// Whether a registered hotkey in `state` is proven the registration of the submission in
/// `doubt` (whose own status was lost): our coldkey owns it, its last PoW registration used
/// the doubt's work block, and the coldkey's nonce moved past the doubt's. Anything less (a
/// registration by another process of this coldkey, even on the same work block, leaves the
/// nonce where it was or takes another) is not claimed as this run's.
pub(crate) fn doubt_registered(state: &SubnetState, coldkey: &PublicKey, doubt: &Doubt) -> bool {
    state.hotkey.uid.is_some()
        && state.hotkey.owner == Some(*coldkey)
        && state.hotkey.last_pow_block == Some(doubt.work_block)
        && state.hotkey.signer_nonce.is_some_and(|n| n > doubt.nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regpow_chain::Head;
    use regpow_rules::challenge::Challenge;
    use regpow_rules::difficulty::Difficulty;
    use regpow_solver::backend::{Hit, Job};

    const HOTKEY: PublicKey = PublicKey([0x11; 32]);
    const COLDKEY: PublicKey = PublicKey([0x22; 32]);

    fn state(head: u64, difficulty: u64) -> SubnetState {
        SubnetState::sample(
            Head {
                number: head,
                hash: [head as u8; 32],
            },
            difficulty,
        )
    }

    /// A real hit at `difficulty` on work block `work_block` (hash = its number repeated).
    fn found(work_block: u64, difficulty: u64) -> Found {
        let job = Job::new(
            Challenge {
                netuid: 1,
                block_hash: [work_block as u8; 32],
                hotkey: HOTKEY,
                coldkey: COLDKEY,
            },
            Difficulty::new(difficulty).unwrap(),
        );
        let nonce = (0u64..)
            .find(|&n| reference_seal(&job.prefix, n).meets(&job.bound))
            .unwrap();
        Found {
            job,
            work_block,
            hit: Hit {
                nonce,
                seal: reference_seal(&job.prefix, nonce),
            },
        }
    }

    fn recent(upto: u64) -> BTreeMap<u64, [u8; 32]> {
        (0..=upto).map(|n| (n, [n as u8; 32])).collect()
    }

    fn expect(result: Result<(), Discard>, words: &str) {
        let why = result.unwrap_err().to_string();
        assert!(why.contains(words), "{why}");
    }

    #[test]
    fn a_good_hit_passes_and_each_stale_or_wrong_one_is_dropped() {
        let hit = found(10, 8);
        assert_eq!(check_hit(&hit, &state(10, 8), 10, &recent(10)), Ok(()));
        // Head 14: checked at 15, 15 − 10 = 5 blocks back: still inside the window.
        assert_eq!(check_hit(&hit, &state(14, 8), 14, &recent(14)), Ok(()));
        expect(
            check_hit(&hit, &state(15, 8), 15, &recent(15)),
            "outside the chain's window",
        );
        // The state lags a head behind: the newest head decides the window.
        expect(
            check_hit(&hit, &state(14, 8), 15, &recent(15)),
            "outside the chain's window",
        );
        expect(
            check_hit(&hit, &state(9, 8), 9, &recent(9)),
            "outside the chain's window",
        );

        let hard = (1u64..)
            .map(|k| 8 * k)
            .find(|&d| !hit.hit.seal.meets(&Difficulty::new(d).unwrap().bound()))
            .unwrap();
        expect(
            check_hit(&hit, &state(11, hard), 11, &recent(11)),
            "difficulty rose",
        );

        let mut bad = found(10, 8);
        bad.hit.seal.0[0] ^= 1;
        expect(
            check_hit(&bad, &state(10, 8), 10, &recent(10)),
            "did not re-verify",
        );

        // Re-organised at depth 1, and a work block the run never saw on its chain.
        let mut reorged = recent(11);
        reorged.insert(10, [0xEE; 32]);
        expect(check_hit(&hit, &state(11, 8), 11, &reorged), "re-organised");
        let mut unseen = recent(11);
        unseen.remove(&10);
        expect(
            check_hit(&hit, &state(11, 8), 11, &unseen),
            "not on the chain",
        );

        let mut used = state(11, 8);
        used.hotkey.last_pow_block = Some(10);
        expect(
            check_hit(&hit, &used, 11, &recent(11)),
            "already has a PoW registration at or after work block 10",
        );

        // Defect 2 of issue 11: a hotkey the state shows registered gets no new seal.
        let mut registered = state(11, 8);
        registered.hotkey.uid = Some(0);
        expect(
            check_hit(&hit, &registered, 11, &recent(11)),
            "already registered",
        );
    }

    #[test]
    fn only_rules_that_can_pass_later_keep_the_run_going() {
        for retry in [
            SubmitOutcome::Refused(PoolRefusal::Custom(255)),
            SubmitOutcome::Failed("TooManyRegistrationsThisBlock".into()),
            SubmitOutcome::Failed("HotKeyAlreadyRegisteredInSubNet".into()),
            SubmitOutcome::Failed("InvalidWorkBlock".into()),
            SubmitOutcome::Failed("InvalidDifficulty".into()),
            SubmitOutcome::Refused(PoolRefusal::NonceRace("Transaction is outdated".into())),
        ] {
            assert_eq!(is_fatal(&retry), None, "{retry:?}");
        }
        for (fatal, refused) in [
            (
                SubmitOutcome::Refused(PoolRefusal::Custom(3)),
                Refused::PoolCode(3),
            ),
            (
                SubmitOutcome::Refused(PoolRefusal::Custom(25)),
                Refused::PoolCode(25),
            ),
            (
                SubmitOutcome::Failed("SubNetRegistrationDisabled".into()),
                Refused::Failed("SubNetRegistrationDisabled".into()),
            ),
            (
                SubmitOutcome::Failed("NonAssociatedColdKey".into()),
                Refused::Failed("NonAssociatedColdKey".into()),
            ),
        ] {
            assert_eq!(is_fatal(&fatal), Some(refused.clone()), "{fatal:?}");
            assert!(!refused.may_lift());
        }
        assert_eq!(
            Refused::PoolCode(25).to_string(),
            "the chain says the hotkey belongs to another coldkey"
        );
    }

    #[test]
    fn a_lost_status_is_settled_only_by_the_chain() {
        let doubt = Doubt {
            work_block: 10,
            nonce: 4,
        };
        let mut s = state(14, 8);
        s.hotkey.signer_nonce = Some(4);
        assert_eq!(doubt.settled_by(&s), None, "still includable at block 15");
        s.hotkey.signer_nonce = Some(5);
        assert_eq!(
            doubt.settled_by(&s),
            Some(NotRegistered::NonceMovedOn { work_block: 10 })
        );
        let mut s = state(15, 8);
        s.hotkey.signer_nonce = Some(4);
        assert_eq!(
            doubt.settled_by(&s),
            Some(NotRegistered::Expired { work_block: 10 })
        );
    }

    #[test]
    fn a_registration_is_claimed_from_state_only_with_the_doubts_block_and_nonce() {
        let doubt = Doubt {
            work_block: 9,
            nonce: 4,
        };
        let mut s = state(11, 8);
        s.hotkey.signer_nonce = Some(5);
        assert!(!doubt_registered(&s, &COLDKEY, &doubt), "not registered");
        s.hotkey.uid = Some(3);
        s.hotkey.owner = Some(COLDKEY);
        s.hotkey.last_pow_block = Some(9);
        assert!(doubt_registered(&s, &COLDKEY, &doubt));
        s.hotkey.signer_nonce = Some(4);
        assert!(
            !doubt_registered(&s, &COLDKEY, &doubt),
            "the nonce did not move: another submission registered it"
        );
        s.hotkey.signer_nonce = Some(5);
        s.hotkey.last_pow_block = Some(8);
        assert!(
            !doubt_registered(&s, &COLDKEY, &doubt),
            "another work block"
        );
        s.hotkey.last_pow_block = Some(9);
        s.hotkey.owner = Some(HOTKEY);
        assert!(!doubt_registered(&s, &COLDKEY, &doubt), "another coldkey");
    }
}
