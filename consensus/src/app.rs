//! What the engine asks of the chain: build a block, execute one, commit a
//! decided one, import a synced one, serve stored ones, take a gossiped
//! transaction. The node implements it over its store, executor and pool;
//! the engine calls the heavy methods off its own task.

use outrigger_consensus_core::Validator;
use outrigger_execution::block::Block;

/// The validators of one epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochValidators {
    /// The epoch's first height: proposer priorities start from zero there.
    pub first_height: u64,
    /// The members.
    pub validators: Vec<Validator>,
}

/// Why the application could not do what the engine asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The block breaks a rule: a peer's fault, not ours.
    #[error("{0}")]
    Invalid(String),
    /// The block does not extend the head (the head moved meanwhile).
    #[error("block #{number} does not extend the head #{head}")]
    NotOnHead {
        /// The block's number.
        number: u64,
        /// The head's number.
        head: u64,
    },
    /// The node cannot go on (the store failed).
    #[error("{0}")]
    Fatal(String),
}

/// How a gossiped transaction was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionVerdict {
    /// New and valid: pooled, worth relaying.
    Accepted,
    /// Valid but not worth relaying (known, stale nonce, pool full).
    Ignored,
    /// Undecodable or wrongly signed: the sender misbehaved.
    Rejected,
}

/// The chain as the consensus engine sees it.
pub trait Application: Send + Sync + 'static {
    /// The committed head: number and hash.
    fn head(&self) -> Result<(u64, [u8; 32]), AppError>;

    /// The hash of block 0, which peers must share.
    fn genesis_hash(&self) -> [u8; 32];

    /// Builds the block of `height` on the head from the pool, executes it
    /// and keeps the result, so that validating and committing it are free.
    fn propose(&self, height: u64) -> Result<Block, AppError>;

    /// Executes `block` on the head and keeps the result; `Ok(false)` if the
    /// block is invalid (said in the log), `Err` only for node faults or a
    /// head that moved.
    fn validate(&self, block: &Block) -> Result<bool, AppError>;

    /// Commits the proposed or validated block `hash` with its encoded
    /// commit certificate `seal`.
    fn commit(&self, hash: [u8; 32], seal: &[u8]) -> Result<(), AppError>;

    /// Executes and commits a block that peers finalized (its certificate,
    /// `seal`, was checked by the engine).
    fn import(&self, block: Block, seal: &[u8]) -> Result<(), AppError>;

    /// Up to `count` committed blocks from `from`, each encoded with its
    /// certificate for block sync, at most `bytes_max` in all (at least one
    /// block if there is one).
    fn synced_blocks(
        &self,
        from: u64,
        count: u32,
        bytes_max: usize,
    ) -> Result<Vec<Vec<u8>>, AppError>;

    /// Takes a gossiped, EIP-2718 encoded transaction into the pool.
    fn on_transaction(&self, bytes: &[u8]) -> TransactionVerdict;

    /// The validators of `height`'s epoch, or `None` while that set is not
    /// fixed yet (it is fixed by the epoch before's last block). Known for
    /// every height up to the head + 1.
    fn validators(&self, height: u64) -> Result<Option<EpochValidators>, AppError>;

    /// Equivocation the core proved, in the portable encoding
    /// (`outrigger_consensus_core::verify_portable`): to be reported to the
    /// chain, which slashes.
    fn on_evidence(&self, evidence: Vec<u8>);
}
