//! Outrigger's own methods: what dashboards and `outrigger status` read
//! that the Ethereum namespaces have no place for.

use std::sync::Arc;

use alloy_primitives::{Bytes, U64};
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;

use super::error::RpcResult;
use crate::node::NodeState;

/// One validator of the current set.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorInfo {
    /// Its ed25519 consensus public key.
    pub public_key: Bytes,
    /// Its voting power.
    pub power: U64,
}

/// The validator set of the head's epoch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorSet {
    /// The epoch of the next block (`number / epochBlocks`).
    pub epoch: U64,
    /// Blocks per epoch.
    pub epoch_blocks: U64,
    /// The validators (empty on a single-node development chain).
    pub validators: Vec<ValidatorInfo>,
    /// Their summed power.
    pub total_power: U64,
}

/// The `outrigger` namespace.
#[rpc(server)]
pub trait OutriggerRpc {
    /// The validator set that signs the next block.
    #[method(name = "outrigger_validators")]
    fn validators(&self) -> RpcResult<ValidatorSet>;
}

/// Serves the `outrigger` namespace.
pub struct OutriggerApi {
    state: Arc<NodeState>,
}

impl OutriggerApi {
    /// Over the node's state.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

impl OutriggerRpcServer for OutriggerApi {
    fn validators(&self) -> RpcResult<ValidatorSet> {
        let head = self.state.chain.store().head_number()?.unwrap_or(0);
        let consensus = &self.state.consensus;
        // Sets are fixed by the genesis until epoch changes land (issue 9).
        let validators: Vec<ValidatorInfo> = consensus
            .validators
            .iter()
            .map(|v| ValidatorInfo {
                public_key: v.public_key.clone(),
                power: U64::from(v.power),
            })
            .collect();
        let total: u64 = consensus.validators.iter().map(|v| v.power).sum();
        Ok(ValidatorSet {
            epoch: U64::from((head + 1) / consensus.epoch_blocks.max(1)),
            epoch_blocks: U64::from(consensus.epoch_blocks),
            validators,
            total_power: U64::from(total),
        })
    }
}
