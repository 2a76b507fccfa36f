//! Votes and proposals, and the domain-separated bytes a validator signs.
//!
//! Sign bytes have a fixed layout, so no two different messages share them:
//!
//! ```text
//! "outrigger/consensus/v1" | tag u8 (1 proposal, 2 prevote, 3 precommit)
//! | chain id u64 BE | height u64 BE | round u32 BE
//! | has value u8 (0 nil, 1 block) | block hash [32] (zeros for nil)
//! | proposals only: has valid round u8 | valid round u32 BE
//! ```
//!
//! The validator index is not signed: the signature binds the key, and a
//! wrong index only makes verification fail.

use ed25519_dalek::{Signature, Signer, SigningKey};

use crate::types::{BlockHash, ChainId, Height, Round, ValidatorIndex, VoteKind};
use crate::validator_set::ValidatorSet;

/// The domain prefix of every signed consensus payload.
pub const SIGN_DOMAIN: &[u8; 22] = b"outrigger/consensus/v1";

const TAG_PROPOSAL: u8 = 1;
const TAG_PREVOTE: u8 = 2;
const TAG_PRECOMMIT: u8 = 3;

/// Length of a vote's sign bytes.
pub const VOTE_SIGN_BYTES_LEN: usize = 22 + 1 + 8 + 8 + 4 + 1 + 32;
/// Length of a proposal's sign bytes.
pub const PROPOSAL_SIGN_BYTES_LEN: usize = VOTE_SIGN_BYTES_LEN + 1 + 4;

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signer index is not in the validator set.
    #[error("validator index {0} is not in the validator set")]
    UnknownValidator(u32),
    /// The signature does not verify against the validator's key.
    #[error("bad signature from validator {0}")]
    BadSignature(u32),
}

fn header(
    tag: u8,
    chain_id: ChainId,
    height: Height,
    round: Round,
    value: Option<BlockHash>,
) -> [u8; VOTE_SIGN_BYTES_LEN] {
    let mut out = [0u8; VOTE_SIGN_BYTES_LEN];
    out[..22].copy_from_slice(SIGN_DOMAIN);
    out[22] = tag;
    out[23..31].copy_from_slice(&chain_id.0.to_be_bytes());
    out[31..39].copy_from_slice(&height.0.to_be_bytes());
    out[39..43].copy_from_slice(&round.0.to_be_bytes());
    if let Some(hash) = value {
        out[43] = 1;
        out[44..76].copy_from_slice(&hash.0);
    }
    out
}

/// A prevote or precommit for a block, or for nil (`value == None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The height voted on.
    pub height: Height,
    /// The round voted in.
    pub round: Round,
    /// The block voted for; `None` is the paper's `nil`.
    pub value: Option<BlockHash>,
    /// Who votes, as an index into the height's validator set.
    pub validator: ValidatorIndex,
}

impl Vote {
    /// The bytes the validator signs for this vote on `chain_id`.
    pub fn sign_bytes(&self, chain_id: ChainId) -> [u8; VOTE_SIGN_BYTES_LEN] {
        let tag = match self.kind {
            VoteKind::Prevote => TAG_PREVOTE,
            VoteKind::Precommit => TAG_PRECOMMIT,
        };
        header(tag, chain_id, self.height, self.round, self.value)
    }

    /// Signs the vote with `key`.
    pub fn sign(self, chain_id: ChainId, key: &SigningKey) -> SignedVote {
        let signature = key.sign(&self.sign_bytes(chain_id));
        SignedVote {
            vote: self,
            signature,
        }
    }
}

/// A vote with its ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedVote {
    /// What was voted.
    pub vote: Vote,
    /// The signature over [`Vote::sign_bytes`].
    pub signature: Signature,
}

impl SignedVote {
    /// Checks the signature against the key of `vote.validator` in `validators`
    /// (the set of `vote.height`).
    pub fn verify(
        &self,
        chain_id: ChainId,
        validators: &ValidatorSet,
    ) -> Result<(), SignatureError> {
        let index = self.vote.validator;
        let validator = validators
            .get(index)
            .ok_or(SignatureError::UnknownValidator(index.0))?;
        validator
            .public_key
            .verify_strict(&self.vote.sign_bytes(chain_id), &self.signature)
            .map_err(|_| SignatureError::BadSignature(index.0))
    }
}

