//! The relayer's configuration (`relayer.toml`): both chains' endpoints and
//! bridges, the key, and the limits and timings, each with its default here.
//!
//! ```toml
//! data_dir = "./relayer-data"
//! keystore = "relayer.json"           # web3 secret-storage v3
//! password_file = "relayer.pass"      # or the env var named by password_env
//! metrics_addr = "127.0.0.1:9616"
//!
//! [l1]
//! rpc_urls = ["http://127.0.0.1:8545", "http://backup:8545"]
//! chain_id = 1
//! bridge = "0x…"
//! start_block = 19000000               # the bridge's deployment block
//! finality = "finalized"              # or "confirmations" (uses `confirmations`)
//!
//! [sidechain]
//! rpc_urls = ["http://127.0.0.1:8546"]
//! chain_id = 7607
//! bridge = "0x…"
//! ```

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use serde::Deserialize;

/// A configuration that could not be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML did not parse or a key has the wrong type.
    #[error("invalid configuration {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key).
        message: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// How the relayer decides that an L1 block will not be reorganised away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Finality {
    /// The L1's `finalized` block tag (post-merge Ethereum; anvil computes it
    /// as head − 2 × `--slots-in-an-epoch`).
    Finalized,
    /// `head − confirmations`, for an L1 without a finality tag.
    Confirmations,
}

/// One chain's endpoints and bridge.
#[derive(Debug, Clone, Deserialize)]
pub struct ChainConfig {
    /// JSON-RPC HTTP URLs (`http://host:port[/path]`), tried in order: the
    /// next one is used when one fails.
    pub rpc_urls: Vec<String>,
    /// The chain id (checked against the endpoints at start).
    pub chain_id: u64,
    /// The bridge contract's address on this chain.
    pub bridge: Address,
    /// First block to scan for events when there is no cursor yet (the
    /// bridge's deployment block). Default 0.
    #[serde(default)]
    pub start_block: u64,
    /// Per-request timeout in milliseconds. Default 10 000.
    #[serde(default = "defaults::rpc_timeout_ms")]
    pub rpc_timeout_ms: u64,
    /// Most blocks asked for in one `eth_getLogs`. Default 1 000.
    #[serde(default = "defaults::log_range_max")]
    pub log_range_max: u64,
    /// Fee cap: the relayer never offers more per gas (wei). Default 500 gwei.
    #[serde(default = "defaults::max_fee_per_gas_cap")]
    pub max_fee_per_gas_cap: u64,
}

impl ChainConfig {
    /// The per-request timeout.
    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.rpc_timeout_ms)
    }
}

/// The L1 side: a [`ChainConfig`] plus its finality rule. (serde cannot
/// deny unknown keys through `flatten`: a misspelt key here is ignored.)
#[derive(Debug, Clone, Deserialize)]
pub struct L1Config {
    /// Endpoints and bridge.
    #[serde(flatten)]
    pub chain: ChainConfig,
    /// The finality rule. Default `finalized`.
    #[serde(default = "defaults::finality")]
    pub finality: Finality,
    /// Blocks below the head that count as final with
    /// `finality = "confirmations"`. Default 12.
    #[serde(default = "defaults::confirmations")]
    pub confirmations: u64,
}

/// What the relayer sends, how long it waits, how much it holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitConfig {
    /// A transaction not mined after this long is re-sent with higher fees.
    /// Default 30 000.
    #[serde(default = "defaults::reprice_after_ms")]
    pub reprice_after_ms: u64,
    /// Each re-pricing raises both fees by this percentage (≥ 10, what
    /// nodes require of a replacement). Default 25.
    #[serde(default = "defaults::fee_bump_percent")]
    pub fee_bump_percent: u64,
    /// A withdrawal with its signatures is finalized on L1 by the relayer
    /// chosen from its nonce; after each further period of this length the
    /// next relayer in order takes over. Default 60 000.
    #[serde(default = "defaults::finalize_fallback_ms")]
    pub finalize_fallback_ms: u64,
    /// Most unmined transactions per chain at any time. Default 16.
    #[serde(default = "defaults::in_flight_max")]
    pub in_flight_max: usize,
    /// Gas limit of `confirmDeposit` (the vote reaching the threshold mints,
    /// and deploys the token on its first transfer: ~776k). Default 1 200 000.
    #[serde(default = "defaults::confirm_gas")]
    pub confirm_gas: u64,
    /// Gas limit of `submitSignature`. Default 300 000.
    #[serde(default = "defaults::signature_gas")]
    pub signature_gas: u64,
    /// Gas limit of `finalizeWithdrawal` (~8k per signature on top of ~140k;
    /// the payout needs ~117k left). Default 1 000 000.
    #[serde(default = "defaults::finalize_gas")]
    pub finalize_gas: u64,
}

