//! The state-read methods of the `eth` namespace: balances, nonces, code,
//! storage and EIP-1186 proofs, at the head or at a block within the kept
//! history.

use std::collections::BTreeMap;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use jsonrpsee::proc_macros::rpc;

use super::EthApi;
use crate::rpc::error::{RpcError, RpcResult};

/// The `eth` methods that read accounts and storage. A point read (one
/// account, slot or code) runs on the connection's task: it costs a few
/// microseconds, less than handing it to the blocking pool and back.
/// Reads of many keys or trie paths go to the blocking pool.
#[rpc(server)]
pub trait EthStateRpc {
    /// Balance of an account, in wei.
    #[method(name = "eth_getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Nonce of an account; with `pending`, counting its pooled transactions.
    #[method(name = "eth_getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Code of an account.
    #[method(name = "eth_getCode")]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// One storage slot of an account.
    #[method(name = "eth_getStorageAt")]
    fn storage_at(
        &self,
        address: Address,
        slot: StorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;
    /// Several storage slots of several accounts, read in one state.
    #[method(name = "eth_getStorageValues", blocking)]
    fn storage_values(
        &self,
        requests: BTreeMap<Address, Vec<StorageKey>>,
        block: Option<BlockId>,
    ) -> RpcResult<BTreeMap<Address, Vec<B256>>>;
    /// Account and storage proofs (EIP-1186).
    #[method(name = "eth_getProof", blocking)]
    fn proof(
        &self,
        address: Address,
        slots: Vec<StorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;
}

/// Most storage slots one `eth_getProof` or `eth_getStorageValues` reads.
const MAX_STORAGE_KEYS: usize = 1024;

/// A storage slot parameter: hex of at most 32 bytes, left-padded, as geth
/// reads it (a longer key is refused, not truncated or reduced).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StorageKey(B256);

impl<'de> serde::Deserialize<'de> for StorageKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let text = String::deserialize(deserializer)?;
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .ok_or_else(|| D::Error::custom(format!("storage key without 0x prefix: {text:?}")))?;
        if digits.len() > 64 {
            return Err(D::Error::custom(format!(
                "storage key too long (want at most 32 bytes): {text:?}"
            )));
        }
        let padded = format!("{digits:0>64}");
        let bytes = alloy_primitives::hex::decode(&padded)
            .map_err(|_| D::Error::custom(format!("invalid hex in storage key: {text:?}")))?;
        Ok(Self(B256::from_slice(&bytes)))
    }
}

impl EthStateRpcServer for EthApi {
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let (_, state) = self.state_at(block)?;
        Ok(state
            .account(address)?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let pending = block == Some(BlockId::Number(BlockNumberOrTag::Pending));
        let (_, state) = self.state_at(block)?;
        let nonce = state.account(address)?.map(|a| a.nonce).unwrap_or_default();
        let pooled = pending
            .then(|| self.state.pool.lock().pending_nonce(address))
            .flatten();
        Ok(U256::from(pooled.map_or(nonce, |p| p.max(nonce))))
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let (_, state) = self.state_at(block)?;
        let Some(account) = state.account(address)? else {
            return Ok(Bytes::new());
        };
        Ok(state.code(account.code_hash)?.unwrap_or_default())
    }

    fn storage_at(
        &self,
        address: Address,
        slot: StorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let (_, state) = self.state_at(block)?;
        let value = state.storage(address, slot.0)?;
        Ok(B256::from(value))
    }

    fn storage_values(
        &self,
        requests: BTreeMap<Address, Vec<StorageKey>>,
        block: Option<BlockId>,
    ) -> RpcResult<BTreeMap<Address, Vec<B256>>> {
        if requests.is_empty() {
            return Err(RpcError::InvalidParams("empty request".into()));
        }
        let keys: usize = requests.values().map(Vec::len).sum();
        if keys > MAX_STORAGE_KEYS {
            return Err(RpcError::LimitExceeded(format!(
                "too many storage keys: {keys} (limit {MAX_STORAGE_KEYS})"
            )));
        }
        let (_, state) = self.state_at(block)?;
        requests
            .into_iter()
            .map(|(address, slots)| {
                let values = slots
                    .iter()
                    .map(|slot| Ok(B256::from(state.storage(address, slot.0)?)))
                    .collect::<RpcResult<Vec<_>>>()?;
                Ok((address, values))
            })
            .collect()
    }

    fn proof(
        &self,
        address: Address,
        slots: Vec<StorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        if slots.len() > MAX_STORAGE_KEYS {
            return Err(RpcError::LimitExceeded(format!(
                "too many storage keys: {} (limit {MAX_STORAGE_KEYS})",
                slots.len()
            )));
        }
        let (_, state) = self.state_at(block)?;
        let keys: Vec<B256> = slots.iter().map(|s| s.0).collect();
        let proof = state.proof(address, &keys)?;
        let account = proof.account.unwrap_or_default();
        let empty = proof.account.is_none();
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: if empty {
                alloy_primitives::KECCAK256_EMPTY
            } else {
                account.code_hash
            },
            nonce: account.nonce,
            storage_hash: if empty {
                alloy_trie::EMPTY_ROOT_HASH
            } else {
                account.storage_root
            },
            account_proof: proof.proof,
            storage_proof: proof
                .storage
                .into_iter()
                .map(|s| EIP1186StorageProof {
                    key: alloy_serde::JsonStorageKey::from(s.slot),
                    value: s.value,
                    proof: s.proof,
                })
                .collect(),
        })
    }
}
