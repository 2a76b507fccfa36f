//! Who may connect: the ban list, the peer limit, one connection per peer, and
//! the penalty points a peer earns outside gossip (see [`PeerGate`]); and when
//! to redial a lost bootnode ([`Backoff`]).
//!
//! Two peers that dial each other at once (both redialling after a
//! partition heals) each get an outbound and an inbound connection. Refusing
//! the second one on each side would close both (each side refuses the one
//! the other kept), and both would wait out their redial backoff. So one
//! connection in each direction is admitted, and once both are up each side
//! closes the same one: the connection dialled by the peer with the larger
//! id.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    fmt,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use libp2p::{
    Multiaddr, PeerId,
    core::{Endpoint, transport::PortUse},
    swarm::{
        CloseConnection, ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm,
        NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
        behaviour::ConnectionEstablished, dummy,
    },
};

/// Points one [`super::NetworkHandle::penalize`] call, one undecodable sync
/// frame or one oversized sync frame costs a peer.
pub(crate) const PENALTY_POINTS: f64 = 10.0;
/// A peer reaching this many points (after decay) is disconnected and
/// banned: five penalties in a short while, four never. Not five times
/// [`PENALTY_POINTS`]: points decay continuously, so five penalties a
/// second apart add up to a little under 50 (a peer serving bad
/// certificates every sync interval stood at 49.9 after five).
pub(crate) const PENALTY_BAN_POINTS: f64 = 45.0;
/// Penalty points halve every this long, so an honest peer's rare fault is
/// forgotten while a steady offender accumulates.
const PENALTY_HALF_LIFE: Duration = Duration::from_secs(300);

/// Why a connection was refused.
#[derive(Debug)]
pub(crate) enum Refused {
    Banned { remaining: Duration },
    AlreadyConnected,
    TooManyPeers { max: usize },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Banned { remaining } => {
                write!(f, "peer is banned for another {}s", remaining.as_secs())
            }
            Refused::AlreadyConnected => write!(f, "peer already has a connection"),
            Refused::TooManyPeers { max } => write!(f, "already {max} peers connected"),
        }
    }
}

impl std::error::Error for Refused {}

#[derive(Debug, Clone, Copy)]
struct Penalty {
    points: f64,
    at: Instant,
}

impl Penalty {
    fn decayed(&self, now: Instant) -> f64 {
        let halvings =
            now.saturating_duration_since(self.at).as_secs_f64() / PENALTY_HALF_LIFE.as_secs_f64();
        self.points * 0.5f64.powf(halvings)
    }
}

/// A behaviour without protocols that admits or refuses connections: banned
/// peers, a second connection to a connected peer, and connections beyond
/// `max_peers` are denied before any protocol runs on them.
pub(crate) struct PeerGate {
    local: PeerId,
    max_peers: usize,
    /// Established connections per peer, each with whether we dialled it.
    /// One, or two in opposite directions until the tie-break closes one.
    connections: HashMap<PeerId, HashMap<ConnectionId, bool>>,
    banned_until: HashMap<PeerId, Instant>,
    penalties: HashMap<PeerId, Penalty>,
    /// Connections the tie-break closes, for the swarm.
    closing: VecDeque<(PeerId, ConnectionId)>,
}

impl PeerGate {
    pub(crate) fn new(local: PeerId, max_peers: usize) -> Self {
        Self {
            local,
            max_peers,
            connections: HashMap::new(),
            banned_until: HashMap::new(),
            penalties: HashMap::new(),
            closing: VecDeque::new(),
        }
    }

    /// Refuses `peer` until `until`.
    pub(crate) fn ban(&mut self, peer: PeerId, until: Instant) {
        self.banned_until.insert(peer, until);
        self.penalties.remove(&peer);
    }

    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.banned_until
            .get(peer)
            .is_some_and(|until| *until > now)
    }

    /// Adds `points` to `peer`'s decayed penalty and returns the new total.
    pub(crate) fn penalize(&mut self, peer: PeerId, points: f64, now: Instant) -> f64 {
        let previous = self
            .penalties
            .get(&peer)
            .map(|p| p.decayed(now))
            .unwrap_or(0.0);
        let points = previous + points;
        self.penalties.insert(peer, Penalty { points, at: now });
        points
    }

    /// `peer`'s penalty points now.
    pub(crate) fn penalty(&self, peer: &PeerId, now: Instant) -> f64 {
        self.penalties
            .get(peer)
            .map(|p| p.decayed(now))
            .unwrap_or(0.0)
    }

    /// Forgets expired bans and penalties that decayed to nothing, so the maps
    /// stay bounded by recent offenders.
    pub(crate) fn prune(&mut self, now: Instant) {
        self.banned_until.retain(|_, until| *until > now);
        self.penalties.retain(|_, p| p.decayed(now) >= 1.0);
    }

    /// Admits a connection to `peer` that we dialled (`outbound`) or not.
    fn check(&self, peer: &PeerId, outbound: bool) -> Result<(), ConnectionDenied> {
        if let Some(until) = self.banned_until.get(peer) {
            let remaining = until.saturating_duration_since(Instant::now());
            if !remaining.is_zero() {
                return Err(ConnectionDenied::new(Refused::Banned { remaining }));
            }
        }
        if let Some(existing) = self.connections.get(peer).filter(|c| !c.is_empty()) {
            // A simultaneous dial: one each way, and the tie-break keeps one.
            let opposite = existing.len() == 1 && existing.values().all(|we| *we != outbound);
            if !opposite {
                return Err(ConnectionDenied::new(Refused::AlreadyConnected));
            }
            return Ok(());
        }
        if self.connections.len() >= self.max_peers {
            return Err(ConnectionDenied::new(Refused::TooManyPeers {
                max: self.max_peers,
            }));
        }
        Ok(())
    }
}

