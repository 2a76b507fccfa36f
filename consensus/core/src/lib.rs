//! Outrigger's consensus core: the pure Tendermint state machine (propose,
//! prevote, precommit with locked and valid values), vote counting, validator
//! sets and certificates. No I/O, clock or randomness: inputs in, outputs out.
//!
//! - [`round_state`]: Alg. 1 of arXiv 1807.04938 as `apply(state, input) -> outputs`.
//! - [`events`]: its inputs and outputs, and the durable [`LastSigned`] record.
//! - [`votes`] (private): bounded per-height vote bookkeeping and equivocation detection.
//! - [`validator_set`]: keys, voting power, thresholds, proposer rotation.
//! - [`signing`]: votes, proposals and their domain-separated sign bytes.
//! - [`certificate`]: commit certificates, batch-verified.
//! - [`evidence`]: two conflicting signed votes.
//! - [`timeouts`], [`config`]: capped round timeouts and memory limits.
//!
//! The engine drives it: it verifies signatures before feeding messages in,
//! persists [`LastSigned`] before any signature leaves, runs the timers and
//! asks execution to build and validate blocks.
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod certificate;
pub mod config;
pub mod events;
pub mod evidence;
pub mod round_state;
pub mod signing;
pub mod timeouts;
pub mod types;
pub mod validator_set;
mod votes;

pub use certificate::{CertificateError, CommitCertificate};
pub use config::{Config, ConfigError, Limits};
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
pub use events::{Decision, Input, LastSigned, Output};
pub use evidence::{Evidence, EvidenceError};
pub use round_state::{RoundState, apply};
pub use signing::{Proposal, SignatureError, SignedProposal, SignedVote, Vote};
pub use timeouts::{Timeout, TimeoutConfig, TimeoutKind, TimeoutSchedule};
pub use types::{BlockHash, ChainId, Height, Round, SignStep, Step, ValidatorIndex, VoteKind};
pub use validator_set::{Validator, ValidatorSet, ValidatorSetError};
