//! Persistent chain and state on RocksDB.
//!
//! Everything a block changes is written in one atomic `WriteBatch`
//! ([`Store::commit_block`]): header, body, senders, receipts, indexes, flat
//! accounts and storage, code, and the trie nodes of the new state root.
//! Reopening after a crash at any point yields the last fully committed
//! block. The head state is kept flat (and as trie nodes for proofs); the
//! state of recent blocks is read through the history (`history`).
//! [`StateReader`] serves either to revm. The head's recently used accounts
//! and slots are also kept in memory (`state_cache`), written through by
//! each commit.

mod code_cache;
mod history;
mod reader;
pub(crate) mod schema;
mod state_cache;

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use parking_lot::{RwLock, RwLockReadGuard};
use rayon::prelude::*;
use revm::bytecode::Bytecode;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, Options, ReadOptions,
    WriteBatch, WriteOptions,
};

pub use reader::{AccountProof, StateReader, StorageProof};

use crate::{
    block::{Block, ExecutedBlock},
    state::StateUpdate,
    store::code_cache::{CODE_CACHE_BYTES, CodeCache},
    store::state_cache::{ACCOUNT_ENTRIES, SLOT_ENTRIES, StateCache},
    system::{EpochSet, ValidatorEntry},
    trie::{NodeReader, TrieError},
};
use schema::*;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    /// A record could not be decoded.
    #[error("corrupt {what} record: {detail}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The state trie failed.
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// A block was committed on top of something other than the head.
    #[error("block #{number} ({hash}) does not extend the head #{head:?}")]
    NotOnHead {
        /// The block's number.
        number: u64,
        /// The block's hash.
        hash: B256,
        /// The current head number.
        head: Option<u64>,
    },
    /// The state of a block outside the kept history was asked for.
    #[error(
        "state of block #{number} is not available: this node keeps blocks #{oldest} to #{head}"
    )]
    StateUnavailable {
        /// The block asked for.
        number: u64,
        /// The oldest block whose state is kept.
        oldest: u64,
        /// The head.
        head: u64,
    },
    /// The database was written by a newer client.
    #[error(
        "database schema {found} is newer than this client's ({supported}): run a newer client, or sync into an empty data dir"
    )]
    Schema {
        /// The schema of the database.
        found: u64,
        /// The newest schema this client knows.
        supported: u64,
    },
}

impl revm::database_interface::DBErrorMarker for StoreError {}

/// A `Result` of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// Tuning of the store; defaults are for a validator.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// fsync the write-ahead log on every block commit, so a power loss
    /// loses no committed block (a process crash never does either way).
    pub sync_writes: bool,
    /// Size of RocksDB's block cache, shared by all column families.
    pub cache_bytes: usize,
    /// Blocks before the head whose state stays readable: their history
    /// is kept. `0` keeps the head state only; [`ARCHIVE`] keeps all.
    pub history_blocks: u64,
    /// Keep the database in memory instead of on disk (tests and tools that
    /// open thousands of short-lived stores). Default false.
    pub in_memory: bool,
}

/// Every file of the history column family is compacted at least this
/// often, so that records below the window leave the disk within a day.
const HISTORY_RECOMPACTION_SECS: u64 = 24 * 3600;

/// Blocks the history horizon moves at a time when commits are not synced:
/// one write-ahead log sync per this many blocks.
const UNSYNCED_HORIZON_STEP: u64 = 64;

/// Size of each column family's memtable (RocksDB's default is 64 MB).
/// Every insert and every read searches the memtable's skip list, and a
/// block's commit inserts thousands of keys spread over the key space: in
/// a memtable of a few hundred thousand entries most levels of that search
/// miss the CPU cache. With 8 MB, a commit of 600 ERC20 transfers took
/// 19–20 ms instead of 28–39 ms, and over 4,000 blocks of a growing store
/// the process spent 18% less CPU a block, compactions included
/// (BENCHMARKS.md, session 15).
const MEMTABLE_BYTES: usize = 8 << 20;

