//! Peer-to-peer networking of a validator: gossip of consensus messages and
//! transactions, and request-response block sync, over libp2p (TCP, noise,
//! yamux).
//!
//! [`spawn`] starts a task that owns the libp2p swarm and returns a cloneable
//! [`NetworkHandle`] and the receiver of [`NetworkEvent`]s. Nothing outside
//! this module sees a libp2p type except [`PeerId`], [`Multiaddr`] and
//! [`Keypair`], re-exported here.
//!
//! # Topics
//!
//! Gossipsub topics are named `/outrigger/{chain_id}/{name}/2` for each
//! [`Topic`]: `proposals`, `votes`, `transactions`, `decisions`. Messages
//! are not signed by a p2p key (`MessageAuthenticity::Anonymous`,
//! `ValidationMode::Anonymous`, as Ethereum's consensus layer does): each
//! payload carries its own signatures, checked by the application, and a
//! misbehaving message is charged to the peer that sent it over its
//! authenticated connection. A message is identified by the SHA-256 of its
//! topic and payload, so the same payload is one message whoever publishes
//! it. Version 1 of the topics carried signed messages.
//!
//! # Addresses
//!
//! The node dials only the addresses of [`NetworkConfig::bootnodes`]. The
//! listen addresses a peer announces (identify) are neither kept nor
//! dialled: a peer cannot steer our dials, and a bootnode reached through a
//! proxy, NAT mapping or tunnel is always dialled there, never behind it.
//! Other peers find us by dialling us.
//!
//! # Limits
//!
//! - Gossip payloads: per topic, [`GossipLimits`] (defaults: proposals 4 MiB,
//!   votes 1 KiB, transactions 129 KiB, decisions 64 KiB). Publishing more is
//!   an error; receiving more rejects the message and costs the sender.
//! - Sync: requests are a few bytes; a response is at most
//!   [`NetworkConfig::sync_response_bytes_max`] (default 16 MiB), checked
//!   by the requester before reading the body and by the responder, which
//!   sends only the blocks that fit. [`SyncRequest::Blocks`] asks for at most
//!   [`SYNC_BLOCKS_PER_REQUEST_MAX`] blocks.
//! - Peers: [`NetworkConfig::max_peers`], one connection per peer.
//! - Queues: the event channel holds [`EVENT_CHANNEL_CAPACITY`] events, the
//!   command channel [`COMMAND_CHANNEL_CAPACITY`]; at most
//!   [`PENDING_REQUESTS_MAX`] sync requests are in flight each way.
//!
//! # Scoring and bans
//!
//! Gossipsub peer scoring is on. Its only penalty that matters is for invalid
//! messages (P4: -10 × count², decaying over ~10 minutes): a message rejected
//! by the engine ([`Verdict::Reject`]) or oversized for its topic. Other
//! misbehaviour (an undecodable or oversized sync frame, or the engine's
//! [`NetworkHandle::penalize`]) costs 10 penalty points, halving every 5
//! minutes, which also lower the gossipsub score. A peer is disconnected and
//! banned for [`NetworkConfig::ban_duration`] when its gossipsub score falls
//! to -60 (three invalid messages in a short while; the graylist threshold)
//! or its penalty reaches 45 points (five penalties in a short while). A
//! peer whose identify protocol version or [`Status`] shows another chain id
//! is banned at once; the engine bans one with another genesis hash with
//! [`NetworkHandle::ban`]. Banned peers are refused on dial and on accept.
//!
//! # What the engine must do with events
//!
//! - [`NetworkEvent::Gossip`]: decode and check the payload, then call
//!   [`NetworkHandle::validated`] with its id, soon (gossipsub keeps
//!   unvalidated messages for about 5 heartbeats, 5 s; later verdicts are
//!   ignored and the message is not forwarded). [`Verdict::Accept`] forwards it
//!   to our mesh peers; [`Verdict::Reject`] is for messages that are provably
//!   bad (undecodable, bad signature): it costs the sender its score;
//!   [`Verdict::Ignore`] is for messages that are fine but useless (stale
//!   height, duplicate vote): neither forwarded nor penalised.
//! - [`NetworkEvent::SyncRequest`]: answer through `respond` within
//!   [`NetworkConfig::sync_request_timeout`]. Dropping `respond` answers an
//!   error. Blocks beyond the response limit are left out by the network.
//! - [`NetworkEvent::PeerConnected`] / [`NetworkEvent::PeerDisconnected`]:
//!   bookkeeping; a sync driver typically asks a new peer for its
//!   [`SyncRequest::Status`] (the network caches the last one per peer, see
//!   [`NetworkHandle::peers`]).
//!
//! When the event channel is full, gossip is dropped (counted in
//! `outrigger_p2p_dropped_events_total`, verdict `Ignore`), sync requests are
//! answered with an error, and peer events wait in a small queue.

