//! The validators of one height: ed25519 public keys with voting power,
//! the > 2/3 and > 1/3 thresholds, and CometBFT's proposer-priority rotation.
//!
//! Thresholds compare `3 * power` with `2 * total` (or `total`) in `u128`, so
//! they can neither overflow nor round. Priorities are `i128` and the total
//! power is capped at [`TOTAL_POWER_MAX`], so priority arithmetic cannot
//! overflow either.

use ed25519_dalek::VerifyingKey;

use crate::types::ValidatorIndex;

/// The largest total voting power of a set (CometBFT's `MaxTotalVotingPower`).
pub const TOTAL_POWER_MAX: u64 = (i64::MAX as u64) / 8;

/// The largest number of validators in one set: bounds every per-validator
/// table in the core.
pub const VALIDATORS_MAX: usize = 10_000;

/// Why a validator set was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// The set has no validators.
    #[error("validator set is empty")]
    Empty,
    /// More than [`VALIDATORS_MAX`] validators.
    #[error("validator set has {0} validators, more than {VALIDATORS_MAX}")]
    TooMany(usize),
    /// A validator with zero voting power.
    #[error("validator {key} has zero voting power")]
    ZeroPower {
        /// The key, hex.
        key: String,
    },
    /// A key of small order, which would let anyone forge its signatures.
    #[error("validator {key} has a weak (small-order) public key")]
    WeakKey {
        /// The key, hex.
        key: String,
    },
    /// The same public key twice.
    #[error("validator {key} appears twice")]
    Duplicate {
        /// The key, hex.
        key: String,
    },
    /// The powers add up to more than [`TOTAL_POWER_MAX`].
    #[error("total voting power exceeds {TOTAL_POWER_MAX}")]
    TotalPowerTooLarge,
}

/// One validator: who signs and how much its vote weighs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// The ed25519 key its votes verify against.
    pub public_key: VerifyingKey,
    /// Its voting power (> 0).
    pub power: u64,
}

