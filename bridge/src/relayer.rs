//! The relayer: one task that, every `poll_interval_ms`, scans both chains
//! for new bridge events up to what is final, stores them with the cursor
//! (see [`crate::store`]), follows its unmined transactions, and works on
//! each unfinished message, checking on chain first whether the work is
//! already done:
//!
//! - a deposit: done when the sidechain's `incoming(nonce)` has a status;
//!   else, unless its vote is in `confirmations(d)`, send `confirmDeposit`;
//! - a withdrawal: done when L1's `incoming(nonce)` has a status; else sign
//!   its EIP-712 digest and post it (`submitSignature`) unless `hasSigned`;
//!   once a threshold of current L1 relayers has signed, the relayer at
//!   position `(nonce + k) mod n` in L1's sorted relayer list finalizes it on
//!   L1, where `k` counts the `finalize_fallback_ms` periods since this
//!   relayer saw the threshold: if the chosen one is down, the next takes over.
//!
//! Errors back off exponentially (from `poll_interval_ms` to `backoff_max_ms`);
//! the work of a round is idempotent, so a failed round is simply run again.

use std::{sync::Arc, time::Duration};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall as _, SolEvent as _};
use tokio::{sync::watch, task::JoinHandle};
use tracing::{info, warn};

use crate::{
    config::{Finality, RelayerConfig},
    contracts::{self, L1Bridge, SidechainBridge},
    metrics::{self, RelayerMetrics},
    rpc::{RpcClient, RpcError},
    store::{
        Chain, DepositRecord, Identity, Message, Purpose, Queue, StoreError, WithdrawalRecord,
    },
    submitter::{SubmitError, Submitter, SubmitterSettings, TxOutcome, now_ms},
};

/// What stops the relayer.
#[derive(Debug, thiserror::Error)]
pub enum RelayerError {
    /// A node could not be asked.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The queue failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sending failed.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// A chain is not the configured one.
    #[error("{chain}: the RPC endpoint serves chain {actual}, the configuration says {configured}")]
    WrongChain {
        /// Which.
        chain: &'static str,
        /// Served.
        actual: u64,
        /// Configured.
        configured: u64,
    },
    /// The configured bridge and the other side disagree.
    #[error(
        "withdrawal {nonce}: the sidechain's digest {onchain} differs from ours {ours}: check l1.chain_id and l1.bridge"
    )]
    DigestMismatch {
        /// Withdrawal nonce.
        nonce: U256,
        /// The sidechain's.
        onchain: B256,
        /// Ours.
        ours: B256,
    },
    /// Metrics could not be set up.
    #[error("metrics: {0}")]
    Metrics(String),
    /// A bad event.
    #[error("{chain} block {block}: undecodable bridge event: {reason}")]
    BadEvent {
        /// Which chain.
        chain: &'static str,
        /// Block.
        block: u64,
        /// Why.
        reason: String,
    },
}

impl RelayerError {
    /// A bounded label for the errors metric.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rpc(e) => e.kind(),
            Self::Store(_) => "store",
            Self::Submit(e) => e.kind(),
            Self::WrongChain { .. } => "wrong_chain",
            Self::DigestMismatch { .. } => "digest_mismatch",
            Self::Metrics(_) => "metrics",
            Self::BadEvent { .. } => "bad_event",
        }
    }
}

/// Result of relayer work.
pub type RelayerResult<T> = Result<T, RelayerError>;

/// A running relayer.
#[derive(Debug)]
pub struct RelayerHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Its metrics.
    pub metrics: Arc<RelayerMetrics>,
}

