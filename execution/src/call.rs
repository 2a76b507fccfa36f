//! Executing a message against the state after a block (the head or a
//! recent one) without a signature or a new block, for `eth_call` and `eth_estimateGas`: nothing is written.
//!
//! The rules follow geth's: the nonce is not checked, a message that names
//! no fee runs with a zero base fee (so an unfunded `from` can read state),
//! and the gas defaults to the block gas limit, capped by the node's RPC gas
//! cap and the fork's per-transaction cap (EIP-7825).

use std::time::{Duration, Instant};

use alloy_consensus::Header;
use alloy_eips::{eip2930::AccessList, eip7702::SignedAuthorization};
use alloy_evm::{Evm as _, EvmFactory as _};
use alloy_primitives::{Address, Bytes, Log, TxKind, U256};
use revm::{
    Inspector,
    context::{
        ContextTr, JournalTr as _, TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    context_interface::ContextError,
    database::CacheDB,
    database_interface::DatabaseRef,
    interpreter::{
        CallInputs, CallOutcome as RevmCallOutcome, Gas, InstructionResult, Interpreter,
        InterpreterResult, interpreter_types::LoopControl as _,
    },
};

use crate::{
    executor::Executor,
    overrides::{
        CallOverrides, OverrideApplyError, OverrideError, PrecompileEdits, apply_block_overrides,
        apply_state_overrides,
    },
    store::{StateReader, Store, StoreError},
};

/// Gas of a plain value transfer.
const TRANSFER_GAS: u64 = 21_000;

/// A message to execute: the fields of a transaction, all optional but the
/// input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// The sender; the zero address if absent.
    pub from: Option<Address>,
    /// The callee; a contract creation if absent.
    pub to: Option<Address>,
    /// Gas limit; see [`Executor::call`] for the default.
    pub gas: Option<u64>,
    /// Legacy gas price, in wei.
    pub gas_price: Option<u128>,
    /// EIP-1559 fee cap, in wei.
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip cap, in wei.
    pub max_priority_fee_per_gas: Option<u128>,
    /// Value sent, in wei.
    pub value: Option<U256>,
    /// Call data or init code.
    pub input: Bytes,
    /// The sender's nonce; only used for the created address.
    pub nonce: Option<u64>,
    /// EIP-2930 access list.
    pub access_list: Option<AccessList>,
    /// EIP-7702 authorizations.
    pub authorization_list: Option<Vec<SignedAuthorization>>,
}

impl CallRequest {
    /// Whether the message names a fee; without one it runs at zero base fee.
    fn has_fee(&self) -> bool {
        self.gas_price.is_some_and(|p| p > 0)
            || self.max_fee_per_gas.is_some_and(|p| p > 0)
            || self.max_priority_fee_per_gas.is_some_and(|p| p > 0)
    }
}

/// How a message ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// It returned `output` (the created code for a creation).
    Success {
        /// Return data.
        output: Bytes,
        /// Gas used, after refunds.
        gas_used: u64,
        /// Logs it emitted.
        logs: Vec<Log>,
    },
    /// It executed `REVERT` with `output` as the revert data.
    Revert {
        /// Revert data: an ABI-encoded `Error(string)`, a `Panic(uint256)`,
        /// a custom error or nothing.
        output: Bytes,
        /// Gas used.
        gas_used: u64,
    },
    /// It stopped exceptionally (out of gas, invalid opcode, …) and used all
    /// its gas.
    Halt {
        /// What stopped it, as geth words it where geth has a word.
        reason: String,
        /// Gas used.
        gas_used: u64,
    },
}

impl CallOutcome {
    /// Whether the message succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success { .. })
    }
}

/// Why a message could not be executed at all.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The message breaks a transaction rule (funds, gas, fees); the text
    /// is geth's where geth has one.
    #[error("{0}")]
    Invalid(String),
    /// `eth_estimateGas`: the message fails even with all the gas allowed.
    #[error("gas required exceeds allowance ({0})")]
    GasExceedsAllowance(u64),
    /// `eth_estimateGas`: the message reverts whatever its gas.
    #[error("execution reverted")]
    Reverted(CallOutcome),
    /// The overrides cannot be applied.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OverrideApplyError<StoreError>> for CallError {
    fn from(error: OverrideApplyError<StoreError>) -> Self {
        match error {
            OverrideApplyError::Override(error) => Self::Override(error),
            OverrideApplyError::Database(error) => Self::Store(error),
        }
    }
}

