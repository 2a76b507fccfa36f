//! Fuzz targets of the consensus core (see `outrigger-fuzz`): the bytes
//! are a program of inputs, read through `arbitrary::Unstructured`.
//!
//! - `consensus_core`: three honest cores and one byzantine validator. The
//!   fuzzer schedules everything: which message reaches which node and
//!   when (any order, duplicates, losses), when timeouts fire (asynchrony:
//!   any time), when execution answers, crashes and restarts with the
//!   last-signed record, and what the byzantine signs (any kind, height,
//!   round, value; forged signatures; certificates mixing real signatures).
//!   Messages pass the engine's signature checks before reaching a core.
//!   Checked after every step: agreement, validity, no honest double-sign,
//!   no evidence against an honest validator, decisions carry a valid
//!   certificate, forged messages never verify.
//! - `consensus_core_inputs`: one core fed unverified, arbitrary inputs
//!   (any validator index, height, round, signature; arbitrary validator
//!   sets): no panic, what it signs only moves forward, one decision per
//!   height, the future-message buffer stays within its bound.

use std::collections::BTreeMap;

use outrigger_consensus_core::{
    BlockHash, ChainId, CommitCertificate, Config, Height, Input, LastSigned, Output, Proposal,
    Round, RoundState, SignStep, Signature, SignedProposal, SignedVote, SigningKey, Timeout,
    TimeoutKind, Validator, ValidatorIndex, ValidatorSet, Vote, VoteKind,
};
use outrigger_fuzz::{
    Fuzzer,
    arbitrary::{Result, Unstructured},
    outcome,
};

const CHAIN: ChainId = ChainId(777);
/// Heights a run may reach; the program usually ends first.
const HEIGHTS_MAX: u64 = 4;
/// Program steps at most.
const STEPS_MAX: usize = 1000;
/// Messages on the simulated network at most.
const NETWORK_MAX: usize = 1024;

struct Keys {
    keys: Vec<SigningKey>,
    set: ValidatorSet,
}

fn keys(powers: &[u64]) -> Keys {
    let mut keys: Vec<SigningKey> = (0..powers.len())
        .map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32]))
        .collect();
    keys.sort_by(|a, b| {
        a.verifying_key()
            .as_bytes()
            .cmp(b.verifying_key().as_bytes())
    });
    let set = ValidatorSet::new(
        keys.iter()
            .zip(powers)
            .map(|(k, p)| Validator {
                public_key: k.verifying_key(),
                power: *p,
            })
            .collect(),
    )
    .expect("a valid set");
    Keys { keys, set }
}

/// Valid blocks have an even first byte (the simulated execution's rule,
/// the same at every honest node).
fn is_valid(value: BlockHash) -> bool {
    value.0[0] & 1 == 0
}

/// A small value space so that votes collide: four valid, two invalid.
fn value(u: &mut Unstructured<'_>, height: Height) -> Result<BlockHash> {
    let mut bytes = [0u8; 32];
    bytes[0] = u.int_in_range(0..=5)?;
    bytes[1..9].copy_from_slice(&height.0.to_be_bytes());
    Ok(BlockHash(bytes))
}

#[derive(Clone, Debug)]
enum Message {
    Proposal(SignedProposal),
    Vote(SignedVote),
    Commit(CommitCertificate),
}

struct Node {
    core: RoundState,
    /// The validator set of the node's current height.
    set: ValidatorSet,
    timers: Vec<Timeout>,
    value_requests: Vec<(Height, Round)>,
    validations: Vec<(Height, BlockHash)>,
    /// Next network message to hand this node in order.
    next: usize,
    /// The record the engine persisted before its last signature.
    persisted: Option<LastSigned>,
}

#[derive(Default)]
struct Checks {
    signed: BTreeMap<(usize, Height, Round, SignStep), Option<BlockHash>>,
    decided: BTreeMap<Height, BlockHash>,
    decisions: usize,
    evidence: usize,
    max_round: u32,
    restarts: usize,
    forged: usize,
}

struct World {
    keys: Keys,
    byzantine: usize,
    nodes: Vec<Node>,
    /// Honest node `i` is validator `honest[i]`.
    honest: Vec<usize>,
    network: Vec<Message>,
    checks: Checks,
}

