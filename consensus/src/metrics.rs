//! The engine's Prometheus metrics (`outrigger_consensus_*`,
//! `outrigger_sync_*`), registered once on the node's registry.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Consensus and block sync metrics.
#[derive(Clone, Debug)]
pub struct EngineMetrics {
    /// `outrigger_consensus_height`: the height being decided.
    pub height: IntGauge,
    /// `outrigger_consensus_round`: its current round.
    pub round: IntGauge,
    /// `outrigger_consensus_step`: 1 propose, 2 prevote, 3 precommit, 4 commit.
    pub step: IntGauge,
    /// `outrigger_consensus_round_changes_total`: rounds started above 0.
    pub round_changes: IntCounter,
    /// `outrigger_consensus_timeouts_total{kind}`: timeouts that fired.
    pub timeouts: IntCounterVec,
    /// `outrigger_consensus_messages_received_total{kind}`: valid consensus
    /// messages taken from gossip (proposal, prevote, precommit, decision).
    pub messages_received: IntCounterVec,
    /// `outrigger_consensus_messages_rejected_total{kind}`: gossip that did
    /// not decode or verify.
    pub messages_rejected: IntCounterVec,
    /// `outrigger_consensus_signed_total{kind}`: messages this validator signed.
    pub signed: IntCounterVec,
    /// `outrigger_consensus_committed_total`: blocks decided by consensus here.
    pub committed: IntCounter,
    /// `outrigger_consensus_height_seconds`: from the start of a height to
    /// its block's commit here (the wait for the block interval excluded).
    pub height_seconds: Histogram,
    /// `outrigger_consensus_equivocations_total`: conflicting signed votes
    /// seen (evidence of a double sign).
    pub equivocations: IntCounter,
    /// `outrigger_consensus_tx_batches_dropped_total`: gossiped transaction
    /// batches dropped unchecked because the checking queue was full.
    pub tx_batches_dropped: IntCounter,
    /// `outrigger_sync_target_height`: the highest head a peer reported.
    pub sync_target: IntGauge,
    /// `outrigger_sync_blocks_total`: blocks imported by block sync.
    pub synced_blocks: IntCounter,
}

impl EngineMetrics {
    /// Registers the metrics on `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let counter_vec =
            |name: &str, help: &str, label: &str| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), &[label])?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        Ok(Self {
            height: gauge("outrigger_consensus_height", "Height being decided")?,
            round: gauge(
                "outrigger_consensus_round",
                "Round of the height being decided",
            )?,
            step: gauge(
                "outrigger_consensus_step",
                "Step: 1 propose, 2 prevote, 3 precommit, 4 commit",
            )?,
            round_changes: counter(
                "outrigger_consensus_round_changes_total",
                "Rounds started above round 0",
            )?,
            timeouts: counter_vec(
                "outrigger_consensus_timeouts_total",
                "Round timeouts that fired",
                "kind",
            )?,
            messages_received: counter_vec(
                "outrigger_consensus_messages_received_total",
                "Valid consensus messages received from gossip",
                "kind",
            )?,
            messages_rejected: counter_vec(
                "outrigger_consensus_messages_rejected_total",
                "Consensus messages that did not decode or verify",
                "kind",
            )?,
            signed: counter_vec(
                "outrigger_consensus_signed_total",
                "Consensus messages this validator signed",
                "kind",
            )?,
            committed: counter(
                "outrigger_consensus_committed_total",
                "Blocks decided by consensus on this node",
            )?,
            height_seconds: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "outrigger_consensus_height_seconds",
                        "Seconds from the start of a height to its block's commit",
                    )
                    .buckets(vec![
                        0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0,
                    ]),
                )?;
                registry.register(Box::new(h.clone()))?;
                h
            },
            equivocations: counter(
                "outrigger_consensus_equivocations_total",
                "Conflicting signed votes seen (double signs)",
            )?,
            tx_batches_dropped: counter(
                "outrigger_consensus_tx_batches_dropped_total",
                "Gossiped transaction batches dropped unchecked (checking queue full)",
            )?,
            sync_target: gauge(
                "outrigger_sync_target_height",
                "Highest head reported by a peer",
            )?,
            synced_blocks: counter(
                "outrigger_sync_blocks_total",
                "Blocks imported by block sync",
            )?,
        })
    }
}
