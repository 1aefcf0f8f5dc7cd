//! What `regpow register` and `regpow farm` share: one set-up sequence, in one order, and the
//! loop that feeds a run's two event streams (its own, and the devices') to its view.
//!
//! The order: a runtime; the metrics endpoint (so a scrape works from the first moment);
//! the chain (the embedded devnet started first for `--network devnet`); then the command
//! checks what it must before any device is opened or password asked for (register's
//! pre-flight, the farm's journal) and unlocks its coldkeys; then [`Live::start`] opens the
//! devices, listens for Ctrl-C and follows the chain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use regpow_chain::network::ChainPin;
use regpow_chain::{ChainClient, HeadState, Network, Session, SessionEvent};
use regpow_registrar::{watch_devices, DeviceEvent, DeviceShare, DEVICE_STALL};
use regpow_solver::DevicePool;
use tokio::runtime::Runtime;
use tokio::sync::{broadcast, mpsc};

use crate::args::BackendArgs;
use crate::connect::{connect, failure, Connection};
use crate::failure::Failure;
use crate::interrupts::{interrupts, EarlyTerminate};
use crate::metrics::{self, Metrics};
use crate::views::EventSink;
use crate::{backends, output};

/// A connected run, before its devices are opened.
pub struct Live {
    /// The runtime everything runs on.
    pub runtime: Runtime,
    /// The chain (and the embedded devnet, if one was started).
    pub connection: Connection,
    /// `--metrics`, serving already.
    pub metrics: Option<Arc<Metrics>>,
    /// The metrics URL at the address actually bound.
    pub metrics_url: Option<String>,
    /// SIGTERM, heard since the runtime started; handed to the run's interrupts.
    early_terminate: std::sync::Mutex<Option<EarlyTerminate>>,
}

/// What a started run has: its devices, the chain session (its events and the subnets'
/// state at each head) and Ctrl-C.
pub struct Started {
    /// The device pool.
    pub pool: Arc<DevicePool>,
    /// The pool as the run's registrations share it.
    pub share: Arc<DeviceShare>,
    /// The chain, followed once for every registration.
    pub session: Arc<Session<ChainClient>>,
    /// One message per Ctrl-C.
    pub cancel: mpsc::UnboundedReceiver<()>,
    /// The device stream.
    pub devices: mpsc::UnboundedReceiver<DeviceEvent>,
    /// The session's events (subscribed as it started, so no drop is missed).
    pub chain: broadcast::Receiver<SessionEvent>,
    /// The subnets' state at each head, once the session has read it.
    pub head_states: broadcast::Receiver<Arc<HeadState>>,
}

impl Live {
    /// A runtime, the metrics endpoint on `metrics`, and the chain at `network`.
    pub fn connect(
        network: &Network,
        allow_insecure_ws: bool,
        expect_chain: Option<ChainPin>,
        devnet_block_time: Duration,
        metrics: Option<SocketAddr>,
        json: bool,
    ) -> Result<Self, Failure> {
        let runtime = Runtime::new()
            .map_err(|e| Failure::unavailable(format!("starting the async runtime: {e}")))?;
        let early_terminate = EarlyTerminate::listen(&runtime)
            .map_err(|e| Failure::unavailable(format!("listening for SIGTERM: {e}")))?;
        let metrics = metrics.map(|addr| (addr, Arc::new(Metrics::new())));
        let mut metrics_url = None;
        let connection = runtime.block_on(async {
            if let Some((addr, m)) = &metrics {
                let bound = metrics::serve(*addr, m.clone()).await?;
                // The address actually bound: with port 0 (a free port, as the Slurm
                // script asks for) this is the only place a scraper can learn it.
                let url = format!("http://{bound}/metrics");
                if json {
                    output::json(&serde_json::json!({ "event": "metrics", "url": url }));
                } else {
                    output::err!("metrics: {url}");
                }
                metrics_url = Some(url);
            }
            connect(network, allow_insecure_ws, expect_chain, devnet_block_time).await
        })?;
        Ok(Self {
            runtime,
            connection,
            metrics: metrics.map(|(_, m)| m),
            metrics_url,
            early_terminate: std::sync::Mutex::new(Some(early_terminate)),
        })
    }

    /// Opens the devices of `--backend`, listens for Ctrl-C (from here on each press is a
    /// message: the first ends the run once a submission in flight is settled, a second
    /// ends it at once), follows the chain and starts the device stream.
    pub fn start(&self, backend: &BackendArgs) -> Result<Started, Failure> {
        let pool = backends::pool(backend)?;
        let early = self
            .early_terminate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| Failure::unavailable("a run starts once".to_string()))?;
        let cancel = interrupts(&self.runtime, early)
            .map_err(|e| Failure::unavailable(format!("listening for Ctrl-C and SIGTERM: {e}")))?;
        let session = self
            .runtime
            .block_on(Session::start(self.connection.client.clone()))
            .map_err(failure)?;
        let chain = session.subscribe();
        let head_states = session.subscribe_states();
        let devices = {
            let _entered = self.runtime.enter();
            watch_devices(pool.clone(), DEVICE_STALL)
        };
        Ok(Started {
            share: DeviceShare::new(pool.clone()),
            pool,
            session,
            cancel,
            devices,
            chain,
            head_states,
        })
    }

    /// Runs the future `run` makes (it reports through the sender it is given), feeding its
    /// events, the device stream and the session's events (`streams`) to `view` as they
    /// come, until it ends; then the events still queued.
    pub fn drive<E, F: Future>(
        &self,
        view: &mut impl EventSink<E>,
        streams: (
            mpsc::UnboundedReceiver<DeviceEvent>,
            broadcast::Receiver<SessionEvent>,
            broadcast::Receiver<Arc<HeadState>>,
        ),
        run: impl FnOnce(mpsc::UnboundedSender<E>) -> F,
    ) -> F::Output {
        let (mut devices, mut chain, mut head_states) = streams;
        let (events_tx, mut events) = mpsc::unbounded_channel();
        self.runtime.block_on(async {
            let run = run(events_tx);
            tokio::pin!(run);
            let outcome = loop {
                tokio::select! {
                    biased;
                    Some(event) = events.recv() => view.on_event(event),
                    Some(event) = devices.recv() => view.on_device(event),
                    Ok(event) = chain.recv() => view.on_session(event),
                    Ok(state) = head_states.recv() => view.on_head_state(state),
                    outcome = &mut run => break outcome,
                }
            };
            while let Ok(event) = events.try_recv() {
                view.on_event(event);
            }
            outcome
        })
    }

    /// Stops the embedded devnet, if one runs.
    pub fn stop(self) {
        if let Some(devnet) = self.connection.devnet {
            self.runtime.block_on(devnet.stop());
        }
    }
}
