//! Tests that span Outrigger's crates and processes: multi-node, fault,
//! bridge end-to-end and real-client tests. The library holds what the
//! helper processes and the tests share.

pub mod anvil;
pub mod bench;
pub mod bridge_env;
pub mod byzantine;
pub mod children;
pub mod load;
pub mod node_process;
pub mod testnet;
pub mod wan;

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use outrigger_execution::{
    Chain, Store, StoreConfig,
    genesis::{GenesisFile, dev_genesis, init_genesis},
};

/// Chain id of the test chains.
pub const CHAIN_ID: u64 = 1337;

/// Number of funded senders in [`load_genesis`].
pub const SENDERS: u8 = 8;

/// A deterministic test key (`n` must not be 0).
pub fn key(n: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(n)).expect("a non-zero key is valid")
}

/// A genesis with every fork at 0 and [`SENDERS`] funded accounts (keys 1..=8).
pub fn load_genesis() -> GenesisFile {
    let balance = U256::from(10u64).pow(U256::from(24u64));
    let funded: Vec<_> = (1..=SENDERS).map(|n| (key(n).address(), balance)).collect();
    dev_genesis(CHAIN_ID, 30_000_000, &funded)
}

/// Opens (creating if needed) a chain in `dir` with [`load_genesis`].
pub fn open_chain(dir: &std::path::Path, config: &StoreConfig) -> eyre::Result<Chain> {
    let genesis = load_genesis();
    let spec = Arc::new(genesis.chain_spec());
    let store = Arc::new(Store::open(dir, config)?);
    init_genesis(&store, &genesis, &spec)?;
    Ok(Chain::new(store, spec))
}

/// The recipient of transfer `index` in block `number`: a fresh address.
pub fn recipient(number: u64, index: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..8].copy_from_slice(&number.to_be_bytes());
    bytes[8..16].copy_from_slice(&index.to_be_bytes());
    bytes[19] = 0x01;
    Address::from(bytes)
}

/// Signs an EIP-1559 value transfer.
pub fn transfer(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: U256,
) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    Recovered::new_unchecked(sign(signer, tx), signer.address())
}

/// Signs an EIP-1559 transaction into its envelope.
pub fn sign(signer: &PrivateKeySigner, tx: TxEip1559) -> TxEnvelope {
    let signature = signer
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing a hash cannot fail");
    TxEnvelope::from(tx.into_signed(signature))
}

/// Signs an EIP-1559 transaction as the `0x` hex `eth_sendRawTransaction`
/// takes.
pub fn raw_hex(signer: &PrivateKeySigner, tx: TxEip1559) -> String {
    use alloy_eips::Encodable2718 as _;
    format!(
        "0x{}",
        alloy_primitives::hex::encode(sign(signer, tx).encoded_2718())
    )
}
