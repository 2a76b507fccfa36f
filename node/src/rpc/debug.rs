//! geth's tracing methods (`debug_traceTransaction`, `debug_traceCall`,
//! `debug_traceBlockByNumber`, `debug_traceBlockByHash`) and
//! `eth_createAccessList`. The work is in `outrigger_execution::trace`;
//! this file resolves blocks and transactions, applies the node's trace
//! limits and the request's `timeout`, and maps errors to geth's codes.

use std::{sync::Arc, time::Duration};

use alloy_eips::{BlockId, BlockNumberOrTag, eip2930::AccessListResult};
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::{
    common::TraceResult,
    geth::{GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace},
};
use jsonrpsee::proc_macros::rpc;
use outrigger_execution::{
    Header, Store,
    overrides::CallOverrides,
    trace::{TraceError, TraceLimits},
};

use super::{
    error::{RpcError, RpcResult},
    eth::EthApi,
};
use crate::node::NodeState;

/// geth's default trace timeout, when a request names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `debug_trace*` methods.
#[rpc(server)]
pub trait DebugRpc {
    /// Traces a mined transaction by re-executing its block up to it.
    #[method(name = "debug_traceTransaction", blocking)]
    fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;

    /// Traces a call on the state after a block, as `eth_call` runs it.
    #[method(name = "debug_traceCall", blocking)]
    fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;

    /// Traces every transaction of a block, by number or tag.
    #[method(name = "debug_traceBlockByNumber", blocking)]
    fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>>;

    /// Traces every transaction of a block, by hash.
    #[method(name = "debug_traceBlockByHash", blocking)]
    fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>>;
}

/// `eth_createAccessList`, kept beside the tracers it shares its machinery
/// with.
#[rpc(server)]
pub trait AccessListRpc {
    /// The access list a call touches, and the gas it uses with it.
    #[method(name = "eth_createAccessList", blocking)]
    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult>;
}

/// The handlers, over the node's shared state.
pub(crate) struct DebugApi {
    state: Arc<NodeState>,
}

impl DebugApi {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    fn store(&self) -> &Store {
        self.state.chain.store()
    }

    /// The number of the block `block` names; `header not found` if none.
    fn resolve(&self, block: BlockId) -> RpcResult<u64> {
        super::convert::resolve_block(self.store(), block)?.ok_or(RpcError::HeaderNotFound)
    }

    fn header(&self, number: u64) -> RpcResult<Header> {
        self.store().header(number)?.ok_or(RpcError::HeaderNotFound)
    }

    /// The limits of one request: the node's, and the request's timeout
    /// (geth's 5 s by default) capped by the node's.
    fn limits(&self, options: &GethDebugTracingOptions) -> RpcResult<TraceLimits> {
        let config = &self.state.config.rpc;
        let cap = Duration::from_millis(config.max_trace_timeout_ms);
        let timeout = match &options.timeout {
            Some(text) => parse_go_duration(text).ok_or_else(|| {
                RpcError::InvalidParams(format!(
                    "invalid timeout {text:?}: expected a Go duration such as \"5s\" or \"300ms\""
                ))
            })?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(TraceLimits {
            timeout: timeout.min(cap),
            struct_log_steps_max: config.max_trace_steps,
            recorded_bytes_max: config.max_trace_bytes,
        })
    }

    fn trace_block(
        &self,
        number: u64,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>> {
        let options = options.unwrap_or_default();
        let limits = self.limits(&options)?;
        let executor = self.state.chain.executor();
        Ok(executor.trace_block(self.store(), number, options, &limits)?)
    }
}

impl From<TraceError> for RpcError {
    fn from(error: TraceError) -> Self {
        match error {
            TraceError::Store(error) => error.into(),
            TraceError::Call(error) => error.into(),
            TraceError::Steps(_) | TraceError::Bytes(_) => Self::LimitExceeded(error.to_string()),
            TraceError::Replay { .. } => {
                tracing::error!(target: "rpc", %error, "trace replay failed");
                Self::Internal(error.to_string())
            }
            TraceError::InvalidOptions(_)
            | TraceError::Genesis
            | TraceError::BlockNotFound(_)
            | TraceError::NoTransaction { .. }
            | TraceError::Timeout(_) => Self::Execution(error.to_string()),
        }
    }
}

impl DebugRpcServer for DebugApi {
    fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        let (number, index) = self
            .store()
            .transaction_location(hash)?
            .ok_or_else(|| RpcError::Execution("transaction not found".into()))?;
        let options = options.unwrap_or_default();
        let limits = self.limits(&options)?;
        let executor = self.state.chain.executor();
        Ok(executor.trace_transaction(self.store(), number, index as usize, options, &limits)?)
    }

    fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let options = options.unwrap_or_default();
        if options.tx_index.is_some() {
            return Err(RpcError::InvalidParams(
                "txIndex is not supported: the call is traced on the state after the block".into(),
            ));
        }
        let header = self.header(self.resolve(block.unwrap_or_default())?)?;
        let request = EthApi::call_request(request)?;
        let overrides = CallOverrides {
            state: options.state_overrides,
            block: options.block_overrides.map(Box::new),
        };
        let options = options.tracing_options;
        let limits = self.limits(&options)?;
        let gas_cap = self.state.config.rpc.gas_cap;
        let executor = self.state.chain.executor();
        Ok(executor.trace_call(
            self.store(),
            &header,
            &request,
            gas_cap,
            &overrides,
            options,
            &limits,
        )?)
    }

    fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>> {
        let number = match self.resolve(BlockId::Number(number)) {
            Ok(number) => number,
            Err(RpcError::HeaderNotFound) => {
                let BlockNumberOrTag::Number(n) = number else {
                    return Err(RpcError::HeaderNotFound);
                };
                return Err(RpcError::Execution(format!("block #{n} not found")));
            }
            Err(other) => return Err(other),
        };
        self.trace_block(number, options)
    }

    fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult<GethTrace, String>>> {
        let number = self
            .store()
            .block_number(hash)?
            .ok_or_else(|| RpcError::Execution(format!("block {hash} not found")))?;
        self.trace_block(number, options)
    }
}

impl AccessListRpcServer for DebugApi {
    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        let header = self.header(self.resolve(block.unwrap_or_default())?)?;
        let request = EthApi::call_request(request)?;
        let gas_cap = self.state.config.rpc.gas_cap;
        let outcome = self.state.chain.executor().create_access_list(
            self.store(),
            &header,
            &request,
            gas_cap,
        )?;
        Ok(AccessListResult {
            access_list: outcome.access_list,
            gas_used: U256::from(outcome.gas_used),
            error: outcome.error,
        })
    }
}

/// Parses a Go duration (`"5s"`, `"300ms"`, `"1m30s"`, `"1.5s"`): one or
/// more decimal numbers, each with a unit among `ns`, `us` (or `µs`), `ms`,
/// `s`, `m`, `h`. `None` if it is not one.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_geth() {
        for (text, millis) in [
            ("5s", 5_000),
            ("300ms", 300),
            ("1m30s", 90_000),
            ("1.5s", 1_500),
            ("2h", 7_200_000),
            ("0", 0),
            ("1500us", 1),
        ] {
            assert_eq!(
                parse_go_duration(text).map(|d| d.as_millis()),
                Some(millis),
                "{text}"
            );
        }
        for bad in ["", "5", "s", "5 seconds", "-1s", "1d"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