mod behaviour;
mod codec;
mod config;
mod metrics;
mod peers;
mod service;
pub mod testing;

use std::{fmt, time::Duration};

pub use codec::{Status, SyncRequest, SyncResponse};
pub use config::{GossipLimits, NetworkConfig, SYNC_BLOCKS_PER_REQUEST_MAX};
pub use libp2p::{Multiaddr, PeerId, identity::Keypair};
use tokio::sync::{mpsc, oneshot};

/// Capacity of the channel of [`NetworkEvent`]s to the engine.
pub const EVENT_CHANNEL_CAPACITY: usize = 1024;
/// Capacity of the channel of commands from [`NetworkHandle`]s to the swarm.
pub const COMMAND_CHANNEL_CAPACITY: usize = 1024;
/// Most sync requests in flight in each direction; beyond it outbound requests
/// fail with [`NetworkError::Busy`] and inbound ones are answered with an error.
pub const PENDING_REQUESTS_MAX: usize = 256;

/// A gossip topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Block proposals (a whole block).
    Proposals,
    /// Prevotes and precommits.
    Votes,
    /// Transactions for the txpool.
    Transactions,
    /// Finalized blocks' commit certificates.
    Decisions,
}

impl Topic {
    /// Every topic, each subscribed by every node.
    pub const ALL: [Topic; 4] = [
        Topic::Proposals,
        Topic::Votes,
        Topic::Transactions,
        Topic::Decisions,
    ];

    /// The short name, used in the topic's full name and in metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Proposals => "proposals",
            Topic::Votes => "votes",
            Topic::Transactions => "transactions",
            Topic::Decisions => "decisions",
        }
    }

    /// The gossipsub topic name on `chain_id`: `/outrigger/{chain_id}/{name}/2`.
    pub fn full_name(self, chain_id: u64) -> String {
        format!("/outrigger/{chain_id}/{}/2", self.name())
    }

    pub(crate) fn ident(self, chain_id: u64) -> libp2p::gossipsub::IdentTopic {
        libp2p::gossipsub::IdentTopic::new(self.full_name(chain_id))
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Identifies an inbound gossip message awaiting the engine's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GossipId {
    message_id: libp2p::gossipsub::MessageId,
    propagation_source: PeerId,
    topic: Topic,
}

/// The engine's verdict on an inbound gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and useful: forward it to our mesh peers.
    Accept,
    /// Not forwarded, no penalty (stale, duplicate, not yet checkable).
    Ignore,
    /// Provably invalid: not forwarded, and the sender loses score.
    Reject,
}

/// What the network tells the engine.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A gossip message that passed the size and signature checks. The engine
    /// must answer [`NetworkHandle::validated`] with `id`.
    Gossip {
        /// Its topic.
        topic: Topic,
        /// Its id, for the verdict.
        id: GossipId,
        /// The peer that delivered it to us (not necessarily its author).
        source: PeerId,
        /// The payload, at most the topic's limit.
        data: Vec<u8>,
    },
    /// A peer asks for sync data; answer through `respond`.
    SyncRequest {
        /// Who asks.
        peer: PeerId,
        /// What it asks for.
        request: SyncRequest,
        /// Where the answer goes; dropping it answers an error.
        respond: oneshot::Sender<SyncResponse>,
    },
    /// A peer connected.
    PeerConnected(PeerId),
    /// A peer disconnected.
    PeerDisconnected(PeerId),
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    /// Its id.
    pub peer_id: PeerId,
    /// The address of our connection to it.
    pub address: Multiaddr,
    /// Its last [`SyncResponse::Status`] to one of our requests, if any.
    pub status: Option<Status>,
    /// Its gossipsub score (negative is bad; see the module docs).
    pub score: f64,
}

