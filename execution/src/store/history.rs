//! State history: what each block changed, so the state at a recent block
//! can be read (`eth_call`, `eth_getBalance`, … at a past block).
//!
//! For every block `B` and every account and storage slot it changed, a
//! *history entry* under the account (slot) and `B` holds the value it had
//! before `B`. The value at block `N` is then the first entry after `N`, or,
//! if no block since changed it, the value in the head's flat state: one
//! seek, whatever the distance. Each block also records the list of what it
//! changed, which past proofs walk.
//!
//! The history of the last [`StoreConfig::history_blocks`] blocks is kept
//! (every block's in archive mode). The history is written in the batch
//! that commits its block, so it is exactly as durable as the block; the
//! same batch moves the first kept block forward. Older records are not
//! deleted one by one (one delete for each record once written: 3 for an
//! ERC20 transfer, in a batch of ~14 entries a transfer). RocksDB's
//! compactions drop them ([`below_horizon`]) once the commit that moved the
//! first kept block is durable, and the column family's files are
//! compacted at least daily, so that dropped history does not stay on
//! disk. Until then no read reaches them: every read of the history seeks
//! after a kept block.
//!
//! Readers take the flat value *before* seeking the history. A block
//! committed between the two then shows in the history with the value from
//! before it, so the answer is still the state at `N`.

use std::collections::HashSet;

use alloy_primitives::{Address, B256, U256};
use alloy_rlp::Decodable as _;
use alloy_trie::TrieAccount;
use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::{Store, StoreError, StoreResult, bounded_above, corrupt, schema::*};
use crate::state::StateUpdate;

/// Bytes of an account's key in a block's list of changes.
const ACCOUNT_KEY_LEN: usize = 20;
/// Bytes of a slot's key (address ++ slot) in a block's list of changes.
const SLOT_KEY_LEN: usize = 52;

/// `tag ++ a ++ b`.
fn tagged(tag: u8, a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + a.len() + b.len());
    key.push(tag);
    key.extend_from_slice(a);
    key.extend_from_slice(b);
    key
}

/// The history entry of `key` (an address, or address ++ slot) at block
/// `number`.
fn history_key(tag: u8, key: &[u8], number: u64) -> Vec<u8> {
    tagged(tag, key, &number.to_be_bytes())
}

fn be_u64(bytes: &[u8]) -> StoreResult<u64> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| corrupt("history", "block number not 8 bytes"))?;
    Ok(u64::from_be_bytes(bytes))
}

/// A block's list of changed keys, each `len` bytes, in order.
fn list_keys(list: &[u8], len: usize) -> StoreResult<std::slice::ChunksExact<'_, u8>> {
    if !list.len().is_multiple_of(len) {
        return Err(corrupt("history", "list of changes of the wrong length"));
    }
    Ok(list.chunks_exact(len))
}

/// Whether `key`, a record of the history column family, belongs to a block
/// below `horizon` (the first block whose history is kept): then no read
/// needs it, and a compaction drops it. Keys of any other shape are kept.
pub(super) fn below_horizon(key: &[u8], horizon: u64) -> bool {
    let block = match key.first() {
        Some(&ACCOUNT_HISTORY) if key.len() == 1 + ACCOUNT_KEY_LEN + 8 => {
            &key[1 + ACCOUNT_KEY_LEN..]
        }
        Some(&STORAGE_HISTORY) if key.len() == 1 + SLOT_KEY_LEN + 8 => &key[1 + SLOT_KEY_LEN..],
        Some(&(BLOCK_ACCOUNTS | BLOCK_SLOTS)) if key.len() == 9 => &key[1..],
        _ => return false,
    };
    block
        .try_into()
        .is_ok_and(|block| u64::from_be_bytes(block) < horizon)
}

/// The history horizon (see [`below_horizon`]) for a first kept block:
/// without one, no record is needed.
pub(super) fn horizon(first: Option<u64>) -> u64 {
    first.unwrap_or(u64::MAX)
}

