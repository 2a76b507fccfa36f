//! Byzantine actors: each runs an honest core to follow the protocol, then
//! bends what it signs. Their power is below 1/3 of the total.

use outrigger_consensus_core::{Height, Proposal, Round, Vote};

use super::rng::Rng;

/// What a byzantine validator does with the messages its core asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Behavior {
    /// Sends nothing.
    Silent,
    /// Signs two conflicting versions and sends each to half of the peers.
    Equivocate,
    /// Proposes invalid blocks and votes for invalid blocks.
    InvalidValues,
    /// Also sends its votes for other heights and rounds.
    OffRound,
    /// "Amnesia": proposes a fresh block every time it proposes (forgetting
    /// its valid value) and splits its precommits between the block and nil.
    /// The lock is what defeats this one.
    Amnesia,
    /// Picks one of the above per message.
    Mixed,
}

impl Behavior {
    pub(crate) fn pick(rng: &mut Rng) -> Self {
        match rng.below(6) {
            0 => Behavior::Silent,
            1 => Behavior::Equivocate,
            2 => Behavior::InvalidValues,
            3 => Behavior::OffRound,
            4 => Behavior::Amnesia,
            _ => Behavior::Mixed,
        }
    }

    /// The `outrigger-sim --behavior` name.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Behavior::Silent => "silent",
            Behavior::Equivocate => "equivocate",
            Behavior::InvalidValues => "invalid",
            Behavior::OffRound => "off-round",
            Behavior::Amnesia => "amnesia",
            Behavior::Mixed => "mixed",
        }
    }

    /// The behaviour for one message (resolves `Mixed`).
    pub(crate) fn for_message(self, rng: &mut Rng) -> Self {
        match self {
            Behavior::Mixed => match rng.below(5) {
                0 => Behavior::Equivocate,
                1 => Behavior::InvalidValues,
                2 => Behavior::OffRound,
                3 => Behavior::Amnesia,
                _ => Behavior::Mixed, // honest this time
            },
            b => b,
        }
    }
}

/// A copy of `vote` moved to another height or round.
pub(crate) fn off_round_vote(vote: Vote, rng: &mut Rng) -> Vote {
    let height = Height(vote.height.0.saturating_add(rng.below(4)).saturating_sub(1));
    let round = Round(vote.round.0.saturating_add(rng.range(1, 80) as u32));
    Vote {
        height,
        round,
        ..vote
    }
}

/// A copy of `proposal` moved to another round.
pub(crate) fn off_round_proposal(proposal: Proposal, rng: &mut Rng) -> Proposal {
    Proposal {
        round: Round(proposal.round.0.saturating_add(rng.range(1, 5) as u32)),
        ..proposal
    }
}
