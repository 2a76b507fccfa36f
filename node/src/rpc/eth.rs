//! The `eth`, `net` and `web3` methods. State (proofs included) is read at
//! the head or at a block within the kept history (`storage.state_history_blocks`,
//! or all in archive mode); blocks, transactions, receipts and logs at any
//! height.

use std::{sync::Arc, time::Duration};

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U128, U256, keccak256};
use alloy_rpc_types_eth::{
    Block, FeeHistory, Filter, FilterBlockOption, Log, Transaction, TransactionReceipt,
    TransactionRequest,
};
use jsonrpsee::{RpcModule, proc_macros::rpc};
use outrigger_execution::{
    Header,
    call::{CallBudget, CallRequest},
    overrides::{BlockOverrides, CallOverrides, StateOverride},
    store::StateReader,
    txpool::{Pool, validate_stateless},
};
use parking_lot::MutexGuard;

use super::{
    convert::{StoredBlock, pending_transaction, raw_transaction},
    error::{RpcError, RpcResult},
    fees,
    filters::{Changes, FilterKind, own_range, with_range},
    logs,
};
use crate::node::NodeState;

mod state;

/// `eth_syncing`'s answer: `false`, or geth's progress object.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub(super) enum Syncing {
    /// Not syncing (always `false`).
    Not(bool),
    /// Catching up.
    #[serde(rename_all = "camelCase")]
    Progress {
        /// The head when this sync began.
        starting_block: U64,
        /// The head now.
        current_block: U64,
        /// The highest head a peer reported.
        highest_block: U64,
    },
}

/// The methods of the `eth`, `net` and `web3` namespaces this node serves.
#[rpc(server)]
pub trait EthRpc {
    /// EIP-155 chain id.
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// Number of the head block.
    #[method(name = "eth_blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// Executes a message without creating a transaction.
    #[method(name = "eth_call")]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes>;
    /// Gas a message needs.
    #[method(name = "eth_estimateGas", blocking)]
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;
    /// Submits a signed transaction to the pool.
    #[method(name = "eth_sendRawTransaction")]
    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256>;
    /// A transaction, included or pooled.
    #[method(name = "eth_getTransactionByHash", blocking)]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    /// The EIP-2718 bytes of a transaction, included or pooled.
    #[method(name = "eth_getRawTransactionByHash")]
    fn raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>>;
    /// A transaction by block hash and index.
    #[method(name = "eth_getTransactionByBlockHashAndIndex")]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;
    /// A transaction by block number and index.
    #[method(name = "eth_getTransactionByBlockNumberAndIndex")]
    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;
    /// The receipt of an included transaction.
    #[method(name = "eth_getTransactionReceipt", blocking)]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;
    /// Every receipt of a block.
    #[method(name = "eth_getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;
    /// A block by number or tag.
    #[method(name = "eth_getBlockByNumber", blocking)]
    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>>;
    /// A block by hash.
    #[method(name = "eth_getBlockByHash", blocking)]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;
    /// Transactions in a block, by number.
    #[method(name = "eth_getBlockTransactionCountByNumber")]
    fn block_transaction_count_by_number(&self, number: BlockNumberOrTag)
    -> RpcResult<Option<U64>>;
    /// Transactions in a block, by hash.
    #[method(name = "eth_getBlockTransactionCountByHash")]
    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// Uncles of a block: always none.
    #[method(name = "eth_getUncleCountByBlockNumber")]
    fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Uncles of a block: always none.
    #[method(name = "eth_getUncleCountByBlockHash")]
    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// A gas price that gets a transaction included soon: base fee + tip.
    #[method(name = "eth_gasPrice", blocking)]
    fn gas_price(&self) -> RpcResult<U256>;
    /// Base fee per gas of the next block.
    #[method(name = "eth_baseFee")]
    fn base_fee(&self) -> RpcResult<U256>;
    /// Base fee per blob gas. No block carries blobs here, so the excess
    /// blob gas stays 0 and this is the protocol minimum.
    #[method(name = "eth_blobBaseFee")]
    fn blob_base_fee(&self) -> RpcResult<U256>;
    /// A priority fee that gets a transaction included soon.
    #[method(name = "eth_maxPriorityFeePerGas", blocking)]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    /// Base fees, gas use and tip percentiles of recent blocks.
    #[method(name = "eth_feeHistory", blocking)]
    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// Logs matching a filter, within the configured limits.
    #[method(name = "eth_getLogs", blocking)]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
    /// Installs a log filter; changes are logs from the next block on.
    #[method(name = "eth_newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U128>;
    /// Installs a filter of new block hashes.
    #[method(name = "eth_newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U128>;
    /// Installs a filter of hashes of transactions entering the pool.
    #[method(name = "eth_newPendingTransactionFilter")]
    fn new_pending_transaction_filter(&self) -> RpcResult<U128>;
    /// What a filter saw since its last poll.
    #[method(name = "eth_getFilterChanges", blocking)]
    fn filter_changes(&self, id: U128) -> RpcResult<serde_json::Value>;
    /// Every log a log filter's criteria match.
    #[method(name = "eth_getFilterLogs", blocking)]
    fn filter_logs(&self, id: U128) -> RpcResult<Vec<Log>>;
    /// Removes a filter.
    #[method(name = "eth_uninstallFilter")]
    fn uninstall_filter(&self, id: U128) -> RpcResult<bool>;
    /// `false`, or the range a block sync is catching up on (a node of a
    /// validator chain behind its peers; a dev node never is).
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<Syncing>;
    /// What history this node serves (head, oldest state, retention), for
    /// RPC routers.
    #[method(name = "eth_capabilities")]
    fn capabilities(&self) -> RpcResult<Capabilities>;
    /// Accounts the node signs for: the dev accounts on a `--dev` chain,
    /// none otherwise (keys stay with the wallet).
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// The chain id, in decimal.
    #[method(name = "net_version")]
    fn net_version(&self) -> RpcResult<String>;
    /// Whether the node accepts connections.
    #[method(name = "net_listening")]
    fn net_listening(&self) -> RpcResult<bool>;
    /// Connected peers.
    #[method(name = "net_peerCount")]
    async fn net_peer_count(&self) -> RpcResult<U64>;
    /// `outrigger/v<version>/<os>-<arch>`.
    #[method(name = "web3_clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// keccak256 of the input.
    #[method(name = "web3_sha3")]
    fn sha3(&self, data: Bytes) -> RpcResult<B256>;
}