/// The validators of one height, sorted by public key, with the proposer
/// priorities that height starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    priorities: Vec<i128>,
    total_power: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ValidatorSet {
    /// Builds a set with all proposer priorities at zero. The order of
    /// `validators` does not matter: the set is sorted by public key.
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, ValidatorSetError> {
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if validators.len() > VALIDATORS_MAX {
            return Err(ValidatorSetError::TooMany(validators.len()));
        }
        validators.sort_by(|a, b| a.public_key.as_bytes().cmp(b.public_key.as_bytes()));
        let mut total: u64 = 0;
        for (i, v) in validators.iter().enumerate() {
            if v.power == 0 {
                return Err(ValidatorSetError::ZeroPower {
                    key: hex(v.public_key.as_bytes()),
                });
            }
            if v.public_key.is_weak() {
                return Err(ValidatorSetError::WeakKey {
                    key: hex(v.public_key.as_bytes()),
                });
            }
            if i > 0 && validators[i - 1].public_key == v.public_key {
                return Err(ValidatorSetError::Duplicate {
                    key: hex(v.public_key.as_bytes()),
                });
            }
            total = total
                .checked_add(v.power)
                .filter(|t| *t <= TOTAL_POWER_MAX)
                .ok_or(ValidatorSetError::TotalPowerTooLarge)?;
        }
        let priorities = vec![0; validators.len()];
        Ok(Self {
            validators,
            priorities,
            total_power: total,
        })
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Always false: a set has at least one validator.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// The validators, in index order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The validator at `index`, if any.
    pub fn get(&self, index: ValidatorIndex) -> Option<&Validator> {
        self.validators.get(index.get())
    }

    /// The voting power of `index`, 0 for an index outside the set.
    pub fn power(&self, index: ValidatorIndex) -> u64 {
        self.get(index).map_or(0, |v| v.power)
    }

    /// The index of the validator with this key.
    pub fn index_of(&self, key: &VerifyingKey) -> Option<ValidatorIndex> {
        self.validators
            .binary_search_by(|v| v.public_key.as_bytes().cmp(key.as_bytes()))
            .ok()
            .and_then(|i| u32::try_from(i).ok())
            .map(ValidatorIndex)
    }

    /// The sum of all voting power.
    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    /// `power > 2/3 * total`: a quorum ("2f + 1" in Alg. 1).
    pub fn is_quorum(&self, power: u64) -> bool {
        3 * u128::from(power) > 2 * u128::from(self.total_power)
    }

    /// `power > 1/3 * total`: at least one honest validator ("f + 1" in Alg. 1).
    pub fn is_one_third_plus(&self, power: u64) -> bool {
        3 * u128::from(power) > u128::from(self.total_power)
    }

    /// True if the two sets have the same validators and powers (priorities
    /// may differ).
    pub fn same_members(&self, other: &ValidatorSet) -> bool {
        self.validators == other.validators
    }

    /// The proposers of rounds 0, 1, 2, ... of this height (`proposer(h, r)`
    /// in Alg. 1). Deterministic: every node computes the same sequence.
    pub fn proposers(&self) -> ProposerSequence {
        ProposerSequence {
            powers: self.validators.iter().map(|v| v.power).collect(),
            priorities: self.priorities.clone(),
            total_power: self.total_power,
        }
    }

    /// The proposer of `round` (O(n * round); the core caches the sequence).
    pub fn proposer(&self, round: crate::Round) -> ValidatorIndex {
        let mut seq = self.proposers();
        let mut last = seq.next_proposer();
        for _ in 0..round.0 {
            last = seq.next_proposer();
        }
        last
    }

    /// The same validators with priorities advanced by one step: the set of
    /// the next height when membership does not change (CometBFT advances
    /// the priorities once per height, whatever the number of rounds).
    pub fn for_next_height(&self) -> ValidatorSet {
        let mut seq = self.proposers();
        seq.next_proposer();
        ValidatorSet {
            validators: self.validators.clone(),
            priorities: seq.priorities,
            total_power: self.total_power,
        }
    }
}

/// An endless iterator over the proposers of successive rounds, by
/// CometBFT's weighted round robin: every round each validator's priority
/// grows by its power, the highest priority proposes (ties: lowest index)
/// and pays the total power back.
#[derive(Clone, Debug)]
pub struct ProposerSequence {
    powers: Vec<u64>,
    priorities: Vec<i128>,
    total_power: u64,
}

impl ProposerSequence {
    /// The proposer of the next round.
    pub fn next_proposer(&mut self) -> ValidatorIndex {
        let total = i128::from(self.total_power);
        // Keep priorities within [-2 total, 2 total] and centred on zero,
        // as CometBFT does, so that a validator that just joined with a low
        // priority does not wait forever.
        let (min, max) = self
            .priorities
            .iter()
            .fold((i128::MAX, i128::MIN), |(lo, hi), p| {
                (lo.min(*p), hi.max(*p))
            });
        let spread = max - min;
        if spread > 2 * total {
            let ratio = (spread + 2 * total - 1) / (2 * total);
            for p in &mut self.priorities {
                *p /= ratio;
            }
        }
        let n = self.priorities.len() as i128;
        let avg = self.priorities.iter().sum::<i128>().div_euclid(n);
        for (p, power) in self.priorities.iter_mut().zip(&self.powers) {
            *p = *p - avg + i128::from(*power);
        }
        let mut best = 0;
        for i in 1..self.priorities.len() {
            if self.priorities[i] > self.priorities[best] {
                best = i;
            }
        }
        self.priorities[best] -= total;
        // The set has at most VALIDATORS_MAX entries, so the index fits.
        ValidatorIndex(best as u32)
    }
}

impl Iterator for ProposerSequence {
    type Item = ValidatorIndex;
    fn next(&mut self) -> Option<ValidatorIndex> {
        Some(self.next_proposer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key(i: u8) -> VerifyingKey {
        SigningKey::from_bytes(&[i; 32]).verifying_key()
    }

    fn set(powers: &[u64]) -> ValidatorSet {
        let vs = powers
            .iter()
            .enumerate()
            .map(|(i, p)| Validator {
                public_key: key(i as u8 + 1),
                power: *p,
            })
            .collect();
        ValidatorSet::new(vs).unwrap()
    }

    #[test]
    fn thresholds_are_strictly_above_two_thirds_and_one_third() {
        let s = set(&[1, 1, 1]);
        assert!(!s.is_quorum(2) && s.is_quorum(3));
        assert!(!s.is_one_third_plus(1) && s.is_one_third_plus(2));
        let s = set(&[34, 33, 33]);
        assert!(!s.is_quorum(66) && s.is_quorum(67));
        assert!(!s.is_one_third_plus(33) && s.is_one_third_plus(34));
    }

    #[test]
    fn thresholds_do_not_overflow_at_the_maximum_total() {
        let s = set(&[TOTAL_POWER_MAX - 2, 1, 1]);
        assert!(s.is_quorum(TOTAL_POWER_MAX - 2));
        assert!(!s.is_quorum(TOTAL_POWER_MAX / 2));
        assert!(s.is_one_third_plus(TOTAL_POWER_MAX / 2));
        // The proposer rotation keeps working at the maximum total.
        let count = s.proposers().take(100).filter(|v| s.power(*v) == 1).count();
        assert!(count <= 2, "{count}");
    }

    #[test]
    fn rejects_bad_sets() {
        assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorSetError::Empty));
        let zero = vec![Validator {
            public_key: key(1),
            power: 0,
        }];
        assert!(matches!(
            ValidatorSet::new(zero),
            Err(ValidatorSetError::ZeroPower { .. })
        ));
        let dup = vec![
            Validator {
                public_key: key(1),
                power: 1,
            },
            Validator {
                public_key: key(1),
                power: 2,
            },
        ];
        assert!(matches!(
            ValidatorSet::new(dup),
            Err(ValidatorSetError::Duplicate { .. })
        ));
        let big = vec![
            Validator {
                public_key: key(1),
                power: TOTAL_POWER_MAX,
            },
            Validator {
                public_key: key(2),
                power: 1,
            },
        ];
        assert_eq!(
            ValidatorSet::new(big),
            Err(ValidatorSetError::TotalPowerTooLarge)
        );
        // The identity point is a small-order key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        let weak = vec![Validator {
            public_key: weak,
            power: 1,
        }];
        assert!(matches!(
            ValidatorSet::new(weak),
            Err(ValidatorSetError::WeakKey { .. })
        ));
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let a = vec![
            Validator {
                public_key: key(1),
                power: 5,
            },
            Validator {
                public_key: key(2),
                power: 7,
            },
        ];
        let b = vec![a[1].clone(), a[0].clone()];
        assert_eq!(ValidatorSet::new(a).unwrap(), ValidatorSet::new(b).unwrap());
    }

    #[test]
    fn proposer_frequency_follows_power_and_is_deterministic() {
        let s = set(&[1, 2, 3, 4]);
        let mut counts = [0u32; 4];
        for v in s.proposers().take(1000) {
            counts[v.get()] += 1;
        }
        let expected: Vec<u32> = s
            .validators()
            .iter()
            .map(|v| (v.power * 100) as u32)
            .collect();
        assert_eq!(
            counts.to_vec(),
            expected,
            "1000 rounds split 1:2:3:4 by power"
        );
        let again: Vec<_> = s.proposers().take(50).collect();
        assert_eq!(again, s.proposers().take(50).collect::<Vec<_>>());
        assert_eq!(s.proposer(crate::Round(7)), s.proposers().nth(7).unwrap());
    }

    #[test]
    fn next_height_advances_the_rotation_by_one() {
        let s = set(&[1, 1, 1]);
        let next = s.for_next_height();
        assert!(next.same_members(&s));
        assert_eq!(next.proposer(crate::Round(0)), s.proposer(crate::Round(1)));
    }
}
