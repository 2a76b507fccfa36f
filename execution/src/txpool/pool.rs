//! The pool itself: admission, replacement, eviction, new heads, getters.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    sync::Arc,
};

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, U256};
use tracing::debug;

use super::{
    AccountState, BestTransactions, ChainParams, HeadParams, PoolAccount, PoolConfig, PoolError,
    PoolResult, Shortfall,
    sender::{PooledTx, SenderTxs},
    validate::{ValidationRules, is_sufficient_bump, tx_cost, validate_tx},
};

/// Which part of a sender's transactions an eviction draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Pending,
    Queued,
}

/// What [`Pool::on_new_block`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NewBlockOutcome {
    /// Transactions named as included in the block.
    pub included: usize,
    /// Transactions whose nonce fell below the account nonce.
    pub stale: usize,
    /// Transactions the new balance or block gas limit can no longer cover.
    pub unexecutable: usize,
    /// Transactions evicted because promotions overflowed a limit.
    pub evicted: usize,
}

/// One sender's transactions, for `txpool_content`-style listings.
#[derive(Debug, Clone, Default)]
pub struct SenderContent {
    /// Pending transactions, in nonce order.
    pub pending: Vec<Arc<Recovered<TxEnvelope>>>,
    /// Queued transactions, in nonce order.
    pub queued: Vec<Arc<Recovered<TxEnvelope>>>,
}

/// Every pooled transaction by sender and nonce, as `txpool_content` lists them.
#[derive(Debug, Clone, Default)]
pub struct PoolContent {
    /// Pending transactions.
    pub pending: BTreeMap<Address, BTreeMap<u64, Arc<Recovered<TxEnvelope>>>>,
    /// Queued transactions.
    pub queued: BTreeMap<Address, BTreeMap<u64, Arc<Recovered<TxEnvelope>>>>,
}

/// The transaction pool. See the [module docs](super) for its rules.
#[derive(Debug)]
pub struct Pool {
    config: PoolConfig,
    params: ChainParams,
    senders: HashMap<Address, SenderTxs>,
    by_hash: HashMap<B256, (Address, u64)>,
    pending_count: usize,
    queued_count: usize,
    next_seq: u64,
    /// The last new head's update failed: the next one reads every
    /// sender's account, not only the ones its block changed.
    refresh_all: bool,
    /// The block whose state the held senders' nonces and balances are:
    /// set by a new head that followed the one before it (or read every
    /// sender), `None` when unknown.
    synced_head: Option<u64>,
}

/// `(pending, queued)` of one sender.
fn counts(sender: &SenderTxs) -> (usize, usize) {
    let pending = sender.pending_len();
    (pending, sender.txs.len() - pending)
}

