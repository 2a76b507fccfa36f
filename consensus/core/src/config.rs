//! The core's configuration: chain id, timeouts and the limits that keep
//! its memory bounded whatever peers send. Defaults live here.

use crate::timeouts::TimeoutConfig;
use crate::types::ChainId;

/// A configuration the core refuses to run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A timeout whose cap is below its base.
    #[error("timeout {0}: max is below base")]
    TimeoutCapBelowBase(&'static str),
    /// A timeout of zero in round 0.
    #[error("timeout {0}: base is zero")]
    ZeroTimeout(&'static str),
    /// A limit that must be at least 1.
    #[error("limit {0} must be at least 1")]
    ZeroLimit(&'static str),
}

/// Bounds on what the core keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Messages for rounds above `round_p + rounds_ahead_max` are dropped.
    pub rounds_ahead_max: u32,
    /// Rounds below `round_p - rounds_behind_max` are forgotten (except the
    /// locked and valid rounds), and their messages dropped.
    pub rounds_behind_max: u32,
    /// Messages for heights above `h_p + heights_ahead_max` are dropped;
    /// those in between are buffered until their height starts.
    pub heights_ahead_max: u64,
    /// At most this many future-height messages are buffered.
    pub future_messages_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rounds_ahead_max: 64,
            rounds_behind_max: 64,
            heights_ahead_max: 1,
            future_messages_max: 4096,
        }
    }
}

/// Everything the core needs to know besides its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The chain whose messages this core signs and accepts.
    pub chain_id: ChainId,
    /// Round timeouts.
    pub timeouts: TimeoutConfig,
    /// Memory bounds.
    pub limits: Limits,
    /// Test-only: deliberately break Alg. 1 by ignoring the lock on lines
    /// 23 and 29, so that tests can show the simulator catches the bug.
    #[doc(hidden)]
    pub test_ignore_lock: bool,
}

impl Config {
    /// Default timeouts and limits for `chain_id`.
    pub fn new(chain_id: ChainId) -> Self {
        Self {
            chain_id,
            timeouts: TimeoutConfig::default(),
            limits: Limits::default(),
            test_ignore_lock: false,
        }
    }

    /// Checks the timeouts and limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.timeouts;
        for (name, s) in [
            ("propose", t.propose),
            ("prevote", t.prevote),
            ("precommit", t.precommit),
        ] {
            if s.base.is_zero() {
                return Err(ConfigError::ZeroTimeout(name));
            }
            if s.max < s.base {
                return Err(ConfigError::TimeoutCapBelowBase(name));
            }
        }
        let l = &self.limits;
        if l.rounds_ahead_max == 0 {
            return Err(ConfigError::ZeroLimit("rounds_ahead_max"));
        }
        if l.rounds_behind_max == 0 {
            return Err(ConfigError::ZeroLimit("rounds_behind_max"));
        }
        if l.future_messages_max == 0 {
            return Err(ConfigError::ZeroLimit("future_messages_max"));
        }
        Ok(())
    }
}
