//! The device stream: what the devices of a process do (hashrate, faults, stalls), measured
//! once per process however many targets share them. Registrations report only what
//! concerns their own target; views read both streams.
//!
//! [`DeviceMeter`] is the pure part (rates and the stall watchdog from the pool's cumulative
//! counters); [`watch_devices`] runs it once a second on the tokio runtime and forwards the
//! pool's faults, all into one channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use regpow_solver::{DevicePool, DeviceStats, PoolEvent};
use tokio::sync::mpsc;

/// A device that computes nothing for this long while it holds work is reported.
pub const DEVICE_STALL: Duration = Duration::from_secs(30);

/// One device's hashrate over the last interval.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRate {
    /// Stable id (`cpu`, `cuda:0`, `wgpu:1`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Seals per second.
    pub hashrate: f64,
}

/// What the devices did.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceEvent {
    /// Hashrate over the last interval, per device (in the pool's device order).
    Hashrate {
        /// Each device's rate.
        devices: Vec<DeviceRate>,
        /// Sum of the devices.
        total: f64,
        /// Seals computed since the watch began.
        hashes: u64,
    },
    /// A device failed and left the pool (the others take over its work).
    Fault {
        /// Its stable id.
        id: String,
        /// Its name.
        name: String,
        /// What happened.
        reason: String,
    },
    /// A device holding work has computed nothing for a while (said once per stall).
    Stalled {
        /// Its stable id.
        id: String,
        /// Its name.
        name: String,
        /// For how long.
        idle: Duration,
    },
}

/// Rates and stalls from successive samples of the pool's counters.
pub struct DeviceMeter {
    /// `(id, name)` of every device, in pool order.
    names: Vec<(String, String)>,
    /// Each device's count when the meter began (the pool's counters are cumulative).
    baseline: Vec<u64>,
    /// Counts at the previous sample, and when it was taken.
    last: (Vec<u64>, Instant),
    /// Per device: the count at its last progress, when that was, and whether its stall
    /// was reported.
    progress: Vec<(u64, Instant, bool)>,
    stall_after: Duration,
}

impl DeviceMeter {
    /// A meter starting from `stats` (the pool's counters now) at `now`.
    pub fn new(stats: &[DeviceStats], stall_after: Duration, now: Instant) -> Self {
        let counts: Vec<u64> = stats.iter().map(|s| s.hashes).collect();
        Self {
            names: stats
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            progress: counts.iter().map(|&h| (h, now, false)).collect(),
            last: (counts.clone(), now),
            baseline: counts,
            stall_after,
        }
    }

    /// `(id, name)` of device `index` (empty for an index the pool never had).
    pub fn name(&self, index: usize) -> (String, String) {
        self.names.get(index).cloned().unwrap_or_default()
    }

    /// The events of a new sample: the hashrate since the previous one, then each device
    /// that has just been idle for the stall time while holding work.
    pub fn sample(&mut self, stats: &[DeviceStats], now: Instant) -> Vec<DeviceEvent> {
        let counts: Vec<u64> = stats.iter().map(|s| s.hashes).collect();
        let secs = now.duration_since(self.last.1).as_secs_f64().max(1e-3);
        let devices: Vec<DeviceRate> = self
            .names
            .iter()
            .zip(counts.iter().zip(&self.last.0))
            .map(|((id, name), (now, before))| DeviceRate {
                id: id.clone(),
                name: name.clone(),
                hashrate: now.saturating_sub(*before) as f64 / secs,
            })
            .collect();
        let hashes = counts
            .iter()
            .zip(&self.baseline)
            .map(|(c, b)| c.saturating_sub(*b))
            .sum();
        let total = devices.iter().map(|d| d.hashrate).sum();
        let mut events = vec![DeviceEvent::Hashrate {
            devices,
            total,
            hashes,
        }];
        for (index, (stats, seen)) in stats.iter().zip(&mut self.progress).enumerate() {
            let idle = now.duration_since(seen.1);
            if stats.hashes != seen.0 || !stats.busy {
                *seen = (stats.hashes, now, false);
            } else if idle >= self.stall_after && !seen.2 {
                seen.2 = true;
                let (id, name) = self.names[index].clone();
                events.push(DeviceEvent::Stalled { id, name, idle });
            }
        }
        self.last = (counts, now);
        events
    }
}

/// Watches `pool` until the receiver is dropped: a hashrate every second (the first after a
/// second), each stall (after
/// `stall_after`) and each fault as it happens. Runs on the current tokio runtime.
pub fn watch_devices(
    pool: Arc<DevicePool>,
    stall_after: Duration,
) -> mpsc::UnboundedReceiver<DeviceEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut meter = DeviceMeter::new(&pool.stats(), stall_after, Instant::now());
    let names: Vec<(String, String)> = (0..pool.devices().len()).map(|i| meter.name(i)).collect();
    let faults = tx.clone();
    pool.subscribe(move |event| match event {
        PoolEvent::Fault { device, reason } => {
            let (id, name) = names.get(*device).cloned().unwrap_or_default();
            let reason = reason.clone();
            faults.send(DeviceEvent::Fault { id, name, reason }).is_ok()
        }
        _ => !faults.is_closed(),
    });
    tokio::spawn(async move {
        // The first sample a second in: a rate needs an interval to be measured over.
        let second = Duration::from_secs(1);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for event in meter.sample(&pool.stats(), Instant::now()) {
                if tx.send(event).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(hashes: u64, busy: bool) -> Vec<DeviceStats> {
        vec![DeviceStats {
            id: "cpu".into(),
            name: "test cpu".into(),
            hashes,
            seals_found: 0,
            errors: 0,
            alive: true,
            busy,
        }]
    }

    #[test]
    fn rates_come_from_the_counters_and_a_stall_is_said_once() {
        let t0 = Instant::now();
        let mut meter = DeviceMeter::new(&stats(1_000, true), Duration::from_secs(5), t0);
        let events = meter.sample(&stats(3_000, true), t0 + Duration::from_secs(2));
        let DeviceEvent::Hashrate { total, hashes, .. } = &events[0] else {
            panic!("{events:?}");
        };
        assert_eq!((*total, *hashes), (1_000.0, 2_000));
        // Idle but holding work: reported once at 5 s, not again while it stays idle.
        assert_eq!(
            meter
                .sample(&stats(3_000, true), t0 + Duration::from_secs(6))
                .len(),
            1
        );
        let stalled = meter.sample(&stats(3_000, true), t0 + Duration::from_secs(8));
        assert!(matches!(&stalled[1], DeviceEvent::Stalled { id, .. } if id == "cpu"));
        assert_eq!(
            meter
                .sample(&stats(3_000, true), t0 + Duration::from_secs(20))
                .len(),
            1
        );
        // Progress resets it; a device without work is never stalled.
        meter.sample(&stats(3_001, true), t0 + Duration::from_secs(21));
        assert_eq!(
            meter
                .sample(&stats(3_001, false), t0 + Duration::from_secs(40))
                .len(),
            1
        );
    }
}
