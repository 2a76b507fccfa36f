//! The chain as the consensus engine sees it ([`Application`]): blocks are
//! built from the pool, proposals executed once and kept by hash so that
//! committing a decided block is only the write, synced blocks imported,
//! stored blocks served to peers, gossiped transactions pooled.

use std::{collections::HashMap, sync::Arc, time::Instant};

use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::Decodable as _;
use outrigger_consensus::{AppError, Application, EpochValidators, TransactionVerdict, codec};
use outrigger_consensus_core::{Validator, VerifyingKey};
use outrigger_execution::{Block, BlockError, ExecutedBlock, txpool::validate_stateless};
use parking_lot::Mutex;
use tracing::{debug, warn};

use crate::{node::NodeState, sealer};

/// Transactions in one gossip message at most.
pub const TX_GOSSIP_BATCH_MAX: usize = 256;

/// Bytes of transactions a relay puts in one gossip message, unless a
/// single transaction is larger (it then goes alone).
pub const TX_GOSSIP_BATCH_BYTES: usize = 64 * 1024;

/// A gossip message of transactions: the RLP list of their EIP-2718
/// encodings. One message per transaction cost every peer the framing,
/// encryption and bookkeeping of a message for each.
pub fn encode_tx_batch(txs: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list::<Bytes, Bytes>(txs, &mut out);
    out
}

/// Reads a gossip message of [`encode_tx_batch`]: a non-empty list of at
/// most [`TX_GOSSIP_BATCH_MAX`] transactions, nothing after it.
pub fn decode_tx_batch(mut bytes: &[u8]) -> Result<Vec<Bytes>, String> {
    let txs =
        Vec::<Bytes>::decode(&mut bytes).map_err(|e| format!("not a transaction list: {e}"))?;
    if !bytes.is_empty() {
        return Err(format!("{} bytes after the transaction list", bytes.len()));
    }
    if txs.is_empty() || txs.len() > TX_GOSSIP_BATCH_MAX {
        return Err(format!(
            "{} transactions in one message; 1 to {TX_GOSSIP_BATCH_MAX} are allowed",
            txs.len()
        ));
    }
    Ok(txs)
}

/// Executed blocks kept for commit: the proposals of one height (at most
/// two per round are valid; this bounds what an attack can pin).
const EXECUTED_MAX: usize = 32;
/// How far past the wall clock a proposal's timestamp may be, beyond what
/// the one-second-per-block rule forces.
const TIMESTAMP_DRIFT_MAX_S: u64 = 15;

/// [`Application`] over the node's chain and pool.
#[derive(Debug)]
pub struct ChainApp {
    state: Arc<NodeState>,
    genesis_hash: [u8; 32],
    executed: Mutex<HashMap<B256, ExecutedBlock>>,
    /// The last epoch's decoded set, by epoch number: the engine asks every
    /// height, and a stored set never changes once its epoch is fixed.
    last_epoch: Mutex<Option<(u64, EpochValidators)>>,
}

impl ChainApp {
    /// The application of the node `state`, whose block 0 is `genesis_hash`.
    pub fn new(state: Arc<NodeState>, genesis_hash: B256) -> Self {
        Self {
            state,
            genesis_hash: genesis_hash.0,
            executed: Mutex::new(HashMap::new()),
            last_epoch: Mutex::new(None),
        }
    }

    fn keep(&self, executed: ExecutedBlock) {
        let mut kept = self.executed.lock();
        let number = executed.block.header.number;
        // Blocks of other heights are stale once a new one is executed.
        kept.retain(|_, e| e.block.header.number == number);
        if kept.len() >= EXECUTED_MAX {
            return;
        }
        kept.insert(executed.hash, executed);
    }

    /// Records the time since `started` as `stage` of a block.
    fn observe(&self, stage: &str, started: Instant) {
        self.state
            .metrics
            .block_stage
            .with_label_values(&[stage])
            .observe(started.elapsed().as_secs_f64());
    }

    fn commit_executed(&self, executed: &ExecutedBlock, seal: &[u8]) -> Result<(), AppError> {
        let started = Instant::now();
        let parent_timestamp = self
            .state
            .chain
            .store()
            .header(executed.block.header.number.saturating_sub(1))
            .map_err(|e| AppError::Fatal(e.to_string()))?
            .map_or(0, |h| h.timestamp);
        self.state
            .chain
            .commit_sealed(executed, Some(seal))
            .map_err(app_error)?;
        self.executed.lock().clear();
        sealer::announce(&self.state, executed, parent_timestamp);
        self.observe("commit", started);
        Ok(())
    }
}

