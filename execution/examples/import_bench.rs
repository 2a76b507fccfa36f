//! Import benchmark: prints, in one run, for blocks of ETH transfers and of
//! ERC20 transfers, raw revm's in-memory execution rate beside the full
//! import rate (recover senders + execute + state root + RocksDB commit),
//! and the commit cost per block at two state sizes.
//!
//! ```sh
//! cargo run --release -p outrigger-execution --example import_bench -- \
//!     --txs 2000 --blocks 5 --accounts 10000,1000000
//! ```
//! `--unsettled` times the commits right after the fill, while RocksDB is
//! still compacting it (the first figures were taken so).
//! CI runs it tiny (`--txs 50 --blocks 1 --accounts 1000,5000`) to keep it
//! working; only release figures mean anything.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_evm::FromRecoveredTx;
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use outrigger_execution::{
    Block, BlockAttributes, Chain, ExecutedBlock, Header, Store, StoreConfig,
    chain::recover_senders,
    executor::TransactionSource,
    genesis::{GenesisFile, dev_genesis, init_genesis},
    state::{AccountChange, StateChanges, StorageUpdate, compute_state_update},
};
use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    bytecode::Bytecode,
    context::TxEnv,
    database::{CacheDB, EmptyDB},
    primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

const CHAIN_ID: u64 = 1337;
const SENDERS: usize = 64;

struct Args {
    txs: usize,
    blocks: usize,
    accounts: Vec<usize>,
    /// Time the commits right after the fill, as the first runs did.
    unsettled: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        txs: 2000,
        blocks: 5,
        accounts: vec![10_000, 1_000_000],
        unsettled: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--unsettled" {
            args.unsettled = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--txs" => args.txs = value.parse().expect("--txs N"),
            "--blocks" => args.blocks = value.parse().expect("--blocks N"),
            "--accounts" => {
                args.accounts = value
                    .split(',')
                    .map(|v| v.parse().expect("--accounts A,B"))
                    .collect()
            }
            other => {
                panic!("unknown flag {other}; flags: --txs N --blocks N --accounts A,B --unsettled")
            }
        }
    }
    args
}

fn signer(n: usize) -> PrivateKeySigner {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(n as u64 + 1).to_be_bytes());
    PrivateKeySigner::from_bytes(&B256::from(bytes)).expect("valid key")
}

fn sign(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas: u64,
) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
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

/// The token's runtime code and the storage slot of `balanceOf[holder]`.
fn token_runtime() -> Bytes {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../tests/data/TestToken.json")).expect("artifact");
    let mut init: Vec<u8> = json["TestToken"]["bytecode"]
        .as_str()
        .unwrap()
        .parse::<Bytes>()
        .unwrap()
        .to_vec();
    init.extend_from_slice(&U256::from(1u64).to_be_bytes::<32>());
    let mut evm = Context::mainnet()
        .with_db(CacheDB::new(EmptyDB::default()))
        .build_mainnet();
    let tx = TxEnv::builder()
        .kind(TxKind::Create)
        .data(init.into())
        .gas_limit(5_000_000)
        .chain_id(Some(1))
        .build()
        .unwrap();
    match evm.transact_commit(tx).expect("deploy") {
        revm::context::result::ExecutionResult::Success { output, .. } => {
            let address = output.address().copied().expect("created");
            evm.ctx.journaled_state.database.cache.accounts[&address]
                .info
                .code
                .clone()
                .unwrap()
                .original_bytes()
        }
        other => panic!("token deployment failed: {other:?}"),
    }
}

fn balance_slot(holder: Address) -> B256 {
    let mut word = [0u8; 64];
    word[12..32].copy_from_slice(holder.as_slice());
    keccak256(word)
}

const TOKEN: Address = Address::repeat_byte(0x70);

fn transfer_call(to: Address, amount: u64) -> Bytes {
    let mut data = keccak256("transfer(address,uint256)")[..4].to_vec();
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(to.as_slice());
    data.extend_from_slice(&U256::from(amount).to_be_bytes::<32>());
    data.into()
}

#[derive(Clone, Copy)]
enum Workload {
    Eth,
    Erc20,
}

