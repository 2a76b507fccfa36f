//! Commit certificates: a block hash with precommit signatures from more
//! than two thirds of a height's voting power, verified in one ed25519 batch.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::signing::Vote;
use crate::types::{BlockHash, ChainId, Height, Round, ValidatorIndex, VoteKind};
use crate::validator_set::ValidatorSet;

/// Why a commit certificate did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The certificate is for another height.
    #[error("certificate is for height {found}, expected {expected}")]
    WrongHeight {
        /// The height asked for.
        expected: Height,
        /// The certificate's height.
        found: Height,
    },
    /// Signers not in strictly increasing index order (duplicates included).
    #[error("certificate signers are not strictly increasing at validator {0}")]
    UnorderedSigners(u32),
    /// A signer index outside the validator set.
    #[error("certificate signer {0} is not in the validator set")]
    UnknownSigner(u32),
    /// The signers hold no more than 2/3 of the voting power.
    #[error("certificate signers hold {signed} of {total} voting power, not more than 2/3")]
    InsufficientPower {
        /// Power of the signers.
        signed: u64,
        /// Total power of the set.
        total: u64,
    },
    /// The batch of signatures does not verify (wrong chain, height, round,
    /// block or validator set, or a forged signature).
    #[error("certificate signatures for height {height} round {round} do not verify")]
    BadSignatures {
        /// The certificate's height.
        height: Height,
        /// The certificate's round.
        round: Round,
    },
}

/// Proof that `value` was decided at `height`: precommits for it in `round`
/// from validators holding more than 2/3 of the power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitCertificate {
    /// The decided height.
    pub height: Height,
    /// The round whose precommits decided it.
    pub round: Round,
    /// The decided block.
    pub value: BlockHash,
    /// `(signer, precommit signature)`, sorted by signer, no duplicates.
    pub signatures: Vec<(ValidatorIndex, Signature)>,
}

impl CommitCertificate {
    /// Verifies the certificate for `height` of `chain_id` against that
    /// height's `validators`: signer order, > 2/3 power, then all signatures
    /// in one batch (the payload is the same precommit for every signer).
    pub fn verify(
        &self,
        chain_id: ChainId,
        height: Height,
        validators: &ValidatorSet,
    ) -> Result<(), CertificateError> {
        if self.height != height {
            return Err(CertificateError::WrongHeight {
                expected: height,
                found: self.height,
            });
        }
        let mut power: u64 = 0;
        let mut keys: Vec<VerifyingKey> = Vec::with_capacity(self.signatures.len());
        let mut previous: Option<ValidatorIndex> = None;
        for (index, _) in &self.signatures {
            if previous.is_some_and(|p| p >= *index) {
                return Err(CertificateError::UnorderedSigners(index.0));
            }
            previous = Some(*index);
            let validator = validators
                .get(*index)
                .ok_or(CertificateError::UnknownSigner(index.0))?;
            // Cannot overflow: the set's total power fits in a u64.
            power += validator.power;
            keys.push(validator.public_key);
        }
        if !validators.is_quorum(power) {
            return Err(CertificateError::InsufficientPower {
                signed: power,
                total: validators.total_power(),
            });
        }
        let bytes = Vote {
            kind: VoteKind::Precommit,
            height: self.height,
            round: self.round,
            value: Some(self.value),
            validator: ValidatorIndex(0),
        }
        .sign_bytes(chain_id);
        let messages: Vec<&[u8]> = vec![&bytes[..]; keys.len()];
        let signatures: Vec<Signature> = self.signatures.iter().map(|(_, s)| *s).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).map_err(|_| {
            CertificateError::BadSignatures {
                height: self.height,
                round: self.round,
            }
        })
    }
}
