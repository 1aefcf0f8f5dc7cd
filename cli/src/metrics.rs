//! `--metrics ADDR`: Prometheus metrics on `http://ADDR/metrics` (OpenMetrics text, made by
//! the `prometheus-client` crate, served by hyper).
//!
//! What is exported, and why no hotkey label: a farm has as many hotkeys as it likes, and
//! a label per hotkey would give Prometheus unbounded series. The per-target detail is in
//! `--json` and the journal; the metrics say how the farm as a whole does.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `regpow_hashes_total` | counter | `device` |
//! | `regpow_device_hashrate` | gauge (seals/s) | `device` |
//! | `regpow_seals_found_total` | counter | |
//! | `regpow_submissions_total` | counter | `outcome` |
//! | `regpow_registrations_total` | counter | `netuid` |
//! | `regpow_targets` | gauge | `state` |
//! | `regpow_chain_head_block` | gauge | |
//! | `regpow_head_lag_seconds` | gauge | |
//! | `regpow_retarget_seconds` | histogram | |
//! | `regpow_build_info` | gauge (1) | `version` |

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use regpow_solver::DeviceStats;

use crate::failure::Failure;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabel {
    device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NetuidLabel {
    netuid: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

/// How a submission ended, as the `outcome` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmissionEnd {
    /// The chain registered the hotkey with it.
    Registered,
    /// Refused, or included but failed.
    NotRegistered,
    /// Its final status was lost (the chain's state settles it later).
    StatusLost,
    /// Did not land for a reason that is not its seal's (a nonce race, a stranded nonce, a
    /// full block, …, in `--json`'s word): its seal is signed again.
    Resigned(&'static str),
}

impl SubmissionEnd {
    fn label(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::NotRegistered => "not_registered",
            Self::StatusLost => "status_lost",
            Self::Resigned(kind) => kind,
        }
    }
}

/// Every metric regpow exports, and what it last saw of the pool's counters.
pub struct Metrics {
    registry: Registry,
    hashes: Family<DeviceLabel, Counter>,
    hashrate: Family<DeviceLabel, Gauge<f64, AtomicU64>>,
    seals_found: Counter,
    submissions: Family<OutcomeLabel, Counter>,
    seals_discarded: Family<ReasonLabel, Counter>,
    registrations: Family<NetuidLabel, Counter>,
    targets: Family<StateLabel, Gauge>,
    head_block: Gauge,
    head_lag: Gauge<f64, AtomicU64>,
    retarget: Histogram,
    /// The pool's cumulative counters at the last update (metrics count from the start).
    seen: Mutex<(HashMap<String, u64>, u64)>,
}

impl Metrics {
    /// The metrics, registered, with the build info set.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let hashes = Family::<DeviceLabel, Counter>::default();
        let hashrate = Family::<DeviceLabel, Gauge<f64, AtomicU64>>::default();
        let seals_found = Counter::default();
        let submissions = Family::<OutcomeLabel, Counter>::default();
        let seals_discarded = Family::<ReasonLabel, Counter>::default();
        let registrations = Family::<NetuidLabel, Counter>::default();
        let targets = Family::<StateLabel, Gauge>::default();
        let head_block = Gauge::default();
        let head_lag = Gauge::<f64, AtomicU64>::default();
        // 1 ms … ~4 s: a CPU retargets in milliseconds, a GPU in tens of them.
        let retarget = Histogram::new(exponential_buckets(0.001, 2.0, 13));
        registry.register(
            "regpow_hashes",
            "Seals computed, per device",
            hashes.clone(),
        );
        registry.register(
            "regpow_device_hashrate",
            "Seals per second over the last second, per device",
            hashrate.clone(),
        );
        registry.register(
            "regpow_seals_found",
            "Seals meeting their target, re-verified on the CPU",
            seals_found.clone(),
        );
        registry.register(
            "regpow_submissions",
            "pow_register submissions, by outcome",
            submissions.clone(),
        );
        registry.register(
            "regpow_seals_discarded",
            "Seals dropped before or instead of submission, by reason",
            seals_discarded.clone(),
        );
        registry.register(
            "regpow_registrations",
            "Registrations won, by subnet",
            registrations.clone(),
        );
        registry.register("regpow_targets", "Targets, by state", targets.clone());
        registry.register(
            "regpow_chain_head_block",
            "Number of the newest best head",
            head_block.clone(),
        );
        registry.register(
            "regpow_head_lag_seconds",
            "Seconds since the newest best head arrived",
            head_lag.clone(),
        );
        registry.register(
            "regpow_retarget_seconds",
            "From receiving a head to every device hashing its challenge",
            retarget.clone(),
        );
        // A gauge at 1, the Prometheus convention for build info (the OpenMetrics `info`
        // type is not understood by Prometheus' text parser or promtool).
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register("regpow_build_info", "The regpow version", build_info);
        Self {
            registry,
            hashes,
            hashrate,
            seals_found,
            submissions,
            seals_discarded,
            registrations,
            targets,
            head_block,
            head_lag,
            retarget,
            seen: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// The pool's counters now, and each device's rate.
    pub fn devices(&self, stats: &[DeviceStats], rates: &[(String, f64)]) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for device in stats {
            let before = seen.0.insert(device.id.clone(), device.hashes);
            let label = DeviceLabel {
                device: device.id.clone(),
            };
            self.hashes
                .get_or_create(&label)
                .inc_by(device.hashes.saturating_sub(before.unwrap_or(0)));
        }
        let found: u64 = stats.iter().map(|s| s.seals_found).sum();
        self.seals_found.inc_by(found.saturating_sub(seen.1));
        seen.1 = found;
        for (id, rate) in rates {
            self.hashrate
                .get_or_create(&DeviceLabel { device: id.clone() })
                .set(*rate);
        }
    }

    /// A submission ended.
    pub fn submission(&self, outcome: SubmissionEnd) {
        self.submissions
            .get_or_create(&OutcomeLabel {
                outcome: outcome.label().into(),
            })
            .inc();
    }

    /// A seal was dropped, for `reason` (one word, as `--json` says it).
    pub fn seal_discarded(&self, reason: &str) {
        self.seals_discarded
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc();
    }

    /// A registration was won on `netuid`.
    pub fn registration(&self, netuid: u16) {
        self.registrations
            .get_or_create(&NetuidLabel {
                netuid: netuid.to_string(),
            })
            .inc();
    }

    /// How many targets are in each state (every state named, zeros included).
    pub fn targets(&self, counts: &[(&str, usize)]) {
        for (state, count) in counts {
            self.targets
                .get_or_create(&StateLabel {
                    state: (*state).into(),
                })
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
    }

    /// A new best head.
    pub fn head(&self, number: u64) {
        self.head_block
            .set(i64::try_from(number).unwrap_or(i64::MAX));
    }

    /// Seconds since the newest head arrived.
    pub fn head_lag(&self, seconds: f64) {
        self.head_lag.set(seconds);
    }

    /// A head's retarget time.
    pub fn retarget(&self, seconds: f64) {
        self.retarget.observe(seconds);
    }

    /// The exposition, as served on `/metrics`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    fn respond(&self, request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let openmetrics = request.headers().get_all("accept").iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.contains("application/openmetrics-text"))
        });
        let (status, content_type, body) =
            if request.method() == Method::GET && request.uri().path() == "/metrics" {
                if openmetrics {
                    (
                        StatusCode::OK,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        self.encode(),
                    )
                } else {
                    (
                        StatusCode::OK,
                        "text/plain; version=0.0.4; charset=utf-8",
                        classic_text(&self.encode()),
                    )
                }
            } else {
                (
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "regpow serves GET /metrics only\n".to_string(),
                )
            };
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a static response is valid")
    }
}

