//! Vote bookkeeping for one height: one vote per validator per (round, kind)
//! counts toward the slot's totals (Alg. 1 lines 34, 47, 55); a second,
//! conflicting vote becomes [`Evidence`] and, as in the paper's counting
//! ("2f + 1 ⟨PREVOTE, h, r, id(v)⟩" from distinct senders), also counts
//! toward its own value. That keeps honest nodes that saw an equivocator's
//! two votes in different orders from disagreeing about a polka forever,
//! and is safe: two > 2/3 sets still share an honest validator. Any further
//! vote of that validator in the slot is ignored, so memory stays bounded.
//!
//! Memory is bounded by the caller: it only adds votes of validators in the
//! set, for rounds inside its window, and prunes old rounds.

use std::collections::{BTreeMap, BTreeSet};

use crate::certificate::CommitCertificate;
use crate::evidence::Evidence;
use crate::signing::SignedVote;
use crate::types::{BlockHash, Height, Round, ValidatorIndex, VoteKind};
use crate::validator_set::ValidatorSet;

/// What adding a vote did.
#[derive(Debug)]
pub(crate) enum Added {
    /// Counted.
    New,
    /// Already had exactly this vote.
    Duplicate,
    /// The validator had voted differently in this slot; `true` if this
    /// vote was still counted toward its value (the first conflict only).
    Conflict(Box<Evidence>, bool),
}

/// The votes of one kind in one round.
#[derive(Debug, Default)]
struct Tally {
    by_validator: Vec<Option<SignedVote>>,
    /// A second, conflicting vote per validator (an equivocation).
    conflicting: Vec<Option<SignedVote>>,
    /// Power per value (nil included); at most one entry per distinct value.
    power: Vec<(Option<BlockHash>, u64)>,
    total: u64,
}

impl Tally {
    fn power_for(&self, value: Option<BlockHash>) -> u64 {
        self.power
            .iter()
            .find(|(v, _)| *v == value)
            .map_or(0, |(_, p)| *p)
    }
}

/// Everything received for one round.
#[derive(Debug, Default)]
struct RoundVotes {
    prevotes: Tally,
    precommits: Tally,
    /// Validators that sent any message in this round (Alg. 1, line 55).
    senders: Vec<bool>,
    sender_power: u64,
}

impl RoundVotes {
    fn new(n: usize) -> Self {
        let tally = || Tally {
            by_validator: vec![None; n],
            conflicting: vec![None; n],
            ..Tally::default()
        };
        Self {
            prevotes: tally(),
            precommits: tally(),
            senders: vec![false; n],
            sender_power: 0,
        }
    }

    fn tally(&self, kind: VoteKind) -> &Tally {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }
}

/// All votes of the current height.
#[derive(Debug, Default)]
pub(crate) struct VoteLog {
    rounds: BTreeMap<Round, RoundVotes>,
    /// `(round, value)` pairs with more than 2/3 precommits (Alg. 1, line 49).
    precommit_quorums: BTreeSet<(Round, BlockHash)>,
    /// Rounds whose senders hold more than 1/3 of the power (line 55).
    one_third_rounds: BTreeSet<Round>,
}

impl VoteLog {
    /// Records that `index` sent a message in `round`; `set` gives powers.
    pub(crate) fn note_sender(&mut self, round: Round, index: ValidatorIndex, set: &ValidatorSet) {
        let rv = self
            .rounds
            .entry(round)
            .or_insert_with(|| RoundVotes::new(set.len()));
        let i = index.get();
        if i < rv.senders.len() && !rv.senders[i] {
            rv.senders[i] = true;
            rv.sender_power += set.power(index);
            if set.is_one_third_plus(rv.sender_power) {
                self.one_third_rounds.insert(round);
            }
        }
    }

