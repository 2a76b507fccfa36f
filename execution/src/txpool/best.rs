//! The iterator a block builder draws transactions from.
//!
//! Each sender contributes its pending transactions in nonce order; among
//! the senders' next transactions the one paying the highest effective tip
//! at the block's base fee goes first, ties to the earlier arrival. A sender
//! whose next transaction cannot pay the base fee contributes nothing more:
//! its later nonces cannot run before it.
//!
//! The iterator works on a snapshot taken when it is created, so the pool
//! can keep accepting transactions while a block is built.

use std::{
    cmp::{Ordering, Reverse},
    collections::{BinaryHeap, HashSet, VecDeque},
    sync::Arc,
};

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::Address;

use super::sender::PooledTx;

/// One sender's pending transactions not yet yielded.
#[derive(Debug)]
struct SenderQueue {
    sender: Address,
    txs: VecDeque<PooledTx>,
}

/// A sender's next transaction, ranked.
#[derive(Debug, PartialEq, Eq)]
struct Candidate {
    tip: u128,
    seq: Reverse<u64>,
    queue: usize,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.tip, self.seq).cmp(&(other.tip, other.seq))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Pending transactions, best first, for building a block at one base fee.
///
/// Made by [`Pool::best_transactions`](super::Pool::best_transactions).
#[derive(Debug)]
pub struct BestTransactions {
    base_fee: u64,
    queues: Vec<SenderQueue>,
    heap: BinaryHeap<Candidate>,
    invalid: HashSet<Address>,
}

impl BestTransactions {
    /// Builds the iterator from each sender's pending transactions in nonce
    /// order.
    pub(crate) fn new(
        base_fee: u64,
        pending: impl IntoIterator<Item = (Address, Vec<PooledTx>)>,
    ) -> Self {
        let mut best = Self {
            base_fee,
            queues: Vec::new(),
            heap: BinaryHeap::new(),
            invalid: HashSet::new(),
        };
        for (sender, txs) in pending {
            best.queues.push(SenderQueue {
                sender,
                txs: txs.into(),
            });
            best.push_next(best.queues.len() - 1);
        }
        best
    }

    /// Ranks the sender's next transaction, unless it cannot pay the base fee.
    fn push_next(&mut self, queue: usize) {
        let Some(tx) = self.queues.get(queue).and_then(|q| q.txs.front()) else {
            return;
        };
        if let Some(tip) = tx.effective_tip(self.base_fee) {
            self.heap.push(Candidate {
                tip,
                seq: Reverse(tx.seq),
                queue,
            });
        }
    }

    /// Yields nothing more from `sender`: call it when one of the sender's
    /// transactions failed, since its later nonces cannot run without it.
    pub fn mark_invalid(&mut self, sender: Address) {
        self.invalid.insert(sender);
    }

    /// The base fee the transactions are ranked at.
    pub fn base_fee(&self) -> u64 {
        self.base_fee
    }
}

impl Iterator for BestTransactions {
    type Item = Arc<Recovered<TxEnvelope>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let candidate = self.heap.pop()?;
            let Some(queue) = self.queues.get_mut(candidate.queue) else {
                continue;
            };
            if self.invalid.contains(&queue.sender) {
                queue.txs.clear();
                continue;
            }
            let Some(tx) = queue.txs.pop_front() else {
                continue;
            };
            self.push_next(candidate.queue);
            return Some(tx.tx);
        }
    }
}

impl crate::executor::TransactionSource for BestTransactions {
    fn next_transaction(&mut self) -> Option<Recovered<TxEnvelope>> {
        self.next().map(Arc::unwrap_or_clone)
    }

    fn skip_sender(&mut self, sender: Address) {
        self.mark_invalid(sender);
    }
}