/// The classic Prometheus text format (0.0.4) from OpenMetrics text, for scrapers that do
/// not ask for OpenMetrics (curl, `promtool check metrics`, older Prometheus): a counter's
/// `HELP` and `TYPE` name its `_total` samples, and the `# EOF` marker goes.
pub fn classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        text.push_str(renamed.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}

/// Connections served at once; more are closed as they arrive.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client may take to send its request headers (a slow or half-open client
/// frees its slot after this).
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The longest a connection lives, kept alive or not (a scraper reconnects).
pub const CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);

const ACCEPT_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// Binds `addr` (bad or busy: exit 2 or 3 before any work starts) and serves the metrics
/// on it until the runtime ends. Returns the address bound (port 0 picks one).
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr, Failure> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::unavailable(format!("--metrics {addr}: cannot listen: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::unavailable(format!("--metrics {addr}: {e}")))?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        let mut backoff = ACCEPT_BACKOFF_MIN;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    stream
                }
                // Out of file descriptors (or another transient fault): wait instead of
                // spinning, longer each time in a row.
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            };
            // Over the cap, a new connection is closed at once: the ones being served
            // (a scraper among them) finish, and a flood costs a file descriptor briefly.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = service_fn(move |request| {
                    let response = metrics.respond(&request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                // Whatever the client does, the connection ends within its lifetime.
                let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, hashes: u64, seals_found: u64) -> DeviceStats {
        DeviceStats {
            id: id.into(),
            name: id.into(),
            hashes,
            seals_found,
            errors: 0,
            alive: true,
            busy: true,
        }
    }

    #[test]
    fn counters_follow_the_pool_and_events() {
        let metrics = Metrics::new();
        metrics.devices(&[device("cpu", 1000, 1)], &[("cpu".into(), 500.0)]);
        metrics.devices(&[device("cpu", 2500, 3)], &[("cpu".into(), 1500.0)]);
        metrics.submission(SubmissionEnd::Registered);
        metrics.registration(7);
        metrics.targets(&[("registered", 1), ("running", 0)]);
        metrics.head(42);
        metrics.retarget(0.004);
        let text = metrics.encode();
        for line in [
            "regpow_hashes_total{device=\"cpu\"} 2500",
            "regpow_device_hashrate{device=\"cpu\"} 1500.0",
            "regpow_seals_found_total 3",
            "regpow_submissions_total{outcome=\"registered\"} 1",
            "regpow_registrations_total{netuid=\"7\"} 1",
            "regpow_targets{state=\"running\"} 0",
            "regpow_chain_head_block 42",
            "regpow_retarget_seconds_count 1",
            &format!(
                "regpow_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        let classic = classic_text(&text);
        assert!(
            classic.contains("# TYPE regpow_hashes_total counter\n"),
            "{classic}"
        );
        assert!(classic.contains("# HELP regpow_hashes_total "), "{classic}");
        assert!(
            classic.contains("# TYPE regpow_chain_head_block gauge\n"),
            "{classic}"
        );
        assert!(!classic.contains("# EOF"), "{classic}");
    }

    #[test]
    fn the_grafana_dashboard_uses_only_exported_metrics() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../deploy/grafana/regpow-dashboard.json"))
                .unwrap();
        let metrics = Metrics::new();
        metrics.devices(&[device("cpu", 1, 1)], &[("cpu".into(), 1.0)]);
        metrics.submission(SubmissionEnd::NotRegistered);
        metrics.registration(1);
        metrics.targets(&[("running", 1)]);
        metrics.retarget(0.01);
        let exported = metrics.encode();
        let mut used = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if word.starts_with("regpow_") {
                        assert!(
                            exported.lines().any(|l| l.starts_with(word)),
                            "{word} (in {expr}) is not exported"
                        );
                        used += 1;
                    }
                }
            }
        }
        assert!(used >= 10, "{used}");
    }
}
