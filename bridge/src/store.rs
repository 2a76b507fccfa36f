//! The relayer's persistent queue in RocksDB: the scan cursors, the
//! messages seen and not yet done, and the transactions sent and not yet
//! mined (with their nonces and fees). A cursor moves in the same write
//! batch as the messages found below it, so a crash never skips one.
//!
//! Keys (one column family; prefixes keep the kinds apart):
//!
//! | key | value |
//! |---|---|
//! | `meta/identity` | JSON [`Identity`]: the relayer and bridges this queue belongs to |
//! | `cursor/l1`, `cursor/sidechain` | last scanned block, u64 big-endian |
//! | `deposit/` nonce (32 bytes BE) | JSON [`DepositRecord`] |
//! | `withdrawal/` nonce (32 bytes BE) | JSON [`WithdrawalRecord`] |
//! | `tx/l1/`, `tx/sidechain/` nonce (u64 BE) | JSON [`TxRecord`] |
//!
//! A message's record is deleted once the work is done on chain: the cursor
//! is past it, and the on-chain check stops any repeat if it is seen again.

use std::path::Path;

use alloy_primitives::{Address, B256, Bytes, U256};
use rocksdb::{DB, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::contracts::{L1Bridge, SidechainBridge};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("relayer queue: {0}")]
    Db(#[from] rocksdb::Error),
    /// A record did not decode (a corrupt or foreign database).
    #[error("relayer queue: record {key}: {reason}")]
    Corrupt {
        /// The key, printed.
        key: String,
        /// Why.
        reason: String,
    },
    /// The data dir belongs to another relayer or bridge.
    #[error("relayer queue belongs to {stored}, not {configured}: use another data_dir")]
    Foreign {
        /// What the queue was made for.
        stored: String,
        /// What the configuration says.
        configured: String,
    },
}

/// Result of a queue operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Which chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// The L1.
    L1,
    /// The sidechain.
    Sidechain,
}

impl Chain {
    /// Its name in keys, logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::L1 => "l1",
            Self::Sidechain => "sidechain",
        }
    }
}

/// A bridge message's fields (deposit or withdrawal: the same six).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The nonce on the sending side.
    pub nonce: U256,
    /// The asset's home address.
    pub token: Address,
    /// Whether its home is the L1.
    pub home_l1: bool,
    /// Sender.
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount (what arrived in the sending bridge).
    pub amount: U256,
}

impl Message {
    /// As the sidechain's views take it.
    pub fn sidechain_deposit(&self) -> SidechainBridge::DepositMessage {
        SidechainBridge::DepositMessage {
            nonce: self.nonce,
            token: self.token,
            homeL1: self.home_l1,
            from: self.from,
            to: self.to,
            amount: self.amount,
        }
    }

    /// As L1's `finalizeWithdrawal` takes it.
    pub fn withdrawal(&self) -> L1Bridge::WithdrawalMessage {
        L1Bridge::WithdrawalMessage {
            nonce: self.nonce,
            token: self.token,
            homeL1: self.home_l1,
            from: self.from,
            to: self.to,
            amount: self.amount,
        }
    }
}

/// A deposit seen on L1 below the finality line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositRecord {
    /// The deposit.
    pub message: Message,
    /// Its L1 block and transaction.
    pub l1_block: u64,
    /// Its L1 transaction.
    pub l1_tx: B256,
    /// When this relayer saw it final (unix ms).
    pub seen_at_ms: u64,
    /// Whether this relayer's vote is on chain.
    pub voted: bool,
}

/// A withdrawal seen on the sidechain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalRecord {
    /// The withdrawal.
    pub message: Message,
    /// The digest the sidechain bridge computed (and emitted).
    pub digest: B256,
    /// Its sidechain block.
    pub sidechain_block: u64,
    /// When this relayer saw it (unix ms).
    pub seen_at_ms: u64,
    /// Whether this relayer's signature is on chain.
    pub signed: bool,
    /// When this relayer first saw a threshold of signatures (unix ms):
    /// the start of the finalizer rotation.
    pub threshold_at_ms: Option<u64>,
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "nonce")]
pub enum Purpose {
    /// `SidechainBridge.confirmDeposit` of a deposit nonce.
    ConfirmDeposit(U256),
    /// `SidechainBridge.submitSignature` for a withdrawal nonce.
    SubmitSignature(U256),
    /// `L1Bridge.finalizeWithdrawal` of a withdrawal nonce.
    FinalizeWithdrawal(U256),
}