fn app_error(error: BlockError) -> AppError {
    match error {
        BlockError::Invalid { .. } => AppError::Invalid(error.to_string()),
        BlockError::NotOnHead { number, .. } => AppError::NotOnHead {
            number,
            head: number.saturating_sub(1),
        },
        BlockError::Store(_) | BlockError::Internal(_) => AppError::Fatal(error.to_string()),
    }
}

impl Application for ChainApp {
    fn head(&self) -> Result<(u64, [u8; 32]), AppError> {
        let head = self
            .state
            .chain
            .store()
            .head()
            .map_err(|e| AppError::Fatal(e.to_string()))?
            .ok_or_else(|| AppError::Fatal("the database has no head block".into()))?;
        Ok((head.number, head.hash_slow().0))
    }

    fn genesis_hash(&self) -> [u8; 32] {
        self.genesis_hash
    }

    fn propose(&self, height: u64) -> Result<Block, AppError> {
        let started = Instant::now();
        let (executed, parent) = sealer::build_on_head(&self.state).map_err(app_error)?;
        self.observe("build", started);
        if parent.number + 1 != height {
            return Err(AppError::NotOnHead {
                number: height,
                head: parent.number,
            });
        }
        let block = executed.block.clone();
        self.keep(executed);
        Ok(block)
    }

    fn validate(&self, block: &Block) -> Result<bool, AppError> {
        let hash = block.header.hash_slow();
        if self.executed.lock().contains_key(&hash) {
            return Ok(true);
        }
        let parent_timestamp = self
            .state
            .chain
            .store()
            .head()
            .map_err(|e| AppError::Fatal(e.to_string()))?
            .map_or(0, |h| h.timestamp);
        let latest_allowed = sealer::unix_now().max(parent_timestamp + 1) + TIMESTAMP_DRIFT_MAX_S;
        if block.header.timestamp > latest_allowed {
            warn!(
                target: "consensus",
                number = block.header.number,
                timestamp = block.header.timestamp,
                latest_allowed,
                "proposal's timestamp is too far in the future"
            );
            return Ok(false);
        }
        // The pool recovered the senders of the transactions it holds
        // when they arrived; the proposal's are mostly those.
        let known: Vec<Option<Address>> = {
            let pool = self.state.pool.lock();
            block
                .body
                .transactions
                .iter()
                .map(|tx| pool.get(tx.tx_hash()).map(|pooled| pooled.signer()))
                .collect()
        };
        let started = Instant::now();
        match self.state.chain.execute_with_senders(block.clone(), &known) {
            Ok(executed) => {
                self.observe("validate", started);
                self.keep(executed);
                Ok(true)
            }
            Err(error @ BlockError::Invalid { .. }) => {
                warn!(target: "consensus", %error, "invalid proposal");
                Ok(false)
            }
            Err(error) => Err(app_error(error)),
        }
    }

    fn commit(&self, hash: [u8; 32], seal: &[u8]) -> Result<(), AppError> {
        // Taken, not copied (its state and trie updates are large): a
        // commit clears the kept blocks, and one that fails ends the engine.
        let executed = self.executed.lock().remove(&B256::from(hash));
        let Some(executed) = executed else {
            return Err(AppError::Fatal(format!(
                "decided block {} was never executed here",
                B256::from(hash)
            )));
        };
        self.commit_executed(&executed, seal)
    }

    fn import(&self, block: Block, seal: &[u8]) -> Result<(), AppError> {
        let hash = block.header.hash_slow();
        let cached = self.executed.lock().remove(&hash);
        let executed = match cached {
            Some(executed) => executed,
            None => {
                let started = Instant::now();
                let executed = self.state.chain.execute(block).map_err(app_error)?;
                self.observe("import", started);
                executed
            }
        };
        self.commit_executed(&executed, seal)
    }