impl Pool {
    /// An empty pool for `params`' chain and head.
    pub fn new(config: PoolConfig, params: ChainParams) -> Self {
        Self {
            config,
            params,
            senders: HashMap::new(),
            by_hash: HashMap::new(),
            pending_count: 0,
            queued_count: 0,
            next_seq: 0,
            refresh_all: false,
            synced_head: None,
        }
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The chain and head parameters the pool validates against.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Takes a new head's base fee, gas limit and hard fork without touching
    /// the pooled transactions; [`Pool::on_new_block`] also cleans up.
    pub fn set_head(&mut self, head: HeadParams) {
        self.params.head = head;
    }

    /// The stateless rules the pool admits transactions under, for running
    /// [`validate_stateless`](super::validate_stateless) before [`Pool::add`].
    pub fn validation_rules(&self) -> ValidationRules {
        ValidationRules {
            chain_id: self.params.chain_id,
            spec: self.params.head.spec,
            block_gas_limit: self.params.head.block_gas_limit,
            blobs_allowed: self.params.blobs_allowed,
            allow_unprotected: self.config.allow_unprotected_txs,
            max_tx_bytes: self.config.max_tx_bytes,
        }
    }

    /// Validates `tx` and adds it, pending or queued, possibly replacing the
    /// sender's transaction at the same nonce or evicting cheaper ones of
    /// other senders. Returns the transaction hash.
    pub fn add(
        &mut self,
        tx: Recovered<TxEnvelope>,
        state: &impl AccountState,
    ) -> PoolResult<B256> {
        let hash = *tx.tx_hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let facts = validate_tx(&tx, &self.validation_rules())?;
        if facts.max_priority_fee_per_gas < self.config.min_priority_fee_wei {
            return Err(PoolError::TipBelowMinimum {
                needed: self.config.min_priority_fee_wei,
                tip: facts.max_priority_fee_per_gas,
            });
        }
        let sender = tx.signer();
        let account = match self.senders.get(&sender) {
            // Read at the block that is still the head: a read would
            // return the same.
            Some(held) if self.synced_head.is_some() && state.head() == self.synced_head => {
                PoolAccount {
                    nonce: held.nonce,
                    balance: held.balance,
                }
            }
            _ => state.account(sender)?,
        };
        if facts.nonce < account.nonce {
            return Err(PoolError::NonceTooLow {
                next: account.nonce,
                tx: facts.nonce,
            });
        }
        self.sync_sender(sender, account);
        if tx_cost(tx.inner()).is_none() {
            return Err(PoolError::InsufficientFunds(Box::new(
                Shortfall::Overflow { sender },
            )));
        }
        check_funds(
            self.senders.get(&sender),
            account.balance,
            facts.nonce,
            facts.cost,
        )?;

        let nonce = facts.nonce;
        let new = PooledTx {
            tx: Arc::new(tx),
            facts,
            seq: self.next_seq,
        };
        let existing = self.senders.get(&sender);
        if let Some(old) = existing.and_then(|s| s.txs.get(&nonce)) {
            if !is_sufficient_bump(&old.facts, &new.facts, self.config.price_bump_percent) {
                return Err(PoolError::ReplacementUnderpriced);
            }
            self.insert(sender, account, new);
            debug!(target: "txpool", %hash, %sender, nonce, "replaced");
            return Ok(hash);
        }

        let pooled = existing.map_or(0, |s| s.txs.len());
        if pooled >= self.config.max_txs_per_sender {
            return Err(PoolError::AccountLimit { pooled });
        }
        let promoted = match existing {
            Some(s) => s.promotes(nonce),
            None => (nonce == account.nonce).then_some(0),
        };
        let (pending_after, queued_after) = match promoted {
            Some(promoted) => (
                self.pending_count + 1 + promoted,
                self.queued_count.saturating_sub(promoted),
            ),
            None => (self.pending_count, self.queued_count + 1),
        };
        let pending_over = pending_after.saturating_sub(self.config.max_pending_txs);
        let queued_over = queued_after.saturating_sub(self.config.max_queued_txs);
        if pending_over > 0 || queued_over > 0 {
            let key = new.price_key(self.params.head.base_fee);
            let mut victims = self.cheapest(Part::Queued, queued_over, Some(sender));
            victims.extend(self.cheapest(Part::Pending, pending_over, Some(sender)));
            if victims.len() < pending_over + queued_over {
                return Err(PoolError::PoolFull);
            }
            if victims.iter().any(|(_, _, victim)| *victim >= key) {
                return Err(PoolError::Underpriced);
            }
            for (victim, victim_nonce, _) in victims {
                if let Some(gone) = self.remove_tx(victim, victim_nonce) {
                    debug!(
                        target: "txpool",
                        hash = %gone.facts.hash,
                        sender = %victim,
                        nonce = victim_nonce,
                        "evicted"
                    );
                }
            }
        }
        self.insert(sender, account, new);
        debug!(target: "txpool", %hash, %sender, nonce, "added");
        Ok(hash)
    }

    /// Inserts (or replaces at the same nonce) and keeps the counts.
    fn insert(&mut self, sender: Address, account: PoolAccount, tx: PooledTx) {
        let hash = tx.facts.hash;
        let nonce = tx.facts.nonce;
        let txs = self
            .senders
            .entry(sender)
            .or_insert_with(|| SenderTxs::new(account.nonce, account.balance));
        let before = counts(txs);
        if let Some(old) = txs.txs.insert(nonce, tx) {
            self.by_hash.remove(&old.facts.hash);
        }
        let after = counts(txs);
        self.pending_count = self.pending_count + after.0 - before.0;
        self.queued_count = self.queued_count + after.1 - before.1;
        self.by_hash.insert(hash, (sender, nonce));
        self.next_seq += 1;
    }

    /// Removes one transaction, keeping the counts; later nonces of the
    /// sender fall back to queued.
    fn remove_tx(&mut self, sender: Address, nonce: u64) -> Option<PooledTx> {
        let txs = self.senders.get_mut(&sender)?;
        let before = counts(txs);
        let removed = txs.txs.remove(&nonce)?;
        let after = counts(txs);
        self.pending_count = self.pending_count + after.0 - before.0;
        self.queued_count = self.queued_count + after.1 - before.1;
        self.by_hash.remove(&removed.facts.hash);
        if txs.txs.is_empty() {
            self.senders.remove(&sender);
        }
        Some(removed)
    }

    /// Takes a fresh read of the sender's account: transactions below the new
    /// nonce are dropped (they were included), later ones may become pending.
    /// Returns the dropped transactions.
    fn sync_sender(&mut self, sender: Address, account: PoolAccount) -> Vec<PooledTx> {
        let Some(txs) = self.senders.get_mut(&sender) else {
            return Vec::new();
        };
        let before = counts(txs);
        txs.nonce = account.nonce;
        txs.balance = account.balance;
        let stale = txs.drop_stale();
        let after = counts(txs);
        self.pending_count = self.pending_count + after.0 - before.0;
        self.queued_count = self.queued_count + after.1 - before.1;
        for tx in &stale {
            self.by_hash.remove(&tx.facts.hash);
        }
        if txs.txs.is_empty() {
            self.senders.remove(&sender);
        }
        stale
    }

    /// Up to `n` cheapest transactions of `part`, each the highest nonce of
    /// its sender left after the ones before it, so evicting them in order
    /// never breaks a pending run. Cheapest means lowest
    /// [`PooledTx::price_key`], ties to the latest arrival.
    ///
    /// Costs O(senders) to set up: the pool's limits bound it.
    fn cheapest(
        &self,
        part: Part,
        n: usize,
        exclude: Option<Address>,
    ) -> Vec<(Address, u64, (bool, u128, u128))> {
        if n == 0 {
            return Vec::new();
        }
        let base_fee = self.params.head.base_fee;
        let lists: Vec<(Address, Vec<&PooledTx>)> = self
            .senders
            .iter()
            .filter(|(address, _)| Some(**address) != exclude)
            .map(|(address, txs)| {
                let mut list: Vec<&PooledTx> = match part {
                    Part::Pending => txs.pending().collect(),
                    Part::Queued => txs.queued().collect(),
                };
                list.reverse();
                (*address, list)
            })
            .filter(|(_, list)| !list.is_empty())
            .collect();
        let mut heap = BinaryHeap::new();
        for (index, (_, list)) in lists.iter().enumerate() {
            if let Some(tx) = list.first() {
                heap.push(Reverse((
                    tx.price_key(base_fee),
                    Reverse(tx.seq),
                    index,
                    0usize,
                )));
            }
        }
        let mut picked = Vec::with_capacity(n);
        while picked.len() < n {
            let Some(Reverse((key, _, index, position))) = heap.pop() else {
                break;
            };
            let Some((address, list)) = lists.get(index) else {
                break;
            };
            if let Some(tx) = list.get(position) {
                picked.push((*address, tx.facts.nonce, key));
            }
            if let Some(next) = list.get(position + 1) {
                heap.push(Reverse((
                    next.price_key(base_fee),
                    Reverse(next.seq),
                    index,
                    position + 1,
                )));
            }
        }
        picked
    }

    /// Updates the pool for a new head: takes its parameters, removes the
    /// `included` transactions and any whose nonce the state has passed,
    /// drops those whose own cost exceeds the new balance or whose gas
    /// exceeds the new block gas limit, promotes queued transactions whose
    /// gap closed, and evicts the cheapest if promotions overflow a limit.
    ///
    /// `changed` names the accounts the new block changed; only the pooled
    /// senders among them are read again (`None`: every sender). Every
    /// sender is read anyway when the block gas limit changed or the
    /// previous update failed. The reads come first: if one fails, the pool
    /// is unchanged.
    pub fn on_new_block(
        &mut self,
        head: HeadParams,
        included: &[B256],
        changed: Option<&[Address]>,
        state: &impl AccountState,
    ) -> PoolResult<NewBlockOutcome> {
        // Taken before the reads, which see this block's state or a later
        // one: labelled no later than what they read, the held state is
        // never taken for a head it does not reflect.
        let number = state.head();
        // Reading every sender also (re)starts the held state's sync with
        // the head, when the state knows its head and the pool is not in
        // sync (at start, or after a head it did not hear of).
        let every_sender = self.refresh_all
            || head.block_gas_limit != self.params.head.block_gas_limit
            || changed.is_none()
            || (number.is_some() && self.synced_head.is_none());
        let holds_none = self.senders.is_empty();
        let read = |address: &Address| state.account(*address).map(|a| (*address, a));
        let accounts = match changed {
            Some(changed) if !every_sender => changed
                .iter()
                .filter(|address| self.senders.contains_key(*address))
                .map(read)
                .collect::<PoolResult<Vec<_>>>(),
            _ => self.senders.keys().map(read).collect(),
        };
        self.refresh_all = accounts.is_err();
        // Unless every held sender was read (or none is held), only the
        // ones this block changed were: the rest are as of the block
        // before, so this holds only if that one was synced.
        let follows = number.is_some_and(|n| n > 0 && self.synced_head == Some(n - 1));
        self.synced_head = (accounts.is_ok() && (every_sender || holds_none || follows))
            .then_some(number)
            .flatten();
        let accounts = accounts?;
        self.params.head = head;
        let mut outcome = NewBlockOutcome::default();
        for hash in included {
            if let Some((sender, nonce)) = self.by_hash.get(hash).copied()
                && self.remove_tx(sender, nonce).is_some()
            {
                outcome.included += 1;
            }
        }
        for (sender, account) in accounts {
            outcome.stale += self.sync_sender(sender, account).len();
            let Some(txs) = self.senders.get_mut(&sender) else {
                continue;
            };
            let before = counts(txs);
            let dropped = txs.drop_unexecutable(head.block_gas_limit);
            let after = counts(txs);
            self.pending_count = self.pending_count + after.0 - before.0;
            self.queued_count = self.queued_count + after.1 - before.1;
            for tx in &dropped {
                self.by_hash.remove(&tx.facts.hash);
            }
            if txs.txs.is_empty() {
                self.senders.remove(&sender);
            }
            outcome.unexecutable += dropped.len();
        }
        let queued_over = self.queued_count.saturating_sub(self.config.max_queued_txs);
        let pending_over = self
            .pending_count
            .saturating_sub(self.config.max_pending_txs);
        let mut victims = self.cheapest(Part::Queued, queued_over, None);
        victims.extend(self.cheapest(Part::Pending, pending_over, None));
        for (sender, nonce, _) in victims {
            if self.remove_tx(sender, nonce).is_some() {
                outcome.evicted += 1;
            }
        }
        debug!(
            target: "txpool",
            included = outcome.included,
            stale = outcome.stale,
            unexecutable = outcome.unexecutable,
            evicted = outcome.evicted,
            pending = self.pending_count,
            queued = self.queued_count,
            "new head"
        );
        Ok(outcome)
    }

    /// Whether the next block could include a pending transaction: some
    /// sender's next one pays the head's next base fee (the rule
    /// [`BestTransactions`] applies), checked without building it.
    pub fn has_executable(&self) -> bool {
        let base_fee = self.params.head.base_fee;
        self.senders.values().any(|txs| {
            txs.pending()
                .next()
                .is_some_and(|tx| tx.effective_tip(base_fee).is_some())
        })
    }

    /// Pending transactions for a block at `base_fee`, best first; see
    /// [`BestTransactions`].
    pub fn best_transactions(&self, base_fee: u64) -> BestTransactions {
        BestTransactions::new(
            base_fee,
            self.senders
                .iter()
                .map(|(address, txs)| (*address, txs.pending().cloned().collect())),
        )
    }

    /// The pooled transaction with this hash.
    pub fn get(&self, hash: &B256) -> Option<Arc<Recovered<TxEnvelope>>> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.senders
            .get(sender)?
            .txs
            .get(nonce)
            .map(|tx| Arc::clone(&tx.tx))
    }

