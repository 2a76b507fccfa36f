//! The simulated world: nodes (an engine model around each core), a seeded
//! network and an event queue ordered by (time, sequence number).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Duration;

use outrigger_consensus_core::{
    BlockHash, ChainId, CommitCertificate, Config, Decision, Height, Input, LastSigned, Output,
    Proposal, Round, RoundState, SignStep, SignedProposal, SignedVote, SigningKey, Timeout,
    TimeoutSchedule, Validator, ValidatorSet, Vote, VoteKind,
};

use super::byzantine::{self, Behavior};
use super::checks::{Checker, is_valid};
use super::rng::Rng;
use super::{Outcome, SimConfig, Stats};

mod actors;
mod engine;
mod network;

const CHAIN: ChainId = ChainId(0x6f72);
/// Delivery delay after GST is at most this (the paper's Δ).
const DELTA_MS: u64 = 60;
/// Delivery delay before GST is at most this.
const PRE_GST_DELAY_MAX_MS: u64 = 900;
/// Rounds a height may take after GST beyond one full rotation of honest
/// proposers before liveness is declared violated. Tendermint decides once
/// the honest validator with the highest valid round proposes after GST, and
/// with power-weighted rotation that may take until every honest validator
/// has proposed once; the slack covers the round running at GST.
pub(crate) const LIVENESS_SLACK_ROUNDS: u64 = 3;
/// How often a node's status reaches its peers (as gossip layers exchange
/// height/round/step), so that peers can send a lagging node a certificate.
const STATUS_INTERVAL_MS: u64 = 500;
/// Simulated time allowed per height after GST.
const TIME_PER_HEIGHT_MS: u64 = 40_000;

#[derive(Clone, Debug)]
enum Msg {
    Proposal(SignedProposal),
    Vote(SignedVote),
    Commit(CommitCertificate),
}

impl Msg {
    fn height(&self) -> Height {
        match self {
            Msg::Proposal(p) => p.proposal.height,
            Msg::Vote(v) => v.vote.height,
            Msg::Commit(c) => c.height,
        }
    }
    fn input(&self) -> Input {
        match self {
            Msg::Proposal(p) => Input::Proposal(p.clone()),
            Msg::Vote(v) => Input::Vote(v.clone()),
            Msg::Commit(c) => Input::Commit(c.clone()),
        }
    }
    fn signer(&self) -> usize {
        match self {
            Msg::Proposal(p) => p.proposal.proposer.get(),
            Msg::Vote(v) => v.vote.validator.get(),
            Msg::Commit(c) => c.signatures.first().map_or(0, |s| s.0.get()),
        }
    }
    fn signature_digest(&self) -> u64 {
        let sig = match self {
            Msg::Proposal(p) => p.signature.to_bytes(),
            Msg::Vote(v) => v.signature.to_bytes(),
            Msg::Commit(c) => c.signatures.first().map_or([0; 64], |s| s.1.to_bytes()),
        };
        u64::from_le_bytes(sig[..8].try_into().unwrap_or_default())
    }
    fn digest(&self) -> u64 {
        let (tag, h, r, value, who) = match self {
            Msg::Proposal(p) => {
                let p = &p.proposal;
                (1, p.height.0, p.round.0, Some(p.value), p.proposer.0)
            }
            Msg::Vote(v) => {
                let v = &v.vote;
                let tag = if v.kind == VoteKind::Prevote { 2 } else { 3 };
                (tag, v.height.0, v.round.0, v.value, v.validator.0)
            }
            Msg::Commit(c) => (
                4,
                c.height.0,
                c.round.0,
                Some(c.value),
                c.signatures.len() as u32,
            ),
        };
        let value = value.map_or(0, |v| {
            u64::from_le_bytes(v.0[..8].try_into().unwrap_or_default())
        });
        mix(mix(mix(mix(tag, h), u64::from(r)), value), u64::from(who))
    }
}

fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .rotate_left(23)
        .wrapping_mul(0x0000_0100_0000_01b3)
}

