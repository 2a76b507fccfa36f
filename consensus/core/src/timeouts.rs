//! Round timeouts: base + per-round increment, capped. Uncapped doubling is
//! how other BFT chains took hours to recover after an outage; here the cap
//! is reached within a few rounds and every later round waits the same.

use std::time::Duration;

use crate::types::{Height, Round};

/// Which of the three timeouts (Alg. 1, lines 21, 35, 48).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeoutKind {
    /// `timeoutPropose`: waiting for the proposal.
    Propose,
    /// `timeoutPrevote`: waiting after 2f + 1 prevotes of any value.
    Prevote,
    /// `timeoutPrecommit`: waiting after 2f + 1 precommits of any value.
    Precommit,
}

/// A timeout that fired: `OnTimeout*(height, round)` in Alg. 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeout {
    /// Which timeout.
    pub kind: TimeoutKind,
    /// The height it was scheduled in.
    pub height: Height,
    /// The round it was scheduled in.
    pub round: Round,
}

/// One timeout's schedule: `min(base + per_round * round, max)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutSchedule {
    /// The timeout in round 0.
    pub base: Duration,
    /// Added for every round.
    pub per_round: Duration,
    /// The cap.
    pub max: Duration,
}

impl TimeoutSchedule {
    /// The timeout for `round`.
    pub fn duration(&self, round: Round) -> Duration {
        self.per_round
            .checked_mul(round.0)
            .and_then(|extra| self.base.checked_add(extra))
            .map_or(self.max, |d| d.min(self.max))
    }

    /// The first round whose timeout is the cap (`None` if never reached).
    pub fn rounds_to_cap(&self) -> Option<u32> {
        if self.base >= self.max {
            return Some(0);
        }
        if self.per_round.is_zero() {
            return None;
        }
        let gap = (self.max - self.base).as_nanos();
        let step = self.per_round.as_nanos();
        u32::try_from(gap.div_ceil(step)).ok()
    }
}

/// The three timeout schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// `timeoutPropose(round)`.
    pub propose: TimeoutSchedule,
    /// `timeoutPrevote(round)`.
    pub prevote: TimeoutSchedule,
    /// `timeoutPrecommit(round)`.
    pub precommit: TimeoutSchedule,
}

impl Default for TimeoutConfig {
    /// 3 s propose, 1 s prevote and precommit in round 0; +500 ms a round;
    /// capped at 6 s and 3 s, reached by round 6 and round 4.
    fn default() -> Self {
        let ms = Duration::from_millis;
        Self {
            propose: TimeoutSchedule {
                base: ms(3000),
                per_round: ms(500),
                max: ms(6000),
            },
            prevote: TimeoutSchedule {
                base: ms(1000),
                per_round: ms(500),
                max: ms(3000),
            },
            precommit: TimeoutSchedule {
                base: ms(1000),
                per_round: ms(500),
                max: ms(3000),
            },
        }
    }
}

impl TimeoutConfig {
    /// The duration of `kind` in `round`.
    pub fn duration(&self, kind: TimeoutKind, round: Round) -> Duration {
        match kind {
            TimeoutKind::Propose => self.propose.duration(round),
            TimeoutKind::Prevote => self.prevote.duration(round),
            TimeoutKind::Precommit => self.precommit.duration(round),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_stays_at_the_cap() {
        let c = TimeoutConfig::default();
        let d = |r| c.duration(TimeoutKind::Propose, Round(r)).as_millis();
        assert_eq!(
            [d(0), d(1), d(5), d(6), d(7), d(u32::MAX)],
            [3000, 3500, 5500, 6000, 6000, 6000]
        );
        assert_eq!(c.propose.rounds_to_cap(), Some(6));
        assert_eq!(c.prevote.rounds_to_cap(), Some(4));
    }
}
