//! The task that owns the swarm: turns handle commands into libp2p calls and
//! libp2p events into [`NetworkEvent`]s, enforces limits and bans.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use libp2p::{
    Multiaddr, PeerId, Swarm, SwarmBuilder, gossipsub, identify,
    multiaddr::Protocol,
    noise,
    request_response::{self, OutboundFailure, OutboundRequestId, ResponseChannel},
    swarm::{SwarmEvent, dial_opts::DialOpts, dial_opts::PeerCondition},
    tcp, yamux,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::{
    COMMAND_CHANNEL_CAPACITY, Command, EVENT_CHANNEL_CAPACITY, GossipId, GossipLimits,
    NetworkConfig, NetworkError, NetworkEvent, NetworkHandle, PENDING_REQUESTS_MAX, PeerInfo,
    Status, SyncRequest, SyncResponse, Topic, Verdict,
    behaviour::{
        BAN_SCORE, Behaviour, BehaviourEvent, IDLE_CONNECTION_TIMEOUT, identify_protocol_version,
    },
    codec::{BLOCK_OVERHEAD_BYTES, BLOCKS_HEADER_BYTES, WireRequest, response_body_len},
    metrics::Metrics,
    peers::{Backoff, PENALTY_BAN_POINTS, PENALTY_POINTS},
};

/// How often bootnodes are redialled, scores checked and bans expired.
const TICK: Duration = Duration::from_millis(250);
/// A bootnode connection that lasted this long resets the redial backoff.
const BOOTNODE_STABLE: Duration = Duration::from_secs(10);
/// Peer events waiting for room in a full event channel, at most.
const PEER_EVENTS_QUEUED_MAX: usize = 4096;

