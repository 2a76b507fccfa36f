//! Genesis: a geth-style `genesis.json` (`config`, `alloc`, `gasLimit`,
//! `baseFeePerGas`, `timestamp`, `extraData`, ...) plus an optional
//! `outrigger` section with consensus settings, and block 0 built from it.

use std::path::Path;

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, proofs};
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use revm::primitives::KECCAK_EMPTY;
use serde::{Deserialize, Serialize};

use crate::{
    block::{Block, ExecutedBlock},
    chain_spec::ChainSpec,
    state::{AccountChange, StateChanges, StorageUpdate, apply_slots, compute_state_update},
    store::{Store, StoreError},
    trie::{EmptyReader, Trie},
};

/// Errors reading a genesis or writing block 0.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("reading genesis {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON is not a valid genesis.
    #[error("invalid genesis: {0}")]
    Invalid(String),
    /// The store already holds a different chain.
    #[error("the data dir holds a chain with genesis {stored}, not this genesis {expected}")]
    Mismatch {
        /// The stored block 0 hash.
        stored: B256,
        /// This genesis' block 0 hash.
        expected: B256,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the validator set is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusMode {
    /// Proof of authority: a governance-managed set.
    #[default]
    Poa,
    /// Proof of stake: weighted by stake in the staking contract.
    Pos,
}

/// A validator in the genesis set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisValidator {
    /// The ed25519 consensus public key, hex.
    pub public_key: Bytes,
    /// Voting power.
    pub power: u64,
    /// Where this validator's block rewards go.
    #[serde(default)]
    pub fee_recipient: Address,
    /// The account that acts for this validator in the system contract:
    /// votes under proof of authority (required there), unstakes and
    /// withdraws under proof of stake (zero: nobody can).
    #[serde(default)]
    pub operator: Address,
}

/// Proof-of-authority settings (`PoAValidators.initialize`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PoaGenesis {
    /// The most validators a vote can grow the set to.
    pub max_validators: u64,
    /// Epochs a proposal stays open for votes.
    pub proposal_epochs: u64,
}

impl Default for PoaGenesis {
    fn default() -> Self {
        Self {
            max_validators: 100,
            proposal_epochs: 4,
        }
    }
}

/// Proof-of-stake settings (`PoSStaking.initialize`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PosGenesis {
    /// Least bonded stake (wei) to be eligible for the set.
    pub min_stake: U256,
    /// Wei of stake per unit of voting power.
    pub power_unit: U256,
    /// Largest set: the top stakes are chosen.
    pub max_validators: u64,
    /// Most registered candidates.
    pub max_candidates: u64,
    /// Epochs unstaked coin stays slashable before it can be withdrawn.
    pub unbonding_epochs: u64,
    /// Fraction of stake slashed for equivocation, in basis points.
    pub slash_bps: u16,
    /// Fraction of a slash paid to whoever reported the evidence, in basis
    /// points.
    pub reporter_reward_bps: u16,
}

impl Default for PosGenesis {
    fn default() -> Self {
        let ether = U256::from(10u64).pow(U256::from(18));
        Self {
            min_stake: ether,
            power_unit: ether,
            max_validators: 100,
            max_candidates: 1000,
            unbonding_epochs: 2,
            slash_bps: 500,
            reporter_reward_bps: 1000,
        }
    }
}

/// The `outrigger` section of a genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutriggerGenesis {
    /// Validator selection.
    #[serde(default)]
    pub consensus: ConsensusMode,
    /// The validator set at genesis.
    #[serde(default)]
    pub validators: Vec<GenesisValidator>,
    /// Blocks per epoch: validator sets change only at epoch boundaries.
    #[serde(default = "default_epoch_blocks")]
    pub epoch_blocks: u64,
    /// Whether blob (EIP-4844) transactions are accepted; Outrigger has no
    /// blob data layer, so this is off.
    #[serde(default)]
    pub blobs_enabled: bool,
    /// Proof-of-authority settings.
    #[serde(default)]
    pub poa: PoaGenesis,
    /// Proof-of-stake settings.
    #[serde(default)]
    pub pos: PosGenesis,
    /// Wei credited to the beneficiary of every block after genesis, on
    /// top of the priority fees.
    #[serde(default)]
    pub block_reward: U256,
}

