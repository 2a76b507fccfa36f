//! Equivocation evidence: two conflicting signed votes from one validator,
//! verifiable by anyone holding the height's validator set (and slashed by
//! the proof-of-stake layer).

use crate::signing::{SignatureError, SignedVote};
use crate::types::ChainId;
use crate::validator_set::ValidatorSet;

/// Why evidence did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The votes differ in validator, height, round or kind.
    #[error("votes are not for the same validator, height, round and kind")]
    NotSameSlot,
    /// The votes are for the same value: no conflict.
    #[error("votes are for the same value")]
    SameValue,
    /// A signature does not verify.
    #[error("evidence vote: {0}")]
    Signature(#[from] SignatureError),
}

/// Two signed votes by one validator for the same height, round and kind
/// but different values (nil counts as a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The vote with the smaller value (nil first).
    pub first: SignedVote,
    /// The vote with the larger value.
    pub second: SignedVote,
}

impl Evidence {
    /// Pairs two votes in canonical order, so the same equivocation always
    /// gives equal evidence. Does not check them: see [`Evidence::verify`].
    pub fn new(a: SignedVote, b: SignedVote) -> Self {
        if a.vote.value <= b.vote.value {
            Self {
                first: a,
                second: b,
            }
        } else {
            Self {
                first: b,
                second: a,
            }
        }
    }

    /// Checks that the votes conflict and both signatures verify against
    /// `validators` (the set of the votes' height) on `chain_id`.
    pub fn verify(
        &self,
        chain_id: ChainId,
        validators: &ValidatorSet,
    ) -> Result<(), EvidenceError> {
        let (a, b) = (&self.first.vote, &self.second.vote);
        if a.validator != b.validator
            || a.height != b.height
            || a.round != b.round
            || a.kind != b.kind
        {
            return Err(EvidenceError::NotSameSlot);
        }
        if a.value == b.value {
            return Err(EvidenceError::SameValue);
        }
        self.first.verify(chain_id, validators)?;
        self.second.verify(chain_id, validators)?;
        Ok(())
    }
}