/// Memtables a column family may hold, the one written and those waiting
/// to be flushed: with small ones, room for a burst of commits while a
/// flush runs, before RocksDB slows writes down.
const MEMTABLES: i32 = 4;

/// Batched reads of fewer keys than this stay on one core.
const MULTI_GET_CHUNK: usize = 64;

/// [`StoreConfig::history_blocks`] of an archive node: every block's state.
pub const ARCHIVE: u64 = u64::MAX;

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            sync_writes: true,
            cache_bytes: 512 << 20,
            history_blocks: 128,
            in_memory: false,
        }
    }
}

/// The chain and its head state in RocksDB.
pub struct Store {
    db: DB,
    sync_writes: bool,
    history_blocks: u64,
    /// Serialises commits, so that "extends the head" is checked and
    /// written as one step.
    /// Commits take it for writing; executions on the head for reading,
    /// so the head state cannot change under an execution.
    commit_lock: RwLock<()>,
    /// The head block's header, as last committed: read on every RPC
    /// request, so kept decoded instead of read and decoded each time.
    head: RwLock<Option<Header>>,
    /// Counts commit writes, odd while one is under way: a reader of the
    /// head state checks it did not move while reading (a seqlock), so
    /// reads at the head skip the history lookups without taking a lock.
    commit_seq: AtomicU64,
    /// Analysed bytecode of recently executed contracts.
    code_cache: CodeCache,
    /// The head state's recently used accounts and slots.
    state_cache: StateCache,
    /// History records of blocks below this are dropped by compactions
    /// (`history::below_horizon`); moved on after each commit is written.
    history_horizon: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .finish()
    }
}

/// Read options that end an iteration at `end` (exclusive). RocksDB then
/// stops a seek into a range with no live key at the bound, instead of
/// stepping over every deleted key after it (zeroed slots leave many).
fn bounded_above(end: &[u8]) -> ReadOptions {
    let mut options = ReadOptions::default();
    options.set_iterate_upper_bound(end.to_vec());
    options
}

fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

impl Store {
    /// Opens (creating if needed) the store in `path`.
    pub fn open(path: &Path, config: &StoreConfig) -> StoreResult<Self> {
        let cache = Cache::new_lru_cache(config.cache_bytes);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        // Block commits are point lookups of trie nodes and flat accounts
        // spread over the whole key space: the index and filter blocks of
        // new (L0) files stay in the cache, ahead of data blocks, and a hash
        // index inside each data block saves the binary search.
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        table.set_data_block_index_type(rocksdb::DataBlockIndexType::BinaryAndHash);
        let mut cf_opts = Options::default();
        cf_opts.set_block_based_table_factory(&table);
        cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        cf_opts.set_write_buffer_size(MEMTABLE_BYTES);
        cf_opts.set_max_write_buffer_number(MEMTABLES);

        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_open_files(512);
        db_opts.increase_parallelism(2);
        if config.in_memory {
            db_opts.set_env(&rocksdb::Env::mem_env()?);
        }
        // Nothing is dropped until the store has read its first kept block.
        let history_horizon = Arc::new(AtomicU64::new(0));
        let mut history_opts = cf_opts.clone();
        let horizon = Arc::clone(&history_horizon);
        history_opts.set_compaction_filter(
            "outrigger-history-window",
            move |_, key: &[u8], _: &[u8]| {
                if history::below_horizon(key, horizon.load(Ordering::Acquire)) {
                    rocksdb::CompactionDecision::Remove
                } else {
                    rocksdb::CompactionDecision::Keep
                }
            },
        );
        history_opts.set_periodic_compaction_seconds(HISTORY_RECOMPACTION_SECS);
        let cfs = COLUMN_FAMILIES.iter().map(|name| {
            let options = if *name == HISTORY {
                &history_opts
            } else {
                &cf_opts
            };
            ColumnFamilyDescriptor::new(*name, options.clone())
        });
        let db = DB::open_cf_descriptors(&db_opts, path, cfs)?;
        let store = Self {
            db,
            sync_writes: config.sync_writes,
            history_blocks: config.history_blocks,
            commit_lock: RwLock::new(()),
            head: RwLock::new(None),
            commit_seq: AtomicU64::new(0),
            code_cache: CodeCache::new(CODE_CACHE_BYTES),
            state_cache: StateCache::new(ACCOUNT_ENTRIES, SLOT_ENTRIES),
            history_horizon,
        };
        store.upgrade_schema()?;
        store
            .history_horizon
            .store(history::horizon(store.history_first()?), Ordering::Release);
        let head = match store.stored_head_number()? {
            Some(number) => Some(
                store
                    .header(number)?
                    .ok_or_else(|| corrupt("head", format!("no header for block #{number}")))?,
            ),
            None => None,
        };
        *store.head.write() = head;
        Ok(store)
    }

