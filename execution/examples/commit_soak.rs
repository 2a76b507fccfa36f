//! A long run of block commits on one growing store, to see what a setting
//! of the store costs once flushes and compactions are running, which a
//! minute-long devnet on a fresh store never shows.
//!
//! ```sh
//! cargo run --release -p outrigger-execution --example commit_soak -- \
//!     --blocks 4000 --every 200
//! ```
//!
//! Each block is shaped like 600 ERC20 transfers: 600 sender accounts out
//! of `--accounts` (100,000) change, and 1,200 slots of one token contract
//! whose storage trie lives on from block to block: the same 600 balances
//! in every block (with their values before it, as the executor reports
//! them) and 600 new ones, so the trie grows by 600 slots a block. Every
//! `--every` blocks it prints the mean state root and write time of a
//! block, and the wall and process CPU time per block (RocksDB's
//! background flushes and compactions included). `--dir` keeps the store
//! there instead of in a temporary directory. CI runs it tiny (`--blocks 20
//! --every 10`).

use std::{path::PathBuf, time::Instant};

use alloy_primitives::{Address, U256, keccak256};
use outrigger_execution::{
    ExecutedBlock, Header, Store, StoreConfig,
    state::{AccountChange, StateChanges, StorageUpdate, compute_state_update},
};
use revm::primitives::KECCAK_EMPTY;

const SENDERS_PER_BLOCK: u64 = 600;

struct Args {
    blocks: u64,
    every: u64,
    accounts: u64,
    dir: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut args = Args {
        blocks: 4_000,
        every: 200,
        accounts: 100_000,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--blocks" => args.blocks = value.parse().expect("--blocks N"),
            "--every" => args.every = value.parse().expect("--every N"),
            "--accounts" => args.accounts = value.parse().expect("--accounts N"),
            "--dir" => args.dir = Some(PathBuf::from(value)),
            other => {
                panic!("unknown flag {other}; flags: --blocks N --every N --accounts N --dir PATH")
            }
        }
    }
    assert!(
        args.every > 0 && args.accounts > 0,
        "--every and --accounts must be positive"
    );
    args
}

/// CPU seconds this process has used, all threads (Linux).
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("a tick count");
    // utime and stime, fields 14 and 15 of the line; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

/// Block `n`'s state changes.
fn changes(n: u64, accounts: u64, token: Address) -> StateChanges {
    let mut accounts: Vec<_> = (0..SENDERS_PER_BLOCK)
        .map(|i| {
            let index = (n * SENDERS_PER_BLOCK + i) % accounts;
            let address = Address::from_word(keccak256(index.to_be_bytes()));
            let change = AccountChange {
                nonce: n + 1,
                balance: U256::from(n),
                code_hash: KECCAK_EMPTY,
            };
            (address, Some(change))
        })
        .collect();
    // The token's account, created by the first block: its storage trie
    // then lives on from block to block, as a deployed token's does.
    if n == 0 {
        let token_account = AccountChange {
            nonce: 1,
            balance: U256::ZERO,
            code_hash: keccak256(b"token"),
        };
        accounts.push((token, Some(token_account)));
    }
    // Each slot's value before the block, as the executor reports it: a
    // recurring balance holds the value the block before set, a new one
    // nothing.
    let (slots, prior) = (0..2 * SENDERS_PER_BLOCK)
        .map(|i| {
            if i % 2 == 0 {
                let key = keccak256((i / 2).to_be_bytes());
                ((key, U256::from(n + 1)), U256::from(n))
            } else {
                let fresh = n * SENDERS_PER_BLOCK + i / 2;
                let key = keccak256((u64::MAX - fresh).to_be_bytes());
                ((key, U256::from(n + 1)), U256::ZERO)
            }
        })
        .unzip();
    StateChanges {
        accounts,
        storage: vec![StorageUpdate {
            address: token,
            wipe: false,
            slots,
            prior,
        }],
        code: Vec::new(),
    }
}

fn main() {
    let args = parse_args();
    let temp = tempfile::tempdir().expect("a temporary directory");
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let store = Store::open(&dir, &StoreConfig::default()).expect("the store opens");
    let token = Address::repeat_byte(0x77);
    let mut parent: Option<Header> = None;
    let (mut root_time, mut write_time) = (0.0, 0.0);
    let (mut cpu_before, mut wall_before) = (process_cpu(), Instant::now());
    let per_block = |seconds: f64| seconds * 1e3 / args.every as f64;
    for n in 0..args.blocks {
        let parent_root = parent
            .as_ref()
            .map_or(alloy_trie::EMPTY_ROOT_HASH, |p| p.state_root);
        let start = Instant::now();
        let state = compute_state_update(&store, parent_root, changes(n, args.accounts, token))
            .expect("the state root");
        root_time += start.elapsed().as_secs_f64();
        let block = ExecutedBlock::state_only(parent.as_ref(), state);
        let start = Instant::now();
        store.commit_block(&block).expect("the commit");
        write_time += start.elapsed().as_secs_f64();
        parent = Some(block.block.header);
        if (n + 1) % args.every == 0 {
            let (cpu, wall) = (process_cpu(), Instant::now());
            println!(
                "blocks {:>6}: per block state root {:6.1} ms, write {:6.1} ms | wall {:6.1} ms, process CPU {:6.1} ms",
                n + 1,
                per_block(root_time),
                per_block(write_time),
                per_block((wall - wall_before).as_secs_f64()),
                per_block(cpu - cpu_before),
            );
            (root_time, write_time, cpu_before, wall_before) = (0.0, 0.0, cpu, wall);
        }
    }
}
