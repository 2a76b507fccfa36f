//! The RocksDB layout: one column family per kind of record, and the key
//! encodings. Numbers are big-endian so keys sort by height.

use alloy_primitives::{Address, B256};

/// Column families, in the order they are created.
pub(crate) const COLUMN_FAMILIES: &[&str] = &[
    META,
    HEADERS,
    CANONICAL,
    BLOCK_NUMBERS,
    BODIES,
    SENDERS,
    RECEIPTS,
    TX_INDEX,
    ACCOUNTS,
    STORAGE,
    CODE,
    ACCOUNT_TRIE,
    STORAGE_TRIE,
    HISTORY,
    SEALS,
];

/// Singletons such as the head block number.
pub(crate) const META: &str = "meta";
/// Block number → RLP of the header.
pub(crate) const HEADERS: &str = "headers";
/// Block number → block hash.
pub(crate) const CANONICAL: &str = "canonical";
/// Block hash → block number.
pub(crate) const BLOCK_NUMBERS: &str = "block_numbers";
/// Block number → RLP of the body (transactions, ommers, withdrawals).
pub(crate) const BODIES: &str = "bodies";
/// Block number → the recovered senders, 20 bytes each, in order.
pub(crate) const SENDERS: &str = "senders";
/// Block number → RLP list of the EIP-2718 encoded receipts.
pub(crate) const RECEIPTS: &str = "receipts";
/// Transaction hash → block number (8 bytes) and index (4 bytes).
pub(crate) const TX_INDEX: &str = "tx_index";
/// Address → RLP of the account (nonce, balance, storage root, code hash).
pub(crate) const ACCOUNTS: &str = "accounts";
/// Address ++ slot → RLP of the non-zero value.
pub(crate) const STORAGE: &str = "storage";
/// Code hash → bytecode.
pub(crate) const CODE: &str = "code";
/// Path in the account trie → node RLP.
pub(crate) const ACCOUNT_TRIE: &str = "account_trie";
/// keccak(address) ++ path in its storage trie → node RLP.
pub(crate) const STORAGE_TRIE: &str = "storage_trie";

/// Block number → the consensus proof that finalized it (a commit
/// certificate, opaque to the store), written in the block's batch.
pub(crate) const SEALS: &str = "seals";

/// State history, one column family for four kinds of record told apart by
/// their first byte (fewer column families open faster):
/// - [`ACCOUNT_HISTORY`] ++ address ++ block → the account's RLP before that
///   block (empty if it did not exist);
/// - [`STORAGE_HISTORY`] ++ address ++ slot ++ block → the slot's RLP before
///   that block (empty if zero);
/// - [`BLOCK_ACCOUNTS`] ++ block → the addresses whose account the block
///   changed, 20 bytes each, in order;
/// - [`BLOCK_SLOTS`] ++ block → the slots the block changed, address ++ slot
///   (52 bytes) each, in order.
///
/// Schema 1 had other tags (1–4) and a second record per change; opening a
/// schema 1 database drops its history ([`SCHEMA_VERSION`]).
pub(crate) const HISTORY: &str = "history";
/// Tag of the history entries of accounts in [`HISTORY`].
pub(crate) const ACCOUNT_HISTORY: u8 = 5;
/// Tag of the history entries of storage slots in [`HISTORY`].
pub(crate) const STORAGE_HISTORY: u8 = 6;
/// Tag of a block's list of changed accounts in [`HISTORY`].
pub(crate) const BLOCK_ACCOUNTS: u8 = 7;
/// Tag of a block's list of changed slots in [`HISTORY`].
pub(crate) const BLOCK_SLOTS: u8 = 8;

/// The layout this code reads and writes, stored under
/// [`SCHEMA_VERSION_KEY`]. A database without one is of schema 1.
/// - 2: the history as above (schema 1 kept each change twice: once under
///   the block, once under the key with no value).
pub(crate) const SCHEMA_VERSION: u64 = 2;

/// `META` key of the database's schema version (u64 BE).
pub(crate) const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

/// `META` key of the first block whose history is kept.
pub(crate) const HISTORY_FIRST_KEY: &[u8] = b"history_first";

/// `META` key of the head block number.
pub(crate) const HEAD_KEY: &[u8] = b"head";

/// `META` key prefix of an epoch's validator set: the prefix ++ epoch (u64
/// BE) → RLP list of (key, power). Written with the block that fixed it;
/// an epoch without a record keeps the set of the latest epoch before it.
pub(crate) const EPOCH_SET_PREFIX: &[u8] = b"epoch_set/";

/// The `META` key of `epoch`'s validator set.
pub(crate) fn epoch_set_key(epoch: u64) -> Vec<u8> {
    [EPOCH_SET_PREFIX, &epoch.to_be_bytes()].concat()
}

pub(crate) fn number_key(number: u64) -> [u8; 8] {
    number.to_be_bytes()
}

pub(crate) fn storage_key(address: &Address, slot: &B256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(slot.as_slice());
    key
}

/// The key range holding all of `address`'s storage: `[address, address+1)`.
pub(crate) fn storage_range(address: &Address) -> (Vec<u8>, Vec<u8>) {
    prefix_range(address.as_slice())
}

/// Keys starting with `prefix`, as a half-open range.
pub(crate) fn prefix_range(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let start = prefix.to_vec();
    let mut end = prefix.to_vec();
    // Increment as a big-endian number; a prefix of all 0xff has no upper
    // bound within its length, so extend it instead.
    while let Some(last) = end.last_mut() {
        if *last == 0xff {
            end.pop();
        } else {
            *last += 1;
            return (start, end);
        }
    }
    let mut end = prefix.to_vec();
    end.push(0xff);
    end.resize(prefix.len() + 66, 0xff);
    (start, end)
}

/// A trie path as a key: the nibbles packed two to a byte, then their count,
/// so paths of different lengths never collide.
pub(crate) fn trie_path_key(prefix: &[u8], nibbles: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + nibbles.len() / 2 + 2);
    key.extend_from_slice(prefix);
    key.extend(
        nibbles
            .chunks(2)
            .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0)),
    );
    key.push(nibbles.len() as u8);
    key
}

pub(crate) fn tx_location(number: u64, index: u32) -> [u8; 12] {
    let mut value = [0u8; 12];
    value[..8].copy_from_slice(&number.to_be_bytes());
    value[8..].copy_from_slice(&index.to_be_bytes());
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_path_keys_are_unique_across_lengths() {
        let paths: Vec<Vec<u8>> =
            vec![vec![], vec![0], vec![0, 0], vec![1], vec![1, 0], vec![0, 1]];
        let keys: std::collections::HashSet<_> =
            paths.iter().map(|p| trie_path_key(&[], p)).collect();
        assert_eq!(keys.len(), paths.len());
    }

    #[test]
    fn prefix_range_covers_exactly_the_prefix() {
        let (start, end) = prefix_range(&[1, 0xff]);
        assert_eq!((start, end), (vec![1, 0xff], vec![2]));
        let (_, end) = prefix_range(&[0xff, 0xff]);
        assert!(end.as_slice() > [0xff, 0xff, 0xff, 0xff].as_slice());
    }
}
