//! The incremental state root, through RocksDB, after thousands of random
//! updates (accounts, storage, deletions, self-destructs and re-creations),
//! equals a root computed from scratch by an independent implementation
//! (alloy-trie's hash builder).

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles, TrieAccount};
use outrigger_execution::{
    ExecutedBlock, Header, Store, StoreConfig,
    state::{AccountChange, StateChanges, StorageUpdate, compute_state_update},
};
use proptest::prelude::*;
use revm::primitives::KECCAK_EMPTY;

#[derive(Clone, Debug, Default)]
struct ModelAccount {
    nonce: u64,
    balance: U256,
    storage: BTreeMap<B256, U256>,
}

#[derive(Clone, Debug)]
enum Op {
    /// Set nonce and balance (creating the account if needed).
    Touch {
        account: u8,
        nonce: u64,
        balance: u64,
    },
    /// Set a slot; zero deletes it.
    Store { account: u8, slot: u8, value: u64 },
    /// Self-destruct: the account and all its storage go.
    Destroy { account: u8 },
    /// Destroyed and created again in the same block, with one slot set.
    Recreate { account: u8, slot: u8, value: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..40, 0u64..5, 0u64..1000).prop_map(|(account, nonce, balance)| Op::Touch { account, nonce, balance }),
        6 => (0u8..40, 0u8..30, 0u64..4).prop_map(|(account, slot, value)| Op::Store { account, slot, value }),
        1 => (0u8..40).prop_map(|account| Op::Destroy { account }),
        1 => (0u8..40, 0u8..30, 1u64..4).prop_map(|(account, slot, value)| Op::Recreate { account, slot, value }),
    ]
}

fn address(n: u8) -> Address {
    Address::with_last_byte(n + 1)
}

fn slot(n: u8) -> B256 {
    B256::with_last_byte(n)
}