fn default_epoch_blocks() -> u64 {
    10_000
}

impl Default for OutriggerGenesis {
    fn default() -> Self {
        Self {
            consensus: ConsensusMode::default(),
            validators: Vec::new(),
            epoch_blocks: default_epoch_blocks(),
            blobs_enabled: false,
            poa: PoaGenesis::default(),
            pos: PosGenesis::default(),
            block_reward: U256::ZERO,
        }
    }
}

/// A parsed genesis file.
#[derive(Clone, Debug)]
pub struct GenesisFile {
    /// The geth-style part.
    pub genesis: Genesis,
    /// Outrigger's consensus settings.
    pub outrigger: OutriggerGenesis,
}

impl GenesisFile {
    /// Parses a genesis JSON document.
    pub fn from_json(json: &str) -> Result<Self, GenesisError> {
        let mut value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| GenesisError::Invalid(e.to_string()))?;
        let outrigger = match value.as_object_mut().and_then(|o| o.remove("outrigger")) {
            Some(section) => serde_json::from_value(section)
                .map_err(|e| GenesisError::Invalid(format!("outrigger section: {e}")))?,
            None => OutriggerGenesis::default(),
        };
        let mut genesis: Genesis =
            serde_json::from_value(value).map_err(|e| GenesisError::Invalid(e.to_string()))?;
        if genesis.gas_limit == 0 {
            return Err(GenesisError::Invalid("gasLimit must be above zero".into()));
        }
        if outrigger.epoch_blocks == 0 {
            return Err(GenesisError::Invalid(
                "outrigger.epochBlocks must be above zero".into(),
            ));
        }
        for validator in &outrigger.validators {
            if validator.public_key.len() != 32 {
                return Err(GenesisError::Invalid(format!(
                    "validator key {} is not 32 bytes",
                    validator.public_key
                )));
            }
        }
        if !outrigger.validators.is_empty() {
            crate::system::install(&mut genesis, &outrigger)?;
        }
        Ok(Self { genesis, outrigger })
    }

    /// The validator set of epoch 0, if the chain has one.
    pub fn genesis_set(&self) -> Option<crate::system::EpochSet> {
        crate::system::genesis_set(&self.outrigger)
    }

    /// Reads and parses a genesis file.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let json = std::fs::read_to_string(path).map_err(|source| GenesisError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&json)
    }

    /// The chain specification this genesis describes.
    pub fn chain_spec(&self) -> ChainSpec {
        let mut spec =
            ChainSpec::from_chain_config(&self.genesis.config, self.outrigger.blobs_enabled);
        if !self.outrigger.validators.is_empty() {
            spec.epochs = Some(crate::system::Epochs {
                blocks: self.outrigger.epoch_blocks,
                block_reward: self.outrigger.block_reward,
            });
        }
        spec
    }
}

/// The state changes that create the `alloc` accounts.
pub fn alloc_changes<'a>(
    alloc: impl IntoIterator<Item = (&'a Address, &'a GenesisAccount)>,
) -> StateChanges {
    let mut changes = StateChanges::default();
    for (address, account) in alloc {
        let code = account.code.clone().filter(|c| !c.is_empty());
        let code_hash = code.as_ref().map_or(KECCAK_EMPTY, keccak256);
        if let Some(code) = code {
            changes.code.push((code_hash, code));
        }
        changes.accounts.push((
            *address,
            Some(AccountChange {
                nonce: account.nonce.unwrap_or_default(),
                balance: account.balance,
                code_hash,
            }),
        ));
        let slots: Vec<(B256, U256)> = account
            .storage
            .iter()
            .flatten()
            .map(|(slot, value)| (*slot, U256::from_be_bytes(value.0)))
            .filter(|(_, value)| !value.is_zero())
            .collect();
        if !slots.is_empty() {
            changes.storage.push(StorageUpdate {
                address: *address,
                wipe: false,
                slots,
                prior: Vec::new(),
            });
        }
    }
    changes
}

