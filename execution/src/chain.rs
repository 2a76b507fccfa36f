//! The import path every block takes, from a peer, the node's own builder
//! or a conformance test: header and body checks against the parent,
//! parallel sender recovery, execution, and the header's commitments
//! (gas, receipts root, logs bloom, state root) checked against the result.
//! Also the block builder that produces blocks the same path accepts.

use std::sync::Arc;

use alloy_consensus::{
    BlockBody, EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, Transaction as _, TxEnvelope,
    TxReceipt, proofs, transaction::SignerRecoverable,
};
use alloy_eips::{Encodable2718, eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, Bloom, Bytes};
use alloy_trie::EMPTY_ROOT_HASH;
use rayon::prelude::*;

use crate::{
    block::{Block, ExecutedBlock},
    chain_spec::ChainSpec,
    executor::{ExecutionOutput, Executor, TransactionSource},
    state::compute_state_update,
    store::{Store, StoreError},
    validation,
};

/// Why a block was not imported.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The block breaks a consensus rule; it is invalid for good.
    #[error("block #{number} ({hash}) is invalid: {reason}")]
    Invalid {
        /// The block's number.
        number: u64,
        /// The block's hash.
        hash: B256,
        /// Which rule it breaks, with the values.
        reason: String,
    },
    /// The block does not extend the head.
    #[error("block #{number} ({hash}): parent {parent} is not the head block")]
    NotOnHead {
        /// The block's number.
        number: u64,
        /// The block's hash.
        hash: B256,
        /// Its parent hash.
        parent: B256,
    },
    /// The store failed (not the block's fault).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Building failed inside the node (a state read or the EVM), not
    /// because of any transaction.
    #[error("{0}")]
    Internal(String),
}

/// What the builder needs beyond the parent to make a block.
#[derive(Clone, Debug, Default)]
pub struct BlockAttributes {
    /// Block timestamp, seconds; must be above the parent's.
    pub timestamp: u64,
    /// Who gets the priority fees.
    pub beneficiary: Address,
    /// The gas limit.
    pub gas_limit: u64,
    /// Up to 32 bytes of extra data.
    pub extra_data: Bytes,
    /// The PREVRANDAO value.
    pub prev_randao: B256,
}

/// A chain: its spec, its store and the executor.
#[derive(Debug, Clone)]
pub struct Chain {
    store: Arc<Store>,
    executor: Executor,
}

