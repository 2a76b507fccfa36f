//! Tests of the pool's behaviour as RPC users and the block builder see it,
//! with real secp256k1-signed transactions.

mod behaviour;
mod fuzz;
mod rejections;

use std::collections::HashMap;

use alloy_consensus::{
    SignableTransaction, Signed, TxEip1559, TxEip7702, TxEnvelope, TxLegacy,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use revm::primitives::hardfork::SpecId;

use super::{AccountState, ChainParams, HeadParams, Pool, PoolAccount, PoolConfig, PoolResult};

/// The test chain's id.
const CHAIN_ID: u64 = 7777;
/// One gwei, in wei.
const GWEI: u128 = 1_000_000_000;
/// Base fee of the test head.
const BASE_FEE: u64 = 1_000_000_000;
/// Where test transfers go.
const TO: Address = address!("0x00000000000000000000000000000000000000aa");

/// A deterministic signing key; `seed` must be non-zero.
fn key(seed: u8) -> PrivateKeySigner {
    let mut bytes = [0u8; 32];
    bytes[31] = seed;
    bytes[0] = 0x11;
    PrivateKeySigner::from_bytes(&B256::from(bytes)).expect("a valid secp256k1 scalar")
}

/// The address of `key`.
fn addr(key: &PrivateKeySigner) -> Address {
    key.address()
}

/// Signs `tx` with `key` and recovers it, as the RPC layer would.
fn sign<T>(key: &PrivateKeySigner, tx: T) -> Recovered<TxEnvelope>
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<Signed<T>>,
{
    let sig = key
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing a 32-byte hash");
    TxEnvelope::from(tx.into_signed(sig))
        .try_into_recovered()
        .expect("a freshly signed transaction recovers")
}

/// A 21,000-gas EIP-1559 transfer of 1 wei from `key` at `nonce`, fee cap
/// and tip in gwei, adjusted by `edit`.
fn eip1559_with(
    key: &PrivateKeySigner,
    nonce: u64,
    max_fee_gwei: u128,
    tip_gwei: u128,
    edit: impl FnOnce(&mut TxEip1559),
) -> Recovered<TxEnvelope> {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee_gwei * GWEI,
        max_priority_fee_per_gas: tip_gwei * GWEI,
        to: TxKind::Call(TO),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    edit(&mut tx);
    sign(key, tx)
}

/// A 21,000-gas EIP-1559 transfer, fee cap and tip in gwei.
fn eip1559(
    key: &PrivateKeySigner,
    nonce: u64,
    max_fee_gwei: u128,
    tip_gwei: u128,
) -> Recovered<TxEnvelope> {
    eip1559_with(key, nonce, max_fee_gwei, tip_gwei, |_| {})
}

/// A 21,000-gas legacy transfer at `gas_price_gwei`, with an EIP-155 chain id
/// or none.
fn legacy(
    key: &PrivateKeySigner,
    nonce: u64,
    gas_price_gwei: u128,
    chain_id: Option<u64>,
) -> Recovered<TxEnvelope> {
    sign(
        key,
        TxLegacy {
            chain_id,
            nonce,
            gas_price: gas_price_gwei * GWEI,
            gas_limit: 21_000,
            to: TxKind::Call(TO),
            value: U256::from(1),
            input: Bytes::new(),
        },
    )
}

/// An EIP-7702 transaction with an empty authorization list.
fn eip7702(key: &PrivateKeySigner, nonce: u64) -> Recovered<TxEnvelope> {
    sign(
        key,
        TxEip7702 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: 100_000,
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: TO,
            value: U256::ZERO,
            access_list: Default::default(),
            authorization_list: Vec::new(),
            input: Bytes::new(),
        },
    )
}

/// Accounts in memory; unknown accounts hold 1000 ETH at nonce 0.
#[derive(Debug, Default, Clone)]
struct MemState(HashMap<Address, PoolAccount>);

impl MemState {
    fn set(&mut self, address: Address, nonce: u64, balance: U256) {
        self.0.insert(address, PoolAccount { nonce, balance });
    }
}

impl AccountState for MemState {
    fn account(&self, address: Address) -> PoolResult<PoolAccount> {
        Ok(self.0.get(&address).copied().unwrap_or(PoolAccount {
            nonce: 0,
            balance: U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18)),
        }))
    }
}

/// The test head: base fee 1 gwei, 30M gas, Osaka.
fn head() -> HeadParams {
    HeadParams {
        base_fee: BASE_FEE,
        block_gas_limit: 30_000_000,
        spec: SpecId::OSAKA,
    }
}

/// A pool on the test chain with `config`.
fn pool_with(config: PoolConfig) -> Pool {
    Pool::new(
        config,
        ChainParams {
            chain_id: CHAIN_ID,
            blobs_allowed: false,
            head: head(),
        },
    )
}

/// A pool with the default configuration.
fn pool() -> Pool {
    pool_with(PoolConfig::default())
}

/// The hash of a recovered transaction.
fn hash(tx: &Recovered<TxEnvelope>) -> B256 {
    *tx.tx_hash()
}
