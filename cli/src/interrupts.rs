//! Ctrl-C and SIGTERM as one stream of messages, for the commands that settle a submission
//! in flight before they exit (`register`, `farm`): the first signal asks the run to end, a
//! second ends it at once. SIGTERM is how Kubernetes, Slurm, systemd and `docker stop` stop
//! a process, so it settles exactly as Ctrl-C does (and, as PID 1 in a container, where the
//! kernel ignores a signal without a handler, it is heard at all).

use std::sync::OnceLock;

use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

/// The signal that asked the run to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C at a terminal.
    Interrupt,
    /// SIGTERM: a scheduler, a service manager or `kill`.
    Terminate,
}

impl StopSignal {
    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "Ctrl-C",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

/// The first stop signal this process received (signals belong to the process, so this is
/// process-wide).
static FIRST: OnceLock<StopSignal> = OnceLock::new();

/// The name of the signal that stopped the run (`Ctrl-C` until one has come).
pub fn stopped_by() -> &'static str {
    FIRST.get().copied().unwrap_or(StopSignal::Interrupt).name()
}

/// SIGTERM, listened for from the moment a run starts (before it connects): a scheduler
/// may stop a task at any moment, and a SIGTERM no handler hears would kill it outright.
/// One that arrives before the run starts ends the run as soon as it starts. (Ctrl-C is
/// listened for only once the run starts, so that it still aborts a password prompt.)
pub struct EarlyTerminate(Signal);

impl EarlyTerminate {
    /// Starts listening for SIGTERM.
    pub fn listen(runtime: &Runtime) -> std::io::Result<Self> {
        runtime
            .block_on(async { signal(SignalKind::terminate()) })
            .map(Self)
    }
}

/// One message per SIGINT or SIGTERM from now on (and for a SIGTERM `early` heard
/// already). One signal stream per signal serves the whole run (a fresh `ctrl_c()` per
/// press could miss a press that comes between two); both are registered before this
/// returns, so no signal is lost once the run starts.
pub fn interrupts(
    runtime: &Runtime,
    early: EarlyTerminate,
) -> std::io::Result<mpsc::UnboundedReceiver<()>> {
    let (cancel_tx, cancel) = mpsc::unbounded_channel();
    let interrupt = runtime.block_on(async { signal(SignalKind::interrupt()) })?;
    for (mut stream, stop) in [
        (interrupt, StopSignal::Interrupt),
        (early.0, StopSignal::Terminate),
    ] {
        let cancel_tx = cancel_tx.clone();
        runtime.spawn(async move {
            while stream.recv().await.is_some() {
                let _ = FIRST.set(stop);
                if cancel_tx.send(()).is_err() {
                    break;
                }
            }
        });
    }
    Ok(cancel)
}