#[derive(Debug)]
enum Kind {
    Deliver {
        to: usize,
        msg: Msg,
    },
    Timeout {
        node: usize,
        life: u32,
        timeout: Timeout,
    },
    Validated {
        node: usize,
        life: u32,
        height: Height,
        value: BlockHash,
    },
    Built {
        node: usize,
        life: u32,
        height: Height,
        round: Round,
        value: BlockHash,
    },
    StartHeight {
        node: usize,
        life: u32,
        height: Height,
    },
    Status {
        node: usize,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Gst,
    PartitionStart,
    Heal,
}

struct Event {
    time: u64,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    /// Reversed: the heap pops the earliest event first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

struct Node {
    key: SigningKey,
    byzantine: Option<Behavior>,
    core: Option<RoundState>,
    /// Incarnation: events of an earlier incarnation are ignored.
    life: u32,
    // What the engine keeps on disk (survives a crash).
    last_signed: Option<LastSigned>,
    /// Own signed messages of the current height (replayed after restart).
    wal: Vec<Msg>,
    decided: BTreeMap<Height, Decision>,
    /// Byzantine messages of the current height we received, relayed as
    /// gossip does (honest ones reach everyone after GST anyway).
    relay: Vec<Msg>,
    relayed: std::collections::BTreeSet<u64>,
    // Volatile.
    /// The highest height of a message we dropped for being too far ahead.
    lagged_until: Height,
    seen_values: Vec<BlockHash>,
    at_gst: Option<(Height, Round)>,
}

impl Node {
    fn height(&self) -> Option<Height> {
        self.core.as_ref().map(|c| c.height())
    }
    fn next_height(&self) -> Height {
        self.decided
            .keys()
            .next_back()
            .map_or(Height(1), |h| Height(h.0 + 1))
    }
}

struct World {
    cfg: SimConfig,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Event>,
    sets: Vec<ValidatorSet>,
    nodes: Vec<Node>,
    core_config: Config,
    gst: u64,
    partition: Option<(Vec<bool>, u64, u64)>,
    hold_certificates: bool,
    checker: Checker,
    history: u64,
    stats: Stats,
}

fn sim_core_config(break_lock: bool) -> Config {
    let ms = Duration::from_millis;
    let mut config = Config::new(CHAIN);
    config.timeouts.propose = TimeoutSchedule {
        base: ms(400),
        per_round: ms(150),
        max: ms(1000),
    };
    config.timeouts.prevote = TimeoutSchedule {
        base: ms(200),
        per_round: ms(100),
        max: ms(600),
    };
    config.timeouts.precommit = TimeoutSchedule {
        base: ms(200),
        per_round: ms(100),
        max: ms(600),
    };
    config.test_ignore_lock = break_lock;
    config
}

/// Runs one seed to the end and reports what the checks found.
pub(crate) fn run(cfg: &SimConfig) -> Outcome {
    let mut w = World::new(cfg);
    if cfg.trace {
        let powers: Vec<u64> = w.sets[1].validators().iter().map(|v| v.power).collect();
        let roles: Vec<String> = w
            .nodes
            .iter()
            .map(|n| format!("{:?}", n.byzantine))
            .collect();
        eprintln!("powers {powers:?} byzantine {roles:?} gst {}ms", w.gst);
    }
    let rotation = (1..=cfg.heights)
        .map(|h| w.honest_rotation(Height(h), 0))
        .max()
        .unwrap_or(0);
    let time_limit = w.gst + cfg.heights * (TIME_PER_HEIGHT_MS + rotation * 2_500);
    while let Some(ev) = w.queue.pop() {
        if ev.time > time_limit {
            break;
        }
        w.now = ev.time;
        w.stats.events += 1;
        w.handle(ev);
        if !w.checker.violations.is_empty() || w.all_honest_decided() {
            break;
        }
    }
    w.finish()
}

impl World {
    fn new(cfg: &SimConfig) -> Self {
        assert!(cfg.validators >= 1 && cfg.byzantine < cfg.validators);
        let mut rng = Rng::new(cfg.seed);
        let n = cfg.validators;
        let keys: Vec<SigningKey> = (0..n)
            .map(|_| SigningKey::from_bytes(&rng.bytes32()))
            .collect();
        let mut powers: Vec<u64> = (0..n).map(|_| rng.range(1, 100)).collect();
        // Byzantine nodes: a random subset, by position in key order below.
        let mut byz = vec![false; n];
        let mut chosen = 0;
        while chosen < cfg.byzantine {
            let i = rng.below(n as u64) as usize;
            if !byz[i] {
                byz[i] = true;
                chosen += 1;
            }
        }
        let byz_power = |p: &[u64]| {
            p.iter()
                .zip(&byz)
                .filter(|(_, b)| **b)
                .map(|(p, _)| *p)
                .sum::<u64>()
        };
        while 3 * byz_power(&powers) >= powers.iter().sum::<u64>() {
            // Shrink the largest byzantine power, or grow the smallest honest one.
            let (i, _) = powers
                .iter()
                .enumerate()
                .filter(|(i, _)| byz[*i])
                .max_by_key(|(_, p)| **p)
                .unwrap_or((0, &0));
            if powers[i] > 1 {
                powers[i] -= 1;
            } else if let Some(j) = (0..n).find(|j| !byz[*j]) {
                powers[j] += 1;
            }
        }
        let mut members: Vec<(SigningKey, u64, bool)> = keys
            .into_iter()
            .zip(powers)
            .zip(byz)
            .map(|((k, p), b)| (k, p, b))
            .collect();
        members.sort_by(|a, b| {
            a.0.verifying_key()
                .as_bytes()
                .cmp(b.0.verifying_key().as_bytes())
        });
        let set = ValidatorSet::new(
            members
                .iter()
                .map(|(k, p, _)| Validator {
                    public_key: k.verifying_key(),
                    power: *p,
                })
                .collect(),
        )
        .unwrap_or_else(|e| panic!("sim validator set: {e}"));
        let mut sets = vec![set.clone(), set];
        for _ in 0..cfg.heights + 1 {
            let next = sets[sets.len() - 1].for_next_height();
            sets.push(next);
        }
        let nodes: Vec<Node> = members
            .into_iter()
            .map(|(key, _, b)| Node {
                key,
                byzantine: b.then(|| cfg.behavior.unwrap_or_else(|| Behavior::pick(&mut rng))),
                core: None,
                life: 0,
                last_signed: None,
                wal: Vec::new(),
                decided: BTreeMap::new(),
                lagged_until: Height(0),
                relay: Vec::new(),
                relayed: std::collections::BTreeSet::new(),
                seen_values: Vec::new(),
                at_gst: None,
            })
            .collect();
        let gst = rng.range(500, cfg.gst_max_ms.max(500));
        let mut w = World {
            cfg: cfg.clone(),
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            sets,
            nodes,
            core_config: sim_core_config(cfg.break_lock),
            gst,
            partition: None,
            hold_certificates: false,
            checker: Checker::default(),
            history: cfg.seed,
            stats: Stats::default(),
        };
        for i in 0..n {
            let t = w.rng.range(0, 50);
            w.at(t, Kind::Restart { node: i });
            let t = w.rng.range(1, STATUS_INTERVAL_MS);
            w.at(t, Kind::Status { node: i });
        }
        w.at(gst, Kind::Gst);
        w.hold_certificates = w.rng.chance(cfg.hold_certificates_per_mille);
        if w.rng.chance(500) {
            let sides: Vec<bool> = (0..n).map(|_| w.rng.chance(500)).collect();
            let start = w.rng.range(0, gst / 2);
            let end = w.rng.range(start + 1, gst);
            w.partition = Some((sides, start, end));
            w.at(start, Kind::PartitionStart);
            w.at(end, Kind::Heal);
        }
        let crashes = w.rng.below(if n >= 7 { 3 } else { 2 });
        for _ in 0..crashes {
            let node = w.rng.below(n as u64) as usize;
            if w.nodes[node].byzantine.is_some() {
                continue;
            }
            let down = w.rng.range(60, gst.saturating_sub(1).max(61));
            let up = w.rng.range(down + 1, gst.max(down + 1));
            w.at(down, Kind::Crash { node });
            w.at(up, Kind::Restart { node });
        }
        w
    }

