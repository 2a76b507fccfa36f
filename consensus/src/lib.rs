//! Outrigger's consensus engine: drives the pure core with timers, a
//! write-ahead log and the validator signer, gossips over libp2p and syncs
//! blocks from peers.
//!
//! - [`codec`]: wire formats of votes, proposals, certificates, synced blocks.
//! - [`wal`]: the fsynced last-signed record and our messages of the height.
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod codec;
pub mod wal;
