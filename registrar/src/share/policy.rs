//! Which registrations hash, and with what share of the devices: a pure function of the
//! targets' difficulties, the pool's hashrate and the block time, unit-tested on its own.
//!
//! The rule, and why: a target is won by its first valid seal, and the chain takes at most
//! one registration per target per block (a submission needs a block to land). Seals are
//! a Poisson process, so the total work to win a set of targets is the sum of their
//! difficulties whatever the order; what the order decides is *when* each is won.
//! - Shortest expected time first: targets are ranked by difficulty ÷ weight (the job's
//!   `weight` makes its targets proportionally more urgent), so the easy slots are taken
//!   first and the mean time to a slot is smallest.
//! - Several at once when one would waste the block: if the whole pool would find the
//!   first target's seal well within a block, hashing on for it only finds seals nobody can
//!   use before the next block. So the next targets in rank join the active set as long as
//!   all of them together still expect their seals within one block (Σ difficulty ≤
//!   hashrate × block time), and the devices are split in proportion to difficulty (times
//!   weight), so that each active target expects its seal at the same moment. That wins up
//!   to one slot per active target per block instead of one.
//! - A target that cannot use a seal now (its subnet's block is full, its own submission
//!   is in flight or in doubt) yields its devices to the others; when no target can use
//!   one, the ready-later ones hash rather than leave the devices idle.
//! - A target above its difficulty cap (the plan's `max_difficulty`) is never hashed.

/// One registration as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Its current effective difficulty.
    pub difficulty: u64,
    /// Its job's weight (at least 1 is used).
    pub weight: u32,
    /// Whether it can use a seal now (see the module documentation).
    pub ready: bool,
    /// Whether its difficulty is within its cap ([`crate::TargetSpec::allows`]).
    pub allowed: bool,
}

/// Largest weight handed to the pool (weights are relative; this keeps them in `u32`).
const SCALE: f64 = 1_000_000.0;

/// Pool weights for `candidates`, in the same order: 0 for a target that does not hash.
/// `hashrate` is the pool's seals per second (0 when not yet measured: the first target
/// alone), `block_secs` the chain's block time.
pub fn allocate(candidates: &[Candidate], hashrate: f64, block_secs: f64) -> Vec<u32> {
    let mut weights = vec![0u32; candidates.len()];
    let usable: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].allowed)
        .collect();
    let ready: Vec<usize> = usable
        .iter()
        .copied()
        .filter(|&i| candidates[i].ready)
        .collect();
    let mut pool = if ready.is_empty() { usable } else { ready };
    if pool.is_empty() {
        return weights;
    }
    let urgency =
        |i: usize| candidates[i].difficulty as f64 / f64::from(candidates[i].weight.max(1));
    pool.sort_by(|&a, &b| urgency(a).total_cmp(&urgency(b)).then(a.cmp(&b)));
    let budget = hashrate.max(0.0) * block_secs.max(0.0);
    let mut active = vec![pool[0]];
    let mut work = candidates[pool[0]].difficulty as f64;
    for &i in &pool[1..] {
        let more = candidates[i].difficulty as f64;
        if work + more > budget {
            break;
        }
        work += more;
        active.push(i);
    }
    let share =
        |i: usize| candidates[i].difficulty.max(1) as f64 * f64::from(candidates[i].weight.max(1));
    let largest = active.iter().map(|&i| share(i)).fold(0.0, f64::max);
    for &i in &active {
        weights[i] = ((share(i) / largest) * SCALE).round().max(1.0) as u32;
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(difficulty: u64) -> Candidate {
        Candidate {
            difficulty,
            weight: 1,
            ready: true,
            allowed: true,
        }
    }

    #[test]
    fn the_easiest_target_takes_every_device_when_it_needs_more_than_a_block() {
        let targets = [target(5_000), target(1_000), target(3_000)];
        // 100 seals/s × 12 s = 1,200 per block: only the easiest fits.
        let weights = allocate(&targets, 100.0, 12.0);
        assert_eq!(weights, vec![0, SCALE as u32, 0]);
        // Not measured yet: the easiest alone.
        assert_eq!(allocate(&targets, 0.0, 12.0), vec![0, SCALE as u32, 0]);
    }

    #[test]
    fn targets_that_all_fit_in_a_block_share_the_devices_by_difficulty() {
        let targets = [target(5_000), target(1_000), target(3_000), target(100_000)];
        // 1,000 seals/s × 12 s = 12,000: the first three (9,000) fit, the fourth does not.
        let weights = allocate(&targets, 1_000.0, 12.0);
        assert_eq!(weights[3], 0);
        assert_eq!(weights[0], SCALE as u32);
        assert_eq!(weights[1], (SCALE / 5.0) as u32);
        assert_eq!(weights[2], (SCALE * 3.0 / 5.0) as u32);
    }

    #[test]
    fn a_target_that_cannot_use_a_seal_yields_unless_none_can() {
        let mut targets = [target(1_000), target(2_000)];
        targets[0].ready = false;
        assert_eq!(allocate(&targets, 10.0, 12.0), vec![0, SCALE as u32]);
        targets[1].ready = false;
        assert_eq!(allocate(&targets, 10.0, 12.0), vec![SCALE as u32, 0]);
    }

    #[test]
    fn weight_makes_a_job_more_urgent_and_the_difficulty_cap_excludes() {
        let mut targets = [target(1_000), target(3_000)];
        targets[1].weight = 4; // 3,000 / 4 = 750 < 1,000
        assert_eq!(allocate(&targets, 10.0, 12.0), vec![0, SCALE as u32]);
        targets[1].allowed = false;
        assert_eq!(allocate(&targets, 10.0, 12.0), vec![SCALE as u32, 0]);
        targets[0].allowed = false;
        assert_eq!(allocate(&targets, 10.0, 12.0), vec![0, 0]);
        assert!(allocate(&[], 10.0, 12.0).is_empty());
    }
}
