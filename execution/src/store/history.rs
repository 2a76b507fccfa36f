//! State history: what each block changed, so the state at a recent block
//! can be read (`eth_call`, `eth_getBalance`, … at a past block).
//!
//! For every block `B`, its *changeset* holds the value each account and
//! storage slot it changed had before `B`, and a *history index* lists, per
//! account and per slot, the blocks that changed it. The value at block `N`
//! is then the changeset entry of the first block after `N` that changed it,
//! or, if none did, the value in the head's flat state: one seek and one
//! read, whatever the distance.
//!
//! The changesets of the last [`StoreConfig::history_blocks`] blocks are
//! kept (every one in archive mode); older ones are pruned in the same batch
//! that commits a block. The history is written in that batch too, so it is
//! exactly as durable as the block.
//!
//! Readers take the flat value *before* looking in the index. A block
//! committed between the two reads then shows in the index, whose changeset
//! holds the value from before it, so the answer is still the state at `N`.

use std::collections::HashSet;

use alloy_primitives::{Address, B256, U256};
use alloy_rlp::Decodable as _;
use alloy_trie::TrieAccount;
use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::{Store, StoreError, StoreResult, bounded_above, corrupt, schema::*};
use crate::state::StateUpdate;

/// Most old blocks whose history one commit prunes, so a lowered window
/// shrinks over several blocks instead of one huge batch.
const PRUNE_BLOCKS_PER_COMMIT: u64 = 64;

/// `tag ++ a ++ b`.
fn tagged(tag: u8, a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + a.len() + b.len());
    key.push(tag);
    key.extend_from_slice(a);
    key.extend_from_slice(b);
    key
}

fn account_history_key(address: &Address, number: u64) -> Vec<u8> {
    tagged(ACCOUNT_INDEX, address.as_slice(), &number.to_be_bytes())
}

fn storage_history_key(address: &Address, slot: &B256, number: u64) -> Vec<u8> {
    tagged(
        STORAGE_INDEX,
        &storage_key(address, slot),
        &number.to_be_bytes(),
    )
}

fn account_change_key(number: u64, address: &Address) -> Vec<u8> {
    tagged(ACCOUNT_CHANGE, &number.to_be_bytes(), address.as_slice())
}

fn storage_change_key(number: u64, address: &Address, slot: &B256) -> Vec<u8> {
    tagged(
        STORAGE_CHANGE,
        &number.to_be_bytes(),
        &storage_key(address, slot),
    )
}

