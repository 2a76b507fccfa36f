//! `eth_simulateV1`: calls executed in a chain of simulated blocks built on
//! a kept block's state, each block seeing the state the previous left,
//! under per-block state and block overrides. Nothing reaches the store.
//!
//! The rules are the execution-apis spec's (`eth/execute.yaml`), with
//! geth's error codes:
//! - block numbers and timestamps must increase; a block without a number
//!   or time takes the previous one's plus 1 (number) and plus 12 s (time),
//!   and a jump in numbers is filled with empty blocks, 12 s apart;
//! - with `validation`, calls are checked as transactions (nonce, fees
//!   against the base fee computed from the parent, sender without code);
//!   without it, nonces are not checked and the base fee is zero unless
//!   overridden;
//! - a call that cannot be executed at all fails the whole request with a
//!   -380xx code; a call that reverts or halts is reported in its result;
//! - the gas of all calls together is bounded by the node's RPC gas cap.
//!
//! The state root of a simulated block is not computed (that needs the
//! trie over the base block's state): it is reported as the zero hash.

use std::time::{Duration, Instant};

use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Signed, TxEip1559, TxEnvelope,
    proofs::{calculate_receipt_root, calculate_transaction_root},
};
use alloy_evm::{Evm as _, EvmFactory as _};
use alloy_primitives::{
    Address, B256, Bloom, Bytes, Log, LogData, Signature, TxKind, U256, address, b256,
};
use alloy_rpc_types_eth::{
    BlockOverrides,
    simulate::{SimBlock, SimCallResult, SimulateError as CallError_},
};
use revm::{
    DatabaseCommit,
    context::result::{EVMError, ExecutionResult, InvalidTransaction},
    context_interface::ContextTr,
    database::CacheDB,
    database_interface::DatabaseRef,
    inspector::Inspector,
    interpreter::{CallInputs, CallOutcome, CreateInputs, CreateOutcome},
};

use crate::{
    Block,
    call::{CallOutcome as Outcome, CallRequest, edit_precompiles, invalid_message},
    executor::Executor,
    overrides::{
        OverrideApplyError, OverrideError, PrecompileEdits, apply_block_overrides,
        apply_state_overrides,
    },
    store::{StateReader, Store, StoreError},
};

/// Most blocks one request may simulate, gaps included (geth's).
pub const SIMULATE_BLOCKS_MAX: usize = 256;
/// What a simulated block without a time adds to its parent's, seconds.
const TIMESTAMP_INCREMENT_S: u64 = 12;
/// The address ETH transfers appear to log from, with `traceTransfers`.
pub const TRANSFER_LOG_ADDRESS: Address = address!("0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
/// keccak256("Transfer(address,address,uint256)"), the ERC-20 event.
const TRANSFER_TOPIC: B256 =
    b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
/// geth's code for a reverted call in a simulated block.
const CODE_REVERTED: i32 = 3;
/// geth's code for a call that halted.
const CODE_VM_ERROR: i32 = -32015;

/// How to simulate.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    /// Check calls as transactions (nonces, base fee, sender without code).
    pub validation: bool,
    /// Report ETH transfers as ERC-20 `Transfer` logs from
    /// [`TRANSFER_LOG_ADDRESS`].
    pub trace_transfers: bool,
    /// Most gas all the calls together may use.
    pub gas_cap: u64,
    /// Longest the simulation may run; checked between calls.
    pub timeout: Duration,
}

/// One simulated block.
#[derive(Clone, Debug)]
pub struct SimulatedBlock {
    /// The block, its transactions built from the calls (unsigned: a zero
    /// signature).
    pub block: Block,
    /// keccak256 of its header.
    pub hash: B256,
    /// The sender of each transaction.
    pub senders: Vec<Address>,
    /// The result of each call, logs with block hash and indices.
    pub calls: Vec<SimCallResult>,
}

