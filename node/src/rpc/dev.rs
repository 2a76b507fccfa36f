//! Node-managed accounts of a `--dev` chain, as anvil and geth `--dev` have
//! them (`eth_sendTransaction`, `eth_sign`, `personal_sign`,
//! `eth_signTypedData_v4`, `evm_mine`),
//! and the `txpool` namespace.

use std::{collections::BTreeMap, sync::Arc};

use alloy_consensus::{
    SignableTransaction as _, Transaction as _, TxEnvelope, TypedTransaction,
    transaction::Recovered,
};
use alloy_eips::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U64};
use alloy_rpc_types_eth::{Transaction, TransactionRequest};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::proc_macros::rpc;
use outrigger_execution::txpool::HeadParams;
use serde::Serialize;

use super::{
    convert::pending_transaction,
    error::{RpcError, RpcResult},
    eth::{EthApi, submit_raw},
    fees,
};
use crate::node::NodeState;

/// Methods that sign with the node's dev accounts, and `evm_mine`.
#[rpc(server)]
pub trait DevRpc {
    /// Fills in, signs with the `from` dev account, and submits a transaction.
    #[method(name = "eth_sendTransaction", blocking)]
    fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;
    /// EIP-191 signature of `data` by a dev account (`eth_sign` order).
    #[method(name = "eth_sign")]
    fn sign(&self, address: Address, data: Bytes) -> RpcResult<Bytes>;
    /// EIP-191 signature of `data` by a dev account (`personal_sign` order).
    #[method(name = "personal_sign")]
    fn personal_sign(&self, data: Bytes, address: Address) -> RpcResult<Bytes>;
    /// EIP-712 signature of typed data (an object, or its JSON as a string,
    /// as MetaMask sends it) by a dev account.
    #[method(name = "eth_signTypedData_v4")]
    fn sign_typed_data(&self, address: Address, data: serde_json::Value) -> RpcResult<Bytes>;
    /// Seals a block now; returns `"0x0"` as anvil does.
    #[method(name = "evm_mine", blocking)]
    fn mine(&self) -> RpcResult<String>;
}

/// geth's `txpool` namespace.
#[rpc(server)]
pub trait TxPoolRpc {
    /// Counts of pending and queued transactions.
    #[method(name = "txpool_status")]
    fn status(&self) -> RpcResult<TxPoolStatus>;
    /// Every pooled transaction by sender and nonce.
    #[method(name = "txpool_content")]
    fn content(&self) -> RpcResult<TxPoolContent<Transaction>>;
    /// One sender's pooled transactions.
    #[method(name = "txpool_contentFrom")]
    fn content_from(&self, address: Address) -> RpcResult<SenderPool<Transaction>>;
    /// Every pooled transaction summarised as geth's one line.
    #[method(name = "txpool_inspect")]
    fn inspect(&self) -> RpcResult<TxPoolContent<String>>;
}

/// `txpool_status`.
#[derive(Clone, Debug, Serialize)]
pub struct TxPoolStatus {
    /// Executable transactions.
    pub pending: U64,
    /// Nonce-gapped transactions.
    pub queued: U64,
}

/// One sender's transactions keyed by nonce (decimal strings, as geth).
pub type ByNonce<T> = BTreeMap<String, T>;

/// `txpool_contentFrom`.
#[derive(Clone, Debug, Serialize)]
pub struct SenderPool<T> {
    /// Pending, by nonce.
    pub pending: ByNonce<T>,
    /// Queued, by nonce.
    pub queued: ByNonce<T>,
}

/// `txpool_content` and `txpool_inspect`, keyed by EIP-55 address as geth.
#[derive(Clone, Debug, Serialize)]
pub struct TxPoolContent<T> {
    /// Pending, by sender and nonce.
    pub pending: BTreeMap<String, ByNonce<T>>,
    /// Queued, by sender and nonce.
    pub queued: BTreeMap<String, ByNonce<T>>,
}

/// The handlers.
pub(crate) struct DevApi {
    state: Arc<NodeState>,
    /// Held from filling a dev transaction's nonce to pooling it, so that
    /// concurrent sends from one account get distinct nonces.
    sending: Arc<parking_lot::Mutex<()>>,
}

impl DevApi {
    pub(crate) fn new(state: Arc<NodeState>, sending: Arc<parking_lot::Mutex<()>>) -> Self {
        Self { state, sending }
    }

    fn signer(&self, address: Address) -> RpcResult<&PrivateKeySigner> {
        self.state
            .dev_signers
            .iter()
            .find(|s| s.address() == address)
            .ok_or_else(|| RpcError::Execution("unknown account".into()))
    }

    fn sign_message(&self, address: Address, data: &[u8]) -> RpcResult<Bytes> {
        let signature = self
            .signer(address)?
            .sign_message_sync(data)
            .map_err(|e| RpcError::Internal(e.to_string()))?;
        Ok(signature.as_bytes().into())
    }