/// `eth_capabilities`: what this node keeps, per kind of data.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Capabilities {
    head: CapabilitiesHead,
    state: Resource,
    tx: Resource,
    logs: Resource,
    receipts: Resource,
    blocks: Resource,
    stateproofs: Resource,
}

#[derive(Clone, Debug, serde::Serialize)]
struct CapabilitiesHead {
    number: U64,
    hash: B256,
}

#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    disabled: bool,
    oldest_block: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_strategy: Option<DeleteStrategy>,
}

/// Only a sliding window: blocks older than `retention_blocks` lose it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteStrategy {
    r#type: &'static str,
    retention_blocks: U64,
}

/// What of an `eth_call` runs on the async worker that received it: enough
/// for reads and views (an ERC20 `balanceOf` is ~200 steps, ~30 µs),
/// little enough that the worker's other tasks (consensus among them) wait
/// at most about a millisecond.
const INLINE_CALL_BUDGET: CallBudget = CallBudget {
    steps: 10_000,
    time: std::time::Duration::from_millis(1),
    precompile_gas: 50_000,
};

/// The handlers, over the node's shared state.
pub(crate) struct EthApi {
    state: Arc<NodeState>,
}

/// The module of every method, for the server.
pub(crate) fn module(state: Arc<NodeState>) -> eyre::Result<RpcModule<EthApi>> {
    let mut module = EthApi {
        state: state.clone(),
    }
    .into_rpc();
    module.merge(state::EthStateRpcServer::into_rpc(EthApi { state }))?;
    Ok(module)
}

impl EthApi {
    fn store(&self) -> &outrigger_execution::Store {
        self.state.chain.store()
    }

    fn head(&self) -> RpcResult<Header> {
        self.store()
            .head()?
            .ok_or_else(|| RpcError::Internal("no head block".into()))
    }