impl Store {
    /// The oldest block whose state can be read: the head without history,
    /// `None` before genesis.
    pub fn oldest_state(&self) -> StoreResult<Option<u64>> {
        match self.head_number()? {
            Some(head) => Ok(Some(self.oldest_state_below(head)?)),
            None => Ok(None),
        }
    }

    /// The oldest block whose state can be read, given the head.
    fn oldest_state_below(&self, head: u64) -> StoreResult<u64> {
        Ok(match self.history_first()? {
            Some(first) => first.saturating_sub(1).min(head),
            None => head,
        })
    }

    /// The first block whose history is kept.
    pub(super) fn history_first(&self) -> StoreResult<Option<u64>> {
        self.get(META, HISTORY_FIRST_KEY)?
            .map(|bytes| be_u64(&bytes))
            .transpose()
    }

    /// Adds to `batch` the history of block `number` (what `state` is about
    /// to overwrite: carried by `state`, else read from the flat state) and
    /// its list of changes, and moves the first kept block to the window's.
    /// Called with the commit lock held, before the batch is written.
    /// Returns the history horizon once the batch is written.
    pub(super) fn put_history(
        &self,
        batch: &mut WriteBatch,
        number: u64,
        state: &StateUpdate,
    ) -> StoreResult<u64> {
        if self.history_blocks == 0 {
            // History off: whatever was kept no longer covers new blocks.
            if self.history_first()?.is_some() {
                batch.delete_cf(self.cf(META), HISTORY_FIRST_KEY);
            }
            return Ok(horizon(None));
        }
        if number == 0 {
            return Ok(horizon(self.history_first()?));
        }
        // Each account and slot with its value before the block.
        let mut accounts: Vec<(Address, Vec<u8>)> = Vec::with_capacity(state.accounts.len());
        // The flat records were read when the update was computed, against
        // this same head (the block extends it); read again only for an
        // update that did not carry them.
        let records_carried = state.prior_records.len() == state.accounts.len();
        for (i, (address, _)) in state.accounts.iter().enumerate() {
            let previous = match records_carried {
                true => state.prior_records[i].clone(),
                false => self.get(ACCOUNTS, address.as_slice())?,
            };
            accounts.push((*address, previous.unwrap_or_default()));
        }
        let mut slots: Vec<([u8; SLOT_KEY_LEN], Vec<u8>)> = Vec::new();
        // Slots whose value before the block is still to be read, in one
        // batch.
        let mut unread: Vec<[u8; SLOT_KEY_LEN]> = Vec::new();
        // Values the executor carried (checked against the store in debug
        // builds).
        let mut carried: Vec<([u8; SLOT_KEY_LEN], Vec<u8>)> = Vec::new();
        for change in &state.storage {
            let address = &change.address;
            if !change.wipe && change.prior.len() == change.slots.len() {
                carried.extend(
                    change
                        .slots
                        .iter()
                        .zip(&change.prior)
                        .map(|((slot, _), prior)| {
                            let previous = match prior.is_zero() {
                                true => Vec::new(),
                                false => alloy_rlp::encode(prior),
                            };
                            (storage_key(address, slot), previous)
                        }),
                );
                continue;
            }
            let mut recorded = HashSet::new();
            if change.wipe {
                // Every slot the account had is about to go.
                let (start, end) = storage_range(address);
                let iter = self.db.iterator_cf_opt(
                    self.cf(STORAGE),
                    bounded_above(&end),
                    IteratorMode::From(&start, Direction::Forward),
                );
                for entry in iter {
                    let (key, value) = entry?;
                    let key: [u8; SLOT_KEY_LEN] = key[..]
                        .try_into()
                        .map_err(|_| corrupt("storage", "key of the wrong length"))?;
                    slots.push((key, value.to_vec()));
                    recorded.insert(key);
                }
            }
            unread.extend(
                change
                    .slots
                    .iter()
                    .map(|(slot, _)| storage_key(address, slot))
                    .filter(|key| !recorded.contains(key)),
            );
        }
        if cfg!(debug_assertions) {
            let keys: Vec<[u8; SLOT_KEY_LEN]> = carried.iter().map(|(key, _)| *key).collect();
            let stored = self.multi_get(STORAGE, &keys)?;
            for ((key, value), stored) in carried.iter().zip(stored) {
                assert_eq!(
                    value,
                    &stored.unwrap_or_default(),
                    "carried value before block #{number} of slot {key:02x?}"
                );
            }
        }
        slots.append(&mut carried);
        let values = self.multi_get(STORAGE, &unread)?;
        slots.extend(
            unread
                .into_iter()
                .zip(values)
                .map(|(key, previous)| (key, previous.unwrap_or_default())),
        );
        // In key order, each list can be searched, and each entry lands
        // beside the one before it in the memtable, where an insert costs
        // least.
        accounts.sort_unstable_by_key(|(address, _)| *address);
        slots.sort_unstable_by_key(|(key, _)| *key);
        let history = self.cf(HISTORY);
        let block = number.to_be_bytes();
        let list: Vec<u8> = accounts.iter().flat_map(|(a, _)| a.0).collect();
        batch.put_cf(history, tagged(BLOCK_ACCOUNTS, &block, &[]), list);
        let list: Vec<u8> = slots.iter().flat_map(|(key, _)| *key).collect();
        batch.put_cf(history, tagged(BLOCK_SLOTS, &block, &[]), list);
        for (address, previous) in &accounts {
            batch.put_cf(
                history,
                history_key(ACCOUNT_HISTORY, address.as_slice(), number),
                previous,
            );
        }
        for (key, previous) in &slots {
            batch.put_cf(history, history_key(STORAGE_HISTORY, key, number), previous);
        }

        let keep_from = number.saturating_sub(self.history_blocks.saturating_sub(1));
        let first = self.history_first()?.unwrap_or(number).max(keep_from);
        batch.put_cf(self.cf(META), HISTORY_FIRST_KEY, first.to_be_bytes());
        Ok(horizon(Some(first)))
    }

