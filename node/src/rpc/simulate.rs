//! `eth_simulateV1`: calls in a chain of simulated blocks on a kept block's
//! state. The execution is `outrigger_execution::simulate`; this file reads
//! the request, bounds it (blocks, gas, time) and shapes the answer.

use std::{sync::Arc, time::Duration};

use alloy_consensus::Transaction as _;
use alloy_eips::BlockId;
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Transaction, TransactionRequest,
    simulate::{SimBlock, SimulatePayload, SimulatedBlock as RpcSimulatedBlock},
};
use jsonrpsee::{proc_macros::rpc, types::ErrorObjectOwned};
use outrigger_execution::{
    Store,
    simulate::{SimulateError, SimulateOptions, SimulatedBlock},
};

use super::{
    convert::rpc_header,
    error::{INVALID_PARAMS, RpcError},
    eth::EthApi,
};
use crate::node::NodeState;

/// geth's bound on the time of one simulation (its `rpc.evmtimeout`),
/// lowered to `rpc.max_trace_timeout_ms` where that is smaller.
const SIMULATE_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer of `eth_simulateV1`.
type SimulateResult = Result<Vec<RpcSimulatedBlock<Block>>, ErrorObjectOwned>;

/// `eth_simulateV1`.
#[rpc(server)]
pub trait SimulateRpc {
    /// Executes calls in simulated blocks on the state after `block`
    /// (default `latest`), with state and block overrides per block.
    #[method(name = "eth_simulateV1", blocking)]
    fn simulate(
        &self,
        payload: SimulatePayload<TransactionRequest>,
        block: Option<BlockId>,
    ) -> SimulateResult;
}

/// Serves `eth_simulateV1` from the node's store.
pub(crate) struct SimulateApi {
    state: Arc<NodeState>,
}

impl SimulateApi {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    fn store(&self) -> &Store {
        self.state.chain.store()
    }

    /// The number of the block `block` names; `header not found` if none.
    fn resolve(&self, block: BlockId) -> Result<u64, RpcError> {
        super::convert::resolve_block(self.store(), block)?.ok_or(RpcError::HeaderNotFound)
    }
}

impl SimulateRpcServer for SimulateApi {
    fn simulate(
        &self,
        payload: SimulatePayload<TransactionRequest>,
        block: Option<BlockId>,
    ) -> SimulateResult {
        if payload.block_state_calls.is_empty() {
            return Err(ErrorObjectOwned::owned(
                INVALID_PARAMS,
                "empty input: blockStateCalls holds no block",
                None::<()>,
            ));
        }
        let number = self.resolve(block.unwrap_or_default())?;
        let base = self
            .store()
            .header(number)
            .map_err(RpcError::from)?
            .ok_or(RpcError::HeaderNotFound)?;
        let blocks = payload
            .block_state_calls
            .into_iter()
            .map(|block| {
                Ok(SimBlock {
                    block_overrides: block.block_overrides,
                    state_overrides: block.state_overrides,
                    calls: block
                        .calls
                        .into_iter()
                        .map(EthApi::call_request)
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, RpcError>>()?;
        let config = &self.state.config.rpc;
        let options = SimulateOptions {
            validation: payload.validation,
            trace_transfers: payload.trace_transfers,
            gas_cap: config.gas_cap,
            timeout: SIMULATE_TIMEOUT.min(Duration::from_millis(config.max_trace_timeout_ms)),
        };
        let simulated = self
            .state
            .chain
            .executor()
            .simulate(self.store(), &base, blocks, &options)
            .map_err(simulate_error)?;
        Ok(simulated
            .into_iter()
            .map(|block| rpc_block(block, payload.return_full_transactions))
            .collect())
    }
}

/// The error object of a failed simulation, with geth's code.
fn simulate_error(error: SimulateError) -> ErrorObjectOwned {
    match error {
        SimulateError::Store(error) => RpcError::from(error).into(),
        other => ErrorObjectOwned::owned(other.code(), other.to_string(), None::<()>),
    }
}

/// A simulated block in the spec's shape: a block and its calls' results.
fn rpc_block(simulated: SimulatedBlock, full: bool) -> RpcSimulatedBlock<Block> {
    let SimulatedBlock {
        block,
        hash,
        senders,
        calls,
    } = simulated;
    let header = &block.header;
    let transactions = if full {
        BlockTransactions::Full(
            block
                .body
                .transactions
                .iter()
                .zip(&senders)
                .enumerate()
                .map(|(index, (tx, &sender))| Transaction {
                    inner: alloy_consensus::transaction::Recovered::new_unchecked(
                        tx.clone(),
                        sender,
                    ),
                    block_hash: Some(hash),
                    block_number: Some(header.number),
                    transaction_index: Some(index as u64),
                    effective_gas_price: Some(tx.effective_gas_price(header.base_fee_per_gas)),
                    block_timestamp: Some(header.timestamp),
                })
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(
            block
                .body
                .transactions
                .iter()
                .map(|tx| *tx.tx_hash())
                .collect(),
        )
    };
    RpcSimulatedBlock {
        inner: Block {
            header: rpc_header(&block, hash),
            uncles: Vec::new(),
            transactions,
            withdrawals: block.body.withdrawals.clone(),
        },
        calls,
    }
}