    /// The number a tag or number names, if that block exists.
    fn resolve_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<u64>> {
        super::convert::resolve_number(self.store(), number)
    }

    /// The number an EIP-1898 block id names, if that block exists.
    fn resolve(&self, block: BlockId) -> RpcResult<Option<u64>> {
        super::convert::resolve_block(self.store(), block)
    }

    /// The header of the block `block` names and a reader of the state
    /// after it (the head's, or a recent block's from the kept history).
    fn state_at(&self, block: Option<BlockId>) -> RpcResult<(Header, StateReader<'_>)> {
        let number = self
            .resolve(block.unwrap_or_default())?
            .ok_or(RpcError::HeaderNotFound)?;
        let header = self
            .store()
            .header(number)?
            .ok_or(RpcError::HeaderNotFound)?;
        let state = self.store().state_at(number)?;
        Ok((header, state))
    }

    fn stored_block(&self, number: Option<u64>) -> RpcResult<Option<StoredBlock>> {
        match number {
            Some(number) => StoredBlock::read(self.store(), number),
            None => Ok(None),
        }
    }

    fn stored_transaction(&self, hash: B256) -> RpcResult<Option<(StoredBlock, usize)>> {
        let Some((number, index)) = self.store().transaction_location(hash)? else {
            return Ok(None);
        };
        Ok(self
            .stored_block(Some(number))?
            .map(|block| (block, index as usize)))
    }

    pub(super) fn call_request(request: TransactionRequest) -> RpcResult<CallRequest> {
        if request.blob_versioned_hashes.is_some() || request.sidecar.is_some() {
            return Err(RpcError::InvalidParams(
                "blob transactions are not supported on this chain".into(),
            ));
        }
        let input = request
            .input
            .try_into_unique_input()
            .map_err(|e| RpcError::InvalidParams(e.to_string()))?
            .unwrap_or_default();
        let to = match request.to {
            Some(TxKind::Call(to)) => Some(to),
            Some(TxKind::Create) | None => None,
        };
        Ok(CallRequest {
            from: request.from,
            to,
            gas: request.gas,
            gas_price: request.gas_price,
            max_fee_per_gas: request.max_fee_per_gas,
            max_priority_fee_per_gas: request.max_priority_fee_per_gas,
            value: request.value,
            input,
            nonce: request.nonce,
            access_list: request.access_list,
            authorization_list: request.authorization_list,
        })
    }
}

/// Longest `eth_sendRawTransaction` waits for the pool's lock on the async
/// worker that received it: long enough for another transaction's add
/// (microseconds), not for a new head's update of the pool (milliseconds),
/// which the submission then waits out on a blocking thread.
const INLINE_POOL_WAIT: Duration = Duration::from_micros(200);

/// Validates raw transaction bytes and adds them to the pool: the path of
/// every transaction that enters through RPC. Returns the hash.
pub(crate) fn submit_raw(state: &NodeState, bytes: &[u8]) -> RpcResult<B256> {
    let rules = state.pool.lock().validation_rules();
    // Decoding and sender recovery, the costly part, outside the lock.
    let (tx, _) = validate_stateless(bytes, &rules)?;
    let hash = pool_validated(state, tx)?;
    gossip(state, bytes, hash);
    Ok(hash)
}

/// [`submit_raw`] on an async worker. Decoding and recovery (~30 µs, as
/// long as a budgeted `eth_call`) run where the request was read: a hand-off
/// to the blocking pool and back costs two thread switches, and on a loaded
/// validator those were most of the RPC's cost (BENCHMARKS, session 12).
/// The pool's lock is taken here only if it frees within
/// [`INLINE_POOL_WAIT`]; otherwise the rest runs on a blocking thread.
async fn submit_raw_async(state: &Arc<NodeState>, bytes: Bytes) -> RpcResult<B256> {
    let Some(rules) = state
        .pool
        .try_lock_for(INLINE_POOL_WAIT)
        .map(|pool| pool.validation_rules())
    else {
        let state = state.clone();
        return blocking(move || submit_raw(&state, &bytes)).await;
    };
    let (tx, _) = validate_stateless(&bytes, &rules)?;
    // The guard must not live across the await below: the match ends first.
    let inline = match state.pool.try_lock_for(INLINE_POOL_WAIT) {
        Some(pool) => Ok(pooled(state, pool, tx)),
        None => Err(tx),
    };
    let hash = match inline {
        Ok(hash) => hash?,
        Err(tx) => {
            let state = state.clone();
            blocking(move || pool_validated(&state, tx)).await?
        }
    };
    gossip(state, &bytes, hash);
    Ok(hash)
}

