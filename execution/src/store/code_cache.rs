//! Analysed bytecode by hash, kept in memory between executions.
//!
//! Every `eth_call` and every block builds a fresh EVM state, so without
//! this each one reads a contract's code from RocksDB and runs the jump
//! destination analysis again. Code under a hash never changes, so a cached
//! entry is never stale; the cache only bounds its size.

use std::collections::HashMap;

use alloy_primitives::B256;
use parking_lot::Mutex;
use revm::bytecode::Bytecode;

/// What the cache holds, by bytes of code.
pub(crate) const CODE_CACHE_BYTES: usize = 64 << 20;

/// Analysed bytecode by hash, at most [`CodeCache::capacity`] bytes of code,
/// the least recently used dropped first.
pub(crate) struct CodeCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<B256, Entry>,
    bytes: usize,
    /// Ticks on every access: an entry's `used` is its last tick.
    clock: u64,
}

struct Entry {
    code: Bytecode,
    used: u64,
}

/// What an entry counts against the capacity: its code and a little for
/// the map.
fn cost(code: &Bytecode) -> usize {
    code.original_byte_slice().len() + 128
}

impl CodeCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    pub(crate) fn get(&self, hash: &B256) -> Option<Bytecode> {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let entry = inner.entries.get_mut(hash)?;
        entry.used = clock;
        Some(entry.code.clone())
    }

    /// Keeps `code` under `hash`. Code larger than a quarter of the cache
    /// is not kept.
    pub(crate) fn insert(&self, hash: B256, code: Bytecode) {
        let cost = cost(&code);
        if cost > self.capacity / 4 {
            return;
        }
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let used = inner.clock;
        if let Some(old) = inner.entries.insert(hash, Entry { code, used }) {
            inner.bytes -= self::cost(&old.code);
        }
        inner.bytes += cost;
        if inner.bytes > self.capacity {
            inner.evict(self.capacity * 3 / 4);
        }
    }
}

impl Inner {
    /// Drops the least recently used entries until at most `target` bytes
    /// remain: one sort for many evictions, so a full cache is not scanned
    /// on every insert.
    fn evict(&mut self, target: usize) {
        let mut by_use: Vec<(u64, B256)> = self.entries.iter().map(|(h, e)| (e.used, *h)).collect();
        by_use.sort_unstable();
        for (_, hash) in by_use {
            if self.bytes <= target {
                break;
            }
            if let Some(entry) = self.entries.remove(&hash) {
                self.bytes -= cost(&entry.code);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bytes, keccak256};

    use super::*;

    fn code(len: usize, fill: u8) -> (B256, Bytecode) {
        let raw = Bytes::from(vec![fill; len]);
        (keccak256(&raw), Bytecode::new_raw(raw))
    }

    #[test]
    fn keeps_what_fits_and_drops_the_least_recently_used() {
        // Room for about four entries of 1,000 bytes.
        let cache = CodeCache::new(4 * 1128);
        let entries: Vec<_> = (0..4u8).map(|i| code(1000, i)).collect();
        for (hash, code) in &entries {
            cache.insert(*hash, code.clone());
        }
        for (hash, code) in &entries {
            assert_eq!(cache.get(hash).as_ref(), Some(code));
        }
        // Entry 0 used last: a fifth entry pushes out the oldest others.
        assert!(cache.get(&entries[0].0).is_some());
        let (hash, fifth) = code(1000, 9);
        cache.insert(hash, fifth.clone());
        assert_eq!(cache.get(&hash), Some(fifth));
        assert!(cache.get(&entries[0].0).is_some());
        assert!(cache.get(&entries[1].0).is_none());
        let inner = cache.inner.lock();
        assert!(inner.bytes <= 4 * 1128);
        assert_eq!(
            inner.bytes,
            inner.entries.values().map(|e| cost(&e.code)).sum::<usize>()
        );
    }

    #[test]
    fn code_over_a_quarter_of_the_cache_is_not_kept() {
        let cache = CodeCache::new(4000);
        let (hash, big) = code(1000, 1);
        cache.insert(hash, big);
        assert!(cache.get(&hash).is_none());
        let (hash, small) = code(100, 2);
        cache.insert(hash, small.clone());
        assert_eq!(cache.get(&hash), Some(small));
    }
}