impl Default for SubmitConfig {
    fn default() -> Self {
        Self {
            reprice_after_ms: defaults::reprice_after_ms(),
            fee_bump_percent: defaults::fee_bump_percent(),
            finalize_fallback_ms: defaults::finalize_fallback_ms(),
            in_flight_max: defaults::in_flight_max(),
            confirm_gas: defaults::confirm_gas(),
            signature_gas: defaults::signature_gas(),
            finalize_gas: defaults::finalize_gas(),
        }
    }
}

/// Everything `outrigger relayer` reads from its TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerConfig {
    /// Where the relayer's RocksDB queue lives. Default `./relayer-data`.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// The relayer's key: a web3 secret-storage (v3) keystore file.
    pub keystore: PathBuf,
    /// A file holding the keystore's password (one line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password when there is no
    /// `password_file`. Default `OUTRIGGER_RELAYER_PASSWORD`.
    #[serde(default = "defaults::password_env")]
    pub password_env: String,
    /// Prometheus metrics listen address. Default 127.0.0.1:9616.
    #[serde(default = "defaults::metrics_addr")]
    pub metrics_addr: SocketAddr,
    /// Time between two rounds of work. Default 1 000.
    #[serde(default = "defaults::poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Longest wait between retries after errors (the wait doubles from
    /// `poll_interval_ms` up to this). Default 30 000.
    #[serde(default = "defaults::backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Most messages held unfinished; the cursors stop advancing beyond it.
    /// Default 10 000.
    #[serde(default = "defaults::pending_max")]
    pub pending_max: usize,
    /// Most pending messages worked on per round. Default 64.
    #[serde(default = "defaults::work_batch_max")]
    pub work_batch_max: usize,
    /// ERC20 tokens (L1 addresses) whose solvency is exported: locked in the
    /// L1 bridge and minted on the sidechain. ETH is always exported. At most 64.
    #[serde(default)]
    pub solvency_tokens: Vec<Address>,
    /// The sidechain's native supply held by the `SidechainBridge` at genesis
    /// (wei); native coin outside the bridge is bridged ETH. Without it the
    /// minted-ETH metric is not exported.
    #[serde(default)]
    pub sidechain_native_supply: Option<U256>,
    /// The L1.
    pub l1: L1Config,
    /// The sidechain.
    pub sidechain: ChainConfig,
    /// Transactions.
    #[serde(default)]
    pub submit: SubmitConfig,
}

/// Most tokens in `solvency_tokens`.
pub const SOLVENCY_TOKENS_MAX: usize = 64;
/// Most RPC URLs per chain.
pub const RPC_URLS_MAX: usize = 16;

impl RelayerConfig {
    /// Reads and checks a TOML file. Relative paths inside it are taken
    /// relative to the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.data_dir);
        resolve(&mut config.keystore);
        if let Some(p) = config.password_file.as_mut() {
            resolve(p);
        }
        config.check()?;
        Ok(config)
    }

    /// Checks ranges and limits.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, chain) in [("l1", &self.l1.chain), ("sidechain", &self.sidechain)] {
            check_chain(name, chain)?;
        }
        if self.l1.finality == Finality::Confirmations && self.l1.confirmations == 0 {
            return Err(ConfigError::Invalid(
                "l1.confirmations must be at least 1 with finality = \"confirmations\"".into(),
            ));
        }
        if self.solvency_tokens.len() > SOLVENCY_TOKENS_MAX {
            return Err(ConfigError::Invalid(format!(
                "solvency_tokens lists {} tokens, at most {SOLVENCY_TOKENS_MAX}",
                self.solvency_tokens.len()
            )));
        }
        if self.submit.fee_bump_percent < 10 {
            return Err(ConfigError::Invalid(
                "submit.fee_bump_percent must be at least 10".into(),
            ));
        }
        if self.poll_interval_ms == 0 || self.backoff_max_ms < self.poll_interval_ms {
            return Err(ConfigError::Invalid(
                "poll_interval_ms must be > 0 and backoff_max_ms >= poll_interval_ms".into(),
            ));
        }
        if self.pending_max == 0 || self.work_batch_max == 0 || self.submit.in_flight_max == 0 {
            return Err(ConfigError::Invalid(
                "pending_max, work_batch_max and submit.in_flight_max must be > 0".into(),
            ));
        }
        Ok(())
    }

    /// The keystore password: from `password_file`, else from the
    /// environment variable `password_env`. Never logged.
    pub fn password(&self) -> Result<String, ConfigError> {
        read_password(self.password_file.as_deref(), &self.password_env)
    }
}