/// Runs `f` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> RpcResult<T> + Send + 'static,
) -> RpcResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RpcError::Internal(format!("blocking task: {e}")))?
}

/// Queues a pooled transaction's bytes for gossip to the peers.
fn gossip(state: &NodeState, bytes: &[u8], hash: B256) {
    if let Some(gossip) = &state.tx_gossip
        && gossip.try_send(bytes.to_vec()).is_err()
    {
        // The pool has it; peers get it from the proposer's block at worst.
        tracing::debug!(target: "rpc", %hash, "transaction gossip queue full");
    }
}

/// Adds a transaction that passed the stateless checks to the pool and
/// tells the sealer, filters and subscribers.
pub(crate) fn pool_validated(
    state: &NodeState,
    tx: alloy_consensus::transaction::Recovered<alloy_consensus::TxEnvelope>,
) -> RpcResult<B256> {
    pooled(state, state.pool.lock(), tx)
}

/// [`pool_validated`] with the pool's lock already taken.
fn pooled(
    state: &NodeState,
    mut pool: MutexGuard<'_, Pool>,
    tx: alloy_consensus::transaction::Recovered<alloy_consensus::TxEnvelope>,
) -> RpcResult<B256> {
    let hash = pool.add(tx, state.chain.store().as_ref())?;
    state
        .metrics
        .txpool_pending
        .set(pool.pending_count() as i64);
    state.metrics.txpool_queued.set(pool.queued_count() as i64);
    drop(pool);
    state.tx_arrived.notify_one();
    state.filters.on_pending_transaction(hash);
    let _ = state.events.pending_transactions.send(hash);
    tracing::debug!(target: "rpc", %hash, "transaction pooled");
    Ok(hash)
}

