//! The Ethereum blockchain tests (Cancun release of the legacy tests),
//! through the same import path the node uses: pre-state written to
//! RocksDB, each RLP block decoded, checked, executed and committed, then
//! the head hash and the post-state compared. Blocks marked invalid must be
//! rejected and leave the head where it was.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use alloy_consensus::Block as AlloyBlock;
use alloy_genesis::{ChainConfig, GenesisAccount};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use outrigger_execution::{
    Block, Chain, ChainSpec, ExecutedBlock, Store, StoreConfig, genesis::alloc_changes,
    state::compute_state_update,
};
use rayon::prelude::*;
use serde::Deserialize;

use crate::fixtures;

/// Categories that only make sense on a proof-of-work chain with uncles,
/// total difficulty and reorgs; Outrigger has none of these.
const EXCLUDED_CATEGORIES: &[(&str, &str)] = &[
    ("bcUncleTest", "uncles"),
    ("bcUncleHeaderValidity", "uncles"),
    ("bcUncleSpecialTests", "uncles"),
    ("bcTotalDifficultyTest", "total difficulty"),
    ("bcForkStressTest", "fork choice"),
    ("bcMultiChainTest", "fork choice"),
];

/// Tests that depend on EIP-1283 net gas metering, which only the
/// "Constantinople" network has: it never activated anywhere (Petersburg
/// replaced it at the same block) and revm implements only Petersburg, so
/// Constantinople runs under Petersburg's rules and these two differ in gas.
const EIP_1283_TESTS: &[&str] = &[
    "refundReset_Constantinople",
    "src/GeneralStateTestsFiller/Pyspecs/paris/security/test_selfdestruct_balance_bug.py::test_tx_selfdestruct_balance_bug[fork_Constantinople-blockchain_test]",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Test {
    network: String,
    pre: BTreeMap<Address, FixtureAccount>,
    #[serde(rename = "genesisRLP")]
    genesis_rlp: Bytes,
    blocks: Vec<FixtureBlock>,
    lastblockhash: B256,
    post_state: Option<BTreeMap<Address, FixtureAccount>>,
    post_state_hash: Option<B256>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureBlock {
    rlp: Bytes,
    expect_exception: Option<String>,
    chainname: Option<String>,
}

#[derive(Deserialize)]
struct FixtureAccount {
    balance: U256,
    nonce: U256,
    code: Bytes,
    storage: BTreeMap<U256, U256>,
}

/// The chain config of a fixture network: every fork up to it at genesis.
fn network_config(network: &str) -> Option<ChainConfig> {
    let order = [
        "Frontier",
        "Homestead",
        "EIP150",
        "EIP158",
        "Byzantium",
        "Constantinople",
        "ConstantinopleFix",
        "Istanbul",
        "Berlin",
        "London",
        "Paris",
        "Shanghai",
        "Cancun",
    ];
    let (base, cancun_time) = match network {
        "ShanghaiToCancunAtTime15k" => ("Shanghai", Some(15_000)),
        other => (other, None),
    };
    let level = order.iter().position(|n| *n == base)?;
    let at = |fork: &str| {
        order
            .iter()
            .position(|n| *n == fork)
            .is_some_and(|i| i <= level)
            .then_some(0)
    };
    let mut config = ChainConfig {
        chain_id: 1,
        ..ChainConfig::default()
    };
    config.homestead_block = at("Homestead");
    config.eip150_block = at("EIP150");
    config.eip155_block = at("EIP158");
    config.eip158_block = at("EIP158");
    config.byzantium_block = at("Byzantium");
    config.constantinople_block = at("Constantinople");
    config.petersburg_block = at("ConstantinopleFix");
    config.istanbul_block = at("Istanbul");
    config.berlin_block = at("Berlin");
    config.london_block = at("London");
    if at("Paris").is_some() {
        config.terminal_total_difficulty = Some(U256::ZERO);
        config.terminal_total_difficulty_passed = true;
    }
    config.shanghai_time = at("Shanghai").map(|_| 0);
    config.cancun_time = at("Cancun").map(|_| 0).or(cancun_time);
    Some(config)
}

enum Outcome {
    Passed,
    Excluded(&'static str),
    Failed(String),
}

/// The fixture's pre-state as genesis `alloc` entries, so it goes through
/// the node's own genesis code.
fn pre_state_alloc(pre: &BTreeMap<Address, FixtureAccount>) -> BTreeMap<Address, GenesisAccount> {
    pre.iter()
        .map(|(address, account)| {
            let storage = account
                .storage
                .iter()
                .map(|(k, v)| (B256::from(*k), B256::from(*v)))
                .collect();
            let genesis = GenesisAccount {
                nonce: Some(account.nonce.to()),
                balance: account.balance,
                code: Some(account.code.clone()),
                storage: Some(storage),
                ..GenesisAccount::default()
            };
            (*address, genesis)
        })
        .collect()
}

fn run_test(name: &str, test: &Test, dir: &Path) -> Outcome {
    let Some(config) = network_config(&test.network) else {
        return Outcome::Failed(format!("unknown network {}", test.network));
    };
    if test.blocks.iter().any(|b| {
        b.chainname
            .as_deref()
            .is_some_and(|c| c != "A" && c != "default")
    }) {
        return Outcome::Excluded("fork choice");
    }
    if EIP_1283_TESTS.contains(&name) {
        return Outcome::Excluded("EIP-1283 (Constantinople without Petersburg)");
    }
    let spec = Arc::new(ChainSpec::from_chain_config(&config, true));
    let store_dir = dir.join(keccak256(name).to_string());
    let config = StoreConfig {
        sync_writes: false,
        cache_bytes: 8 << 20,
        history_blocks: outrigger_execution::store::ARCHIVE,
        // Thousands of short-lived stores: on disk, opening them dominates.
        in_memory: true,
    };
    let store = Arc::new(Store::open(&store_dir, &config).expect("open store"));
    let result = (|| -> Result<Option<&'static str>, String> {
        // Genesis: the pre-state and the fixture's genesis block.
        let genesis = Block::decode(&mut test.genesis_rlp.as_ref())
            .map_err(|e| format!("genesis rlp: {e}"))?;
        let state = compute_state_update(
            &store,
            alloy_trie::EMPTY_ROOT_HASH,
            alloc_changes(&pre_state_alloc(&test.pre)),
        )
        .map_err(|e| e.to_string())?;
        if state.state_root != genesis.header.state_root {
            return Err(format!(
                "genesis state root: computed {}, fixture {}",
                state.state_root, genesis.header.state_root
            ));
        }
        let hash = genesis.header.hash_slow();
        let genesis = ExecutedBlock {
            block: genesis,
            hash,
            senders: vec![],
            receipts: vec![],
            state,
            epoch_set: None,
        };
        store.commit_block(&genesis).map_err(|e| e.to_string())?;

        let chain = Chain::new(store.clone(), spec);
        for (i, block) in test.blocks.iter().enumerate() {
            let head_before = store.head_number().map_err(|e| e.to_string())?;
            let decoded: Result<AlloyBlock<_>, _> = Block::decode(&mut block.rlp.as_ref());
            // A valid block on top of something other than the last valid
            // block is a reorg: fork choice, which a BFT chain never does.
            if let (None, Ok(decoded)) = (&block.expect_exception, &decoded) {
                let head_hash = head_before.and_then(|n| store.block_hash(n).ok().flatten());
                if head_hash != Some(decoded.header.parent_hash) {
                    return Ok(Some("fork choice"));
                }
            }
            let imported = match decoded {
                Ok(decoded) => chain.import(decoded).map_err(|e| e.to_string()),
                Err(e) => Err(format!("rlp: {e}")),
            };
            match (&block.expect_exception, imported) {
                (None, Err(e)) => return Err(format!("block {i}: valid block rejected: {e}")),
                (Some(expected), Ok(hash)) => {
                    return Err(format!(
                        "block {i} ({hash}): invalid block ({expected}) accepted"
                    ));
                }
                (Some(_), Err(_)) => {
                    if store.head_number().map_err(|e| e.to_string())? != head_before {
                        return Err(format!("block {i}: rejected block moved the head"));
                    }
                }
                (None, Ok(_)) => {}
            }
        }
        let head = store.head().map_err(|e| e.to_string())?.ok_or("no head")?;
        if head.hash_slow() != test.lastblockhash {
            return Err(format!(
                "head {} is not lastblockhash {}",
                head.hash_slow(),
                test.lastblockhash
            ));
        }
        if let Some(root) = test.post_state_hash
            && head.state_root != root
        {
            return Err(format!("post state root {} is not {root}", head.state_root));
        }
        for (address, expected) in test.post_state.iter().flatten() {
            let account = store.account(*address).map_err(|e| e.to_string())?;
            let account = account.ok_or_else(|| format!("post-state account {address} missing"))?;
            if account.balance != expected.balance || U256::from(account.nonce) != expected.nonce {
                return Err(format!(
                    "post-state account {address}: balance/nonce differ"
                ));
            }
            let code = store
                .code(account.code_hash)
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            if code != expected.code {
                return Err(format!("post-state account {address}: code differs"));
            }
            for (slot, value) in &expected.storage {
                let got = store
                    .storage(*address, B256::from(*slot))
                    .map_err(|e| e.to_string())?;
                if got != *value {
                    return Err(format!(
                        "post-state {address} slot {slot}: {got} != {value}"
                    ));
                }
            }
        }
        check_genesis_through_history(&store, test)?;
        Ok(None)
    })();
    drop(store);
    let _ = std::fs::remove_dir_all(&store_dir);
    match result {
        Ok(None) => Outcome::Passed,
        Ok(Some(why)) => Outcome::Excluded(why),
        Err(e) => Outcome::Failed(e),
    }
}

/// The state at block 0, read back through the history every later block
/// recorded, is the fixture's pre-state; accounts the blocks created did not
/// exist yet.
fn check_genesis_through_history(store: &Store, test: &Test) -> Result<(), String> {
    let at_genesis = store.state_at(0).map_err(|e| e.to_string())?;
    for (address, expected) in &test.pre {
        let account = at_genesis.account(*address).map_err(|e| e.to_string())?;
        let (balance, nonce, code_hash) = account
            .map_or((U256::ZERO, 0, alloy_primitives::KECCAK256_EMPTY), |a| {
                (a.balance, a.nonce, a.code_hash)
            });
        if balance != expected.balance || U256::from(nonce) != expected.nonce {
            return Err(format!(
                "history: {address} at genesis: balance/nonce differ"
            ));
        }
        let code = at_genesis
            .code(code_hash)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        if code != expected.code {
            return Err(format!("history: {address} at genesis: code differs"));
        }
        for (slot, value) in &expected.storage {
            let got = at_genesis
                .storage(*address, B256::from(*slot))
                .map_err(|e| e.to_string())?;
            if got != *value {
                return Err(format!(
                    "history: {address} slot {slot} at genesis: {got} != {value}"
                ));
            }
        }
    }
    for address in test.post_state.iter().flatten().map(|(a, _)| a) {
        if !test.pre.contains_key(address)
            && at_genesis
                .account(*address)
                .map_err(|e| e.to_string())?
                .is_some()
        {
            return Err(format!("history: {address} exists at genesis"));
        }
    }
    Ok(())
}

#[test]
fn ethereum_blockchain_tests() {
    let unpacked = fixtures::unpack("ethereum-tests/blockchain-cancun.tgz");
    let stores = tempfile::tempdir().expect("temp dir");
    let filter = std::env::var("BLOCKCHAIN_TEST_FILTER").unwrap_or_default();
    let files = fixtures::json_files(unpacked.path());
    assert!(
        files.len() > 500,
        "found only {} fixture files",
        files.len()
    );
    let outcomes: Vec<(String, Outcome)> = files
        .par_iter()
        .filter(|path| path.to_string_lossy().contains(&filter))
        .flat_map_iter(|path| {
            let excluded = EXCLUDED_CATEGORIES
                .iter()
                .find(|(dir, _)| path.components().any(|c| c.as_os_str() == *dir))
                .map(|(_, why)| *why);
            let json = std::fs::read_to_string(path).expect("readable fixture");
            let tests: BTreeMap<String, serde_json::Value> =
                serde_json::from_str(&json).expect("fixture JSON");
            let stores = stores.path().to_path_buf();
            tests.into_iter().map(move |(name, value)| {
                let outcome = match excluded {
                    Some(why) => Outcome::Excluded(why),
                    None => match serde_json::from_value::<Test>(value) {
                        Ok(test) => run_test(&name, &test, &stores),
                        Err(e) => Outcome::Failed(format!("fixture format: {e}")),
                    },
                };
                (name, outcome)
            })
        })
        .collect();
    let (mut passed, mut failed, mut excluded) = (0, Vec::new(), BTreeMap::<&str, usize>::new());
    for (name, outcome) in &outcomes {
        match outcome {
            Outcome::Passed => passed += 1,
            Outcome::Excluded(why) => *excluded.entry(why).or_default() += 1,
            Outcome::Failed(reason) => failed.push((name, reason)),
        }
    }
    for (name, reason) in failed.iter().take(50) {
        println!("FAILED {name}: {reason}");
    }
    let excluded_total: usize = excluded.values().sum();
    println!(
        "blockchain tests: {passed} passed, {} failed, {excluded_total} excluded {excluded:?}",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} blockchain tests failed",
        failed.len()
    );
    assert!(passed > 0, "no blockchain test ran");
}
