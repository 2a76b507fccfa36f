//! Block execution with revm, through alloy-evm's Ethereum block executor:
//! system calls (EIP-4788 beacon root, EIP-2935 block hashes), transactions,
//! receipts, withdrawals and rewards, at the fork the chain spec gives for
//! the block. The result is the receipts and the state changes, not yet
//! written anywhere.

use std::{borrow::Cow, sync::Arc};

use alloy_consensus::{Eip658Value, ReceiptEnvelope, TxEnvelope, transaction::Recovered};
use alloy_eips::eip7685::Requests;
use alloy_evm::{
    Evm as _, EvmEnv, EvmFactory,
    block::{BlockExecutionError, BlockExecutionResult, BlockExecutor as _, BlockExecutorFactory},
    eth::{EthBlockExecutionCtx, EthBlockExecutorFactory, receipt_builder::AlloyReceiptBuilder},
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::Address;
use revm::database::{State, WrapDatabaseRef, states::bundle_state::BundleRetention};

use crate::{
    block::Block,
    chain_spec::ChainSpec,
    state::{StateChanges, compute_state_update},
    store::{StateReader, Store},
    system::{self, EpochSet, OutriggerEvmFactory},
};

/// What executing a block produced.
#[derive(Debug)]
pub struct ExecutionOutput {
    /// One receipt per transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// Blob gas used (Cancun and later).
    pub blob_gas_used: u64,
    /// EIP-7685 requests (Prague and later).
    pub requests: Requests,
    /// The state changes.
    pub changes: StateChanges,
    /// The next epoch's validator set, when the block closed an epoch and
    /// the system contract named a usable one.
    pub epoch_set: Option<EpochSet>,
}

/// The block executor factory of Outrigger chains.
pub type Factory =
    EthBlockExecutorFactory<AlloyReceiptBuilder, Arc<ChainSpec>, OutriggerEvmFactory>;

/// Executes blocks against the head state of a store.
#[derive(Clone, Debug)]
pub struct Executor {
    spec: Arc<ChainSpec>,
    factory: Factory,
}

impl Executor {
    /// An executor for the chain `spec`.
    pub fn new(spec: Arc<ChainSpec>) -> Self {
        let factory = EthBlockExecutorFactory::new(
            AlloyReceiptBuilder::default(),
            spec.clone(),
            OutriggerEvmFactory::new(spec.chain_id),
        );
        Self { spec, factory }
    }

    /// The chain spec.
    pub fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// The EVM environment of a block (its fork, chain id, fees).
    pub fn evm_env(&self, header: &alloy_consensus::Header) -> EvmEnv {
        let mut env = EvmEnv::for_eth_block(
            header,
            &*self.spec,
            self.spec.chain_id,
            self.spec.blob_params_at(header.timestamp),
        );
        env.cfg_env.spec = self.spec.spec_at(header.number, header.timestamp);
        env
    }

    /// Executes `block`, whose transactions were sent by `senders`, on top
    /// of the store's head state (which must be the block's parent).
    pub fn execute(
        &self,
        store: &Store,
        block: &Block,
        senders: &[Address],
    ) -> Result<ExecutionOutput, BlockExecutionError> {
        assert_eq!(
            block.body.transactions.len(),
            senders.len(),
            "one sender per transaction"
        );
        let mut state = new_state(store);
        let evm = self
            .factory
            .evm_factory()
            .create_evm(&mut state, self.evm_env(&block.header));
        let ctx = self.context(block);
        let mut executor = self.factory.create_executor(evm, ctx);
        let transactions = block
            .body
            .transactions
            .iter()
            .zip(senders)
            .map(|(tx, sender)| Recovered::new_unchecked(tx, *sender));
        // Before Byzantium (EIP-658) a receipt holds the state root after its
        // transaction instead of a status: compute one after each.
        let post_state_roots = !self.spec.is_byzantium_active_at_block(block.header.number);
        executor.apply_pre_execution_changes()?;
        let mut roots = Vec::new();
        let parent_root = if post_state_roots {
            store
                .head_state_root()
                .map_err(BlockExecutionError::other)?
        } else {
            Default::default()
        };
        for tx in transactions {
            executor.execute_transaction(tx)?;
            if post_state_roots {
                let db = executor.evm_mut().db_mut();
                db.merge_transitions(BundleRetention::PlainState);
                let changes = StateChanges::from(&db.bundle_state);
                let root = compute_state_update(store, parent_root, changes)
                    .map_err(BlockExecutionError::other)?
                    .state_root;
                roots.push(root);
            }
        }
        let epoch_set = self.end_of_block(executor.evm_mut(), &block.header)?;
        let mut result = executor.apply_post_execution_changes()?;
        for (receipt, root) in result.receipts.iter_mut().zip(roots) {
            if let Some(receipt) = receipt.as_receipt_with_bloom_mut() {
                receipt.receipt.status = Eip658Value::PostState(root);
            }
        }
        Ok(output(&mut state, result, epoch_set))
    }

    /// Outrigger's end-of-block work, after the transactions and before
    /// Ethereum's post-execution system calls: the block reward, and at an
    /// epoch's last block the system contract's `epochEnd`.
    fn end_of_block<E>(
        &self,
        evm: &mut E,
        header: &alloy_consensus::Header,
    ) -> Result<Option<EpochSet>, BlockExecutionError>
    where
        E: alloy_evm::Evm<HaltReason = revm::context_interface::result::HaltReason>,
        E::DB: revm::DatabaseCommit + revm::Database,
        <E::DB as revm::Database>::Error: Send + Sync + 'static,
        E::Error: std::fmt::Display,
    {
        let Some(epochs) = self.spec.epochs else {
            return Ok(None);
        };
        if !epochs.block_reward.is_zero() && header.number > 0 {
            credit(evm.db_mut(), header.beneficiary, epochs.block_reward)?;
        }
        let Some(epoch) = epochs.closes(header.number) else {
            return Ok(None);
        };
        system::epoch_end(evm, epoch).map_err(|e| {
            BlockExecutionError::other(std::io::Error::other(format!("epochEnd: {e}")))
        })
    }

    /// Builds a block body on top of the store's head: pre-execution system
    /// calls, then candidates in order while they fit under the gas limit,
    /// skipping those that fail validation (and every later transaction of
    /// their sender), then withdrawals and rewards.
    pub fn build(
        &self,
        store: &Store,
        header: &alloy_consensus::Header,
        candidates: &mut dyn TransactionSource,
    ) -> Result<BuiltBlock, BlockExecutionError> {
        let mut state = new_state(store);
        let evm = self
            .factory
            .evm_factory()
            .create_evm(&mut state, self.evm_env(header));
        let block = Block {
            header: header.clone(),
            body: Default::default(),
        };
        let ctx = self.context(&block);
        let mut executor = self.factory.create_executor(evm, ctx);
        executor.apply_pre_execution_changes()?;
        let mut transactions = Vec::new();
        let mut gas_used = 0u64;
        while let Some(tx) = candidates.next_transaction() {
            use alloy_consensus::Transaction as _;
            if gas_used + tx.gas_limit() > header.gas_limit {
                candidates.skip_sender(tx.signer());
                continue;
            }
            match executor.execute_transaction(&tx) {
                Ok(output) => {
                    gas_used += output.tx_gas_used();
                    transactions.push(tx);
                }
                Err(BlockExecutionError::Validation(error)) => {
                    tracing::debug!(target: "executor", hash = %alloy_eips::Encodable2718::trie_hash(tx.inner()), %error, "skipped transaction");
                    candidates.skip_sender(tx.signer());
                }
                Err(error) => return Err(error),
            }
        }
        let epoch_set = self.end_of_block(executor.evm_mut(), header)?;
        let result = executor.apply_post_execution_changes()?;
        Ok(BuiltBlock {
            transactions,
            output: output(&mut state, result, epoch_set),
        })
    }

    /// The block executor factory (for tracing, which re-executes blocks).
    pub(crate) fn factory(&self) -> &Factory {
        &self.factory
    }

    pub(crate) fn context<'a>(&self, block: &'a Block) -> EthBlockExecutionCtx<'a> {
        EthBlockExecutionCtx {
            parent_hash: block.header.parent_hash,
            parent_beacon_block_root: block.header.parent_beacon_block_root,
            ommers: &block.body.ommers,
            withdrawals: block
                .body
                .withdrawals
                .as_ref()
                .map(|w| Cow::Borrowed(w.as_slice())),
            extra_data: block.header.extra_data.clone(),
            tx_count_hint: Some(block.body.transactions.len()),
            slot_number: None,
        }
    }
}

