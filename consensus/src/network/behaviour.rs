//! The libp2p behaviour: gossipsub with manual validation and peer scoring,
//! the sync request-response protocol, identify, and the [`PeerGate`].

use std::{collections::HashMap, time::Duration};

use libp2p::{
    StreamProtocol, gossipsub, identify,
    identity::Keypair,
    request_response::{self, ProtocolSupport},
    swarm::NetworkBehaviour,
};
use sha2::{Digest, Sha256};

use super::{
    NetworkConfig, NetworkError, Topic,
    codec::{SyncCodec, protocol_name},
    peers::PeerGate,
};

/// Bytes gossipsub adds around a payload (author, sequence number, topic,
/// signature, key, protobuf tags). Gossipsub's own per-topic limit is the
/// payload limit plus this; the exact payload limit is checked by us.
pub(crate) const GOSSIP_ENVELOPE_BYTES: usize = 1024;

/// Gossipsub score at or below which we disconnect and ban a peer. Equal to
/// the graylist threshold: a graylisted peer's messages are no longer even
/// processed, so its score would only recover from there.
pub(crate) const BAN_SCORE: f64 = -60.0;

/// Weight of one invalid message (P4). The penalty is the weight times the
/// square of the decaying count: 1 invalid message -10, 2 -40, 3 -90.
const INVALID_MESSAGE_WEIGHT: f64 = -10.0;
/// Positive topic score (time in mesh, first deliveries) is capped so a
/// long-lived peer cannot bank credit to spend on invalid messages.
const TOPIC_SCORE_CAP: f64 = 20.0;

/// Limits on a single sync response stream count, not total concurrency.
const SYNC_CONCURRENT_STREAMS_MAX: usize = 32;
/// Connections nobody uses are still kept: validators are few, and the
/// gossipsub handler only keeps mesh connections alive by itself.
pub(crate) const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// First, so banned and surplus peers are refused before the others see them.
    pub(crate) gate: PeerGate,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) identify: identify::Behaviour,
}

/// Identify's protocol version: peers announcing another one are on another
/// chain (or version) and are disconnected.
pub(crate) fn identify_protocol_version(chain_id: u64) -> String {
    format!("/outrigger/{chain_id}/1")
}

/// Content-addressed message ids: the same payload on the same topic is one
/// message, whoever publishes it.
pub(crate) fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let mut hasher = Sha256::new();
    hasher.update(message.topic.as_str().as_bytes());
    hasher.update([0u8]);
    hasher.update(&message.data);
    gossipsub::MessageId::new(&hasher.finalize())
}

fn topic_score_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        // P1, P2: small positive credit for staying in the mesh and relaying.
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 300.0,
        first_message_deliveries_weight: 0.5,
        first_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(600)),
        first_message_deliveries_cap: 20.0,
        // P3, P3b off: with a handful of validators and bursty topics, honest
        // peers would miss delivery quotas.
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // P4: invalid messages, forgotten over about ten minutes.
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(
            600,
        )),
        ..Default::default()
    }
}

fn peer_score_params(chain_id: u64) -> gossipsub::PeerScoreParams {
    let topics = Topic::ALL
        .iter()
        .map(|t| (t.ident(chain_id).hash(), topic_score_params()))
        .collect::<HashMap<_, _>>();
    gossipsub::PeerScoreParams {
        topics,
        topic_score_cap: TOPIC_SCORE_CAP,
        // P5: minus the penalty points of `NetworkHandle::penalize`.
        app_specific_weight: 1.0,
        // P6 off: validators may share an address (and tests use loopback).
        ip_colocation_factor_weight: 0.0,
        ..Default::default()
    }
}

fn peer_score_thresholds() -> gossipsub::PeerScoreThresholds {
    gossipsub::PeerScoreThresholds {
        gossip_threshold: -20.0,
        publish_threshold: -40.0,
        graylist_threshold: BAN_SCORE,
        accept_px_threshold: 100.0,
        opportunistic_graft_threshold: 5.0,
    }
}

fn gossipsub(config: &NetworkConfig) -> Result<gossipsub::Behaviour, NetworkError> {
    let limits = &config.gossip_message_bytes_max;
    let mut builder = gossipsub::ConfigBuilder::default();
    builder
        // Unsigned: every payload authenticates itself (consensus messages
        // carry validators' signatures, transactions their senders'), and
        // the connection is authenticated by noise. A per-message p2p
        // signature, checked on every copy received, was a third of a
        // validator's CPU under transaction load.
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(message_id)
        .heartbeat_initial_delay(Duration::from_millis(200))
        .heartbeat_interval(Duration::from_secs(1))
        .max_transmit_size(limits.max() + GOSSIP_ENVELOPE_BYTES);
    for topic in Topic::ALL {
        builder.max_transmit_size_for_topic(
            limits.for_topic(topic) + GOSSIP_ENVELOPE_BYTES,
            topic.ident(config.chain_id).hash(),
        );
    }
    let gossip_config = builder
        .build()
        .map_err(|e| NetworkError::Config(format!("gossipsub: {e}")))?;
    let mut behaviour =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)
            .map_err(|e| NetworkError::Config(format!("gossipsub: {e}")))?;
    behaviour
        .with_peer_score(peer_score_params(config.chain_id), peer_score_thresholds())
        .map_err(|e| NetworkError::Config(format!("gossipsub peer score: {e}")))?;
    for topic in Topic::ALL {
        behaviour
            .subscribe(&topic.ident(config.chain_id))
            .map_err(|e| NetworkError::Config(format!("subscribe to {}: {e}", topic.name())))?;
    }
    Ok(behaviour)
}

impl Behaviour {
    pub(crate) fn new(config: &NetworkConfig, keypair: &Keypair) -> Result<Self, NetworkError> {
        let protocol = StreamProtocol::try_from_owned(protocol_name(config.chain_id))
            .map_err(|e| NetworkError::Config(format!("sync protocol name: {e}")))?;
        let sync = request_response::Behaviour::with_codec(
            SyncCodec {
                response_bytes_max: config.sync_response_bytes_max,
            },
            [(protocol, ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(config.sync_request_timeout)
                .with_max_concurrent_streams(SYNC_CONCURRENT_STREAMS_MAX),
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(identify_protocol_version(config.chain_id), keypair.public())
                .with_agent_version(format!("outrigger/{}", env!("CARGO_PKG_VERSION")))
                // No cache of the addresses peers announce: libp2p would
                // dial them when a request goes to a peer that just left,
                // and we dial only the bootnode addresses we were given.
                .with_cache_size(0),
        );
        Ok(Self {
            gate: PeerGate::new(keypair.public().to_peer_id(), config.max_peers),
            gossipsub: gossipsub(config)?,
            sync,
            identify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_parameters_are_valid_and_three_invalid_messages_ban() {
        peer_score_params(7).validate().unwrap();
        peer_score_thresholds().validate().unwrap();
        let credit = TOPIC_SCORE_CAP;
        assert!(credit + INVALID_MESSAGE_WEIGHT * 2.0 * 2.0 > BAN_SCORE);
        assert!(credit + INVALID_MESSAGE_WEIGHT * 3.0 * 3.0 <= BAN_SCORE);
    }

    #[test]
    fn gossipsub_builds_with_default_limits() {
        let config = NetworkConfig::new(7, Keypair::generate_ed25519());
        gossipsub(&config).unwrap();
    }
}
