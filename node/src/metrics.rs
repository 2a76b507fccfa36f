//! Prometheus metrics: one registry per node, served as text at
//! `http://metrics.addr/metrics`.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use tokio::{net::TcpListener, sync::watch};

/// Every metric the node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `outrigger_chain_height`: number of the head block.
    pub height: IntGauge,
    /// `outrigger_block_interval_seconds`: time between a block and its parent.
    pub block_interval: Histogram,
    /// `outrigger_block_transactions`: transactions per block.
    pub block_transactions: Histogram,
    /// `outrigger_block_gas_used`: gas used per block.
    pub block_gas_used: Histogram,
    /// `outrigger_block_stage_seconds{stage}`: time a validator spends on a
    /// block: `build` (a proposal, from the pool), `validate` (executing a
    /// peer's proposal), `commit` (writing a decided or synced block),
    /// `import` (executing a synced block).
    pub block_stage: HistogramVec,
    /// `outrigger_txpool_transactions{state="pending"|"queued"}`.
    pub txpool_pending: IntGauge,
    /// See `txpool_pending`.
    pub txpool_queued: IntGauge,
    /// `outrigger_rpc_requests_total{method, outcome}`.
    pub rpc_requests: IntCounterVec,
    /// `outrigger_rpc_request_duration_seconds{method}`.
    pub rpc_duration: HistogramVec,
    /// `outrigger_rpc_connections_refused_total{reason}`: TCP connections
    /// closed at accept (`total` or `per_ip` limit).
    pub rpc_refused: IntCounterVec,
    /// `outrigger_rpc_tcp_connections`: open TCP connections to the RPC.
    pub rpc_connections: IntGauge,
}

impl Metrics {
    /// The registry, for components that register their own metrics
    /// (consensus, p2p).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Registers every metric in a new registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let height = IntGauge::new("outrigger_chain_height", "Number of the head block")?;
        let block_interval = Histogram::with_opts(
            HistogramOpts::new(
                "outrigger_block_interval_seconds",
                "Seconds between a block's timestamp and its parent's",
            )
            .buckets(vec![0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0]),
        )?;
        let block_transactions = Histogram::with_opts(
            HistogramOpts::new("outrigger_block_transactions", "Transactions per block").buckets(
                vec![
                    0.0, 1.0, 10.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
                ],
            ),
        )?;
        let block_gas_used = Histogram::with_opts(
            HistogramOpts::new("outrigger_block_gas_used", "Gas used per block")
                .buckets(prometheus::exponential_buckets(21_000.0, 4.0, 8)?),
        )?;
        let block_stage = HistogramVec::new(
            HistogramOpts::new(
                "outrigger_block_stage_seconds",
                "Seconds spent building, validating, committing or importing a block",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["stage"],
        )?;
        let txpool = |state: &str| {
            IntGauge::with_opts(
                Opts::new("outrigger_txpool_transactions", "Transactions in the pool")
                    .const_label("state", state),
            )
        };
        let txpool_pending = txpool("pending")?;
        let txpool_queued = txpool("queued")?;
        let rpc_requests = IntCounterVec::new(
            Opts::new(
                "outrigger_rpc_requests_total",
                "JSON-RPC calls by method and outcome",
            ),
            &["method", "outcome"],
        )?;
        let rpc_duration = HistogramVec::new(
            HistogramOpts::new(
                "outrigger_rpc_request_duration_seconds",
                "JSON-RPC call latency by method",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["method"],
        )?;
        let rpc_refused = IntCounterVec::new(
            Opts::new(
                "outrigger_rpc_connections_refused_total",
                "JSON-RPC TCP connections closed at accept, by the limit hit",
            ),
            &["reason"],
        )?;
        let rpc_connections = IntGauge::new(
            "outrigger_rpc_tcp_connections",
            "Open TCP connections to the JSON-RPC server",
        )?;
        registry.register(Box::new(rpc_refused.clone()))?;
        registry.register(Box::new(rpc_connections.clone()))?;
        registry.register(Box::new(height.clone()))?;
        registry.register(Box::new(block_interval.clone()))?;
        registry.register(Box::new(block_transactions.clone()))?;
        registry.register(Box::new(block_gas_used.clone()))?;
        registry.register(Box::new(block_stage.clone()))?;
        registry.register(Box::new(txpool_pending.clone()))?;
        registry.register(Box::new(txpool_queued.clone()))?;
        registry.register(Box::new(rpc_requests.clone()))?;
        registry.register(Box::new(rpc_duration.clone()))?;
        Ok(Self {
            registry,
            height,
            block_interval,
            block_transactions,
            block_gas_used,
            block_stage,
            txpool_pending,
            txpool_queued,
            rpc_requests,
            rpc_duration,
            rpc_refused,
            rpc_connections,
        })
    }

    /// Records one JSON-RPC call. `method` must be a registered method name
    /// (or a fixed word such as `unknown`), so labels stay bounded.
    pub fn observe_rpc(&self, method: &str, ok: bool, elapsed: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        self.rpc_requests
            .with_label_values(&[method, outcome])
            .inc();
        self.rpc_duration
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let families = self.registry.gather();
        // Encoding into a Vec cannot fail for well-formed families.
        if let Err(error) = TextEncoder::new().encode(&families, &mut buffer) {
            tracing::warn!(target: "metrics", %error, "encoding metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

/// What a metrics server serves: the text exposition of a registry (the
/// node's [`Metrics::render`], or the relayer's).
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// A health check for `/health`: whether the process is healthy, and a
/// JSON document saying why.
pub type Health =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = (bool, String)> + Send>> + Send + Sync>;

/// Serves `/metrics` (and `/health`, if given) on `listener` until
/// `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    render: Render,
    health: Option<Health>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            () = crate::node::stopped(&mut shutdown) => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(target: "metrics", %error, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let render = render.clone();
        let health = health.clone();
        let service = service_fn(move |request: Request<hyper::body::Incoming>| {
            let render = render.clone();
            let health = health.clone();
            async move {
                let response = match (request.uri().path(), health) {
                    ("/health", Some(health)) => {
                        let (healthy, body) = health().await;
                        let status = if healthy {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        reply(status, "application/json", body)
                    }
                    _ => respond(&*render, &request),
                };
                Ok::<_, Infallible>(response)
            }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(target: "metrics", %error, "metrics connection");
            }
        });
    }
}

fn respond(
    render: &(dyn Fn() -> String + Send + Sync),
    request: &Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match request.uri().path() {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", render()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: metrics are at /metrics\n".to_string(),
        ),
    };
    reply(status, content_type, body)
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Binds the metrics address; a clear error if it is taken.
pub async fn bind(addr: SocketAddr) -> eyre::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| eyre::eyre!("cannot listen for metrics on {addr}: {e}"))
}