    /// Brings a database of an older schema to [`SCHEMA_VERSION`]; fails on
    /// one of a newer schema, touching nothing.
    fn upgrade_schema(&self) -> StoreResult<()> {
        let found = match self.get(META, SCHEMA_VERSION_KEY)? {
            Some(bytes) => u64::from_be_bytes(
                bytes
                    .try_into()
                    .map_err(|_| corrupt("schema version", "not 8 bytes"))?,
            ),
            None => 1,
        };
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if found > SCHEMA_VERSION {
            return Err(StoreError::Schema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // 1 → 2: the state history changed layout. The old one is dropped
        // (blocks, receipts and the head state stay); states from the next
        // block on are kept again.
        let mut batch = WriteBatch::default();
        let history = self.cf(HISTORY);
        let had_history = self
            .db
            .iterator_cf(history, rocksdb::IteratorMode::Start)
            .next()
            .transpose()?
            .is_some();
        if had_history {
            tracing::warn!(
                "database schema {found} upgraded to {SCHEMA_VERSION}: the state history of past blocks is dropped and kept again from the next block on"
            );
            batch.delete_range_cf(history, [0u8].as_slice(), [0xffu8; 2].as_slice());
        }
        batch.delete_cf(self.cf(META), HISTORY_FIRST_KEY);
        batch.put_cf(
            self.cf(META),
            SCHEMA_VERSION_KEY,
            SCHEMA_VERSION.to_be_bytes(),
        );
        let mut options = WriteOptions::default();
        options.set_sync(self.sync_writes);
        Ok(self.db.write_opt(batch, &options)?)
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} opened at start"))
    }

    fn get(&self, cf: &str, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    /// The number of the last committed block, `None` before genesis.
    pub fn head_number(&self) -> StoreResult<Option<u64>> {
        Ok(self.head.read().as_ref().map(|h| h.number))
    }

    fn stored_head_number(&self) -> StoreResult<Option<u64>> {
        self.get(META, HEAD_KEY)?
            .map(|bytes| {
                let bytes: [u8; 8] = bytes
                    .try_into()
                    .map_err(|_| corrupt("head", "not 8 bytes"))?;
                Ok(u64::from_be_bytes(bytes))
            })
            .transpose()
    }

    /// The header of the last committed block.
    pub fn head(&self) -> StoreResult<Option<Header>> {
        Ok(self.head.read().clone())
    }

    /// `read` of the flat (head) state, if block `number` is the head
    /// throughout the read; `None` if it is not the head or a commit ran
    /// meanwhile (then the caller reads through the history instead).
    pub(crate) fn read_at_head<T>(
        &self,
        number: u64,
        read: impl FnOnce() -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let before = self.commit_seq.load(Ordering::Acquire);
        if before % 2 == 1 || self.head_number()? != Some(number) {
            return Ok(None);
        }
        let value = read()?;
        // The reads above happen before the second look at the counter.
        std::sync::atomic::fence(Ordering::Acquire);
        Ok((self.commit_seq.load(Ordering::Relaxed) == before).then_some(value))
    }

    /// The canonical header at `number`.
    pub fn header(&self, number: u64) -> StoreResult<Option<Header>> {
        if let Some(head) = self.head.read().as_ref()
            && head.number == number
        {
            return Ok(Some(head.clone()));
        }
        self.get(HEADERS, &number_key(number))?
            .map(|rlp| Header::decode(&mut rlp.as_slice()).map_err(|e| corrupt("header", e)))
            .transpose()
    }

    /// The hash of the canonical block at `number`.
    pub fn block_hash(&self, number: u64) -> StoreResult<Option<B256>> {
        self.get(CANONICAL, &number_key(number))?
            .map(|bytes| B256::try_from(bytes.as_slice()).map_err(|e| corrupt("canonical", e)))
            .transpose()
    }

    /// The number of the block with `hash`.
    pub fn block_number(&self, hash: B256) -> StoreResult<Option<u64>> {
        self.get(BLOCK_NUMBERS, hash.as_slice())?
            .map(|bytes| {
                let bytes: [u8; 8] = bytes
                    .try_into()
                    .map_err(|_| corrupt("block number", "not 8 bytes"))?;
                Ok(u64::from_be_bytes(bytes))
            })
            .transpose()
    }

    /// The body of the block at `number`.
    pub fn body(&self, number: u64) -> StoreResult<Option<BlockBody<TxEnvelope>>> {
        self.get(BODIES, &number_key(number))?
            .map(|rlp| BlockBody::decode(&mut rlp.as_slice()).map_err(|e| corrupt("body", e)))
            .transpose()
    }

    /// The whole block at `number`.
    pub fn block(&self, number: u64) -> StoreResult<Option<Block>> {
        let (Some(header), Some(body)) = (self.header(number)?, self.body(number)?) else {
            return Ok(None);
        };
        Ok(Some(Block { header, body }))
    }

    /// The senders of the block's transactions, in order.
    pub fn senders(&self, number: u64) -> StoreResult<Option<Vec<Address>>> {
        self.get(SENDERS, &number_key(number))?
            .map(|bytes| {
                if bytes.len() % 20 != 0 {
                    return Err(corrupt("senders", "length not a multiple of 20"));
                }
                Ok(bytes.chunks(20).map(Address::from_slice).collect())
            })
            .transpose()
    }

    /// The receipts of the block's transactions, in order.
    pub fn receipts(&self, number: u64) -> StoreResult<Option<Vec<ReceiptEnvelope>>> {
        let Some(rlp) = self.get(RECEIPTS, &number_key(number))? else {
            return Ok(None);
        };
        let encoded: Vec<Bytes> =
            Decodable::decode(&mut rlp.as_slice()).map_err(|e| corrupt("receipts", e))?;
        encoded
            .iter()
            .map(|bytes| {
                ReceiptEnvelope::decode_2718(&mut bytes.as_ref()).map_err(|e| corrupt("receipt", e))
            })
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    /// Where the transaction with `hash` is: block number and index.
    pub fn transaction_location(&self, hash: B256) -> StoreResult<Option<(u64, u32)>> {
        self.get(TX_INDEX, hash.as_slice())?
            .map(|bytes| {
                let bytes: [u8; 12] = bytes
                    .try_into()
                    .map_err(|_| corrupt("tx index", "not 12 bytes"))?;
                let number = u64::from_be_bytes(bytes[..8].try_into().unwrap_or_default());
                let index = u32::from_be_bytes(bytes[8..].try_into().unwrap_or_default());
                Ok((number, index))
            })
            .transpose()
    }

    /// The values of `keys` in `cf`, in order: batched lookups, in chunks
    /// read in parallel when there are many.
    fn multi_get<K: AsRef<[u8]> + Sync>(
        &self,
        cf: &str,
        keys: &[K],
    ) -> StoreResult<Vec<Option<Vec<u8>>>> {
        let chunk = keys
            .len()
            .div_ceil(rayon::current_num_threads())
            .max(MULTI_GET_CHUNK);
        let cf = self.cf(cf);
        let read = |keys: &[K]| {
            self.db
                .batched_multi_get_cf(cf, keys, keys.is_sorted_by_key(|k| k.as_ref()))
                .into_iter()
                .map(|value| Ok(value?.map(|v| v.to_vec())))
                .collect::<StoreResult<Vec<_>>>()
        };
        if keys.len() <= chunk {
            return read(keys);
        }
        let chunks: Vec<Vec<Option<Vec<u8>>>> = keys
            .par_chunks(chunk)
            .map(read)
            .collect::<StoreResult<_>>()?;
        Ok(chunks.concat())
    }

    /// Flushes every memtable and waits until background compaction has
    /// caught up: after a bulk load (a large genesis, a benchmark's fill),
    /// the blocks that follow then run against a settled database instead
    /// of sharing the disk and cores with the load's compactions.
    pub fn settle(&self) -> StoreResult<()> {
        let mut options = rocksdb::WaitForCompactOptions::default();
        options.set_flush(true);
        self.db.wait_for_compact(&options)?;
        Ok(())
    }

    /// The head state's account at `address`, with its storage root.
    pub fn account(&self, address: Address) -> StoreResult<Option<TrieAccount>> {
        self.read_through(
            "account",
            || self.state_cache.account(&address),
            || {
                self.get(ACCOUNTS, address.as_slice())?
                    .as_deref()
                    .map(Self::decode_account)
                    .transpose()
            },
            |account, unchanged| self.state_cache.fill_account(address, account, unchanged),
        )
    }

    /// A head-state read through the state cache: a hit is returned (debug
    /// builds, the test suites, also read RocksDB and panic if the two
    /// differ while no commit ran); a miss is read by `read` and handed to
    /// `fill` with the check that no commit ran since before the read.
    fn read_through<T: Copy + PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        cached: impl FnOnce() -> Option<T>,
        read: impl FnOnce() -> StoreResult<T>,
        fill: impl FnOnce(T, &dyn Fn() -> bool),
    ) -> StoreResult<T> {
        let began = self.commit_seq.load(Ordering::Acquire);
        let cached = cached();
        if let Some(hit) = cached
            && !cfg!(debug_assertions)
        {
            return Ok(hit);
        }
        let value = read()?;
        match cached {
            Some(hit) => {
                if self.no_commit_since(began) {
                    assert_eq!(hit, value, "cached {what} differs from the store's");
                }
            }
            None => fill(value, &|| self.no_commit_since(began)),
        }
        Ok(value)
    }

    /// Whether no commit ran or is running since the commit counter read
    /// `began`: a value read from RocksDB after that is still the head's.
    fn no_commit_since(&self, began: u64) -> bool {
        began.is_multiple_of(2) && self.commit_seq.load(Ordering::Acquire) == began
    }

    /// Decodes a flat account record.
    pub(crate) fn decode_account(mut rlp: &[u8]) -> StoreResult<TrieAccount> {
        TrieAccount::decode(&mut rlp).map_err(|e| corrupt("account", e))
    }

    /// The head state's value of `slot` in `address`'s storage.
    pub fn storage(&self, address: Address, slot: B256) -> StoreResult<U256> {
        self.read_through(
            "slot",
            || self.state_cache.storage(&address, &slot),
            || {
                self.get(STORAGE, &storage_key(&address, &slot))?
                    .map(|rlp| U256::decode(&mut rlp.as_slice()).map_err(|e| corrupt("storage", e)))
                    .transpose()
                    .map(Option::unwrap_or_default)
            },
            |value, unchanged| {
                self.state_cache
                    .fill_storage(address, slot, value, unchanged)
            },
        )
    }

    /// The bytecode with `hash`.
    pub fn code(&self, hash: B256) -> StoreResult<Option<Bytes>> {
        Ok(self.get(CODE, hash.as_slice())?.map(Bytes::from))
    }

    /// The bytecode with `hash`, analysed for execution (jump destinations),
    /// from the cache of recently executed code when there.
    pub fn bytecode(&self, hash: B256) -> StoreResult<Option<Bytecode>> {
        if let Some(code) = self.code_cache.get(&hash) {
            return Ok(Some(code));
        }
        let Some(raw) = self.code(hash)? else {
            return Ok(None);
        };
        let code = Bytecode::new_raw_checked(raw).map_err(|e| corrupt("code", e))?;
        self.code_cache.insert(hash, code.clone());
        Ok(Some(code))
    }

    /// Reads the head state for revm and for proofs.
    pub fn state(&self) -> StateReader<'_> {
        StateReader::new(self, None)
    }

    /// Reads the state after block `number`: the head's, or a recent one's
    /// through its history. Fails if that state is not kept. With history
    /// kept, the reader stays on `number` even if blocks are committed while
    /// it reads.
    pub fn state_at(&self, number: u64) -> StoreResult<StateReader<'_>> {
        if self.head_number()? == Some(number) {
            // The head's state is always there; without history the reader
            // follows the head (see the reads of `StateReader`).
            return Ok(if self.history_blocks == 0 {
                self.state()
            } else {
                StateReader::new(self, Some(number))
            });
        }
        self.check_state_available(number)?;
        Ok(StateReader::new(self, Some(number)))
    }