fn reference_root(model: &BTreeMap<Address, ModelAccount>) -> B256 {
    let mut leaves: Vec<(B256, Vec<u8>)> = model
        .iter()
        .map(|(address, account)| {
            let mut storage: Vec<(B256, Vec<u8>)> = account
                .storage
                .iter()
                .map(|(slot, value)| (keccak256(slot), alloy_rlp::encode(value)))
                .collect();
            storage.sort();
            let mut builder = HashBuilder::default();
            for (key, value) in &storage {
                builder.add_leaf(Nibbles::unpack(key), value);
            }
            let account = TrieAccount {
                nonce: account.nonce,
                balance: account.balance,
                storage_root: builder.root(),
                code_hash: KECCAK_EMPTY,
            };
            (keccak256(address), alloy_rlp::encode(account))
        })
        .collect();
    leaves.sort();
    let mut builder = HashBuilder::default();
    for (key, value) in &leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

/// Applies one block of `ops` to the model and returns the changes the
/// executor would report for it.
fn apply(model: &mut BTreeMap<Address, ModelAccount>, ops: &[Op]) -> StateChanges {
    let mut wiped = BTreeMap::<Address, bool>::new();
    let mut slots = BTreeMap::<Address, BTreeMap<B256, U256>>::new();
    let mut touched = std::collections::BTreeSet::new();
    for op in ops {
        match *op {
            Op::Touch {
                account,
                nonce,
                balance,
            } => {
                let a = model.entry(address(account)).or_default();
                a.nonce = nonce + 1;
                a.balance = U256::from(balance);
                touched.insert(address(account));
            }
            Op::Store {
                account,
                slot: s,
                value,
            } => {
                let a = model.entry(address(account)).or_default();
                a.nonce = a.nonce.max(1);
                if value == 0 {
                    a.storage.remove(&slot(s));
                } else {
                    a.storage.insert(slot(s), U256::from(value));
                }
                slots
                    .entry(address(account))
                    .or_default()
                    .insert(slot(s), U256::from(value));
                touched.insert(address(account));
            }
            Op::Destroy { account } => {
                model.remove(&address(account));
                wiped.insert(address(account), true);
                slots.remove(&address(account));
                touched.insert(address(account));
            }
            Op::Recreate {
                account,
                slot: s,
                value,
            } => {
                let a = ModelAccount {
                    nonce: 1,
                    balance: U256::ZERO,
                    storage: [(slot(s), U256::from(value))].into(),
                };
                model.insert(address(account), a);
                wiped.insert(address(account), true);
                slots.insert(address(account), [(slot(s), U256::from(value))].into());
                touched.insert(address(account));
            }
        }
    }
    let accounts = touched
        .iter()
        .map(|address| {
            let change = model.get(address).map(|a| AccountChange {
                nonce: a.nonce,
                balance: a.balance,
                code_hash: KECCAK_EMPTY,
            });
            (*address, change)
        })
        .collect();
    let storage = touched
        .iter()
        .filter(|a| wiped.contains_key(*a) || slots.contains_key(*a))
        .map(|address| StorageUpdate {
            address: *address,
            wipe: wiped.contains_key(address),
            slots: slots
                .get(address)
                .map(|s| s.clone().into_iter().collect())
                .unwrap_or_default(),
            prior: Vec::new(),
        })
        .collect();
    StateChanges {
        accounts,
        storage,
        code: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn incremental_state_root_matches_from_scratch(
        blocks in prop::collection::vec(prop::collection::vec(op(), 1..120), 5..25)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig { sync_writes: false, cache_bytes: 8 << 20, history_blocks: 0, in_memory: false }).unwrap();
        let mut model = BTreeMap::new();
        let mut parent: Option<Header> = None;
        for ops in &blocks {
            let changes = apply(&mut model, ops);
            let root = parent.as_ref().map_or(EMPTY_ROOT_HASH, |p| p.state_root);
            let state = compute_state_update(&store, root, changes).unwrap();
            prop_assert_eq!(state.state_root, reference_root(&model));
            let block = ExecutedBlock::state_only(parent.as_ref(), state);
            store.commit_block(&block).unwrap();
            parent = Some(block.block.header);
        }
        // The flat state agrees with the model too.
        for (address, account) in &model {
            let stored = store.account(*address).unwrap().expect("account present");
            prop_assert_eq!(stored.nonce, account.nonce);
            for (slot, value) in &account.storage {
                prop_assert_eq!(store.storage(*address, *slot).unwrap(), *value);
            }
        }
        for n in 0..40 {
            if !model.contains_key(&address(n)) {
                prop_assert!(store.account(address(n)).unwrap().is_none());
                for s in 0..30 {
                    prop_assert_eq!(store.storage(address(n), slot(s)).unwrap(), U256::ZERO);
                }
            }
        }
    }
}

/// revm lists a storage wipe for every account a block creates. For an
/// account that had no storage the wipe is dropped: it would change nothing
/// but leave range deletions in the store for every later read to step over.
#[test]
fn a_wipe_of_an_account_without_storage_writes_nothing_for_its_storage() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let created = AccountChange {
        nonce: 0,
        balance: U256::from(7),
        code_hash: KECCAK_EMPTY,
    };
    let changes = StateChanges {
        accounts: vec![
            (address(1), Some(created.clone())),
            (address(2), Some(created)),
        ],
        storage: vec![
            StorageUpdate {
                address: address(1),
                wipe: true,
                slots: Vec::new(),
                prior: Vec::new(),
            },
            StorageUpdate {
                address: address(2),
                wipe: true,
                slots: vec![(slot(3), U256::from(9))],
                prior: Vec::new(),
            },
        ],
        code: Vec::new(),
    };
    let state = compute_state_update(&store, EMPTY_ROOT_HASH, changes).unwrap();
    assert!(state.storage.iter().all(|s| !s.wipe), "{:?}", state.storage);
    assert!(state.storage_tries.iter().all(|(_, u)| !u.wipe));
    // Only the account with a slot has a storage trie to write.
    assert_eq!(state.storage_tries.len(), 1);
    assert_eq!(state.storage_tries[0].0, keccak256(address(2)));
}
