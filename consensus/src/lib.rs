//! Outrigger's consensus engine: drives the pure core with timers, a
//! write-ahead log and the validator signer, gossips over libp2p and syncs
//! blocks from peers.
//!
//! Not built yet: see the networked validators issue.