    /// Reads stored nodes of the account trie.
    pub(crate) fn account_trie(&self) -> TrieNodes<'_> {
        TrieNodes {
            store: self,
            cf: ACCOUNT_TRIE,
            prefix: Vec::new(),
        }
    }

    /// Reads stored nodes of the storage trie of the account whose address
    /// hashes to `hashed_address`.
    pub(crate) fn storage_trie(&self, hashed_address: B256) -> TrieNodes<'_> {
        TrieNodes {
            store: self,
            cf: STORAGE_TRIE,
            prefix: hashed_address.to_vec(),
        }
    }

    /// Holds the head still: no block commits while the guard lives. An
    /// execution on the head state takes it, or a commit in the middle
    /// (block sync importing while consensus validates a proposal) would
    /// change the trie nodes it reads and fail it with a hash mismatch.
    pub fn head_guard(&self) -> RwLockReadGuard<'_, ()> {
        self.commit_lock.read()
    }

    /// Writes an executed block and its state as the new head, atomically.
    /// The block must extend the current head (or be block 0 of an empty
    /// store).
    pub fn commit_block(&self, executed: &ExecutedBlock) -> StoreResult<()> {
        self.commit_sealed_block(executed, None)
    }

    /// [`Store::commit_block`] with the consensus `seal` that finalized the
    /// block (its commit certificate), stored in the same atomic batch.
    pub fn commit_sealed_block(
        &self,
        executed: &ExecutedBlock,
        seal: Option<&[u8]>,
    ) -> StoreResult<()> {
        let _guard = self.commit_lock.write();
        let header = &executed.block.header;
        let head = self.head_number()?;
        let extends = match head {
            None => header.number == 0,
            Some(head) => {
                head + 1 == header.number && self.block_hash(head)? == Some(header.parent_hash)
            }
        };
        if !extends {
            return Err(StoreError::NotOnHead {
                number: header.number,
                hash: executed.hash,
                head,
            });
        }
        let mut batch = WriteBatch::default();
        let horizon = self.put_history(&mut batch, header.number, &executed.state)?;
        self.put_block(&mut batch, executed);
        if let Some(seal) = seal {
            batch.put_cf(self.cf(SEALS), number_key(header.number), seal);
        }
        self.put_state(&mut batch, &executed.state);
        let mut options = WriteOptions::default();
        options.set_sync(self.sync_writes);
        self.commit_seq.fetch_add(1, Ordering::AcqRel);
        let written = self.db.write_opt(batch, &options);
        if written.is_ok() {
            self.state_cache.apply(&executed.state);
            *self.head.write() = Some(header.clone());
        }
        self.commit_seq.fetch_add(1, Ordering::Release);
        written?;
        self.advance_history_horizon(horizon);
        Ok(())
    }

    /// Lets compactions drop the history below `horizon`, set by a commit
    /// just written, once that commit is durable: were it lost (a power
    /// loss without `sync_writes`), the store would reopen with the older
    /// first kept block and read records already dropped. Without synced
    /// writes the horizon moves on [`UNSYNCED_HORIZON_STEP`] blocks at a
    /// time, each step after syncing the write-ahead log.
    ///
    /// A failed sync leaves the horizon where it was (the block is
    /// committed either way); a later commit tries again.
    fn advance_history_horizon(&self, horizon: u64) {
        let current = self.history_horizon.load(Ordering::Acquire);
        // Lowering it drops less: always safe.
        if horizon > current && !self.sync_writes {
            if horizon - current < UNSYNCED_HORIZON_STEP {
                return;
            }
            if let Err(error) = self.db.flush_wal(true) {
                tracing::warn!(%error, "syncing the write-ahead log failed; old history is kept meanwhile");
                return;
            }
        }
        self.history_horizon.store(horizon, Ordering::Release);
    }

    fn put_block(&self, batch: &mut WriteBatch, executed: &ExecutedBlock) {
        let number = executed.block.header.number;
        let key = number_key(number);
        batch.put_cf(
            self.cf(HEADERS),
            key,
            alloy_rlp::encode(&executed.block.header),
        );
        batch.put_cf(self.cf(CANONICAL), key, executed.hash);
        batch.put_cf(self.cf(BLOCK_NUMBERS), executed.hash, key);
        batch.put_cf(
            self.cf(BODIES),
            key,
            alloy_rlp::encode(&executed.block.body),
        );
        let senders: Vec<u8> = executed.senders.iter().flat_map(|a| a.0.0).collect();
        batch.put_cf(self.cf(SENDERS), key, senders);
        let receipts: Vec<Bytes> = executed
            .receipts
            .iter()
            .map(|r| Bytes::from(r.encoded_2718()))
            .collect();
        batch.put_cf(self.cf(RECEIPTS), key, alloy_rlp::encode(&receipts));
        // In hash order, so each memtable insert starts beside the last.
        let mut locations: Vec<(B256, [u8; 12])> = (executed.block.body.transactions.iter())
            .enumerate()
            .map(|(index, tx)| (tx.trie_hash(), tx_location(number, index as u32)))
            .collect();
        locations.sort_unstable();
        for (hash, location) in locations {
            batch.put_cf(self.cf(TX_INDEX), hash, location);
        }
        if let Some(set) = &executed.epoch_set {
            batch.put_cf(
                self.cf(META),
                epoch_set_key(set.epoch),
                alloy_rlp::encode(&set.validators),
            );
        }
        batch.put_cf(self.cf(META), HEAD_KEY, key);
    }

    /// The validator set of `epoch`: the one stored for it, or else for the
    /// latest epoch before it (a failed `epochEnd` keeps the set). `None` on
    /// a chain without validator sets.
    pub fn epoch_set(&self, epoch: u64) -> StoreResult<Option<EpochSet>> {
        let key = epoch_set_key(epoch);
        let mut bounded = ReadOptions::default();
        bounded.set_iterate_lower_bound(EPOCH_SET_PREFIX.to_vec());
        let mut iter = self.db.iterator_cf_opt(
            self.cf(META),
            bounded,
            rocksdb::IteratorMode::From(&key, rocksdb::Direction::Reverse),
        );
        let Some(entry) = iter.next() else {
            return Ok(None);
        };
        let (key, value) = entry?;
        let Some(stored) = key.strip_prefix(EPOCH_SET_PREFIX) else {
            return Ok(None);
        };
        let stored: [u8; 8] = stored
            .try_into()
            .map_err(|_| corrupt("epoch set", "key is not 8 bytes"))?;
        let validators: Vec<ValidatorEntry> =
            Decodable::decode(&mut value.as_ref()).map_err(|e| corrupt("epoch set", e))?;
        Ok(Some(EpochSet {
            epoch: u64::from_be_bytes(stored),
            validators,
        }))
    }

    fn put_state(&self, batch: &mut WriteBatch, state: &StateUpdate) {
        let (accounts, storage, code) = (self.cf(ACCOUNTS), self.cf(STORAGE), self.cf(CODE));
        for (address, account) in &state.accounts {
            match account {
                Some(account) => batch.put_cf(accounts, address, alloy_rlp::encode(account)),
                None => batch.delete_cf(accounts, address),
            }
        }
        for change in &state.storage {
            if change.wipe {
                let (start, end) = storage_range(&change.address);
                batch.delete_range_cf(storage, start, end);
            }
            for (slot, value) in &change.slots {
                let key = storage_key(&change.address, slot);
                if value.is_zero() {
                    batch.delete_cf(storage, key);
                } else {
                    batch.put_cf(storage, key, alloy_rlp::encode(value));
                }
            }
        }
        for (hash, bytecode) in &state.code {
            batch.put_cf(code, hash, bytecode);
        }
        let account_trie = self.cf(ACCOUNT_TRIE);
        for path in &state.account_trie.deletes {
            batch.delete_cf(account_trie, trie_path_key(&[], path));
        }
        for (path, rlp) in &state.account_trie.puts {
            batch.put_cf(account_trie, trie_path_key(&[], path), rlp);
        }
        let storage_trie = self.cf(STORAGE_TRIE);
        for (hashed_address, updates) in &state.storage_tries {
            if updates.wipe {
                let (start, end) = prefix_range(hashed_address.as_slice());
                batch.delete_range_cf(storage_trie, start, end);
            }
            for path in &updates.deletes {
                batch.delete_cf(storage_trie, trie_path_key(hashed_address.as_slice(), path));
            }
            for (path, rlp) in &updates.puts {
                batch.put_cf(
                    storage_trie,
                    trie_path_key(hashed_address.as_slice(), path),
                    rlp,
                );
            }
        }
    }

    /// The consensus seal (commit certificate) stored with block `number`,
    /// if it was committed with one.
    pub fn seal(&self, number: u64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(SEALS), number_key(number))?)
    }

    /// The state root of the head, from its header (the empty root before
    /// genesis).
    pub fn head_state_root(&self) -> StoreResult<B256> {
        Ok(self.head()?.map_or(EMPTY_ROOT_HASH, |h| h.state_root))
    }
}

/// Stored nodes of one trie, read by path.
pub(crate) struct TrieNodes<'a> {
    store: &'a Store,
    cf: &'static str,
    prefix: Vec<u8>,
}

impl NodeReader for TrieNodes<'_> {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        self.store
            .get(self.cf, &trie_path_key(&self.prefix, path))
            .map_err(|e| TrieError::Database(e.to_string()))
    }

    /// Batched lookups, the batch split over the cores: a block's account
    /// trie reads up to a thousand nodes at a level, and each lookup is CPU
    /// work (memtables, filters, index and data blocks of every level).
    fn nodes(&self, paths: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, TrieError> {
        let keys: Vec<Vec<u8>> = paths
            .iter()
            .map(|path| trie_path_key(&self.prefix, path))
            .collect();
        self.store
            .multi_get(self.cf, &keys)
            .map_err(|e| TrieError::Database(e.to_string()))
    }
}

/// keccak256 of an address: its key in the account trie.
pub fn hashed_address(address: &Address) -> B256 {
    keccak256(address)
}
