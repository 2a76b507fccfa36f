//! The head state's recently used accounts and slots, kept in memory.
//!
//! A block reads mostly what the blocks before it touched: its senders'
//! accounts, a token's balance slots. From RocksDB each such read searches
//! the memtables' skip lists, one cache miss per level: a few microseconds
//! once they hold a few hundred thousand entries, and a validator reads
//! every account of a block several times (the pool's admission, the
//! block's execution, the pool's update after the commit). Here it is a
//! hash lookup.
//!
//! Every entry is the head's value. A commit writes its changes through,
//! after RocksDB has them and while the store's commit counter is odd; a
//! read that missed fills the cache only if that counter did not move
//! since before it read RocksDB, so a value read before a commit never
//! lands after the commit's own. A commit updates only what is already
//! kept: what a block changes it has read first, and a bulk load (genesis,
//! a benchmark's fill) does not push out what is in use.

use std::hash::Hash;

use alloy_primitives::{Address, B256, U256};
use alloy_trie::TrieAccount;
use hashlink::LruCache;
use parking_lot::Mutex;

use crate::state::StateUpdate;

/// Locks each cache is split under, so that RPC workers and the executor
/// reading at once seldom wait for each other.
const SHARDS: usize = 16;

/// Accounts kept: ~24 MB at ~180 bytes an entry (the account, its address
/// and the map's links).
pub(crate) const ACCOUNT_ENTRIES: usize = 1 << 17;

/// Storage slots kept: ~34 MB at ~130 bytes an entry.
pub(crate) const SLOT_ENTRIES: usize = 1 << 18;

/// A key's shard: a cheap mix of a few of its bytes, which are hashes or
/// addresses.
trait Shard {
    fn shard(&self) -> usize;
}

impl Shard for Address {
    fn shard(&self) -> usize {
        usize::from(self[19]) % SHARDS
    }
}

impl Shard for (Address, B256) {
    fn shard(&self) -> usize {
        usize::from(self.0[19] ^ self.1[31]) % SHARDS
    }
}

/// One cache: a map under [`SHARDS`] locks, each dropping its least
/// recently used entry when full.
struct Shards<K, V>([Mutex<LruCache<K, V>>; SHARDS]);

impl<K: Hash + Eq + Shard, V: Clone> Shards<K, V> {
    fn new(entries: usize) -> Self {
        Self(std::array::from_fn(|_| {
            Mutex::new(LruCache::new(entries.div_ceil(SHARDS)))
        }))
    }

    fn get(&self, key: &K) -> Option<V> {
        self.0[key.shard()].lock().get(key).cloned()
    }

    /// Keeps a value read from RocksDB if `unchanged()`, asked under the
    /// shard's lock, says no commit ran since the read began.
    fn fill(&self, key: K, value: V, unchanged: impl FnOnce() -> bool) {
        let mut shard = self.0[key.shard()].lock();
        if unchanged() {
            shard.insert(key, value);
        }
    }

    /// A commit's new value, if the key is kept (made only then).
    fn update(&self, key: &K, value: impl FnOnce() -> V) {
        if let Some(entry) = self.0[key.shard()].lock().peek_mut(key) {
            *entry = value();
        }
    }

    fn retain(&self, keep: impl Fn(&K) -> bool) {
        for shard in &self.0 {
            shard.lock().retain(|key, _| keep(key));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.iter().map(|shard| shard.lock().len()).sum()
    }
}

/// Accounts (`None`: known not to exist) and slot values of the head
/// state.
pub(crate) struct StateCache {
    accounts: Shards<Address, Option<TrieAccount>>,
    slots: Shards<(Address, B256), U256>,
}

impl StateCache {
    /// A cache of at most `accounts` accounts and `slots` slots.
    pub(crate) fn new(accounts: usize, slots: usize) -> Self {
        Self {
            accounts: Shards::new(accounts),
            slots: Shards::new(slots),
        }
    }

    /// The head's account at `address`, if cached (`Some(None)`: it does
    /// not exist).
    pub(crate) fn account(&self, address: &Address) -> Option<Option<TrieAccount>> {
        self.accounts.get(address)
    }

    /// The head's value of `slot` in `address`'s storage, if cached.
    pub(crate) fn storage(&self, address: &Address, slot: &B256) -> Option<U256> {
        self.slots.get(&(*address, *slot))
    }

    /// Keeps an account read from RocksDB, if `unchanged()` (asked under the
    /// shard's lock) says no commit ran since the read began. An account
    /// that does not exist is not kept: most such reads are a transfer's
    /// new recipient, read once, and an insert nothing reads back costs
    /// about what a hit saves.
    pub(crate) fn fill_account(
        &self,
        address: Address,
        account: Option<TrieAccount>,
        unchanged: impl FnOnce() -> bool,
    ) {
        if account.is_some() {
            self.accounts.fill(address, account, unchanged);
        }
    }