#[jsonrpsee::core::async_trait]
impl EthRpcServer for EthApi {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.state.chain.spec().chain_id))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.head()?.number))
    }

    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes> {
        let (header, _) = self.state_at(block)?;
        let request = Self::call_request(request)?;
        let gas_cap = self.state.config.rpc.gas_cap;
        let overrides = CallOverrides {
            state: state_overrides,
            block: block_overrides,
        };
        // Most calls (a balance, a view) end within the budget: they run
        // here, sparing the hand-off to a blocking thread, which costs about
        // as much as they do. A longer one runs again there, unbounded.
        let executor = self.state.chain.executor();
        let inline = executor.call_within(
            self.store(),
            &header,
            &request,
            gas_cap,
            &overrides,
            Some(INLINE_CALL_BUDGET),
        )?;
        let outcome = match inline {
            Some(outcome) => outcome,
            None => {
                let state = self.state.clone();
                blocking(move || {
                    let chain = &state.chain;
                    Ok(chain.executor().call(
                        chain.store(),
                        &header,
                        &request,
                        gas_cap,
                        &overrides,
                    )?)
                })
                .await?
            }
        };
        match outcome {
            outrigger_execution::call::CallOutcome::Success { output, .. } => Ok(output),
            outrigger_execution::call::CallOutcome::Revert { output, .. } => {
                Err(RpcError::Reverted(output))
            }
            outrigger_execution::call::CallOutcome::Halt { reason, .. } => {
                Err(RpcError::Execution(reason))
            }
        }
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        let (header, _) = self.state_at(block)?;
        let request = Self::call_request(request)?;
        let gas_cap = self.state.config.rpc.gas_cap;
        let overrides = CallOverrides {
            state: state_overrides,
            block: None,
        };
        let gas = self.state.chain.executor().estimate_gas(
            self.store(),
            &header,
            &request,
            gas_cap,
            &overrides,
        )?;
        Ok(U64::from(gas))
    }

    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256> {
        submit_raw_async(&self.state, bytes).await
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        if let Some(tx) = self.state.pool.lock().get(&hash) {
            return Ok(Some(pending_transaction(&tx)));
        }
        Ok(self
            .stored_transaction(hash)?
            .and_then(|(block, index)| block.transaction(index)))
    }

    fn raw_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        if let Some(tx) = self.state.pool.lock().get(&hash) {
            return Ok(Some(raw_transaction(tx.inner())));
        }
        Ok(self.stored_transaction(hash)?.and_then(|(block, index)| {
            block
                .block
                .body
                .transactions
                .get(index)
                .map(raw_transaction)
        }))
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        let number = self.store().block_number(hash)?;
        Ok(self
            .stored_block(number)?
            .and_then(|b| b.transaction(index.to::<usize>())))
    }

    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        let number = self.resolve_number(number)?;
        Ok(self
            .stored_block(number)?
            .and_then(|b| b.transaction(index.to::<usize>())))
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        let Some((block, index)) = self.stored_transaction(hash)? else {
            return Ok(None);
        };
        let receipts = self
            .store()
            .receipts(block.block.header.number)?
            .unwrap_or_default();
        Ok(block.rpc_receipt_at(&receipts, index))
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        let Some(block) = self.stored_block(self.resolve(block)?)? else {
            return Ok(None);
        };
        let receipts = self
            .store()
            .receipts(block.block.header.number)?
            .unwrap_or_default();
        Ok(Some(block.rpc_receipts(&receipts)))
    }

    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>> {
        let number = self.resolve_number(number)?;
        Ok(self.stored_block(number)?.map(|b| b.rpc_block(full)))
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        let number = self.store().block_number(hash)?;
        Ok(self.stored_block(number)?.map(|b| b.rpc_block(full)))
    }

    fn block_transaction_count_by_number(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>> {
        let number = self.resolve_number(number)?;
        Ok(self
            .stored_block(number)?
            .map(|b| U64::from(b.block.body.transactions.len())))
    }

    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let number = self.store().block_number(hash)?;
        Ok(self
            .stored_block(number)?
            .map(|b| U64::from(b.block.body.transactions.len())))
    }

    fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        Ok(self.resolve_number(number)?.map(|_| U64::ZERO))
    }

    fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self.store().block_number(hash)?.map(|_| U64::ZERO))
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let head = self.head()?;
        let next = outrigger_execution::txpool::HeadParams::after(self.state.chain.spec(), &head);
        let tip = fees::suggested_tip(&self.state, &head)?;
        Ok(U256::from(tip) + U256::from(next.base_fee))
    }

    fn base_fee(&self) -> RpcResult<U256> {
        let head = self.head()?;
        let next = outrigger_execution::txpool::HeadParams::after(self.state.chain.spec(), &head);
        Ok(U256::from(next.base_fee))
    }

    fn blob_base_fee(&self) -> RpcResult<U256> {
        let excess = self.head()?.excess_blob_gas.unwrap_or_default();
        let params = alloy_eips::eip7840::BlobParams::osaka();
        Ok(U256::from(params.calc_blob_fee(excess)))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        let head = self.head()?;
        Ok(U256::from(fees::suggested_tip(&self.state, &head)?))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let newest = self
            .resolve_number(newest)?
            .ok_or(RpcError::HeaderNotFound)?;
        fees::fee_history(
            &self.state,
            block_count.to::<u64>(),
            newest,
            reward_percentiles.as_deref(),
        )
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        let head = self.head()?.number;
        // geth refuses a range that ends past the head instead of answering
        // for part of it: the client would take the missing blocks as empty.
        if let FilterBlockOption::Range {
            to_block: Some(BlockNumberOrTag::Number(to)),
            ..
        } = filter.block_option
            && to > head
        {
            return Err(RpcError::InvalidParams(
                "block range extends beyond current head block".into(),
            ));
        }
        logs::get_logs(&self.state, &filter, head, |n| self.resolve_number(n))
    }

    fn new_filter(&self, filter: Filter) -> RpcResult<U128> {
        logs::check_filter(&filter)?;
        let next_block = self.head()?.number + 1;
        self.state.filters.install(FilterKind::Logs {
            filter: Box::new(filter),
            next_block,
        })
    }

    fn new_block_filter(&self) -> RpcResult<U128> {
        let next_block = self.head()?.number + 1;
        self.state
            .filters
            .install(FilterKind::Blocks { next_block })
    }

    fn new_pending_transaction_filter(&self) -> RpcResult<U128> {
        self.state.filters.install(FilterKind::PendingTransactions {
            hashes: Default::default(),
        })
    }

    fn filter_changes(&self, id: U128) -> RpcResult<serde_json::Value> {
        let head = self.head()?.number;
        let max_blocks = self.state.config.rpc.max_logs_block_range;
        let changes = self.state.filters.poll(id, |kind| match kind {
            FilterKind::Logs { filter, next_block } => {
                // New blocks since the last poll, within the filter's own
                // range and the configured span.
                let (own_from, own_to) = own_range(filter);
                let from = (*next_block)
                    .max((head + 1).saturating_sub(max_blocks))
                    .max(own_from.unwrap_or(0));
                let to = head.min(own_to.unwrap_or(head));
                let logs = if from > to {
                    Ok(Vec::new())
                } else {
                    let range = with_range(filter, from, to);
                    logs::get_logs(&self.state, &range, head, |n| self.resolve_number(n))
                };
                let next = FilterKind::Logs {
                    filter: filter.clone(),
                    next_block: head + 1,
                };
                (logs.map(Changes::Logs), Some(next))
            }
            FilterKind::Blocks { next_block } => {
                let from = (*next_block).max((head + 1).saturating_sub(max_blocks));
                let hashes = (from..=head)
                    .map(|n| self.store().block_hash(n))
                    .collect::<Result<Vec<_>, _>>();
                match hashes {
                    Ok(hashes) => (
                        Ok(Changes::Hashes(hashes.into_iter().flatten().collect())),
                        Some(FilterKind::Blocks {
                            next_block: head + 1,
                        }),
                    ),
                    Err(error) => (Err(error.into()), None),
                }
            }
            FilterKind::PendingTransactions { hashes } => {
                (Ok(Changes::Hashes(hashes.iter().copied().collect())), None)
            }
        })?;
        let json = match changes {
            Changes::Logs(logs) => serde_json::to_value(logs),
            Changes::Hashes(hashes) => serde_json::to_value(hashes),
        };
        json.map_err(|e| RpcError::Internal(e.to_string()))
    }

    fn filter_logs(&self, id: U128) -> RpcResult<Vec<Log>> {
        // A filter's range may end in the future: its logs so far.
        let filter = self.state.filters.log_filter(id)?;
        let head = self.head()?.number;
        logs::get_logs(&self.state, &filter, head, |n| self.resolve_number(n))
    }

    fn uninstall_filter(&self, id: U128) -> RpcResult<bool> {
        Ok(self.state.filters.uninstall(id))
    }

    fn syncing(&self) -> RpcResult<Syncing> {
        let Some(p2p) = self.state.p2p.get() else {
            return Ok(Syncing::Not(false));
        };
        let Some(range) = *p2p.sync.borrow() else {
            return Ok(Syncing::Not(false));
        };
        let current = self.head()?.number;
        Ok(Syncing::Progress {
            starting_block: U64::from(range.start),
            current_block: U64::from(current),
            highest_block: U64::from(range.target.max(current)),
        })
    }

    fn capabilities(&self) -> RpcResult<Capabilities> {
        let head = self.head()?;
        let oldest_state = self.store().oldest_state()?.unwrap_or(head.number);
        let storage = &self.state.config.storage;
        let window = (!storage.archive).then(|| DeleteStrategy {
            r#type: "window",
            // The head and the blocks before it whose state is kept.
            retention_blocks: U64::from(storage.state_history_blocks.saturating_add(1)),
        });
        let state = Resource {
            disabled: false,
            oldest_block: U64::from(oldest_state),
            delete_strategy: window,
        };
        // Blocks, transactions, receipts and logs are never pruned.
        let everything = Resource {
            disabled: false,
            oldest_block: U64::ZERO,
            delete_strategy: None,
        };
        Ok(Capabilities {
            head: CapabilitiesHead {
                number: U64::from(head.number),
                hash: head.hash_slow(),
            },
            state: state.clone(),
            tx: everything.clone(),
            logs: everything.clone(),
            receipts: everything.clone(),
            blocks: everything,
            stateproofs: state,
        })
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(self.state.dev_signers.iter().map(|s| s.address()).collect())
    }

    fn net_version(&self) -> RpcResult<String> {
        Ok(self.state.chain.spec().chain_id.to_string())
    }

    fn net_listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    async fn net_peer_count(&self) -> RpcResult<U64> {
        Ok(match self.state.p2p.get() {
            Some(p2p) => U64::from(p2p.network.peers().await.len()),
            None => U64::ZERO,
        })
    }

    fn client_version(&self) -> RpcResult<String> {
        Ok(crate::client_version())
    }

    fn sha3(&self, data: Bytes) -> RpcResult<B256> {
        Ok(keccak256(&data))
    }
}

