//! Sender recovery for many transactions at once, on rayon's thread pool.
//!
//! Recovery (an secp256k1 public-key recovery, ~40-180 µs) dominates the
//! cost of admitting a transaction, so a batch — a gossip message, a
//! proposed block — is recovered in parallel, once, and the sender travels
//! with the transaction from then on ([`Recovered`]).

use alloy_consensus::{
    TxEnvelope,
    transaction::{Recovered, SignerRecoverable},
};
use rayon::prelude::*;

use super::{PoolError, PoolResult, validate::INVALID_SIG};

/// Recovers the sender of every transaction in parallel, keeping the input
/// order. Signatures must be low-`s` (EIP-2); one that recovers to nothing
/// gives [`PoolError::InvalidSender`](super::PoolError::InvalidSender).
pub fn recover_all(txs: Vec<TxEnvelope>) -> Vec<PoolResult<Recovered<TxEnvelope>>> {
    txs.into_par_iter()
        .map(|tx| {
            tx.try_into_recovered()
                .map_err(|_| PoolError::InvalidSender(INVALID_SIG.to_owned()))
        })
        .collect()
}
