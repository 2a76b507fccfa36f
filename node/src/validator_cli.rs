//! `outrigger validator register|stake|unstake|withdraw|status|propose|vote`:
//! the transactions a validator's operator sends to the validator-set
//! system contract, and what the set looks like.
//!
//! Under proof of stake an operator account registers its validator's
//! consensus key (signing a registration message with it, so nobody can
//! register a key they do not hold), stakes the native coin, unstakes and,
//! after the unbonding period, withdraws. Under proof of authority the
//! current validators' operators propose and vote members in and out.

use std::path::PathBuf;

use alloy_primitives::{
    Address, B256, Bytes, U256,
    utils::{format_ether, parse_ether},
};
use alloy_sol_types::SolCall;
use clap::{Args, Subcommand};
use ed25519_dalek::Signer as _;
use eyre::{Context as _, bail, eyre};
use outrigger_bridge::{rpc::RpcClient, user::send_and_wait};
use outrigger_execution::system::{
    VALIDATORS_CONTRACT,
    contracts::{PoAValidators, PoSStaking},
    registration_message,
};
use serde_json::{Value, json};

use crate::{bridge_cli::KeyArgs, keys::ValidatorKey};

/// Flags of `outrigger validator`.
#[derive(Debug, Args)]
pub struct ValidatorArgs {
    /// A sidechain node's JSON-RPC URL.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// What to do.
    #[command(subcommand)]
    pub command: ValidatorCommand,
}

/// `outrigger validator` subcommands.
#[derive(Debug, Subcommand)]
pub enum ValidatorCommand {
    /// PoS: bind a validator key to the operator account (signs the
    /// registration with the validator key).
    Register {
        /// The validator's key file.
        #[arg(long, value_name = "FILE")]
        validator_key: PathBuf,
        /// File whose first line is the validator key's passphrase [else
        /// env OUTRIGGER_KEY_PASSWORD; none for a plain key].
        #[arg(long, value_name = "FILE")]
        key_password_file: Option<PathBuf>,
        /// The operator account.
        #[command(flatten)]
        operator: KeyArgs,
    },
    /// PoS: add stake (native coin, in ether) to the operator's validator.
    Stake {
        /// Ether to stake, decimals allowed.
        #[arg(long)]
        amount: String,
        /// The operator account.
        #[command(flatten)]
        operator: KeyArgs,
    },
    /// PoS: start unbonding stake; it can be withdrawn after the unbonding
    /// period.
    Unstake {
        /// Ether to unstake, decimals allowed.
        #[arg(long)]
        amount: String,
        /// The operator account.
        #[command(flatten)]
        operator: KeyArgs,
    },
    /// PoS: pay out the stake whose unbonding period has passed.
    Withdraw {
        /// The operator account.
        #[command(flatten)]
        operator: KeyArgs,
    },
    /// PoA: propose adding (--add KEY --operator ADDR) or removing
    /// (--remove KEY) a validator; the proposer's vote is counted.
    Propose {
        /// The consensus key (hex) of a validator to add.
        #[arg(
            long,
            value_name = "KEY",
            conflicts_with = "remove",
            requires = "new_operator"
        )]
        add: Option<B256>,
        /// The consensus key (hex) of a validator to remove.
        #[arg(long, value_name = "KEY")]
        remove: Option<B256>,
        /// The added validator's operator account.
        #[arg(long = "new-operator", value_name = "ADDRESS")]
        new_operator: Option<Address>,
        /// The added validator's voting power.
        #[arg(long, default_value_t = 1)]
        power: u64,
        /// The proposing operator account (of a current validator).
        #[command(flatten)]
        operator: KeyArgs,
    },
    /// PoA: vote for a proposal (by its id, printed by `propose`).
    Vote {
        /// The proposal id.
        #[arg(long)]
        proposal: U256,
        /// The voting operator account (of a current validator).
        #[command(flatten)]
        operator: KeyArgs,
    },
    /// The current set, the epoch, and a validator's stake.
    Status {
        /// A validator's consensus key (hex) to show the stake of.
        #[arg(long, value_name = "KEY")]
        key: Option<B256>,
    },
}