/// Why a simulation failed as a whole, with geth's code.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// More blocks than [`SIMULATE_BLOCKS_MAX`], gaps included.
    #[error("too many blocks")]
    TooManyBlocks,
    /// A block number not above the previous one.
    #[error("block numbers must be in order: {number} <= {previous}")]
    BlockNumberOrder {
        /// The block's number.
        number: u64,
        /// The previous block's.
        previous: u64,
    },
    /// A block time not above the previous one.
    #[error("block timestamps must be in order: {time} <= {previous}")]
    TimestampOrder {
        /// The block's time.
        time: u64,
        /// The previous block's.
        previous: u64,
    },
    /// The calls of a block ask for more gas than its limit.
    #[error("block gas limit reached: {used} >= {limit}")]
    BlockGasLimit {
        /// Gas used before the call plus the call's gas.
        used: u64,
        /// The block's gas limit.
        limit: u64,
    },
    /// A call cannot be executed as a transaction; `code` is geth's.
    #[error("err: {message} (supplied gas {gas})")]
    InvalidCall {
        /// geth's code for the rule broken.
        code: i32,
        /// geth's words.
        message: String,
        /// The call's gas.
        gas: u64,
    },
    /// The calls together used up the RPC gas cap.
    #[error("gas cap of {0} reached by the simulated calls (rpc.gas_cap)")]
    GasCap(u64),
    /// The simulation ran past its time.
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(Duration),
    /// An override cannot be applied.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SimulateError {
    /// geth's JSON-RPC code for the error.
    pub fn code(&self) -> i32 {
        match self {
            Self::TooManyBlocks => -38026,
            Self::BlockNumberOrder { .. } => -38020,
            Self::TimestampOrder { .. } => -38021,
            Self::BlockGasLimit { .. } => -38015,
            Self::InvalidCall { code, .. } => *code,
            Self::GasCap(_) => -32000,
            Self::Timeout(_) => -32016,
            // geth answers a bad override with its generic code.
            Self::Override(_) => -32000,
            Self::Store(_) => -32603,
        }
    }
}

impl From<OverrideApplyError<StoreError>> for SimulateError {
    fn from(error: OverrideApplyError<StoreError>) -> Self {
        match error {
            OverrideApplyError::Override(error) => Self::Override(error),
            OverrideApplyError::Database(error) => Self::Store(error),
        }
    }
}

/// The blocks with numbers and times set, gaps filled (the spec's rules).
fn sanitize_blocks(
    base: &Header,
    blocks: Vec<SimBlock<CallRequest>>,
) -> Result<Vec<SimBlock<CallRequest>>, SimulateError> {
    let mut out = Vec::with_capacity(blocks.len());
    let (mut previous_number, mut previous_time) = (base.number, base.timestamp);
    for mut block in blocks {
        let overrides = block.block_overrides.get_or_insert_with(Default::default);
        let number = match overrides.number {
            Some(number) => number.saturating_to::<u64>(),
            None => previous_number.saturating_add(1),
        };
        if number <= previous_number {
            return Err(SimulateError::BlockNumberOrder {
                number,
                previous: previous_number,
            });
        }
        if (number - previous_number) as usize + out.len() > SIMULATE_BLOCKS_MAX {
            return Err(SimulateError::TooManyBlocks);
        }
        for gap in previous_number + 1..number {
            previous_time += TIMESTAMP_INCREMENT_S;
            out.push(SimBlock {
                block_overrides: Some(BlockOverrides {
                    number: Some(U256::from(gap)),
                    time: Some(previous_time),
                    ..Default::default()
                }),
                state_overrides: None,
                calls: Vec::new(),
            });
        }
        overrides.number = Some(U256::from(number));
        let time = match overrides.time {
            Some(time) if time <= previous_time => {
                return Err(SimulateError::TimestampOrder {
                    time,
                    previous: previous_time,
                });
            }
            Some(time) => time,
            None => previous_time + TIMESTAMP_INCREMENT_S,
        };
        overrides.time = Some(time);
        previous_number = number;
        previous_time = time;
        out.push(block);
    }
    Ok(out)
}