impl Purpose {
    /// A bounded label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::ConfirmDeposit(_) => "confirm_deposit",
            Self::SubmitSignature(_) => "submit_signature",
            Self::FinalizeWithdrawal(_) => "finalize_withdrawal",
        }
    }
}

/// A transaction sent and not yet seen mined. Written before it is sent:
/// after a crash the same signed transaction is sent again, never a second
/// one for the same work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// The chain.
    pub chain: Chain,
    /// The account nonce.
    pub nonce: u64,
    /// What it does.
    pub purpose: Purpose,
    /// Target contract.
    pub to: Address,
    /// Calldata.
    pub input: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
    /// Current EIP-1559 fee cap.
    pub max_fee_per_gas: u128,
    /// Current priority fee.
    pub max_priority_fee_per_gas: u128,
    /// The signed transaction last sent.
    pub raw: Bytes,
    /// Hashes of every version sent (re-pricing makes new ones); any of them
    /// may be the one mined.
    pub hashes: Vec<B256>,
    /// When first sent (unix ms).
    pub first_sent_ms: u64,
    /// When last (re)priced (unix ms).
    pub priced_at_ms: u64,
}

/// Most versions of one transaction kept (re-pricings).
pub const TX_HASHES_MAX: usize = 16;

/// Who the queue belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The relayer's address.
    pub relayer: Address,
    /// L1 chain id and bridge.
    pub l1: (u64, Address),
    /// Sidechain chain id and bridge.
    pub sidechain: (u64, Address),
}

const IDENTITY: &[u8] = b"meta/identity";
const DEPOSIT: &[u8] = b"deposit/";
const WITHDRAWAL: &[u8] = b"withdrawal/";

fn cursor_key(chain: Chain) -> Vec<u8> {
    format!("cursor/{}", chain.name()).into_bytes()
}

fn nonce_key(prefix: &[u8], nonce: U256) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&nonce.to_be_bytes::<32>());
    key
}

fn tx_prefix(chain: Chain) -> Vec<u8> {
    format!("tx/{}/", chain.name()).into_bytes()
}

fn tx_key(chain: Chain, nonce: u64) -> Vec<u8> {
    let mut key = tx_prefix(chain);
    key.extend_from_slice(&nonce.to_be_bytes());
    key
}

/// The relayer's RocksDB queue.
#[derive(Debug)]
pub struct Queue {
    db: DB,
}

