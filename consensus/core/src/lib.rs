//! Outrigger's consensus core: the pure Tendermint state machine (propose,
//! prevote, precommit with locked and valid values), vote counting, validator
//! sets and certificates. No I/O, clock or randomness: inputs in, outputs out.
//!
//! Not built yet: see the consensus core issue.
