//! One sender's transactions, by nonce.
//!
//! The transactions whose nonces run without a gap from the account nonce are
//! *pending*: they can go into the next block in order. The rest are *queued*
//! behind a gap and wait for it to fill. Nothing here is stored about which
//! is which: the split is recomputed from the nonces after every change, so
//! promotion (a gap filled) and demotion (a pending transaction dropped) need
//! no bookkeeping that could go stale. A sender holds at most
//! [`PoolConfig::max_txs_per_sender`](super::PoolConfig) transactions, so the
//! walk is short.

use std::{collections::BTreeMap, sync::Arc};

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::U256;

use super::validate::TxFacts;

/// A transaction in the pool, with what validation learned about it.
#[derive(Debug, Clone)]
pub(crate) struct PooledTx {
    /// The transaction and its sender, shared with iterators and callers.
    pub(crate) tx: Arc<Recovered<TxEnvelope>>,
    /// Facts computed once at admission.
    pub(crate) facts: TxFacts,
    /// Arrival order across the pool: ties in price go to the earlier one.
    pub(crate) seq: u64,
}

impl PooledTx {
    /// What the transaction pays the proposer per gas at `base_fee`, or
    /// `None` if its fee cap is below the base fee.
    pub(crate) fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        let fee = self
            .facts
            .max_fee_per_gas
            .checked_sub(u128::from(base_fee))?;
        Some(fee.min(self.facts.max_priority_fee_per_gas))
    }

    /// Ordering key for eviction, lowest evicted first: transactions that
    /// cannot pay the base fee, then by effective tip, then by fee cap.
    pub(crate) fn price_key(&self, base_fee: u64) -> (bool, u128, u128) {
        let tip = self.effective_tip(base_fee);
        (tip.is_some(), tip.unwrap_or(0), self.facts.max_fee_per_gas)
    }
}

/// One sender's pooled transactions and the account state they were checked
/// against.
#[derive(Debug)]
pub(crate) struct SenderTxs {
    /// Account nonce at the last state read.
    pub(crate) nonce: u64,
    /// Account balance at the last state read.
    pub(crate) balance: U256,
    /// All pooled transactions, pending and queued.
    pub(crate) txs: BTreeMap<u64, PooledTx>,
}

impl SenderTxs {
    /// A sender with no transactions yet.
    pub(crate) fn new(nonce: u64, balance: U256) -> Self {
        Self {
            nonce,
            balance,
            txs: BTreeMap::new(),
        }
    }

    /// How many transactions run without a gap from the account nonce.
    pub(crate) fn pending_len(&self) -> usize {
        self.txs
            .range(self.nonce..)
            .zip(self.nonce..)
            .take_while(|((nonce, _), expected)| **nonce == *expected)
            .count()
    }

    /// The nonce after the pending run: what `eth_getTransactionCount(..,
    /// "pending")` reports.
    pub(crate) fn next_nonce(&self) -> u64 {
        self.nonce.saturating_add(self.pending_len() as u64)
    }

    /// The pending transactions, in nonce order.
    pub(crate) fn pending(&self) -> impl Iterator<Item = &PooledTx> {
        self.txs.values().take(self.pending_len())
    }

    /// The queued transactions, in nonce order.
    pub(crate) fn queued(&self) -> impl Iterator<Item = &PooledTx> {
        self.txs.values().skip(self.pending_len())
    }

    /// Sum of the costs of all pooled transactions.
    pub(crate) fn spent(&self) -> U256 {
        self.txs
            .values()
            .fold(U256::ZERO, |sum, tx| sum.saturating_add(tx.facts.cost))
    }

    /// How many queued transactions a new transaction at `nonce` would
    /// promote, if it lands in the pending run; `None` if it would be queued.
    pub(crate) fn promotes(&self, nonce: u64) -> Option<usize> {
        if nonce != self.next_nonce() {
            return None;
        }
        let after = nonce.checked_add(1)?;
        Some(
            self.txs
                .range(after..)
                .zip(after..)
                .take_while(|((n, _), expected)| **n == *expected)
                .count(),
        )
    }

    /// Removes and returns the transactions with nonces below the account
    /// nonce: included in a block, or replaced by one that was.
    pub(crate) fn drop_stale(&mut self) -> Vec<PooledTx> {
        let keep = self.txs.split_off(&self.nonce);
        std::mem::replace(&mut self.txs, keep)
            .into_values()
            .collect()
    }

    /// Removes and returns the transactions that can no longer be included
    /// on their own: cost above the balance, or gas above the block gas limit.
    pub(crate) fn drop_unexecutable(&mut self, block_gas_limit: u64) -> Vec<PooledTx> {
        let balance = self.balance;
        let bad: Vec<u64> = self
            .txs
            .iter()
            .filter(|(_, tx)| tx.facts.cost > balance || tx.facts.gas_limit > block_gas_limit)
            .map(|(nonce, _)| *nonce)
            .collect();
        bad.into_iter()
            .filter_map(|nonce| self.txs.remove(&nonce))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sender_has_no_pending_and_reports_account_nonce() {
        let sender = SenderTxs::new(7, U256::ZERO);
        assert_eq!(sender.pending_len(), 0);
        assert_eq!(sender.next_nonce(), 7);
        assert_eq!(sender.promotes(7), Some(0));
        assert_eq!(sender.promotes(8), None);
    }
}
