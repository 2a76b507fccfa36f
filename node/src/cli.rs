//! The `outrigger` command line.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{LogFormat, Overrides};

/// Outrigger: an EVM sidechain validator client.
#[derive(Debug, Parser)]
#[command(name = "outrigger", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node. With --dev: a throwaway single-validator chain with ten
    /// funded test accounts (anvil's), sealing a block every --block-time-ms.
    /// Without: the node of an initialised data dir (see `init`).
    Node(NodeArgs),
    /// Prepare a data dir: write the genesis and block 0.
    Init(InitArgs),
    /// Make a genesis for a validator chain.
    Genesis {
        /// What to make.
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Start a local validator chain: N validator processes on 127.0.0.1,
    /// described in DATA_DIR/devnet.json. Ctrl-C stops them all.
    Devnet(DevnetArgs),
    /// Manage the validator's ed25519 signing key.
    Keys {
        /// What to do with the key.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run a bridge relayer: confirm L1 deposits on the sidechain, sign
    /// withdrawals and finalize them on L1.
    Relayer(crate::bridge_cli::RelayerArgs),
    /// Bridge assets between L1 and the sidechain: deposit, withdraw,
    /// status, finalize.
    Bridge(crate::bridge_cli::BridgeArgs),
    /// Show a node's head, peers, sync state and validator set (and a
    /// relayer's queue with --relayer-metrics).
    Status(StatusArgs),
    /// Validator operators: register, stake, unstake, withdraw (PoS),
    /// propose and vote (PoA), status.
    Validator(crate::validator_cli::ValidatorArgs),
}

/// Flags of `outrigger status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The node's JSON-RPC URL.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// A relayer's metrics address (`host:port`), for its queue.
    #[arg(long, value_name = "ADDR")]
    pub relayer_metrics: Option<String>,
}

/// Flags of `outrigger node`; each overrides its config key.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Development chain: the test mnemonic's ten accounts funded (or the
    /// chain of --genesis), in a temporary data dir unless --data-dir is given.
    #[arg(long)]
    pub dev: bool,
    /// A geth-style genesis.json for the --dev chain (block 0 is exactly it).
    #[arg(long, value_name = "FILE", requires = "dev")]
    pub genesis: Option<PathBuf>,
    /// TOML configuration file; see deploy/node.example.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory [config: data_dir; default ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Milliseconds between blocks; 0 seals as soon as a transaction
    /// arrives [config: block.time_ms; default 1000].
    #[arg(long, value_name = "N")]
    pub block_time_ms: Option<u64>,
    /// JSON-RPC listen address, HTTP and WebSocket [config: rpc.addr;
    /// default 127.0.0.1:8545].
    #[arg(long, value_name = "ADDR")]
    pub rpc_addr: Option<SocketAddr>,
    /// Prometheus metrics listen address [config: metrics.addr; default
    /// 127.0.0.1:9615].
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Log format [config: log.format; default text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

impl NodeArgs {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> Overrides {
        let mut overrides = Overrides::default();
        overrides.set(
            "data_dir",
            self.data_dir.as_ref().map(|d| d.display().to_string()),
        );
        overrides.set("block.time_ms", self.block_time_ms);
        overrides.set("rpc.addr", self.rpc_addr.map(|a| a.to_string()));
        overrides.set("metrics.addr", self.metrics_addr.map(|a| a.to_string()));
        overrides.set(
            "log.format",
            self.log_format.map(|f| match f {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            }),
        );
        overrides
    }
}

/// Flags of `outrigger init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The geth-style genesis.json (with an optional `outrigger` section).
    #[arg(long, value_name = "FILE")]
    pub genesis: PathBuf,
    /// The data directory to prepare.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// `outrigger genesis` subcommands.
#[derive(Debug, Subcommand)]
pub enum GenesisCommand {
    /// Write OUT/genesis.json with N validators (power 1 each) and the ten
    /// test accounts funded, and each validator's keys in OUT/node{i}/.
    New {
        /// Number of validators.
        #[arg(long, value_name = "N")]
        validators: usize,
        /// The folder to write.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The chain id.
        #[arg(long, value_name = "ID", default_value_t = crate::dev::DEV_CHAIN_ID)]
        chain_id: u64,
    },
}

/// Flags of `outrigger devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Number of validators.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub validators: usize,
    /// Where the genesis, node folders and devnet.json go; reused (the
    /// chain continues) when it already holds a devnet.
    #[arg(long, value_name = "DIR", default_value = "./devnet")]
    pub data_dir: PathBuf,
    /// RPC of node i on BASE+i, p2p on BASE+100+i, metrics on BASE+200+i.
    #[arg(long, value_name = "PORT", default_value_t = 8545)]
    pub base_port: u16,
    /// Milliseconds between blocks.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub block_time_ms: u64,
    /// The L1 the bridge connects to: `embedded` (a single-validator
    /// Outrigger chain the devnet runs, RPC on BASE+300), `anvil` (started
    /// from --anvil, same port), or `none` (validators only, no bridge).
    #[arg(
        long,
        value_name = "KIND",
        default_value = "embedded",
        conflicts_with = "l1_rpc"
    )]
    pub l1: L1Kind,
    /// Use the L1 at this RPC URL instead (the test mnemonic's first
    /// account pays for the deployment and the relayers' L1 gas).
    #[arg(long, value_name = "URL")]
    pub l1_rpc: Option<String>,
    /// The anvil binary for `--l1 anvil`.
    #[arg(long, value_name = "PATH", default_value = "anvil")]
    pub anvil: PathBuf,
    /// Relayer processes (metrics of relayer i on BASE+310+i).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub relayers: usize,
    /// Relayer signatures (and votes) a transfer needs.
    #[arg(long, value_name = "M", default_value_t = 3)]
    pub threshold: usize,
}

/// Where `outrigger devnet` gets its L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum L1Kind {
    /// A single-validator Outrigger chain run by the devnet.
    Embedded,
    /// anvil, run by the devnet.
    Anvil,
    /// No L1 and no bridge.
    None,
}

/// `outrigger keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new validator key (file mode 0600), encrypted if a
    /// passphrase is given; never overwrites one.
    Generate(KeyFileArgs),
    /// Print the public key of a validator key file.
    Show(KeyFileArgs),
    /// Encrypt a plain key file in place with the passphrase (from
    /// --password-file or OUTRIGGER_KEY_PASSWORD).
    Encrypt(KeyFileArgs),
}

/// Where the key file is.
#[derive(Debug, Args)]
pub struct KeyFileArgs {
    /// The key file [default: DATA_DIR/validator.key].
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The data directory holding validator.key.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A file (mode 0600) whose first line is the key's passphrase [default:
    /// the OUTRIGGER_KEY_PASSWORD environment variable, else none].
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// `show`: print the libp2p peer id of a p2p key instead (for
    /// bootnode addresses, `/ip4/A/tcp/P/p2p/PEER_ID`).
    #[arg(long)]
    pub peer_id: bool,
}

impl KeyFileArgs {
    /// The key file's path.
    pub fn path(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(crate::keys::VALIDATOR_KEY_FILE))
    }
}
