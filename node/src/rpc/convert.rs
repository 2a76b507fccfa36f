//! From stored blocks, transactions and receipts to the JSON objects of the
//! Ethereum RPC (alloy's RPC types, so the shapes are geth's).

use alloy_consensus::{ReceiptEnvelope, Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_eips::Encodable2718 as _;
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt};
use outrigger_execution::{Block as ChainBlock, Store};

use super::error::RpcResult;

/// A stored block with everything its RPC forms need.
pub(super) struct StoredBlock {
    /// The block.
    pub(super) block: ChainBlock,
    /// Its hash.
    pub(super) hash: B256,
    /// The sender of each transaction.
    pub(super) senders: Vec<Address>,
}

impl StoredBlock {
    /// Reads block `number` from `store`.
    pub(super) fn read(store: &Store, number: u64) -> RpcResult<Option<Self>> {
        let (Some(block), Some(hash), Some(senders)) = (
            store.block(number)?,
            store.block_hash(number)?,
            store.senders(number)?,
        ) else {
            return Ok(None);
        };
        Ok(Some(Self {
            block,
            hash,
            senders,
        }))
    }

    /// The RPC form of transaction `index`.
    pub(super) fn transaction(&self, index: usize) -> Option<Transaction> {
        let tx = self.block.body.transactions.get(index)?;
        let header = &self.block.header;
        Some(Transaction {
            inner: Recovered::new_unchecked(tx.clone(), *self.senders.get(index)?),
            block_hash: Some(self.hash),
            block_number: Some(header.number),
            transaction_index: Some(index as u64),
            effective_gas_price: Some(tx.effective_gas_price(header.base_fee_per_gas)),
            block_timestamp: Some(header.timestamp),
        })
    }

    /// The RPC form of the block, with full transactions or their hashes.
    pub(super) fn rpc_block(&self, full: bool) -> Block {
        let txs = &self.block.body.transactions;
        let transactions = if full {
            BlockTransactions::Full((0..txs.len()).filter_map(|i| self.transaction(i)).collect())
        } else {
            BlockTransactions::Hashes(txs.iter().map(|tx| *tx.tx_hash()).collect())
        };
        Block {
            header: rpc_header(&self.block, self.hash),
            uncles: Vec::new(),
            transactions,
            withdrawals: self.block.body.withdrawals.clone(),
        }
    }

    /// The RPC receipts of the block's transactions, given its stored
    /// receipts.
    pub(super) fn rpc_receipts(&self, receipts: &[ReceiptEnvelope]) -> Vec<TransactionReceipt> {
        (0..receipts.len().min(self.block.body.transactions.len()))
            .scan(0u64, |first_log, index| {
                let receipt = self.rpc_receipt(receipts, index, *first_log);
                *first_log += receipts[index].logs().len() as u64;
                Some(receipt)
            })
            .collect()
    }

    /// The RPC receipt of transaction `index` alone: its logs' block-wide
    /// indices counted from the earlier receipts' log counts.
    pub(super) fn rpc_receipt_at(
        &self,
        receipts: &[ReceiptEnvelope],
        index: usize,
    ) -> Option<TransactionReceipt> {
        if index >= receipts.len().min(self.block.body.transactions.len()) {
            return None;
        }
        let first_log = receipts[..index]
            .iter()
            .map(|r| r.logs().len() as u64)
            .sum();
        Some(self.rpc_receipt(receipts, index, first_log))
    }

    /// Receipt `index` (which must exist), its first log numbered `first_log`.
    fn rpc_receipt(
        &self,
        receipts: &[ReceiptEnvelope],
        index: usize,
        first_log: u64,
    ) -> TransactionReceipt {
        let header = &self.block.header;
        let (receipt, tx) = (&receipts[index], &self.block.body.transactions[index]);
        let from = self.senders.get(index).copied().unwrap_or_default();
        let tx_hash = *tx.tx_hash();
        let previous_cumulative = index
            .checked_sub(1)
            .map_or(0, |i| receipts[i].cumulative_gas_used());
        let mut log_index = first_log;
        let inner = receipt.clone().map_logs(|log| {
            let rpc = Log {
                inner: log,
                block_hash: Some(self.hash),
                block_number: Some(header.number),
                block_timestamp: Some(header.timestamp),
                transaction_hash: Some(tx_hash),
                transaction_index: Some(index as u64),
                log_index: Some(log_index),
                removed: false,
            };
            log_index += 1;
            rpc
        });
        TransactionReceipt {
            inner,
            transaction_hash: tx_hash,
            transaction_index: Some(index as u64),
            block_hash: Some(self.hash),
            block_number: Some(header.number),
            gas_used: receipt.cumulative_gas_used() - previous_cumulative,
            effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
            blob_gas_used: None,
            blob_gas_price: None,
            from,
            to: tx.to(),
            contract_address: tx.kind().is_create().then(|| from.create(tx.nonce())),
        }
    }
}

/// The RPC form of a block's header, as blocks and `newHeads` carry it.
pub(crate) fn rpc_header(block: &ChainBlock, hash: B256) -> Header {
    Header {
        hash,
        inner: block.header.clone(),
        total_difficulty: Some(block.header.difficulty),
        size: Some(U256::from(alloy_rlp::Encodable::length(block))),
    }
}

/// The RPC form of a pooled (pending) transaction.
pub(super) fn pending_transaction(tx: &Recovered<TxEnvelope>) -> Transaction {
    use alloy_consensus::Transaction as _;
    Transaction {
        inner: tx.clone(),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        // Not yet included: the spec (and geth) give `gasPrice` as the max
        // fee per gas.
        effective_gas_price: Some(tx.max_fee_per_gas()),
        block_timestamp: None,
    }
}

/// The EIP-2718 encoding of a transaction, for `eth_getRawTransaction*`.
pub(super) fn raw_transaction(tx: &TxEnvelope) -> alloy_primitives::Bytes {
    tx.encoded_2718().into()
}

/// The number a tag or number names, if that block exists.
pub(super) fn resolve_number(
    store: &Store,
    number: alloy_eips::BlockNumberOrTag,
) -> RpcResult<Option<u64>> {
    use alloy_eips::BlockNumberOrTag as Tag;
    let head = store
        .head_number()?
        .ok_or_else(|| super::error::RpcError::Internal("no head block".into()))?;
    Ok(match number {
        // One block per height, final when sealed: every tag is the head.
        Tag::Latest | Tag::Pending | Tag::Safe | Tag::Finalized => Some(head),
        Tag::Earliest => Some(0),
        Tag::Number(n) => (n <= head).then_some(n),
    })
}

/// The number an EIP-1898 block id names, if that block exists. Every
/// stored block is canonical, so `requireCanonical` always holds.
pub(super) fn resolve_block(store: &Store, block: alloy_eips::BlockId) -> RpcResult<Option<u64>> {
    match block {
        alloy_eips::BlockId::Number(number) => resolve_number(store, number),
        alloy_eips::BlockId::Hash(hash) => Ok(store.block_number(hash.block_hash)?),
    }
}