    fn at(&mut self, time: u64, kind: Kind) {
        self.seq += 1;
        self.queue.push(Event {
            time,
            seq: self.seq,
            kind,
        });
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].byzantine.is_none()
    }

    fn all_honest_decided(&self) -> bool {
        let last = Height(self.cfg.heights);
        self.nodes
            .iter()
            .filter(|n| n.byzantine.is_none())
            .all(|n| n.decided.contains_key(&last))
    }

    fn note(&mut self, x: u64) {
        self.history = mix(self.history, x);
    }

    // ---- events ------------------------------------------------------------

    fn handle(&mut self, ev: Event) {
        self.note(ev.time);
        if self.cfg.trace {
            let state: Vec<String> = self
                .nodes
                .iter()
                .map(|n| match &n.core {
                    Some(c) => format!(
                        "{}/{}/{:?}/L{:?}/V{:?}{}",
                        c.height().0,
                        c.round().0,
                        c.step(),
                        c.locked().map(|l| (l.0.0, l.1)),
                        c.valid().map(|l| (l.0.0, l.1)),
                        if n.byzantine.is_some() { "/byz" } else { "" }
                    ),
                    None => "down".into(),
                })
                .collect();
            eprintln!("t={} {:?} | {}", ev.time, ev.kind, state.join(" "));
            if let Ok(dbg) = std::env::var("SIM_DEBUG_VALUE") {
                for (i, n) in self.nodes.iter().enumerate() {
                    if let Some(c) = &n.core {
                        let v = c.valid().or(c.locked()).map(|x| x.1);
                        let target = self
                            .nodes
                            .iter()
                            .filter_map(|m| m.core.as_ref()?.locked())
                            .next();
                        if let Some((r, value)) = target {
                            eprintln!(
                                "   node {i}: {dbg} pol r{} power {} validity {:?} own {v:?}",
                                r.0,
                                c.vote_power(r, VoteKind::Prevote, Some(value)),
                                c.validity(&value)
                            );
                        }
                    }
                }
            }
        }
        match ev.kind {
            Kind::Deliver { to, msg } => {
                self.note(mix(to as u64, msg.digest()));
                let Some(h) = self.nodes[to].height() else {
                    return;
                };
                self.stats.deliveries += 1;
                if msg.height().0 > h.0 + 1 {
                    let n = &mut self.nodes[to];
                    n.lagged_until = n.lagged_until.max(msg.height());
                }
                if let Msg::Proposal(p) = &msg {
                    let seen = &mut self.nodes[to].seen_values;
                    if seen.len() < 16 && !seen.contains(&p.proposal.value) {
                        seen.push(p.proposal.value);
                    }
                }
                let relayable = msg.height() == h || msg.height().0 == h.0 + 1;
                if relayable && self.honest(to) && !self.honest(msg.signer()) {
                    let digest = mix(msg.digest(), msg.signature_digest());
                    if self.nodes[to].relayed.insert(digest) && self.nodes[to].relay.len() < 1024 {
                        self.nodes[to].relay.push(msg.clone());
                        if self.now >= self.gst {
                            self.broadcast(to, &msg);
                        }
                    }
                }
                self.feed(to, msg.input());
            }
            Kind::Timeout {
                node,
                life,
                timeout,
            } => {
                if self.nodes[node].life == life {
                    self.note(mix(node as u64, 0x7100 + u64::from(timeout.round.0)));
                    self.feed(node, Input::Timeout(timeout));
                }
            }
            Kind::Validated {
                node,
                life,
                height,
                value,
            } => {
                if self.nodes[node].life == life {
                    self.note(mix(node as u64, 0x7a11));
                    self.feed(
                        node,
                        Input::ValueValidated {
                            height,
                            value,
                            valid: is_valid(value),
                        },
                    );
                }
            }
            Kind::Built {
                node,
                life,
                height,
                round,
                value,
            } => {
                if self.nodes[node].life == life {
                    self.note(mix(node as u64, 0xb111));
                    self.feed(
                        node,
                        Input::ProposalValue {
                            height,
                            round,
                            value,
                        },
                    );
                }
            }
            Kind::StartHeight { node, life, height } => {
                if self.nodes[node].life == life {
                    self.note(mix(node as u64, 0x5000 + height.0));
                    self.start_height(node, height);
                }
            }
            Kind::Status { node } => {
                self.at(self.now + STATUS_INTERVAL_MS, Kind::Status { node });
                self.catch_up(node);
            }
            Kind::Crash { node } => {
                self.note(mix(node as u64, 0xc4a5));
                self.stats.crashes += 1;
                let n = &mut self.nodes[node];
                n.core = None;
                n.life += 1;
                n.seen_values.clear();
            }
            Kind::Restart { node } => {
                self.note(mix(node as u64, 0x4e57));
                self.restart(node);
            }
            Kind::Gst => {
                self.note(0x6057);
                for n in &mut self.nodes {
                    n.at_gst = n.core.as_ref().map(|c| (c.height(), c.round()));
                }
                self.regossip(None, None);
            }
            Kind::PartitionStart => self.stats.partitions += 1,
            Kind::Heal => self.regossip(None, None),
        }
    }

