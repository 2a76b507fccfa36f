//! Outrigger's consensus engine: drives the pure core with timers, a
//! write-ahead log and the validator signer, gossips over libp2p and syncs
//! blocks from peers.
//!
//! - [`engine`]: the task that owns the core and carries out its outputs;
//!   block sync and re-broadcasts.
//! - [`app`]: what the engine asks of the chain (the node implements it).
//! - [`codec`]: wire formats of votes, proposals, certificates, synced blocks.
//! - [`wal`]: the fsynced last-signed record and our messages of the height.
//! - [`network`]: libp2p gossip and block-sync request-response, with size
//!   limits, peer scoring and bans.
//! - [`metrics`]: the engine's Prometheus metrics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod codec;
pub mod engine;
pub mod metrics;
pub mod network;
pub mod wal;

pub use app::{AppError, Application, EpochValidators, TransactionVerdict};
pub use engine::{EngineConfig, EngineError, EngineHandle, SyncConfig, SyncRange, spawn};
pub use metrics::EngineMetrics;
