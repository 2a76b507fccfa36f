//! The network's configuration: identity, addresses, limits. Defaults live here.

use std::time::Duration;

use super::{Keypair, Multiaddr, Topic};

/// Largest number of blocks one [`super::SyncRequest::Blocks`] may ask for.
///
/// Requests above it are refused by the requester ([`super::NetworkHandle::request`]
/// fails) and by the responder's decoder (the asking peer loses score).
pub const SYNC_BLOCKS_PER_REQUEST_MAX: u32 = 128;

/// Everything [`super::spawn`] needs. Build it with [`NetworkConfig::new`] and
/// override fields; every default is documented on its field.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Chain id: part of every topic and protocol name, so two chains never
    /// exchange messages.
    pub chain_id: u64,
    /// The p2p identity (ed25519). Separate from the validator signing key.
    pub keypair: Keypair,
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/tcp/30333`. Default: none.
    pub listen: Vec<Multiaddr>,
    /// Peers to keep connected to, each ending in `/p2p/<peer id>`. Redialled
    /// while disconnected, with capped exponential backoff
    /// ([`NetworkConfig::redial_backoff_min`] .. [`NetworkConfig::redial_backoff_max`]).
    /// Default: none.
    pub bootnodes: Vec<Multiaddr>,
    /// Most peers connected at once (inbound and outbound together; one
    /// connection per peer). Default 50.
    pub max_peers: usize,
    /// Largest gossip payload accepted or published, per topic. Oversized
    /// inbound messages cost the sender its score.
    pub gossip_message_bytes_max: GossipLimits,
    /// Largest sync response, in bytes, read from or written to a peer.
    /// Default 16 MiB.
    pub sync_response_bytes_max: usize,
    /// How long an outbound sync request may take before it fails with
    /// [`super::NetworkError::Timeout`]. Default 10 s.
    pub sync_request_timeout: Duration,
    /// How long a peer stays refused after it was banned. Default 10 min.
    pub ban_duration: Duration,
    /// First delay before redialling a lost bootnode. Default 500 ms.
    pub redial_backoff_min: Duration,
    /// Cap of the redial delay, which doubles on every failure. Default 30 s.
    pub redial_backoff_max: Duration,
}

impl NetworkConfig {
    /// A configuration with the defaults documented on each field: no listen
    /// address and no bootnodes.
    pub fn new(chain_id: u64, keypair: Keypair) -> Self {
        Self {
            chain_id,
            keypair,
            listen: Vec::new(),
            bootnodes: Vec::new(),
            max_peers: 50,
            gossip_message_bytes_max: GossipLimits::default(),
            sync_response_bytes_max: 16 * 1024 * 1024,
            sync_request_timeout: Duration::from_secs(10),
            ban_duration: Duration::from_secs(600),
            redial_backoff_min: Duration::from_millis(500),
            redial_backoff_max: Duration::from_secs(30),
        }
    }
}

/// Largest payload, in bytes, of one gossip message on each topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipLimits {
    /// A proposal carries a whole block. Default 4 MiB.
    pub proposal_bytes_max: usize,
    /// A signed vote. Default 1 KiB.
    pub vote_bytes_max: usize,
    /// A message of transactions. Default 128 KiB + 1 KiB: a transaction
    /// of the txpool's default largest size fits with its list framing.
    pub transaction_bytes_max: usize,
    /// A decision: a block hash with its commit certificate. Default 64 KiB.
    pub decision_bytes_max: usize,
}

impl Default for GossipLimits {
    fn default() -> Self {
        Self {
            proposal_bytes_max: 4 * 1024 * 1024,
            vote_bytes_max: 1024,
            transaction_bytes_max: 129 * 1024,
            decision_bytes_max: 64 * 1024,
        }
    }
}

impl GossipLimits {
    /// The payload limit of `topic`.
    pub fn for_topic(&self, topic: Topic) -> usize {
        match topic {
            Topic::Proposals => self.proposal_bytes_max,
            Topic::Votes => self.vote_bytes_max,
            Topic::Transactions => self.transaction_bytes_max,
            Topic::Decisions => self.decision_bytes_max,
        }
    }

    /// The largest limit of all topics.
    pub fn max(&self) -> usize {
        Topic::ALL
            .iter()
            .map(|t| self.for_topic(*t))
            .max()
            .unwrap_or(0)
    }
}