    /// The value before the first block after `number` that changed `key`
    /// (an address under [`ACCOUNT_HISTORY`], address ++ slot under
    /// [`STORAGE_HISTORY`]); `None` if no kept block since did.
    fn value_after(&self, tag: u8, key: &[u8], number: u64) -> StoreResult<Option<Vec<u8>>> {
        let prefix = tagged(tag, key, &[]);
        let mut iter = self.db.iterator_cf_opt(
            self.cf(HISTORY),
            bounded_above(&prefix_range(&prefix).1),
            IteratorMode::From(&history_key(tag, key, number + 1), Direction::Forward),
        );
        match iter.next() {
            // The bound keeps the iteration under `prefix`.
            Some(entry) => {
                let (found, value) = entry?;
                if found.len() != prefix.len() + 8 {
                    return Err(corrupt("history", "entry key of the wrong length"));
                }
                Ok(Some(value.to_vec()))
            }
            None => Ok(None),
        }
    }

    /// The list of `list_tag` changes of each block `after + 1 ..= head`
    /// (so `after` must be within the kept history).
    fn lists_after(&self, list_tag: u8, after: u64, head: u64) -> StoreResult<Vec<Vec<u8>>> {
        let keys: Vec<Vec<u8>> = (after + 1..=head)
            .map(|number| tagged(list_tag, &number.to_be_bytes(), &[]))
            .collect();
        self.multi_get(HISTORY, &keys)?
            .into_iter()
            .zip(after + 1..)
            .map(|(list, number)| {
                list.ok_or_else(|| corrupt("history", format!("block #{number} has no changes")))
            })
            .collect()
    }

