//! Tracing, the way geth's `debug_trace*` methods and `eth_createAccessList`
//! do it: a stored transaction is traced by re-executing its block from the
//! parent's state (which the store keeps for recent blocks only), the
//! transactions before it untraced; a call is traced on the state after a
//! block. The tracers are revm-inspectors' (struct logger, `callTracer`,
//! `prestateTracer`, `4byteTracer`, `noopTracer`, ...); the output is
//! alloy's geth types, so the JSON is geth's.
//!
//! One request must not exhaust the node: every trace runs under
//! [`TraceLimits`] (a deadline, and for the struct logger a cap on the steps
//! and bytes it records), and exceeding one stops execution at once with an
//! error that names the limit.

use std::time::{Duration, Instant};

use alloy_eips::eip2930::AccessList;
use alloy_evm::{
    Evm as _, EvmEnv, EvmFactory as _, FromRecoveredTx as _,
    block::{BlockExecutor as _, BlockExecutorFactory as _},
};
use alloy_primitives::{Address, B256, Log, U256};
use alloy_rpc_types_trace::{
    common::TraceResult,
    geth::{GethDebugTracingOptions, GethTrace},
};
use revm::{
    DatabaseCommit as _, Inspector,
    context::{ContextTr, TxEnv, result::ResultAndState},
    context_interface::ContextError,
    database::{CacheDB, State, WrapDatabaseRef},
    handler::FrameResult,
    inspector::JournalExt,
    interpreter::{
        CallInputs, CallOutcome as RevmCallOutcome, CreateInputs, CreateOutcome, FrameInput,
        Interpreter, interpreter_types::LoopControl as _,
    },
};
use revm_inspectors::{
    access_list::AccessListInspector,
    tracing::{
        DebugInspector, DebugInspectorError, TraceLimitBehavior, TracingInspector,
        TransactionContext,
    },
};

use crate::{
    Header,
    call::{CallError, CallOutcome, CallRequest, CallState, call_error, edit_precompiles},
    executor::Executor,
    overrides::CallOverrides,
    store::{StateReader, Store, StoreError},
};

/// How often (in interpreter steps) the deadline is checked: reading the
/// clock on every step would cost more than most steps.
const CLOCK_CHECK_STEPS: u64 = 1024;

/// Most rounds of `eth_createAccessList`: each round can only add to the
/// list, so it settles after a few; the bound guards against a bug.
const ACCESS_LIST_ROUNDS_MAX: usize = 32;

/// What one trace request may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceLimits {
    /// Wall-clock time for the whole request, replay included.
    pub timeout: Duration,
    /// Most steps the struct logger logs in one request (all its
    /// transactions together). A request's own `limit` truncates each
    /// transaction's log, as in geth, and so can keep a request under it.
    pub struct_log_steps_max: u64,
    /// Most bytes a tracer records in one request: stack, memory and return
    /// data snapshots, and copied call inputs.
    pub recorded_bytes_max: usize,
}

/// Why a trace failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The tracer options are not valid (unknown tracer, bad config).
    #[error("{0}")]
    InvalidOptions(String),
    /// Block 0 has no transactions and no parent state.
    #[error("genesis is not traceable")]
    Genesis,
    /// The block asked for is not stored.
    #[error("block #{0} not found")]
    BlockNotFound(u64),
    /// The block has no transaction at that index.
    #[error("block #{number} has no transaction at index {index}")]
    NoTransaction {
        /// The block.
        number: u64,
        /// The index asked for.
        index: usize,
    },
    /// The trace ran past its deadline (geth's words first).
    #[error("execution timeout: tracing took longer than {0:?}")]
    Timeout(Duration),
    /// The struct logger recorded more steps than the node allows.
    #[error(
        "trace limit exceeded: more than {0} struct log steps (rpc.max_trace_steps); pass a smaller \"limit\" or use a tracer such as callTracer"
    )]
    Steps(u64),
    /// A tracer recorded more bytes than the node allows.
    #[error(
        "trace limit exceeded: more than {0} bytes of recorded trace data (rpc.max_trace_bytes); disable memory, stack or return data capture"
    )]
    Bytes(usize),
    /// A traced call cannot execute at all (funds, gas, fees).
    #[error(transparent)]
    Call(#[from] CallError),
    /// Re-executing a stored block failed: the store or the node is broken.
    #[error("re-executing block #{number}: {detail}")]
    Replay {
        /// The block.
        number: u64,
        /// What failed.
        detail: String,
    },
    /// The store failed, or the state asked for is not kept.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A `Result` of tracing.
pub type TraceResultOf<T> = Result<T, TraceError>;

/// The outcome of `eth_createAccessList`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessListOutcome {
    /// The accounts and slots the call touches, sender, recipient and
    /// precompiles excepted.
    pub access_list: AccessList,
    /// Gas the call uses with that list.
    pub gas_used: u64,
    /// How the call failed with that list, in geth's words, if it did.
    pub error: Option<String>,
}