pub(super) fn spawn(
    config: NetworkConfig,
    registry: &prometheus::Registry,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        NetworkError::Config("the network must be spawned inside a tokio runtime".into())
    })?;
    if config.max_peers == 0 {
        return Err(NetworkError::Config("max_peers must be at least 1".into()));
    }
    if config.sync_response_bytes_max > u32::MAX as usize
        || config.sync_response_bytes_max < BLOCKS_HEADER_BYTES + BLOCK_OVERHEAD_BYTES
    {
        return Err(NetworkError::Config(format!(
            "sync_response_bytes_max {} is out of range",
            config.sync_response_bytes_max
        )));
    }
    let bootnodes = config
        .bootnodes
        .iter()
        .map(|address| {
            let peer = match address.iter().last() {
                Some(Protocol::P2p(peer)) => peer,
                _ => {
                    return Err(NetworkError::Config(format!(
                        "bootnode {address} does not end in /p2p/<peer id>"
                    )));
                }
            };
            Ok(Bootnode {
                peer,
                address: address.clone(),
                backoff: Backoff::new(
                    config.redial_backoff_min,
                    config.redial_backoff_max,
                    Instant::now(),
                ),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let metrics = Metrics::register(registry)?;
    let behaviour = Behaviour::new(&config, &config.keypair)?;
    let mut swarm = SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetworkError::Config(format!("transport: {e}")))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| NetworkError::Config(format!("behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    for address in &config.listen {
        swarm
            .listen_on(address.clone())
            .map_err(|e| NetworkError::Listen {
                address: address.clone(),
                reason: with_causes(&e),
            })?;
    }
    for bootnode in &bootnodes {
        swarm.add_peer_address(bootnode.peer, bootnode.address.clone());
    }

    let local_peer_id = *swarm.local_peer_id();
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
    let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let topics = Topic::ALL
        .iter()
        .map(|t| (t.ident(config.chain_id).hash(), *t))
        .collect();
    let service = Service {
        swarm,
        chain_id: config.chain_id,
        limits: config.gossip_message_bytes_max,
        sync_response_bytes_max: config.sync_response_bytes_max,
        sync_request_timeout: config.sync_request_timeout,
        ban_duration: config.ban_duration,
        metrics,
        events: events_tx,
        commands: commands_rx,
        peer_events: VecDeque::new(),
        peers: HashMap::new(),
        outbound: HashMap::new(),
        inbound: FuturesUnordered::new(),
        bootnodes,
        topics,
        listen_addrs: Vec::new(),
        rng: u64::from_le_bytes(seed(&local_peer_id)),
    };
    info!(target: "p2p", peer_id = %local_peer_id, chain_id = config.chain_id, "starting network");
    runtime.spawn(service.run());
    Ok((
        NetworkHandle {
            commands: commands_tx,
            local_peer_id,
            limits: config.gossip_message_bytes_max,
        },
        events_rx,
    ))
}

fn seed(peer: &PeerId) -> [u8; 8] {
    let bytes = peer.to_bytes();
    let mut seed = [0x5a; 8];
    for (i, b) in bytes.iter().rev().take(8).enumerate() {
        seed[i] ^= b;
    }
    seed
}

struct Bootnode {
    peer: PeerId,
    address: Multiaddr,
    backoff: Backoff,
}

struct PeerState {
    address: Multiaddr,
    status: Option<Status>,
    connected_at: Instant,
}

struct Outbound {
    peer: PeerId,
    request: SyncRequest,
    reply: oneshot::Sender<Result<SyncResponse, NetworkError>>,
}

/// An inbound request once the engine answered (or failed to).
struct Answered {
    channel: ResponseChannel<SyncResponse>,
    peer: PeerId,
    request: SyncRequest,
    response: SyncResponse,
}

struct Service {
    swarm: Swarm<Behaviour>,
    chain_id: u64,
    limits: GossipLimits,
    sync_response_bytes_max: usize,
    sync_request_timeout: Duration,
    ban_duration: Duration,
    metrics: Metrics,
    events: mpsc::Sender<NetworkEvent>,
    commands: mpsc::Receiver<Command>,
    /// Connect and disconnect events never dropped: they wait here while the
    /// event channel is full.
    peer_events: VecDeque<NetworkEvent>,
    peers: HashMap<PeerId, PeerState>,
    outbound: HashMap<OutboundRequestId, Outbound>,
    inbound: FuturesUnordered<BoxFuture<'static, Answered>>,
    bootnodes: Vec<Bootnode>,
    topics: HashMap<gossipsub::TopicHash, Topic>,
    listen_addrs: Vec<Multiaddr>,
    /// xorshift state for backoff jitter.
    rng: u64,
}

impl Service {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown_reply = None;
        // A clone, so a reserved permit does not borrow `self`.
        let events = self.events.clone();
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    None => break,
                    Some(Command::Shutdown { reply }) => {
                        shutdown_reply = Some(reply);
                        break;
                    }
                    Some(command) => self.on_command(command),
                },
                Some(answered) = self.inbound.next(), if !self.inbound.is_empty() => {
                    self.respond(answered);
                }
                permit = events.reserve(), if !self.peer_events.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.peer_events.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => self.peer_events.clear(),
                },
                _ = tick.tick() => self.on_tick(),
            }
        }
        info!(target: "p2p", "network stopped");
        for (_, outbound) in self.outbound.drain() {
            let _ = outbound.reply.send(Err(NetworkError::Closed));
        }
        drop(self.swarm);
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.publish(topic, data));
            }
            Command::Validated { id, verdict } => self.validated(id, verdict),
            Command::Penalize { peer, reason } => self.penalize(peer, reason),
            Command::Ban { peer, reason } => self.ban(peer, reason),
            Command::Request {
                peer,
                request,
                reply,
            } => self.request(peer, request, reply),
            Command::Peers { reply } => {
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let peers = self
                    .peers
                    .iter()
                    .map(|(peer_id, state)| PeerInfo {
                        peer_id: *peer_id,
                        address: state.address.clone(),
                        status: state.status,
                        score: gossipsub.peer_score(peer_id).unwrap_or(0.0),
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            // Handled by the loop.
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) -> Result<(), NetworkError> {
        let bytes = data.len() as u64;
        let result = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.ident(self.chain_id), data);
        match result {
            Ok(_) => {
                let labels = ["out", topic.name()];
                self.metrics
                    .gossip_messages
                    .with_label_values(&labels)
                    .inc();
                self.metrics
                    .gossip_bytes
                    .with_label_values(&labels)
                    .inc_by(bytes);
                Ok(())
            }
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                debug!(target: "p2p", %topic, "published with no peer subscribed");
                self.metrics
                    .publish_no_peers
                    .with_label_values(&[topic.name()])
                    .inc();
                Ok(())
            }
            Err(gossipsub::PublishError::Duplicate) => Ok(()),
            Err(e) => Err(NetworkError::Publish {
                topic,
                reason: e.to_string(),
            }),
        }
    }

    fn validated(&mut self, id: GossipId, verdict: Verdict) {
        let acceptance = match verdict {
            Verdict::Accept => gossipsub::MessageAcceptance::Accept,
            Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
            Verdict::Reject => gossipsub::MessageAcceptance::Reject,
        };
        let found = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&id.message_id, &id.propagation_source, acceptance);
        if !found {
            debug!(target: "p2p", message_id = %id.message_id, "verdict for a message no longer cached");
        }
        if verdict == Verdict::Reject {
            self.metrics
                .rejected_messages
                .with_label_values(&[id.topic.name()])
                .inc();
            self.check_score(id.propagation_source);
        }
    }

    fn request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, NetworkError>>,
    ) {
        if !self.peers.contains_key(&peer) {
            let _ = reply.send(Err(NetworkError::NotConnected(peer)));
            return;
        }
        if self.outbound.len() >= PENDING_REQUESTS_MAX {
            let _ = reply.send(Err(NetworkError::Busy(PENDING_REQUESTS_MAX)));
            return;
        }
        self.metrics
            .sync_requests
            .with_label_values(&["out", request.kind()])
            .inc();
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, WireRequest::Valid(request.clone()));
        self.outbound.insert(
            id,
            Outbound {
                peer,
                request,
                reply,
            },
        );
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for i in 0..self.bootnodes.len() {
            let peer = self.bootnodes[i].peer;
            if self.peers.contains_key(&peer)
                || self.is_banned(&peer, now)
                || !self.bootnodes[i].backoff.due(now)
            {
                continue;
            }
            let jitter = self.next_random();
            let bootnode = &mut self.bootnodes[i];
            bootnode.backoff.failed(now, jitter);
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![bootnode.address.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            debug!(target: "p2p", %peer, address = %bootnode.address, "dialling bootnode");
            if let Err(e) = self.swarm.dial(opts) {
                debug!(target: "p2p", %peer, error = %e, "bootnode dial refused");
            }
        }
        let connected = self.peers.keys().copied().collect::<Vec<_>>();
        for peer in connected {
            let penalty = self.swarm.behaviour().gate.penalty(&peer, now);
            if penalty > 0.0 {
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .set_application_score(&peer, -penalty);
            }
            self.check_score(peer);
        }
        self.swarm.behaviour_mut().gate.prune(now);
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.swarm.behaviour().gate.is_banned(peer, now)
    }

    /// Bans `peer` if its gossipsub score fell to the ban threshold.
    fn check_score(&mut self, peer: PeerId) {
        if let Some(score) = self.swarm.behaviour().gossipsub.peer_score(&peer)
            && score <= BAN_SCORE
            && self.peers.contains_key(&peer)
        {
            self.ban(peer, &format!("gossip score {score:.1}"));
        }
    }

    fn penalize(&mut self, peer: PeerId, reason: &str) {
        let now = Instant::now();
        if self.is_banned(&peer, now) {
            return;
        }
        let points = self
            .swarm
            .behaviour_mut()
            .gate
            .penalize(peer, PENALTY_POINTS, now);
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, -points);
        info!(target: "p2p", %peer, reason, penalty = points, "peer penalized");
        if points >= PENALTY_BAN_POINTS {
            self.ban(peer, reason);
        } else {
            self.check_score(peer);
        }
    }

    fn ban(&mut self, peer: PeerId, reason: &str) {
        let now = Instant::now();
        if self.is_banned(&peer, now) {
            return;
        }
        self.swarm
            .behaviour_mut()
            .gate
            .ban(peer, now + self.ban_duration);
        let _ = self.swarm.disconnect_peer_id(peer);
        self.metrics.peers_banned.inc();
        warn!(
            target: "p2p",
            %peer,
            reason,
            ban_secs = self.ban_duration.as_secs(),
            "peer banned"
        );
    }

    fn send_peer_event(&mut self, event: NetworkEvent) {
        if self.peer_events.is_empty() {
            match self.events.try_send(event) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(event)) => self.peer_events.push_back(event),
            }
        } else {
            self.peer_events.push_back(event);
        }
        if self.peer_events.len() > PEER_EVENTS_QUEUED_MAX {
            self.peer_events.pop_front();
            self.metrics
                .dropped_events
                .with_label_values(&["peer"])
                .inc();
            warn!(target: "p2p", "engine is not reading events: dropped the oldest peer event");
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.on_identify(event),
            SwarmEvent::Behaviour(BehaviourEvent::Gate(never)) => match never {},
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                if num_established.get() > 1 {
                    return;
                }
                let address = endpoint.get_remote_address().clone();
                info!(
                    target: "p2p",
                    peer = %peer_id,
                    %address,
                    inbound = endpoint.is_listener(),
                    "peer connected"
                );
                self.peers.insert(
                    peer_id,
                    PeerState {
                        address,
                        status: None,
                        connected_at: Instant::now(),
                    },
                );
                self.metrics.peers.set(self.peers.len() as i64);
                self.send_peer_event(NetworkEvent::PeerConnected(peer_id));
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                if num_established > 0 {
                    return;
                }
                let reason = match &cause {
                    Some(e) => e.to_string(),
                    None => "closed locally".to_owned(),
                };
                info!(target: "p2p", peer = %peer_id, reason, "peer disconnected");
                if let Some(state) = self.peers.remove(&peer_id) {
                    // A bootnode that hangs up at once (it bans us, or is
                    // full) is not hammered: only a connection that lasted
                    // resets its redial backoff.
                    if state.connected_at.elapsed() >= BOOTNODE_STABLE
                        && let Some(bootnode) =
                            self.bootnodes.iter_mut().find(|b| b.peer == peer_id)
                    {
                        bootnode.backoff.reset();
                    }
                    self.metrics.peers.set(self.peers.len() as i64);
                    self.send_peer_event(NetworkEvent::PeerDisconnected(peer_id));
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                debug!(target: "p2p", address = %send_back_addr, peer = ?peer_id, %error, "inbound connection failed");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                debug!(target: "p2p", peer = ?peer_id, %error, "outbound connection failed");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(target: "p2p", %address, "listening");
                self.listen_addrs.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| *a != address);
            }
            SwarmEvent::ListenerError { error, .. } => {
                warn!(target: "p2p", %error, "listener error");
            }
            _ => {}
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let Some(topic) = self.topics.get(&message.topic).copied() else {
                    // Gossipsub only delivers subscribed topics.
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            gossipsub::MessageAcceptance::Ignore,
                        );
                    return;
                };
                let bytes = message.data.len();
                let labels = ["in", topic.name()];
                self.metrics
                    .gossip_messages
                    .with_label_values(&labels)
                    .inc();
                self.metrics
                    .gossip_bytes
                    .with_label_values(&labels)
                    .inc_by(bytes as u64);
                let id = GossipId {
                    message_id,
                    propagation_source,
                    topic,
                };
                let max = self.limits.for_topic(topic);
                if bytes > max {
                    debug!(target: "p2p", peer = %propagation_source, %topic, bytes, max, "oversized gossip rejected");
                    self.validated(id, Verdict::Reject);
                    return;
                }
                let event = NetworkEvent::Gossip {
                    topic,
                    id: id.clone(),
                    source: propagation_source,
                    data: message.data,
                };
                if let Err(e) = self.events.try_send(event) {
                    if matches!(e, mpsc::error::TrySendError::Full(_)) {
                        self.metrics
                            .dropped_events
                            .with_label_values(&["gossip"])
                            .inc();
                        debug!(target: "p2p", %topic, "event queue full: gossip dropped");
                    }
                    self.validated(id, Verdict::Ignore);
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                debug!(target: "p2p", peer = %peer_id, %topic, "peer subscribed");
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                debug!(target: "p2p", peer = %peer_id, %topic, "peer unsubscribed");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                debug!(target: "p2p", peer = %peer_id, "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                debug!(target: "p2p", peer = %peer_id, ?failed_messages, "slow peer");
            }
        }
    }

    fn on_sync(&mut self, event: request_response::Event<WireRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request: WireRequest::Valid(request),
                    channel,
                    ..
                } => self.on_inbound_request(peer, request, channel),
                request_response::Message::Request {
                    request: WireRequest::Malformed(reason),
                    channel,
                    ..
                } => {
                    debug!(target: "p2p", %peer, reason, "malformed sync request");
                    self.send_response(channel, SyncResponse::Error("malformed request".into()));
                    self.penalize(peer, "malformed or oversized sync request");
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.on_response(request_id, response),
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let malformed = matches!(&error, OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::InvalidData);
                let error = match error {
                    OutboundFailure::Timeout => NetworkError::Timeout {
                        peer,
                        timeout: self.sync_request_timeout,
                    },
                    error => NetworkError::Request {
                        peer,
                        reason: error.to_string(),
                    },
                };
                debug!(target: "p2p", %peer, %error, "sync request failed");
                if let Some(outbound) = self.outbound.remove(&request_id) {
                    let _ = outbound.reply.send(Err(error));
                }
                if malformed {
                    self.penalize(peer, "malformed or oversized sync response");
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(target: "p2p", %peer, %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_inbound_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        self.metrics
            .sync_requests
            .with_label_values(&["in", request.kind()])
            .inc();
        if self.inbound.len() >= PENDING_REQUESTS_MAX {
            self.send_response(channel, SyncResponse::Error("busy".into()));
            return;
        }
        let (respond, answer) = oneshot::channel();
        let event = NetworkEvent::SyncRequest {
            peer,
            request: request.clone(),
            respond,
        };
        if let Err(e) = self.events.try_send(event) {
            let text = match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.metrics
                        .dropped_events
                        .with_label_values(&["sync_request"])
                        .inc();
                    "busy"
                }
                mpsc::error::TrySendError::Closed(_) => "shutting down",
            };
            self.send_response(channel, SyncResponse::Error(text.into()));
            return;
        }
        let timeout = self.sync_request_timeout;
        self.inbound.push(Box::pin(async move {
            let response = match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(response)) => response,
                Ok(Err(_)) => SyncResponse::Error("request not answered".into()),
                Err(_) => SyncResponse::Error("request timed out".into()),
            };
            Answered {
                channel,
                peer,
                request,
                response,
            }
        }));
    }

    fn respond(&mut self, answered: Answered) {
        let response = fit_response(
            &answered.request,
            answered.response,
            self.sync_response_bytes_max,
        );
        debug!(target: "p2p", peer = %answered.peer, request = ?answered.request, "answering sync request");
        self.send_response(answered.channel, response);
    }

    fn send_response(&mut self, channel: ResponseChannel<SyncResponse>, response: SyncResponse) {
        if self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response)
            .is_err()
        {
            debug!(target: "p2p", "sync response not sent: the requester is gone");
        }
    }

    fn on_response(&mut self, request_id: OutboundRequestId, response: SyncResponse) {
        let Some(outbound) = self.outbound.remove(&request_id) else {
            return;
        };
        let peer = outbound.peer;
        let result = match (&outbound.request, &response) {
            (SyncRequest::Status, SyncResponse::Status(status)) => {
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.status = Some(*status);
                }
                if status.chain_id != self.chain_id {
                    self.ban(peer, &format!("status of chain {}", status.chain_id));
                }
                Ok(response)
            }
            (SyncRequest::Blocks { count, .. }, SyncResponse::Blocks(blocks))
                if blocks.len() > *count as usize =>
            {
                Err(format!("{} blocks for a request of {count}", blocks.len()))
            }
            (SyncRequest::Blocks { .. }, SyncResponse::Blocks(_)) | (_, SyncResponse::Error(_)) => {
                Ok(response)
            }
            (request, response) => Err(format!(
                "{} response to a {} request",
                response_kind(response),
                request.kind()
            )),
        };
        let result = result.map_err(|reason| {
            self.penalize(peer, "sync response does not match the request");
            NetworkError::Request { peer, reason }
        });
        let _ = outbound.reply.send(result);
    }

    fn on_identify(&mut self, event: identify::Event) {
        if let identify::Event::Received { peer_id, info, .. } = event {
            let expected = identify_protocol_version(self.chain_id);
            if info.protocol_version != expected {
                self.ban(
                    peer_id,
                    &format!(
                        "protocol version {:?}, expected {expected:?}",
                        info.protocol_version
                    ),
                );
            } else {
                debug!(target: "p2p", peer = %peer_id, agent = info.agent_version, "identified");
            }
        }
    }
}