impl NetworkBehaviour for PeerGate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: Option<PeerId>,
        _: &[Multiaddr],
        _: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = peer {
            self.check(&peer, true)?;
        }
        Ok(Vec::new())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer, false)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer, true)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) => {
                let connections = self.connections.entry(peer_id).or_default();
                connections.insert(connection_id, endpoint.is_dialer());
                if connections.len() > 1 {
                    // Keep the connection the smaller peer id dialled: both
                    // sides pick the same one.
                    let keep_ours = self.local < peer_id;
                    for (id, ours) in connections.iter() {
                        if *ours != keep_ours {
                            self.closing.push_back((peer_id, *id));
                        }
                    }
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                if let Some(connections) = self.connections.get_mut(&peer_id) {
                    connections.remove(&connection_id);
                    if connections.is_empty() {
                        self.connections.remove(&peer_id);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        match self.closing.pop_front() {
            Some((peer_id, id)) => Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::One(id),
            }),
            None => Poll::Pending,
        }
    }
}

/// Capped exponential backoff with jitter for redialling one bootnode. The
/// jitter breaks the tie when two nodes that list each other dial at once
/// and each refuses the other's second connection.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
    next_at: Instant,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration, now: Instant) -> Self {
        Self {
            min,
            max: max.max(min),
            current: min,
            next_at: now,
        }
    }

    pub(crate) fn due(&self, now: Instant) -> bool {
        now >= self.next_at
    }

    /// Schedules the next attempt after a failure (or right after a dial,
    /// so a dial in flight is not repeated): waits the current delay plus up
    /// to 25% jitter, then doubles the delay up to the cap.
    pub(crate) fn failed(&mut self, now: Instant, jitter_seed: u64) {
        let jitter_ms = (self.current.as_millis() as u64 / 4).max(1);
        let jitter = Duration::from_millis(jitter_seed % jitter_ms);
        self.next_at = now + self.current + jitter;
        self.current = (self.current * 2).min(self.max);
    }

    /// The peer stayed connected a while: the next loss is retried quickly again.
    pub(crate) fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_add_up_and_halve_with_time() {
        let mut gate = PeerGate::new(PeerId::random(), 4);
        let peer = PeerId::random();
        let t0 = Instant::now();
        assert_eq!(gate.penalize(peer, 10.0, t0), 10.0);
        assert_eq!(gate.penalize(peer, 10.0, t0), 20.0);
        let later = t0 + PENALTY_HALF_LIFE;
        assert!((gate.penalty(&peer, later) - 10.0).abs() < 1e-9);
        gate.prune(t0 + PENALTY_HALF_LIFE * 10);
        assert_eq!(gate.penalty(&peer, later), 0.0);
    }

    #[test]
    fn five_penalties_in_a_short_while_ban_and_four_do_not() {
        let mut gate = PeerGate::new(PeerId::random(), 4);
        let peer = PeerId::random();
        let t0 = Instant::now();
        let mut points = 0.0;
        for i in 0..5 {
            assert!(points < PENALTY_BAN_POINTS, "banned after {i} penalties");
            points = gate.penalize(peer, PENALTY_POINTS, t0 + Duration::from_secs(i));
        }
        assert!(points >= PENALTY_BAN_POINTS, "five penalties: {points}");
        // Spread over a minute they still do.
        let other = PeerId::random();
        for i in 0..5 {
            points = gate.penalize(other, PENALTY_POINTS, t0 + Duration::from_secs(15 * i));
        }
        assert!(points >= PENALTY_BAN_POINTS, "five in a minute: {points}");
    }

    #[test]
    fn bans_expire() {
        let mut gate = PeerGate::new(PeerId::random(), 4);
        let peer = PeerId::random();
        let t0 = Instant::now();
        gate.ban(peer, t0 + Duration::from_secs(60));
        assert!(gate.is_banned(&peer, t0));
        assert!(gate.check(&peer, false).is_err());
        assert!(!gate.is_banned(&peer, t0 + Duration::from_secs(61)));
        gate.prune(t0 + Duration::from_secs(61));
        assert!(gate.banned_until.is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let t0 = Instant::now();
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350), t0);
        assert!(b.due(t0));
        b.failed(t0, 0);
        assert!(!b.due(t0 + Duration::from_millis(99)));
        assert!(b.due(t0 + Duration::from_millis(100)));
        b.failed(t0, 0);
        assert_eq!(b.current, Duration::from_millis(350));
        b.failed(t0, 0);
        assert_eq!(b.current, Duration::from_millis(350));
        b.reset();
        assert_eq!(b.current, Duration::from_millis(100));
    }
}
