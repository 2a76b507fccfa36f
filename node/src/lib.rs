//! The `outrigger` node: command line, configuration, and the wiring of
//! storage, executor, txpool, block sealing, JSON-RPC and metrics.
//!
//! - [`cli`]: the commands and flags.
//! - [`config`]: every setting with its default; file, environment, flags.
//! - [`node`]: [`node::launch`] wires a node and returns its handle.
//! - [`sealer`]: block production for a single-node development chain.
//! - [`validator`]: a validator chain's p2p network and consensus engine;
//!   [`consensus_app`] is the chain as the engine sees it.
//! - [`rpc`]: the Ethereum JSON-RPC server.
//! - [`metrics`]: Prometheus metrics.
//! - [`keys`]: the validator key file.
//! - [`dev`]: the development chain and its test accounts.
//! - [`devnet`]: `genesis new` and `devnet`: a validator chain on loopback.
//! - [`bridge_cli`]: `outrigger relayer` and `outrigger bridge …`.

pub mod bridge_cli;
pub mod cli;
pub mod config;
pub mod consensus_app;
pub mod dev;
pub mod devnet;
pub mod devnet_bridge;
pub mod evidence;
pub mod keys;
pub mod metrics;
pub mod node;
pub mod rpc;
pub mod sealer;
pub mod status;
#[cfg(test)]
mod test_node;
pub mod validator;
pub mod validator_cli;

/// `outrigger/v<version>/<os>-<arch>`, as `web3_clientVersion` reports it.
pub fn client_version() -> String {
    format!(
        "outrigger/v{}/{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
