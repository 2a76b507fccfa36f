//! The `outrigger` binary.

use std::process::ExitCode;

use clap::Parser as _;
use eyre::Context as _;
use outrigger_node::{
    bridge_cli,
    cli::{Cli, Command, DevnetArgs, GenesisCommand, KeysCommand, L1Kind, NodeArgs},
    config::{LogFormat, NodeConfig},
    dev, devnet, devnet_bridge,
    keys::{self, ValidatorKey},
    node,
};
use tracing::info;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> eyre::Result<()> {
    match cli.command {
        Command::Node(args) => run_node(args),
        Command::Relayer(args) => {
            init_logs(&NodeConfig::default())?;
            runtime()?.block_on(bridge_cli::run_relayer(args, shutdown_signal()))
        }
        Command::Bridge(args) => runtime()?.block_on(bridge_cli::run_bridge(args)),
        Command::Validator(args) => runtime()?.block_on(outrigger_node::validator_cli::run(args)),
        Command::Status(args) => runtime()?.block_on(outrigger_node::status::run(
            &args.rpc,
            args.relayer_metrics.as_deref(),
        )),
        Command::Init(args) => {
            let json = std::fs::read_to_string(&args.genesis)
                .wrap_err_with(|| format!("reading {}", args.genesis.display()))?;
            let genesis = node::init_data_dir(&args.data_dir, &json)?;
            println!(
                "initialised {} for chain {}",
                args.data_dir.display(),
                genesis.genesis.config.chain_id
            );
            Ok(())
        }
        Command::Genesis {
            command:
                GenesisCommand::New {
                    validators,
                    out,
                    chain_id,
                },
        } => {
            let made = devnet::new_genesis(&out, validators, chain_id, &[])?;
            println!("wrote {}", out.join(node::GENESIS_FILE).display());
            for (i, v) in made.iter().enumerate() {
                println!(
                    "validator {i}: {} public key {} peer id {}",
                    v.dir.display(),
                    v.public_key,
                    v.peer_id
                );
            }
            Ok(())
        }
        Command::Devnet(args) => run_devnet(args),
        Command::Keys { command } => match command {
            KeysCommand::Generate(args) => {
                let path = args.path();
                let passphrase = keys::passphrase(args.password_file.as_deref())?;
                let key = ValidatorKey::generate();
                key.write_new_with(&path, passphrase.as_deref())?;
                let how = if passphrase.is_some() {
                    "encrypted, "
                } else {
                    ""
                };
                println!("wrote {} ({how}mode 0600)", path.display());
                println!("public key: {}", key.public_hex());
                Ok(())
            }
            KeysCommand::Show(args) => {
                let passphrase = keys::passphrase(args.password_file.as_deref())?;
                let key = ValidatorKey::read_with(&args.path(), passphrase.as_deref())?;
                if args.peer_id {
                    println!("{}", outrigger_node::validator::peer_id(&key));
                } else {
                    println!("{}", key.public_hex());
                }
                Ok(())
            }
            KeysCommand::Encrypt(args) => {
                let path = args.path();
                let Some(passphrase) = keys::passphrase(args.password_file.as_deref())? else {
                    eyre::bail!(
                        "no passphrase: give --password-file or set {}",
                        keys::PASSWORD_ENV
                    );
                };
                keys::encrypt_in_place(&path, &passphrase)?;
                println!("encrypted {} (mode 0600)", path.display());
                Ok(())
            }
        },
    }
}