/// The state and block a call runs on: the state after a block under its
/// overrides, and the block's header under its overrides.
pub(crate) struct CallState<'a> {
    /// The overridden state; nothing in it reaches the store.
    pub db: CacheDB<StateReader<'a>>,
    /// The header of the block the call runs in.
    pub header: Header,
    /// Precompiles the overrides remove or move.
    pub precompiles: PrecompileEdits,
}

/// How much of a call may run where blocking is not allowed (an async
/// worker). Past a bound the call stops and gives no answer, and its caller
/// runs it again unbounded where it may take its time. The bounds cut no
/// call short: an answer within them is the unbounded call's answer.
#[derive(Clone, Copy, Debug)]
pub struct CallBudget {
    /// Interpreter steps, over every frame.
    pub steps: u64,
    /// Wall time from the start, checked every [`CallBudget::CLOCK_STEPS`]
    /// steps and at each call.
    pub time: Duration,
    /// Gas a precompile may be given: a precompile's work is not in the
    /// steps, and its worst case grows with its gas.
    pub precompile_gas: u64,
}

impl CallBudget {
    /// Steps between two reads of the clock.
    pub const CLOCK_STEPS: u64 = 64;
}

/// Stops execution once its [`CallBudget`] is spent; with none it never does.
struct Budgeted {
    budget: Option<CallBudget>,
    started: Instant,
    steps: u64,
    spent: bool,
}

impl Budgeted {
    fn new(budget: Option<CallBudget>, started: Instant) -> Self {
        Self {
            budget,
            started,
            steps: 0,
            spent: false,
        }
    }