fn workload_txs(
    kind: Workload,
    blocks: usize,
    per_block: usize,
    signers: &[PrivateKeySigner],
) -> Vec<Vec<Recovered<TxEnvelope>>> {
    let mut nonces = vec![0u64; signers.len()];
    (0..blocks)
        .map(|b| {
            (0..per_block)
                .map(|i| {
                    let s = i % signers.len();
                    let to =
                        Address::from_word(keccak256(((b * per_block + i) as u64).to_be_bytes()));
                    let tx = match kind {
                        Workload::Eth => sign(
                            &signers[s],
                            nonces[s],
                            to,
                            U256::from(1u64),
                            Bytes::new(),
                            21_000,
                        ),
                        Workload::Erc20 => sign(
                            &signers[s],
                            nonces[s],
                            TOKEN,
                            U256::ZERO,
                            transfer_call(to, 1),
                            80_000,
                        ),
                    };
                    nonces[s] += 1;
                    tx
                })
                .collect()
        })
        .collect()
}

fn genesis(signers: &[PrivateKeySigner], token_code: &Bytes) -> GenesisFile {
    let balance = U256::from(u128::MAX);
    let funded: Vec<_> = signers.iter().map(|s| (s.address(), balance)).collect();
    let mut genesis = dev_genesis(CHAIN_ID, 10_000_000_000, &funded);
    let storage = signers
        .iter()
        .map(|s| {
            (
                balance_slot(s.address()),
                B256::from(U256::from(1u64 << 60)),
            )
        })
        .collect();
    let token = GenesisAccount::default()
        .with_code(Some(token_code.clone()))
        .with_storage(Some(storage));
    genesis.genesis.alloc.insert(TOKEN, token);
    genesis
}

fn open(dir: &std::path::Path, genesis: &GenesisFile) -> Chain {
    let spec = Arc::new(genesis.chain_spec());
    let store = Arc::new(Store::open(dir, &StoreConfig::default()).expect("store"));
    init_genesis(&store, genesis, &spec).expect("genesis");
    Chain::new(store, spec)
}

struct Queue(VecDeque<Recovered<TxEnvelope>>);
impl TransactionSource for Queue {
    fn next_transaction(&mut self) -> Option<Recovered<TxEnvelope>> {
        self.0.pop_front()
    }
    fn skip_sender(&mut self, sender: Address) {
        panic!("benchmark transaction from {sender} failed");
    }
}

fn attributes(parent: &Header) -> BlockAttributes {
    BlockAttributes {
        timestamp: parent.timestamp + 1,
        beneficiary: Address::repeat_byte(0xfe),
        gas_limit: parent.gas_limit,
        extra_data: Bytes::new(),
        prev_randao: B256::ZERO,
    }
}

/// Raw revm: the same transactions, senders known, on an in-memory DB.
fn raw_revm(
    blocks: &[Vec<Recovered<TxEnvelope>>],
    signers: &[PrivateKeySigner],
    token_code: &Bytes,
) -> (Duration, u64) {
    let mut db = CacheDB::new(EmptyDB::default());
    for signer in signers {
        db.insert_account_info(
            signer.address(),
            AccountInfo {
                balance: U256::MAX >> 8,
                nonce: 0,
                code_hash: KECCAK_EMPTY,
                ..Default::default()
            },
        );
        db.insert_account_storage(
            TOKEN,
            balance_slot(signer.address()).into(),
            U256::from(1u64 << 60),
        )
        .unwrap();
    }
    let code = Bytecode::new_raw(token_code.clone());
    db.insert_account_info(
        TOKEN,
        AccountInfo {
            code_hash: code.hash_slow(),
            code: Some(code),
            ..Default::default()
        },
    );
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|cfg| cfg.chain_id = CHAIN_ID)
        .modify_block_chained(|block| {
            block.basefee = 1_000_000_000;
            block.gas_limit = u64::MAX;
        })
        .build_mainnet();
    let txs: Vec<TxEnv> = blocks
        .iter()
        .flatten()
        .map(|tx| TxEnv::from_recovered_tx(tx.inner(), tx.signer()))
        .collect();
    let start = Instant::now();
    let mut gas = 0;
    for tx in txs {
        let result = evm.transact_commit(tx).expect("raw revm executes");
        assert!(result.is_success());
        gas += result.tx_gas_used();
    }
    (start.elapsed(), gas)
}

