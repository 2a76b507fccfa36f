//! The engine model around each core: sign after persisting the record,
//! broadcast, feed our own messages back, run execution (build, validate)
//! and commit decisions.

use super::*;

impl World {
    // ---- the engine model --------------------------------------------------

    /// Applies `input` to the node's core, then everything it leads to.
    pub(super) fn feed(&mut self, id: usize, input: Input) {
        if self.nodes[id].byzantine == Some(Behavior::Silent) {
            return;
        }
        let Some(mut core) = self.nodes[id].core.take() else {
            return;
        };
        let mut inputs = VecDeque::from([input]);
        while let Some(i) = inputs.pop_front() {
            for o in core.apply(i) {
                self.on_output(id, o, &mut inputs);
            }
        }
        self.nodes[id].core = Some(core);
    }

    pub(super) fn on_output(&mut self, id: usize, output: Output, inputs: &mut VecDeque<Input>) {
        match output {
            Output::SignProposal { proposal, record } => {
                self.nodes[id].last_signed = Some(record);
                self.stats.signatures += 1;
                if self.honest(id) {
                    let (h, r) = (proposal.height, proposal.round);
                    self.checker.signed(
                        id,
                        h,
                        r,
                        SignStep::Propose,
                        Some(proposal.value),
                        self.now,
                    );
                    let msg = Msg::Proposal(proposal.sign(CHAIN, &self.nodes[id].key));
                    self.publish(id, msg, inputs);
                } else {
                    self.byzantine_proposal(id, proposal, inputs);
                }
            }
            Output::SignVote { vote, record } => {
                self.nodes[id].last_signed = Some(record);
                self.stats.signatures += 1;
                if self.honest(id) {
                    self.checker.signed(
                        id,
                        vote.height,
                        vote.round,
                        vote.kind.into(),
                        vote.value,
                        self.now,
                    );
                    let msg = Msg::Vote(vote.sign(CHAIN, &self.nodes[id].key));
                    self.publish(id, msg, inputs);
                } else {
                    self.byzantine_vote(id, vote, inputs);
                }
            }
            Output::ScheduleTimeout { timeout, duration } => {
                let life = self.nodes[id].life;
                self.at(
                    self.now + duration.as_millis() as u64,
                    Kind::Timeout {
                        node: id,
                        life,
                        timeout,
                    },
                );
            }
            Output::RequestValue { height, round } => {
                let value = self.make_value(true);
                let life = self.nodes[id].life;
                let t = self.now + self.rng.range(1, 25);
                self.at(
                    t,
                    Kind::Built {
                        node: id,
                        life,
                        height,
                        round,
                        value,
                    },
                );
            }
            Output::ValidateValue { height, value } => {
                let life = self.nodes[id].life;
                let t = self.now + self.rng.range(1, 40);
                self.at(
                    t,
                    Kind::Validated {
                        node: id,
                        life,
                        height,
                        value,
                    },
                );
            }
            Output::Decide(decision) => self.on_decide(id, decision),
            Output::Evidence(evidence) => {
                self.stats.evidence += 1;
                let who = evidence.first.vote.validator.get();
                let set = &self.sets[evidence.first.vote.height.0 as usize];
                if let Err(e) = evidence.verify(CHAIN, set) {
                    self.checker.violation(format!(
                        "t={}ms: node {id} produced bad evidence: {e}",
                        self.now
                    ));
                }
                if self.honest(who) {
                    self.checker.violation(format!(
                        "t={}ms: node {id} holds evidence that honest node {who} equivocated: {evidence:?}",
                        self.now
                    ));
                }
            }
        }
    }

    /// Sends our own signed message: to the WAL, back to our core, to peers.
    pub(super) fn publish(&mut self, id: usize, msg: Msg, inputs: &mut VecDeque<Input>) {
        self.nodes[id].wal.push(msg.clone());
        inputs.push_back(msg.input());
        self.broadcast(id, &msg);
    }

    pub(super) fn make_value(&mut self, valid: bool) -> BlockHash {
        let mut bytes = self.rng.bytes32();
        bytes[0] = if valid { bytes[0] & 0xfe } else { bytes[0] | 1 };
        BlockHash(bytes)
    }

    pub(super) fn on_decide(&mut self, id: usize, d: Decision) {
        self.stats.decisions += 1;
        self.note(mix(
            id as u64,
            u64::from_le_bytes(d.value.0[..8].try_into().unwrap_or_default()),
        ));
        if self.honest(id) {
            self.checker.decided(id, d.height, d.value, self.now);
            let set = &self.sets[d.height.0 as usize];
            if self.cfg.verify_certificates
                && let Err(e) = d.certificate.verify(CHAIN, d.height, set)
            {
                self.checker.violation(format!(
                    "t={}ms: node {id} certificate at {}: {e}",
                    self.now, d.height
                ));
            }
            if self.now >= self.gst {
                // Rounds counted from the highest round an honest node had
                // reached at this height when the network became synchronous.
                let base = self
                    .nodes
                    .iter()
                    .filter(|n| n.byzantine.is_none())
                    .filter_map(|n| n.at_gst)
                    .filter(|(h, _)| *h == d.height)
                    .map(|(_, r)| u64::from(r.0))
                    .max()
                    .unwrap_or(0);
                let rounds = u64::from(d.round.0).saturating_sub(base) + 1;
                // The round running at GST may be lost; from the next one on,
                // every honest validator proposes within one rotation.
                let bound = 1 + self.honest_rotation(d.height, base + 1) + LIVENESS_SLACK_ROUNDS;
                self.stats.max_rounds_after_gst = self.stats.max_rounds_after_gst.max(rounds);
                if rounds > bound {
                    self.checker.violation(format!(
                        "t={}ms: liveness: node {id} needed {rounds} rounds after GST for {} (bound {bound})",
                        self.now, d.height
                    ));
                }
            }
        }
        let height = d.height;
        self.nodes[id].decided.insert(height, d);
        if height.0 < self.cfg.heights {
            let life = self.nodes[id].life;
            let t = self.now + self.rng.range(1, 10);
            self.at(
                t,
                Kind::StartHeight {
                    node: id,
                    life,
                    height: Height(height.0 + 1),
                },
            );
        }
    }
}