/// `⟨PROPOSAL, h, r, v, vr⟩`: the round's proposer proposes block `value`,
/// which it saw polka'd in `valid_round` (`None` is the paper's `-1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockHash,
    /// The proposer's `validRound` (Alg. 1, line 19); `None` for `-1`.
    pub valid_round: Option<Round>,
    /// The proposer's index in the height's validator set.
    pub proposer: ValidatorIndex,
}

impl Proposal {
    /// The bytes the proposer signs for this proposal on `chain_id`.
    pub fn sign_bytes(&self, chain_id: ChainId) -> [u8; PROPOSAL_SIGN_BYTES_LEN] {
        let mut out = [0u8; PROPOSAL_SIGN_BYTES_LEN];
        out[..VOTE_SIGN_BYTES_LEN].copy_from_slice(&header(
            TAG_PROPOSAL,
            chain_id,
            self.height,
            self.round,
            Some(self.value),
        ));
        if let Some(vr) = self.valid_round {
            out[VOTE_SIGN_BYTES_LEN] = 1;
            out[VOTE_SIGN_BYTES_LEN + 1..].copy_from_slice(&vr.0.to_be_bytes());
        }
        out
    }

    /// Signs the proposal with `key`.
    pub fn sign(self, chain_id: ChainId, key: &SigningKey) -> SignedProposal {
        let signature = key.sign(&self.sign_bytes(chain_id));
        SignedProposal {
            proposal: self,
            signature,
        }
    }
}

/// A proposal with its ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedProposal {
    /// What was proposed.
    pub proposal: Proposal,
    /// The signature over [`Proposal::sign_bytes`].
    pub signature: Signature,
}

impl SignedProposal {
    /// Checks the signature against the proposer's key in `validators`.
    /// (That the signer is the round's proposer is checked by the core.)
    pub fn verify(
        &self,
        chain_id: ChainId,
        validators: &ValidatorSet,
    ) -> Result<(), SignatureError> {
        let index = self.proposal.proposer;
        let validator = validators
            .get(index)
            .ok_or(SignatureError::UnknownValidator(index.0))?;
        validator
            .public_key
            .verify_strict(&self.proposal.sign_bytes(chain_id), &self.signature)
            .map_err(|_| SignatureError::BadSignature(index.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_bytes_are_domain_separated() {
        let vote = Vote {
            kind: VoteKind::Prevote,
            height: Height(1),
            round: Round(0),
            value: Some(BlockHash([0; 32])),
            validator: ValidatorIndex(0),
        };
        let c = ChainId(1);
        let base = vote.sign_bytes(c);
        assert!(base.starts_with(SIGN_DOMAIN));
        let variants = [
            Vote {
                kind: VoteKind::Precommit,
                ..vote
            }
            .sign_bytes(c),
            Vote {
                height: Height(2),
                ..vote
            }
            .sign_bytes(c),
            Vote {
                round: Round(1),
                ..vote
            }
            .sign_bytes(c),
            Vote {
                value: None,
                ..vote
            }
            .sign_bytes(c),
            vote.sign_bytes(ChainId(2)),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        // The signer index is not signed.
        assert_eq!(
            Vote {
                validator: ValidatorIndex(3),
                ..vote
            }
            .sign_bytes(c),
            base
        );
        let p = Proposal {
            height: Height(1),
            round: Round(0),
            value: BlockHash([0; 32]),
            valid_round: None,
            proposer: ValidatorIndex(0),
        };
        assert_ne!(&p.sign_bytes(c)[..VOTE_SIGN_BYTES_LEN], &base[..]);
        assert_ne!(
            p.sign_bytes(c),
            Proposal {
                valid_round: Some(Round(0)),
                ..p
            }
            .sign_bytes(c)
        );
    }
}
