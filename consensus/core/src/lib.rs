//! Outrigger's consensus core: the pure Tendermint state machine (propose,
//! prevote, precommit with locked and valid values), vote counting, validator
//! sets and certificates. No I/O, clock or randomness: inputs in, outputs out.
//!
//! - [`round_state`]: Alg. 1 of arXiv 1807.04938 as `apply(state, input) -> outputs`.
//! - [`events`]: its inputs and outputs, and the durable [`LastSigned`] record.
//! - `votes` (private): bounded per-height vote bookkeeping and equivocation detection.
//! - [`validator_set`]: keys, voting power, thresholds, proposer rotation.
//! - [`signing`]: votes, proposals and their domain-separated sign bytes.
//! - [`certificate`]: commit certificates, batch-verified.
//! - [`evidence`]: two conflicting signed votes.
//! - [`timeouts`], [`config`]: capped round timeouts and memory limits.
//!
//! # What the engine must do
//!
//! 1. Verify the signature of every proposal and vote (against the set of the
//!    message's height, [`SignedVote::verify`] or a batch) before
//!    [`Input::Proposal`] / [`Input::Vote`]. [`Input::Commit`] certificates
//!    are verified by the core itself.
//! 2. Carry out outputs in order. On [`Output::SignVote`] /
//!    [`Output::SignProposal`]: write the `record` durably (fsync) first,
//!    then sign, broadcast, and feed the signed message back as an input.
//! 3. At restart: [`RoundState::new`] with the persisted [`LastSigned`], then
//!    [`Input::StartHeight`] for the first uncommitted height (and, ideally,
//!    replay our own signed messages of that height). The core resumes in the
//!    recorded round, locked as it was, and signs nothing at or below it.
//! 4. [`Output::ScheduleTimeout`]: feed [`Input::Timeout`] back after the
//!    duration. Stale timeouts are ignored, so nothing needs cancelling.
//! 5. [`Output::RequestValue`]: build a block, answer [`Input::ProposalValue`].
//!    [`Output::ValidateValue`]: execute the block with that hash (fetch it
//!    if needed), answer [`Input::ValueValidated`].
//! 6. [`Output::Decide`]: commit block and certificate, then start the next
//!    height ([`ValidatorSet::for_next_height`] when the set is unchanged,
//!    so that the proposer rotation carries on).
//! 7. Gossip as Tendermint's liveness assumes: relay the messages of the
//!    current height (an equivocator's too), and send lagging peers the
//!    certificate of the height they are stuck at ([`Input::Commit`]).
//! 8. [`Output::Evidence`]: hand to the slashing layer.
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
pub use evidence::{Equivocation, Evidence, EvidenceError, PORTABLE_EVIDENCE_LEN, verify_portable};
pub use round_state::{RoundState, apply};
pub use signing::{Proposal, SignatureError, SignedProposal, SignedVote, Vote};
pub use timeouts::{Timeout, TimeoutConfig, TimeoutKind, TimeoutSchedule};
pub use types::{BlockHash, ChainId, Height, Round, SignStep, Step, ValidatorIndex, VoteKind};
pub use validator_set::{Validator, ValidatorSet, ValidatorSetError};
