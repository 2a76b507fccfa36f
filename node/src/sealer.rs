//! Block production for a single-validator chain: every `block.time_ms`
//! (empty blocks included), or, with `0`, as soon as transactions arrive.
//! A block counts as sealed once its write batch is on disk; a crash after
//! that loses nothing, a crash before loses only the unsealed block.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, keccak256};
use outrigger_execution::{
    BlockAttributes, BlockError, ExecutedBlock, Header, executor::TransactionSource,
    txpool::HeadParams,
};
use tokio::sync::watch;
use tracing::{error, info};

use crate::node::{NodeState, SealedHead};

/// Extra data in every sealed block.
const EXTRA_DATA: &[u8] = b"outrigger";
/// Wait after a block failed to build before trying again.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Seals blocks until `shutdown` turns true. Returns an error only when the
/// node cannot go on (the store failed).
pub async fn run(state: Arc<NodeState>, mut shutdown: watch::Receiver<bool>) -> eyre::Result<()> {
    let time_ms = state.config.block.time_ms;
    let mut ticker = (time_ms > 0).then(|| {
        let mut ticker = tokio::time::interval(Duration::from_millis(time_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    });
    if let Some(ticker) = &mut ticker {
        // The first tick completes at once; the first block comes one period in.
        ticker.tick().await;
    }
    loop {
        tokio::select! {
            () = crate::node::stopped(&mut shutdown) => return Ok(()),
            _ = async {
                match &mut ticker {
                    Some(ticker) => { ticker.tick().await; }
                    None => state.tx_arrived.notified().await,
                }
            } => {}
        }
        // Instant sealing: a wake-up for a transaction that cannot go in
        // (nonce gap, fee below the base fee) seals nothing.
        if ticker.is_none() && !state.pool.lock().has_executable() {
            continue;
        }
        // Instant sealing keeps going while the pool has executable
        // transactions (more may wait than fit in one block).
        loop {
            let sealing = state.clone();
            let sealed = tokio::task::spawn_blocking(move || seal_block(&sealing)).await?;
            match sealed {
                Ok(txs) if ticker.is_none() && txs > 0 && state.pool.lock().has_executable() => {}
                Ok(_) => break,
                Err(BlockError::Store(error)) => {
                    error!(target: "sealer", %error, "the store failed; stopping block production");
                    return Err(error.into());
                }
                Err(BlockError::Internal(error)) => {
                    error!(target: "sealer", %error, "building failed inside the node; stopping block production");
                    return Err(eyre::eyre!(error));
                }
                Err(error) => {
                    error!(target: "sealer", %error, "building a block failed; retrying");
                    tokio::time::sleep(RETRY_DELAY).await;
                    break;
                }
            }
        }
    }
}

/// Builds, commits and announces one block on the head; returns its
/// transaction count.
pub fn seal_block(state: &NodeState) -> Result<usize, BlockError> {
    let _sealing = state.seal_lock.lock();
    let (executed, parent) = build_on_head(state)?;
    state.chain.commit(&executed)?;
    announce(state, &executed, parent.timestamp);
    Ok(executed.block.body.transactions.len())
}

/// Builds the next block on the head from the pool's best transactions,
/// executed and ready to commit; returns it with its parent header.
pub fn build_on_head(state: &NodeState) -> Result<(ExecutedBlock, Header), BlockError> {
    let chain = &state.chain;
    let store = chain.store();
    let parent = store.head()?.ok_or_else(|| {
        BlockError::Store(outrigger_execution::StoreError::Corrupt {
            what: "head",
            detail: "no head block".into(),
        })
    })?;
    let next = HeadParams::after(chain.spec(), &parent);
    let mut candidates = Limited {
        inner: state.pool.lock().best_transactions(next.base_fee),
        left: state.config.block.max_transactions,
    };
    let parent_hash = parent.hash_slow();
    let attributes = BlockAttributes {
        timestamp: unix_now().max(parent.timestamp + 1),
        beneficiary: state.config.block.fee_recipient,
        gas_limit: parent.gas_limit,
        extra_data: Bytes::from_static(EXTRA_DATA),
        prev_randao: keccak256(parent_hash),
    };
    let executed = chain.build(&attributes, &mut candidates)?;
    Ok((executed, parent))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// After a block is committed: the pool drops what it included, and
/// subscribers, metrics and the log hear of it.
pub fn announce(state: &NodeState, executed: &ExecutedBlock, parent_timestamp: u64) {
    let chain = &state.chain;
    let header = &executed.block.header;
    let included: Vec<B256> = executed
        .block
        .body
        .transactions
        .iter()
        .map(|tx| *tx.tx_hash())
        .collect();
    let changed: Vec<Address> = executed
        .state
        .accounts
        .iter()
        .map(|(address, _)| *address)
        .collect();
    {
        let mut pool = state.pool.lock();
        if let Err(error) = pool.on_new_block(
            HeadParams::after(chain.spec(), header),
            &included,
            Some(&changed),
            &**chain.store(),
        ) {
            // The pool stays as it was; the next block retries the cleanup.
            error!(target: "sealer", %error, "updating the pool for the new head");
        }
        state
            .metrics
            .txpool_pending
            .set(pool.pending_count() as i64);
        state.metrics.txpool_queued.set(pool.queued_count() as i64);
    }
    // No subscriber is not an error.
    let _ = state.events.blocks.send(Arc::new(SealedHead {
        number: header.number,
        header: crate::rpc::rpc_header(&executed.block, executed.hash),
    }));
    let metrics = &state.metrics;
    metrics
        .height
        .set(i64::try_from(header.number).unwrap_or(i64::MAX));
    metrics
        .block_interval
        .observe(header.timestamp.saturating_sub(parent_timestamp) as f64);
    metrics.block_transactions.observe(included.len() as f64);
    metrics.block_gas_used.observe(header.gas_used as f64);
    info!(
        target: "sealer",
        number = header.number,
        hash = %executed.hash,
        txs = included.len(),
        gas_used = header.gas_used,
        base_fee = header.base_fee_per_gas.unwrap_or_default(),
        "sealed block"
    );
}

/// Offers at most `left` transactions from `inner`.
struct Limited<S> {
    inner: S,
    left: usize,
}

impl<S: TransactionSource> TransactionSource for Limited<S> {
    fn next_transaction(&mut self) -> Option<Recovered<TxEnvelope>> {
        if self.left == 0 {
            return None;
        }
        let tx = self.inner.next_transaction()?;
        self.left -= 1;
        Some(tx)
    }

    fn skip_sender(&mut self, sender: Address) {
        self.inner.skip_sender(sender);
    }
}
