//! A development node started in the test's own process, for the unit
//! tests that need the whole node behind the RPC.

use std::net::SocketAddr;

use alloy_signer_local::PrivateKeySigner;
use tempfile::TempDir;
use tokio::runtime::Runtime;

use crate::{
    config::NodeConfig,
    dev,
    node::{self, NodeHandle},
};

/// A running dev node, its runtime and its data directory (removed on drop).
pub(crate) struct TestNode {
    pub runtime: Runtime,
    pub handle: NodeHandle,
    /// The funded dev accounts, in the order the node has them.
    pub accounts: Vec<PrivateKeySigner>,
    _dir: TempDir,
}

impl TestNode {
    /// Starts a dev node with `accounts` funded dev accounts, its RPC on a
    /// free loopback port, no metrics, and `configure` applied last.
    pub(crate) fn start(accounts: u32, configure: impl FnOnce(&mut NodeConfig)) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temp dir");
        let accounts = dev::dev_accounts(accounts).expect("dev accounts");
        let genesis = dev::dev_genesis_json(&accounts).expect("dev genesis");
        node::init_data_dir(dir.path(), &genesis).expect("init");
        let mut config = NodeConfig {
            data_dir: dir.path().to_path_buf(),
            ..NodeConfig::default()
        };
        config.rpc.addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.metrics.enabled = false;
        configure(&mut config);
        let handle = runtime
            .block_on(node::launch(config, accounts.clone()))
            .expect("the node starts");
        Self {
            runtime,
            handle,
            accounts,
            _dir: dir,
        }
    }

    /// Stops the node.
    pub(crate) fn stop(self) {
        self.runtime.block_on(self.handle.shutdown());
    }
}