    /// Marks the budget spent and makes the execution end with an error.
    fn spend<CTX: ContextTr>(&mut self, context: &mut CTX) {
        self.spent = true;
        if context.error().is_ok() {
            *context.error() = Err(ContextError::Custom("call budget spent".into()));
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX> for Budgeted {
    fn step(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        let Some(budget) = self.budget else { return };
        self.steps += 1;
        let over = self.spent
            || self.steps > budget.steps
            || (self.steps.is_multiple_of(CallBudget::CLOCK_STEPS)
                && self.started.elapsed() > budget.time);
        if over {
            self.spend(context);
            interp.bytecode.reset_action();
            interp.halt_fatal();
        }
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<RevmCallOutcome> {
        let budget = self.budget?;
        let heavy_precompile = inputs.gas_limit > budget.precompile_gas
            && context
                .journal_ref()
                .precompile_addresses()
                .contains(&inputs.bytecode_address);
        if !(heavy_precompile || self.started.elapsed() > budget.time) {
            return None;
        }
        self.spend(context);
        Some(RevmCallOutcome::new(
            InterpreterResult::new(
                InstructionResult::FatalExternalError,
                Bytes::new(),
                Gas::new(0),
            ),
            inputs.return_memory_offset.clone(),
        ))
    }
}

impl Executor {
    /// [`Executor::call`] under `budget`, if there is one: `None` if the
    /// call needs more than it allows (then nothing of it is known).
    pub fn call_within(
        &self,
        store: &Store,
        header: &Header,
        request: &CallRequest,
        gas_cap: u64,
        overrides: &CallOverrides,
        budget: Option<CallBudget>,
    ) -> Result<Option<CallOutcome>, CallError> {
        let started = Instant::now();
        let mut state = self.call_state(store, header, overrides)?;
        let gas = self.call_gas(&state.header, request, gas_cap);
        let header = state.header.clone();
        self.run_call(&mut state, &header, request, gas, budget, started)
    }

    /// Executes `request` on the state after block `header` (the head or a
    /// block whose state is kept), in that block's environment, without
    /// writing anything.
    ///
    /// The gas defaults to the smallest of the block gas limit, `gas_cap`
    /// and the fork's transaction gas cap; a given gas above `gas_cap` or the
    /// transaction cap is lowered to it. `overrides` change the state and
    /// the block for this call only (see [`crate::overrides`]).
    pub fn call(
        &self,
        store: &Store,
        header: &Header,
        request: &CallRequest,
        gas_cap: u64,
        overrides: &CallOverrides,
    ) -> Result<CallOutcome, CallError> {
        let outcome = self.call_within(store, header, request, gas_cap, overrides, None)?;
        Ok(ran_to_the_end(outcome))
    }

    /// The state after block `header` with `overrides` applied on a layer
    /// over it, and the header of the block a call runs in.
    pub(crate) fn call_state<'a>(
        &self,
        store: &'a Store,
        header: &Header,
        overrides: &CallOverrides,
    ) -> Result<CallState<'a>, CallError> {
        let mut db = CacheDB::new(store.state_at(header.number)?);
        let header = match &overrides.block {
            Some(block) => apply_block_overrides(header, block, &mut db)?,
            None => header.clone(),
        };
        let precompiles = match &overrides.state {
            Some(state) => {
                apply_state_overrides(&mut db, state, self.evm_env(&header).cfg_env.spec)?
            }
            None => PrecompileEdits::default(),
        };
        Ok(CallState {
            db,
            header,
            precompiles,
        })
    }

    /// The gas a call runs with: the request's, or by default the block gas
    /// limit, lowered to `gas_cap` and the fork's transaction cap.
    pub(crate) fn call_gas(&self, header: &Header, request: &CallRequest, gas_cap: u64) -> u64 {
        request
            .gas
            .unwrap_or_else(|| self.default_call_gas(header, gas_cap))
            .min(gas_cap)
            .min(self.tx_gas_cap(header))
    }

    /// Estimates the gas `request` needs on the state after `header` under
    /// `overrides`, as geth does:
    /// a binary search between what it used and the most it may have, to
    /// within 1.5%.
    pub fn estimate_gas(
        &self,
        store: &Store,
        header: &Header,
        request: &CallRequest,
        gas_cap: u64,
        overrides: &CallOverrides,
    ) -> Result<u64, CallError> {
        let mut db = self.call_state(store, header, overrides)?;
        let header = &db.header.clone();
        let mut hi = match request.gas {
            Some(gas) if gas >= TRANSFER_GAS => gas.min(gas_cap).min(self.tx_gas_cap(header)),
            _ => self.default_call_gas(header, gas_cap),
        };
        // The sender cannot pay for more gas than its balance covers.
        let fee_cap = request
            .max_fee_per_gas
            .or(request.gas_price)
            .unwrap_or_default();
        if fee_cap > 0 {
            let from = request.from.unwrap_or_default();
            let balance = db
                .db
                .basic_ref(from)?
                .map(|a| a.balance)
                .unwrap_or_default();
            let value = request.value.unwrap_or_default();
            if value >= balance && !value.is_zero() {
                return Err(CallError::Invalid("insufficient funds for transfer".into()));
            }
            let allowance = (balance - value) / U256::from(fee_cap);
            if allowance < U256::from(hi) {
                hi = allowance.to::<u64>();
            }
        }
        // A plain transfer to an account without code costs exactly 21000.
        if request.input.is_empty()
            && let Some(to) = request.to
        {
            let has_code = db
                .db
                .basic_ref(to)?
                .is_some_and(|a| a.code_hash != revm::primitives::KECCAK_EMPTY)
                || db.precompiles.is_destination(to);
            if !has_code
                && self
                    .call_with_gas(&mut db, header, request, TRANSFER_GAS)
                    .is_ok_and(|o| o.is_success())
            {
                return Ok(TRANSFER_GAS);
            }
        }
        let used = match self.call_with_gas(&mut db, header, request, hi)? {
            CallOutcome::Success { gas_used, .. } => gas_used,
            revert @ CallOutcome::Revert { .. } => return Err(CallError::Reverted(revert)),
            // Out of gas with all the gas allowed; any other halt is the
            // message's own failure, reported as such (as geth does).
            CallOutcome::Halt { reason, .. } if reason == "out of gas" => {
                return Err(CallError::GasExceedsAllowance(hi));
            }
            CallOutcome::Halt { reason, .. } => return Err(CallError::Invalid(reason)),
        };
        let succeeds = |db: &mut CallState<'_>, gas: u64| {
            match self.call_with_gas(db, header, request, gas) {
                Ok(outcome) => Ok(outcome.is_success()),
                // Too little gas for the intrinsic cost or the calldata floor.
                Err(CallError::Invalid(_)) => Ok(false),
                Err(other) => Err(other),
            }
        };
        let mut lo = used.saturating_sub(1);
        // Most messages need little more than they used (the 63/64 rule
        // withholds some gas from calls): try that first.
        let optimistic = (used + 2_300) * 64 / 63;
        if optimistic < hi {
            if succeeds(&mut db, optimistic)? {
                hi = optimistic;
            } else {
                lo = optimistic;
            }
        }
        while lo + 1 < hi {
            // Close enough: within 1.5% of the answer (geth's error ratio).
            if u128::from(hi - lo) * 1000 / u128::from(hi) < 15 {
                break;
            }
            let mid = (hi / 2 + lo / 2)
                .max(lo + 1)
                .min(lo.saturating_mul(2).max(lo + 1));
            if succeeds(&mut db, mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    fn default_call_gas(&self, header: &Header, gas_cap: u64) -> u64 {
        header.gas_limit.min(gas_cap).min(self.tx_gas_cap(header))
    }

    /// The fork's per-transaction gas cap (EIP-7825 from Osaka).
    pub(crate) fn tx_gas_cap(&self, header: &Header) -> u64 {
        let env = self.evm_env(header);
        if env
            .cfg_env
            .spec
            .is_enabled_in(revm::primitives::hardfork::SpecId::OSAKA)
        {
            revm::primitives::eip7825::TX_GAS_LIMIT_CAP
        } else {
            u64::MAX
        }
    }

    fn call_with_gas(
        &self,
        state: &mut CallState<'_>,
        header: &Header,
        request: &CallRequest,
        gas: u64,
    ) -> Result<CallOutcome, CallError> {
        let outcome = self.run_call(state, header, request, gas, None, Instant::now())?;
        Ok(ran_to_the_end(outcome))
    }

    /// Runs a call message with `gas`; under `budget` (counted from
    /// `started`) it may stop early, giving `None`.
    fn run_call(
        &self,
        state: &mut CallState<'_>,
        header: &Header,
        request: &CallRequest,
        gas: u64,
        budget: Option<CallBudget>,
        started: Instant,
    ) -> Result<Option<CallOutcome>, CallError> {
        let (env, tx) = self.call_env(&state.db, header, request, gas)?;
        let caller = tx.caller;
        let mut budgeted = Budgeted::new(budget, started);
        let mut evm = self.factory().evm_factory().create_evm_with_inspector(
            &mut state.db,
            env,
            &mut budgeted,
        );
        // Unbounded, the interpreter runs without the inspector's hooks.
        evm.set_inspector_enabled(budget.is_some());
        edit_precompiles(evm.precompiles_mut(), &state.precompiles);
        let result = evm.transact_raw(tx);
        drop(evm);
        if budgeted.spent {
            return Ok(None);
        }
        match result {
            Ok(result) => Ok(Some(CallOutcome::from_result(result.result))),
            Err(error) => Err(call_error(error, caller)),
        }
    }

    /// The environment and transaction of a call message in block
    /// `header`'s environment, with geth's rules for calls; `db` gives the
    /// sender's nonce when the request names none.
    pub(crate) fn call_env(
        &self,
        db: &impl revm::database_interface::DatabaseRef<Error = StoreError>,
        header: &Header,
        request: &CallRequest,
        gas: u64,
    ) -> Result<(alloy_evm::EvmEnv, TxEnv), CallError> {
        let mut env = self.evm_env(header);
        // geth's rules for calls: no nonce check, a contract may be the
        // sender, and the gas may exceed the block's (up to the RPC cap).
        env.cfg_env.disable_nonce_check = true;
        env.cfg_env.disable_eip3607 = true;
        env.cfg_env.disable_block_gas_limit = true;
        if !request.has_fee() {
            env.block_env.basefee = 0;
        }
        let caller = request.from.unwrap_or_default();
        let nonce = match request.nonce {
            Some(nonce) => nonce,
            None => db.basic_ref(caller)?.map_or(0, |a| a.nonce),
        };
        let mut builder = TxEnv::builder()
            .caller(caller)
            .gas_limit(gas)
            .kind(request.to.map_or(TxKind::Create, TxKind::Call))
            .value(request.value.unwrap_or_default())
            .data(request.input.clone())
            .nonce(nonce)
            .chain_id(Some(self.spec().chain_id))
            .access_list(request.access_list.clone().unwrap_or_default());
        builder = match (request.max_fee_per_gas, request.max_priority_fee_per_gas) {
            (None, None) => builder.gas_price(request.gas_price.unwrap_or_default()),
            (max_fee, tip) => builder
                .gas_price(
                    max_fee.unwrap_or(u128::from(env.block_env.basefee) + tip.unwrap_or_default()),
                )
                .gas_priority_fee(Some(tip.unwrap_or_default())),
        };
        if let Some(authorizations) = &request.authorization_list {
            builder = builder.authorization_list_signed(authorizations.clone());
        }
        Ok((env, builder.build_fill()))
    }
}

/// The outcome of a call run without a budget, which always has one.
fn ran_to_the_end(outcome: Option<CallOutcome>) -> CallOutcome {
    outcome.expect("a call without a budget runs to its end")
}

/// Removes and moves the precompiles the state overrides name.
pub(crate) fn edit_precompiles(
    precompiles: &mut alloy_evm::precompiles::PrecompilesMap,
    edits: &PrecompileEdits,
) {
    for &(address, to) in &edits.edits {
        let mut taken = None;
        precompiles.apply_precompile(&address, |existing| {
            taken = existing;
            None
        });
        if let (Some(to), Some(precompile)) = (to, taken) {
            precompiles.apply_precompile(&to, |_| Some(precompile));
        }
    }
}

/// A call's failure to execute at all, in geth's words.
pub(crate) fn call_error(error: EVMError<StoreError>, caller: Address) -> CallError {
    match error {
        EVMError::Transaction(invalid) => CallError::Invalid(invalid_message(&invalid, caller)),
        EVMError::Database(error) => CallError::Store(error),
        other => CallError::Invalid(other.to_string()),
    }
}

impl CallOutcome {
    /// How revm's result ended, with geth's words for a halt.
    pub(crate) fn from_result(result: ExecutionResult) -> Self {
        match result {
            ExecutionResult::Success {
                gas, logs, output, ..
            } => CallOutcome::Success {
                output: output.into_data(),
                gas_used: gas.tx_gas_used(),
                logs,
            },
            ExecutionResult::Revert { gas, output, .. } => CallOutcome::Revert {
                output,
                gas_used: gas.tx_gas_used(),
            },
            ExecutionResult::Halt { reason, gas, .. } => CallOutcome::Halt {
                reason: halt_message(&reason),
                gas_used: gas.tx_gas_used(),
            },
        }
    }
}

/// geth's words for a message that breaks a transaction rule.
pub(crate) fn invalid_message(invalid: &InvalidTransaction, from: Address) -> String {
    match invalid {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => format!(
            "insufficient funds for gas * price + value: address {from} have {balance} want {fee}"
        ),
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => {
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}")
        }
        InvalidTransaction::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => {
            format!("insufficient gas for floor data gas cost: have {gas_limit}, want {gas_floor}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".into()
        }
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".into()
        }
        InvalidTransaction::CallerGasLimitMoreThanBlock => "exceeds block gas limit".into(),
        InvalidTransaction::TxGasLimitGreaterThanCap { gas_limit, cap } => {
            format!("transaction gas limit too high (cap: {cap}, tx: {gas_limit})")
        }
        InvalidTransaction::RejectCallerWithCode => {
            format!("sender not an eoa: address {from}")
        }
        other => other.to_string(),
    }
}

/// geth's words for an exceptional halt (`vm/errors.go`).
fn halt_message(reason: &revm::context::result::HaltReason) -> String {
    use revm::context::result::{HaltReason, OutOfGasError};
    match reason {
        HaltReason::OutOfGas(OutOfGasError::InvalidOperand) => "invalid operand".into(),
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack limit reached 1024 (1023)".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StateChangeDuringStaticCall => "write protection".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        HaltReason::OutOfOffset => "return data out of bounds".into(),
        other => format!("{other:?}"),
    }
}