/// The state a traced block is replayed on.
type ReplayDb<'a> = State<WrapDatabaseRef<StateReader<'a>>>;

impl Executor {
    /// Traces transaction `index` of block `number` with `options`:
    /// re-executes the block from its parent's state up to it.
    pub fn trace_transaction(
        &self,
        store: &Store,
        number: u64,
        index: usize,
        options: GethDebugTracingOptions,
        limits: &TraceLimits,
    ) -> TraceResultOf<GethTrace> {
        let mut traces = self.trace_block_inner(store, number, Some(index), options, limits)?;
        assert_eq!(traces.len(), 1, "one trace for one transaction");
        Ok(traces.remove(0).1)
    }

    /// Traces every transaction of block `number`, in order, each result
    /// with its transaction hash.
    pub fn trace_block(
        &self,
        store: &Store,
        number: u64,
        options: GethDebugTracingOptions,
        limits: &TraceLimits,
    ) -> TraceResultOf<Vec<TraceResult<GethTrace, String>>> {
        let traces = self.trace_block_inner(store, number, None, options, limits)?;
        Ok(traces
            .into_iter()
            .map(|(tx_hash, result)| TraceResult::Success {
                result,
                tx_hash: Some(tx_hash),
            })
            .collect())
    }

    /// Traces `request` as `eth_call` would run it on the state after block
    /// `header`, with `gas_cap` and `overrides` as in [`Executor::call`].
    // One argument per part of the request: they have nothing to share.
    #[allow(clippy::too_many_arguments)]
    pub fn trace_call(
        &self,
        store: &Store,
        header: &Header,
        request: &CallRequest,
        gas_cap: u64,
        overrides: &CallOverrides,
        options: GethDebugTracingOptions,
        limits: &TraceLimits,
    ) -> TraceResultOf<GethTrace> {
        let started = Instant::now();
        let mut inspector = Limited::new(debug_inspector(options, limits)?, limits, started);
        let CallState {
            mut db,
            header,
            precompiles,
        } = self.call_state(store, header, overrides)?;
        let header = &header;
        let gas = self.call_gas(header, request, gas_cap);
        let (env, tx) = self.call_env(&db, header, request, gas)?;
        let block = env.block_env.clone();
        let caller = tx.caller;
        let mut evm =
            self.factory()
                .evm_factory()
                .create_evm_with_inspector(&mut db, env, &mut inspector);
        edit_precompiles(evm.precompiles_mut(), &precompiles);
        let result = evm.transact(tx.clone());
        drop(evm);
        let result = match result {
            Ok(result) => result,
            Err(error) => {
                return Err(inspector
                    .tripped()
                    .unwrap_or_else(|| TraceError::Call(call_error(error, caller))));
            }
        };
        inspector.check()?;
        inspector
            .inner
            .get_result(None, &tx, &block, &result, &mut db)
            .map_err(|e| debug_error(e, header.number))
    }