/// The state root of `alloc`, computed in memory.
pub fn alloc_state_root(
    alloc: &std::collections::BTreeMap<Address, GenesisAccount>,
) -> Result<B256, GenesisError> {
    let changes = alloc_changes(alloc);
    let mut storage_roots = std::collections::HashMap::new();
    for update in &changes.storage {
        let mut trie = Trie::new(EmptyReader, EMPTY_ROOT_HASH);
        apply_slots(&mut trie, &update.slots)?;
        storage_roots.insert(update.address, trie.root());
    }
    let mut trie = Trie::new(EmptyReader, EMPTY_ROOT_HASH);
    for (address, account) in &changes.accounts {
        let Some(account) = account else { continue };
        let leaf = alloy_trie::TrieAccount {
            nonce: account.nonce,
            balance: account.balance,
            storage_root: storage_roots
                .get(address)
                .copied()
                .unwrap_or(EMPTY_ROOT_HASH),
            code_hash: account.code_hash,
        };
        trie.insert(keccak256(address).as_slice(), alloy_rlp::encode(leaf))
            .map_err(StoreError::from)?;
    }
    Ok(trie.root())
}

/// Block 0's header for `genesis` with the given state root: the fields
/// each fork active at genesis requires are set as geth sets them.
pub fn genesis_header(genesis: &Genesis, spec: &ChainSpec, state_root: B256) -> Header {
    let ts = genesis.timestamp;
    let london = spec.is_london_active_at_block(0);
    let shanghai = spec.is_shanghai_active_at_timestamp(ts);
    let cancun = spec.is_cancun_active_at_timestamp(ts);
    let prague = spec.is_prague_active_at_timestamp(ts);
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: ts,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas: london.then(|| {
            genesis
                .base_fee_per_gas
                .map_or(INITIAL_BASE_FEE, |fee| fee as u64)
        }),
        withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or_default()),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or_default()),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
        block_access_list_hash: None,
        slot_number: None,
    }
}

/// Block 0 with its state, ready to commit.
pub fn genesis_block(
    store: &Store,
    file: &GenesisFile,
    spec: &ChainSpec,
) -> Result<ExecutedBlock, GenesisError> {
    let genesis = &file.genesis;
    let state = compute_state_update(store, EMPTY_ROOT_HASH, alloc_changes(&genesis.alloc))?;
    let header = genesis_header(genesis, spec, state.state_root);
    let body = alloy_consensus::BlockBody {
        transactions: Vec::new(),
        ommers: Vec::new(),
        withdrawals: header.withdrawals_root.map(|_| Default::default()),
    };
    let hash = header.hash_slow();
    debug_assert_eq!(
        proofs::calculate_transaction_root::<alloy_consensus::TxEnvelope>(&[]),
        EMPTY_ROOT_HASH
    );
    Ok(ExecutedBlock {
        block: Block { header, body },
        hash,
        senders: Vec::new(),
        receipts: Vec::new(),
        state,
        epoch_set: file.genesis_set(),
    })
}

/// Writes block 0 into an empty store, or checks that the store's block 0
/// is this genesis. Returns block 0's hash.
pub fn init_genesis(
    store: &Store,
    file: &GenesisFile,
    spec: &ChainSpec,
) -> Result<B256, GenesisError> {
    let genesis = &file.genesis;
    if store.head_number()?.is_some() {
        let stored = store.block_hash(0)?.unwrap_or_default();
        let header = genesis_header(genesis, spec, alloc_state_root(&genesis.alloc)?);
        let expected = header.hash_slow();
        if stored != expected {
            return Err(GenesisError::Mismatch { stored, expected });
        }
        return Ok(stored);
    }
    let block = genesis_block(store, file, spec)?;
    store.commit_block(&block)?;
    Ok(block.hash)
}

/// A `config` section with every fork up to the latest mainnet fork that
/// revm supports (Osaka) active from genesis: how a new chain starts.
pub fn latest_fork_config(chain_id: u64) -> alloy_genesis::ChainConfig {
    alloy_genesis::ChainConfig {
        chain_id,
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(0),
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        shanghai_time: Some(0),
        cancun_time: Some(0),
        prague_time: Some(0),
        osaka_time: Some(0),
        ..Default::default()
    }
}