    fn synced_blocks(
        &self,
        from: u64,
        count: u32,
        bytes_max: usize,
    ) -> Result<Vec<Vec<u8>>, AppError> {
        let store = self.state.chain.store();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for number in from..from.saturating_add(u64::from(count)) {
            let fatal = |e: outrigger_execution::StoreError| AppError::Fatal(e.to_string());
            let (Some(block), Some(seal)) = (
                store.block(number).map_err(fatal)?,
                store.seal(number).map_err(fatal)?,
            ) else {
                break;
            };
            let encoded = codec::encode_synced_block(&seal, &block);
            if !out.is_empty() && bytes + encoded.len() > bytes_max {
                break;
            }
            bytes += encoded.len();
            out.push(encoded);
        }
        Ok(out)
    }

    fn on_transaction(&self, bytes: &[u8]) -> TransactionVerdict {
        let batch = match decode_tx_batch(bytes) {
            Ok(batch) => batch,
            Err(error) => {
                debug!(target: "txpool", %error, "rejected a gossiped transaction batch");
                return TransactionVerdict::Rejected;
            }
        };
        let rules = self.state.pool.lock().validation_rules();
        // Every transaction must pass the stateless checks (the relaying
        // peer made them too) before any enters the pool.
        let mut txs = Vec::with_capacity(batch.len());
        for bytes in &batch {
            match validate_stateless(bytes, &rules) {
                Ok((tx, _)) => txs.push(tx),
                Err(error) => {
                    debug!(target: "txpool", %error, "rejected a gossiped transaction");
                    return TransactionVerdict::Rejected;
                }
            }
        }
        let mut accepted = false;
        for tx in txs {
            accepted |= crate::rpc::pool_validated(&self.state, tx).is_ok();
        }
        if accepted {
            TransactionVerdict::Accepted
        } else {
            TransactionVerdict::Ignored
        }
    }

    fn validators(&self, height: u64) -> Result<Option<EpochValidators>, AppError> {
        let fatal = |e: outrigger_execution::StoreError| AppError::Fatal(e.to_string());
        let Some(epochs) = self.state.chain.spec().epochs else {
            return Err(AppError::Fatal("the chain has no validator set".into()));
        };
        let store = self.state.chain.store();
        let epoch = epochs.epoch_of(height);
        let first_height = epoch * epochs.blocks;
        let head = store.head_number().map_err(fatal)?.unwrap_or(0);
        // Epoch e's set is fixed by block e * blocks - 1.
        if first_height > head + 1 {
            return Ok(None);
        }
        if let Some((cached, validators)) = self.last_epoch.lock().as_ref()
            && *cached == epoch
        {
            return Ok(Some(validators.clone()));
        }
        let set = store
            .epoch_set(epoch)
            .map_err(fatal)?
            .ok_or_else(|| AppError::Fatal(format!("no validator set stored for epoch {epoch}")))?;
        let validators = set
            .validators
            .iter()
            .map(|v| {
                VerifyingKey::from_bytes(&v.key.0)
                    .map(|public_key| Validator {
                        public_key,
                        power: v.power,
                    })
                    .map_err(|e| AppError::Fatal(format!("stored validator key {}: {e}", v.key)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let validators = EpochValidators {
            first_height,
            validators,
        };
        *self.last_epoch.lock() = Some((epoch, validators.clone()));
        Ok(Some(validators))
    }

    fn on_evidence(&self, evidence: Vec<u8>) {
        self.state.evidence.add(&self.state, evidence);
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Bytes;

    use super::{TX_GOSSIP_BATCH_MAX, decode_tx_batch, encode_tx_batch};

    #[test]
    fn transaction_batches_round_trip_and_bad_ones_are_refused() {
        let txs = vec![
            Bytes::from_static(&[2, 1, 2, 3]),
            Bytes::from(vec![0xf8; 300]),
        ];
        assert_eq!(decode_tx_batch(&encode_tx_batch(&txs)).unwrap(), txs);

        let empty = encode_tx_batch(&[]);
        assert!(
            decode_tx_batch(&empty)
                .unwrap_err()
                .contains("0 transactions")
        );
        let many = vec![Bytes::from_static(&[1]); TX_GOSSIP_BATCH_MAX + 1];
        assert!(
            decode_tx_batch(&encode_tx_batch(&many))
                .unwrap_err()
                .contains("257")
        );
        let mut trailing = encode_tx_batch(&txs);
        trailing.push(0);
        assert!(
            decode_tx_batch(&trailing)
                .unwrap_err()
                .contains("1 bytes after")
        );
        // A bare transaction (what version 1 of the topic carried) is not a list.
        assert!(decode_tx_batch(&[2, 1, 2, 3]).is_err());
    }
}