    /// `eth_createAccessList`: runs `request` on the state after `header`
    /// with the access list it touched, until that list no longer changes
    /// (geth's method), and returns the list with the gas the call uses
    /// with it.
    pub fn create_access_list(
        &self,
        store: &Store,
        header: &Header,
        request: &CallRequest,
        gas_cap: u64,
    ) -> Result<AccessListOutcome, CallError> {
        let mut db = CacheDB::new(store.state_at(header.number)?);
        let gas = self.call_gas(header, request, gas_cap);
        let mut request = request.clone();
        // The request's own list, deduplicated and in the inspector's order.
        let mut list =
            AccessListInspector::new(request.access_list.take().unwrap_or_default()).access_list();
        for _ in 0..ACCESS_LIST_ROUNDS_MAX {
            request.access_list = Some(list.clone());
            let (env, tx) = self.call_env(&db, header, &request, gas)?;
            let caller = tx.caller;
            let mut inspector = AccessListInspector::new(list.clone());
            let mut evm = self.factory().evm_factory().create_evm_with_inspector(
                &mut db,
                env,
                &mut inspector,
            );
            let result = evm.transact(tx).map_err(|e| call_error(e, caller))?;
            drop(evm);
            let touched = inspector.into_access_list();
            if touched == list {
                let (gas_used, error) = match CallOutcome::from_result(result.result) {
                    CallOutcome::Success { gas_used, .. } => (gas_used, None),
                    CallOutcome::Revert { gas_used, .. } => {
                        (gas_used, Some("execution reverted".to_string()))
                    }
                    CallOutcome::Halt { reason, gas_used } => (gas_used, Some(reason)),
                };
                return Ok(AccessListOutcome {
                    access_list: list,
                    gas_used,
                    error,
                });
            }
            list = touched;
        }
        Err(CallError::Invalid(format!(
            "access list did not settle in {ACCESS_LIST_ROUNDS_MAX} rounds"
        )))
    }

    /// Re-executes block `number` on its parent's state and traces its
    /// transactions: all of them, or only the one at `only` (stopping there).
    /// Returns each traced transaction's hash and trace.
    fn trace_block_inner(
        &self,
        store: &Store,
        number: u64,
        only: Option<usize>,
        options: GethDebugTracingOptions,
        limits: &TraceLimits,
    ) -> TraceResultOf<Vec<(B256, GethTrace)>> {
        let started = Instant::now();
        if number == 0 {
            return Err(TraceError::Genesis);
        }
        let block = store
            .block(number)?
            .ok_or(TraceError::BlockNotFound(number))?;
        let senders = store
            .senders(number)?
            .ok_or(TraceError::BlockNotFound(number))?;
        if let Some(index) = only
            && index >= block.body.transactions.len()
        {
            return Err(TraceError::NoTransaction { number, index });
        }
        let replay = |detail: String| TraceError::Replay { number, detail };
        let block_hash = block.header.hash_slow();
        let mut inspector = Limited::new(debug_inspector(options, limits)?, limits, started);
        let mut db: ReplayDb<'_> = State::builder()
            .with_database_ref(store.state_at(number - 1)?)
            .build();
        let env: EvmEnv = self.evm_env(&block.header);
        let block_env = env.block_env.clone();
        // System calls (EIP-2935, EIP-4788) first, untraced, as geth does.
        {
            let evm = self
                .factory()
                .evm_factory()
                .create_evm(&mut db, env.clone());
            let mut executor = self.factory().create_executor(evm, self.context(&block));
            executor
                .apply_pre_execution_changes()
                .map_err(|e| replay(e.to_string()))?;
        }
        let mut evm =
            self.factory()
                .evm_factory()
                .create_evm_with_inspector(&mut db, env, &mut inspector);
        let mut traces = Vec::new();
        for (index, (tx, sender)) in block.body.transactions.iter().zip(&senders).enumerate() {
            let tx_env = TxEnv::from_recovered_tx(tx, *sender);
            let tx_hash = *tx.hash();
            if only.is_some_and(|target| index < target) {
                evm.disable_inspector();
                evm.transact_commit(tx_env)
                    .map_err(|e| replay(format!("transaction {tx_hash}: {e}")))?;
                if started.elapsed() > limits.timeout {
                    return Err(TraceError::Timeout(limits.timeout));
                }
                continue;
            }
            evm.enable_inspector();
            let (_, inspector, _) = evm.components_mut();
            inspector.next_transaction(number)?;
            let result = evm.transact(tx_env.clone());
            let (db, inspector, _) = evm.components_mut();
            let result: ResultAndState = match result {
                Ok(result) => result,
                Err(error) => {
                    return Err(inspector
                        .tripped()
                        .unwrap_or_else(|| replay(format!("transaction {tx_hash}: {error}"))));
                }
            };
            inspector.check()?;
            let context = TransactionContext {
                block_hash: Some(block_hash),
                tx_index: Some(index),
                tx_hash: Some(tx_hash),
            };
            let trace = inspector
                .inner
                .get_result(Some(context), &tx_env, &block_env, &result, &mut **db)
                .map_err(|e| debug_error(e, number))?;
            traces.push((tx_hash, trace));
            if only.is_some() {
                break;
            }
            (**db).commit(result.state);
        }
        Ok(traces)
    }
}

