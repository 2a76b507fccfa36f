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

impl ExecutedBlock {
    /// A block with no transactions whose only effect is `state`, on top of
    /// `parent` (block 0 without one): for benchmarks and tests that write
    /// state changes straight to a store, executing nothing.
    pub fn state_only(parent: Option<&Header>, state: StateUpdate) -> Self {
        let header = Header {
            number: parent.map_or(0, |p| p.number + 1),
            parent_hash: parent.map_or(B256::ZERO, |p| p.hash_slow()),
            state_root: state.state_root,
            ..Header::default()
        };
        Self {
            hash: header.hash_slow(),
            block: Block {
                header,
                body: Default::default(),
            },
            senders: Vec::new(),
            receipts: Vec::new(),
            state,
            epoch_set: None,
        }
    }
}