    /// Fills what a wallet would: chain id, nonce, fees, gas.
    fn fill(&self, mut request: TransactionRequest) -> RpcResult<TransactionRequest> {
        let from = request
            .from
            .ok_or_else(|| RpcError::InvalidParams("from is required".into()))?;
        let state = &self.state;
        let store = state.chain.store();
        let head = store
            .head()?
            .ok_or_else(|| RpcError::Internal("no head block".into()))?;
        request.chain_id = Some(state.chain.spec().chain_id);
        // No `to` is a contract creation, as wallets send it.
        request.to.get_or_insert(TxKind::Create);
        if request.nonce.is_none() {
            let account = store.account(from)?.map(|a| a.nonce).unwrap_or_default();
            let pooled = state.pool.lock().pending_nonce(from).unwrap_or_default();
            request.nonce = Some(account.max(pooled));
        }
        if request.gas_price.is_none() {
            let tip = fees::suggested_tip(state, &head)?;
            let base_fee = u128::from(HeadParams::after(state.chain.spec(), &head).base_fee);
            let tip = request.max_priority_fee_per_gas.unwrap_or(tip);
            request.max_priority_fee_per_gas = Some(tip);
            request.max_fee_per_gas.get_or_insert(2 * base_fee + tip);
        }
        if request.gas.is_none() {
            let call = EthApi::call_request(request.clone())?;
            let gas = state.chain.executor().estimate_gas(
                store,
                &head,
                &call,
                state.config.rpc.gas_cap,
                &Default::default(),
            )?;
            request.gas = Some(gas);
        }
        Ok(request)
    }
}

impl DevRpcServer for DevApi {
    fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256> {
        let from = request
            .from
            .ok_or_else(|| RpcError::InvalidParams("from is required".into()))?;
        let signer = self.signer(from)?.clone();
        let _sending = self.sending.lock();
        let request = self.fill(request)?;
        let tx: TypedTransaction = request
            .build_typed_tx()
            .map_err(|_| RpcError::InvalidParams("incomplete transaction".into()))?;
        let signature = signer
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| RpcError::Internal(e.to_string()))?;
        let envelope: TxEnvelope = tx.into_signed(signature).into();
        submit_raw(&self.state, &envelope.encoded_2718())
    }

    fn sign(&self, address: Address, data: Bytes) -> RpcResult<Bytes> {
        self.sign_message(address, &data)
    }

    fn personal_sign(&self, data: Bytes, address: Address) -> RpcResult<Bytes> {
        self.sign_message(address, &data)
    }

    fn sign_typed_data(&self, address: Address, data: serde_json::Value) -> RpcResult<Bytes> {
        let invalid = |e: String| RpcError::InvalidParams(format!("invalid typed data: {e}"));
        let data = match data {
            serde_json::Value::String(text) => {
                serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?
            }
            other => other,
        };
        let typed: alloy_dyn_abi::TypedData =
            serde_json::from_value(data).map_err(|e| invalid(e.to_string()))?;
        let hash = typed
            .eip712_signing_hash()
            .map_err(|e| invalid(e.to_string()))?;
        let signature = self
            .signer(address)?
            .sign_hash_sync(&hash)
            .map_err(|e| RpcError::Internal(e.to_string()))?;
        Ok(signature.as_bytes().into())
    }

    fn mine(&self) -> RpcResult<String> {
        crate::sealer::seal_block(&self.state).map_err(|e| match e {
            outrigger_execution::BlockError::Store(error) => RpcError::from(error),
            other => RpcError::Internal(other.to_string()),
        })?;
        Ok("0x0".into())
    }
}

/// geth's one-line summary of a pooled transaction.
fn summary(tx: &Recovered<TxEnvelope>) -> String {
    let to = tx
        .to()
        .map_or_else(|| "contract creation".to_string(), |to| to.to_string());
    format!(
        "{to}: {} wei + {} gas × {} wei",
        tx.value(),
        tx.gas_limit(),
        tx.max_fee_per_gas()
    )
}

fn by_nonce<T>(
    txs: impl IntoIterator<Item = Arc<Recovered<TxEnvelope>>>,
    f: impl Fn(&Recovered<TxEnvelope>) -> T,
) -> ByNonce<T> {
    txs.into_iter()
        .map(|tx| (tx.nonce().to_string(), f(&tx)))
        .collect()
}

impl TxPoolRpcServer for DevApi {
    fn status(&self) -> RpcResult<TxPoolStatus> {
        let pool = self.state.pool.lock();
        Ok(TxPoolStatus {
            pending: U64::from(pool.pending_count()),
            queued: U64::from(pool.queued_count()),
        })
    }

    fn content(&self) -> RpcResult<TxPoolContent<Transaction>> {
        let content = self.state.pool.lock().content();
        let part = |map: BTreeMap<Address, BTreeMap<u64, Arc<Recovered<TxEnvelope>>>>| {
            map.into_iter()
                .map(|(sender, txs)| {
                    (
                        sender.to_checksum(None),
                        by_nonce(txs.into_values(), pending_transaction),
                    )
                })
                .collect()
        };
        Ok(TxPoolContent {
            pending: part(content.pending),
            queued: part(content.queued),
        })
    }

    fn content_from(&self, address: Address) -> RpcResult<SenderPool<Transaction>> {
        let content = self.state.pool.lock().content_from(address);
        Ok(SenderPool {
            pending: by_nonce(content.pending, pending_transaction),
            queued: by_nonce(content.queued, pending_transaction),
        })
    }

    fn inspect(&self) -> RpcResult<TxPoolContent<String>> {
        let content = self.state.pool.lock().content();
        let part = |map: BTreeMap<Address, BTreeMap<u64, Arc<Recovered<TxEnvelope>>>>| {
            map.into_iter()
                .map(|(sender, txs)| {
                    (
                        sender.to_checksum(None),
                        by_nonce(txs.into_values(), summary),
                    )
                })
                .collect()
        };
        Ok(TxPoolContent {
            pending: part(content.pending),
            queued: part(content.queued),
        })
    }
}