/// Runs one `outrigger validator` command, printing what happened.
pub async fn run(args: ValidatorArgs) -> eyre::Result<()> {
    let rpc = RpcClient::new(
        "sidechain",
        std::slice::from_ref(&args.rpc),
        std::time::Duration::from_secs(10),
    )?;
    let chain_id = rpc.chain_id().await?;
    let set: Value = rpc.request("outrigger_validators", json!([])).await?;
    let mode = set["mode"].as_str().unwrap_or_default().to_string();
    if set["contract"].is_null() {
        bail!(
            "the chain at {} has no validator-set contract (a development chain)",
            args.rpc
        );
    }
    let need = |wanted: &str, command: &str| -> eyre::Result<()> {
        if mode != wanted {
            bail!("`validator {command}` is for {wanted} chains; this chain is {mode}");
        }
        Ok(())
    };
    let send = |signer, call: Vec<u8>, value, what: &'static str| {
        let rpc = &rpc;
        async move {
            send_and_wait(
                rpc,
                chain_id,
                signer,
                VALIDATORS_CONTRACT,
                call,
                value,
                what,
            )
            .await
            .map_err(|e| eyre!("{e}"))
        }
    };
    match args.command {
        ValidatorCommand::Register {
            validator_key,
            key_password_file,
            operator,
        } => {
            need("pos", "register")?;
            let signer = operator.signer()?;
            let passphrase = crate::keys::passphrase(key_password_file.as_deref())?;
            let key = ValidatorKey::read_with(&validator_key, passphrase.as_deref())?;
            let message = registration_message(chain_id, signer.address());
            let signature = key.signing_key().sign(&message);
            let call = PoSStaking::registerCall {
                key: B256::from(key.public().to_bytes()),
                signature: Bytes::copy_from_slice(&signature.to_bytes()),
            };
            let receipt = send(&signer, call.abi_encode(), U256::ZERO, "register").await?;
            println!(
                "registered validator {} to operator {}: transaction {}",
                key.public_hex(),
                signer.address(),
                receipt.transaction_hash
            );
            println!(
                "next: `outrigger validator stake --amount N` (it joins the set at the next epoch once its stake is at least the minimum and among the largest)"
            );
        }
        ValidatorCommand::Stake { amount, operator } => {
            need("pos", "stake")?;
            let signer = operator.signer()?;
            let value = ether(&amount)?;
            let receipt = send(
                &signer,
                PoSStaking::stakeCall {}.abi_encode(),
                value,
                "stake",
            )
            .await?;
            println!(
                "staked {} ETH from {}: transaction {}; it counts from epoch {}",
                format_ether(value),
                signer.address(),
                receipt.transaction_hash,
                quantity(&set["epoch"]) + 1
            );
        }
        ValidatorCommand::Unstake { amount, operator } => {
            need("pos", "unstake")?;
            let signer = operator.signer()?;
            let amount = ether(&amount)?;
            let receipt = send(
                &signer,
                PoSStaking::unstakeCall { amount }.abi_encode(),
                U256::ZERO,
                "unstake",
            )
            .await?;
            println!(
                "unbonding {} ETH of {}: transaction {}; withdraw it after the unbonding period with `outrigger validator withdraw`",
                format_ether(amount),
                signer.address(),
                receipt.transaction_hash
            );
        }
        ValidatorCommand::Withdraw { operator } => {
            need("pos", "withdraw")?;
            let signer = operator.signer()?;
            let receipt = send(
                &signer,
                PoSStaking::withdrawCall {}.abi_encode(),
                U256::ZERO,
                "withdraw",
            )
            .await?;
            println!(
                "withdrew the released stake of {}: transaction {}",
                signer.address(),
                receipt.transaction_hash
            );
        }
        ValidatorCommand::Propose {
            add,
            remove,
            new_operator,
            power,
            operator,
        } => {
            need("poa", "propose")?;
            let signer = operator.signer()?;
            let call = match (add, remove) {
                (Some(key), None) => PoAValidators::proposeCall {
                    key,
                    operator: new_operator.ok_or_else(|| eyre!("--add needs --new-operator"))?,
                    power,
                    add: true,
                },
                (None, Some(key)) => PoAValidators::proposeCall {
                    key,
                    operator: Address::ZERO,
                    power: 0,
                    add: false,
                },
                _ => bail!("give exactly one of --add or --remove"),
            };
            let receipt = send(&signer, call.abi_encode(), U256::ZERO, "propose").await?;
            // The id the contract assigned, from its `Proposed` event.
            let id = receipt
                .logs
                .iter()
                .filter(|log| log.address() == VALIDATORS_CONTRACT)
                .find_map(|log| log.log_decode::<PoAValidators::Proposed>().ok())
                .map(|log| log.inner.data.id)
                .ok_or_else(|| eyre!("the proposal transaction emitted no Proposed event"))?;
            println!(
                "proposal {id}: transaction {}; the other validators vote with `outrigger validator vote --proposal {id}`",
                receipt.transaction_hash
            );
        }
        ValidatorCommand::Vote { proposal, operator } => {
            need("poa", "vote")?;
            let signer = operator.signer()?;
            let receipt = send(
                &signer,
                PoAValidators::voteCall { id: proposal }.abi_encode(),
                U256::ZERO,
                "vote",
            )
            .await?;
            let state = rpc
                .call(
                    VALIDATORS_CONTRACT,
                    &PoAValidators::proposalCall { id: proposal },
                )
                .await?;
            println!(
                "voted for proposal {proposal}: transaction {}; {}",
                receipt.transaction_hash,
                if state.applied {
                    "it passed and applies at the next epoch".to_string()
                } else {
                    format!("yes power so far {}", state.yesPower)
                }
            );
        }
        ValidatorCommand::Status { key } => {
            println!(
                "mode {mode}, epoch {} ({} blocks each, next at block {}), contract {}",
                quantity(&set["epoch"]),
                quantity(&set["epochBlocks"]),
                quantity(&set["nextEpochBlock"]),
                VALIDATORS_CONTRACT
            );
            let members = set["validators"].as_array().cloned().unwrap_or_default();
            println!(
                "{} validators, total power {}",
                members.len(),
                quantity(&set["totalPower"])
            );
            for v in &members {
                println!(
                    "  {}  power {}",
                    v["publicKey"].as_str().unwrap_or("?"),
                    quantity(&v["power"])
                );
            }
            if let Some(key) = key {
                let operator = rpc
                    .call(VALIDATORS_CONTRACT, &PoSStaking::operatorOfCall { key })
                    .await?;
                print!("validator {key}: operator {operator}");
                if mode == "pos" {
                    let stake = rpc
                        .call(VALIDATORS_CONTRACT, &PoSStaking::stakeOfCall { key })
                        .await?;
                    print!(
                        ", bonded {} ETH, unbonding {} ETH{}",
                        format_ether(stake.bonded),
                        format_ether(stake.unbonding),
                        if stake.jailed {
                            ", JAILED (slashed for double-signing)"
                        } else {
                            ""
                        }
                    );
                }
                let active = members
                    .iter()
                    .any(|v| v["publicKey"].as_str() == Some(&key.to_string()));
                println!(", {}in the current set", if active { "" } else { "not " });
            }
        }
    }
    Ok(())
}

fn ether(amount: &str) -> eyre::Result<U256> {
    let value = parse_ether(amount).wrap_err_with(|| format!("amount {amount:?}"))?;
    if value.is_zero() {
        bail!("amount must be more than zero");
    }
    Ok(value)
}

fn quantity(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_default()
}