    /// Keeps a slot value read from RocksDB, as [`StateCache::fill_account`]
    /// (an unset slot is not kept).
    pub(crate) fn fill_storage(
        &self,
        address: Address,
        slot: B256,
        value: U256,
        unchanged: impl FnOnce() -> bool,
    ) {
        if !value.is_zero() {
            self.slots.fill((address, slot), value, unchanged);
        }
    }

    /// Writes a committed block's changes through: called after RocksDB
    /// holds them and before the commit counter moves on.
    pub(crate) fn apply(&self, state: &StateUpdate) {
        for (address, account) in &state.accounts {
            self.accounts.update(address, || *account);
        }
        for change in &state.storage {
            if change.wipe {
                self.slots.retain(|(address, _)| *address != change.address);
            }
            for (slot, value) in &change.slots {
                self.slots.update(&(change.address, *slot), || *value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_trie::EMPTY_ROOT_HASH;
    use revm::primitives::KECCAK_EMPTY;

    use super::*;
    use crate::state::StorageUpdate;

    fn account(nonce: u64) -> TrieAccount {
        TrieAccount {
            nonce,
            balance: U256::from(1_000 + nonce),
            storage_root: EMPTY_ROOT_HASH,
            code_hash: KECCAK_EMPTY,
        }
    }

    #[test]
    fn a_commit_updates_what_is_kept_and_adds_nothing() {
        let (deleted, changed, other) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
        );
        let (slot, unset) = (B256::repeat_byte(9), B256::repeat_byte(8));
        let cache = StateCache::new(64, 64);
        cache.fill_account(deleted, Some(account(1)), || true);
        cache.fill_account(changed, Some(account(2)), || true);
        cache.fill_storage(changed, slot, U256::from(5), || true);
        // What does not exist is read from the store each time.
        cache.fill_account(other, None, || true);
        cache.fill_storage(changed, unset, U256::ZERO, || true);
        assert_eq!(cache.account(&deleted), Some(Some(account(1))));
        assert_eq!(cache.storage(&changed, &slot), Some(U256::from(5)));
        assert_eq!(cache.account(&other), None);
        assert_eq!(cache.storage(&changed, &unset), None);

        cache.apply(&StateUpdate {
            accounts: vec![
                (deleted, None),
                (changed, Some(account(7))),
                (other, Some(account(8))),
            ],
            storage: vec![StorageUpdate {
                address: changed,
                slots: vec![(slot, U256::ZERO), (unset, U256::from(3))],
                ..StorageUpdate::default()
            }],
            ..StateUpdate::default()
        });
        // Deleted, changed, and a kept slot zeroed: the head's values.
        assert_eq!(cache.account(&deleted), Some(None));
        assert_eq!(cache.account(&changed), Some(Some(account(7))));
        assert_eq!(cache.storage(&changed, &slot), Some(U256::ZERO));
        // What was not kept before the commit is still read from the store.
        assert_eq!(cache.account(&other), None);
        assert_eq!(cache.storage(&changed, &unset), None);
    }

    #[test]
    fn a_read_a_commit_overtook_is_not_kept() {
        let cache = StateCache::new(64, 64);
        let address = Address::repeat_byte(1);
        cache.fill_account(address, Some(account(1)), || false);
        cache.fill_storage(address, B256::ZERO, U256::from(1), || false);
        assert_eq!(cache.account(&address), None);
        assert_eq!(cache.storage(&address, &B256::ZERO), None);
    }

    #[test]
    fn a_wipe_drops_every_slot_of_its_account_only() {
        let cache = StateCache::new(64, 1024);
        let (wiped, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let slots: Vec<B256> = (0..40u8).map(B256::with_last_byte).collect();
        for slot in &slots {
            cache.fill_storage(wiped, *slot, U256::from(1), || true);
            cache.fill_storage(other, *slot, U256::from(2), || true);
        }
        cache.apply(&StateUpdate {
            storage: vec![StorageUpdate {
                address: wiped,
                wipe: true,
                slots: vec![(slots[0], U256::from(9))],
                ..StorageUpdate::default()
            }],
            ..StateUpdate::default()
        });
        for slot in &slots {
            assert_eq!(cache.storage(&wiped, slot), None);
            assert_eq!(cache.storage(&other, slot), Some(U256::from(2)));
        }
    }

    #[test]
    fn each_shard_keeps_its_share_and_drops_the_least_recently_used() {
        let cache = StateCache::new(SHARDS * 2, SHARDS);
        // Three accounts of one shard (same last byte), two places in it.
        let address = |first: u8| {
            let mut bytes = [0u8; 20];
            bytes[0] = first;
            Address::from(bytes)
        };
        cache.fill_account(address(1), Some(account(1)), || true);
        cache.fill_account(address(2), Some(account(2)), || true);
        assert!(cache.account(&address(1)).is_some());
        cache.fill_account(address(3), Some(account(3)), || true);
        assert!(cache.account(&address(1)).is_some());
        assert_eq!(cache.account(&address(2)), None);
        assert!(cache.account(&address(3)).is_some());
        assert_eq!(cache.accounts.len(), 2);
    }
}