    /// Addresses whose account blocks `after + 1 ..= head` changed.
    pub(super) fn accounts_changed_after(
        &self,
        after: u64,
        head: u64,
    ) -> StoreResult<HashSet<Address>> {
        let mut changed = HashSet::new();
        for list in self.lists_after(BLOCK_ACCOUNTS, after, head)? {
            changed.extend(list_keys(&list, ACCOUNT_KEY_LEN)?.map(Address::from_slice));
        }
        Ok(changed)
    }

    /// Slots of `address` that blocks `after + 1 ..= head` changed.
    pub(super) fn slots_changed_after(
        &self,
        address: &Address,
        after: u64,
        head: u64,
    ) -> StoreResult<HashSet<B256>> {
        let mut changed = HashSet::new();
        for list in self.lists_after(BLOCK_SLOTS, after, head)? {
            // The list is in key order: the address's slots are one run.
            let keys: Vec<&[u8]> = list_keys(&list, SLOT_KEY_LEN)?.collect();
            let from = keys.partition_point(|key| key[..20] < address[..]);
            changed.extend(
                keys[from..]
                    .iter()
                    .take_while(|key| key[..20] == address[..])
                    .map(|key| B256::from_slice(&key[20..])),
            );
        }
        Ok(changed)
    }

    /// Fails unless the state at `number` is kept.
    pub(super) fn check_state_available(&self, number: u64) -> StoreResult<()> {
        let head = self.head_number()?.unwrap_or_default();
        let oldest = self.oldest_state_below(head)?;
        if number > head || number < oldest {
            return Err(StoreError::StateUnavailable {
                number,
                oldest,
                head,
            });
        }
        Ok(())
    }

    /// The account at `address` in the state after block `number`.
    ///
    /// Availability is checked once, after reading: a value read while the
    /// block was outside the window (or became so) is never returned.
    pub fn account_at(&self, address: Address, number: u64) -> StoreResult<Option<TrieAccount>> {
        if let Some(value) = self.read_at_head(number, || self.account(address))? {
            return Ok(value);
        }
        let flat = self.account(address)?;
        let value = match self.value_after(ACCOUNT_HISTORY, address.as_slice(), number)? {
            None => flat,
            Some(previous) if previous.is_empty() => None,
            Some(previous) => Some(
                TrieAccount::decode(&mut previous.as_slice()).map_err(|e| corrupt("history", e))?,
            ),
        };
        self.check_state_available(number)?;
        Ok(value)
    }