/// What `outrigger bridge` needs: both chains (a relayer's file will do;
/// its other keys are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct ClientConfig {
    /// The L1.
    pub l1: L1Config,
    /// The sidechain.
    pub sidechain: ChainConfig,
}

impl ClientConfig {
    /// Reads a TOML file with `[l1]` and `[sidechain]` sections.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        check_chain("l1", &config.l1.chain)?;
        check_chain("sidechain", &config.sidechain)?;
        Ok(config)
    }
}

/// Reads a keystore password from a file (its first line) or else from the
/// environment variable `env`.
pub fn read_password(file: Option<&Path>, env: &str) -> Result<String, ConfigError> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(text.lines().next().unwrap_or_default().to_string())
        }
        None => std::env::var(env).map_err(|_| {
            ConfigError::Invalid(format!(
                "no password: set password_file or the environment variable {env}"
            ))
        }),
    }
}

fn check_chain(name: &str, chain: &ChainConfig) -> Result<(), ConfigError> {
    if chain.rpc_urls.is_empty() || chain.rpc_urls.len() > RPC_URLS_MAX {
        return Err(ConfigError::Invalid(format!(
            "{name}.rpc_urls must list 1 to {RPC_URLS_MAX} URLs"
        )));
    }
    if chain.bridge == Address::ZERO {
        return Err(ConfigError::Invalid(format!(
            "{name}.bridge must not be zero"
        )));
    }
    if chain.log_range_max == 0 || chain.rpc_timeout_ms == 0 {
        return Err(ConfigError::Invalid(format!(
            "{name}.log_range_max and {name}.rpc_timeout_ms must be > 0"
        )));
    }
    Ok(())
}

mod defaults {
    use std::{net::SocketAddr, path::PathBuf};

    use super::Finality;

    pub(super) fn rpc_timeout_ms() -> u64 {
        10_000
    }
    pub(super) fn log_range_max() -> u64 {
        1_000
    }
    pub(super) fn max_fee_per_gas_cap() -> u64 {
        500_000_000_000
    }
    pub(super) fn finality() -> Finality {
        Finality::Finalized
    }
    pub(super) fn confirmations() -> u64 {
        12
    }
    pub(super) fn reprice_after_ms() -> u64 {
        30_000
    }
    pub(super) fn fee_bump_percent() -> u64 {
        25
    }
    pub(super) fn finalize_fallback_ms() -> u64 {
        60_000
    }
    pub(super) fn in_flight_max() -> usize {
        16
    }
    pub(super) fn confirm_gas() -> u64 {
        1_200_000
    }
    pub(super) fn signature_gas() -> u64 {
        300_000
    }
    pub(super) fn finalize_gas() -> u64 {
        1_000_000
    }
    pub(super) fn data_dir() -> PathBuf {
        PathBuf::from("./relayer-data")
    }
    pub(super) fn password_env() -> String {
        "OUTRIGGER_RELAYER_PASSWORD".into()
    }
    pub(super) fn metrics_addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9616))
    }
    pub(super) fn poll_interval_ms() -> u64 {
        1_000
    }
    pub(super) fn backoff_max_ms() -> u64 {
        30_000
    }
    pub(super) fn pending_max() -> usize {
        10_000
    }
    pub(super) fn work_batch_max() -> usize {
        64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_valid_and_reads_as_documented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/relayer.example.toml");
        let config = RelayerConfig::load(&path).unwrap();
        assert_eq!(config.l1.chain.rpc_urls.len(), 2);
        assert_eq!(config.l1.finality, Finality::Finalized);
        assert_eq!(config.submit.finalize_fallback_ms, 60_000);
        assert_eq!(config.password_env, "OUTRIGGER_RELAYER_PASSWORD");
        let client = ClientConfig::load(&path).unwrap();
        assert_eq!(client.sidechain.chain_id, 7607);
    }

    #[test]
    fn minimal_file_gets_the_defaults_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relayer.toml");
        std::fs::write(
            &path,
            r#"
keystore = "key.json"
[l1]
rpc_urls = ["http://127.0.0.1:8545"]
chain_id = 31337
bridge = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
finality = "confirmations"
confirmations = 3
[sidechain]
rpc_urls = ["http://127.0.0.1:8546"]
chain_id = 1337
bridge = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
"#,
        )
        .unwrap();
        let config = RelayerConfig::load(&path).unwrap();
        assert_eq!(config.keystore, dir.path().join("key.json"));
        assert_eq!(config.l1.finality, Finality::Confirmations);
        assert_eq!(config.l1.confirmations, 3);
        assert_eq!(config.submit.fee_bump_percent, 25);
        assert_eq!(config.sidechain.log_range_max, 1_000);

        std::fs::write(&path, "keystore = 1\n").unwrap();
        let error = RelayerConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("keystore"), "{error}");
    }
}
