//! Sends the relayer's transactions on one chain and sees them mined:
//! account nonces, EIP-1559 fees, re-pricing of stuck transactions, and the
//! write-ahead record that makes a restart re-send the same transaction
//! rather than a second one.

use std::{sync::Arc, time::Duration};

use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;

use crate::{
    metrics::RelayerMetrics,
    rpc::{Receipt, RpcClient, RpcError},
    store::{Chain, Purpose, Queue, StoreError, TX_HASHES_MAX, TxRecord},
};

/// A failure to send or track a transaction.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The node could not be asked.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The queue failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing failed.
    #[error("{chain}: signing the {purpose} transaction with nonce {nonce}: {reason}")]
    Sign {
        /// The chain.
        chain: &'static str,
        /// What for.
        purpose: &'static str,
        /// Account nonce.
        nonce: u64,
        /// Why.
        reason: String,
    },
}

impl SubmitError {
    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rpc(e) => e.kind(),
            Self::Store(_) => "store",
            Self::Sign { .. } => "sign",
        }
    }
}

/// What became of a tracked transaction this round.
#[derive(Debug)]
pub enum TxOutcome {
    /// Mined (successfully or not).
    Mined {
        /// What it was for.
        purpose: Purpose,
        /// Its receipt.
        receipt: Receipt,
    },
    /// Its nonce was used without any of its versions: dropped.
    Dropped {
        /// What it was for.
        purpose: Purpose,
    },
    /// Re-sent with higher fees.
    Repriced {
        /// What it is for.
        purpose: Purpose,
    },
}

/// Fees and timings of a [`Submitter`].
#[derive(Debug, Clone)]
pub struct SubmitterSettings {
    /// Chain id to sign for.
    pub chain_id: u64,
    /// Re-price after this long unmined.
    pub reprice_after: Duration,
    /// Percentage added to both fees at each re-pricing.
    pub fee_bump_percent: u64,
    /// Never offer more per gas.
    pub max_fee_cap: u128,
    /// Most transactions unmined at once.
    pub in_flight_max: usize,
}

/// The relayer's sender on one chain.
#[derive(Debug)]
pub struct Submitter {
    chain: Chain,
    rpc: Arc<RpcClient>,
    queue: Arc<Queue>,
    signer: PrivateKeySigner,
    settings: SubmitterSettings,
    metrics: Arc<RelayerMetrics>,
}