impl World {
    fn new(byzantine: usize) -> Self {
        let keys = keys(&[1, 1, 1, 1]);
        let honest: Vec<usize> = (0..4).filter(|&i| i != byzantine).collect();
        let mut world = World {
            nodes: Vec::new(),
            honest: honest.clone(),
            byzantine,
            network: Vec::new(),
            checks: Checks::default(),
            keys,
        };
        for (node, &validator) in honest.iter().enumerate() {
            let core = RoundState::new(
                Config::new(CHAIN),
                Some(world.keys.keys[validator].verifying_key()),
                None,
            )
            .expect("valid config");
            world.nodes.push(Node {
                core,
                set: world.keys.set.clone(),
                timers: Vec::new(),
                value_requests: Vec::new(),
                validations: Vec::new(),
                next: 0,
                persisted: None,
            });
            let start = Input::StartHeight {
                height: Height(1),
                validators: world.keys.set.clone(),
            };
            world.apply(node, start);
        }
        world
    }

    /// Feeds `input` to honest `node` and carries out its outputs as the
    /// engine does, feeding its own signed messages back.
    fn apply(&mut self, node: usize, input: Input) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            let outputs = self.nodes[node].core.apply(input);
            let height = self.nodes[node].core.height();
            self.checks.max_round = self.checks.max_round.max(self.nodes[node].core.round().0);
            for output in outputs {
                match output {
                    Output::SignProposal { proposal, record } => {
                        self.persist(node, record);
                        self.signed(
                            node,
                            proposal.height,
                            proposal.round,
                            SignStep::Propose,
                            Some(proposal.value),
                        );
                        let key = &self.keys.keys[self.honest[node]];
                        let signed = proposal.sign(CHAIN, key);
                        self.broadcast(Message::Proposal(signed.clone()));
                        queue.insert(0, Input::Proposal(signed));
                    }
                    Output::SignVote { vote, record } => {
                        self.persist(node, record);
                        self.signed(node, vote.height, vote.round, vote.kind.into(), vote.value);
                        let key = &self.keys.keys[self.honest[node]];
                        let signed = vote.sign(CHAIN, key);
                        self.broadcast(Message::Vote(signed.clone()));
                        queue.insert(0, Input::Vote(signed));
                    }
                    Output::ScheduleTimeout { timeout, .. } => {
                        let timers = &mut self.nodes[node].timers;
                        if timers.len() >= 32 {
                            timers.remove(0);
                        }
                        timers.push(timeout);
                    }
                    Output::RequestValue { height, round } => {
                        self.nodes[node].value_requests.push((height, round))
                    }
                    Output::ValidateValue { height, value } => {
                        self.nodes[node].validations.push((height, value))
                    }
                    Output::Decide(decision) => {
                        assert!(
                            is_valid(decision.value),
                            "validity: node {node} decided invalid {:?}",
                            decision.value
                        );
                        if let Some(previous) =
                            self.checks.decided.insert(decision.height, decision.value)
                        {
                            assert_eq!(
                                previous, decision.value,
                                "agreement: node {node} decided another value at {}",
                                decision.height
                            );
                        }
                        decision
                            .certificate
                            .verify(CHAIN, decision.height, &self.nodes[node].set)
                            .expect("a decision's certificate verifies");
                        assert_eq!(decision.height, height);
                        self.checks.decisions += 1;
                        self.broadcast(Message::Commit(decision.certificate));
                        if let Some(next) = decision.height.next().filter(|h| h.0 <= HEIGHTS_MAX) {
                            let set = self.nodes[node].set.for_next_height();
                            self.nodes[node].set = set.clone();
                            queue.insert(
                                0,
                                Input::StartHeight {
                                    height: next,
                                    validators: set,
                                },
                            );
                        }
                    }
                    Output::Evidence(evidence) => {
                        let accused = evidence.first.vote.validator;
                        assert_eq!(
                            accused.get(),
                            self.byzantine,
                            "evidence against honest validator {accused:?}"
                        );
                        self.checks.evidence += 1;
                    }
                }
            }
        }
    }

    fn persist(&mut self, node: usize, record: LastSigned) {
        let previous = self.nodes[node].persisted;
        assert!(
            previous.is_none_or(
                |p| (p.height, p.round, p.step) < (record.height, record.round, record.step)
            ),
            "node {node}: last-signed went from {previous:?} to {record:?}"
        );
        self.nodes[node].persisted = Some(record);
    }

    fn signed(
        &mut self,
        node: usize,
        height: Height,
        round: Round,
        step: SignStep,
        value: Option<BlockHash>,
    ) {
        if let Some(previous) = self
            .checks
            .signed
            .insert((node, height, round, step), value)
        {
            panic!(
                "double-sign: node {node} signed {step:?} at {height} {round} twice: {previous:?} then {value:?}"
            );
        }
    }

    fn broadcast(&mut self, message: Message) {
        if self.network.len() < NETWORK_MAX {
            self.network.push(message);
        }
    }

    /// Hands `message` to `node` as its engine would: signatures checked
    /// against the node's current set first.
    fn deliver(&mut self, node: usize, message: Message) {
        let set = &self.nodes[node].set;
        let input = match message {
            Message::Proposal(p) => {
                if p.verify(CHAIN, set).is_err() {
                    return;
                }
                Input::Proposal(p)
            }
            Message::Vote(v) => {
                if v.verify(CHAIN, set).is_err() {
                    return;
                }
                Input::Vote(v)
            }
            Message::Commit(c) => Input::Commit(c),
        };
        self.apply(node, input);
    }

    fn restart(&mut self, node: usize) {
        let validator = self.honest[node];
        let persisted = self.nodes[node].persisted;
        let height = self.nodes[node].core.height();
        let set = self.nodes[node].set.clone();
        let core = RoundState::new(
            Config::new(CHAIN),
            Some(self.keys.keys[validator].verifying_key()),
            persisted,
        )
        .expect("valid config");
        let n = &mut self.nodes[node];
        n.core = core;
        n.timers.clear();
        n.value_requests.clear();
        n.validations.clear();
        n.next = 0;
        self.checks.restarts += 1;
        self.apply(
            node,
            Input::StartHeight {
                height,
                validators: set,
            },
        );
    }

    /// One step of the program.
    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let node = u.int_in_range(0..=self.nodes.len() - 1)?;
        match u.int_in_range(0..=11)? {
            // In-order delivery is the common case: it makes progress.
            0..=3 => {
                let next = self.nodes[node].next;
                if let Some(message) = self.network.get(next).cloned() {
                    self.nodes[node].next += 1;
                    self.deliver(node, message);
                }
            }
            4 if !self.network.is_empty() => {
                let message = u.choose(&self.network)?.clone();
                self.deliver(node, message);
            }
            5 if !self.nodes[node].timers.is_empty() => {
                let i = u.choose_index(self.nodes[node].timers.len())?;
                let timeout = self.nodes[node].timers.remove(i);
                self.apply(node, Input::Timeout(timeout));
            }
            6 if !self.nodes[node].value_requests.is_empty() => {
                let (height, round) = self.nodes[node].value_requests.remove(0);
                // Honest proposers build valid blocks.
                let mut value = value(u, height)?;
                value.0[0] &= !1;
                self.apply(
                    node,
                    Input::ProposalValue {
                        height,
                        round,
                        value,
                    },
                );
            }
            7 if !self.nodes[node].validations.is_empty() => {
                let (height, value) = self.nodes[node].validations.remove(0);
                let valid = is_valid(value);
                self.apply(
                    node,
                    Input::ValueValidated {
                        height,
                        value,
                        valid,
                    },
                );
            }
            8 => self.byzantine_message(node, u)?,
            9 => self.byzantine_certificate(node, u)?,
            10 if u.ratio(1, 32)? => self.restart(node),
            _ => {
                // Drain one node's pending work: timers stay for the fuzzer.
                while let Some((height, value)) = self.nodes[node].validations.pop() {
                    self.apply(
                        node,
                        Input::ValueValidated {
                            height,
                            value,
                            valid: is_valid(value),
                        },
                    );
                }
            }
        }
        Ok(())
    }

    fn byzantine_message(&mut self, node: usize, u: &mut Unstructured<'_>) -> Result<()> {
        let base = self.nodes[node].core.height();
        let height = Height(
            base.0
                .saturating_add(u.int_in_range(0..=2)?)
                .saturating_sub(1)
                .max(1),
        );
        let round = Round(u.int_in_range(0..=5)?);
        let value = value(u, height)?;
        let key = &self.keys.keys[self.byzantine];
        // Mostly our own index; sometimes an honest one (a forgery).
        let claimed = if u.ratio(1, 6)? {
            ValidatorIndex(u.int_in_range(0..=4)?)
        } else {
            ValidatorIndex(self.byzantine as u32)
        };
        let forged = claimed.get() != self.byzantine;
        let message = if u.arbitrary()? {
            let vote = Vote {
                kind: if u.arbitrary()? {
                    VoteKind::Prevote
                } else {
                    VoteKind::Precommit
                },
                height,
                round,
                value: if u.ratio(1, 4)? { None } else { Some(value) },
                validator: claimed,
            };
            let mut signed = vote.sign(CHAIN, key);
            if u.ratio(1, 8)? {
                signed.signature = Signature::from_bytes(&u.arbitrary()?);
            }
            if forged || u.ratio(1, 8)? {
                // A forgery or a garbled signature: the engine must drop it.
                if forged {
                    assert!(
                        signed.verify(CHAIN, &self.keys.set).is_err(),
                        "forged vote verified"
                    );
                    self.checks.forged += 1;
                }
            }
            Message::Vote(signed)
        } else {
            let proposal = Proposal {
                height,
                round,
                value,
                valid_round: if u.arbitrary()? {
                    None
                } else {
                    Some(Round(u.int_in_range(0..=5)?))
                },
                proposer: claimed,
            };
            let signed = proposal.sign(CHAIN, key);
            if forged {
                assert!(
                    signed.verify(CHAIN, &self.keys.set).is_err(),
                    "forged proposal verified"
                );
                self.checks.forged += 1;
            }
            Message::Proposal(signed)
        };
        // To one node, or to everyone (it equivocates by sending more).
        if u.arbitrary()? {
            self.deliver(node, message);
        } else {
            self.broadcast(message);
        }
        Ok(())
    }

    /// A certificate made of whatever precommit signatures the byzantine
    /// has seen, plus its own: it must never decide anything by itself.
    fn byzantine_certificate(&mut self, node: usize, u: &mut Unstructured<'_>) -> Result<()> {
        let precommits: Vec<SignedVote> = self
            .network
            .iter()
            .filter_map(|m| match m {
                Message::Vote(v) if v.vote.kind == VoteKind::Precommit => Some(v.clone()),
                _ => None,
            })
            .collect();
        let height = self.nodes[node].core.height();
        let mut signatures = Vec::new();
        for index in 0..4u32 {
            if !u.arbitrary()? {
                continue;
            }
            let signature = if index as usize == self.byzantine {
                Vote {
                    kind: VoteKind::Precommit,
                    height,
                    round: Round(0),
                    value: Some(value(u, height)?),
                    validator: ValidatorIndex(index),
                }
                .sign(CHAIN, &self.keys.keys[self.byzantine])
                .signature
            } else {
                let own: Vec<&SignedVote> = precommits
                    .iter()
                    .filter(|v| v.vote.validator.0 == index)
                    .collect();
                if own.is_empty() {
                    continue;
                }
                u.choose(&own)?.signature
            };
            signatures.push((ValidatorIndex(index), signature));
        }
        let certificate = CommitCertificate {
            height,
            round: Round(u.int_in_range(0..=3)?),
            value: value(u, height)?,
            signatures,
        };
        self.deliver(node, Message::Commit(certificate));
        Ok(())
    }
}