/// A development genesis: the latest fork from block 0, a 1 gwei initial
/// base fee, and `funded` accounts with their balances.
pub fn dev_genesis(chain_id: u64, gas_limit: u64, funded: &[(Address, U256)]) -> GenesisFile {
    let alloc = funded
        .iter()
        .map(|(address, balance)| (*address, GenesisAccount::default().with_balance(*balance)))
        .collect();
    let genesis = Genesis {
        config: latest_fork_config(chain_id),
        gas_limit,
        base_fee_per_gas: Some(INITIAL_BASE_FEE as u128),
        alloc,
        ..Default::default()
    };
    GenesisFile {
        genesis,
        outrigger: OutriggerGenesis::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    const GETH_STYLE: &str = r#"{
        "config": {
            "chainId": 7777, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0,
            "eip158Block": 0, "byzantiumBlock": 0, "constantinopleBlock": 0,
            "petersburgBlock": 0, "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 0,
            "terminalTotalDifficulty": 0, "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0
        },
        "gasLimit": "0x1c9c380",
        "baseFeePerGas": "0x7",
        "timestamp": "0x5",
        "extraData": "0x0102",
        "alloc": {
            "0x00000000000000000000000000000000000000aa": {
                "balance": "0x10", "nonce": "0x2", "code": "0x6000",
                "storage": { "0x0000000000000000000000000000000000000000000000000000000000000001": "0x0000000000000000000000000000000000000000000000000000000000000009" }
            }
        },
        "outrigger": { "consensus": "pos", "epochBlocks": 100, "validators": [] }
    }"#;

    #[test]
    fn reads_geth_style_genesis_with_outrigger_section() {
        let file = GenesisFile::from_json(GETH_STYLE).unwrap();
        assert_eq!(file.genesis.config.chain_id, 7777);
        assert_eq!(file.outrigger.consensus, ConsensusMode::Pos);
        assert_eq!(file.outrigger.epoch_blocks, 100);
        assert!(!file.outrigger.blobs_enabled);
        let spec = file.chain_spec();
        assert_eq!(
            spec.spec_at(0, 5),
            revm::primitives::hardfork::SpecId::PRAGUE
        );

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let hash = init_genesis(&store, &file, &spec).unwrap();
        let header = store.header(0).unwrap().unwrap();
        assert_eq!(header.hash_slow(), hash);
        assert_eq!(header.base_fee_per_gas, Some(7));
        assert_eq!(header.timestamp, 5);
        assert_eq!(header.extra_data.as_ref(), &[1, 2]);
        assert_eq!(header.requests_hash, Some(EMPTY_REQUESTS_HASH));
        let account = store
            .account(Address::with_last_byte(0xaa))
            .unwrap()
            .unwrap();
        assert_eq!((account.nonce, account.balance), (2, U256::from(16)));
        assert_eq!(
            store
                .storage(Address::with_last_byte(0xaa), B256::with_last_byte(1))
                .unwrap(),
            U256::from(9)
        );
        // Reopening with the same genesis is fine; another genesis is refused.
        assert_eq!(init_genesis(&store, &file, &spec).unwrap(), hash);
        let mut other = file.clone();
        other.genesis.timestamp = 6;
        let err = init_genesis(&store, &other, &spec).unwrap_err();
        assert!(matches!(err, GenesisError::Mismatch { .. }), "{err}");
        let mut other = file.clone();
        other
            .genesis
            .alloc
            .values_mut()
            .for_each(|a| a.balance += U256::from(1));
        let err = init_genesis(&store, &other, &spec).unwrap_err();
        assert!(
            matches!(err, GenesisError::Mismatch { .. }),
            "a changed alloc: {err}"
        );
        assert_eq!(
            alloc_state_root(&file.genesis.alloc).unwrap(),
            header.state_root
        );
    }

    #[test]
    fn bad_genesis_files_say_what_is_wrong() {
        let unknown = GETH_STYLE.replace("\"epochBlocks\"", "\"epochBlokcs\"");
        let err = GenesisFile::from_json(&unknown).unwrap_err().to_string();
        assert!(
            err.contains("outrigger section") && err.contains("epochBlokcs"),
            "{err}"
        );
        let err = GenesisFile::from_json("{ not json")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid genesis"), "{err}");
        let zero_gas = GETH_STYLE.replace("0x1c9c380", "0x0");
        assert!(
            GenesisFile::from_json(&zero_gas)
                .unwrap_err()
                .to_string()
                .contains("gasLimit")
        );
    }
}
