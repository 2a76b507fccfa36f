//! What a bridge user does: deposit on L1, withdraw on the sidechain, look
//! at a transfer, and finish a withdrawal on L1 with the signatures the
//! relayers collected. `outrigger bridge …` prints these reports.

use std::time::Duration;

use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall as _, SolEvent as _};
use serde_json::json;

use crate::{
    config::{ChainConfig, Finality},
    contracts::{BridgedToken, L1Bridge, SidechainBridge},
    relayer::collected_signatures,
    rpc::{Receipt, RpcClient, RpcError},
};

/// How long a user command waits for its transaction to be mined.
pub const MINE_TIMEOUT: Duration = Duration::from_secs(120);

/// A failed user command.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A node could not be asked, or refused.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The transaction reverted.
    #[error("{what}: transaction {hash} reverted")]
    Reverted {
        /// What was being done.
        what: String,
        /// The transaction.
        hash: B256,
    },
    /// Not mined in time.
    #[error("{what}: transaction {hash} not mined within {MINE_TIMEOUT:?}")]
    NotMined {
        /// What was being done.
        what: String,
        /// The transaction.
        hash: B256,
    },
    /// Something else.
    #[error("{0}")]
    Other(String),
}

/// Result of a user command.
pub type UserResult<T> = Result<T, UserError>;

/// Both chains, as a user reaches them.
#[derive(Debug)]
pub struct Bridges {
    /// L1 RPC.
    pub l1: RpcClient,
    /// Sidechain RPC.
    pub sidechain: RpcClient,
    /// L1 side.
    pub l1_config: ChainConfig,
    /// Sidechain side.
    pub sidechain_config: ChainConfig,
    /// L1 finality rule and depth (for the waiting-time estimate).
    pub finality: (Finality, u64),
}

impl Bridges {
    /// Clients for both chains.
    pub fn new(
        l1: ChainConfig,
        sidechain: ChainConfig,
        finality: (Finality, u64),
    ) -> UserResult<Self> {
        Ok(Self {
            l1: RpcClient::new("l1", &l1.rpc_urls, l1.rpc_timeout())?,
            sidechain: RpcClient::new("sidechain", &sidechain.rpc_urls, sidechain.rpc_timeout())?,
            l1_config: l1,
            sidechain_config: sidechain,
            finality,
        })
    }
}

