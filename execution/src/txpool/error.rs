//! Why the pool refused a transaction.
//!
//! The `Display` strings are go-ethereum's, including the detail geth appends
//! after the colon, because wallets and libraries (ethers, viem, web3.py,
//! MetaMask) classify failures by matching these messages: `nonce too low`
//! becomes `NONCE_EXPIRED`, `replacement transaction underpriced` becomes
//! `REPLACEMENT_UNDERPRICED`, and so on. Where geth has no equivalent (blob
//! transactions on a chain without a blob data layer, a failing state read),
//! the message follows geth's shape.

use std::fmt;

use alloy_primitives::{Address, U256};

/// Result alias for the transaction pool.
pub type PoolResult<T> = Result<T, PoolError>;

/// A transaction was refused by the pool, or the pool could not read state.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The bytes are not a valid EIP-2718 transaction envelope.
    #[error("rlp: {0}")]
    Decode(String),
    /// A transaction with this hash is already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// The signature does not recover to a sender (or, before Spurious
    /// Dragon, carries an EIP-155 chain id, which the signer then could
    /// not read).
    #[error("invalid sender: {0}")]
    InvalidSender(String),
    /// The transaction is signed for another chain.
    #[error("invalid sender: invalid chain id for signer: have {have} want {want}")]
    InvalidChainId {
        /// The chain id in the transaction.
        have: u64,
        /// The chain id this pool accepts.
        want: u64,
    },
    /// A legacy transaction without EIP-155 replay protection, refused by
    /// configuration ([`PoolConfig::allow_unprotected_txs`](super::PoolConfig)).
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// An EIP-4844 transaction on a chain without a blob data layer.
    #[error("transaction type not supported: blob transactions are not supported on this chain")]
    BlobsNotSupported,
    /// The transaction type is not active at the current hard fork.
    #[error("transaction type not supported: type {ty} rejected, pool not yet in {fork}")]
    TxTypeNotActive {
        /// The EIP-2718 type byte.
        ty: u8,
        /// The hard fork that activates the type.
        fork: &'static str,
    },
    /// The encoded transaction is larger than the pool accepts.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData {
        /// EIP-2718 encoded length in bytes.
        size: usize,
        /// Configured limit in bytes.
        limit: usize,
    },
    /// A contract creation whose init code exceeds EIP-3860's limit.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    MaxInitCodeSizeExceeded {
        /// Length of the init code in bytes.
        size: usize,
        /// The limit at the current hard fork.
        limit: usize,
    },
    /// The gas limit is above EIP-7825's per-transaction cap (Osaka).
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// The per-transaction cap.
        cap: u64,
        /// The transaction's gas limit.
        gas: u64,
    },
    /// The gas limit is above the current block gas limit.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit,
    /// `max_priority_fee_per_gas > max_fee_per_gas`.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// The nonce is `2^64 - 1`, which EIP-2681 forbids.
    #[error("nonce has max value: address {sender}, nonce: {nonce}")]
    NonceMax {
        /// The sender.
        sender: Address,
        /// The transaction's nonce.
        nonce: u64,
    },
    /// The gas limit does not cover the intrinsic gas.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// The intrinsic gas.
        needed: u64,
    },
    /// The gas limit does not cover EIP-7623's calldata floor (Prague).
    #[error("insufficient gas for floor data gas cost: gas {gas}, minimum needed {needed}")]
    FloorDataGas {
        /// The transaction's gas limit.
        gas: u64,
        /// The floor data gas.
        needed: u64,
    },
    /// An EIP-7702 transaction with an empty authorization list.
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthList,
    /// An EIP-4844 transaction without blob hashes.
    #[error("blob transaction missing blob hashes")]
    MissingBlobHashes,
    /// The priority fee (gas price for legacy transactions) is below the
    /// pool's floor.
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {needed}")]
    TipBelowMinimum {
        /// The configured minimum.
        needed: u128,
        /// The transaction's priority fee.
        tip: u128,
    },
    /// The pool is full and the transaction pays no more than the cheapest
    /// transaction it would have to evict.
    #[error("transaction underpriced")]
    Underpriced,
    /// A transaction with the same sender and nonce is in the pool and this
    /// one does not raise both fee caps by the configured bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The nonce is below the sender's account nonce.
    #[error("nonce too low: next nonce {next}, tx nonce {tx}")]
    NonceTooLow {
        /// The account nonce.
        next: u64,
        /// The transaction's nonce.
        tx: u64,
    },
    /// The balance does not cover what the transaction may cost; the
    /// [`Shortfall`] says how (boxed: it holds four 256-bit numbers).
    #[error("insufficient funds for gas * price + value: {0}")]
    InsufficientFunds(Box<Shortfall>),
    /// The sender already has the maximum number of transactions pooled.
    #[error("account limit exceeded: pooled {pooled} txs")]
    AccountLimit {
        /// How many transactions the sender has in the pool.
        pooled: usize,
    },
    /// The pool is full and nothing of other senders can be evicted.
    #[error("txpool is full")]
    PoolFull,
    /// The account state could not be read.
    #[error("reading account {address}: {source}")]
    State {
        /// The account being read.
        address: Address,
        /// What went wrong underneath.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// How a balance fell short, in the words geth uses after
/// `insufficient funds for gas * price + value: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// `gas_limit * max_fee_per_gas + value` exceeds 2^256 - 1.
    Overflow {
        /// The sender.
        sender: Address,
    },
    /// The balance does not cover this transaction's cost on its own.
    Own {
        /// The account balance.
        balance: U256,
        /// `gas_limit * max_fee_per_gas + value` (+ blob gas).
        cost: U256,
    },
    /// The balance does not cover this transaction together with the
    /// sender's other pooled transactions.
    Queued {
        /// The account balance.
        balance: U256,
        /// Sum of the costs of the sender's other pooled transactions.
        queued: U256,
        /// This transaction's cost.
        cost: U256,
    },
    /// The balance does not cover a replacement together with the sender's
    /// other pooled transactions.
    Bumped {
        /// The account balance.
        balance: U256,
        /// Sum of the costs of the sender's pooled transactions, the
        /// replaced one included.
        queued: U256,
        /// The replacement's cost.
        cost: U256,
        /// The replaced transaction's cost.
        replaced: U256,
    },
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overflow { sender } => {
                write!(f, "address {sender} required balance exceeds 256 bits")
            }
            Self::Own { balance, cost } => write!(
                f,
                "balance {balance}, tx cost {cost}, overshot {}",
                cost.saturating_sub(*balance)
            ),
            Self::Queued {
                balance,
                queued,
                cost,
            } => write!(
                f,
                "balance {balance}, queued cost {queued}, tx cost {cost}, overshot {}",
                queued.saturating_add(*cost).saturating_sub(*balance)
            ),
            Self::Bumped {
                balance,
                queued,
                cost,
                replaced,
            } => {
                let sign = if cost < replaced { "-" } else { "" };
                let need = queued.saturating_sub(*replaced).saturating_add(*cost);
                write!(
                    f,
                    "balance {balance}, queued cost {queued}, tx bumped {sign}{}, overshot {}",
                    cost.abs_diff(*replaced),
                    need.saturating_sub(*balance)
                )
            }
        }
    }
}