/// Transactions offered to the block builder, best first.
pub trait TransactionSource {
    /// The next candidate.
    fn next_transaction(&mut self) -> Option<Recovered<TxEnvelope>>;
    /// Do not offer more transactions from `sender` (one of its
    /// transactions could not be included, so later nonces cannot be).
    fn skip_sender(&mut self, sender: Address);
}

/// A block body the builder assembled, with its execution output.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The included transactions with their senders.
    pub transactions: Vec<Recovered<TxEnvelope>>,
    /// What executing them produced.
    pub output: ExecutionOutput,
}

/// revm's state over the store's head, collecting changes for the block.
fn new_state(store: &Store) -> State<WrapDatabaseRef<StateReader<'_>>> {
    State::builder()
        .with_database_ref(store.state())
        .with_bundle_update()
        .build()
}

/// The block's output from the executor's result and the state it changed.
fn output(
    state: &mut State<WrapDatabaseRef<StateReader<'_>>>,
    result: BlockExecutionResult<ReceiptEnvelope>,
    epoch_set: Option<EpochSet>,
) -> ExecutionOutput {
    state.merge_transitions(BundleRetention::PlainState);
    let changes = StateChanges::from(&state.take_bundle());
    ExecutionOutput {
        receipts: result.receipts,
        gas_used: result.gas_used,
        blob_gas_used: result.blob_gas_used,
        requests: result.requests,
        changes,
        epoch_set,
    }
}

/// Adds `amount` wei to `address`'s balance, as a committed state change.
fn credit<DB>(
    db: &mut DB,
    address: Address,
    amount: alloy_primitives::U256,
) -> Result<(), BlockExecutionError>
where
    DB: revm::DatabaseCommit + revm::Database,
    DB::Error: Send + Sync + 'static,
{
    let info = db
        .basic(address)
        .map_err(BlockExecutionError::other)?
        .unwrap_or_default();
    let mut account = revm::state::Account::from(info);
    account.info.balance = account.info.balance.saturating_add(amount);
    account.mark_touch();
    db.commit(std::iter::once((address, account)).collect());
    Ok(())
}