fn rate(count: usize, gas: u64, elapsed: Duration) -> (f64, f64) {
    let secs = elapsed.as_secs_f64();
    (count as f64 / secs, gas as f64 / secs / 1e6)
}

fn run_workload(
    name: &str,
    kind: Workload,
    args: &Args,
    signers: &[PrivateKeySigner],
    token_code: &Bytes,
) {
    let genesis = genesis(signers, token_code);
    let blocks = workload_txs(kind, args.blocks, args.txs, signers);
    let (raw_time, raw_gas) = raw_revm(&blocks, signers, token_code);

    // Build the blocks once (not timed), then import them on a fresh node.
    let producer_dir = tempfile::tempdir().unwrap();
    let producer = open(producer_dir.path(), &genesis);
    let built: Vec<Block> = blocks
        .iter()
        .map(|txs| {
            let head = producer.store().head().unwrap().unwrap();
            let executed = producer
                .build(&attributes(&head), &mut Queue(txs.clone().into()))
                .expect("build");
            assert_eq!(
                executed.block.body.transactions.len(),
                txs.len(),
                "every transaction included"
            );
            producer.commit(&executed).unwrap();
            executed.block
        })
        .collect();
    let importer_dir = tempfile::tempdir().unwrap();
    let importer = open(importer_dir.path(), &genesis);
    let mut import_gas = 0;
    let start = Instant::now();
    for block in built.clone() {
        import_gas += block.header.gas_used;
        importer.import(block).expect("import");
    }
    let import_time = start.elapsed();

    // The same import, phase by phase, on a second node.
    let phased_dir = tempfile::tempdir().unwrap();
    let phased = open(phased_dir.path(), &genesis);
    let mut phases = [Duration::ZERO; 4];
    for block in built {
        let store = phased.store();
        let t = Instant::now();
        let senders =
            recover_senders(phased.spec(), &block.header, &block.body.transactions).unwrap();
        phases[0] += t.elapsed();
        let t = Instant::now();
        let output = phased.executor().execute(store, &block, &senders).unwrap();
        phases[1] += t.elapsed();
        let t = Instant::now();
        let parent_root = store.head_state_root().unwrap();
        let state = compute_state_update(store, parent_root, output.changes).unwrap();
        phases[2] += t.elapsed();
        assert_eq!(state.state_root, block.header.state_root);
        let t = Instant::now();
        let hash = block.header.hash_slow();
        let executed = ExecutedBlock {
            block,
            hash,
            senders,
            receipts: output.receipts,
            state,
            epoch_set: None,
        };
        store.commit_block(&executed).unwrap();
        phases[3] += t.elapsed();
    }
    let count = args.blocks * args.txs;
    let (raw_tps, raw_mgas) = rate(count, raw_gas, raw_time);
    let (imp_tps, imp_mgas) = rate(count, import_gas, import_time);
    println!(
        "{name:<6} {count:>7} txs | raw revm {raw_tps:>10.0} tx/s {raw_mgas:>8.1} Mgas/s | import {imp_tps:>9.0} tx/s {imp_mgas:>7.1} Mgas/s | import/raw {:.3}",
        imp_tps / raw_tps
    );
    let per_tx = |d: Duration| d.as_secs_f64() * 1e6 / count as f64;
    println!(
        "{:<6} per tx: recover senders {:.2} us, execute {:.2} us, state root {:.2} us, write {:.2} us",
        "",
        per_tx(phases[0]),
        per_tx(phases[1]),
        per_tx(phases[2]),
        per_tx(phases[3]),
    );
}

/// What one block's commit cost: the time of the state root and of the
/// write, and the account trie's node writes (how many, their bytes, and
/// the keccak-f permutations that hash them), the work that grows with the
/// depth of the trie.
#[derive(Default)]
struct CommitCost {
    root: Duration,
    write: Duration,
    nodes: usize,
    node_bytes: usize,
    permutations: usize,
}