    /// The value of `slot` in `address`'s storage after block `number`,
    /// checked as [`Store::account_at`] is.
    pub fn storage_at(&self, address: Address, slot: B256, number: u64) -> StoreResult<U256> {
        if let Some(value) = self.read_at_head(number, || self.storage(address, slot))? {
            return Ok(value);
        }
        let flat = self.storage(address, slot)?;
        let key = storage_key(&address, &slot);
        let value = match self.value_after(STORAGE_HISTORY, &key, number)? {
            None => flat,
            Some(previous) if previous.is_empty() => U256::ZERO,
            Some(previous) => {
                U256::decode(&mut previous.as_slice()).map_err(|e| corrupt("history", e))?
            }
        };
        self.check_state_available(number)?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::{state::StorageUpdate, store::StoreConfig};

    fn open(dir: &std::path::Path, history_blocks: u64) -> Store {
        let config = StoreConfig {
            history_blocks,
            sync_writes: false,
            ..StoreConfig::default()
        };
        Store::open(dir, &config).unwrap()
    }

    /// Every record in the history column family.
    fn history_records(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .db
            .iterator_cf(store.cf(HISTORY), IteratorMode::Start)
            .map(|entry| {
                let (key, value) = entry.unwrap();
                (key.to_vec(), value.to_vec())
            })
            .collect()
    }

    /// Block `number` sets account `a` (for each in `accounts`) to nonce
    /// `number`, and slot `s` of `contract` to `number`, writing the flat
    /// state as a commit would.
    fn commit(store: &Store, number: u64, accounts: &[u8], contract: Address, slots: &[u8]) {
        let account = |nonce| TrieAccount {
            nonce,
            ..TrieAccount::default()
        };
        let state = StateUpdate {
            accounts: accounts
                .iter()
                .map(|a| (Address::repeat_byte(*a), Some(account(number))))
                .collect(),
            storage: vec![StorageUpdate {
                address: contract,
                wipe: false,
                slots: slots
                    .iter()
                    .map(|s| (B256::repeat_byte(*s), U256::from(number)))
                    .collect(),
                // Every slot held `number - 1`: carried by even blocks (as
                // the executor does), read from the store by odd ones.
                prior: match number % 2 {
                    0 => vec![U256::from(number - 1); slots.len()],
                    _ => Vec::new(),
                },
            }],
            ..StateUpdate::default()
        };
        let mut batch = WriteBatch::default();
        let horizon = store.put_history(&mut batch, number, &state).unwrap();
        store.put_state(&mut batch, &state);
        let header = alloy_consensus::Header {
            number,
            ..Default::default()
        };
        batch.put_cf(
            store.cf(HEADERS),
            number_key(number),
            alloy_rlp::encode(&header),
        );
        batch.put_cf(store.cf(META), HEAD_KEY, number_key(number));
        store.db.write(batch).unwrap();
        store.history_horizon.store(horizon, Ordering::Release);
        *store.head.write() = Some(header);
    }

    #[test]
    fn each_change_is_one_entry_and_the_window_prunes_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let window = 4;
        let store = open(dir.path(), window);
        let contract = Address::repeat_byte(0xcc);
        // Accounts 1..=3 and the contract's slots 1..=2 change in every
        // block; account 0x10 + n only in block n.
        for number in 1..=20u64 {
            commit(
                &store,
                number,
                &[1, 2, 3, 0x10 + number as u8],
                contract,
                &[2, 1],
            );
        }
        // Nothing was deleted; a compaction drops what is below the window.
        // Per kept block: 4 account entries, 2 slot entries, 2 lists.
        assert!(history_records(&store).len() > window as usize * (4 + 2 + 2));
        store
            .db
            .compact_range_cf(store.cf(HISTORY), None::<&[u8]>, None::<&[u8]>);
        let records = history_records(&store);
        assert_eq!(records.len(), window as usize * (4 + 2 + 2));
        assert_eq!(store.oldest_state().unwrap(), Some(20 - window));

        // Values at every kept block, each from one entry or the flat state.
        for number in 20 - window..=20 {
            let nonce = store.account_at(Address::repeat_byte(2), number).unwrap();
            assert_eq!(nonce.map(|a| a.nonce), Some(number));
            let slot = store.storage_at(contract, B256::repeat_byte(1), number);
            assert_eq!(slot.unwrap(), U256::from(number));
            // Account 0x11 (changed in block 1 only): nonce 1 throughout.
            let once = store.account_at(Address::repeat_byte(0x11), number);
            assert_eq!(once.unwrap().map(|a| a.nonce), Some(1));
        }
        // Created in block 18: absent before it.
        let created = Address::repeat_byte(0x10 + 18);
        assert_eq!(store.account_at(created, 17).unwrap(), None);
        assert_eq!(store.account_at(created, 18).unwrap().unwrap().nonce, 18);

        let changed = store.accounts_changed_after(17, 20).unwrap();
        let expected: HashSet<Address> = [1, 2, 3, 0x10 + 18, 0x10 + 19, 0x10 + 20]
            .into_iter()
            .map(Address::repeat_byte)
            .collect();
        assert_eq!(changed, expected);
        let slots = store.slots_changed_after(&contract, 17, 20).unwrap();
        assert_eq!(
            slots,
            HashSet::from([B256::repeat_byte(1), B256::repeat_byte(2)])
        );
        let none = store.slots_changed_after(&Address::repeat_byte(1), 17, 20);
        assert!(none.unwrap().is_empty());
    }

