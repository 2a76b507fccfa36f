//! WebSocket subscriptions (`eth_subscribe`): `newHeads`, `logs` with a
//! filter, and `newPendingTransactions` (hashes, or whole transactions with
//! `true`). Each subscription is a task fed by the node's event channels; a
//! subscriber too slow to keep up skips what it missed rather than holding
//! memory, and the per-connection count is bounded by the server.

use std::sync::Arc;

use alloy_primitives::B256;
use alloy_rpc_types_eth::Filter;
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink, core::SubscriptionResult,
    proc_macros::rpc,
};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{convert::pending_transaction, error::RpcError, logs};
use crate::node::{NodeState, SealedHead};

/// The `eth_subscribe` method.
#[rpc(server)]
pub trait EthPubSub {
    /// Starts a subscription of `kind`: `newHeads`, `logs` (with a filter
    /// object) or `newPendingTransactions` (with `true` for whole
    /// transactions).
    #[subscription(name = "eth_subscribe" => "eth_subscription", unsubscribe = "eth_unsubscribe", item = serde_json::Value)]
    async fn subscribe(
        &self,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult;
}

/// The subscription handlers.
pub(crate) struct PubSub {
    state: Arc<NodeState>,
}

impl PubSub {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

#[jsonrpsee::core::async_trait]
impl EthPubSubServer for PubSub {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult {
        let state = self.state.clone();
        match kind.as_str() {
            "newHeads" => {
                let blocks = state.events.blocks.subscribe();
                let sink = pending.accept().await?;
                tokio::spawn(forward(sink, blocks, |head: Arc<SealedHead>| {
                    Some(vec![head.header.clone()])
                }));
            }
            "logs" => {
                let filter: Filter = match params {
                    None => Filter::default(),
                    Some(value) => match serde_json::from_value(value) {
                        Ok(filter) => filter,
                        Err(error) => {
                            pending
                                .reject(RpcError::InvalidParams(format!("invalid filter: {error}")))
                                .await;
                            return Ok(());
                        }
                    },
                };
                if let Err(error) = logs::check_filter(&filter) {
                    pending.reject(error).await;
                    return Ok(());
                }
                let blocks = state.events.blocks.subscribe();
                let sink = pending.accept().await?;
                tokio::spawn(forward(sink, blocks, move |head: Arc<SealedHead>| {
                    let number = head.number;
                    match logs::block_logs(&state, &filter, number) {
                        Ok(logs) => Some(logs),
                        Err(error) => {
                            tracing::warn!(target: "rpc", %error, number, "logs for a subscription");
                            None
                        }
                    }
                }));
            }
            "newPendingTransactions" => {
                let full = params.as_ref().and_then(serde_json::Value::as_bool) == Some(true);
                let hashes = state.events.pending_transactions.subscribe();
                let sink = pending.accept().await?;
                tokio::spawn(forward(sink, hashes, move |hash: B256| {
                    if !full {
                        return Some(vec![serde_json::to_value(hash).ok()?]);
                    }
                    let tx = state.pool.lock().get(&hash)?;
                    Some(vec![serde_json::to_value(pending_transaction(&tx)).ok()?])
                }));
            }
            other => {
                pending
                    .reject(RpcError::InvalidParams(format!(
                        "unsupported subscription kind {other:?}: use newHeads, logs or newPendingTransactions"
                    )))
                    .await;
            }
        }
        Ok(())
    }
}

/// Sends `items(event)` for every event until the client goes away.
async fn forward<E: Clone, T: Serialize>(
    sink: SubscriptionSink,
    mut events: broadcast::Receiver<E>,
    items: impl Fn(E) -> Option<Vec<T>> + Send,
) {
    loop {
        let event = tokio::select! {
            () = sink.closed() => return,
            event = events.recv() => event,
        };
        let event = match event {
            Ok(event) => event,
            Err(RecvError::Lagged(skipped)) => {
                tracing::debug!(target: "rpc", skipped, "subscriber lagging; events skipped");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        // Reading blocks and receipts is blocking work.
        let items = tokio::task::block_in_place(|| items(event)).unwrap_or_default();
        for item in items {
            let Ok(raw) = serde_json::value::to_raw_value(&item) else {
                continue;
            };
            if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                return;
            }
        }
    }
}