impl RelayerHandle {
    /// Stops after the current step and waits for it.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Opens the queue and starts the relayer task. Serving its metrics is the
/// caller's (`handle.metrics.render()`).
pub async fn spawn(
    config: RelayerConfig,
    signer: PrivateKeySigner,
) -> RelayerResult<RelayerHandle> {
    let queue = Arc::new(Queue::open(&config.data_dir)?);
    queue.check_identity(&Identity {
        relayer: signer.address(),
        l1: (config.l1.chain.chain_id, config.l1.chain.bridge),
        sidechain: (config.sidechain.chain_id, config.sidechain.bridge),
    })?;
    let metrics =
        Arc::new(RelayerMetrics::new().map_err(|e| RelayerError::Metrics(e.to_string()))?);
    let (shutdown, stop) = watch::channel(false);
    let relayer = Relayer::new(config, signer, queue, metrics.clone())?;
    info!(target: "relayer", address = %relayer.me, "relayer started");
    let task = tokio::spawn(relayer.run(stop));
    Ok(RelayerHandle {
        shutdown,
        task,
        metrics,
    })
}

struct Relayer {
    config: RelayerConfig,
    me: Address,
    signer: PrivateKeySigner,
    l1: Arc<RpcClient>,
    sidechain: Arc<RpcClient>,
    queue: Arc<Queue>,
    l1_sender: Submitter,
    sidechain_sender: Submitter,
    metrics: Arc<RelayerMetrics>,
    started: bool,
}

/// The relayer set of one bridge, read once per round.
struct RelayerSet {
    relayers: Vec<Address>,
    threshold: usize,
}

impl RelayerSet {
    fn position(&self, who: Address) -> Option<usize> {
        self.relayers.iter().position(|r| *r == who)
    }
}

impl Relayer {
    fn new(
        config: RelayerConfig,
        signer: PrivateKeySigner,
        queue: Arc<Queue>,
        metrics: Arc<RelayerMetrics>,
    ) -> RelayerResult<Self> {
        let l1 = Arc::new(RpcClient::new(
            "l1",
            &config.l1.chain.rpc_urls,
            config.l1.chain.rpc_timeout(),
        )?);
        let sidechain = Arc::new(RpcClient::new(
            "sidechain",
            &config.sidechain.rpc_urls,
            config.sidechain.rpc_timeout(),
        )?);
        let settings = |chain_id, cap| SubmitterSettings {
            chain_id,
            reprice_after: Duration::from_millis(config.submit.reprice_after_ms),
            fee_bump_percent: config.submit.fee_bump_percent,
            max_fee_cap: cap,
            in_flight_max: config.submit.in_flight_max,
        };
        let l1_sender = Submitter::new(
            Chain::L1,
            l1.clone(),
            queue.clone(),
            signer.clone(),
            settings(
                config.l1.chain.chain_id,
                u128::from(config.l1.chain.max_fee_per_gas_cap),
            ),
            metrics.clone(),
        );
        let sidechain_sender = Submitter::new(
            Chain::Sidechain,
            sidechain.clone(),
            queue.clone(),
            signer.clone(),
            settings(
                config.sidechain.chain_id,
                u128::from(config.sidechain.max_fee_per_gas_cap),
            ),
            metrics.clone(),
        );
        Ok(Self {
            me: signer.address(),
            config,
            signer,
            l1,
            sidechain,
            queue,
            l1_sender,
            sidechain_sender,
            metrics,
            started: false,
        })
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let backoff_max = Duration::from_millis(self.config.backoff_max_ms);
        let mut wait = poll;
        loop {
            let errors = self.round().await;
            if errors.is_empty() {
                wait = poll;
            } else {
                for error in &errors {
                    self.metrics.error(error.kind());
                    warn!(target: "relayer", %error, retry_in_ms = wait.as_millis() as u64, "relayer round failed");
                }
                wait = (wait * 2).min(backoff_max);
            }
            tokio::select! {
                () = metrics::stopped(&mut stop) => {
                    info!(target: "relayer", "relayer stopped");
                    return;
                }
                () = tokio::time::sleep(if errors.is_empty() { poll } else { wait }) => {}
            }
        }
    }

    /// One round; each step runs even if an earlier one failed (an L1
    /// outage does not stop sidechain work), and every failure is returned.
    async fn round(&mut self) -> Vec<RelayerError> {
        let mut errors = Vec::new();
        if !self.started {
            match self.start().await {
                Ok(()) => self.started = true,
                Err(error) => {
                    errors.push(error);
                    return errors;
                }
            }
        }
        if let Err(e) = self.scan_l1().await {
            errors.push(e);
        }
        if let Err(e) = self.scan_sidechain().await {
            errors.push(e);
        }
        if let Err(e) = self.track(Chain::Sidechain).await {
            errors.push(e);
        }
        if let Err(e) = self.track(Chain::L1).await {
            errors.push(e);
        }
        if let Err(e) = self.work_deposits().await {
            errors.push(e);
        }
        if let Err(e) = self.work_withdrawals().await {
            errors.push(e);
        }
        if let Err(e) = self.observe().await {
            errors.push(e);
        }
        errors
    }

