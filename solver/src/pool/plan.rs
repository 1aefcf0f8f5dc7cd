//! How the pool splits its devices among jobs, and each device's share of a job's nonces.
//!
//! The rule, in order:
//! - No jobs: every device idles.
//! - At most as many jobs as live devices: devices are handed out whole, fastest first. The
//!   first device of each job goes to the jobs in order of weight (heaviest first), so every
//!   job gets one; every further device goes to the job whose hashrate is furthest below its
//!   weighted share of the total. A device never switches between jobs, so nothing is lost to
//!   switching.
//! - More jobs than live devices: every device time-slices every job, each job's share of
//!   the device's time being its share of the total weight.
//!
//! Devices on the same job search disjoint stripes of the nonce space (or of the job's
//! range), so no two devices ever hash the same nonce of a job.

use crate::backend::NonceRange;

/// One job on one device: which job, what share of the device's time, and which stripe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Allocation {
    /// Index of the job in the assignment.
    pub job: usize,
    /// Fraction of the device's time (1.0 when the device has only this job).
    pub time: f64,
    /// This device's stripe of the job's nonces, and how many stripes the job has.
    pub stripe: usize,
    /// Number of devices (stripes) on the job.
    pub stripes: usize,
}

/// The allocations of every device. `rates[d]` is device `d`'s measured hashrate (`Some(0.0)` or
/// any equal values when unknown), `None` when the device has left the pool.
pub(crate) fn split(weights: &[u32], rates: &[Option<f64>]) -> Vec<Vec<Allocation>> {
    let mut plans = vec![Vec::new(); rates.len()];
    let live: Vec<usize> = (0..rates.len()).filter(|&d| rates[d].is_some()).collect();
    if weights.is_empty() || live.is_empty() {
        return plans;
    }
    let total_weight: f64 = weights.iter().map(|&w| f64::from(w.max(1))).sum();
    if weights.len() > live.len() {
        for &d in &live {
            plans[d] = (0..weights.len())
                .map(|job| Allocation {
                    job,
                    time: f64::from(weights[job].max(1)) / total_weight,
                    stripe: live.iter().position(|&x| x == d).unwrap_or(0),
                    stripes: live.len(),
                })
                .collect();
        }
        return plans;
    }
    // Unknown rates count as equal.
    let rate = |d: usize| match rates[d] {
        Some(r) if r > 0.0 => r,
        _ => 1.0,
    };
    let mut fastest = live.clone();
    fastest.sort_by(|&a, &b| rate(b).total_cmp(&rate(a)).then(a.cmp(&b)));
    let total_rate: f64 = live.iter().map(|&d| rate(d)).sum();
    let mut heaviest: Vec<usize> = (0..weights.len()).collect();
    heaviest.sort_by(|&a, &b| weights[b].cmp(&weights[a]).then(a.cmp(&b)));
    let mut owner = vec![0usize; rates.len()];
    let mut given = vec![0.0f64; weights.len()];
    for (i, &d) in fastest.iter().enumerate() {
        let job = if i < heaviest.len() {
            heaviest[i]
        } else {
            let deficit =
                |j: usize| f64::from(weights[j].max(1)) / total_weight * total_rate - given[j];
            (0..weights.len())
                .max_by(|&a, &b| deficit(a).total_cmp(&deficit(b)).then(b.cmp(&a)))
                .unwrap_or(0)
        };
        owner[d] = job;
        given[job] += rate(d);
    }
    for job in 0..weights.len() {
        let on_job: Vec<usize> = live.iter().copied().filter(|&d| owner[d] == job).collect();
        for (stripe, &d) in on_job.iter().enumerate() {
            plans[d] = vec![Allocation {
                job,
                time: 1.0,
                stripe,
                stripes: on_job.len(),
            }];
        }
    }
    plans
}

/// Stripe `stripe` of `stripes` equal parts of `range`; `None` when the range is too short to
/// give this stripe a nonce.
pub(crate) fn stripe_of(range: NonceRange, stripe: usize, stripes: usize) -> Option<NonceRange> {
    let stripes = stripes.max(1) as u128;
    let stripe = (stripe as u128).min(stripes - 1);
    let len = range.len();
    let start = range.start as u128 + len * stripe / stripes;
    let next = range.start as u128 + len * (stripe + 1) / stripes;
    (next > start).then(|| NonceRange {
        start: start as u64,
        end: (next - 1) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs_of(plans: &[Vec<Allocation>]) -> Vec<Vec<usize>> {
        plans
            .iter()
            .map(|p| p.iter().map(|s| s.job).collect())
            .collect()
    }

    #[test]
    fn no_jobs_or_no_devices_means_idle() {
        assert!(split(&[], &[Some(1.0), Some(2.0)])
            .iter()
            .all(Vec::is_empty));
        assert!(split(&[1], &[None, None]).iter().all(Vec::is_empty));
    }

    #[test]
    fn one_job_takes_every_live_device_on_disjoint_stripes() {
        let plans = split(&[1], &[Some(5.0), None, Some(1.0)]);
        assert_eq!(jobs_of(&plans), vec![vec![0], vec![], vec![0]]);
        let stripes: Vec<usize> = [&plans[0], &plans[2]].iter().map(|p| p[0].stripe).collect();
        assert_eq!(
            stripes
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            2
        );
        assert!(plans[0][0].stripes == 2 && plans[2][0].stripes == 2);
    }

    #[test]
    fn devices_follow_the_weights_and_every_job_gets_one() {
        // Four equal devices, weights 3:1: three devices on job 0, one on job 1.
        let plans = split(&[3, 1], &[Some(1.0); 4]);
        let on = |job| plans.iter().filter(|p| p[0].job == job).count();
        assert_eq!((on(0), on(1)), (3, 1));
        // A very light job still gets a device.
        let plans = split(&[1000, 1], &[Some(1.0); 2]);
        assert_eq!(jobs_of(&plans), vec![vec![0], vec![1]]);
        // The fastest device goes to the heaviest job.
        let plans = split(&[1, 5], &[Some(1.0), Some(100.0)]);
        assert_eq!(jobs_of(&plans), vec![vec![0], vec![1]]);
    }

    #[test]
    fn more_jobs_than_devices_time_slice_by_weight() {
        let plans = split(&[1, 1, 2], &[Some(1.0)]);
        let times: Vec<f64> = plans[0].iter().map(|s| s.time).collect();
        assert_eq!(times, vec![0.25, 0.25, 0.5]);
    }

    #[test]
    fn stripes_cover_a_range_exactly_once() {
        for (range, n) in [
            (NonceRange::new(0, 99).unwrap(), 3),
            (NonceRange::new(7, 7).unwrap(), 1),
            (NonceRange::from(0), 5),
            (NonceRange::new(u64::MAX - 10, u64::MAX).unwrap(), 4),
        ] {
            let parts: Vec<NonceRange> = (0..n).map(|k| stripe_of(range, k, n).unwrap()).collect();
            assert_eq!(parts[0].start, range.start);
            assert_eq!(parts[n - 1].end, range.end);
            for pair in parts.windows(2) {
                assert_eq!(pair[0].end + 1, pair[1].start);
            }
        }
        // Fewer nonces than stripes: some stripes are empty, the rest still tile the range.
        let range = NonceRange::new(10, 11).unwrap();
        let parts: Vec<NonceRange> = (0..5).filter_map(|k| stripe_of(range, k, 5)).collect();
        assert_eq!(parts.iter().map(|r| r.len()).sum::<u128>(), 2);
    }
}
