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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator_set::Validator;
    use ed25519_dalek::SigningKey;

    const CHAIN: ChainId = ChainId(9);
    const H: Height = Height(5);
    const V: BlockHash = BlockHash([7; 32]);

    fn keys(n: u8, seed: u8) -> (Vec<SigningKey>, ValidatorSet) {
        let mut keys: Vec<SigningKey> = (0..n)
            .map(|i| SigningKey::from_bytes(&[seed + i; 32]))
            .collect();
        keys.sort_by(|a, b| {
            a.verifying_key()
                .as_bytes()
                .cmp(b.verifying_key().as_bytes())
        });
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| Validator {
                    public_key: k.verifying_key(),
                    power: 10,
                })
                .collect(),
        )
        .unwrap();
        (keys, set)
    }

    fn cert(
        keys: &[SigningKey],
        signers: &[usize],
        chain: ChainId,
        round: Round,
    ) -> CommitCertificate {
        let signatures = signers
            .iter()
            .map(|&i| {
                let vote = Vote {
                    kind: VoteKind::Precommit,
                    height: H,
                    round,
                    value: Some(V),
                    validator: ValidatorIndex(i as u32),
                };
                (
                    ValidatorIndex(i as u32),
                    vote.sign(chain, &keys[i]).signature,
                )
            })
            .collect();
        CommitCertificate {
            height: H,
            round,
            value: V,
            signatures,
        }
    }

    #[test]
    fn a_quorum_of_precommits_verifies() {
        let (k, set) = keys(4, 1);
        cert(&k, &[0, 1, 2], CHAIN, Round(3))
            .verify(CHAIN, H, &set)
            .unwrap();
    }

    #[test]
    fn another_chain_height_round_block_or_set_fails() {
        let (k, set) = keys(4, 1);
        let (_, other_set) = keys(4, 50);
        assert!(matches!(
            cert(&k, &[0, 1, 2], ChainId(10), Round(3)).verify(CHAIN, H, &set),
            Err(CertificateError::BadSignatures { .. })
        ));
        assert!(matches!(
            cert(&k, &[0, 1, 2], CHAIN, Round(3)).verify(CHAIN, Height(6), &set),
            Err(CertificateError::WrongHeight { .. })
        ));
        let mut moved = cert(&k, &[0, 1, 2], CHAIN, Round(3));
        moved.round = Round(4);
        assert!(matches!(
            moved.verify(CHAIN, H, &set),
            Err(CertificateError::BadSignatures { .. })
        ));
        let mut other_block = cert(&k, &[0, 1, 2], CHAIN, Round(3));
        other_block.value = BlockHash([8; 32]);
        assert!(other_block.verify(CHAIN, H, &set).is_err());
        assert!(
            cert(&k, &[0, 1, 2], CHAIN, Round(3))
                .verify(CHAIN, H, &other_set)
                .is_err()
        );
    }

    #[test]
    fn too_little_power_duplicates_and_strangers_fail() {
        let (k, set) = keys(4, 1);
        assert!(matches!(
            cert(&k, &[0, 1], CHAIN, Round(0)).verify(CHAIN, H, &set),
            Err(CertificateError::InsufficientPower {
                signed: 20,
                total: 40
            })
        ));
        assert_eq!(
            cert(&k, &[0, 1, 1, 2], CHAIN, Round(0)).verify(CHAIN, H, &set),
            Err(CertificateError::UnorderedSigners(1))
        );
        let mut stranger = cert(&k, &[0, 1, 2], CHAIN, Round(0));
        stranger.signatures[2].0 = ValidatorIndex(9);
        assert_eq!(
            stranger.verify(CHAIN, H, &set),
            Err(CertificateError::UnknownSigner(9))
        );
        let mut forged = cert(&k, &[0, 1, 2], CHAIN, Round(0));
        forged.signatures[1].1 = forged.signatures[0].1;
        assert!(matches!(
            forged.verify(CHAIN, H, &set),
            Err(CertificateError::BadSignatures { .. })
        ));
    }
}
