//! The Ethereum JSON-RPC server: HTTP and WebSocket on one port
//! (jsonrpsee), the `eth`, `net`, `web3` and `debug` (tracing) namespaces,
//! limits on request and response size, connections and batch length, and
//! a metrics layer that times every call.

mod convert;
pub(crate) use convert::rpc_header;
pub(crate) use eth::{pool_validated, submit_raw};
mod debug;
pub mod dev;
pub mod error;
mod eth;
mod fees;
pub mod filters;
#[cfg(test)]
mod fuzz_tests;
mod logs;
pub mod outrigger;
mod pubsub;
mod simulate;

use std::{collections::HashSet, net::SocketAddr, sync::Arc, time::Instant};

use eyre::Context as _;
use jsonrpsee::{
    MethodResponse,
    core::middleware::{Batch, Notification, RpcServiceT},
    server::{
        BatchRequestConfig, Server, ServerConfig, ServerHandle, middleware::rpc::RpcServiceBuilder,
    },
    types::Request,
};

use crate::{metrics::Metrics, node::NodeState};

/// Starts the server on `rpc.addr`; returns its handle and bound address.
pub async fn start(state: Arc<NodeState>) -> eyre::Result<(ServerHandle, SocketAddr)> {
    let config = &state.config.rpc;
    let mut module = eth::module(state.clone())?;
    module.merge(pubsub::EthPubSubServer::into_rpc(pubsub::PubSub::new(
        state.clone(),
    )))?;
    let sending = Arc::new(parking_lot::Mutex::new(()));
    let dev = || dev::DevApi::new(state.clone(), sending.clone());
    module.merge(dev::DevRpcServer::into_rpc(dev()))?;
    module.merge(dev::TxPoolRpcServer::into_rpc(dev()))?;
    let debug = || debug::DebugApi::new(state.clone());
    module.merge(debug::DebugRpcServer::into_rpc(debug()))?;
    module.merge(debug::AccessListRpcServer::into_rpc(debug()))?;
    module.merge(outrigger::OutriggerRpcServer::into_rpc(
        outrigger::OutriggerApi::new(state.clone()),
    ))?;
    module.merge(simulate::SimulateRpcServer::into_rpc(
        simulate::SimulateApi::new(state.clone()),
    ))?;
    let methods: Arc<HashSet<&'static str>> = Arc::new(module.method_names().collect());
    let metrics = state.metrics.clone();
    let max_subscriptions = config.max_subscriptions_per_connection;
    let middleware = RpcServiceBuilder::new().layer_fn(move |service| Timed {
        service,
        metrics: metrics.clone(),
        methods: methods.clone(),
        max_subscriptions,
    });
    let limits = ServerConfig::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .max_connections(config.max_connections)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .build();
    let service = Server::builder()
        .set_config(limits)
        .set_rpc_middleware(middleware)
        .to_service_builder();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .wrap_err_with(|| format!("cannot listen for JSON-RPC on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let (stop, handle) = jsonrpsee::server::stop_channel();
    let gate = Arc::new(ConnectionGate::new(
        config.max_tcp_connections,
        config.max_connections_per_ip,
    ));
    let metrics = state.metrics.clone();
    let methods: jsonrpsee::Methods = module.into();
    tokio::spawn(async move {
        loop {
            let (socket, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, most likely: wait, retry.
                        tracing::warn!(target: "rpc", %error, "accepting a connection");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = stop.clone().shutdown() => return,
            };
            let permit = match gate.admit(peer.ip()) {
                Ok(permit) => permit,
                Err(reason) => {
                    metrics.rpc_refused.with_label_values(&[reason]).inc();
                    tracing::debug!(target: "rpc", %peer, reason, "connection refused at accept");
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let service = service.clone().build(methods.clone(), stop.clone());
            let stopped = stop.clone().shutdown();
            let open = metrics.rpc_connections.clone();
            tokio::spawn(async move {
                open.inc();
                if let Err(error) =
                    jsonrpsee::server::serve_with_graceful_shutdown(socket, service, stopped).await
                {
                    tracing::debug!(target: "rpc", %peer, %error, "connection ended");
                }
                open.dec();
                drop(permit);
            });
        }
    });
    Ok((handle, addr))
}

/// Bounds the TCP connections the RPC holds, in all and per IP address:
/// idle and slow connections hold file descriptors too, and the node must
/// keep some for its database and peers.
struct ConnectionGate {
    total: Arc<tokio::sync::Semaphore>,
    per_ip_max: usize,
    per_ip: Arc<parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// A connection's place; released when dropped.
struct GatePermit {
    _total: tokio::sync::OwnedSemaphorePermit,
    ip: std::net::IpAddr,
    per_ip: Arc<parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let mut per_ip = self.per_ip.lock();
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

impl ConnectionGate {
    fn new(total: usize, per_ip_max: usize) -> Self {
        Self {
            total: Arc::new(tokio::sync::Semaphore::new(total)),
            per_ip_max,
            per_ip: Default::default(),
        }
    }

    /// A place for a connection from `ip`, or the limit that refuses it.
    fn admit(&self, ip: std::net::IpAddr) -> Result<GatePermit, &'static str> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| "total")?;
        let mut per_ip = self.per_ip.lock();
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.per_ip_max {
            return Err("per_ip");
        }
        *count += 1;
        Ok(GatePermit {
            _total: total,
            ip,
            per_ip: self.per_ip.clone(),
        })
    }
}

/// Records each call's method, outcome and latency.
#[derive(Clone)]
struct Timed<S> {
    service: S,
    metrics: Arc<Metrics>,
    methods: Arc<HashSet<&'static str>>,
    /// `rpc.max_subscriptions_per_connection`, named in the refusal.
    max_subscriptions: u32,
}

impl<S> Timed<S> {
    /// The metric label of a method: its name if the server has it, so
    /// unknown names sent by clients cannot grow the label set.
    fn label(&self, method: &str) -> &'static str {
        self.methods.get(method).copied().unwrap_or("unknown")
    }
}

impl<S> RpcServiceT for Timed<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let label = self.label(request.method_name());
        let metrics = self.metrics.clone();
        let service = self.service.clone();
        let (id, max_subscriptions) = (request.id().into_owned(), self.max_subscriptions);
        async move {
            let started = Instant::now();
            let response = service.call(request).await;
            metrics.observe_rpc(label, response.is_success(), started.elapsed());
            error::subscription_limit_error(response, id, max_subscriptions)
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let labels: Vec<&'static str> = batch
            .iter()
            .filter_map(|entry| entry.as_ref().ok())
            .map(|entry| self.label(entry.method_name()))
            .collect();
        let metrics = self.metrics.clone();
        let service = self.service.clone();
        async move {
            let started = Instant::now();
            let response = service.batch(batch).await;
            // A batch is timed as a whole; each call in it is counted.
            let elapsed = started.elapsed();
            for label in labels {
                metrics.observe_rpc(label, response.is_success(), elapsed);
            }
            response
        }
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(notification)
    }
}
