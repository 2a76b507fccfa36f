//! Byzantine actors: what a byzantine validator does with the messages its
//! own (honest) core asks it to sign.

use super::*;

impl World {
    // ---- byzantine actors --------------------------------------------------

    pub(super) fn byzantine_proposal(
        &mut self,
        id: usize,
        proposal: Proposal,
        inputs: &mut VecDeque<Input>,
    ) {
        let behavior = self.nodes[id]
            .byzantine
            .unwrap_or(Behavior::Mixed)
            .for_message(&mut self.rng);
        let key = self.nodes[id].key.clone();
        match behavior {
            Behavior::Equivocate => {
                let other = Proposal {
                    value: self.make_value(true),
                    valid_round: None,
                    ..proposal
                };
                let (a, b) = (
                    Msg::Proposal(proposal.sign(CHAIN, &key)),
                    Msg::Proposal(other.sign(CHAIN, &key)),
                );
                self.split_send(id, a, b, inputs);
            }
            Behavior::InvalidValues => {
                self.stats.invalid_proposals += 1;
                let bad = Proposal {
                    value: self.make_value(false),
                    ..proposal
                };
                let msg = Msg::Proposal(bad.sign(CHAIN, &key));
                self.publish(id, msg, inputs);
            }
            Behavior::OffRound => {
                self.stats.off_round_messages += 1;
                let moved = byzantine::off_round_proposal(proposal, &mut self.rng);
                let msg = Msg::Proposal(moved.sign(CHAIN, &key));
                self.broadcast(id, &msg);
                self.publish(id, Msg::Proposal(proposal.sign(CHAIN, &key)), inputs);
            }
            Behavior::Amnesia => {
                let fresh = Proposal {
                    value: self.make_value(true),
                    valid_round: None,
                    ..proposal
                };
                self.publish(id, Msg::Proposal(fresh.sign(CHAIN, &key)), inputs);
            }
            Behavior::Silent | Behavior::Mixed => {
                self.publish(id, Msg::Proposal(proposal.sign(CHAIN, &key)), inputs);
            }
        }
    }

    pub(super) fn byzantine_vote(&mut self, id: usize, vote: Vote, inputs: &mut VecDeque<Input>) {
        let behavior = self.nodes[id]
            .byzantine
            .unwrap_or(Behavior::Mixed)
            .for_message(&mut self.rng);
        let key = self.nodes[id].key.clone();
        match behavior {
            Behavior::Equivocate => {
                let other_value = {
                    let seen: Vec<BlockHash> = self.nodes[id]
                        .seen_values
                        .iter()
                        .copied()
                        .filter(|v| Some(*v) != vote.value)
                        .collect();
                    if !seen.is_empty() && self.rng.chance(700) {
                        Some(seen[self.rng.below(seen.len() as u64) as usize])
                    } else if vote.value.is_some() {
                        None
                    } else {
                        Some(self.make_value(true))
                    }
                };
                let other = Vote {
                    value: other_value,
                    ..vote
                };
                let (a, b) = (
                    Msg::Vote(vote.sign(CHAIN, &key)),
                    Msg::Vote(other.sign(CHAIN, &key)),
                );
                self.split_send(id, a, b, inputs);
            }
            Behavior::InvalidValues => {
                let bad = Vote {
                    value: Some(self.make_value(false)),
                    ..vote
                };
                self.broadcast(id, &Msg::Vote(bad.sign(CHAIN, &key)));
                inputs.push_back(Input::Vote(vote.sign(CHAIN, &key)));
            }
            Behavior::OffRound => {
                self.stats.off_round_messages += 1;
                let moved = byzantine::off_round_vote(vote, &mut self.rng);
                self.broadcast(id, &Msg::Vote(moved.sign(CHAIN, &key)));
                self.publish(id, Msg::Vote(vote.sign(CHAIN, &key)), inputs);
            }
            Behavior::Amnesia if vote.kind == VoteKind::Precommit && vote.value.is_some() => {
                let nil = Vote {
                    value: None,
                    ..vote
                };
                // The block to one peer (which may decide it), nil to the rest.
                let (a, b) = (
                    Msg::Vote(vote.sign(CHAIN, &key)),
                    Msg::Vote(nil.sign(CHAIN, &key)),
                );
                inputs.push_back(a.input());
                self.nodes[id].wal.push(a.clone());
                let lucky = self.rng.below(self.nodes.len() as u64) as usize;
                for to in 0..self.nodes.len() {
                    self.send(id, to, if to == lucky { a.clone() } else { b.clone() });
                }
            }
            Behavior::Silent | Behavior::Mixed | Behavior::Amnesia => {
                self.publish(id, Msg::Vote(vote.sign(CHAIN, &key)), inputs)
            }
        }
    }

    /// Equivocation: `a` to a random half of the peers (and ourselves), `b` to the rest.
    pub(super) fn split_send(&mut self, id: usize, a: Msg, b: Msg, inputs: &mut VecDeque<Input>) {
        inputs.push_back(a.input());
        self.nodes[id].wal.push(a.clone());
        for to in 0..self.nodes.len() {
            let m = if self.rng.chance(500) {
                a.clone()
            } else {
                b.clone()
            };
            self.send(id, to, m);
        }
    }
}
