//! Equivocation evidence: two conflicting signed votes from one validator,
//! verifiable by anyone holding the height's validator set (and slashed by
//! the proof-of-stake layer).
//!
//! Votes name their signer by an index into the height's set, so evidence
//! leaves the consensus layer in a *portable* form that names the key
//! instead and needs no validator set to check: what the EVM's evidence
//! precompile verifies before the staking contract slashes.
//!
//! ```text
//! key [32] | kind u8 (2 prevote, 3 precommit) | height u64 BE | round u32 BE
//! | first:  has value u8 | block hash [32] | signature [64]
//! | second: has value u8 | block hash [32] | signature [64]
//! ```

use ed25519_dalek::{Signature, VerifyingKey};

use crate::signing::{SignatureError, SignedVote, Vote};
use crate::types::{BlockHash, ChainId, Height, Round, ValidatorIndex, VoteKind};
use crate::validator_set::ValidatorSet;

/// Length of evidence in its portable encoding.
pub const PORTABLE_EVIDENCE_LEN: usize = 32 + 1 + 8 + 4 + 2 * (1 + 32 + 64);

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
    /// Portable evidence that is not [`PORTABLE_EVIDENCE_LEN`] well-formed
    /// bytes.
    #[error("malformed evidence: {0}")]
    Malformed(&'static str),
}

/// What verified portable evidence proves: `key` signed two different
/// values at one height, round and vote kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// The offender's consensus key.
    pub key: VerifyingKey,
    /// The height of the conflicting votes.
    pub height: Height,
    /// Their round.
    pub round: Round,
    /// Their kind.
    pub kind: VoteKind,
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

    /// The portable encoding, naming the signer by `key` (its key in the
    /// votes' validator set).
    pub fn to_portable(&self, key: &VerifyingKey) -> [u8; PORTABLE_EVIDENCE_LEN] {
        let mut out = [0u8; PORTABLE_EVIDENCE_LEN];
        let vote = &self.first.vote;
        out[..32].copy_from_slice(key.as_bytes());
        out[32] = kind_tag(vote.kind);
        out[33..41].copy_from_slice(&vote.height.0.to_be_bytes());
        out[41..45].copy_from_slice(&vote.round.0.to_be_bytes());
        for (signed, at) in [(&self.first, 45), (&self.second, 45 + 97)] {
            if let Some(hash) = signed.vote.value {
                out[at] = 1;
                out[at + 1..at + 33].copy_from_slice(&hash.0);
            }
            out[at + 33..at + 97].copy_from_slice(&signed.signature.to_bytes());
        }
        out
    }
}

fn kind_tag(kind: VoteKind) -> u8 {
    match kind {
        VoteKind::Prevote => 2,
        VoteKind::Precommit => 3,
    }
}

/// Verifies portable evidence on `chain_id` without a validator set: both
/// votes are for the same height, round and kind, their values differ and
/// both signatures verify (strictly) under the named key, which must not
/// be weak. Whether the key was a validator is for the caller to judge.
pub fn verify_portable(chain_id: ChainId, bytes: &[u8]) -> Result<Equivocation, EvidenceError> {
    if bytes.len() != PORTABLE_EVIDENCE_LEN {
        return Err(EvidenceError::Malformed("wrong length"));
    }
    let key = VerifyingKey::from_bytes(&array::<32>(bytes, 0))
        .map_err(|_| EvidenceError::Malformed("key is not a curve point"))?;
    if key.is_weak() {
        return Err(EvidenceError::Malformed("weak key"));
    }
    let kind = match bytes[32] {
        2 => VoteKind::Prevote,
        3 => VoteKind::Precommit,
        _ => return Err(EvidenceError::Malformed("unknown vote kind")),
    };
    let height = Height(u64::from_be_bytes(array(bytes, 33)));
    let round = Round(u32::from_be_bytes(array(bytes, 41)));
    let vote_at = |at: usize| -> Result<(Option<BlockHash>, Signature), EvidenceError> {
        let hash = array::<32>(bytes, at + 1);
        let value = match bytes[at] {
            0 if hash == [0; 32] => None,
            1 => Some(BlockHash(hash)),
            _ => return Err(EvidenceError::Malformed("bad value flag")),
        };
        Ok((value, Signature::from_bytes(&array(bytes, at + 33))))
    };
    let (first, second) = (vote_at(45)?, vote_at(45 + 97)?);
    if first.0 == second.0 {
        return Err(EvidenceError::SameValue);
    }
    for (value, signature) in [first, second] {
        let vote = Vote {
            kind,
            height,
            round,
            value,
            validator: ValidatorIndex(0),
        };
        key.verify_strict(&vote.sign_bytes(chain_id), &signature)
            .map_err(|_| EvidenceError::Signature(SignatureError::BadSignature(0)))?;
    }
    Ok(Equivocation {
        key,
        height,
        round,
        kind,
    })
}

/// `N` bytes of `bytes` from `at` (the caller checked the length).
fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
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

    #[test]
    fn portable_evidence_verifies_without_a_set_and_rejects_tampering() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let chain = ChainId(77);
        let vote = Vote {
            kind: VoteKind::Precommit,
            height: Height(40),
            round: Round(3),
            value: Some(BlockHash([9; 32])),
            validator: ValidatorIndex(2),
        };
        let a = vote.sign(chain, &key);
        let b = Vote {
            value: None,
            ..vote
        }
        .sign(chain, &key);
        let bytes = Evidence::new(a.clone(), b).to_portable(&key.verifying_key());
        let proven = verify_portable(chain, &bytes).unwrap();
        assert_eq!(proven.key, key.verifying_key());
        assert_eq!((proven.height, proven.round), (Height(40), Round(3)));
        assert_eq!(proven.kind, VoteKind::Precommit);

        assert!(verify_portable(ChainId(78), &bytes).is_err(), "other chain");
        assert!(verify_portable(chain, &bytes[..200]).is_err(), "short");
        for at in [0, 32, 40, 44, 46, 100, 150, 238] {
            let mut tampered = bytes;
            tampered[at] ^= 1;
            assert!(verify_portable(chain, &tampered).is_err(), "byte {at}");
        }
        let same = Evidence::new(a.clone(), a).to_portable(&key.verifying_key());
        assert_eq!(verify_portable(chain, &same), Err(EvidenceError::SameValue));
    }
}
