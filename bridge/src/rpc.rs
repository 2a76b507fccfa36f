//! A small typed Ethereum JSON-RPC client over plain HTTP/1.1 (hyper), with
//! failover across several URLs.
//!
//! Why not `alloy-provider`: the relayer needs a dozen methods, its own nonce
//! and fee handling (persisted, re-priced) and no fillers, and this client
//! adds nothing to a cold build (hyper is already in the tree), where the
//! provider stack (tower layers, pubsub, reqwest) would add a few minutes on
//! a 2-core CI machine. Contract calls are encoded with the `sol!` bindings.
//! Only `http://` URLs: the relayer talks to nodes its operator runs.

use std::{
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    time::Duration,
};

use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::Log;
use alloy_sol_types::SolCall;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Request, Uri, body::Bytes as BodyBytes};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// Largest response body accepted (a full `eth_getLogs` range fits).
pub const RESPONSE_BYTES_MAX: usize = 32 * 1024 * 1024;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// No endpoint answered (connection refused, timeout, HTTP error).
    #[error("{chain} RPC {method}: no endpoint answered; last {url}: {reason}")]
    Unreachable {
        /// Which chain.
        chain: &'static str,
        /// The method.
        method: String,
        /// The last URL tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The node answered with a JSON-RPC error (a revert, a rejected
    /// transaction).
    #[error("{chain} RPC {method}: error {code}: {message}{}", data.as_deref().map(|d| format!(" (data {d})")).unwrap_or_default())]
    Node {
        /// Which chain.
        chain: &'static str,
        /// The method.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
        /// Revert data, if any.
        data: Option<String>,
    },
    /// The answer did not have the expected shape.
    #[error("{chain} RPC {method}: unexpected answer: {reason}")]
    BadResponse {
        /// Which chain.
        chain: &'static str,
        /// The method.
        method: String,
        /// What was wrong.
        reason: String,
    },
}

impl RpcError {
    /// A short, bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "rpc_unreachable",
            Self::Node { .. } => "rpc_error",
            Self::BadResponse { .. } => "rpc_bad_response",
        }
    }

    /// The node's error message, if it answered with one.
    pub fn node_message(&self) -> Option<&str> {
        match self {
            Self::Node { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// Result of an RPC call.
pub type RpcResult<T> = Result<T, RpcError>;

/// A transaction receipt: the fields the bridge reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The transaction.
    pub transaction_hash: B256,
    /// Its block.
    pub block_number: U64,
    /// 1 success, 0 reverted.
    pub status: U64,
    /// Gas used.
    pub gas_used: U64,
    /// The logs it emitted.
    #[serde(default)]
    pub logs: Vec<Log>,
    /// The contract a deployment created.
    #[serde(default)]
    pub contract_address: Option<Address>,
}

impl Receipt {
    /// Whether the transaction succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == U64::from(1)
    }
}

/// A block header: the fields the bridge reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockHeader {
    /// Its number.
    pub number: U64,
    /// Its hash.
    pub hash: B256,
    /// Its timestamp (seconds).
    pub timestamp: U64,
    /// EIP-1559 base fee.
    #[serde(default)]
    pub base_fee_per_gas: Option<U64>,
}

/// A JSON-RPC client for one chain, over several URLs.
#[derive(Debug)]
pub struct RpcClient {
    chain: &'static str,
    urls: Vec<(String, Uri)>,
    current: AtomicUsize,
    timeout: Duration,
    next_id: AtomicU64,
}

impl RpcClient {
    /// A client for `chain` (a label for errors and logs) over `urls`.
    pub fn new(chain: &'static str, urls: &[String], timeout: Duration) -> RpcResult<Self> {
        let mut parsed = Vec::with_capacity(urls.len());
        for url in urls {
            let uri: Uri = url.parse().map_err(|e| RpcError::BadResponse {
                chain,
                method: "(config)".into(),
                reason: format!("bad URL {url}: {e}"),
            })?;
            if uri.scheme_str() != Some("http") || uri.authority().is_none() {
                return Err(RpcError::BadResponse {
                    chain,
                    method: "(config)".into(),
                    reason: format!("URL {url}: only http://host:port[/path] is supported"),
                });
            }
            parsed.push((url.clone(), uri));
        }
        if parsed.is_empty() {
            return Err(RpcError::BadResponse {
                chain,
                method: "(config)".into(),
                reason: "no URL".into(),
            });
        }
        Ok(Self {
            chain,
            urls: parsed,
            current: AtomicUsize::new(0),
            timeout,
            next_id: AtomicU64::new(1),
        })
    }