    /// Checks both chain ids and re-sends what was in flight at the last stop.
    async fn start(&mut self) -> RelayerResult<()> {
        for (rpc, configured) in [
            (&self.l1, self.config.l1.chain.chain_id),
            (&self.sidechain, self.config.sidechain.chain_id),
        ] {
            let actual = rpc.chain_id().await?;
            if actual != configured {
                return Err(RelayerError::WrongChain {
                    chain: rpc.chain(),
                    actual,
                    configured,
                });
            }
        }
        self.sidechain_sender.resend_all().await?;
        self.l1_sender.resend_all().await?;
        Ok(())
    }

    /// The L1 block treated as final.
    async fn l1_final(&self, head: u64) -> RelayerResult<u64> {
        Ok(match self.config.l1.finality {
            Finality::Finalized => self
                .l1
                .header("finalized")
                .await?
                .map_or(0, |h| h.number.to::<u64>()),
            Finality::Confirmations => head.saturating_sub(self.config.l1.confirmations),
        })
    }

    async fn scan_l1(&mut self) -> RelayerResult<()> {
        let head = self.l1.block_number().await?;
        let final_block = self.l1_final(head).await?.min(head);
        self.metrics.l1_head.set(head as i64);
        self.metrics.l1_final.set(final_block as i64);
        let chain = &self.config.l1.chain;
        let from = self
            .queue
            .cursor(Chain::L1)?
            .map_or(chain.start_block, |c| c + 1);
        self.metrics
            .cursor_lag
            .with_label_values(&["l1"])
            .set(final_block.saturating_sub(from.saturating_sub(1)) as i64);
        if from > final_block {
            return Ok(());
        }
        let (pending, _) = self.queue.pending(self.config.pending_max)?;
        if pending >= self.config.pending_max {
            warn!(target: "relayer", pending, "deposit queue full: not scanning L1 until it drains");
            return Ok(());
        }
        let to = final_block.min(from.saturating_add(chain.log_range_max - 1));
        let logs = self
            .l1
            .logs(chain.bridge, L1Bridge::Deposit::SIGNATURE_HASH, from, to)
            .await?;
        let mut records = Vec::with_capacity(logs.len());
        for log in logs {
            let block = log.block_number.unwrap_or_default();
            if log.removed || log.address() != chain.bridge || block > to {
                continue;
            }
            let event =
                L1Bridge::Deposit::decode_log(&log.inner).map_err(|e| RelayerError::BadEvent {
                    chain: "l1",
                    block,
                    reason: e.to_string(),
                })?;
            let d = event.data;
            info!(target: "relayer", nonce = %d.nonce, token = %d.token, to = %d.to, amount = %d.amount, l1_block = block, "deposit final on L1");
            records.push(DepositRecord {
                message: Message {
                    nonce: d.nonce,
                    token: d.token,
                    home_l1: d.homeL1,
                    from: d.from,
                    to: d.to,
                    amount: d.amount,
                },
                l1_block: block,
                l1_tx: log.transaction_hash.unwrap_or_default(),
                seen_at_ms: now_ms(),
                voted: false,
            });
        }
        let added = self.queue.add_deposits(&records, to)?;
        self.metrics
            .deposits
            .with_label_values(&["seen"])
            .inc_by(added as u64);
        self.metrics
            .cursor_lag
            .with_label_values(&["l1"])
            .set(final_block.saturating_sub(to) as i64);
        Ok(())
    }

    async fn scan_sidechain(&mut self) -> RelayerResult<()> {
        // The sidechain's BFT finality makes its head final.
        let head = self.sidechain.block_number().await?;
        self.metrics.sidechain_head.set(head as i64);
        let chain = &self.config.sidechain;
        let from = self
            .queue
            .cursor(Chain::Sidechain)?
            .map_or(chain.start_block, |c| c + 1);
        if from > head {
            self.metrics
                .cursor_lag
                .with_label_values(&["sidechain"])
                .set(0);
            return Ok(());
        }
        let (_, pending) = self.queue.pending(self.config.pending_max)?;
        if pending >= self.config.pending_max {
            warn!(target: "relayer", pending, "withdrawal queue full: not scanning the sidechain until it drains");
            return Ok(());
        }
        let to = head.min(from.saturating_add(chain.log_range_max - 1));
        let logs = self
            .sidechain
            .logs(
                chain.bridge,
                SidechainBridge::WithdrawalRequested::SIGNATURE_HASH,
                from,
                to,
            )
            .await?;
        let mut records = Vec::with_capacity(logs.len());
        for log in logs {
            let block = log.block_number.unwrap_or_default();
            if log.removed || log.address() != chain.bridge || block > to {
                continue;
            }
            let event =
                SidechainBridge::WithdrawalRequested::decode_log(&log.inner).map_err(|e| {
                    RelayerError::BadEvent {
                        chain: "sidechain",
                        block,
                        reason: e.to_string(),
                    }
                })?;
            let w = event.data;
            info!(target: "relayer", nonce = %w.nonce, token = %w.token, to = %w.to, amount = %w.amount, sidechain_block = block, "withdrawal requested");
            records.push(WithdrawalRecord {
                message: Message {
                    nonce: w.nonce,
                    token: w.token,
                    home_l1: w.homeL1,
                    from: w.from,
                    to: w.to,
                    amount: w.amount,
                },
                digest: w.digest,
                sidechain_block: block,
                seen_at_ms: now_ms(),
                signed: false,
                threshold_at_ms: None,
            });
        }
        let added = self.queue.add_withdrawals(&records, to)?;
        self.metrics
            .withdrawals
            .with_label_values(&["seen"])
            .inc_by(added as u64);
        self.metrics
            .cursor_lag
            .with_label_values(&["sidechain"])
            .set(head.saturating_sub(to) as i64);
        Ok(())
    }