impl Queue {
    /// Opens (creating if needed) the queue in `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // A relayer's queue is small: keep RocksDB's memory modest.
        options.set_write_buffer_size(4 << 20);
        options.set_max_open_files(256);
        Ok(Self {
            db: DB::open(&options, path)?,
        })
    }

    /// Records who the queue belongs to on first use; refuses a queue made
    /// for another relayer key or other bridges.
    pub fn check_identity(&self, identity: &Identity) -> StoreResult<()> {
        match self.get_json::<Identity>(IDENTITY)? {
            Some(stored) if &stored == identity => Ok(()),
            Some(stored) => Err(StoreError::Foreign {
                stored: format!("{stored:?}"),
                configured: format!("{identity:?}"),
            }),
            None => self.put_json(IDENTITY, identity),
        }
    }

    /// The last block scanned on `chain`, if any.
    pub fn cursor(&self, chain: Chain) -> StoreResult<Option<u64>> {
        let Some(bytes) = self.db.get(cursor_key(chain))? else {
            return Ok(None);
        };
        let bytes: [u8; 8] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt {
                key: format!("cursor/{}", chain.name()),
                reason: format!("{} bytes", bytes.len()),
            })?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// Stores the deposits found in blocks up to `scanned` and moves the L1
    /// cursor there, atomically. A deposit already held is kept as is.
    pub fn add_deposits(&self, deposits: &[DepositRecord], scanned: u64) -> StoreResult<usize> {
        let mut batch = WriteBatch::default();
        let mut added = 0;
        for record in deposits {
            let key = nonce_key(DEPOSIT, record.message.nonce);
            if self.db.get_pinned(&key)?.is_none() {
                batch.put(&key, to_json(record));
                added += 1;
            }
        }
        batch.put(cursor_key(Chain::L1), scanned.to_be_bytes());
        self.write(batch)?;
        Ok(added)
    }

    /// Stores the withdrawals found in blocks up to `scanned` and moves the
    /// sidechain cursor there, atomically.
    pub fn add_withdrawals(
        &self,
        withdrawals: &[WithdrawalRecord],
        scanned: u64,
    ) -> StoreResult<usize> {
        let mut batch = WriteBatch::default();
        let mut added = 0;
        for record in withdrawals {
            let key = nonce_key(WITHDRAWAL, record.message.nonce);
            if self.db.get_pinned(&key)?.is_none() {
                batch.put(&key, to_json(record));
                added += 1;
            }
        }
        batch.put(cursor_key(Chain::Sidechain), scanned.to_be_bytes());
        self.write(batch)?;
        Ok(added)
    }

    /// Up to `limit` unfinished deposits, lowest nonce first.
    pub fn deposits(&self, limit: usize) -> StoreResult<Vec<DepositRecord>> {
        self.scan(DEPOSIT, limit)
    }

    /// Up to `limit` unfinished withdrawals, lowest nonce first.
    pub fn withdrawals(&self, limit: usize) -> StoreResult<Vec<WithdrawalRecord>> {
        self.scan(WITHDRAWAL, limit)
    }

    /// Number of unfinished deposits and withdrawals (counted up to `limit`).
    pub fn pending(&self, limit: usize) -> StoreResult<(usize, usize)> {
        Ok((self.count(DEPOSIT, limit)?, self.count(WITHDRAWAL, limit)?))
    }

    /// Updates a deposit's record.
    pub fn put_deposit(&self, record: &DepositRecord) -> StoreResult<()> {
        self.put_json(&nonce_key(DEPOSIT, record.message.nonce), record)
    }

    /// Forgets a deposit: it is done on chain.
    pub fn remove_deposit(&self, nonce: U256) -> StoreResult<()> {
        let mut batch = WriteBatch::default();
        batch.delete(nonce_key(DEPOSIT, nonce));
        self.write(batch)
    }

    /// Updates a withdrawal's record.
    pub fn put_withdrawal(&self, record: &WithdrawalRecord) -> StoreResult<()> {
        self.put_json(&nonce_key(WITHDRAWAL, record.message.nonce), record)
    }

    /// Forgets a withdrawal: it is finalized on L1.
    pub fn remove_withdrawal(&self, nonce: U256) -> StoreResult<()> {
        let mut batch = WriteBatch::default();
        batch.delete(nonce_key(WITHDRAWAL, nonce));
        self.write(batch)
    }

    /// Every unmined transaction on `chain`, by nonce (at most `limit`).
    pub fn transactions(&self, chain: Chain, limit: usize) -> StoreResult<Vec<TxRecord>> {
        self.scan(&tx_prefix(chain), limit)
    }

    /// Stores (or updates) a transaction, synced to disk before it is sent.
    pub fn put_transaction(&self, record: &TxRecord) -> StoreResult<()> {
        self.put_json(&tx_key(record.chain, record.nonce), record)
    }

    /// Forgets a transaction: mined, or its nonce used by another version.
    pub fn remove_transaction(&self, chain: Chain, nonce: u64) -> StoreResult<()> {
        let mut batch = WriteBatch::default();
        batch.delete(tx_key(chain, nonce));
        self.write(batch)
    }

    fn write(&self, batch: WriteBatch) -> StoreResult<()> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        Ok(self.db.write_opt(batch, &options)?)
    }

    fn put_json<T: Serialize>(&self, key: &[u8], value: &T) -> StoreResult<()> {
        let mut batch = WriteBatch::default();
        batch.put(key, to_json(value));
        self.write(batch)
    }

    fn get_json<T: DeserializeOwned>(&self, key: &[u8]) -> StoreResult<Option<T>> {
        self.db
            .get_pinned(key)?
            .map(|bytes| from_json(key, &bytes))
            .transpose()
    }

    fn scan<T: DeserializeOwned>(&self, prefix: &[u8], limit: usize) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        let iter = self
            .db
            .iterator(IteratorMode::From(prefix, rocksdb::Direction::Forward));
        for item in iter {
            let (key, value) = item?;
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push(from_json(&key, &value)?);
        }
        Ok(out)
    }

    fn count(&self, prefix: &[u8], limit: usize) -> StoreResult<usize> {
        let mut n = 0;
        for item in self.db.prefix_iterator(prefix) {
            let (key, _) = item?;
            if !key.starts_with(prefix) || n >= limit {
                break;
            }
            n += 1;
        }
        Ok(n)
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_default()
}

