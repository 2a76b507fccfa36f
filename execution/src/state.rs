//! Turning the state changes of a block into the new state root and the
//! writes that store it.
//!
//! Only the accounts and slots the block touched are visited: each storage
//! trie that changed is updated (in parallel), then the account trie. The
//! work grows with the size of the change, not of the state.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use rayon::prelude::*;
use revm::{
    database::{
        BundleState, OriginalValuesKnown,
        states::{PlainStorageChangeset, StateChangeset},
    },
    primitives::KECCAK_EMPTY,
};

use crate::{
    store::{Store, StoreResult},
    trie::{NodeReader, Trie, TrieUpdates},
};

/// The storage changes of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageUpdate {
    /// The account.
    pub address: Address,
    /// Whether all its previous storage is dropped first (destroyed, or
    /// created anew).
    pub wipe: bool,
    /// New values; zero deletes the slot.
    pub slots: Vec<(B256, U256)>,
    /// The value each of `slots` had before the block, in the same order,
    /// when the executor knew it (empty otherwise, and for a wipe): the
    /// block's history, so the commit need not read the slots again.
    pub prior: Vec<U256>,
}

/// Everything a block does to the state, ready to be written.
#[derive(Clone, Debug, Default)]
pub struct StateUpdate {
    /// Changed accounts with their new storage roots; `None` deletes.
    pub accounts: Vec<(Address, Option<TrieAccount>)>,
    /// The flat record (RLP) each of `accounts` had before the block, in
    /// the same order: the history of the block, read once with the trie work
    /// instead of again at commit.
    pub(crate) prior_records: Vec<Option<Vec<u8>>>,
    /// Changed storage.
    pub storage: Vec<StorageUpdate>,
    /// New bytecode by hash.
    pub code: Vec<(B256, Bytes)>,
    /// Node writes of the account trie.
    pub account_trie: TrieUpdates,
    /// Node writes of each changed storage trie, by hashed address.
    pub storage_tries: Vec<(B256, TrieUpdates)>,
    /// The state root after the block.
    pub state_root: B256,
}

/// An account change as the executor reports it (without storage root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountChange {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code.
    pub code_hash: B256,
}

/// The changes of one block, before any trie work.
#[derive(Clone, Debug, Default)]
pub struct StateChanges {
    /// Accounts whose nonce, balance or code changed; `None` deletes.
    pub accounts: Vec<(Address, Option<AccountChange>)>,
    /// Storage changes.
    pub storage: Vec<StorageUpdate>,
    /// New bytecode.
    pub code: Vec<(B256, Bytes)>,
}

impl From<StateChangeset> for StateChanges {
    fn from(changes: StateChangeset) -> Self {
        Self {
            accounts: changes
                .accounts
                .into_iter()
                .map(|(address, info)| {
                    let change = info.map(|info| AccountChange {
                        nonce: info.nonce,
                        balance: info.balance,
                        code_hash: info.code_hash,
                    });
                    (address, change)
                })
                .collect(),
            storage: changes
                .storage
                .into_iter()
                .map(
                    |PlainStorageChangeset {
                         address,
                         wipe_storage,
                         storage,
                     }| StorageUpdate {
                        address,
                        wipe: wipe_storage,
                        slots: storage
                            .into_iter()
                            .map(|(k, v)| (B256::from(k), v))
                            .collect(),
                        prior: Vec::new(),
                    },
                )
                .collect(),
            code: changes
                .contracts
                .into_iter()
                .filter(|(hash, _)| *hash != KECCAK_EMPTY)
                .map(|(hash, code)| (hash, code.original_bytes()))
                .collect(),
        }
    }
}

impl From<&BundleState> for StateChanges {
    /// What differs from the state before the bundle, with the value each
    /// changed slot of an account that was not wiped had then (revm read it
    /// before the first write).
    fn from(bundle: &BundleState) -> Self {
        let mut changes = Self::from(bundle.to_plain_state(OriginalValuesKnown::Yes));
        for update in changes.storage.iter_mut().filter(|u| !u.wipe) {
            let Some(account) = bundle.state.get(&update.address) else {
                continue;
            };
            let prior: Option<Vec<U256>> = (update.slots.iter())
                .map(|(slot, _)| {
                    let slot = account.storage.get(&U256::from_be_bytes(slot.0))?;
                    Some(slot.previous_or_original_value)
                })
                .collect();
            update.prior = prior.unwrap_or_default();
        }
        changes
    }
}

