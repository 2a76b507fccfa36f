//! Equivocation evidence this node saw: kept (bounded) for
//! `outrigger_evidence`, and reported to the staking contract with
//! `reportEquivocation` when the node has a reporter account
//! (`consensus.reporter_keystore`). Under proof of authority there is
//! nothing to slash: the evidence is only logged and listed.

use std::collections::VecDeque;

use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy_eips::Encodable2718 as _;
use alloy_primitives::{B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall as _;
use outrigger_execution::{
    genesis::ConsensusMode,
    system::{VALIDATORS_CONTRACT, contracts::PoSStaking},
};
use parking_lot::Mutex;
use tracing::{info, warn};

use crate::node::NodeState;

/// Evidence kept for `outrigger_evidence`.
const KEPT_MAX: usize = 64;
/// Gas of one report (the contract's `reportEquivocation` uses ~100k).
const REPORT_GAS: u64 = 400_000;

/// One piece of evidence and what became of it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The portable evidence.
    pub evidence: Bytes,
    /// The hash of the report transaction, if one was sent.
    pub report: Option<B256>,
}

/// The evidence log and the optional reporter account.
#[derive(Debug, Default)]
pub struct EvidenceLog {
    seen: Mutex<VecDeque<Seen>>,
    reporter: Option<PrivateKeySigner>,
}

impl EvidenceLog {
    /// A log that reports with `reporter`, if given.
    pub fn new(reporter: Option<PrivateKeySigner>) -> Self {
        Self {
            seen: Mutex::new(VecDeque::new()),
            reporter,
        }
    }

    /// What was seen, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().iter().cloned().collect()
    }

    /// Takes evidence from the consensus engine: new evidence is kept and,
    /// on a proof-of-stake chain with a reporter account, reported.
    pub fn add(&self, state: &NodeState, evidence: Vec<u8>) {
        let evidence = Bytes::from(evidence);
        {
            let seen = self.seen.lock();
            if seen.iter().any(|s| s.evidence == evidence) {
                return;
            }
        }
        let report = match (&self.reporter, state.consensus.consensus) {
            (Some(reporter), ConsensusMode::Pos) => match report(state, reporter, &evidence) {
                Ok(hash) => {
                    info!(target: "consensus", %hash, evidence = %keccak256(&evidence), "reported equivocation");
                    Some(hash)
                }
                Err(error) => {
                    warn!(target: "consensus", %error, "could not report equivocation");
                    None
                }
            },
            _ => None,
        };
        let mut seen = self.seen.lock();
        if seen.len() >= KEPT_MAX {
            seen.pop_front();
        }
        seen.push_back(Seen { evidence, report });
    }
}

/// Signs `reportEquivocation(evidence)` from `reporter` and submits it to
/// the pool (and so to the network).
fn report(state: &NodeState, reporter: &PrivateKeySigner, evidence: &Bytes) -> eyre::Result<B256> {
    let sender = reporter.address();
    let store = state.chain.store();
    let head = store.head()?.ok_or_else(|| eyre::eyre!("no head block"))?;
    let state_nonce = store.account(sender)?.map_or(0, |a| a.nonce);
    let nonce = state
        .pool
        .lock()
        .pending_nonce(sender)
        .unwrap_or(state_nonce)
        .max(state_nonce);
    let base = u128::from(head.base_fee_per_gas.unwrap_or_default());
    let tip = u128::from(state.config.txpool.min_priority_fee_wei).max(1_000_000_000);
    let tx = TxEip1559 {
        chain_id: state.chain.spec().chain_id,
        nonce,
        gas_limit: REPORT_GAS,
        max_fee_per_gas: base * 2 + tip,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(VALIDATORS_CONTRACT),
        value: U256::ZERO,
        access_list: Default::default(),
        input: PoSStaking::reportEquivocationCall {
            evidence: evidence.clone(),
        }
        .abi_encode()
        .into(),
    };
    let signature = reporter.sign_hash_sync(&tx.signature_hash())?;
    let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    crate::rpc::submit_raw(state, &raw).map_err(|e| eyre::eyre!("{e}"))
}