fn from_json<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deposit(nonce: u64) -> DepositRecord {
        DepositRecord {
            message: Message {
                nonce: U256::from(nonce),
                token: Address::ZERO,
                home_l1: true,
                from: Address::repeat_byte(1),
                to: Address::repeat_byte(2),
                amount: U256::from(10),
            },
            l1_block: 5,
            l1_tx: B256::repeat_byte(3),
            seen_at_ms: 0,
            voted: false,
        }
    }

    #[test]
    fn cursor_moves_with_its_deposits_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let queue = Queue::open(dir.path()).unwrap();
            assert_eq!(queue.cursor(Chain::L1).unwrap(), None);
            assert_eq!(
                queue.add_deposits(&[deposit(2), deposit(1)], 10).unwrap(),
                2
            );
            let mut voted = deposit(1);
            voted.voted = true;
            queue.put_deposit(&voted).unwrap();
            // Seen again (a rescan): the stored record wins.
            assert_eq!(queue.add_deposits(&[deposit(1)], 11).unwrap(), 0);
        }
        let queue = Queue::open(dir.path()).unwrap();
        assert_eq!(queue.cursor(Chain::L1).unwrap(), Some(11));
        assert_eq!(queue.cursor(Chain::Sidechain).unwrap(), None);
        let held = queue.deposits(10).unwrap();
        assert_eq!(held.len(), 2);
        assert_eq!(held[0].message.nonce, U256::from(1), "lowest nonce first");
        assert!(held[0].voted);
        queue.remove_deposit(U256::from(1)).unwrap();
        assert_eq!(queue.pending(100).unwrap(), (1, 0));
        assert_eq!(queue.deposits(10).unwrap()[0], deposit(2));
    }

    #[test]
    fn a_queue_refuses_another_relayer() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let me = Identity {
            relayer: Address::repeat_byte(1),
            l1: (1, Address::repeat_byte(2)),
            sidechain: (2, Address::repeat_byte(3)),
        };
        queue.check_identity(&me).unwrap();
        queue.check_identity(&me).unwrap();
        let other = Identity {
            relayer: Address::repeat_byte(9),
            ..me
        };
        assert!(matches!(
            queue.check_identity(&other),
            Err(StoreError::Foreign { .. })
        ));
    }

    #[test]
    fn transactions_by_chain_and_nonce() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        for (chain, nonce) in [(Chain::L1, 7), (Chain::Sidechain, 3), (Chain::L1, 2)] {
            queue
                .put_transaction(&TxRecord {
                    chain,
                    nonce,
                    purpose: Purpose::ConfirmDeposit(U256::from(nonce)),
                    to: Address::ZERO,
                    input: Bytes::new(),
                    gas_limit: 21_000,
                    max_fee_per_gas: 1,
                    max_priority_fee_per_gas: 1,
                    raw: Bytes::new(),
                    hashes: vec![],
                    first_sent_ms: 0,
                    priced_at_ms: 0,
                })
                .unwrap();
        }
        let l1: Vec<u64> = queue
            .transactions(Chain::L1, 10)
            .unwrap()
            .iter()
            .map(|t| t.nonce)
            .collect();
        assert_eq!(l1, vec![2, 7]);
        queue.remove_transaction(Chain::L1, 2).unwrap();
        assert_eq!(queue.transactions(Chain::L1, 10).unwrap().len(), 1);
        assert_eq!(queue.transactions(Chain::Sidechain, 10).unwrap().len(), 1);
    }
}