    /// Whether a transaction with this hash is pooled.
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Number of pooled transactions, pending and queued.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool holds no transaction.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Number of pending (executable) transactions.
    pub fn pending_count(&self) -> usize {
        self.pending_count
    }

    /// Number of queued (nonce-gapped) transactions.
    pub fn queued_count(&self) -> usize {
        self.queued_count
    }

    /// The sender's next nonce counting its pending transactions, for
    /// `eth_getTransactionCount(.., "pending")`; `None` if the pool holds
    /// nothing of the sender (use the account nonce).
    pub fn pending_nonce(&self, sender: Address) -> Option<u64> {
        self.senders.get(&sender).map(SenderTxs::next_nonce)
    }

    /// The sender's pooled transactions, for `txpool_contentFrom`.
    pub fn content_from(&self, sender: Address) -> SenderContent {
        self.senders
            .get(&sender)
            .map(|txs| SenderContent {
                pending: txs.pending().map(|tx| Arc::clone(&tx.tx)).collect(),
                queued: txs.queued().map(|tx| Arc::clone(&tx.tx)).collect(),
            })
            .unwrap_or_default()
    }

    /// Every pooled transaction, for `txpool_content`.
    pub fn content(&self) -> PoolContent {
        let mut content = PoolContent::default();
        for (address, txs) in &self.senders {
            let pending = by_nonce(txs.pending());
            let queued = by_nonce(txs.queued());
            if !pending.is_empty() {
                content.pending.insert(*address, pending);
            }
            if !queued.is_empty() {
                content.queued.insert(*address, queued);
            }
        }
        content
    }
}

