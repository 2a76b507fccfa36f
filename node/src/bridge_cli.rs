//! `outrigger relayer` and `outrigger bridge deposit|withdraw|status|finalize`:
//! the command line of the bridge crate.

use std::path::PathBuf;

use alloy_primitives::{
    Address, U256,
    utils::{format_units, parse_units},
};
use alloy_signer_local::PrivateKeySigner;
use clap::{Args, Subcommand};
use eyre::{Context as _, bail, eyre};
use outrigger_bridge::{
    config::{ClientConfig, RelayerConfig, read_password},
    load_keystore, relayer,
    user::{self, Bridges, FinalizeReport, IncomingStatus},
};
use tracing::info;

/// Flags of `outrigger relayer`.
#[derive(Debug, Args)]
pub struct RelayerArgs {
    /// The relayer's TOML configuration (see bridge/src/config.rs).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Flags of `outrigger bridge`.
#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// TOML file with `[l1]` and `[sidechain]` sections (rpc_urls, chain_id,
    /// bridge); a relayer's configuration will do.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: BridgeCommand,
}

/// `outrigger bridge` subcommands.
#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// Lock ETH or an L1 ERC20 in the L1 bridge; it arrives on the sidechain
    /// once the L1 block is final and the relayers confirm it.
    Deposit(TransferArgs),
    /// Send the native coin or a bridged token back to L1; relayers sign it,
    /// then it is finalized on L1 (by a relayer, or `bridge finalize`).
    Withdraw(TransferArgs),
    /// Where a deposit or a withdrawal stands.
    Status(StatusArgs),
    /// Finish a withdrawal on L1 with the signatures collected on the
    /// sidechain (anyone can; it pays the L1 gas).
    Finalize(FinalizeArgs),
}

/// The key that signs a user's transactions.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// A web3 secret-storage (v3) keystore file.
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// File with the keystore password [else env OUTRIGGER_PASSWORD].
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Name of an environment variable holding a hex private key (instead
    /// of a keystore; the key never appears on the command line).
    #[arg(long, value_name = "VAR")]
    pub private_key_env: Option<String>,
}

impl KeyArgs {
    pub(crate) fn signer(&self) -> eyre::Result<PrivateKeySigner> {
        match (&self.keystore, &self.private_key_env) {
            (Some(file), None) => {
                let password = read_password(self.password_file.as_deref(), "OUTRIGGER_PASSWORD")?;
                Ok(load_keystore(file, &password)?)
            }
            (None, Some(var)) => {
                let hex = std::env::var(var)
                    .map_err(|_| eyre!("environment variable {var} is not set"))?;
                hex.trim().parse::<PrivateKeySigner>().map_err(|_| {
                    eyre!("environment variable {var} does not hold a hex private key")
                })
            }
            _ => bail!("give exactly one of --keystore or --private-key-env"),
        }
    }
}

/// Flags of `deposit` and `withdraw`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Amount in whole units of the asset, decimals allowed (`1.5`).
    #[arg(long)]
    pub amount: String,
    /// The ERC20 (its L1 address, or for a withdrawal the sidechain token);
    /// without it, ETH (the sidechain's native coin).
    #[arg(long, value_name = "ADDRESS")]
    pub token: Option<Address>,
    /// Recipient on the other chain [default: the sender].
    #[arg(long, value_name = "ADDRESS")]
    pub to: Option<Address>,
    /// The sender's key.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Flags of `status`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct StatusArgs {
    /// A deposit nonce (printed by `deposit`).
    #[arg(long, value_name = "N")]
    pub deposit: Option<U256>,
    /// A withdrawal nonce (printed by `withdraw`).
    #[arg(long, value_name = "N")]
    pub withdrawal: Option<U256>,
}