    #[test]
    fn compactions_drop_exactly_the_records_below_the_horizon() {
        let address = [7u8; ACCOUNT_KEY_LEN];
        let slot = [8u8; SLOT_KEY_LEN];
        for number in [0u64, 9, 10, 11] {
            let below = number < 10;
            let records = [
                history_key(ACCOUNT_HISTORY, &address, number),
                history_key(STORAGE_HISTORY, &slot, number),
                tagged(BLOCK_ACCOUNTS, &number.to_be_bytes(), &[]),
                tagged(BLOCK_SLOTS, &number.to_be_bytes(), &[]),
            ];
            for key in records {
                assert_eq!(below_horizon(&key, 10), below, "{key:?}");
                assert!(!below_horizon(&key, horizon(Some(0))));
                assert!(below_horizon(&key, horizon(None)));
            }
        }
        // Anything else (a schema 1 record, a short key) is kept.
        assert!(!below_horizon(&tagged(1, &[0; 8], &[1; 20]), u64::MAX));
        assert!(!below_horizon(&[ACCOUNT_HISTORY, 0, 0], u64::MAX));
        assert!(!below_horizon(&[], u64::MAX));
    }

    #[test]
    fn without_synced_writes_the_horizon_moves_only_after_a_sync() {
        let horizon = |store: &Store| store.history_horizon.load(Ordering::Acquire);
        for sync_writes in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let config = StoreConfig {
                sync_writes,
                ..StoreConfig::default()
            };
            let store = Store::open(dir.path(), &config).unwrap();
            // No history yet: nothing is kept.
            assert_eq!(horizon(&store), u64::MAX);
            // Lowering is immediate.
            store.advance_history_horizon(1);
            assert_eq!(horizon(&store), 1);
            store.advance_history_horizon(10);
            let step = super::super::UNSYNCED_HORIZON_STEP;
            assert_eq!(horizon(&store), if sync_writes { 10 } else { 1 });
            store.advance_history_horizon(1 + step);
            assert_eq!(horizon(&store), 1 + step);
        }
    }

    #[test]
    fn a_schema_1_database_drops_its_history_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let contract = Address::repeat_byte(0xcc);
        {
            let store = open(dir.path(), 128);
            for number in 1..=3 {
                commit(&store, number, &[1], contract, &[1]);
            }
            // As a schema 1 client left it: no version, records of the old
            // tags.
            let mut batch = WriteBatch::default();
            batch.delete_cf(store.cf(META), SCHEMA_VERSION_KEY);
            batch.put_cf(store.cf(HISTORY), tagged(1, &[0; 8], &[1; 20]), []);
            batch.put_cf(store.cf(HISTORY), tagged(4, &[2; 52], &[0; 8]), []);
            store.db.write(batch).unwrap();
        }
        {
            let store = open(dir.path(), 128);
            assert!(history_records(&store).is_empty());
            assert_eq!(store.history_first().unwrap(), None);
            let version = store.get(META, SCHEMA_VERSION_KEY).unwrap();
            assert_eq!(version, Some(SCHEMA_VERSION.to_be_bytes().to_vec()));
            // The head state stayed; history starts again with block 4.
            assert_eq!(
                store.storage(contract, B256::repeat_byte(1)).unwrap(),
                U256::from(3)
            );
            commit(&store, 4, &[1], contract, &[1]);
            assert_eq!(store.oldest_state().unwrap(), Some(3));
            assert_eq!(
                store
                    .account_at(Address::repeat_byte(1), 3)
                    .unwrap()
                    .unwrap()
                    .nonce,
                3
            );
            store
                .db
                .put_cf(store.cf(META), SCHEMA_VERSION_KEY, 3u64.to_be_bytes())
                .unwrap();
        }
        let error = Store::open(dir.path(), &StoreConfig::default()).unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Schema {
                    found: 3,
                    supported: 2
                }
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains("newer than this client's"),
            "{error}"
        );
    }
}
