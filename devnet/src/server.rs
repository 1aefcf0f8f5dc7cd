//! Running a devnet: the JSON-RPC server on 127.0.0.1 and the block producer on a timer.

use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::core::id_providers::RandomStringIdProvider;
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{PingConfig, Server, ServerConfig, ServerHandle};

use crate::access::LoopbackOnlyLayer;

use crate::config::DevnetConfig;
use crate::node::Node;
use crate::rpc_calls::{Counting, RpcCalls};

/// The RPC server's configuration: subscription ids are random strings, as a node hands
/// them out (subxt's chain-head backend needs a string `chainHead_v1_follow` id).
fn server_config() -> ServerConfig {
    ServerConfig::builder()
        .set_id_provider(RandomStringIdProvider::new(16))
        .max_connections(MAX_CONNECTIONS)
        // A client that stops answering pings (a hung or vanished peer) is closed.
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(std::time::Duration::from_secs(30))
                .inactive_limit(std::time::Duration::from_secs(90))
                .max_failures(3),
        )
        .build()
}

/// Connections served at once (a node's default is 100; a farm's shards and the test
/// clients together need more, and idle ones are closed by pings).
pub const MAX_CONNECTIONS: u32 = 512;

/// A server on `addr` that counts every call into `calls`.
async fn serve(
    addr: impl tokio::net::ToSocketAddrs,
    module: jsonrpsee::RpcModule<Arc<Node>>,
    calls: Arc<RpcCalls>,
) -> std::io::Result<(ServerHandle, SocketAddr)> {
    let counting = RpcServiceBuilder::new().layer_fn(move |service| Counting {
        service,
        calls: calls.clone(),
    });
    let server = Server::builder()
        .set_config(server_config())
        .set_rpc_middleware(counting)
        .set_http_middleware(tower::ServiceBuilder::new().layer(LoopbackOnlyLayer))
        .build(addr)
        .await?;
    let bound = server.local_addr()?;
    Ok((server.start(module), bound))
}

/// Why the devnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The port could not be bound or the RPC server failed to start.
    #[error("devnet: cannot listen on 127.0.0.1:{port}: {reason}")]
    Listen {
        /// Requested port.
        port: u16,
        /// What the OS said.
        reason: String,
    },
}

/// A started devnet; dropping it does not stop it, [`DevnetHandle::stop`] does.
pub struct DevnetHandle {
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The node, for in-process inspection.
    pub node: Arc<Node>,
    /// Every JSON-RPC call served so far, by method.
    pub rpc_calls: Arc<RpcCalls>,
    server: ServerHandle,
    producer: tokio::task::JoinHandle<()>,
}

impl DevnetHandle {
    /// Closes the RPC server and every connection while the chain keeps producing blocks
    /// (what a node restart or network cut looks like to clients).
    pub async fn stop_rpc(&mut self) {
        let _ = self.server.stop();
        self.server.clone().stopped().await;
    }

    /// Serves RPC again on the same address after [`DevnetHandle::stop_rpc`].
    pub async fn restart_rpc(&mut self) -> Result<(), DevnetError> {
        let listen_error = |reason: String| DevnetError::Listen {
            port: self.addr.port(),
            reason,
        };
        let module =
            crate::rpc::module(self.node.clone()).map_err(|e| listen_error(e.to_string()))?;
        let (server, _) = serve(self.addr, module, self.rpc_calls.clone())
            .await
            .map_err(|e| listen_error(e.to_string()))?;
        self.server = server;
        Ok(())
    }

    /// Stops block production and the RPC server, and waits for the server to finish.
    pub async fn stop(self) {
        self.producer.abort();
        let _ = self.server.stop();
        self.server.stopped().await;
    }
}

/// Starts the devnet on 127.0.0.1 (must be called inside a tokio runtime). It accepts
/// connections when this returns.
pub async fn start(config: DevnetConfig) -> Result<DevnetHandle, DevnetError> {
    let listen_error = |reason: String| DevnetError::Listen {
        port: config.port,
        reason,
    };
    let node = Arc::new(Node::new(config.clone()));
    let module = crate::rpc::module(node.clone()).map_err(|e| listen_error(e.to_string()))?;
    let rpc_calls = Arc::new(RpcCalls::default());
    let (server, addr) = serve(("127.0.0.1", config.port), module, rpc_calls.clone())
        .await
        .map_err(|e| listen_error(e.to_string()))?;
    let producer = {
        let node = node.clone();
        let period = config.block_time;
        tokio::spawn(async move {
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                timer.tick().await;
                node.produce_block();
            }
        })
    };
    Ok(DevnetHandle {
        url: format!("ws://{addr}"),
        addr,
        node,
        rpc_calls,
        server,
        producer,
    })
}
