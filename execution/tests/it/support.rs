//! Shared helpers: a dev chain in a temp dir, signed transactions, and a
//! transaction source for the builder.

use std::{collections::VecDeque, sync::Arc};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use outrigger_execution::{
    BlockAttributes, Chain, ExecutedBlock, Store, StoreConfig,
    executor::TransactionSource,
    genesis::{GenesisFile, dev_genesis, init_genesis},
};

/// Chain id of the test chains.
pub(crate) const CHAIN_ID: u64 = 1337;

/// A genesis with every fork at 0 and the given funded accounts.
pub(crate) fn genesis_json(funded: &[(Address, U256)]) -> GenesisFile {
    dev_genesis(CHAIN_ID, 30_000_000, funded)
}

/// Bytecode of contract `name` in `tests/data/TestToken.json`.
pub(crate) fn bytecode(name: &str) -> Bytes {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../data/TestToken.json")).expect("artifact JSON");
    json[name]["bytecode"]
        .as_str()
        .expect("bytecode")
        .parse()
        .expect("hex")
}

/// An ABI word holding `value`.
pub(crate) fn word(value: impl Into<U256>) -> [u8; 32] {
    value.into().to_be_bytes()
}

/// An ABI word holding `address`.
pub(crate) fn address_word(address: Address) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[12..].copy_from_slice(address.as_slice());
    out
}

/// Call data: the selector of `signature`, then the argument words.
pub(crate) fn calldata(signature: &str, args: &[[u8; 32]]) -> Bytes {
    let mut data = keccak256(signature.as_bytes())[..4].to_vec();
    for arg in args {
        data.extend_from_slice(arg);
    }
    data.into()
}

/// TestToken's storage slot of `balanceOf[holder]` (a mapping at slot 0).
pub(crate) fn balance_slot(holder: Address) -> B256 {
    keccak256([address_word(holder), [0u8; 32]].concat())
}

/// A chain in a temp dir, initialised from `genesis`.
pub(crate) struct TestChain {
    /// The data dir, removed on drop.
    _dir: tempfile::TempDir,
    /// The chain.
    pub(crate) chain: Chain,
}

impl TestChain {
    pub(crate) fn new(genesis: &GenesisFile) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let chain = open_chain(dir.path(), genesis);
        Self { _dir: dir, chain }
    }

    /// Closes the chain and opens it again on the same data dir, keeping
    /// `history_blocks` of state from now on.
    pub(crate) fn reopen(self, genesis: &GenesisFile, history_blocks: u64) -> Self {
        let Self { _dir: dir, chain } = self;
        drop(chain);
        let chain = open_chain_with(dir.path(), genesis, history_blocks);
        Self { _dir: dir, chain }
    }

    /// A chain that keeps the state of the last `history_blocks` blocks.
    pub(crate) fn with_history(genesis: &GenesisFile, history_blocks: u64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let chain = open_chain_with(dir.path(), genesis, history_blocks);
        Self { _dir: dir, chain }
    }

    pub(crate) fn store(&self) -> &Store {
        self.chain.store()
    }

    /// Builds and commits the next block from `txs`, one second after the
    /// head.
    pub(crate) fn build(&self, txs: Vec<Recovered<TxEnvelope>>) -> ExecutedBlock {
        let head = self.store().head().expect("store").expect("genesis");
        let attributes = BlockAttributes {
            timestamp: head.timestamp + 1,
            beneficiary: Address::repeat_byte(0xfe),
            gas_limit: head.gas_limit,
            extra_data: Bytes::new(),
            prev_randao: B256::repeat_byte(7),
        };
        let executed = self
            .chain
            .build(&attributes, &mut VecSource::new(txs))
            .expect("build");
        self.chain.commit(&executed).expect("commit");
        executed
    }
}

/// Opens (or reopens) a chain in `dir`.
pub(crate) fn open_chain(dir: &std::path::Path, genesis: &GenesisFile) -> Chain {
    open_chain_with(dir, genesis, StoreConfig::default().history_blocks)
}

/// Opens (or reopens) a chain in `dir` keeping `history_blocks` of state.
pub(crate) fn open_chain_with(
    dir: &std::path::Path,
    genesis: &GenesisFile,
    history_blocks: u64,
) -> Chain {
    let spec = Arc::new(genesis.chain_spec());
    let config = StoreConfig {
        sync_writes: false,
        history_blocks,
        ..StoreConfig::default()
    };
    let store = Arc::new(Store::open(dir, &config).expect("open store"));
    init_genesis(&store, genesis, &spec).expect("init genesis");
    Chain::new(store, spec)
}

/// Candidates in the given order.
pub(crate) struct VecSource {
    txs: VecDeque<Recovered<TxEnvelope>>,
    skipped: Vec<Address>,
}

impl VecSource {
    pub(crate) fn new(txs: Vec<Recovered<TxEnvelope>>) -> Self {
        Self {
            txs: txs.into(),
            skipped: Vec::new(),
        }
    }
}

impl TransactionSource for VecSource {
    fn next_transaction(&mut self) -> Option<Recovered<TxEnvelope>> {
        while let Some(tx) = self.txs.pop_front() {
            if !self.skipped.contains(&tx.signer()) {
                return Some(tx);
            }
        }
        None
    }

    fn skip_sender(&mut self, sender: Address) {
        self.skipped.push(sender);
    }
}

/// A deterministic test key.
pub(crate) fn key(n: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(n)).expect("valid key")
}

/// Signs an EIP-1559 transaction.
pub(crate) fn eip1559(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Recovered::new_unchecked(
        TxEnvelope::from(tx.into_signed(signature)),
        signer.address(),
    )
}