    async fn track(&mut self, chain: Chain) -> RelayerResult<()> {
        let sender = match chain {
            Chain::L1 => &self.l1_sender,
            Chain::Sidechain => &self.sidechain_sender,
        };
        for outcome in sender.track().await? {
            let (label, purpose) = match &outcome {
                TxOutcome::Mined { purpose, receipt } if receipt.succeeded() => ("mined", *purpose),
                TxOutcome::Mined { purpose, receipt } => {
                    // Usually a lost race (another relayer's vote executed
                    // first): the next round checks the chain and moves on.
                    warn!(target: "relayer", chain = chain.name(), purpose = purpose.label(), hash = %receipt.transaction_hash, "transaction reverted");
                    self.metrics.error("reverted");
                    ("reverted", *purpose)
                }
                TxOutcome::Dropped { purpose } => ("dropped", *purpose),
                TxOutcome::Repriced { purpose } => ("repriced", *purpose),
            };
            self.metrics
                .transactions
                .with_label_values(&[chain.name(), label])
                .inc();
            if label == "mined" {
                match purpose {
                    Purpose::ConfirmDeposit(_) => {
                        self.metrics.deposits.with_label_values(&["voted"]).inc();
                    }
                    Purpose::SubmitSignature(_) => self.metrics.signatures.inc(),
                    Purpose::FinalizeWithdrawal(_) => {
                        self.metrics
                            .withdrawals
                            .with_label_values(&["finalized_by_us"])
                            .inc();
                    }
                }
            }
        }
        Ok(())
    }

    async fn relayer_set(&self, chain: Chain) -> RelayerResult<RelayerSet> {
        let (rpc, bridge) = match chain {
            Chain::L1 => (&self.l1, self.config.l1.chain.bridge),
            Chain::Sidechain => (&self.sidechain, self.config.sidechain.bridge),
        };
        // Both bridges share BridgeCore's views; the L1 binding encodes them.
        let relayers = rpc.call(bridge, &L1Bridge::relayersCall {}).await?;
        let threshold = rpc.call(bridge, &L1Bridge::thresholdCall {}).await?;
        Ok(RelayerSet {
            relayers,
            threshold: threshold.saturating_to(),
        })
    }

    async fn work_deposits(&mut self) -> RelayerResult<()> {
        let records = self.queue.deposits(self.config.work_batch_max)?;
        if records.is_empty() {
            return Ok(());
        }
        let bridge = self.config.sidechain.bridge;
        let set = self.relayer_set(Chain::Sidechain).await?;
        let Some(position) = set.position(self.me) else {
            warn!(target: "relayer", address = %self.me, "not a relayer of the sidechain bridge: not voting");
            self.metrics.error("not_relayer");
            return Ok(());
        };
        for mut record in records {
            let nonce = record.message.nonce;
            let incoming = self
                .sidechain
                .call(bridge, &SidechainBridge::incomingCall(nonce))
                .await?;
            if incoming.status != 0 {
                info!(target: "relayer", %nonce, status = incoming.status, "deposit done on the sidechain");
                self.queue.remove_deposit(nonce)?;
                self.metrics.deposits.with_label_values(&["done"]).inc();
                continue;
            }
            let votes = self
                .sidechain
                .call(
                    bridge,
                    &SidechainBridge::confirmationsCall {
                        d: record.message.sidechain_deposit(),
                    },
                )
                .await?;
            if votes.bitmap.bit(position) {
                if !record.voted {
                    record.voted = true;
                    self.queue.put_deposit(&record)?;
                }
                continue;
            }
            let purpose = Purpose::ConfirmDeposit(nonce);
            if self.sidechain_sender.has_in_flight(purpose)? {
                continue;
            }
            if !self.sidechain_sender.has_room()? {
                break;
            }
            let input = SidechainBridge::confirmDepositCall {
                d: record.message.sidechain_deposit(),
            }
            .abi_encode();
            self.sidechain_sender
                .send(
                    purpose,
                    bridge,
                    Bytes::from(input),
                    self.config.submit.confirm_gas,
                )
                .await?;
        }
        Ok(())
    }