/// Fills a store with `accounts` accounts (synthetic blocks of 50,000),
/// then measures the state root and commit of a block changing 1,000 of
/// them (the mean of five such blocks).
fn commit_cost(accounts: usize, settle: bool) -> CommitCost {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let mut parent: Option<Header> = None;
    let commit = |changes: StateChanges, parent: &mut Option<Header>| -> CommitCost {
        let root = parent
            .as_ref()
            .map_or(alloy_trie::EMPTY_ROOT_HASH, |p| p.state_root);
        let start = Instant::now();
        let state = compute_state_update(&store, root, changes).unwrap();
        let root_time = start.elapsed();
        let puts = &state.account_trie.puts;
        let (nodes, node_bytes) = (puts.len(), puts.iter().map(|(_, rlp)| rlp.len()).sum());
        // keccak256 absorbs 136 bytes a permutation, padding included.
        let permutations = puts.iter().map(|(_, rlp)| rlp.len() / 136 + 1).sum();
        let block = ExecutedBlock::state_only(parent.as_ref(), state);
        let start = Instant::now();
        store.commit_block(&block).unwrap();
        let write_time = start.elapsed();
        *parent = Some(block.block.header);
        CommitCost {
            root: root_time,
            write: write_time,
            nodes,
            node_bytes,
            permutations,
        }
    };
    let address = |i: usize| Address::from_word(keccak256((i as u64).to_be_bytes()));
    let account = |i: usize| AccountChange {
        nonce: 1,
        balance: U256::from(i),
        code_hash: KECCAK_EMPTY,
    };
    for chunk in (0..accounts).collect::<Vec<_>>().chunks(50_000) {
        let changes = StateChanges {
            accounts: chunk
                .iter()
                .map(|i| (address(*i), Some(account(*i))))
                .collect(),
            storage: Vec::<StorageUpdate>::new(),
            code: vec![],
        };
        commit(changes, &mut parent);
    }
    // A running node's database has caught up with its compactions and its
    // cache holds what recent blocks touched; right after the fill it would
    // still be compacting twenty batches on the same cores. So both sizes
    // are measured settled, after two untimed blocks.
    let warm_up = if settle {
        store.settle().unwrap();
        2
    } else {
        0
    };
    // Average over a few blocks that each change 1,000 spread-out accounts.
    let mut total = CommitCost::default();
    let rounds = 5;
    for round in 0..warm_up + rounds {
        let changes = StateChanges {
            accounts: (0..1000)
                .map(|j| {
                    let i = (j * 7919 + round * 31) % accounts;
                    (
                        address(i),
                        Some(AccountChange {
                            nonce: 2 + round as u64,
                            ..account(i)
                        }),
                    )
                })
                .collect(),
            ..StateChanges::default()
        };
        let cost = commit(changes, &mut parent);
        if round >= warm_up {
            total.root += cost.root;
            total.write += cost.write;
            total.nodes += cost.nodes;
            total.node_bytes += cost.node_bytes;
            total.permutations += cost.permutations;
        }
    }
    CommitCost {
        root: total.root / rounds as u32,
        write: total.write / rounds as u32,
        nodes: total.nodes / rounds,
        node_bytes: total.node_bytes / rounds,
        permutations: total.permutations / rounds,
    }
}

fn main() {
    let args = parse_args();
    let signers: Vec<_> = (0..SENDERS).map(signer).collect();
    let token_code = token_runtime();
    println!(
        "import benchmark: {} blocks of {} transactions, {} senders",
        args.blocks, args.txs, SENDERS
    );
    run_workload("eth", Workload::Eth, &args, &signers, &token_code);
    run_workload("erc20", Workload::Erc20, &args, &signers, &token_code);
    let mut first = None;
    for accounts in &args.accounts {
        let cost = commit_cost(*accounts, !args.unsettled);
        let total = cost.root + cost.write;
        let ratio = first.map_or(1.0, |f: Duration| total.as_secs_f64() / f.as_secs_f64());
        first.get_or_insert(total);
        println!(
            "commit of a 1,000-account block at {accounts:>9} accounts: state root {:>7.2} ms + write {:>6.2} ms = {:>7.2} ms ({ratio:.2}x the first size); account trie nodes written {} ({} KiB, {} keccak-f permutations)",
            cost.root.as_secs_f64() * 1e3,
            cost.write.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3,
            cost.nodes,
            cost.node_bytes / 1024,
            cost.permutations,
        );
    }
}