/// What a run of the multi-node target reached.
#[derive(Default)]
struct Reached {
    decisions: u64,
    heights: u64,
    evidence: u64,
    restarts: u64,
}

fn run_world(data: &[u8], reached: &mut Reached) -> u64 {
    let mut u = Unstructured::new(data);
    let byzantine = u.int_in_range(0..=3).unwrap_or(0);
    let mut world = World::new(byzantine);
    let mut steps = 0;
    while !u.is_empty() && steps < STEPS_MAX {
        if world.step(&mut u).is_err() {
            break;
        }
        steps += 1;
    }
    let c = &world.checks;
    reached.decisions += c.decisions as u64;
    reached.heights = reached.heights.max(c.decided.len() as u64);
    reached.evidence += c.evidence as u64;
    reached.restarts += c.restarts as u64;
    outcome((
        c.decided.len(),
        c.decisions.min(12),
        c.max_round.min(6),
        c.evidence.min(3),
        c.restarts.min(2),
        c.forged > 0,
        world
            .nodes
            .iter()
            .map(|n| n.core.step())
            .collect::<Vec<_>>(),
    ))
}

#[test]
fn fuzz_consensus_core() {
    let mut reached = Reached::default();
    let report = Fuzzer::new("consensus_core")
        .max_len(2048)
        .run(|data| run_world(data, &mut reached));
    println!(
        "  {} decisions, up to {} heights decided in one run, {} evidence, {} restarts",
        reached.decisions, reached.heights, reached.evidence, reached.restarts
    );
    // The committed seeds decide several heights and catch an equivocator:
    // a change that stops that makes the target blind, and fails here.
    assert!(report.corpus == 0 || (reached.heights >= 2 && reached.evidence > 0));
}