fn response_kind(response: &SyncResponse) -> &'static str {
    match response {
        SyncResponse::Status(_) => "status",
        SyncResponse::Blocks(_) => "blocks",
        SyncResponse::Error(_) => "error",
    }
}

/// Makes the engine's answer one the protocol allows: the right kind, at most
/// the requested number of blocks, and no more bytes than `max` (dropping
/// blocks from the end: a prefix is still a valid answer).
fn fit_response(request: &SyncRequest, response: SyncResponse, max: usize) -> SyncResponse {
    match (request, response) {
        (SyncRequest::Status, response @ SyncResponse::Status(_)) => response,
        (SyncRequest::Blocks { from, count }, SyncResponse::Blocks(mut blocks)) => {
            blocks.truncate(*count as usize);
            let mut bytes = BLOCKS_HEADER_BYTES;
            let fitting = blocks
                .iter()
                .take_while(|b| {
                    bytes += BLOCK_OVERHEAD_BYTES + b.len();
                    bytes <= max
                })
                .count();
            if fitting == 0 && !blocks.is_empty() {
                let first = blocks.first().map(Vec::len).unwrap_or(0);
                return SyncResponse::Error(format!(
                    "block {from} of {first} bytes exceeds the response limit of {max} bytes"
                ));
            }
            blocks.truncate(fitting);
            let response = SyncResponse::Blocks(blocks);
            debug_assert!(response_body_len(&response) <= max);
            response
        }
        (_, response @ SyncResponse::Error(_)) => response,
        (request, response) => SyncResponse::Error(format!(
            "internal error: {} answer to a {} request",
            response_kind(&response),
            request.kind()
        )),
    }
}

