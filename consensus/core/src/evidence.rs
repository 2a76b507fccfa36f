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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Vote;
    use crate::types::{BlockHash, Height, Round, ValidatorIndex, VoteKind};
    use crate::validator_set::Validator;
    use ed25519_dalek::SigningKey;

    #[test]
    fn conflicting_votes_verify_and_others_do_not() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let set = ValidatorSet::new(vec![Validator {
            public_key: key.verifying_key(),
            power: 1,
        }])
        .unwrap();
        let chain = ChainId(1);
        let vote = Vote {
            kind: VoteKind::Prevote,
            height: Height(2),
            round: Round(1),
            value: Some(BlockHash([1; 32])),
            validator: ValidatorIndex(0),
        };
        let a = vote.sign(chain, &key);
        let b = Vote {
            value: None,
            ..vote
        }
        .sign(chain, &key);
        let e = Evidence::new(a.clone(), b.clone());
        assert_eq!(e, Evidence::new(b.clone(), a.clone()), "canonical order");
        e.verify(chain, &set).unwrap();
        assert_eq!(
            Evidence::new(a.clone(), a.clone()).verify(chain, &set),
            Err(EvidenceError::SameValue)
        );
        let later = Vote {
            round: Round(2),
            value: None,
            ..vote
        }
        .sign(chain, &key);
        assert_eq!(
            Evidence::new(a.clone(), later).verify(chain, &set),
            Err(EvidenceError::NotSameSlot)
        );
        let precommit = Vote {
            kind: VoteKind::Precommit,
            value: None,
            ..vote
        }
        .sign(chain, &key);
        assert_eq!(
            Evidence::new(a.clone(), precommit).verify(chain, &set),
            Err(EvidenceError::NotSameSlot)
        );
        let mut forged = b;
        forged.signature = a.signature;
        assert!(matches!(
            Evidence::new(a, forged).verify(chain, &set),
            Err(EvidenceError::Signature(_))
        ));
    }
}