/// Validator sets the single-core target starts heights with.
fn sets() -> Vec<Keys> {
    vec![
        keys(&[1, 1, 1, 1]),
        keys(&[5, 1, 1]),
        keys(&[1]),
        keys(&[
            outrigger_consensus_core::validator_set::TOTAL_POWER_MAX - 10,
            3,
            2,
            1,
            1,
            1,
            1,
        ]),
    ]
}

fn run_inputs(data: &[u8], sets: &[Keys], us: &SigningKey, totals: &mut [u64; 8]) -> u64 {
    let mut u = Unstructured::new(data);
    let observer = u.ratio(1, 8).unwrap_or(false);
    let mut core = RoundState::new(
        Config::new(CHAIN),
        (!observer).then(|| us.verifying_key()),
        None,
    )
    .expect("valid config");
    let limits = Config::new(CHAIN).limits;
    let mut last: Option<(Height, Round, SignStep)> = None;
    let mut decided: BTreeMap<Height, BlockHash> = BTreeMap::new();
    let mut kinds = [0usize; 8];
    let mut steps = 0;
    while !u.is_empty() && steps < STEPS_MAX {
        steps += 1;
        let Ok(input) = arbitrary_input(&mut u, &core, sets) else {
            break;
        };
        let outputs = core.apply(input);
        assert!(
            outputs.len() < 10_000,
            "{} outputs for one input",
            outputs.len()
        );
        for output in outputs {
            match output {
                Output::SignVote { vote, record } => {
                    kinds[0] += 1;
                    let position = (vote.height, vote.round, SignStep::from(vote.kind));
                    assert!(
                        last.is_none_or(|l| l < position),
                        "signed {position:?} after {last:?}"
                    );
                    assert_eq!((record.height, record.round, record.step), position);
                    last = Some(position);
                }
                Output::SignProposal { proposal, record } => {
                    kinds[1] += 1;
                    let position = (proposal.height, proposal.round, SignStep::Propose);
                    assert!(
                        last.is_none_or(|l| l < position),
                        "signed {position:?} after {last:?}"
                    );
                    assert_eq!((record.height, record.round, record.step), position);
                    last = Some(position);
                }
                Output::Decide(decision) => {
                    kinds[2] += 1;
                    assert!(
                        decided.insert(decision.height, decision.value).is_none(),
                        "two decisions at {}",
                        decision.height
                    );
                }
                Output::Evidence(_) => kinds[3] += 1,
                Output::ScheduleTimeout { .. } => kinds[4] += 1,
                Output::RequestValue { .. } => kinds[5] += 1,
                Output::ValidateValue { .. } => kinds[6] += 1,
            }
        }
        assert!(core.buffered_messages() <= limits.future_messages_max);
        assert!(
            core.rounds_held() <= (limits.rounds_ahead_max + limits.rounds_behind_max + 3) as usize
        );
    }
    for (total, kind) in totals.iter_mut().zip(kinds) {
        *total += kind as u64;
    }
    outcome((
        kinds.map(|k| k.min(4)),
        core.step(),
        core.round().0.min(8),
        observer,
    ))
}

