//! What clients ask of the devnet: every JSON-RPC call counted by method, as a node's
//! `substrate_rpc_calls_started` metric counts them. Tests and benchmarks read it to bound
//! how many requests a client makes per block.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::types::Request;

/// Calls by method since the devnet started (batched calls count one each).
#[derive(Debug, Default)]
pub struct RpcCalls {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl RpcCalls {
    fn add(&self, method: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts.get_mut(method) {
            Some(count) => *count += 1,
            None => {
                counts.insert(method.to_string(), 1);
            }
        }
    }

    /// Every method called so far, with its count.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Calls of every method together.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

/// The RPC middleware that counts each call into [`RpcCalls`] before serving it.
#[derive(Clone)]
pub(crate) struct Counting<S> {
    pub(crate) service: S,
    pub(crate) calls: Arc<RpcCalls>,
}

impl<S> RpcServiceT for Counting<S>
where
    S: RpcServiceT + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        self.calls.add(request.method_name());
        self.service.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        for entry in batch.iter().flatten() {
            if let BatchEntry::Call(request) = entry {
                self.calls.add(request.method_name());
            }
        }
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(notification)
    }
}