fn run_node(args: NodeArgs) -> eyre::Result<()> {
    let mut config = NodeConfig::load(args.config.as_deref(), &args.overrides())?;
    init_logs(&config)?;
    // A --dev chain without a data dir lives in a temporary one, removed
    // at exit, as anvil's state is.
    let _temporary = if args.dev && args.data_dir.is_none() && args.config.is_none() {
        let dir = tempfile::Builder::new()
            .prefix("outrigger-dev-")
            .tempdir()?;
        config.data_dir = dir.path().to_path_buf();
        Some(dir)
    } else {
        None
    };
    let mut accounts = Vec::new();
    if args.dev {
        let json = match &args.genesis {
            Some(file) => std::fs::read_to_string(file)
                .wrap_err_with(|| format!("reading {}", file.display()))?,
            None => {
                accounts = dev::dev_accounts(dev::DEV_ACCOUNTS)?;
                dev::dev_genesis_json(&accounts)?
            }
        };
        node::init_data_dir(&config.data_dir, &json)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("outrigger")
        .build()?;
    runtime.block_on(async move {
        let mut handle = node::launch(config, accounts.clone()).await?;
        if !accounts.is_empty() {
            println!("{}", dev::banner(&accounts, handle.rpc_addr));
        }
        let outcome = tokio::select! {
            signal = shutdown_signal() => {
                info!(target: "node", signal, "shutting down");
                Ok(())
            }
            error = handle.failed() => Err(error),
        };
        handle.shutdown().await;
        outcome
    })
}

fn run_devnet(args: DevnetArgs) -> eyre::Result<()> {
    let l1 = match (args.l1_rpc, args.l1) {
        (Some(url), _) => Some(devnet_bridge::L1::Rpc(url)),
        (None, L1Kind::Embedded) => Some(devnet_bridge::L1::Embedded),
        (None, L1Kind::Anvil) => Some(devnet_bridge::L1::Anvil(args.anvil)),
        (None, L1Kind::None) => None,
    };
    let options = devnet::DevnetOptions {
        validators: args.validators,
        data_dir: args.data_dir,
        base_port: args.base_port,
        block_time_ms: args.block_time_ms,
        bridge: l1.map(|l1| devnet_bridge::BridgeOptions {
            l1,
            relayers: args.relayers,
            threshold: args.threshold,
        }),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Caught from before the first process starts: a signal while the devnet
    // starts would otherwise end this process and leave what it had started
    // running. Now the start finishes (its waits are bounded) and the
    // devnet stops at once after.
    let mut signals = runtime.block_on(async { ShutdownSignals::install() })?;
    let started = std::time::Instant::now();
    let mut net = devnet::Devnet::start(&options)?;
    let dir = options.data_dir.display();
    println!(
        "devnet ready in {:.1} s: {} validators, chain id {}, RPC on http://127.0.0.1:{}..{}, logs in {dir}/node*/node.log",
        started.elapsed().as_secs_f64(),
        options.validators,
        dev::DEV_CHAIN_ID,
        options.base_port,
        usize::from(options.base_port) + options.validators - 1,
    );
    if let Some(bridge) = &net.bridge {
        println!(
            "L1            {} (chain id {}), data in {dir}/l1/",
            bridge.l1.rpc, bridge.l1.chain_id
        );
        println!("L1 bridge     {}", bridge.l1.bridge);
        println!("sidechain     bridge {}", bridge.sidechain.bridge);
        println!(
            "relayers      {} of threshold {}, logs in {dir}/relayer*/relayer.log",
            bridge.relayers.len(),
            args.threshold
        );
        for token in &bridge.tokens {
            println!(
                "token {:<7} L1 {}  sidechain {}",
                token.symbol, token.l1, token.sidechain
            );
        }
        println!(
            "bridge with   outrigger bridge --config {} deposit|withdraw|status|finalize (TEST has a public mint(address,uint256) on L1)",
            bridge.bridge_config.display()
        );
    }
    println!(
        "accounts       the test mnemonic's ten, funded on both chains; keys and endpoints in {}",
        options.data_dir.join("devnet.json").display()
    );
    let outcome = runtime.block_on(async {
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(500));
        tokio::select! {
            signal = signals.recv() => {
                println!("{signal}: stopping the devnet");
                Ok(())
            }
            exited = async {
                loop {
                    poll.tick().await;
                    if let Some(exited) = net.exited() {
                        return exited;
                    }
                }
            } => Err(eyre::eyre!("{exited}; see the logs in {dir}")),
        }
    });
    net.stop(std::time::Duration::from_secs(10));
    outcome
}

fn runtime() -> eyre::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()?)
}

async fn shutdown_signal() -> &'static str {
    match ShutdownSignals::install() {
        Ok(mut signals) => signals.recv().await,
        Err(_) => std::future::pending().await,
    }
}

/// SIGTERM and SIGINT, caught from [`ShutdownSignals::install`] on: from
/// then on they no longer end the process at once, and one that comes
/// before anyone waits is kept for [`ShutdownSignals::recv`].
struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Catches the signals; must run inside a tokio runtime.
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next signal's name.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

fn init_logs(config: &NodeConfig) -> eyre::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.is_empty() => EnvFilter::try_new(filter),
        _ => EnvFilter::try_new(&config.log.filter),
    }
    .map_err(|e| eyre::eyre!("invalid configuration: log.filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}