/// Signs and sends a call (or, to [`TxKind::Create`], a deployment), waits
/// for its receipt, fails if it reverted.
pub async fn send_and_wait(
    rpc: &RpcClient,
    chain_id: u64,
    signer: &PrivateKeySigner,
    to: impl Into<TxKind>,
    input: Vec<u8>,
    value: U256,
    what: &str,
) -> UserResult<Receipt> {
    let from = signer.address();
    let to = to.into();
    let input = Bytes::from(input);
    let mut request = json!({"from": from, "input": input, "value": value});
    if let TxKind::Call(to) = to {
        request["to"] = json!(to);
    }
    let estimate: alloy_primitives::U64 = rpc.request("eth_estimateGas", json!([request])).await?;
    // Margin: a payout needs gas left at its end (EIP-150's 63/64).
    let gas_limit = estimate.to::<u64>().saturating_mul(3) / 2 + 50_000;
    let nonce = rpc.nonce(from).await?;
    let base = rpc
        .header("latest")
        .await?
        .and_then(|h| h.base_fee_per_gas)
        .map_or(0, |b| b.to::<u128>());
    let tip = rpc.priority_fee().await?;
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: base * 2 + tip,
        max_priority_fee_per_gas: tip,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer
        .sign_hash_sync(&tx.signature_hash())
        .map_err(|e| UserError::Other(format!("{what}: signing: {e}")))?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    let hash = rpc.send_raw(&Bytes::from(envelope.encoded_2718())).await?;
    let deadline = tokio::time::Instant::now() + MINE_TIMEOUT;
    loop {
        if let Some(receipt) = rpc.receipt(hash).await? {
            if !receipt.succeeded() {
                return Err(UserError::Reverted {
                    what: what.into(),
                    hash,
                });
            }
            return Ok(receipt);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(UserError::NotMined {
                what: what.into(),
                hash,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a deposit did.
#[derive(Debug, Clone)]
pub struct DepositReport {
    /// The L1 transaction.
    pub l1_tx: B256,
    /// Its block.
    pub l1_block: u64,
    /// The deposit nonce (`outrigger bridge status --deposit N`).
    pub nonce: U256,
    /// The amount that arrived in the bridge.
    pub amount: U256,
    /// L1 blocks still to go before relayers act on it.
    pub blocks_to_final: u64,
}

/// Locks ETH (`token = None`) or an L1 ERC20 (approving it first) in the
/// L1 bridge for `to` on the sidechain.
pub async fn deposit(
    bridges: &Bridges,
    signer: &PrivateKeySigner,
    token: Option<Address>,
    to: Address,
    amount: U256,
) -> UserResult<DepositReport> {
    let l1 = &bridges.l1;
    let chain_id = bridges.l1_config.chain_id;
    let bridge = bridges.l1_config.bridge;
    let receipt = match token {
        None => {
            send_and_wait(
                l1,
                chain_id,
                signer,
                bridge,
                L1Bridge::depositETHCall { to }.abi_encode(),
                amount,
                "depositETH",
            )
            .await?
        }
        Some(token) => {
            send_and_wait(
                l1,
                chain_id,
                signer,
                token,
                BridgedToken::approveCall {
                    spender: bridge,
                    amount,
                }
                .abi_encode(),
                U256::ZERO,
                "approve",
            )
            .await?;
            send_and_wait(
                l1,
                chain_id,
                signer,
                bridge,
                L1Bridge::depositERC20Call { token, to, amount }.abi_encode(),
                U256::ZERO,
                "depositERC20",
            )
            .await?
        }
    };
    let event = receipt
        .logs
        .iter()
        .filter(|l| l.address() == bridge)
        .find_map(|l| L1Bridge::Deposit::decode_log(&l.inner).ok())
        .ok_or_else(|| UserError::Other("the deposit emitted no Deposit event".into()))?;
    let l1_block = receipt.block_number.to::<u64>();
    let head = l1.block_number().await?;
    let blocks_to_final = match bridges.finality {
        (Finality::Confirmations, depth) => (l1_block + depth).saturating_sub(head),
        (Finality::Finalized, _) => {
            let finalized = l1
                .header("finalized")
                .await?
                .map_or(0, |h| h.number.to::<u64>());
            l1_block.saturating_sub(finalized)
        }
    };
    Ok(DepositReport {
        l1_tx: receipt.transaction_hash,
        l1_block,
        nonce: event.data.nonce,
        amount: event.data.amount,
        blocks_to_final,
    })
}

/// What a withdrawal did.
#[derive(Debug, Clone)]
pub struct WithdrawReport {
    /// The sidechain transaction.
    pub tx: B256,
    /// The withdrawal nonce (`outrigger bridge status|finalize --withdrawal N`).
    pub nonce: U256,
    /// The amount taken.
    pub amount: U256,
    /// Signatures the L1 bridge wants.
    pub threshold: U256,
}

/// Burns (or locks) `amount` on the sidechain for `to` on L1. `token`: the
/// sidechain token held, or its L1 address; `None`: the native coin.
pub async fn withdraw(
    bridges: &Bridges,
    signer: &PrivateKeySigner,
    token: Option<Address>,
    to: Address,
    amount: U256,
) -> UserResult<WithdrawReport> {
    let side = &bridges.sidechain;
    let bridge = bridges.sidechain_config.bridge;
    let (token, value) = match token {
        None => (Address::ZERO, amount),
        Some(token) => (sidechain_token(bridges, token).await?, U256::ZERO),
    };
    let receipt = send_and_wait(
        side,
        bridges.sidechain_config.chain_id,
        signer,
        bridge,
        SidechainBridge::withdrawCall { token, to, amount }.abi_encode(),
        value,
        "withdraw",
    )
    .await?;
    let event = receipt
        .logs
        .iter()
        .filter(|l| l.address() == bridge)
        .find_map(|l| SidechainBridge::WithdrawalRequested::decode_log(&l.inner).ok())
        .ok_or_else(|| UserError::Other("the withdrawal emitted no WithdrawalRequested".into()))?;
    let threshold = bridges
        .l1
        .call(bridges.l1_config.bridge, &L1Bridge::thresholdCall {})
        .await?;
    Ok(WithdrawReport {
        tx: receipt.transaction_hash,
        nonce: event.data.nonce,
        amount: event.data.amount,
        threshold,
    })
}

/// The sidechain token a user means by `token`: its bridged twin when
/// `token` is an L1 address, else `token` itself.
pub async fn sidechain_token(bridges: &Bridges, token: Address) -> UserResult<Address> {
    let twin = bridges
        .sidechain
        .call(
            bridges.sidechain_config.bridge,
            &SidechainBridge::bridgedTokenCall {
                token,
                homeL1: true,
            },
        )
        .await?;
    Ok(if twin == Address::ZERO { token } else { twin })
}

/// The state of an incoming transfer on the chain that pays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingStatus {
    /// Not yet accepted.
    Waiting,
    /// Accepted, waiting for its delay or the daily limit (unix time ready).
    Queued(u64),
    /// Paid out.
    Executed,
    /// Cancelled by the guardian.
    Cancelled,
}

fn incoming_status(status: u8, ready_at: u64) -> IncomingStatus {
    match status {
        0 => IncomingStatus::Waiting,
        1 => IncomingStatus::Queued(ready_at),
        2 => IncomingStatus::Executed,
        _ => IncomingStatus::Cancelled,
    }
}

/// A withdrawal's progress.
#[derive(Debug, Clone)]
pub struct WithdrawalStatus {
    /// On L1.
    pub l1: IncomingStatus,
    /// Signatures of current L1 relayers posted on the sidechain.
    pub signatures: usize,
    /// Needed.
    pub threshold: usize,
}

/// Where withdrawal `nonce` stands.
pub async fn withdrawal_status(bridges: &Bridges, nonce: U256) -> UserResult<WithdrawalStatus> {
    let l1_bridge = bridges.l1_config.bridge;
    let incoming = bridges
        .l1
        .call(l1_bridge, &L1Bridge::incomingCall(nonce))
        .await?;
    let relayers = bridges
        .l1
        .call(l1_bridge, &L1Bridge::relayersCall {})
        .await?;
    let threshold = bridges
        .l1
        .call(l1_bridge, &L1Bridge::thresholdCall {})
        .await?;
    let (signers, _) = collected_signatures(
        &bridges.sidechain,
        bridges.sidechain_config.bridge,
        nonce,
        &relayers,
    )
    .await?;
    Ok(WithdrawalStatus {
        l1: incoming_status(incoming.status, incoming.readyAt),
        signatures: signers.len(),
        threshold: threshold.saturating_to(),
    })
}

/// Where deposit `nonce` stands on the sidechain.
pub async fn deposit_status(bridges: &Bridges, nonce: U256) -> UserResult<IncomingStatus> {
    let incoming = bridges
        .sidechain
        .call(
            bridges.sidechain_config.bridge,
            &SidechainBridge::incomingCall(nonce),
        )
        .await?;
    Ok(incoming_status(incoming.status, incoming.readyAt))
}

/// What `finalize` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalizeReport {
    /// Someone (a relayer) already did: nothing sent.
    AlreadyDone(IncomingStatus),
    /// Finalized by this call.
    Finalized {
        /// The L1 transaction.
        tx: B256,
        /// Its status after it (executed, or queued for a large amount).
        status: IncomingStatus,
    },
    /// Not enough signatures yet.
    NotEnoughSignatures {
        /// Posted by current L1 relayers.
        have: usize,
        /// Needed.
        need: usize,
    },
}

/// Finishes withdrawal `nonce` on L1 with the signatures posted on the
/// sidechain. Anyone can: the signatures authorise it, not the sender.
pub async fn finalize(
    bridges: &Bridges,
    signer: &PrivateKeySigner,
    nonce: U256,
) -> UserResult<FinalizeReport> {
    let l1_bridge = bridges.l1_config.bridge;
    let status = withdrawal_status(bridges, nonce).await?;
    if status.l1 != IncomingStatus::Waiting {
        return Ok(FinalizeReport::AlreadyDone(status.l1));
    }
    if status.signatures < status.threshold {
        return Ok(FinalizeReport::NotEnoughSignatures {
            have: status.signatures,
            need: status.threshold,
        });
    }
    let message = find_withdrawal(bridges, nonce).await?;
    let relayers = bridges
        .l1
        .call(l1_bridge, &L1Bridge::relayersCall {})
        .await?;
    let (_, signatures) = collected_signatures(
        &bridges.sidechain,
        bridges.sidechain_config.bridge,
        nonce,
        &relayers,
    )
    .await?;
    let call = L1Bridge::finalizeWithdrawalCall {
        w: message,
        signatures: signatures.into_iter().take(status.threshold).collect(),
    };
    let receipt = send_and_wait(
        &bridges.l1,
        bridges.l1_config.chain_id,
        signer,
        l1_bridge,
        call.abi_encode(),
        U256::ZERO,
        "finalizeWithdrawal",
    )
    .await?;
    let after = withdrawal_status(bridges, nonce).await?;
    Ok(FinalizeReport::Finalized {
        tx: receipt.transaction_hash,
        status: after.l1,
    })
}

/// Finds withdrawal `nonce`'s event on the sidechain (its nonce is indexed).
async fn find_withdrawal(
    bridges: &Bridges,
    nonce: U256,
) -> UserResult<crate::contracts::L1Bridge::WithdrawalMessage> {
    let bridge = bridges.sidechain_config.bridge;
    let logs: Vec<alloy_rpc_types_eth::Log> = bridges
        .sidechain
        .request(
            "eth_getLogs",
            json!([{
                "address": bridge,
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [SidechainBridge::WithdrawalRequested::SIGNATURE_HASH, B256::from(nonce)],
            }]),
        )
        .await?;
    let event = logs
        .iter()
        .find_map(|l| SidechainBridge::WithdrawalRequested::decode_log(&l.inner).ok())
        .ok_or_else(|| {
            UserError::Other(format!(
                "withdrawal {nonce}: no such withdrawal on the sidechain"
            ))
        })?;
    let w = event.data;
    Ok(crate::contracts::L1Bridge::WithdrawalMessage {
        nonce: w.nonce,
        token: w.token,
        homeL1: w.homeL1,
        from: w.from,
        to: w.to,
        amount: w.amount,
    })
}

/// Decimals of an ERC20 on L1 (18 for ETH).
pub async fn decimals(rpc: &RpcClient, token: Option<Address>) -> UserResult<u8> {
    match token {
        None => Ok(18),
        Some(token) => Ok(rpc.call(token, &BridgedToken::decimalsCall {}).await?),
    }
}
