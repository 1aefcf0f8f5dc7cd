//! Ctrl-C as a stream of messages, for the commands that settle a submission in flight
//! before they exit (`register`, `farm`): the first press asks the run to end, a second ends
//! it at once.

use tokio::runtime::Runtime;
use tokio::sync::mpsc;

/// One message per SIGINT from now on. One signal stream serves the whole run (a fresh
/// `ctrl_c()` per press could miss a press that comes between two); it is registered
/// before this returns, so no press is lost once the run starts.
pub fn interrupts(runtime: &Runtime) -> std::io::Result<mpsc::UnboundedReceiver<()>> {
    let (cancel_tx, cancel) = mpsc::unbounded_channel();
    let mut signals = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    })?;
    runtime.spawn(async move {
        while signals.recv().await.is_some() {
            if cancel_tx.send(()).is_err() {
                break;
            }
        }
    });
    Ok(cancel)
}