/// Transactions keyed by nonce.
fn by_nonce<'a>(
    txs: impl Iterator<Item = &'a PooledTx>,
) -> BTreeMap<u64, Arc<Recovered<TxEnvelope>>> {
    txs.map(|tx| (tx.facts.nonce, Arc::clone(&tx.tx))).collect()
}

/// The balance must cover the transaction's own cost and, together, the
/// sender's other pooled transactions (a replaced one excluded), with geth's
/// messages for each case.
fn check_funds(
    sender: Option<&SenderTxs>,
    balance: U256,
    nonce: u64,
    cost: U256,
) -> PoolResult<()> {
    let short = |shortfall| Err(PoolError::InsufficientFunds(Box::new(shortfall)));
    if cost > balance {
        return short(Shortfall::Own { balance, cost });
    }
    let queued = sender.map_or(U256::ZERO, SenderTxs::spent);
    match sender.and_then(|s| s.txs.get(&nonce)) {
        Some(replaced) => {
            let replaced = replaced.facts.cost;
            if queued.saturating_sub(replaced).saturating_add(cost) > balance {
                return short(Shortfall::Bumped {
                    balance,
                    queued,
                    cost,
                    replaced,
                });
            }
        }
        None => {
            if queued.saturating_add(cost) > balance {
                return short(Shortfall::Queued {
                    balance,
                    queued,
                    cost,
                });
            }
        }
    }
    Ok(())
}