    fn restart(&mut self, id: usize) {
        let node = &mut self.nodes[id];
        if node.core.is_some() {
            return;
        }
        node.life += 1;
        let core = RoundState::new(
            self.core_config.clone(),
            Some(node.key.verifying_key()),
            node.last_signed.filter(|_| !self.cfg.forget_last_signed),
        )
        .unwrap_or_else(|e| panic!("sim core config: {e}"));
        node.core = Some(core);
        let height = node.next_height();
        if height.0 > self.cfg.heights {
            return;
        }
        let wal_height = node.wal.first().map(Msg::height);
        let replay: Vec<Msg> = if wal_height == Some(height) {
            node.wal.clone()
        } else {
            Vec::new()
        };
        self.start_height(id, height);
        self.nodes[id].wal = replay.clone();
        for m in replay {
            self.feed(id, m.input());
        }
        if self.now > 0 {
            // Peers bring us up to date, and we resend what we had signed.
            self.regossip(None, Some(id));
            self.regossip(Some(id), None);
        }
    }

    fn start_height(&mut self, id: usize, height: Height) {
        self.nodes[id].wal.clear();
        self.nodes[id].relay.retain(|m| m.height() >= height);
        let validators = self.sets[height.0 as usize].clone();
        self.feed(id, Input::StartHeight { height, validators });
        // Catch-up, as a gossip layer does: peers that decided this height
        // send its certificate; if we lagged, peers at it resend their messages.
        let lagged = height <= self.nodes[id].lagged_until;
        for peer in 0..self.nodes.len() {
            if peer == id || !self.honest(peer) || self.nodes[peer].core.is_none() {
                continue;
            }
            if let Some(d) = self.nodes[peer].decided.get(&height).cloned() {
                for m in certificate_messages(&d) {
                    self.send(peer, id, m);
                }
            } else if lagged && self.nodes[peer].height() == Some(height) {
                let n = &self.nodes[peer];
                let msgs: Vec<Msg> = n.wal.iter().chain(&n.relay).cloned().collect();
                for m in msgs {
                    self.send(peer, id, m);
                }
            }
        }
    }

