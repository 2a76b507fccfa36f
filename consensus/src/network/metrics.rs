//! Prometheus metrics of the p2p layer, registered once per network.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::NetworkError;

#[derive(Clone)]
pub(crate) struct Metrics {
    pub(crate) peers: IntGauge,
    /// `direction` = in | out, `topic`.
    pub(crate) gossip_bytes: IntCounterVec,
    /// `direction` = in | out, `topic`.
    pub(crate) gossip_messages: IntCounterVec,
    /// `topic`: inbound messages rejected, by us (size) or by the engine.
    pub(crate) rejected_messages: IntCounterVec,
    /// `direction` = in | out, `kind` = status | blocks.
    pub(crate) sync_requests: IntCounterVec,
    pub(crate) peers_banned: IntCounter,
    /// `topic`: publishes that found no subscribed peer.
    pub(crate) publish_no_peers: IntCounterVec,
    /// `kind`: events dropped because the engine's channel was full.
    pub(crate) dropped_events: IntCounterVec,
}

impl Metrics {
    pub(crate) fn register(registry: &Registry) -> Result<Self, NetworkError> {
        let metrics = Self {
            peers: IntGauge::new("outrigger_p2p_peers", "Connected peers")?,
            gossip_bytes: IntCounterVec::new(
                Opts::new(
                    "outrigger_p2p_gossip_bytes_total",
                    "Gossip payload bytes received (in) and published (out)",
                ),
                &["direction", "topic"],
            )?,
            gossip_messages: IntCounterVec::new(
                Opts::new(
                    "outrigger_p2p_gossip_messages_total",
                    "Gossip messages received (in) and published (out)",
                ),
                &["direction", "topic"],
            )?,
            rejected_messages: IntCounterVec::new(
                Opts::new(
                    "outrigger_p2p_rejected_messages_total",
                    "Inbound gossip messages rejected (oversized or invalid)",
                ),
                &["topic"],
            )?,
            sync_requests: IntCounterVec::new(
                Opts::new(
                    "outrigger_p2p_sync_requests_total",
                    "Sync requests received (in) and sent (out)",
                ),
                &["direction", "kind"],
            )?,
            peers_banned: IntCounter::new("outrigger_p2p_peers_banned_total", "Peers banned")?,
            publish_no_peers: IntCounterVec::new(
                Opts::new(
                    "outrigger_p2p_publish_no_peers_total",
                    "Messages published while no peer was subscribed to their topic",
                ),
                &["topic"],
            )?,
            dropped_events: IntCounterVec::new(
                Opts::new(
                    "outrigger_p2p_dropped_events_total",
                    "Inbound events dropped because the engine's queue was full",
                ),
                &["kind"],
            )?,
        };
        registry.register(Box::new(metrics.peers.clone()))?;
        registry.register(Box::new(metrics.gossip_bytes.clone()))?;
        registry.register(Box::new(metrics.gossip_messages.clone()))?;
        registry.register(Box::new(metrics.rejected_messages.clone()))?;
        registry.register(Box::new(metrics.sync_requests.clone()))?;
        registry.register(Box::new(metrics.peers_banned.clone()))?;
        registry.register(Box::new(metrics.publish_no_peers.clone()))?;
        registry.register(Box::new(metrics.dropped_events.clone()))?;
        Ok(metrics)
    }
}