/// Milliseconds since the unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Submitter {
    /// A sender for `chain` through `rpc`, recording in `queue`.
    pub fn new(
        chain: Chain,
        rpc: Arc<RpcClient>,
        queue: Arc<Queue>,
        signer: PrivateKeySigner,
        settings: SubmitterSettings,
        metrics: Arc<RelayerMetrics>,
    ) -> Self {
        Self {
            chain,
            rpc,
            queue,
            signer,
            settings,
            metrics,
        }
    }

    /// The relayer's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Unmined transactions (at most `in_flight_max` are ever made).
    pub fn in_flight(&self) -> Result<Vec<TxRecord>, SubmitError> {
        Ok(self
            .queue
            .transactions(self.chain, self.settings.in_flight_max.saturating_mul(2))?)
    }

    /// Whether a transaction for `purpose` is unmined.
    pub fn has_in_flight(&self, purpose: Purpose) -> Result<bool, SubmitError> {
        Ok(self.in_flight()?.iter().any(|t| t.purpose == purpose))
    }

    /// Whether another transaction may be sent now.
    pub fn has_room(&self) -> Result<bool, SubmitError> {
        Ok(self.in_flight()?.len() < self.settings.in_flight_max)
    }

    /// Re-sends every recorded, unmined transaction as it was signed (after
    /// a restart the node may have lost them). "Already known" is fine.
    pub async fn resend_all(&self) -> Result<(), SubmitError> {
        for record in self.in_flight()? {
            self.broadcast(&record).await;
        }
        Ok(())
    }

    /// Signs a call of `to` with `input`, records it, then sends it.
    pub async fn send(
        &self,
        purpose: Purpose,
        to: Address,
        input: Bytes,
        gas_limit: u64,
    ) -> Result<TxRecord, SubmitError> {
        let in_flight = self.in_flight()?;
        let chain_nonce = self.rpc.nonce(self.address()).await?;
        let nonce = in_flight
            .iter()
            .map(|t| t.nonce + 1)
            .max()
            .unwrap_or(0)
            .max(chain_nonce);
        let (max_fee, tip) = self.fees().await?;
        let now = now_ms();
        let mut record = TxRecord {
            chain: self.chain,
            nonce,
            purpose,
            to,
            input,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            raw: Bytes::new(),
            hashes: Vec::new(),
            first_sent_ms: now,
            priced_at_ms: now,
        };
        self.sign_into(&mut record)?;
        self.queue.put_transaction(&record)?;
        tracing::info!(
            target: "relayer",
            chain = self.chain.name(),
            purpose = purpose.label(),
            message = %purpose_nonce(purpose),
            nonce,
            hash = ?record.hashes.last(),
            max_fee,
            tip,
            "sending"
        );
        self.metrics
            .transactions
            .with_label_values(&[self.chain.name(), "sent"])
            .inc();
        self.broadcast(&record).await;
        Ok(record)
    }

    /// Looks at every unmined transaction: mined ones are forgotten and
    /// returned; ones unmined past `reprice_after` are re-sent with higher
    /// fees; ones whose nonce was used otherwise are dropped.
    pub async fn track(&self) -> Result<Vec<TxOutcome>, SubmitError> {
        let mut outcomes = Vec::new();
        let records = self.in_flight()?;
        if records.is_empty() {
            return Ok(outcomes);
        }
        let chain_nonce = self.rpc.nonce(self.address()).await?;
        for mut record in records {
            let mut mined = None;
            for hash in record.hashes.iter().rev() {
                if let Some(receipt) = self.rpc.receipt(*hash).await? {
                    mined = Some(receipt);
                    break;
                }
            }
            if let Some(receipt) = mined {
                self.queue.remove_transaction(self.chain, record.nonce)?;
                outcomes.push(TxOutcome::Mined {
                    purpose: record.purpose,
                    receipt,
                });
                continue;
            }
            if chain_nonce > record.nonce {
                // The nonce is used, by none of our versions (receipts were
                // checked above): it can never be mined.
                tracing::warn!(target: "relayer", chain = self.chain.name(), nonce = record.nonce, purpose = record.purpose.label(), "transaction replaced by another with its nonce; dropped");
                self.queue.remove_transaction(self.chain, record.nonce)?;
                outcomes.push(TxOutcome::Dropped {
                    purpose: record.purpose,
                });
                continue;
            }
            let age = now_ms().saturating_sub(record.priced_at_ms);
            if age < self.settings.reprice_after.as_millis() as u64 {
                continue;
            }
            if record.hashes.len() >= TX_HASHES_MAX
                || record.max_fee_per_gas >= self.settings.max_fee_cap
            {
                // At the cap: send the same again (the node may have lost it).
                self.broadcast(&record).await;
                record.priced_at_ms = now_ms();
                self.queue.put_transaction(&record)?;
                continue;
            }
            let (market_fee, market_tip) = self.fees().await?;
            let bump = |fee: u128| fee + fee * u128::from(self.settings.fee_bump_percent) / 100 + 1;
            record.max_priority_fee_per_gas = bump(record.max_priority_fee_per_gas).max(market_tip);
            record.max_fee_per_gas = bump(record.max_fee_per_gas)
                .max(market_fee)
                .min(self.settings.max_fee_cap)
                .max(record.max_priority_fee_per_gas);
            record.priced_at_ms = now_ms();
            self.sign_into(&mut record)?;
            self.queue.put_transaction(&record)?;
            tracing::info!(
                target: "relayer",
                chain = self.chain.name(),
                nonce = record.nonce,
                purpose = record.purpose.label(),
                max_fee = record.max_fee_per_gas,
                tip = record.max_priority_fee_per_gas,
                "re-pricing a stuck transaction"
            );
            self.broadcast(&record).await;
            outcomes.push(TxOutcome::Repriced {
                purpose: record.purpose,
            });
        }
        Ok(outcomes)
    }

    /// EIP-1559 fees for now: twice the base fee plus the tip, capped.
    async fn fees(&self) -> Result<(u128, u128), SubmitError> {
        let base = self
            .rpc
            .header("latest")
            .await?
            .and_then(|h| h.base_fee_per_gas)
            .map_or(0, |b| b.to::<u128>());
        let tip = self.rpc.priority_fee().await?;
        let max_fee = (base * 2 + tip).min(self.settings.max_fee_cap).max(tip);
        Ok((max_fee, tip.min(max_fee)))
    }

    fn sign_into(&self, record: &mut TxRecord) -> Result<(), SubmitError> {
        let tx = TxEip1559 {
            chain_id: self.settings.chain_id,
            nonce: record.nonce,
            gas_limit: record.gas_limit,
            max_fee_per_gas: record.max_fee_per_gas,
            max_priority_fee_per_gas: record.max_priority_fee_per_gas,
            to: TxKind::Call(record.to),
            value: U256::ZERO,
            access_list: Default::default(),
            input: record.input.clone(),
        };
        let signature = self
            .signer
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| SubmitError::Sign {
                chain: self.chain.name(),
                purpose: record.purpose.label(),
                nonce: record.nonce,
                reason: e.to_string(),
            })?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        record.hashes.push(*envelope.tx_hash());
        record.raw = Bytes::from(envelope.encoded_2718());
        Ok(())
    }

    /// Sends the record's latest version; errors are logged, not returned:
    /// the record stays and is re-sent or re-priced later, and "already
    /// known" / "nonce too low" are what a re-send after a crash looks like.
    async fn broadcast(&self, record: &TxRecord) {
        let Err(error) = self.rpc.send_raw(&record.raw).await else {
            return;
        };
        let message = error.node_message().unwrap_or_default().to_lowercase();
        if [
            "already known",
            "already imported",
            "nonce too low",
            "known transaction",
        ]
        .iter()
        .any(|m| message.contains(m))
        {
            tracing::debug!(target: "relayer", chain = self.chain.name(), nonce = record.nonce, %error, "re-sent transaction already known");
            return;
        }
        self.metrics.error(match error {
            RpcError::Node { .. } => "send_rejected",
            _ => error.kind(),
        });
        tracing::warn!(target: "relayer", chain = self.chain.name(), nonce = record.nonce, purpose = record.purpose.label(), %error, "sending a transaction failed; it stays queued");
    }
}

/// The message nonce a purpose is about.
pub fn purpose_nonce(purpose: Purpose) -> U256 {
    match purpose {
        Purpose::ConfirmDeposit(n)
        | Purpose::SubmitSignature(n)
        | Purpose::FinalizeWithdrawal(n) => n,
    }
}