    async fn work_withdrawals(&mut self) -> RelayerResult<()> {
        let records = self.queue.withdrawals(self.config.work_batch_max)?;
        if records.is_empty() {
            return Ok(());
        }
        let l1_bridge = self.config.l1.chain.bridge;
        let side_bridge = self.config.sidechain.bridge;
        let l1_set = self.relayer_set(Chain::L1).await?;
        for mut record in records {
            let nonce = record.message.nonce;
            let incoming = self
                .l1
                .call(l1_bridge, &L1Bridge::incomingCall(nonce))
                .await?;
            if incoming.status != 0 {
                info!(target: "relayer", %nonce, status = incoming.status, "withdrawal done on L1");
                self.queue.remove_withdrawal(nonce)?;
                self.metrics.withdrawals.with_label_values(&["done"]).inc();
                continue;
            }
            if !record.signed {
                self.sign_withdrawal(&mut record).await?;
                if !record.signed {
                    continue;
                }
            }
            let (signers, signatures) =
                collected_signatures(&self.sidechain, side_bridge, nonce, &l1_set.relayers).await?;
            if signers.len() < l1_set.threshold || l1_set.relayers.is_empty() {
                continue;
            }
            let now = now_ms();
            let since = match record.threshold_at_ms {
                Some(at) => at,
                None => {
                    record.threshold_at_ms = Some(now);
                    self.queue.put_withdrawal(&record)?;
                    now
                }
            };
            let elapsed_ms = now.saturating_sub(since);
            let fallback_ms = self.config.submit.finalize_fallback_ms;
            if finalizer(&l1_set.relayers, nonce, elapsed_ms, fallback_ms) != Some(self.me) {
                continue;
            }
            let periods = elapsed_ms / fallback_ms.max(1);
            let purpose = Purpose::FinalizeWithdrawal(nonce);
            if self.l1_sender.has_in_flight(purpose)? || !self.l1_sender.has_room()? {
                continue;
            }
            info!(target: "relayer", %nonce, signatures = signers.len(), threshold = l1_set.threshold, periods, "finalizing the withdrawal on L1");
            let input = L1Bridge::finalizeWithdrawalCall {
                w: record.message.withdrawal(),
                signatures: signatures.into_iter().take(l1_set.threshold).collect(),
            }
            .abi_encode();
            self.l1_sender
                .send(
                    purpose,
                    l1_bridge,
                    Bytes::from(input),
                    self.config.submit.finalize_gas,
                )
                .await?;
        }
        Ok(())
    }

    /// Signs and posts this relayer's signature unless it is on chain; sets
    /// `record.signed` once it is.
    async fn sign_withdrawal(&mut self, record: &mut WithdrawalRecord) -> RelayerResult<()> {
        let nonce = record.message.nonce;
        let side_bridge = self.config.sidechain.bridge;
        let signed = self
            .sidechain
            .call(
                side_bridge,
                &SidechainBridge::hasSignedCall {
                    _0: nonce,
                    _1: self.me,
                },
            )
            .await?;
        if signed {
            record.signed = true;
            self.queue.put_withdrawal(record)?;
            self.metrics
                .withdrawals
                .with_label_values(&["signed"])
                .inc();
            return Ok(());
        }
        let purpose = Purpose::SubmitSignature(nonce);
        if self.sidechain_sender.has_in_flight(purpose)? || !self.sidechain_sender.has_room()? {
            return Ok(());
        }
        // Sign what we computed from the event's fields for the configured
        // L1 bridge, never the digest we were handed: a sidechain bridge
        // configured with another L1 would otherwise get valid signatures.
        let m = &record.message;
        let ours = contracts::withdrawal_digest(
            &contracts::withdrawal(
                self.config.sidechain.chain_id,
                side_bridge,
                m.nonce,
                m.token,
                m.home_l1,
                m.from,
                m.to,
                m.amount,
            ),
            self.config.l1.chain.chain_id,
            self.config.l1.chain.bridge,
        );
        if ours != record.digest {
            return Err(RelayerError::DigestMismatch {
                nonce,
                onchain: record.digest,
                ours,
            });
        }
        let signature = self
            .signer
            .sign_hash_sync(&ours)
            .map_err(|e| SubmitError::Sign {
                chain: "sidechain",
                purpose: "submit_signature",
                nonce: 0,
                reason: e.to_string(),
            })?;
        let input = SidechainBridge::submitSignatureCall {
            nonce,
            signature: Bytes::from(signature.as_bytes().to_vec()),
        }
        .abi_encode();
        self.sidechain_sender
            .send(
                purpose,
                side_bridge,
                Bytes::from(input),
                self.config.submit.signature_gas,
            )
            .await?;
        Ok(())
    }