#[cfg(test)]
mod submit_tests {
    use std::{thread, time::Instant};

    use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718 as _;
    use alloy_signer::SignerSync as _;

    use super::*;
    use crate::{dev, test_node::TestNode};

    /// A transfer of `nonce` from the first dev account, signed.
    fn transfer(signer: &alloy_signer_local::PrivateKeySigner, nonce: u64) -> Bytes {
        let tx = TxEip1559 {
            chain_id: dev::DEV_CHAIN_ID,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            value: U256::from(1),
            ..TxEip1559::default()
        };
        let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("signs");
        TxEnvelope::from(tx.into_signed(signature))
            .encoded_2718()
            .into()
    }

    /// A submission answers whether the pool's lock is free or held for
    /// longer than it waits inline (it then finishes on a blocking thread
    /// once the lock frees), and a bad one fails as the blocking path does.
    #[test]
    fn a_submission_pools_whether_or_not_the_pool_is_busy() {
        // No block in the test's time: the pool keeps what it is given.
        let node = TestNode::start(1, |config| config.block.time_ms = 600_000);
        let (runtime, handle, signer) = (&node.runtime, &node.handle, &node.accounts[0]);
        let state = handle.state.clone();

        // The lock free: pooled on the worker.
        let first = transfer(signer, 0);
        let hash = runtime
            .block_on(submit_raw_async(&state, first.clone()))
            .expect("pooled");
        assert_eq!(hash, keccak256(&first));
        assert!(state.pool.lock().get(&hash).is_some());

        // The lock held far longer than the inline wait, as a new head's
        // update of the pool may hold it.
        let held = Duration::from_millis(50);
        assert!(held > INLINE_POOL_WAIT * 100);
        let second = transfer(signer, 1);
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = {
            let state = state.clone();
            thread::spawn(move || {
                let _pool = state.pool.lock();
                locked_tx.send(()).expect("the test waits");
                thread::sleep(held);
            })
        };
        locked_rx.recv().expect("the lock is taken");
        let started = Instant::now();
        let hash = runtime
            .block_on(submit_raw_async(&state, second.clone()))
            .expect("pooled once the lock frees");
        assert!(started.elapsed() >= held / 2, "it waited for the lock");
        holder.join().expect("the holder ends");
        assert_eq!(hash, keccak256(&second));
        assert!(state.pool.lock().get(&hash).is_some());

        // A copy is refused as the blocking path refuses it.
        let inline = runtime
            .block_on(submit_raw_async(&state, second.clone()))
            .expect_err("a known transaction");
        let blocking = submit_raw(&state, &second).expect_err("a known transaction");
        assert_eq!(inline.to_string(), blocking.to_string());
        let garbage = Bytes::from_static(&[0x02, 0xc0]);
        let inline = runtime
            .block_on(submit_raw_async(&state, garbage.clone()))
            .expect_err("not a transaction");
        let blocking = submit_raw(&state, &garbage).expect_err("not a transaction");
        assert_eq!(inline.to_string(), blocking.to_string());

        node.stop();
    }
}