/// Flags of `finalize`.
#[derive(Debug, Args)]
pub struct FinalizeArgs {
    /// The withdrawal nonce.
    #[arg(long, value_name = "N")]
    pub withdrawal: U256,
    /// The key paying the L1 gas.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Runs the relayer until `shutdown` (SIGTERM/SIGINT) resolves.
pub async fn run_relayer(
    args: RelayerArgs,
    shutdown: impl std::future::Future<Output = &'static str>,
) -> eyre::Result<()> {
    let config = RelayerConfig::load(&args.config)?;
    let password = config.password()?;
    let signer = load_keystore(&config.keystore, &password)?;
    drop(password);
    info!(target: "relayer", address = %signer.address(), l1_bridge = %config.l1.chain.bridge, sidechain_bridge = %config.sidechain.bridge, metrics = %config.metrics_addr, "starting the relayer");
    let listener = crate::metrics::bind(config.metrics_addr).await?;
    let handle = relayer::spawn(config, signer).await?;
    let (stop_metrics, stopped) = tokio::sync::watch::channel(false);
    let metrics = handle.metrics.clone();
    let served = tokio::spawn(crate::metrics::serve(
        listener,
        std::sync::Arc::new(move || metrics.render()),
        None,
        stopped,
    ));
    let signal = shutdown.await;
    info!(target: "relayer", signal, "shutting down");
    handle.shutdown().await;
    let _ = stop_metrics.send(true);
    let _ = served.await;
    Ok(())
}

/// Runs one `outrigger bridge` command, printing what happened.
pub async fn run_bridge(args: BridgeArgs) -> eyre::Result<()> {
    let config = ClientConfig::load(&args.config)?;
    let finality = (config.l1.finality, config.l1.confirmations);
    let bridges = Bridges::new(config.l1.chain, config.sidechain, finality)?;
    match args.command {
        BridgeCommand::Deposit(t) => {
            let signer = t.key.signer()?;
            let decimals = user::decimals(&bridges.l1, t.token).await?;
            let amount = units(&t.amount, decimals)?;
            let to = t.to.unwrap_or(signer.address());
            let r = user::deposit(&bridges, &signer, t.token, to, amount).await?;
            println!(
                "deposited {} {} on L1 for {to}: transaction {} in block {}, deposit nonce {}",
                format_units(r.amount, decimals).unwrap_or_default(),
                asset(t.token),
                r.l1_tx,
                r.l1_block,
                r.nonce
            );
            println!(
                "wait: {} more L1 block(s) until the deposit is final (~12 s each on Ethereum), then the relayers confirm it on the sidechain; `outrigger bridge status --deposit {}`",
                r.blocks_to_final, r.nonce
            );
        }
        BridgeCommand::Withdraw(t) => {
            let signer = t.key.signer()?;
            let token = match t.token {
                Some(token) => Some(user::sidechain_token(&bridges, token).await?),
                None => None,
            };
            let decimals = user::decimals(&bridges.sidechain, token).await?;
            let amount = units(&t.amount, decimals)?;
            let to = t.to.unwrap_or(signer.address());
            let r = user::withdraw(&bridges, &signer, t.token, to, amount).await?;
            println!(
                "withdrew {} {} on the sidechain for {to} on L1: transaction {}, withdrawal nonce {}",
                format_units(r.amount, decimals).unwrap_or_default(),
                asset(t.token),
                r.tx,
                r.nonce
            );
            println!(
                "wait: {} relayer signatures, then a relayer finalizes it on L1 (or run `outrigger bridge finalize --withdrawal {}`); `outrigger bridge status --withdrawal {}`",
                r.threshold, r.nonce, r.nonce
            );
        }
        BridgeCommand::Status(s) => {
            if let Some(nonce) = s.deposit {
                let status = user::deposit_status(&bridges, nonce).await?;
                println!("deposit {nonce}: {}", describe(status, "sidechain"));
            }
            if let Some(nonce) = s.withdrawal {
                let status = user::withdrawal_status(&bridges, nonce).await?;
                println!(
                    "withdrawal {nonce}: {}; signatures {}/{}",
                    describe(status.l1, "L1"),
                    status.signatures,
                    status.threshold
                );
            }
        }
        BridgeCommand::Finalize(f) => {
            let signer = f.key.signer()?;
            match user::finalize(&bridges, &signer, f.withdrawal).await? {
                FinalizeReport::AlreadyDone(status) => println!(
                    "withdrawal {}: already {}; nothing sent",
                    f.withdrawal,
                    describe(status, "L1")
                ),
                FinalizeReport::Finalized { tx, status } => println!(
                    "withdrawal {}: finalized on L1 by transaction {tx}: {}",
                    f.withdrawal,
                    describe(status, "L1")
                ),
                FinalizeReport::NotEnoughSignatures { have, need } => bail!(
                    "withdrawal {}: {have} of {need} relayer signatures so far; wait for the relayers and try again",
                    f.withdrawal
                ),
            }
        }
    }
    Ok(())
}

fn asset(token: Option<Address>) -> String {
    token.map_or_else(|| "ETH".to_string(), |t| format!("of token {t}"))
}

fn describe(status: IncomingStatus, chain: &str) -> String {
    match status {
        IncomingStatus::Waiting => format!("not yet executed on the {chain}"),
        IncomingStatus::Queued(at) => format!(
            "queued on the {chain} until unix time {at} (large amount or daily limit); then anyone may execute it"
        ),
        IncomingStatus::Executed => format!("executed on the {chain}: paid out"),
        IncomingStatus::Cancelled => format!("cancelled by the guardian on the {chain}"),
    }
}

fn units(amount: &str, decimals: u8) -> eyre::Result<U256> {
    let value: U256 = parse_units(amount, decimals)
        .wrap_err_with(|| format!("amount {amount:?}"))?
        .into();
    if value.is_zero() {
        bail!("amount must be more than zero");
    }
    Ok(value)
}
