//! The relayer's Prometheus metrics, registered once; `outrigger relayer`
//! serves their text at `http://metrics_addr/metrics` with the node's
//! metrics server.

use prometheus::{
    Encoder as _, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tokio::sync::watch;

/// Every metric the relayer exports.
#[derive(Debug)]
pub struct RelayerMetrics {
    registry: Registry,
    /// `outrigger_relayer_l1_head`: the L1 head block.
    pub l1_head: IntGauge,
    /// `outrigger_relayer_l1_final`: the L1 block the relayer treats as
    /// final (the `finalized` tag or head − confirmations).
    pub l1_final: IntGauge,
    /// `outrigger_relayer_cursor_lag_blocks{chain}`: final block − cursor.
    pub cursor_lag: IntGaugeVec,
    /// `outrigger_relayer_sidechain_head`: the sidechain head block.
    pub sidechain_head: IntGauge,
    /// `outrigger_relayer_deposits_total{event="seen"|"voted"|"done"}`.
    pub deposits: IntCounterVec,
    /// `outrigger_relayer_withdrawals_total{event="seen"|"signed"|"finalized_by_us"|"done"}`.
    pub withdrawals: IntCounterVec,
    /// `outrigger_relayer_pending{kind="deposit"|"withdrawal"}`: unfinished messages held.
    pub pending: IntGaugeVec,
    /// `outrigger_relayer_signatures_total`: withdrawal signatures posted.
    pub signatures: IntCounter,
    /// `outrigger_relayer_transactions_total{chain, outcome}`: sent, mined,
    /// reverted, repriced, dropped.
    pub transactions: IntCounterVec,
    /// `outrigger_relayer_errors_total{kind}`: failures by kind.
    pub errors: IntCounterVec,
    /// `outrigger_relayer_gas_balance_wei{chain}`: the relayer's balance.
    pub gas_balance: GaugeVec,
    /// `outrigger_bridge_l1_locked{token}`: held by the L1 bridge (smallest units).
    pub l1_locked: GaugeVec,
    /// `outrigger_bridge_sidechain_minted{token}`: out on the sidechain (smallest units).
    pub sidechain_minted: GaugeVec,
}

impl RelayerMetrics {
    /// Registers every metric in a new registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let l1_head = IntGauge::new("outrigger_relayer_l1_head", "L1 head block")?;
        let l1_final = IntGauge::new(
            "outrigger_relayer_l1_final",
            "L1 block treated as final (finalized tag or head - confirmations)",
        )?;
        let cursor_lag = IntGaugeVec::new(
            Opts::new(
                "outrigger_relayer_cursor_lag_blocks",
                "Blocks between the scan cursor and the final (L1) or head (sidechain) block",
            ),
            &["chain"],
        )?;
        let sidechain_head =
            IntGauge::new("outrigger_relayer_sidechain_head", "Sidechain head block")?;
        let deposits = IntCounterVec::new(
            Opts::new("outrigger_relayer_deposits_total", "Deposits by event"),
            &["event"],
        )?;
        let withdrawals = IntCounterVec::new(
            Opts::new(
                "outrigger_relayer_withdrawals_total",
                "Withdrawals by event",
            ),
            &["event"],
        )?;
        let pending = IntGaugeVec::new(
            Opts::new("outrigger_relayer_pending", "Unfinished messages held"),
            &["kind"],
        )?;
        let signatures = IntCounter::new(
            "outrigger_relayer_signatures_total",
            "Withdrawal signatures posted on the sidechain",
        )?;
        let transactions = IntCounterVec::new(
            Opts::new(
                "outrigger_relayer_transactions_total",
                "Relayer transactions by chain and outcome",
            ),
            &["chain", "outcome"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new("outrigger_relayer_errors_total", "Relayer failures by kind"),
            &["kind"],
        )?;
        let gas_balance = GaugeVec::new(
            Opts::new(
                "outrigger_relayer_gas_balance_wei",
                "The relayer's balance for gas on each chain",
            ),
            &["chain"],
        )?;
        let l1_locked = GaugeVec::new(
            Opts::new(
                "outrigger_bridge_l1_locked",
                "Amount of each L1 asset held by the L1 bridge (smallest units)",
            ),
            &["token"],
        )?;
        let sidechain_minted = GaugeVec::new(
            Opts::new(
                "outrigger_bridge_sidechain_minted",
                "Amount of each L1 asset out on the sidechain (smallest units); must stay <= locked",
            ),
            &["token"],
        )?;
        registry.register(Box::new(l1_head.clone()))?;
        registry.register(Box::new(l1_final.clone()))?;
        registry.register(Box::new(cursor_lag.clone()))?;
        registry.register(Box::new(sidechain_head.clone()))?;
        registry.register(Box::new(deposits.clone()))?;
        registry.register(Box::new(withdrawals.clone()))?;
        registry.register(Box::new(pending.clone()))?;
        registry.register(Box::new(signatures.clone()))?;
        registry.register(Box::new(transactions.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(gas_balance.clone()))?;
        registry.register(Box::new(l1_locked.clone()))?;
        registry.register(Box::new(sidechain_minted.clone()))?;
        Ok(Self {
            registry,
            l1_head,
            l1_final,
            cursor_lag,
            sidechain_head,
            deposits,
            withdrawals,
            pending,
            signatures,
            transactions,
            errors,
            gas_balance,
            l1_locked,
            sidechain_minted,
        })
    }

    /// Counts one failure of `kind` (a fixed label).
    pub fn error(&self, kind: &str) {
        self.errors.with_label_values(&[kind]).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(target: "relayer", %error, "encoding metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
