//! Outrigger's consensus engine: drives the pure core with timers, a
//! write-ahead log and the validator signer, gossips over libp2p and syncs
//! blocks from peers.
//!
//! - [`codec`]: wire formats of votes, proposals, certificates, synced blocks.
//! - [`wal`]: the fsynced last-signed record and our messages of the height.
//! - [`network`]: libp2p gossip and block-sync request-response, with size
//!   limits, peer scoring and bans.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod codec;
pub mod network;
pub mod wal;