/// The inspector for `options`, with the node's byte limit on the tracers
/// that record.
fn debug_inspector(
    options: GethDebugTracingOptions,
    limits: &TraceLimits,
) -> TraceResultOf<DebugInspector> {
    let inspector = DebugInspector::new(options).map_err(|e| {
        TraceError::InvalidOptions(match e {
            DebugInspectorError::InvalidTracerConfig => "invalid tracer config".to_string(),
            // alloy reads any unknown tracer name as JavaScript code.
            DebugInspectorError::UnsupportedTracer | DebugInspectorError::JsTracerNotEnabled => {
                "tracer not found: this node serves the struct logger and geth's built-in tracers (callTracer, prestateTracer, 4byteTracer, noopTracer, flatCallTracer, muxTracer), not JavaScript tracers".to_string()
            }
            other => other.to_string(),
        })
    })?;
    let limited = |tracer: TracingInspector| {
        tracer.with_limits(
            revm_inspectors::tracing::TraceLimits::default()
                .set_max_recorded_bytes(Some(limits.recorded_bytes_max))
                .set_behavior(TraceLimitBehavior::Halt),
        )
    };
    Ok(match inspector {
        DebugInspector::Default(tracer, config) => DebugInspector::Default(limited(tracer), config),
        DebugInspector::CallTracer(tracer, config) => {
            DebugInspector::CallTracer(limited(tracer), config)
        }
        DebugInspector::PreStateTracer(tracer, config) => {
            DebugInspector::PreStateTracer(limited(tracer), config)
        }
        DebugInspector::FlatCallTracer(tracer) => DebugInspector::FlatCallTracer(limited(tracer)),
        DebugInspector::Erc7562Tracer(tracer, config) => {
            DebugInspector::Erc7562Tracer(limited(tracer), config)
        }
        other => other,
    })
}

fn debug_error<E: std::fmt::Display>(error: DebugInspectorError<E>, number: u64) -> TraceError {
    match error {
        DebugInspectorError::Database(error) => TraceError::Replay {
            number,
            detail: error.to_string(),
        },
        other => TraceError::InvalidOptions(other.to_string()),
    }
}

/// Which limit stopped a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tripped {
    Timeout,
    Steps,
    Bytes,
}

/// A tracer under [`TraceLimits`]: counts steps (and, for the struct
/// logger, the stack bytes it copies, which revm-inspectors does not count),
/// checks the clock, and halts execution when a limit is passed. The counts
/// run over the whole request, across the transactions of a block.
#[derive(Debug)]
struct Limited {
    inner: DebugInspector,
    limits: TraceLimits,
    started: Instant,
    /// For the struct logger: the request's own `limit` on logged steps per
    /// transaction (`None`: all).
    struct_log_limit: Option<u64>,
    /// Whether each struct log copies the stack.
    stack_snapshots: bool,
    /// Steps in the request, steps in the current transaction, and steps
    /// the struct logger logged in the request.
    steps: u64,
    tx_steps: u64,
    logged_steps: u64,
    /// Stack bytes the struct logger copied in the request.
    stack_bytes: usize,
    /// Bytes revm-inspectors recorded for the request's earlier
    /// transactions (it counts each transaction from zero).
    earlier_bytes: usize,
    tripped: Option<Tripped>,
}

impl Limited {
    fn new(inner: DebugInspector, limits: &TraceLimits, started: Instant) -> Self {
        let (struct_log_limit, stack_snapshots) = match &inner {
            DebugInspector::Default(_, config) => (
                Some(config.limit.filter(|limit| *limit != 0).unwrap_or(u64::MAX)),
                config.disable_stack != Some(true),
            ),
            _ => (None, false),
        };
        Self {
            inner,
            limits: *limits,
            started,
            struct_log_limit,
            stack_snapshots,
            steps: 0,
            tx_steps: 0,
            logged_steps: 0,
            stack_bytes: 0,
            earlier_bytes: 0,
            tripped: None,
        }
    }

    fn tracer(&self) -> Option<&TracingInspector> {
        match &self.inner {
            DebugInspector::Default(tracer, _)
            | DebugInspector::CallTracer(tracer, _)
            | DebugInspector::PreStateTracer(tracer, _)
            | DebugInspector::FlatCallTracer(tracer)
            | DebugInspector::Erc7562Tracer(tracer, _) => Some(tracer),
            _ => None,
        }
    }

