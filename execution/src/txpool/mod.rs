//! The transaction pool: transactions waiting for a block.
//!
//! # What it does
//!
//! - **Admission** ([`Pool::add`]): a transaction whose sender is already
//!   recovered ([`recover_all`]) is validated without state
//!   ([`validate_tx`]: hard-fork rules, chain id, size, gas, fees, intrinsic
//!   gas by revm's own function), then against the sender's account
//!   ([`AccountState`]: nonce, balance). Refusals carry geth's messages
//!   ([`PoolError`]), which wallets and libraries match on.
//! - **Ordering per sender**: transactions running without a gap from the
//!   account nonce are *pending*; the rest are *queued* until the gap fills.
//!   A transaction at a nonce already taken replaces the old one only if it
//!   raises both the fee cap and the tip by [`PoolConfig::price_bump_percent`].
//! - **Limits**: pending, queued and per-sender counts are capped. When a cap
//!   is reached, the cheapest transactions of *other* senders are evicted —
//!   always a sender's highest nonce, so no pending run is broken — and a
//!   newcomer that pays no more than what it would evict is refused.
//! - **Block building** ([`Pool::best_transactions`]): pending transactions,
//!   highest effective tip first, each sender in nonce order.
//! - **New heads** ([`Pool::on_new_block`]): included and stale transactions
//!   leave, unfunded ones are dropped, queued ones are promoted, and the
//!   base fee, gas limit and hard fork are taken from the new head.
//!
//! # Balance rule
//!
//! At admission the balance must cover this transaction's cost
//! (`gas_limit * max_fee_per_gas + value`, plus blob gas) *and* the costs of
//! the sender's other pooled transactions, as geth requires, so one account
//! cannot fill the pool with transactions it could never pay for. On a new
//! head each transaction's own cost is checked against the new balance.
//!
//! # Concurrency
//!
//! [`Pool`] is a plain single-threaded structure: the node wraps it in a lock.
//! Sender recovery, the expensive part, happens before, in parallel and
//! outside the lock ([`recover_all`]).

mod best;
mod error;
mod pool;
mod recover;
mod sender;
mod validate;

#[cfg(test)]
mod tests;

pub use best::BestTransactions;
pub use error::{PoolError, PoolResult, Shortfall};
pub use pool::{NewBlockOutcome, Pool, PoolContent, SenderContent};
pub use recover::recover_all;
pub use validate::{
    IntrinsicGas, TxFacts, ValidationRules, decode_tx, intrinsic_gas, is_sufficient_bump,
    recover_tx, tx_cost, validate_stateless, validate_tx,
};

use alloy_primitives::{Address, U256};
use revm::primitives::hardfork::SpecId;

/// Pool limits and policy. The defaults live here, in [`Default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most pending (executable) transactions. Default 10,000.
    pub max_pending_txs: usize,
    /// Most queued (nonce-gapped) transactions. Default 10,000.
    pub max_queued_txs: usize,
    /// Most transactions one sender may have pooled, pending and queued
    /// together. Default 64 (geth's per-account queue limit).
    pub max_txs_per_sender: usize,
    /// Largest accepted EIP-2718 encoding, in bytes. Default 128 KiB
    /// (geth's `txMaxSize`).
    pub max_tx_bytes: usize,
    /// Least priority fee (gas price for legacy transactions) accepted, in
    /// wei. Default 1 wei: the base fee already prices inclusion and is
    /// burned; the floor only refuses transactions that pay the proposer
    /// nothing. geth's default is 1 gwei; raise it here for a public network
    /// under spam, and keep `eth_maxPriorityFeePerGas` at or above it.
    pub min_priority_fee_wei: u128,
    /// Percentage by which a replacement must raise both the fee cap and the
    /// tip. Default 10 (geth's `PriceBump`).
    pub price_bump_percent: u64,
    /// Accept legacy transactions without an EIP-155 chain id, which can be
    /// replayed on every chain. Default false (geth's `--rpc.allow-unprotected-txs`
    /// is off by default too).
    pub allow_unprotected_txs: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_pending_txs: 10_000,
            max_queued_txs: 10_000,
            max_txs_per_sender: 64,
            max_tx_bytes: 128 * 1024,
            min_priority_fee_wei: 1,
            price_bump_percent: 10,
            allow_unprotected_txs: false,
        }
    }
}

/// What changes with each head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadParams {
    /// Base fee of the next block, in wei.
    pub base_fee: u64,
    /// Gas limit of the next block.
    pub block_gas_limit: u64,
    /// Hard fork in force at the next block.
    pub spec: SpecId,
}

impl HeadParams {
    /// The parameters of the block after `head` on the chain `spec`.
    pub fn after(spec: &crate::ChainSpec, head: &alloy_consensus::Header) -> Self {
        Self {
            base_fee: head
                .next_block_base_fee(spec.base_fee_params())
                .unwrap_or_default(),
            block_gas_limit: head.gas_limit,
            spec: spec.spec_at(head.number + 1, head.timestamp + 1),
        }
    }
}

/// The chain the pool serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainParams {
    /// EIP-155 chain id; signatures for any other chain are refused.
    pub chain_id: u64,
    /// Whether EIP-4844 blob transactions are accepted. False for Outrigger,
    /// which has no blob data layer.
    pub blobs_allowed: bool,
    /// The current head's parameters.
    pub head: HeadParams,
}

/// The part of an account the pool checks a transaction against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolAccount {
    /// The account nonce: the nonce of its next transaction.
    pub nonce: u64,
    /// The balance in wei.
    pub balance: U256,
}

/// Account state at the pool's head, as the pool reads it. An account that
/// does not exist reads as [`PoolAccount::default`] (nonce 0, no balance).
pub trait AccountState {
    /// Reads one account.
    fn account(&self, address: Address) -> PoolResult<PoolAccount>;

    /// The number of the block whose state [`AccountState::account`]
    /// reads, if known. While it is the block the pool last caught up
    /// with, the pool answers for the senders it holds from what it read
    /// before, without a read. `None` (the default): always read.
    fn head(&self) -> Option<u64> {
        None
    }
}

impl<T: AccountState + ?Sized> AccountState for &T {
    fn account(&self, address: Address) -> PoolResult<PoolAccount> {
        (**self).account(address)
    }

    fn head(&self) -> Option<u64> {
        (**self).head()
    }
}

impl AccountState for crate::store::Store {
    fn account(&self, address: Address) -> PoolResult<PoolAccount> {
        let account =
            crate::store::Store::account(self, address).map_err(|e| PoolError::State {
                address,
                source: Box::new(e),
            })?;
        Ok(account.map_or_else(PoolAccount::default, |a| PoolAccount {
            nonce: a.nonce,
            balance: a.balance,
        }))
    }

    fn head(&self) -> Option<u64> {
        // In memory; an error is impossible today and means "unknown".
        self.head_number().ok().flatten()
    }
}
