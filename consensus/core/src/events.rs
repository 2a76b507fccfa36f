//! What goes into the state machine and what comes out of it, and the
//! durable "last signed" record the engine persists before signing.

use crate::certificate::CommitCertificate;
use crate::evidence::Evidence;
use crate::signing::{Proposal, SignedProposal, SignedVote, Vote};
use crate::timeouts::Timeout;
use crate::types::{BlockHash, Height, Round, SignStep};
use crate::validator_set::ValidatorSet;

/// The durable "last signed" record. The engine writes it (with fsync)
/// before the signature it precedes leaves the node, and hands it back to
/// [`RoundState::new`](crate::RoundState::new) at restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastSigned {
    /// Height of the last thing signed.
    pub height: Height,
    /// Its round.
    pub round: Round,
    /// Its step.
    pub step: SignStep,
    /// The lock at that moment (`lockedRound`, `lockedValue` of `height`).
    pub locked: Option<(Round, BlockHash)>,
}

impl LastSigned {
    pub(crate) fn position(&self) -> (Height, Round, SignStep) {
        (self.height, self.round, self.step)
    }
}

/// What the engine feeds the core.
#[derive(Clone, Debug)]
pub enum Input {
    /// Start `height` with its validator set (Alg. 1, lines 10 and 52–54).
    StartHeight {
        /// The height to start; must be above the current one.
        height: Height,
        /// That height's validators.
        validators: ValidatorSet,
    },
    /// A proposal whose signature the engine has verified.
    Proposal(SignedProposal),
    /// A vote whose signature the engine has verified (our own included).
    Vote(SignedVote),
    /// The answer to [`Output::RequestValue`]: `getValue()` (line 18).
    ProposalValue {
        /// Height asked for.
        height: Height,
        /// Round asked for.
        round: Round,
        /// The block built.
        value: BlockHash,
    },
    /// The answer to [`Output::ValidateValue`]: `valid(v)`.
    ValueValidated {
        /// Height of the block.
        height: Height,
        /// The block.
        value: BlockHash,
        /// Whether execution accepted it.
        valid: bool,
    },
    /// A timeout scheduled by [`Output::ScheduleTimeout`] fired.
    Timeout(Timeout),
    /// A commit certificate for the current height from a peer or block
    /// sync (a lagging node's way to decide). The core verifies it against
    /// the height's validator set; an invalid one is dropped.
    Commit(CommitCertificate),
}

/// A decision: `decision_p[h] = v` (line 51), with its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The decided height.
    pub height: Height,
    /// The round whose precommits decided it.
    pub round: Round,
    /// The decided block.
    pub value: BlockHash,
    /// > 2/3 of precommits for it.
    pub certificate: CommitCertificate,
}

/// What the core asks the engine to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Persist `record`, sign `proposal`, broadcast it and feed it back as
    /// [`Input::Proposal`] (line 19).
    SignProposal {
        /// What to sign.
        proposal: Proposal,
        /// What to persist first.
        record: LastSigned,
    },
    /// Persist `record`, sign `vote`, broadcast it and feed it back as
    /// [`Input::Vote`] (lines 24, 26, 30, 32, 40, 45, 59, 63).
    SignVote {
        /// What to sign.
        vote: Vote,
        /// What to persist first.
        record: LastSigned,
    },
    /// Feed back `Input::Timeout(timeout)` after `duration` (lines 21, 35, 48).
    ScheduleTimeout {
        /// Which timeout.
        timeout: Timeout,
        /// After how long.
        duration: std::time::Duration,
    },
    /// We propose in this round: build a block and answer with
    /// [`Input::ProposalValue`] (line 18).
    RequestValue {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
    },
    /// Execute the block with this hash and answer with
    /// [`Input::ValueValidated`].
    ValidateValue {
        /// The height.
        height: Height,
        /// The block.
        value: BlockHash,
    },
    /// The height is decided (line 49–51): commit the block, then start the
    /// next height.
    Decide(Decision),
    /// A validator equivocated: hand the evidence to the slashing layer.
    Evidence(Evidence),
}