    /// Readies the tracer for the next transaction of a block.
    fn next_transaction(&mut self, number: u64) -> TraceResultOf<()> {
        self.earlier_bytes += self.tracer().map_or(0, TracingInspector::recorded_bytes);
        self.tx_steps = 0;
        self.inner.fuse().map_err(|e| debug_error(e, number))
    }

    /// Bytes recorded in the request so far.
    fn recorded_bytes(&self) -> usize {
        let current = self.tracer().map_or(0, TracingInspector::recorded_bytes);
        self.earlier_bytes
            .saturating_add(current)
            .saturating_add(self.stack_bytes)
    }

    /// The limit that stopped execution, if one did.
    fn tripped(&self) -> Option<TraceError> {
        let byte_cap_hit = self.tracer().is_some_and(TracingInspector::limit_exceeded);
        let tripped = self
            .tripped
            .or_else(|| byte_cap_hit.then_some(Tripped::Bytes))?;
        Some(match tripped {
            Tripped::Timeout => TraceError::Timeout(self.limits.timeout),
            Tripped::Steps => TraceError::Steps(self.limits.struct_log_steps_max),
            Tripped::Bytes => TraceError::Bytes(self.limits.recorded_bytes_max),
        })
    }

    /// Fails if a limit was passed, even if execution ended normally.
    fn check(&self) -> TraceResultOf<()> {
        match self.tripped() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Counts one step; returns the limit it passes, if any.
    fn count_step(&mut self, stack_len: usize) -> Option<Tripped> {
        self.steps += 1;
        self.tx_steps += 1;
        let logged = self
            .struct_log_limit
            .is_some_and(|limit| self.tx_steps <= limit);
        if logged {
            self.logged_steps += 1;
            if self.logged_steps > self.limits.struct_log_steps_max {
                return Some(Tripped::Steps);
            }
            if self.stack_snapshots {
                self.stack_bytes = self.stack_bytes.saturating_add(stack_len * 32);
            }
        }
        if self.recorded_bytes() > self.limits.recorded_bytes_max {
            return Some(Tripped::Bytes);
        }
        if self.steps.is_multiple_of(CLOCK_CHECK_STEPS)
            && self.started.elapsed() > self.limits.timeout
        {
            return Some(Tripped::Timeout);
        }
        None
    }

    fn halt<CTX: ContextTr>(&mut self, why: Tripped, interp: &mut Interpreter, context: &mut CTX) {
        self.tripped = Some(why);
        if context.error().is_ok() {
            *context.error() = Err(ContextError::Custom(format!("trace stopped: {why:?}")));
        }
        interp.bytecode.reset_action();
        interp.halt_fatal();
    }
}

impl<CTX> Inspector<CTX> for Limited
where
    CTX: ContextTr<Journal: JournalExt>,
{
    fn initialize_interp(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        self.inner.initialize_interp(interp, context);
    }

    fn step(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        if self.tripped.is_some() {
            return;
        }
        if let Some(why) = self.count_step(interp.stack.len()) {
            self.halt(why, interp, context);
            return;
        }
        self.inner.step(interp, context);
    }

    fn step_end(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        if self.tripped.is_none() {
            self.inner.step_end(interp, context);
        }
    }

    fn log(&mut self, context: &mut CTX, log: Log) {
        Inspector::<CTX>::log(&mut self.inner, context, log);
    }

    fn log_full(&mut self, interp: &mut Interpreter, context: &mut CTX, log: Log) {
        self.inner.log_full(interp, context, log);
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<RevmCallOutcome> {
        self.inner.call(context, inputs)
    }

    fn call_end(&mut self, context: &mut CTX, inputs: &CallInputs, outcome: &mut RevmCallOutcome) {
        self.inner.call_end(context, inputs, outcome);
    }

    fn create(&mut self, context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.inner.create(context, inputs)
    }

    fn create_end(
        &mut self,
        context: &mut CTX,
        inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        self.inner.create_end(context, inputs, outcome);
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        Inspector::<CTX>::selfdestruct(&mut self.inner, contract, target, value);
    }

    fn frame_start(
        &mut self,
        context: &mut CTX,
        frame_input: &mut FrameInput,
    ) -> Option<FrameResult> {
        self.inner.frame_start(context, frame_input)
    }

    fn frame_end(
        &mut self,
        context: &mut CTX,
        frame_input: &FrameInput,
        frame_result: &mut FrameResult,
    ) {
        self.inner.frame_end(context, frame_input, frame_result);
    }
}
