//! Chain types: Ethereum-shaped blocks of transaction envelopes, and a
//! block with everything its execution produced, ready to commit.

use alloy_consensus::{ReceiptEnvelope, TxEnvelope};
use alloy_primitives::{Address, B256};

use crate::state::StateUpdate;

/// A block: `alloy_consensus::Header` and a body of transaction envelopes
/// (legacy, EIP-2930, EIP-1559, EIP-7702; EIP-4844 only where the chain
/// enables blobs). Its hash is keccak256 of the header's RLP.
pub type Block = alloy_consensus::Block<TxEnvelope>;

/// The header type.
pub use alloy_consensus::Header;

/// A block that has been executed and checked against its header: what
/// commit writes, so that commit does no work but the write.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The block.
    pub block: Block,
    /// keccak256 of the header's RLP.
    pub hash: B256,
    /// The recovered sender of each transaction.
    pub senders: Vec<Address>,
    /// The receipt of each transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The state changes and trie node writes.
    pub state: StateUpdate,
    /// The validator set this block fixed: epoch 0's for block 0, the next
    /// epoch's for an epoch's last block (stored with the block).
    pub epoch_set: Option<crate::system::EpochSet>,
}
