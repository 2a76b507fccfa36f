//! The node's configuration: every key, its default and its meaning, in one
//! place. Sources, each overriding the one before: the defaults here, a
//! TOML file (`--config`), `OUTRIGGER__SECTION__KEY` environment variables,
//! then command-line flags. `deploy/node.example.toml` documents each key.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// The longest `p2p.tx_gossip_delay_ms` accepted.
const MAX_TX_GOSSIP_DELAY_MS: u64 = 1000;

/// Everything a node reads at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the database, the genesis and the keys live. Default `./data`.
    pub data_dir: PathBuf,
    /// Block production.
    pub block: BlockConfig,
    /// The JSON-RPC server.
    pub rpc: RpcConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The transaction pool.
    pub txpool: TxPoolConfig,
    /// The database.
    pub storage: StorageConfig,
    /// Logs.
    pub log: LogConfig,
    /// Consensus (chains whose genesis lists validators).
    pub consensus: ConsensusConfig,
    /// Peer-to-peer networking (chains whose genesis lists validators).
    pub p2p: P2pConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            block: BlockConfig::default(),
            rpc: RpcConfig::default(),
            metrics: MetricsConfig::default(),
            txpool: TxPoolConfig::default(),
            storage: StorageConfig::default(),
            log: LogConfig::default(),
            consensus: ConsensusConfig::default(),
            p2p: P2pConfig::default(),
        }
    }
}

/// Block production.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockConfig {
    /// Milliseconds between blocks; `0` seals a block as soon as a
    /// transaction arrives (like anvil's automine). Default 1000.
    pub time_ms: u64,
    /// Most transactions in one block. Default 10,000.
    pub max_transactions: usize,
    /// Who receives the priority fees of the blocks this node seals.
    /// Default: the zero address.
    pub fee_recipient: alloy_primitives::Address,
}

impl Default for BlockConfig {
    fn default() -> Self {
        Self {
            time_ms: 1000,
            max_transactions: 10_000,
            fee_recipient: alloy_primitives::Address::ZERO,
        }
    }
}