/// Errors of the network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The configuration cannot be used.
    #[error("network config: {0}")]
    Config(String),
    /// Listening on an address failed.
    #[error("listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// Why.
        reason: String,
    },
    /// Registering the metrics failed (e.g. a second network on one registry).
    #[error("p2p metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The network task has stopped.
    #[error("the network has shut down")]
    Closed,
    /// Too many requests in flight.
    #[error("too many sync requests in flight ({0})")]
    Busy(usize),
    /// A payload is over its topic's limit.
    #[error("{topic} message of {bytes} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// The topic.
        topic: Topic,
        /// The payload size.
        bytes: usize,
        /// The topic's limit.
        max: usize,
    },
    /// Gossipsub refused to publish.
    #[error("publish on {topic}: {reason}")]
    Publish {
        /// The topic.
        topic: Topic,
        /// Why.
        reason: String,
    },
    /// A request the protocol does not allow.
    #[error("invalid sync request {request:?}: {reason}")]
    InvalidRequest {
        /// The request.
        request: SyncRequest,
        /// Why.
        reason: String,
    },
    /// The peer is not connected.
    #[error("peer {0} is not connected")]
    NotConnected(PeerId),
    /// The sync request timed out.
    #[error("sync request to {peer} timed out after {timeout:?}")]
    Timeout {
        /// The peer.
        peer: PeerId,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The sync request failed: connection lost, protocol unsupported, or the
    /// response was malformed or too large (then the peer is penalized).
    #[error("sync request to {peer}: {reason}")]
    Request {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// Builds the p2p identity from the 32-byte ed25519 secret the node stores.
pub fn keypair_from_ed25519_secret(mut bytes: [u8; 32]) -> Keypair {
    let secret = libp2p::identity::ed25519::SecretKey::try_from_bytes(&mut bytes);
    // Only the length is checked, and an array has the right one.
    #[allow(clippy::expect_used)]
    let secret = secret.expect("32 bytes are an ed25519 secret");
    libp2p::identity::ed25519::Keypair::from(secret).into()
}

/// Commands from handles to the swarm task.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    Validated {
        id: GossipId,
        verdict: Verdict,
    },
    Penalize {
        peer: PeerId,
        reason: &'static str,
    },
    Ban {
        peer: PeerId,
        reason: &'static str,
    },
    Request {
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, NetworkError>>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Talks to the network task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
    limits: GossipLimits,
}

impl NetworkHandle {
    /// Publishes `data` on `topic`. Having no subscribed peer is not an error
    /// (it is counted in `outrigger_p2p_publish_no_peers_total`), nor is
    /// publishing a payload already seen.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), NetworkError> {
        let max = self.limits.for_topic(topic);
        if data.len() > max {
            return Err(NetworkError::MessageTooLarge {
                topic,
                bytes: data.len(),
                max,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Publish { topic, data, reply }).await?;
        answer.await.map_err(|_| NetworkError::Closed)?
    }

    /// Reports the engine's verdict on an inbound gossip message. Never
    /// blocks; if the command queue is full the verdict is dropped (the
    /// message is then not forwarded) and a warning logged.
    pub fn validated(&self, id: GossipId, verdict: Verdict) {
        self.try_send(Command::Validated { id, verdict });
    }

    /// Penalizes `peer` for misbehaviour outside gossip (e.g. a bad sync
    /// response). Enough penalties within a few minutes disconnect and ban it.
    pub fn penalize(&self, peer: PeerId, reason: &'static str) {
        self.try_send(Command::Penalize { peer, reason });
    }

    /// Disconnects and bans `peer` at once, for proven misbehaviour (e.g. its
    /// [`Status`] shows another genesis): refused for
    /// [`NetworkConfig::ban_duration`].
    pub fn ban(&self, peer: PeerId, reason: &'static str) {
        self.try_send(Command::Ban { peer, reason });
    }

    /// Sends a sync request to a connected peer and waits for its answer, at
    /// most [`NetworkConfig::sync_request_timeout`]. A malformed or oversized
    /// response, or one that does not match the request, is an error and
    /// costs the peer.
    pub async fn request(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, NetworkError> {
        if let SyncRequest::Blocks { count, .. } = request
            && count > SYNC_BLOCKS_PER_REQUEST_MAX
        {
            return Err(NetworkError::InvalidRequest {
                request,
                reason: format!("at most {SYNC_BLOCKS_PER_REQUEST_MAX} blocks per request"),
            });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request {
            peer,
            request,
            reply,
        })
        .await?;
        answer.await.map_err(|_| NetworkError::Closed)?
    }

    /// The connected peers with their last known [`Status`]. Empty once the
    /// network has shut down.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Peers { reply }).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// The addresses we listen on, as far as known yet (an address with port
    /// 0 shows up with its real port once the listener is up).
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::ListenAddrs { reply }).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// Our p2p identity.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Stops the network task and closes all connections; returns once it has
    /// stopped. Later calls on any clone fail with [`NetworkError::Closed`].
    pub async fn shutdown(&self) {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Shutdown { reply }).await.is_ok() {
            let _ = answer.await;
        }
    }

    async fn send(&self, command: Command) -> Result<(), NetworkError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| NetworkError::Closed)
    }

    fn try_send(&self, command: Command) {
        match self.commands.try_send(command) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(command)) => {
                tracing::warn!(target: "p2p", ?command, "network command queue full: dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Starts the network on the current tokio runtime: listens, dials the
/// bootnodes, and returns the handle and the engine's event receiver.
/// Metrics are registered on `registry`.
pub fn spawn(
    config: NetworkConfig,
    registry: &prometheus::Registry,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
    service::spawn(config, registry)
}