    /// Adds a vote of a validator in `set` (the caller checked the index and
    /// the signature).
    pub(crate) fn add(&mut self, signed: SignedVote, set: &ValidatorSet) -> Added {
        let vote = signed.vote;
        let i = vote.validator.get();
        let power = set.power(vote.validator);
        assert!(power > 0, "vote from validator {i} outside the set");
        let rv = self
            .rounds
            .entry(vote.round)
            .or_insert_with(|| RoundVotes::new(set.len()));
        let tally = match vote.kind {
            VoteKind::Prevote => &mut rv.prevotes,
            VoteKind::Precommit => &mut rv.precommits,
        };
        let mut evidence = None;
        if let Some(existing) = &tally.by_validator[i] {
            if existing.vote.value == vote.value {
                return Added::Duplicate;
            }
            if let Some(second) = &tally.conflicting[i] {
                if second.vote.value == vote.value {
                    return Added::Duplicate;
                }
                return Added::Conflict(Box::new(Evidence::new(existing.clone(), signed)), false);
            }
            evidence = Some(Box::new(Evidence::new(existing.clone(), signed.clone())));
            tally.conflicting[i] = Some(signed);
        } else {
            tally.by_validator[i] = Some(signed);
            tally.total += power;
        }
        let value_power = match tally.power.iter_mut().find(|(v, _)| *v == vote.value) {
            Some((_, p)) => {
                *p += power;
                *p
            }
            None => {
                tally.power.push((vote.value, power));
                power
            }
        };
        if let (VoteKind::Precommit, Some(value)) = (vote.kind, vote.value)
            && set.is_quorum(value_power)
        {
            self.precommit_quorums.insert((vote.round, value));
        }
        self.note_sender(vote.round, vote.validator, set);
        match evidence {
            Some(e) => Added::Conflict(e, true),
            None => Added::New,
        }
    }

    /// Whether exactly this signed vote is held already.
    pub(crate) fn contains(&self, signed: &SignedVote) -> bool {
        let vote = &signed.vote;
        let Some(rv) = self.rounds.get(&vote.round) else {
            return false;
        };
        let tally = rv.tally(vote.kind);
        let i = vote.validator.get();
        [&tally.by_validator, &tally.conflicting]
            .iter()
            .any(|held| held.get(i).is_some_and(|v| v.as_ref() == Some(signed)))
    }

    /// Power of the `kind` votes for `value` in `round`.
    pub(crate) fn power_for(&self, round: Round, kind: VoteKind, value: Option<BlockHash>) -> u64 {
        self.rounds
            .get(&round)
            .map_or(0, |rv| rv.tally(kind).power_for(value))
    }

    /// Power of all `kind` votes in `round`, whatever their value.
    pub(crate) fn total(&self, round: Round, kind: VoteKind) -> u64 {
        self.rounds.get(&round).map_or(0, |rv| rv.tally(kind).total)
    }

    /// `(round, value)` pairs with more than 2/3 of precommits, lowest round first.
    pub(crate) fn precommit_quorums(&self) -> impl Iterator<Item = (Round, BlockHash)> + '_ {
        self.precommit_quorums.iter().copied()
    }

    /// The highest round above `round` whose senders hold more than 1/3.
    pub(crate) fn highest_one_third_round_above(&self, round: Round) -> Option<Round> {
        let next = round.next()?;
        self.one_third_rounds.range(next..).next_back().copied()
    }

    /// The commit certificate made of the precommits for `value` in `round`.
    pub(crate) fn certificate(
        &self,
        height: Height,
        round: Round,
        value: BlockHash,
    ) -> CommitCertificate {
        let signatures = self
            .rounds
            .get(&round)
            .map(|rv| {
                let t = &rv.precommits;
                t.by_validator
                    .iter()
                    .zip(&t.conflicting)
                    .filter_map(|(a, b)| match (a, b) {
                        (Some(a), _) if a.vote.value == Some(value) => Some(a),
                        (_, Some(b)) if b.vote.value == Some(value) => Some(b),
                        _ => None,
                    })
                    .filter(|sv| sv.vote.value == Some(value))
                    .map(|sv| (sv.vote.validator, sv.signature))
                    .collect()
            })
            .unwrap_or_default();
        CommitCertificate {
            height,
            round,
            value,
            signatures,
        }
    }

    /// Forgets rounds below `floor`, except those in `keep`.
    pub(crate) fn prune_below(&mut self, floor: Round, keep: &[Option<Round>]) {
        let doomed: Vec<Round> = self
            .rounds
            .range(..floor)
            .map(|(r, _)| *r)
            .filter(|r| !keep.contains(&Some(*r)))
            .collect();
        for r in doomed {
            self.rounds.remove(&r);
            self.one_third_rounds.remove(&r);
        }
        let rounds = &self.rounds;
        self.precommit_quorums
            .retain(|(r, _)| rounds.contains_key(r));
    }

    /// Number of rounds held (for tests of the bounds).
    pub(crate) fn rounds_held(&self) -> usize {
        self.rounds.len()
    }
}
