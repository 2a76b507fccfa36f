//! Small value types shared by every module: heights, rounds, block hashes,
//! validator indices and the steps of a round.

use std::fmt;

/// A block height (one consensus instance per height; `h_p` in Alg. 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl Height {
    /// The next height, or `None` at `u64::MAX`.
    pub fn next(self) -> Option<Height> {
        self.0.checked_add(1).map(Height)
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A round within a height (`round_p` in Alg. 1). "No round" (the paper's
/// `-1`) is written `Option<Round>::None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Round(pub u32);

impl Round {
    /// The round as a `usize`, for indexing.
    pub fn get_usize(self) -> usize {
        self.0 as usize
    }

    /// The next round, or `None` at `u32::MAX`.
    pub fn next(self) -> Option<Round> {
        self.0.checked_add(1).map(Round)
    }
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// The value consensus decides on: the 32-byte hash of a block. The block
/// itself travels beside consensus messages and is validated by execution.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHash(pub [u8; 32]);

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..")
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The chain a message belongs to (the EVM chain id). Part of every signed
/// payload so that a signature never verifies on another chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainId(pub u64);

/// The position of a validator in its height's [`ValidatorSet`]
/// (sorted by public key).
///
/// [`ValidatorSet`]: crate::ValidatorSet
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorIndex(pub u32);

impl ValidatorIndex {
    /// The index as a `usize`, for indexing per-validator tables.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// The two kinds of vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VoteKind {
    /// First voting step: `⟨PREVOTE, h, r, id(v)⟩`.
    Prevote,
    /// Second voting step: `⟨PRECOMMIT, h, r, id(v)⟩`.
    Precommit,
}

/// The step of the current round (`step_p` in Alg. 1), plus the states
/// before the first height and after a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// No height started yet.
    Unstarted,
    /// Waiting for the round's proposal (Alg. 1, line 13).
    Propose,
    /// Prevote sent (or skipped), waiting for prevotes.
    Prevote,
    /// Precommit sent (or skipped), waiting for precommits.
    Precommit,
    /// Decided this height; waiting for the engine to start the next one.
    Commit,
}

/// What a validator signs, in the order it signs them within a round. Used
/// by the durable "last signed" guard: `(height, round, SignStep)` only grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignStep {
    /// A proposal.
    Propose,
    /// A prevote.
    Prevote,
    /// A precommit.
    Precommit,
}

impl From<VoteKind> for SignStep {
    fn from(kind: VoteKind) -> Self {
        match kind {
            VoteKind::Prevote => SignStep::Prevote,
            VoteKind::Precommit => SignStep::Precommit,
        }
    }
}
