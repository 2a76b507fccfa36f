//! Outrigger's execution layer: everything that turns blocks into state.
//!
//! - [`block`]: Ethereum-shaped blocks and executed blocks.
//! - [`call`]: `eth_call` and `eth_estimateGas` on the head state.
//! - [`chain_spec`] and [`genesis`]: the fork schedule and block 0 from a
//!   geth-style `genesis.json`.
//! - [`chain`]: the one import path (checks, execution, commitments) and
//!   the block builder; [`validation`] holds the consensus rules.
//! - [`executor`]: revm execution through alloy-evm's block executor.
//! - [`overrides`]: geth's state and block overrides for calls.
//! - [`simulate`]: `eth_simulateV1`, calls in simulated blocks.
//! - [`state`]: from state changes to the new state root and its writes.
//! - [`store`]: RocksDB, one atomic batch per block.
//! - [`trie`]: the Merkle-Patricia trie, stored by path and updated
//!   incrementally; proofs for `eth_getProof`.
//! - [`trace`]: geth-style transaction tracing (`debug_trace*`) and
//!   `eth_createAccessList`, with revm-inspectors' tracers.
//! - [`txpool`]: the transaction pool with geth's validation errors.

pub mod block;
pub mod call;
pub mod chain;
pub mod chain_spec;
pub mod executor;
pub mod genesis;
pub mod overrides;
pub mod simulate;
pub mod state;
pub mod store;
pub mod system;
pub mod trace;
pub mod trie;
pub mod txpool;
pub mod validation;

pub use block::{Block, ExecutedBlock, Header};
pub use chain::{BlockAttributes, BlockError, Chain};
pub use chain_spec::ChainSpec;
pub use store::{Store, StoreConfig, StoreError};