    /// Gas balances, queue sizes and solvency.
    async fn observe(&mut self) -> RelayerResult<()> {
        let (deposits, withdrawals) = self.queue.pending(self.config.pending_max)?;
        self.metrics
            .pending
            .with_label_values(&["deposit"])
            .set(deposits as i64);
        self.metrics
            .pending
            .with_label_values(&["withdrawal"])
            .set(withdrawals as i64);
        for (label, rpc) in [("l1", &self.l1), ("sidechain", &self.sidechain)] {
            let balance = rpc.balance(self.me).await?;
            self.metrics
                .gas_balance
                .with_label_values(&[label])
                .set(u256_f64(balance));
        }
        let solvency = crate::solvency(
            &self.l1,
            &self.sidechain,
            self.config.l1.chain.bridge,
            self.config.sidechain.bridge,
            self.config.sidechain_native_supply,
            &self.config.solvency_tokens,
        )
        .await?;
        for entry in solvency {
            let label = entry.token.to_string();
            self.metrics
                .l1_locked
                .with_label_values(&[&label])
                .set(u256_f64(entry.l1_locked));
            if let Some(minted) = entry.sidechain_minted {
                self.metrics
                    .sidechain_minted
                    .with_label_values(&[&label])
                    .set(u256_f64(minted));
            }
        }
        Ok(())
    }
}

/// The relayer that finalizes withdrawal `nonce` on L1, `elapsed_ms` after
/// its threshold was seen: position `nonce mod n` of L1's sorted relayer
/// list first, then the next one after each `fallback_ms` without it done.
pub fn finalizer(
    relayers: &[Address],
    nonce: U256,
    elapsed_ms: u64,
    fallback_ms: u64,
) -> Option<Address> {
    let n = relayers.len();
    if n == 0 {
        return None;
    }
    let base = (nonce % U256::from(n)).saturating_to::<usize>();
    let periods = (elapsed_ms / fallback_ms.max(1)) % n as u64;
    relayers.get((base + periods as usize) % n).copied()
}

/// The signatures of withdrawal `nonce` posted on the sidechain by members
/// of `relayers` (L1's current set), sorted by signer as L1 wants them.
pub async fn collected_signatures(
    sidechain: &RpcClient,
    bridge: Address,
    nonce: U256,
    relayers: &[Address],
) -> Result<(Vec<Address>, Vec<Bytes>), RpcError> {
    let posted = sidechain
        .call(bridge, &SidechainBridge::signaturesOfCall { nonce })
        .await?;
    Ok(posted
        .signers
        .into_iter()
        .zip(posted.signatures)
        .filter(|(signer, _)| relayers.contains(signer))
        .unzip())
}

fn u256_f64(value: U256) -> f64 {
    f64::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalizer_rotates_from_the_nonce_after_each_fallback_period() {
        let set: Vec<Address> = (1..=3).map(Address::repeat_byte).collect();
        let at = |nonce: u64, elapsed: u64| finalizer(&set, U256::from(nonce), elapsed, 1_000);
        // Every relayer computes the same first choice from the nonce alone.
        assert_eq!(at(1, 0), Some(set[1]));
        assert_eq!(at(3, 999), Some(set[0]));
        // Then, one period later each, the next ones in order, wrapping around.
        assert_eq!(at(1, 1_000), Some(set[2]));
        assert_eq!(at(1, 2_500), Some(set[0]));
        assert_eq!(at(1, 3_000), Some(set[1]));
        assert_eq!(finalizer(&[], U256::from(1), 0, 1_000), None);
    }
}
