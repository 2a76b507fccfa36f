//! Outrigger's own methods: what dashboards and `outrigger status` read
//! that the Ethereum namespaces have no place for.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U64};
use jsonrpsee::proc_macros::rpc;
use outrigger_execution::genesis::ConsensusMode;
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

/// The validator set of the next block's epoch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorSet {
    /// `poa` or `pos`.
    pub mode: ConsensusMode,
    /// The validator-set system contract (none on a development chain).
    pub contract: Option<Address>,
    /// The epoch of the next block (`number / epochBlocks`).
    pub epoch: U64,
    /// Blocks per epoch.
    pub epoch_blocks: U64,
    /// The first block of the next epoch, whose set the last block of this
    /// one fixes.
    pub next_epoch_block: U64,
    /// The validators (empty on a single-node development chain).
    pub validators: Vec<ValidatorInfo>,
    /// Their summed power.
    pub total_power: U64,
}

/// Double-signing this node saw.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceInfo {
    /// The evidence, in the portable encoding `reportEquivocation` takes.
    pub evidence: Bytes,
    /// The report transaction this node sent, if it has a reporter account.
    pub report: Option<B256>,
}

/// The `outrigger` namespace.
#[rpc(server)]
pub trait OutriggerRpc {
    /// The validator set that signs the next block.
    #[method(name = "outrigger_validators")]
    fn validators(&self) -> RpcResult<ValidatorSet>;

    /// Equivocation evidence this node saw (the newest 64), oldest first.
    #[method(name = "outrigger_evidence")]
    fn evidence(&self) -> RpcResult<Vec<EvidenceInfo>>;
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
        let store = self.state.chain.store();
        let head = store.head_number()?.unwrap_or(0);
        let consensus = &self.state.consensus;
        let blocks = consensus.epoch_blocks.max(1);
        let epoch = (head + 1) / blocks;
        let members = match self.state.chain.spec().epochs {
            Some(_) => store
                .epoch_set(epoch)?
                .map(|s| s.validators)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let validators: Vec<ValidatorInfo> = members
            .iter()
            .map(|v| ValidatorInfo {
                public_key: Bytes::copy_from_slice(v.key.as_slice()),
                power: U64::from(v.power),
            })
            .collect();
        let total: u64 = members.iter().map(|v| v.power).sum();
        Ok(ValidatorSet {
            mode: consensus.consensus,
            contract: self
                .state
                .chain
                .spec()
                .epochs
                .map(|_| outrigger_execution::system::VALIDATORS_CONTRACT),
            epoch: U64::from(epoch),
            epoch_blocks: U64::from(blocks),
            next_epoch_block: U64::from((epoch + 1) * blocks),
            validators,
            total_power: U64::from(total),
        })
    }

    fn evidence(&self) -> RpcResult<Vec<EvidenceInfo>> {
        Ok(self
            .state
            .evidence
            .seen()
            .into_iter()
            .map(|seen| EvidenceInfo {
                evidence: seen.evidence,
                report: seen.report,
            })
            .collect())
    }
}
