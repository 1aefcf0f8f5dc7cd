//! Running a devnet: the JSON-RPC server on 127.0.0.1 and the block producer on a timer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::id_providers::RandomStringIdProvider;
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{stop_channel, PingConfig, Server, ServerConfig, ServerHandle};
use jsonrpsee::Methods;

use crate::access::LoopbackOnlyLayer;

use crate::config::DevnetConfig;
use crate::idle::{Activity, Tracking};
use crate::node::Node;
use crate::rpc_calls::{Counting, RpcCalls};

/// The RPC server's configuration: subscription ids are random strings, as a node hands
/// them out (subxt's chain-head backend needs a string `chainHead_v1_follow` id).
fn server_config(max_connections: u32) -> ServerConfig {
    ServerConfig::builder()
        .set_id_provider(RandomStringIdProvider::new(16))
        .max_connections(max_connections)
        // A client that stops answering pings (a hung or vanished peer) is closed; one that
        // answers them but asks nothing is closed as idle (`crate::idle`).
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(Duration::from_secs(30))
                .inactive_limit(Duration::from_secs(90))
                .max_failures(3),
        )
        .build()
}

/// How long to wait before accepting again after `accept` failed (out of file descriptors:
/// retrying at once would spin a core while nothing can be accepted).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A server on `addr` that counts every call into `calls` and closes connections idle for
/// `config.rpc_idle_timeout`. Each connection gets its own stop signal, fired when the server
/// stops or the connection goes idle; the returned handle stops them all.
async fn serve(
    addr: impl tokio::net::ToSocketAddrs,
    module: jsonrpsee::RpcModule<Arc<Node>>,
    calls: Arc<RpcCalls>,
    config: &DevnetConfig,
) -> std::io::Result<(ServerHandle, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let services = Server::builder()
        .set_config(server_config(config.rpc_max_connections))
        .set_http_middleware(tower::ServiceBuilder::new().layer(LoopbackOnlyLayer))
        .to_service_builder();
    let methods: Methods = module.into();
    let idle_timeout = config.rpc_idle_timeout;
    let (stop, handle) = stop_channel();
    tokio::spawn(async move {
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => {
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
                _ = stop.clone().shutdown() => break,
            };
            let _ = socket.set_nodelay(true);
            let activity = Arc::new(Activity::new());
            let rpc = {
                let (calls, activity) = (calls.clone(), activity.clone());
                RpcServiceBuilder::new()
                    .layer_fn(move |service| Counting {
                        service,
                        calls: calls.clone(),
                    })
                    .layer_fn(move |service| Tracking {
                        service,
                        activity: activity.clone(),
                    })
            };
            let (connection_stop, connection) = stop_channel();
            let service = services
                .clone()
                .set_rpc_middleware(rpc)
                .build(methods.clone(), connection_stop.clone());
            let server_stopped = stop.clone().shutdown();
            tokio::spawn(async move {
                let served = jsonrpsee::server::serve_with_graceful_shutdown(
                    socket,
                    service,
                    connection_stop.shutdown(),
                );
                // The websocket outlives `served` (it runs on its own task after the
                // upgrade) and ends when every copy of `connection_stop` is gone.
                let watch = async {
                    tokio::select! {
                        _ = server_stopped => {}
                        _ = activity.idle_for(idle_timeout) => {}
                        _ = connection.clone().stopped() => {}
                    }
                    let _ = connection.stop();
                };
                // How a connection ended (a client gone mid-request) is nobody's error.
                let (_ended, ()) = tokio::join!(served, watch);
            });
        }
    });
    Ok((handle, bound))
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
        let (server, _) = serve(self.addr, module, self.rpc_calls.clone(), &self.node.config)
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
    let (server, addr) = serve(
        ("127.0.0.1", config.port),
        module,
        rpc_calls.clone(),
        &config,
    )
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