    /// Rounds from `base` until every honest validator has proposed once.
    fn honest_rotation(&self, height: Height, base: u64) -> u64 {
        let mut seq = self.sets[height.0 as usize].proposers();
        for _ in 0..base {
            seq.next_proposer();
        }
        let mut pending: Vec<bool> = self.nodes.iter().map(|n| n.byzantine.is_none()).collect();
        let mut rounds = 0;
        while pending.iter().any(|p| *p) && rounds < 100_000 {
            pending[seq.next_proposer().get()] = false;
            rounds += 1;
        }
        rounds
    }

    // ---- the end -----------------------------------------------------------

    fn finish(mut self) -> Outcome {
        if self.checker.violations.is_empty() {
            for (i, n) in self.nodes.iter().enumerate() {
                if n.byzantine.is_some() {
                    continue;
                }
                for h in 1..=self.cfg.heights {
                    if !n.decided.contains_key(&Height(h)) {
                        let at = n.core.as_ref().map(|c| (c.height(), c.round(), c.step()));
                        self.checker.violations.push(format!(
                            "liveness: honest node {i} did not decide height {h} by t={}ms (GST {}ms); it is at {at:?}",
                            self.now, self.gst
                        ));
                        break;
                    }
                }
            }
        }
        for (h, (_, v)) in self.checker.decisions() {
            self.history = mix(
                mix(self.history, h.0),
                u64::from_le_bytes(v.0[..8].try_into().unwrap_or_default()),
            );
        }
        self.stats.sim_time_ms = self.now;
        Outcome {
            config: self.cfg,
            violations: self.checker.violations,
            history: self.history,
            stats: self.stats,
        }
    }
}

/// What a peer that decided sends a node stuck at that height.
fn certificate_messages(d: &Decision) -> Vec<Msg> {
    vec![Msg::Commit(d.certificate.clone())]
}
