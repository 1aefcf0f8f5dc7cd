//! Closing connections that do nothing. Each connection slot is one of a bounded number,
//! and a websocket client answers pings on its own, so pings alone never free the slot of a
//! client that connected and went quiet: a few idle scripts (or a local user holding
//! sockets open) would lock everyone else out. A connection is idle once it has sent no
//! request for the idle timeout and holds no subscription; it is then closed as the server
//! closes connections when it stops (pending calls answered first).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::types::Request;
use jsonrpsee::MethodResponse;
use tokio::time::Instant;

/// What one connection has done: when it last sent a request, and how many subscriptions
/// it holds.
#[derive(Debug)]
pub struct Activity {
    last_request: Mutex<Instant>,
    subscriptions: AtomicUsize,
    /// A subscription was asked for inside a batch, where its answer is not seen one by
    /// one: the connection is never taken for idle.
    subscribed_in_batch: AtomicBool,
}

impl Activity {
    /// A connection that has just opened (opening counts as activity).
    pub fn new() -> Self {
        Self {
            last_request: Mutex::new(Instant::now()),
            subscriptions: AtomicUsize::new(0),
            subscribed_in_batch: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        *self.last_request.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn last_request(&self) -> Instant {
        *self.last_request.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscriptions the connection holds: opened by a successful subscription call, ended
    /// by an unsubscription call. A subscription the server ends itself (a finished
    /// transaction watch, a stopped follow) still counts until the client unsubscribes: a
    /// connection is kept too long rather than closed under a client that waits for events.
    pub fn subscriptions(&self) -> usize {
        self.subscriptions.load(Ordering::SeqCst)
    }

    fn record(&self, method: &str, response: &MethodResponse) {
        if response.is_subscription() && response.is_success() {
            self.subscriptions.fetch_add(1, Ordering::SeqCst);
        } else if is_unsubscription(method) && response.is_success() {
            let _ = self
                .subscriptions
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        }
    }

    /// Resolves once the connection has been idle for `timeout`: no request for that long
    /// and no subscription.
    pub async fn idle_for(&self, timeout: Duration) {
        loop {
            tokio::time::sleep_until(self.last_request() + timeout).await;
            if Instant::now() < self.last_request() + timeout {
                continue; // a request came in meanwhile
            }
            if self.subscriptions() == 0 && !self.subscribed_in_batch.load(Ordering::SeqCst) {
                return;
            }
            // Held open by a subscription: look again a timeout later.
            tokio::time::sleep(timeout).await;
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `method` ends a subscription: the legacy `*_unsubscribe*` and
/// `author_unwatchExtrinsic`, the new spec's `chainHead_v1_unfollow` and
/// `transactionWatch_v1_unwatch`.
fn is_unsubscription(method: &str) -> bool {
    method.contains("unsubscribe") || method.contains("unwatch") || method.contains("unfollow")
}

/// Whether `method` opens one: `*_subscribe*`, `chainHead_v1_follow`, `*AndWatch*`.
fn is_subscription(method: &str) -> bool {
    !is_unsubscription(method)
        && (method.contains("subscribe")
            || method.ends_with("_follow")
            || method.contains("AndWatch"))
}

/// The RPC middleware that records each call of one connection into its [`Activity`].
#[derive(Clone)]
pub(crate) struct Tracking<S> {
    pub(crate) service: S,
    pub(crate) activity: Arc<Activity>,
}

impl<S> RpcServiceT for Tracking<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        self.activity.touch();
        let activity = self.activity.clone();
        let service = self.service.clone();
        async move {
            let method = request.method_name().to_string();
            let response = service.call(request).await;
            activity.record(&method, &response);
            activity.touch();
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        self.activity.touch();
        let subscribes = batch.iter().flatten().any(|entry| match entry {
            BatchEntry::Call(request) => is_subscription(request.method_name()),
            _ => false,
        });
        if subscribes {
            self.activity
                .subscribed_in_batch
                .store(true, Ordering::SeqCst);
        }
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.activity.touch();
        self.service.notification(notification)
    }
}