    /// The chain label.
    pub fn chain(&self) -> &'static str {
        self.chain
    }

    /// Calls `method`; on a transport failure the next URL is tried, and the
    /// one that answers is used first from then on.
    pub async fn request<T: DeserializeOwned>(&self, method: &str, params: Value) -> RpcResult<T> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let body = body.to_string();
        let start = self.current.load(Ordering::Relaxed);
        let mut last = (String::new(), String::new());
        for attempt in 0..self.urls.len() {
            let index = (start + attempt) % self.urls.len();
            let (url, uri) = &self.urls[index];
            match tokio::time::timeout(self.timeout, post(uri, body.clone())).await {
                Ok(Ok(bytes)) => {
                    if index != start {
                        tracing::info!(target: "relayer", chain = self.chain, url, "failed over to this RPC endpoint");
                        self.current.store(index, Ordering::Relaxed);
                    }
                    return self.parse(method, &bytes);
                }
                Ok(Err(reason)) => last = (url.clone(), reason),
                Err(_) => last = (url.clone(), format!("timed out after {:?}", self.timeout)),
            }
            tracing::debug!(target: "relayer", chain = self.chain, url = %last.0, reason = %last.1, method, "RPC endpoint failed");
        }
        Err(RpcError::Unreachable {
            chain: self.chain,
            method: method.into(),
            url: last.0,
            reason: last.1,
        })
    }

    fn parse<T: DeserializeOwned>(&self, method: &str, bytes: &[u8]) -> RpcResult<T> {
        let bad = |reason: String| RpcError::BadResponse {
            chain: self.chain,
            method: method.into(),
            reason,
        };
        let mut value: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        if let Some(error) = value.get("error") {
            return Err(RpcError::Node {
                chain: self.chain,
                method: method.into(),
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                data: error.get("data").map(|d| match d {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
            });
        }
        let result = value
            .get_mut("result")
            .map(Value::take)
            .ok_or_else(|| bad("no result".into()))?;
        serde_json::from_value(result).map_err(|e| bad(e.to_string()))
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> RpcResult<u64> {
        Ok(self.request::<U64>("eth_chainId", json!([])).await?.to())
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> RpcResult<u64> {
        Ok(self
            .request::<U64>("eth_blockNumber", json!([]))
            .await?
            .to())
    }

    /// The header of the block at `tag` (`"latest"`, `"finalized"`, a hex
    /// number), if there is one.
    pub async fn header(&self, tag: &str) -> RpcResult<Option<BlockHeader>> {
        self.request("eth_getBlockByNumber", json!([tag, false]))
            .await
    }

    /// `eth_getLogs` of `address` with `topic0` over `from..=to`.
    pub async fn logs(
        &self,
        address: Address,
        topic0: B256,
        from: u64,
        to: u64,
    ) -> RpcResult<Vec<Log>> {
        self.request(
            "eth_getLogs",
            json!([{
                "address": address,
                "topics": [topic0],
                "fromBlock": U64::from(from),
                "toBlock": U64::from(to),
            }]),
        )
        .await
    }

    /// `eth_call` of a `sol!` call at the latest block, decoded.
    pub async fn call<C: SolCall>(&self, to: Address, call: &C) -> RpcResult<C::Return> {
        let data = Bytes::from(call.abi_encode());
        let out: Bytes = self
            .request("eth_call", json!([{"to": to, "input": data}, "latest"]))
            .await?;
        C::abi_decode_returns(&out).map_err(|e| RpcError::BadResponse {
            chain: self.chain,
            method: format!("eth_call {}", C::SIGNATURE),
            reason: e.to_string(),
        })
    }

    /// `eth_sendRawTransaction`.
    pub async fn send_raw(&self, raw: &Bytes) -> RpcResult<B256> {
        self.request("eth_sendRawTransaction", json!([raw])).await
    }

    /// `eth_getTransactionReceipt`.
    pub async fn receipt(&self, hash: B256) -> RpcResult<Option<Receipt>> {
        self.request("eth_getTransactionReceipt", json!([hash]))
            .await
    }

    /// `eth_getTransactionCount` at `"latest"`: transactions mined from `address`.
    pub async fn nonce(&self, address: Address) -> RpcResult<u64> {
        Ok(self
            .request::<U64>("eth_getTransactionCount", json!([address, "latest"]))
            .await?
            .to())
    }

    /// `eth_getBalance` at the latest block.
    pub async fn balance(&self, address: Address) -> RpcResult<U256> {
        self.request("eth_getBalance", json!([address, "latest"]))
            .await
    }

    /// A priority fee: the node's suggestion, or 1 gwei where it has none.
    pub async fn priority_fee(&self) -> RpcResult<u128> {
        match self
            .request::<U256>("eth_maxPriorityFeePerGas", json!([]))
            .await
        {
            Ok(fee) => Ok(fee.saturating_to()),
            Err(RpcError::Node { .. }) => Ok(1_000_000_000),
            Err(other) => Err(other),
        }
    }
}

/// One POST over a fresh connection; the body of a 200 answer.
async fn post(uri: &Uri, body: String) -> Result<BodyBytes, String> {
    let authority = uri.authority().ok_or("no authority")?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((authority.host(), port))
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::trace!(target: "relayer", %error, "RPC connection closed");
        }
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::post(path)
        .header(hyper::header::HOST, authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(BodyBytes::from(body)))
        .map_err(|e| format!("building the request: {e}"))?;
    let outcome = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        if !status.is_success() && bytes.is_empty() {
            return Err(format!("HTTP {status}"));
        }
        Ok(bytes)
    }
    .await;
    driver.abort();
    outcome
}