impl Chain {
    /// A chain over `store` following `spec`.
    pub fn new(store: Arc<Store>, spec: Arc<ChainSpec>) -> Self {
        Self {
            store,
            executor: Executor::new(spec),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The chain spec.
    pub fn spec(&self) -> &Arc<ChainSpec> {
        self.executor.spec()
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Checks and executes `block` on top of the head without writing
    /// anything: the result commits with [`Chain::commit`].
    pub fn execute(&self, block: Block) -> Result<ExecutedBlock, BlockError> {
        self.execute_with_senders(block, &[])
    }

    /// [`Chain::execute`], taking the senders already known: `known[i]`,
    /// when given, is the sender of transaction `i`, recovered earlier from
    /// the same signed bytes (the txpool, which holds transactions by their
    /// hash, knows most of a proposal's). Only the others are recovered.
    /// A shorter `known` leaves the rest to recover.
    pub fn execute_with_senders(
        &self,
        block: Block,
        known: &[Option<Address>],
    ) -> Result<ExecutedBlock, BlockError> {
        let _head = self.store.head_guard();
        let header = &block.header;
        let hash = header.hash_slow();
        let invalid = |reason: String| BlockError::Invalid {
            number: header.number,
            hash,
            reason,
        };
        let parent = match self.store.head()? {
            Some(parent) if self.store.block_hash(parent.number)? == Some(header.parent_hash) => {
                parent
            }
            _ => {
                return Err(BlockError::NotOnHead {
                    number: header.number,
                    hash,
                    parent: header.parent_hash,
                });
            }
        };
        let spec = self.spec();
        validation::validate_header(spec, &parent, header).map_err(invalid)?;
        validation::validate_body(spec, header, &block.body).map_err(invalid)?;
        let senders =
            recover_senders_with(spec, header, &block.body.transactions, known).map_err(invalid)?;
        let output = self
            .executor
            .execute(&self.store, &block, &senders)
            .map_err(|e| invalid(format!("execution failed: {e}")))?;
        validation::validate_output(spec, header, &output).map_err(invalid)?;
        let state = compute_state_update(&self.store, parent.state_root, output.changes)?;
        if state.state_root != header.state_root {
            return Err(invalid(format!(
                "state root mismatch: header {}, computed {}",
                header.state_root, state.state_root
            )));
        }
        Ok(ExecutedBlock {
            block,
            hash,
            senders,
            receipts: output.receipts,
            state,
            epoch_set: output.epoch_set,
        })
    }

    /// Writes an executed block as the new head.
    pub fn commit(&self, executed: &ExecutedBlock) -> Result<(), BlockError> {
        self.commit_sealed(executed, None)
    }

    /// Writes an executed block as the new head together with the consensus
    /// `seal` (commit certificate) that finalized it.
    pub fn commit_sealed(
        &self,
        executed: &ExecutedBlock,
        seal: Option<&[u8]>,
    ) -> Result<(), BlockError> {
        self.store
            .commit_sealed_block(executed, seal)
            .map_err(|e| match e {
                StoreError::NotOnHead { number, hash, .. } => BlockError::NotOnHead {
                    number,
                    hash,
                    parent: executed.block.header.parent_hash,
                },
                other => BlockError::Store(other),
            })
    }

    /// Checks, executes and commits `block`; returns its hash.
    pub fn import(&self, block: Block) -> Result<B256, BlockError> {
        let executed = self.execute(block)?;
        self.commit(&executed)?;
        Ok(executed.hash)
    }

    /// Builds the next block on the head from `candidates`, executed and
    /// ready to commit (and valid for [`Chain::execute`] on any node).
    pub fn build(
        &self,
        attributes: &BlockAttributes,
        candidates: &mut dyn TransactionSource,
    ) -> Result<ExecutedBlock, BlockError> {
        let _head = self.store.head_guard();
        let parent = self.store.head()?.ok_or_else(|| StoreError::Corrupt {
            what: "head",
            detail: "no genesis block".into(),
        })?;
        let mut header = self.next_header(&parent, attributes);
        let built = self
            .executor
            .build(&self.store, &header, candidates)
            .map_err(|e| match e {
                // A failing read or an EVM fault is the node's, not the block's.
                alloy_evm::block::BlockExecutionError::Internal(internal) => {
                    BlockError::Internal(format!("building block #{}: {internal}", header.number))
                }
                validation => BlockError::Invalid {
                    number: header.number,
                    hash: B256::ZERO,
                    reason: format!("building failed: {validation}"),
                },
            })?;
        let (transactions, senders): (Vec<TxEnvelope>, Vec<Address>) = built
            .transactions
            .into_iter()
            .map(|tx| {
                let (tx, sender) = tx.into_parts();
                (tx, sender)
            })
            .unzip();
        let ExecutionOutput {
            receipts,
            gas_used,
            blob_gas_used,
            requests,
            changes,
            epoch_set,
        } = built.output;
        header.transactions_root = proofs::calculate_transaction_root(&transactions);
        header.receipts_root = proofs::calculate_receipt_root(&receipts);
        header.logs_bloom = logs_bloom(&receipts);
        header.gas_used = gas_used;
        if header.blob_gas_used.is_some() {
            header.blob_gas_used = Some(blob_gas_used);
        }
        if header.requests_hash.is_some() {
            header.requests_hash = Some(requests.requests_hash());
        }
        let state = compute_state_update(&self.store, parent.state_root, changes)?;
        header.state_root = state.state_root;
        let withdrawals = header.withdrawals_root.map(|_| Default::default());
        let block = Block {
            header,
            body: BlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals,
            },
        };
        let hash = block.header.hash_slow();
        Ok(ExecutedBlock {
            block,
            hash,
            senders,
            receipts,
            state,
            epoch_set,
        })
    }

    /// The header template of the block after `parent`: everything but the
    /// execution commitments.
    fn next_header(&self, parent: &Header, attributes: &BlockAttributes) -> Header {
        let spec = self.spec();
        let number = parent.number + 1;
        let ts = attributes.timestamp;
        let base_fee = spec.is_london_active_at_block(number).then(|| {
            parent
                .next_block_base_fee(spec.base_fee_params())
                .unwrap_or(INITIAL_BASE_FEE)
        });
        let cancun = spec.is_cancun_active_at_timestamp(ts);
        let excess_blob_gas = cancun.then(|| {
            spec.blob_params_at(ts)
                .and_then(|params| parent.next_block_excess_blob_gas(params))
                .unwrap_or_default()
        });
        Header {
            parent_hash: parent.hash_slow(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: attributes.beneficiary,
            state_root: EMPTY_ROOT_HASH,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Bloom::ZERO,
            difficulty: Default::default(),
            number,
            gas_limit: attributes.gas_limit,
            gas_used: 0,
            timestamp: ts,
            extra_data: attributes.extra_data.clone(),
            mix_hash: attributes.prev_randao,
            nonce: Default::default(),
            base_fee_per_gas: base_fee,
            withdrawals_root: spec
                .is_shanghai_active_at_timestamp(ts)
                .then_some(EMPTY_ROOT_HASH),
            blob_gas_used: cancun.then_some(0),
            excess_blob_gas,
            parent_beacon_block_root: cancun.then_some(B256::ZERO),
            requests_hash: spec
                .is_prague_active_at_timestamp(ts)
                .then_some(EMPTY_REQUESTS_HASH),
            block_access_list_hash: None,
            slot_number: None,
        }
    }
}

/// The OR of the receipts' blooms.
pub fn logs_bloom(receipts: &[ReceiptEnvelope]) -> Bloom {
    receipts.iter().fold(Bloom::ZERO, |acc, r| acc | r.bloom())
}

/// Recovers every transaction's sender in parallel. Before Homestead
/// (EIP-2) signatures with a high `s` are valid too.
pub fn recover_senders(
    spec: &ChainSpec,
    header: &Header,
    transactions: &[TxEnvelope],
) -> Result<Vec<Address>, String> {
    recover_senders_with(spec, header, transactions, &[])
}

/// [`recover_senders`], except for the transactions whose sender `known`
/// gives (by index).
fn recover_senders_with(
    spec: &ChainSpec,
    header: &Header,
    transactions: &[TxEnvelope],
    known: &[Option<Address>],
) -> Result<Vec<Address>, String> {
    let homestead = spec.is_homestead_active_at_block(header.number);
    transactions
        .par_iter()
        .enumerate()
        .map(|(index, tx)| {
            if let Some(Some(sender)) = known.get(index) {
                return Ok(*sender);
            }
            let sender = if homestead {
                tx.recover_signer()
            } else {
                tx.recover_signer_unchecked()
            };
            sender.map_err(|e| {
                format!(
                    "transaction {index} ({}): invalid signature: {e}",
                    tx.trie_hash()
                )
            })
        })
        .collect()
}

/// Whether any transaction is a blob transaction.
pub(crate) fn has_blob_transactions(transactions: &[TxEnvelope]) -> bool {
    transactions
        .iter()
        .any(|tx| tx.blob_versioned_hashes().is_some())
}