/// `error` and its causes, joined by colons. libp2p's transport error says
/// nothing itself when the OS refused ("address in use" is its source).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_error_says_why() {
        // What libp2p gives for a port taken: an empty text, the OS error
        // as its source.
        let refused =
            libp2p::TransportError::Other(std::io::Error::from(std::io::ErrorKind::AddrInUse));
        assert_eq!(refused.to_string(), "");
        assert_eq!(with_causes(&refused), "address in use");
    }

    #[test]
    fn responses_are_cut_to_the_request_and_the_byte_limit() {
        let request = SyncRequest::Blocks { from: 5, count: 3 };
        let blocks = vec![vec![1; 100]; 5];
        let fitted = fit_response(&request, SyncResponse::Blocks(blocks.clone()), 1 << 20);
        assert_eq!(fitted, SyncResponse::Blocks(blocks[..3].to_vec()));

        // Room for exactly two blocks.
        let max = BLOCKS_HEADER_BYTES + 2 * (BLOCK_OVERHEAD_BYTES + 100);
        let fitted = fit_response(&request, SyncResponse::Blocks(blocks.clone()), max);
        assert_eq!(fitted, SyncResponse::Blocks(blocks[..2].to_vec()));

        let fitted = fit_response(&request, SyncResponse::Blocks(blocks), 50);
        assert!(matches!(fitted, SyncResponse::Error(e) if e.contains("block 5 of 100 bytes")));

        let wrong = fit_response(&SyncRequest::Status, SyncResponse::Blocks(vec![]), 100);
        assert!(matches!(wrong, SyncResponse::Error(_)));
    }
}