impl Executor {
    /// Simulates `blocks` on the state after `base`; see the module docs.
    pub fn simulate(
        &self,
        store: &Store,
        base: &Header,
        blocks: Vec<SimBlock<CallRequest>>,
        options: &SimulateOptions,
    ) -> Result<Vec<SimulatedBlock>, SimulateError> {
        let started = Instant::now();
        if blocks.len() > SIMULATE_BLOCKS_MAX {
            return Err(SimulateError::TooManyBlocks);
        }
        let blocks = sanitize_blocks(base, blocks)?;
        let mut db = CacheDB::new(store.state_at(base.number)?);
        let mut gas_left = options.gas_cap;
        let mut parent = base.clone();
        let mut parent_hash = base.hash_slow();
        let mut out = Vec::with_capacity(blocks.len());
        for block in blocks {
            let simulated = self.simulate_block(
                &mut db,
                &parent,
                parent_hash,
                block,
                options,
                &mut gas_left,
                started,
            )?;
            db.cache
                .block_hashes
                .insert(U256::from(simulated.block.header.number), simulated.hash);
            parent = simulated.block.header.clone();
            parent_hash = simulated.hash;
            out.push(simulated);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn simulate_block(
        &self,
        db: &mut CacheDB<StateReader<'_>>,
        parent: &Header,
        parent_hash: B256,
        block: SimBlock<CallRequest>,
        options: &SimulateOptions,
        gas_left: &mut u64,
        started: Instant,
    ) -> Result<SimulatedBlock, SimulateError> {
        let overrides = block.block_overrides.unwrap_or_default();
        // The parent's fields the block inherits; the rest is rebuilt below.
        let mut template = parent.clone();
        template.parent_hash = parent_hash;
        template.mix_hash = B256::ZERO;
        template.base_fee_per_gas = parent.base_fee_per_gas.map(|_| {
            if options.validation {
                parent
                    .next_block_base_fee(self.spec().base_fee_params())
                    .unwrap_or_default()
            } else {
                0
            }
        });
        let mut header = apply_block_overrides(&template, &overrides, db)?;
        let precompiles = match &block.state_overrides {
            Some(state) => apply_state_overrides(db, state, self.evm_env(&header).cfg_env.spec)?,
            None => PrecompileEdits::default(),
        };
        let mut gas_used = 0u64;
        let mut transactions = Vec::with_capacity(block.calls.len());
        let mut senders = Vec::with_capacity(block.calls.len());
        let mut receipts = Vec::with_capacity(block.calls.len());
        let mut calls = Vec::with_capacity(block.calls.len());
        for request in block.calls {
            if started.elapsed() > options.timeout {
                return Err(SimulateError::Timeout(options.timeout));
            }
            let gas = request
                .gas
                .unwrap_or(header.gas_limit.saturating_sub(gas_used));
            if gas_used.saturating_add(gas) > header.gas_limit {
                return Err(SimulateError::BlockGasLimit {
                    used: gas_used.saturating_add(gas),
                    limit: header.gas_limit,
                });
            }
            if *gas_left == 0 {
                return Err(SimulateError::GasCap(options.gas_cap));
            }
            // As eth_call: lowered to the gas cap left and the fork's
            // transaction gas cap (EIP-7825).
            let gas = gas.min(*gas_left).min(self.tx_gas_cap(&header));
            let (mut env, mut tx) =
                self.call_env(&*db, &header, &request, gas)
                    .map_err(|e| match e {
                        crate::call::CallError::Store(e) => SimulateError::Store(e),
                        other => SimulateError::InvalidCall {
                            code: -32603,
                            message: other.to_string(),
                            gas,
                        },
                    })?;
            env.block_env.basefee = header.base_fee_per_gas.unwrap_or_default();
            env.cfg_env.disable_nonce_check = !options.validation;
            env.cfg_env.disable_eip3607 = !options.validation;
            env.cfg_env.disable_base_fee = !options.validation;
            let caller = tx.caller;
            let state_nonce = db.basic_ref(caller)?.map_or(0, |a| a.nonce);
            if options.validation {
                // geth checks the nonce before the fees; revm after.
                check_nonce(caller, tx.nonce, state_nonce, gas)?;
            } else if tx.nonce == u64::MAX && tx.kind.is_call() {
                // Unchecked, the nonce of a call only counts up, as geth
                // lets it wrap; revm refuses a nonce it cannot increment.
                tx.nonce = 0;
            }
            let mut inspector = TransferLogger::new(options.trace_transfers);
            let mut evm = self.factory().evm_factory().create_evm_with_inspector(
                &mut *db,
                env,
                &mut inspector,
            );
            edit_precompiles(evm.precompiles_mut(), &precompiles);
            let result = evm.transact(tx.clone());
            drop(evm);
            let result = match result {
                Ok(result) => result,
                Err(EVMError::Transaction(invalid)) => {
                    return Err(SimulateError::InvalidCall {
                        code: invalid_code(&invalid),
                        message: invalid_message(&invalid, caller),
                        gas,
                    });
                }
                Err(EVMError::Database(e)) => return Err(SimulateError::Store(e)),
                Err(other) => {
                    return Err(SimulateError::InvalidCall {
                        code: -32603,
                        message: other.to_string(),
                        gas,
                    });
                }
            };
            db.commit(result.state);
            let used = result.result.tx_gas_used();
            *gas_left = gas_left.saturating_sub(used);
            gas_used += used;
            let success = result.result.is_success();
            let logs = if options.trace_transfers {
                if success { inspector.logs } else { Vec::new() }
            } else {
                result.result.logs().to_vec()
            };
            let transaction = unsigned_transaction(&request, &tx, self.spec().chain_id);
            let tx_hash = *transaction.tx_hash();
            let tx_index = transactions.len() as u64;
            receipts.push(ReceiptEnvelope::Eip1559(ReceiptWithBloom::from(Receipt {
                status: Eip658Value::Eip658(success),
                cumulative_gas_used: gas_used,
                logs: logs.clone(),
            })));
            calls.push(call_result(result.result, logs, tx_hash, tx_index, &header));
            transactions.push(transaction);
            senders.push(caller);
        }
        header.gas_used = gas_used;
        header.transactions_root = calculate_transaction_root(&transactions);
        header.receipts_root = calculate_receipt_root(&receipts);
        header.logs_bloom = receipts
            .iter()
            .fold(Bloom::ZERO, |bloom, r| bloom | *r.logs_bloom());
        header.state_root = B256::ZERO;
        // No withdrawals in a simulated block: the empty list's root where
        // the fork has withdrawals.
        let withdrawals = header
            .withdrawals_root
            .map(|_| alloy_eips::eip4895::Withdrawals::default());
        header.withdrawals_root = withdrawals
            .as_ref()
            .map(|w| alloy_consensus::proofs::calculate_withdrawals_root(w));
        let hash = header.hash_slow();
        let mut log_index = 0u64;
        for call in &mut calls {
            for log in &mut call.logs {
                log.block_hash = Some(hash);
                log.log_index = Some(log_index);
                log_index += 1;
            }
        }
        let body = alloy_consensus::BlockBody {
            transactions,
            ommers: Vec::new(),
            withdrawals,
        };
        Ok(SimulatedBlock {
            block: Block { header, body },
            hash,
            senders,
            calls,
        })
    }
}

/// The transaction a call stands for: EIP-1559, with the call's fields as
/// executed and a zero signature (the spec's simulated transactions are
/// unsigned).
fn unsigned_transaction(
    request: &CallRequest,
    tx: &revm::context::TxEnv,
    chain_id: u64,
) -> TxEnvelope {
    let max_fee = request
        .max_fee_per_gas
        .or(request.gas_price)
        .unwrap_or_default();
    let inner = TxEip1559 {
        chain_id,
        nonce: tx.nonce,
        gas_limit: tx.gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: request.max_priority_fee_per_gas.unwrap_or_default(),
        to: request.to.map_or(TxKind::Create, TxKind::Call),
        value: request.value.unwrap_or_default(),
        access_list: request.access_list.clone().unwrap_or_default(),
        input: request.input.clone(),
    };
    let signature = Signature::new(U256::ZERO, U256::ZERO, false);
    TxEnvelope::Eip1559(Signed::new_unhashed(inner, signature))
}

/// A call's result in the spec's shape.
fn call_result(
    result: ExecutionResult,
    logs: Vec<Log>,
    tx_hash: B256,
    tx_index: u64,
    header: &Header,
) -> SimCallResult {
    let logs = logs
        .into_iter()
        .map(|inner| alloy_rpc_types_eth::Log {
            inner,
            block_hash: None,
            block_number: Some(header.number),
            block_timestamp: Some(header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(tx_index),
            log_index: None,
            removed: false,
        })
        .collect();
    let (return_data, gas_used, error) = match Outcome::from_result(result) {
        Outcome::Success {
            output, gas_used, ..
        } => (output, gas_used, None),
        Outcome::Revert { output, gas_used } => (
            output.clone(),
            gas_used,
            Some(CallError_ {
                code: CODE_REVERTED,
                message: "execution reverted".into(),
                data: Some(output),
            }),
        ),
        Outcome::Halt { reason, gas_used } => (
            Bytes::new(),
            gas_used,
            Some(CallError_ {
                code: CODE_VM_ERROR,
                // The spec's form; geth gives the reason alone.
                message: format!("vm execution error: {reason}"),
                data: None,
            }),
        ),
    };
    SimCallResult {
        return_data,
        logs,
        gas_used,
        max_used_gas: None,
        status: error.is_none(),
        error,
    }
}

/// geth's nonce rules for a validated call, in its order and words.
fn check_nonce(caller: Address, nonce: u64, state: u64, gas: u64) -> Result<(), SimulateError> {
    let (code, message) = if state == u64::MAX {
        (
            -32603,
            format!("nonce has max value: address {caller}, nonce: {state}"),
        )
    } else if nonce < state {
        (
            -38010,
            format!("nonce too low: address {caller}, tx: {nonce} state: {state}"),
        )
    } else if nonce > state {
        (
            -38011,
            format!("nonce too high: address {caller}, tx: {nonce} state: {state}"),
        )
    } else {
        return Ok(());
    };
    Err(SimulateError::InvalidCall { code, message, gas })
}

/// geth's code for a call that breaks a transaction rule.
fn invalid_code(invalid: &InvalidTransaction) -> i32 {
    match invalid {
        InvalidTransaction::NonceTooLow { .. } => -38010,
        InvalidTransaction::NonceTooHigh { .. } => -38011,
        InvalidTransaction::GasPriceLessThanBasefee => -38012,
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => -38013,
        InvalidTransaction::LackOfFundForMaxFee { .. } => -38014,
        InvalidTransaction::CallerGasLimitMoreThanBlock => -38015,
        InvalidTransaction::RejectCallerWithCode => -38024,
        InvalidTransaction::CreateInitCodeSizeLimit => -38025,
        _ => -32603,
    }
}

/// Records a call's logs in execution order and, when asked, its ETH
/// transfers as ERC-20 `Transfer` logs among them; a reverted frame's
/// records are dropped with it.
struct TransferLogger {
    transfers: bool,
    logs: Vec<Log>,
    /// Where each open frame's logs start.
    frames: Vec<usize>,
    /// The transfer log of each open creation, whose address is known only
    /// at its end.
    creations: Vec<Option<usize>>,
}

impl TransferLogger {
    fn new(transfers: bool) -> Self {
        Self {
            transfers,
            logs: Vec::new(),
            frames: Vec::new(),
            creations: Vec::new(),
        }
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) -> usize {
        self.logs.push(Log {
            address: TRANSFER_LOG_ADDRESS,
            data: LogData::new_unchecked(
                vec![TRANSFER_TOPIC, from.into_word(), to.into_word()],
                Bytes::from(value.to_be_bytes::<32>()),
            ),
        });
        self.logs.len() - 1
    }

    fn end_frame(&mut self, ok: bool) {
        let start = self.frames.pop().unwrap_or_default();
        if !ok {
            self.logs.truncate(start);
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX> for TransferLogger {
    fn log(&mut self, _context: &mut CTX, log: Log) {
        self.logs.push(log);
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.frames.push(self.logs.len());
        if self.transfers
            && let Some(value) = inputs.transfer_value()
            && !value.is_zero()
        {
            self.transfer(inputs.caller, inputs.target_address, value);
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.end_frame(outcome.result.is_ok());
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.frames.push(self.logs.len());
        let log = (self.transfers && !inputs.value().is_zero())
            .then(|| self.transfer(inputs.caller(), Address::ZERO, inputs.value()));
        self.creations.push(log);
        None
    }

    fn create_end(
        &mut self,
        _context: &mut CTX,
        _inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        if let Some(Some(index)) = self.creations.pop()
            && let (Some(address), Some(log)) = (outcome.address, self.logs.get_mut(index))
        {
            let mut topics = log.data.topics().to_vec();
            topics[2] = address.into_word();
            log.data = LogData::new_unchecked(topics, log.data.data.clone());
        }
        self.end_frame(outcome.result.is_ok());
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        if self.transfers && !value.is_zero() {
            self.transfer(contract, target, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: Option<u64>, time: Option<u64>) -> SimBlock<CallRequest> {
        SimBlock {
            block_overrides: Some(BlockOverrides {
                number: number.map(U256::from),
                time,
                ..Default::default()
            }),
            state_overrides: None,
            calls: Vec::new(),
        }
    }

    fn numbers_and_times(blocks: &[SimBlock<CallRequest>]) -> Vec<(u64, u64)> {
        blocks
            .iter()
            .map(|b| {
                let o = b.block_overrides.as_ref().unwrap();
                (o.number.unwrap().to::<u64>(), o.time.unwrap())
            })
            .collect()
    }

    /// Requested blocks, and the (number, time) of every block made.
    type Row = (Vec<SimBlock<CallRequest>>, Vec<(u64, u64)>);

    #[test]
    fn blocks_get_numbers_and_times_and_gaps_are_filled() {
        let base = Header {
            number: 10,
            timestamp: 100,
            ..Default::default()
        };
        let rows: Vec<Row> = vec![
            (vec![block(None, None)], vec![(11, 112)]),
            (
                vec![block(None, None), block(None, Some(200))],
                vec![(11, 112), (12, 200)],
            ),
            // A jump to 13 fills 11 and 12, 12 s apart; the next follows.
            (
                vec![block(Some(13), None), block(None, None)],
                vec![(11, 112), (12, 124), (13, 136), (14, 148)],
            ),
        ];
        for (requested, expected) in rows {
            let blocks = sanitize_blocks(&base, requested).unwrap();
            assert_eq!(numbers_and_times(&blocks), expected);
        }
    }

    #[test]
    fn out_of_order_and_too_many_blocks_are_refused() {
        let base = Header {
            number: 10,
            timestamp: 100,
            ..Default::default()
        };
        let error = sanitize_blocks(&base, vec![block(Some(10), None)]).unwrap_err();
        assert!(matches!(
            error,
            SimulateError::BlockNumberOrder {
                number: 10,
                previous: 10
            }
        ));
        assert_eq!(error.code(), -38020);
        let error = sanitize_blocks(&base, vec![block(None, Some(100))]).unwrap_err();
        assert_eq!(error.code(), -38021);
        // A jump past the limit counts its gap blocks.
        let far = 10 + SIMULATE_BLOCKS_MAX as u64 + 1;
        let error = sanitize_blocks(&base, vec![block(Some(far), None)]).unwrap_err();
        assert_eq!(error.code(), -38026);
        let last = 10 + SIMULATE_BLOCKS_MAX as u64;
        let blocks = sanitize_blocks(&base, vec![block(Some(last), None)]).unwrap();
        assert_eq!(blocks.len(), SIMULATE_BLOCKS_MAX);
    }
}
