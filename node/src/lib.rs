//! The `outrigger` node: CLI, configuration, wiring of storage, executor,
//! txpool, consensus, p2p, JSON-RPC and metrics.
//!
//! Not built yet: see the binary issue.