fn be_u64(bytes: &[u8]) -> StoreResult<u64> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| corrupt("history", "block number not 8 bytes"))?;
    Ok(u64::from_be_bytes(bytes))
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

    /// The first block whose changeset is kept.
    fn history_first(&self) -> StoreResult<Option<u64>> {
        self.get(META, HISTORY_FIRST_KEY)?
            .map(|bytes| be_u64(&bytes))
            .transpose()
    }

    /// Adds to `batch` the changeset of block `number` (what `state` is
    /// about to overwrite, read from the flat state) and its index entries,
    /// and prunes history older than the window. Called with the commit lock
    /// held, before the batch is written.
    pub(super) fn put_history(
        &self,
        batch: &mut WriteBatch,
        number: u64,
        state: &StateUpdate,
    ) -> StoreResult<()> {
        if self.history_blocks == 0 {
            // History off: whatever was kept no longer covers new blocks.
            if self.history_first()?.is_some() {
                batch.delete_cf(self.cf(META), HISTORY_FIRST_KEY);
            }
            return Ok(());
        }
        if number == 0 {
            return Ok(());
        }
        // Changeset keys start with the block number: put in key order,
        // each lands beside the one before it in the memtable, where an
        // insert costs least. The index keys follow, also in order.
        let mut changes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut index: Vec<Vec<u8>> = Vec::new();
        // The flat records were read when the update was computed, against
        // this same head (the block extends it); read again only for an
        // update that did not carry them.
        let carried = state.prior_records.len() == state.accounts.len();
        for (i, (address, _)) in state.accounts.iter().enumerate() {
            let previous = match carried {
                true => state.prior_records[i].clone(),
                false => self.get(ACCOUNTS, address.as_slice())?,
            }
            .unwrap_or_default();
            changes.push((account_change_key(number, address), previous));
            index.push(account_history_key(address, number));
        }
        // Slots whose value before the block is still to be read, in one
        // batch.
        let mut unread: Vec<(Address, B256)> = Vec::new();
        for change in &state.storage {
            let address = &change.address;
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
                    let slot = B256::from_slice(&key[20..52]);
                    changes.push((storage_change_key(number, address, &slot), value.to_vec()));
                    index.push(storage_history_key(address, &slot, number));
                    recorded.insert(slot);
                }
            }
            unread.extend(
                change
                    .slots
                    .iter()
                    .filter(|(slot, _)| !recorded.contains(slot))
                    .map(|(slot, _)| (*address, *slot)),
            );
        }
        let keys: Vec<[u8; 52]> = unread
            .iter()
            .map(|(address, slot)| storage_key(address, slot))
            .collect();
        let values = self.multi_get(STORAGE, &keys)?;
        for ((address, slot), previous) in unread.iter().zip(values) {
            changes.push((
                storage_change_key(number, address, slot),
                previous.unwrap_or_default(),
            ));
            index.push(storage_history_key(address, slot, number));
        }
        changes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        index.sort_unstable();
        let history = self.cf(HISTORY);
        for (key, previous) in &changes {
            batch.put_cf(history, key, previous);
        }
        for key in &index {
            batch.put_cf(history, key, []);
        }
        let first = match self.history_first()? {
            Some(first) => first,
            None => number,
        };
        let keep_from = number.saturating_sub(self.history_blocks.saturating_sub(1));
        let mut first = first;
        let mut pruned = 0;
        while first < keep_from && pruned < PRUNE_BLOCKS_PER_COMMIT {
            self.prune_block(batch, first)?;
            first += 1;
            pruned += 1;
        }
        batch.put_cf(self.cf(META), HISTORY_FIRST_KEY, first.to_be_bytes());
        Ok(())
    }

    /// Adds to `batch` the deletion of block `number`'s changeset and index
    /// entries.
    fn prune_block(&self, batch: &mut WriteBatch, number: u64) -> StoreResult<()> {
        let block = number.to_be_bytes();
        let history = self.cf(HISTORY);
        for (change, index, key_len) in [
            (ACCOUNT_CHANGE, ACCOUNT_INDEX, 1 + 8 + 20),
            (STORAGE_CHANGE, STORAGE_INDEX, 1 + 8 + 52),
        ] {
            let (start, end) = prefix_range(&tagged(change, &block, &[]));
            let iter = self.db.iterator_cf_opt(
                history,
                bounded_above(&end),
                IteratorMode::From(&start, Direction::Forward),
            );
            for entry in iter {
                let (key, _) = entry?;
                if key.len() != key_len {
                    return Err(corrupt("history", "changeset key of the wrong length"));
                }
                // tag ++ block ++ rest  →  index tag ++ rest ++ block
                batch.delete_cf(history, tagged(index, &key[9..], &block));
            }
            batch.delete_range_cf(history, &start, &end);
        }
        Ok(())
    }

    /// The first block after `number` in the history index under `tag ++ key`.
    fn first_change_after(&self, tag: u8, key: &[u8], number: u64) -> StoreResult<Option<u64>> {
        let prefix = tagged(tag, key, &[]);
        let from = tagged(tag, key, &(number + 1).to_be_bytes());
        let mut iter = self.db.iterator_cf_opt(
            self.cf(HISTORY),
            bounded_above(&prefix_range(&prefix).1),
            IteratorMode::From(&from, Direction::Forward),
        );
        match iter.next() {
            Some(entry) => {
                let (key, _) = entry?;
                // The bound keeps the iteration under `prefix`.
                if key.len() == prefix.len() + 8 {
                    Ok(Some(be_u64(&key[prefix.len()..])?))
                } else {
                    Ok(None)
                }
            }
            None => Ok(None),
        }
    }

    /// Addresses whose account blocks `after + 1 ..= head` changed, from
    /// their changesets (so `after` must be within the kept history).
    pub(super) fn accounts_changed_after(
        &self,
        after: u64,
        head: u64,
    ) -> StoreResult<HashSet<Address>> {
        let mut changed = HashSet::new();
        for number in after + 1..=head {
            self.for_each_change(&tagged(ACCOUNT_CHANGE, &number.to_be_bytes(), &[]), |key| {
                let address = key
                    .get(9..29)
                    .filter(|_| key.len() == 29)
                    .ok_or_else(|| corrupt("history", "changeset key of the wrong length"))?;
                changed.insert(Address::from_slice(address));
                Ok(())
            })?;
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
        for number in after + 1..=head {
            let prefix = tagged(STORAGE_CHANGE, &number.to_be_bytes(), address.as_slice());
            self.for_each_change(&prefix, |key| {
                let slot = key
                    .get(29..61)
                    .filter(|_| key.len() == 61)
                    .ok_or_else(|| corrupt("history", "changeset key of the wrong length"))?;
                changed.insert(B256::from_slice(slot));
                Ok(())
            })?;
        }
        Ok(changed)
    }

    /// Calls `f` with every history key starting with `prefix`.
    fn for_each_change(
        &self,
        prefix: &[u8],
        mut f: impl FnMut(&[u8]) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let (start, end) = prefix_range(prefix);
        let iter = self.db.iterator_cf_opt(
            self.cf(HISTORY),
            bounded_above(&end),
            IteratorMode::From(&start, Direction::Forward),
        );
        for entry in iter {
            let (key, _) = entry?;
            f(&key)?;
        }
        Ok(())
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
        let value = match self.first_change_after(ACCOUNT_INDEX, address.as_slice(), number)? {
            None => flat,
            Some(changed) => {
                let previous = self
                    .get(HISTORY, &account_change_key(changed, &address))?
                    .ok_or_else(|| corrupt("history", "indexed account change is missing"))?;
                if previous.is_empty() {
                    None
                } else {
                    Some(
                        TrieAccount::decode(&mut previous.as_slice())
                            .map_err(|e| corrupt("history", e))?,
                    )
                }
            }
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
        let value =
            match self.first_change_after(STORAGE_INDEX, &storage_key(&address, &slot), number)? {
                None => flat,
                Some(changed) => {
                    let previous = self
                        .get(HISTORY, &storage_change_key(changed, &address, &slot))?
                        .ok_or_else(|| corrupt("history", "indexed storage change is missing"))?;
                    if previous.is_empty() {
                        U256::ZERO
                    } else {
                        U256::decode(&mut previous.as_slice()).map_err(|e| corrupt("history", e))?
                    }
                }
            };
        self.check_state_available(number)?;
        Ok(value)
    }
}