/// The JSON-RPC server (HTTP and WebSocket on one port).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Listening address. Default `127.0.0.1:8545`: loopback only; expose it
    /// on purpose, behind a proxy.
    pub addr: SocketAddr,
    /// Most connections being served (open WebSockets and HTTP requests
    /// in progress). Default 500.
    pub max_connections: u32,
    /// Most open TCP connections of any kind, idle ones included (each
    /// holds a file descriptor); more are closed at accept. Default 2048.
    pub max_tcp_connections: usize,
    /// Most open TCP connections from one IP address. Default 256.
    pub max_connections_per_ip: usize,
    /// Largest request body, bytes. Default 10 MiB.
    pub max_request_bytes: u32,
    /// Largest response body, bytes. Default 100 MiB.
    pub max_response_bytes: u32,
    /// Most calls in one batch request. Default 100.
    pub max_batch_len: u32,
    /// Most subscriptions one WebSocket connection may hold. Default 1024.
    pub max_subscriptions_per_connection: u32,
    /// Most gas an `eth_call` or `eth_estimateGas` may use. Default 50,000,000
    /// (geth's `--rpc.gascap`).
    pub gas_cap: u64,
    /// Most blocks one `eth_getLogs` may scan. Default 10,000.
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return. Default 10,000.
    pub max_logs: usize,
    /// Most blocks one `eth_feeHistory` may cover. Default 1024 (geth's).
    pub max_fee_history_blocks: u64,
    /// The priority fee suggested when recent blocks hold no transactions,
    /// wei. Default 1 gwei.
    pub default_priority_fee_wei: u64,
    /// Longest a `debug_trace*` request may run, milliseconds: a request's
    /// `timeout` (geth's default 5 s) is lowered to it. Default 30,000.
    pub max_trace_timeout_ms: u64,
    /// Most opcode steps the struct logger records in one `debug_trace*`
    /// request (a whole block's together). Default 500,000.
    pub max_trace_steps: u64,
    /// Most bytes a tracer copies in one `debug_trace*` request: stack,
    /// memory and return-data snapshots, inner calls' inputs. Default 256 MiB.
    pub max_trace_bytes: usize,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_connections: 500,
            max_tcp_connections: 2048,
            max_connections_per_ip: 256,
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 100 * 1024 * 1024,
            max_batch_len: 100,
            max_subscriptions_per_connection: 1024,
            gas_cap: 50_000_000,
            max_logs_block_range: 10_000,
            max_logs: 10_000,
            max_fee_history_blocks: 1024,
            default_priority_fee_wei: 1_000_000_000,
            max_trace_timeout_ms: 30_000,
            max_trace_steps: 500_000,
            max_trace_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The Prometheus endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics`. Default true.
    pub enabled: bool,
    /// Listening address. Default `127.0.0.1:9615`.
    pub addr: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            addr: SocketAddr::from(([127, 0, 0, 1], 9615)),
        }
    }
}

/// The transaction pool's limits and policy; see
/// `outrigger_execution::txpool::PoolConfig` for each rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TxPoolConfig {
    /// Most executable transactions. Default 10,000.
    pub max_pending: usize,
    /// Most nonce-gapped transactions. Default 10,000.
    pub max_queued: usize,
    /// Most transactions of one sender. Default 64.
    pub max_per_sender: usize,
    /// Largest transaction, bytes. Default 128 KiB.
    pub max_tx_bytes: usize,
    /// Least priority fee accepted, wei. Default 1.
    pub min_priority_fee_wei: u64,
    /// Fee raise a replacement needs, percent. Default 10.
    pub price_bump_percent: u64,
    /// Accept legacy transactions without a chain id. Default false.
    pub allow_unprotected_txs: bool,
}

impl Default for TxPoolConfig {
    fn default() -> Self {
        let pool = outrigger_execution::txpool::PoolConfig::default();
        Self {
            max_pending: pool.max_pending_txs,
            max_queued: pool.max_queued_txs,
            max_per_sender: pool.max_txs_per_sender,
            max_tx_bytes: pool.max_tx_bytes,
            min_priority_fee_wei: u64::try_from(pool.min_priority_fee_wei).unwrap_or(u64::MAX),
            price_bump_percent: pool.price_bump_percent,
            allow_unprotected_txs: pool.allow_unprotected_txs,
        }
    }
}

impl TxPoolConfig {
    /// The pool's own configuration.
    pub fn pool_config(&self) -> outrigger_execution::txpool::PoolConfig {
        outrigger_execution::txpool::PoolConfig {
            max_pending_txs: self.max_pending,
            max_queued_txs: self.max_queued,
            max_txs_per_sender: self.max_per_sender,
            max_tx_bytes: self.max_tx_bytes,
            min_priority_fee_wei: u128::from(self.min_priority_fee_wei),
            price_bump_percent: self.price_bump_percent,
            allow_unprotected_txs: self.allow_unprotected_txs,
        }
    }
}

/// The database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// fsync every block before it counts as sealed. Default true; turning it
    /// off risks losing the last blocks on a power cut (not on a crash).
    pub sync_writes: bool,
    /// RocksDB block cache, MiB. Default 256.
    pub cache_mb: usize,
    /// Blocks before the head whose state stays queryable (`eth_call`,
    /// `eth_getBalance`, … at a past block). Default 128; 0 keeps the head
    /// state only.
    pub state_history_blocks: u64,
    /// Keep the state of every block (overrides `state_history_blocks`).
    /// Default false.
    pub archive: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            sync_writes: true,
            cache_mb: 256,
            state_history_blocks: 128,
            archive: false,
        }
    }
}

/// Consensus, for chains whose genesis lists validators (a genesis without
/// validators is a single-node development chain, sealed by `block`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusConfig {
    /// `validator` signs with `validator_key_file` (whose key must be in the
    /// genesis set); `full` follows the chain and serves RPC without
    /// signing. Default `validator`.
    pub role: Role,
    /// The validator key, relative to `data_dir` unless absolute. Default
    /// `validator.key`.
    pub validator_key_file: PathBuf,
    /// A file (mode 0600) whose first line is the passphrase of encrypted
    /// key files (validator and p2p), relative to `data_dir` unless
    /// absolute; empty: the `OUTRIGGER_KEY_PASSWORD` environment variable,
    /// else the keys are plain. Default empty.
    pub key_password_file: PathBuf,
    /// A web3 secret-storage (v3) keystore, relative to `data_dir` unless
    /// absolute, of an account that sends `reportEquivocation` for the
    /// double-signing this node sees (paying its gas, earning the reporter
    /// reward); decrypted with the key passphrase above. Empty: evidence is
    /// only logged and listed by `outrigger_evidence`. Default empty.
    pub reporter_keystore: PathBuf,
    /// `timeoutPropose` of round 0, ms. Default 3000.
    pub timeout_propose_ms: u64,
    /// `timeoutPrevote` and `timeoutPrecommit` of round 0, ms. Default 1000.
    pub timeout_vote_ms: u64,
    /// What each round adds to the timeouts, ms. Default 500.
    pub timeout_per_round_ms: u64,
    /// The cap of the propose timeout, ms (the vote timeouts are capped at
    /// half of it). Default 6000.
    pub timeout_max_ms: u64,
    /// A height with no progress for this long re-publishes this
    /// validator's messages, ms. Default 2000.
    pub rebroadcast_after_ms: u64,
    /// How often peers are asked for their head, ms. Default 1000.
    pub sync_interval_ms: u64,
    /// Blocks fetched per block-sync request. Default 64.
    pub sync_batch_blocks: u32,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        Self {
            role: Role::Validator,
            validator_key_file: PathBuf::from(crate::keys::VALIDATOR_KEY_FILE),
            key_password_file: PathBuf::new(),
            reporter_keystore: PathBuf::new(),
            timeout_propose_ms: 3000,
            timeout_vote_ms: 1000,
            timeout_per_round_ms: 500,
            timeout_max_ms: 6000,
            rebroadcast_after_ms: 2000,
            sync_interval_ms: 1000,
            sync_batch_blocks: 64,
        }
    }
}

/// What a node of a validator chain does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Signs proposals and votes.
    Validator,
    /// Follows and serves; signs nothing.
    Full,
}

/// Peer-to-peer networking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    /// Listen addresses (multiaddrs). Default `["/ip4/0.0.0.0/tcp/30333"]`.
    pub listen: Vec<String>,
    /// Peers to dial and keep dialling, `/ip4/A/tcp/P/p2p/PEER_ID`.
    /// Default none.
    pub bootnodes: Vec<String>,
    /// The p2p identity key (ed25519, separate from the validator key),
    /// relative to `data_dir` unless absolute; created if missing. Default
    /// `p2p.key`.
    pub key_file: PathBuf,
    /// Most connected peers. Default 50.
    pub max_peers: usize,
    /// How long a transaction submitted here waits for others to share
    /// its gossip message, in milliseconds. Each message costs every
    /// peer its framing, encryption, duplicate check and a hand-off to a
    /// verifying thread, so batches are cheaper per transaction; the
    /// wait adds at most this much to the transaction's way into a block.
    /// 0 sends what is queued at once. Default 15, at most 1000.
    pub tx_gossip_delay_ms: u64,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: vec!["/ip4/0.0.0.0/tcp/30333".into()],
            bootnodes: Vec::new(),
            key_file: PathBuf::from(crate::keys::P2P_KEY_FILE),
            max_peers: 50,
            tx_gossip_delay_ms: 15,
        }
    }
}

/// Log output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`. Default `text`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,rpc=debug`; `RUST_LOG`
    /// overrides it. Default `info`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A configuration that could not be loaded: one line naming the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Values given on the command line, each overriding its key.
#[derive(Clone, Debug, Default)]
pub struct Overrides(Vec<(&'static str, config::Value)>);

impl Overrides {
    /// Sets `key` (dotted, e.g. `rpc.addr`) to `value` if it is given.
    pub fn set(&mut self, key: &'static str, value: Option<impl Into<config::Value>>) {
        if let Some(value) = value {
            self.0.push((key, value.into()));
        }
    }
}

impl NodeConfig {
    /// Loads defaults, then `file` (if any), then the `OUTRIGGER__*`
    /// environment variables, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_with_env(file, overrides, std::env::vars())
    }

    /// [`NodeConfig::load`] with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let defaults = config::Config::try_from(&Self::default())
            .map_err(|e| ConfigError(format!("defaults: {e}")))?;
        let mut builder = config::Config::builder().add_source(defaults);
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            builder = builder.add_source(
                config::File::from(file)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let env: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("OUTRIGGER__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("OUTRIGGER")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        for (key, value) in &overrides.0 {
            builder = builder
                .set_override(*key, value.clone())
                .map_err(|e| ConfigError(format!("{key}: {e}")))?;
        }
        let config = builder.build().map_err(|e| ConfigError(e.to_string()))?;
        let node: Self = config
            .try_deserialize()
            .map_err(|e| ConfigError(e.to_string()))?;
        node.check()?;
        Ok(node)
    }

    /// Checks the values serde cannot: ranges and combinations.
    fn check(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, problem: &str| Err(ConfigError(format!("{key}: {problem}")));
        if self.rpc.gas_cap < 21_000 {
            return fail("rpc.gas_cap", "must be at least 21000");
        }
        if self.rpc.max_connections == 0 {
            return fail("rpc.max_connections", "must be at least 1");
        }
        if self.rpc.max_batch_len == 0 {
            return fail("rpc.max_batch_len", "must be at least 1");
        }
        if self.rpc.max_logs == 0 || self.rpc.max_logs_block_range == 0 {
            return fail("rpc.max_logs", "limits on logs must be at least 1");
        }
        if self.rpc.max_fee_history_blocks == 0 {
            return fail("rpc.max_fee_history_blocks", "must be at least 1");
        }
        if self.block.max_transactions == 0 {
            return fail("block.max_transactions", "must be at least 1");
        }
        if self.txpool.max_pending == 0 || self.txpool.max_per_sender == 0 {
            return fail("txpool.max_pending", "pool limits must be at least 1");
        }
        let c = &self.consensus;
        if c.timeout_propose_ms == 0 || c.timeout_vote_ms == 0 {
            return fail(
                "consensus.timeout_propose_ms",
                "timeouts must be at least 1 ms",
            );
        }
        if c.timeout_max_ms < c.timeout_propose_ms || c.timeout_max_ms / 2 < c.timeout_vote_ms {
            return fail(
                "consensus.timeout_max_ms",
                "must be at least timeout_propose_ms and twice timeout_vote_ms",
            );
        }
        if c.sync_batch_blocks == 0 || c.sync_interval_ms == 0 || c.rebroadcast_after_ms == 0 {
            return fail(
                "consensus.sync_batch_blocks",
                "sync settings must be at least 1",
            );
        }
        if self.p2p.max_peers == 0 {
            return fail("p2p.max_peers", "must be at least 1");
        }
        if self.p2p.tx_gossip_delay_ms > MAX_TX_GOSSIP_DELAY_MS {
            return fail("p2p.tx_gossip_delay_ms", "must be at most 1000 ms");
        }
        if self.metrics.enabled && self.metrics.addr == self.rpc.addr {
            return fail("metrics.addr", "must differ from rpc.addr");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_alone() {
        let config = NodeConfig::load_with_env(None, &Overrides::default(), env(&[])).unwrap();
        assert_eq!(config, NodeConfig::default());
        assert_eq!(config.rpc.addr.to_string(), "127.0.0.1:8545");
        assert_eq!(config.metrics.addr.to_string(), "127.0.0.1:9615");
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/outrigger\"\n[rpc]\naddr = \"127.0.0.1:1000\"\ngas_cap = 1000000\n[block]\ntime_ms = 250\n",
        )
        .unwrap();
        let vars = env(&[
            ("OUTRIGGER__RPC__ADDR", "127.0.0.1:2000"),
            ("OUTRIGGER__TXPOOL__MAX_PENDING", "7"),
            ("UNRELATED", "x"),
        ]);
        let mut flags = Overrides::default();
        flags.set("block.time_ms", Some(0u64));
        let config = NodeConfig::load_with_env(Some(&file), &flags, vars).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/outrigger"));
        assert_eq!(config.rpc.gas_cap, 1_000_000, "from the file");
        assert_eq!(
            config.rpc.addr.to_string(),
            "127.0.0.1:2000",
            "env over file"
        );
        assert_eq!(config.txpool.max_pending, 7, "env");
        assert_eq!(config.block.time_ms, 0, "flag over file");
        assert_eq!(config.metrics, MetricsConfig::default(), "untouched");
    }

    #[test]
    fn bad_values_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        let cases = [
            ("[rpc]\naddr = \"nowhere\"\n", "rpc.addr"),
            ("[rpc]\ngas_cap = \"lots\"\n", "rpc.gas_cap"),
            ("[rpc]\ngas_cap = 5\n", "rpc.gas_cap"),
            ("[rpc]\nadr = \"127.0.0.1:1\"\n", "adr"),
            ("[log]\nformat = \"xml\"\n", "xml"),
        ];
        for (text, key) in cases {
            std::fs::write(&file, text).unwrap();
            let error = NodeConfig::load_with_env(Some(&file), &Overrides::default(), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(key), "{text:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
        let error = NodeConfig::load_with_env(
            None,
            &Overrides::default(),
            env(&[("OUTRIGGER__BLOCK__TIME_MS", "soon")]),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("block.time_ms"), "{error}");
        let missing = dir.path().join("missing.toml");
        let error = NodeConfig::load_with_env(Some(&missing), &Overrides::default(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not exist"), "{error}");
    }

    #[test]
    fn the_example_file_is_complete_and_loads() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/node.example.toml");
        let config = NodeConfig::load_with_env(Some(&example), &Overrides::default(), env(&[]))
            .expect("the example config loads");
        assert_eq!(
            config,
            NodeConfig::default(),
            "the example shows the defaults"
        );
        // Every key of the configuration is documented in the example.
        let text = std::fs::read_to_string(&example).unwrap();
        let defaults = toml::to_string(&NodeConfig::default()).unwrap();
        for line in defaults.lines() {
            if let Some((key, _)) = line.split_once(" = ") {
                assert!(
                    text.lines().any(|l| l.starts_with(&format!("{key} = "))),
                    "key {key} missing from deploy/node.example.toml"
                );
            }
        }
    }
}