/// Applies `changes` to the head state of `store`, whose state root is
/// `parent_root`, and computes the new root and the writes. Reads only.
pub fn compute_state_update(
    store: &Store,
    parent_root: B256,
    changes: StateChanges,
) -> StoreResult<StateUpdate> {
    let StateChanges {
        accounts,
        storage,
        code,
    } = changes;
    let mut account_changes: HashMap<Address, Option<AccountChange>> =
        accounts.into_iter().collect();
    let mut storage_changes: HashMap<Address, StorageUpdate> =
        storage.into_iter().map(|s| (s.address, s)).collect();

    // Every touched address with what it was before the block.
    let mut addresses: Vec<Address> = account_changes
        .keys()
        .chain(storage_changes.keys())
        .copied()
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    // The account trie, with the path of every touched account loaded in
    // batches: its leaves are the accounts' records before the block, so
    // they are read there, once, instead of again from the flat state.
    let keys: Vec<B256> = addresses.iter().map(keccak256).collect();
    let mut trie = Trie::new(store.account_trie(), parent_root);
    let prior_records = trie.prefetch(&keys)?;
    let prior: Vec<Option<TrieAccount>> = prior_records
        .iter()
        .map(|record| record.as_deref().map(Store::decode_account).transpose())
        .collect::<StoreResult<_>>()?;

    // A destroyed account's storage goes with it, even if the executor did
    // not list a wipe. A wipe of an account that had no storage is dropped:
    // there is nothing to delete, and revm lists one for every account a
    // block creates (each would leave range deletions in the store that
    // every later read of storage has to step over).
    for (address, before) in addresses.iter().zip(&prior) {
        let destroyed = matches!(account_changes.get(address), Some(None));
        let had_storage = before
            .as_ref()
            .is_some_and(|a| a.storage_root != EMPTY_ROOT_HASH);
        if !had_storage && let Some(update) = storage_changes.get_mut(address) {
            update.wipe = false;
        }
        if destroyed && had_storage {
            let update = storage_changes
                .entry(*address)
                .or_insert_with(|| StorageUpdate {
                    address: *address,
                    ..StorageUpdate::default()
                });
            update.wipe = true;
            update.slots.clear();
            update.prior.clear();
        }
    }

    // Storage tries, in parallel: each is independent.
    let storage_roots: Vec<(Address, B256, TrieUpdates)> = addresses
        .par_iter()
        .zip(&prior)
        .filter_map(|(address, before)| {
            let change = storage_changes.get(address)?;
            Some(update_storage_trie(store, before.as_ref(), change).map(|(r, u)| (*address, r, u)))
        })
        .collect::<StoreResult<_>>()?;
    let storage_roots: HashMap<Address, (B256, TrieUpdates)> = storage_roots
        .into_iter()
        .map(|(a, r, u)| (a, (r, u)))
        .collect();

    // The account trie, updated in memory.
    let mut new_accounts = Vec::with_capacity(addresses.len());
    for ((address, before), key) in addresses.iter().zip(prior).zip(&keys) {
        let storage_root = storage_roots
            .get(address)
            .map(|(root, _)| *root)
            .or(before.as_ref().map(|a| a.storage_root))
            .unwrap_or(EMPTY_ROOT_HASH);
        let account = match account_changes.remove(address) {
            Some(None) => None,
            Some(Some(change)) => Some(TrieAccount {
                nonce: change.nonce,
                balance: change.balance,
                storage_root,
                code_hash: change.code_hash,
            }),
            None => before.map(|a| TrieAccount { storage_root, ..a }),
        };
        match &account {
            Some(account) => trie.insert(key.as_slice(), alloy_rlp::encode(account))?,
            None => trie.remove(key.as_slice())?,
        }
        new_accounts.push((*address, account));
    }
    let (state_root, account_trie) = trie.commit();

    let mut storage_tries: Vec<(B256, TrieUpdates)> = storage_roots
        .into_iter()
        .map(|(address, (_, updates))| (keccak256(address), updates))
        .filter(|(_, updates)| !updates.is_empty())
        .collect();
    storage_tries.sort_unstable_by_key(|(hashed, _)| *hashed);
    // In key order, as the store writes them: a memtable insert next to the
    // one before costs a fraction of one at a random place.
    let mut storage: Vec<StorageUpdate> = storage_changes.into_values().collect();
    storage.sort_unstable_by_key(|s| s.address);
    for update in &mut storage {
        if update.prior.len() == update.slots.len() {
            let mut slots: Vec<_> = update.slots.drain(..).zip(update.prior.drain(..)).collect();
            slots.sort_unstable_by_key(|((slot, _), _)| *slot);
            (update.slots, update.prior) = slots.into_iter().unzip();
        } else {
            update.prior.clear();
            update.slots.sort_unstable_by_key(|(slot, _)| *slot);
        }
    }
    Ok(StateUpdate {
        accounts: new_accounts,
        prior_records,
        storage,
        code,
        account_trie,
        storage_tries,
        state_root,
    })
}

fn update_storage_trie(
    store: &Store,
    before: Option<&TrieAccount>,
    change: &StorageUpdate,
) -> StoreResult<(B256, TrieUpdates)> {
    let nodes = store.storage_trie(keccak256(change.address));
    let mut trie = if change.wipe {
        Trie::wiped(nodes)
    } else {
        Trie::new(nodes, before.map_or(EMPTY_ROOT_HASH, |a| a.storage_root))
    };
    apply_slots(&mut trie, &change.slots)?;
    Ok(trie.commit())
}

/// Sets (or, for zero, deletes) `slots` in a storage trie.
pub(crate) fn apply_slots<R: NodeReader>(
    trie: &mut Trie<R>,
    slots: &[(B256, U256)],
) -> StoreResult<()> {
    for (slot, value) in slots {
        let key = keccak256(slot);
        if value.is_zero() {
            trie.remove(key.as_slice())?;
        } else {
            trie.insert(key.as_slice(), alloy_rlp::encode(value))?;
        }
    }
    Ok(())
}