fn arbitrary_input(u: &mut Unstructured<'_>, core: &RoundState, sets: &[Keys]) -> Result<Input> {
    let near = |u: &mut Unstructured<'_>, current: u64| -> Result<u64> {
        Ok(match u.int_in_range(0..=7)? {
            0 => u.arbitrary()?,
            1 => u64::MAX - u.int_in_range(0..=2)?,
            d => current.saturating_add(d - 2).saturating_sub(1),
        })
    };
    let height = Height(near(u, core.height().0)?);
    let round = Round(match u.int_in_range(0..=5)? {
        0 => u.arbitrary()?,
        1 => u32::MAX - u.int_in_range(0..=2)?,
        _ => core
            .round()
            .0
            .saturating_add(u.int_in_range(0..=3)?)
            .saturating_sub(1),
    });
    let keys = &sets[u.choose_index(sets.len())?];
    let signer = u.choose_index(keys.keys.len())?;
    let validator = ValidatorIndex(if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        signer as u32
    });
    let mut hash = [0u8; 32];
    hash[0] = u.int_in_range(0..=3)?;
    let value = BlockHash(hash);
    let signature = |u: &mut Unstructured<'_>, bytes: &[u8]| -> Result<Signature> {
        use ed25519_dalek::Signer as _;
        Ok(if u.ratio(1, 4)? {
            Signature::from_bytes(&u.arbitrary()?)
        } else {
            keys.keys[signer].sign(bytes)
        })
    };
    Ok(match u.int_in_range(0..=8)? {
        0 => Input::StartHeight {
            height,
            validators: keys.set.clone(),
        },
        1 | 2 => {
            let vote = Vote {
                kind: if u.arbitrary()? {
                    VoteKind::Prevote
                } else {
                    VoteKind::Precommit
                },
                height,
                round,
                value: if u.ratio(1, 4)? { None } else { Some(value) },
                validator,
            };
            let signature = signature(u, &vote.sign_bytes(CHAIN))?;
            Input::Vote(SignedVote { vote, signature })
        }
        3 => {
            let proposal = Proposal {
                height,
                round,
                value,
                valid_round: if u.arbitrary()? {
                    None
                } else {
                    Some(Round(u.int_in_range(0..=6)?))
                },
                proposer: validator,
            };
            let signature = signature(u, &proposal.sign_bytes(CHAIN))?;
            Input::Proposal(SignedProposal {
                proposal,
                signature,
            })
        }
        4 => Input::ProposalValue {
            height,
            round,
            value,
        },
        5 => Input::ValueValidated {
            height,
            value,
            valid: u.arbitrary()?,
        },
        6 => Input::Timeout(Timeout {
            kind: *u.choose(&[
                TimeoutKind::Propose,
                TimeoutKind::Prevote,
                TimeoutKind::Precommit,
            ])?,
            height,
            round,
        }),
        _ => {
            let count = u.int_in_range(0..=keys.keys.len() + 1)?;
            let mut signatures = Vec::new();
            for i in 0..count {
                let vote = Vote {
                    kind: VoteKind::Precommit,
                    height,
                    round,
                    value: Some(value),
                    validator: ValidatorIndex(i as u32),
                };
                let index = ValidatorIndex(if u.ratio(1, 8)? {
                    u.arbitrary()?
                } else {
                    i as u32
                });
                let signature = match keys.keys.get(i) {
                    Some(key) if !u.ratio(1, 8)? => vote.sign(CHAIN, key).signature,
                    _ => Signature::from_bytes(&u.arbitrary()?),
                };
                signatures.push((index, signature));
            }
            Input::Commit(CommitCertificate {
                height,
                round,
                value,
                signatures,
            })
        }
    })
}

#[test]
fn fuzz_consensus_core_inputs() {
    let sets = sets();
    let us = sets[0].keys[0].clone();
    let mut totals = [0u64; 8];
    let report = Fuzzer::new("consensus_core_inputs")
        .max_len(2048)
        .run(|data| run_inputs(data, &sets, &us, &mut totals));
    println!(
        "  outputs: {} votes, {} proposals, {} decisions, {} evidence signed or emitted",
        totals[0], totals[1], totals[2], totals[3]
    );
    // The committed seeds make the core sign, decide and report evidence.
    assert!(
        report.corpus == 0 || totals[..4].iter().all(|&t| t > 0),
        "{totals:?}"
    );
}
