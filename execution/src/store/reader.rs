//! Reading the state: revm's database interface, and proofs (at the head
//! from the stored tries, at a past block from the tries taken back to it).

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use revm::{
    bytecode::Bytecode, database_interface::DatabaseRef, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

use std::collections::{HashMap, HashSet};

use super::{Store, StoreError, StoreResult, corrupt};
use crate::trie::{NodeReader, Trie, TrieError, TrieUpdates, node::Nibbles, proof};

/// The state of a [`Store`] after one block, as revm and the RPC read it:
/// the head's flat state, or a recent block's through the history.
#[derive(Clone, Copy, Debug)]
pub struct StateReader<'a> {
    store: &'a Store,
    /// `None` for the head (whatever it is when read), else a block number.
    at: Option<u64>,
}

/// An account with its Merkle proof against the state root (`eth_getProof`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    /// The account's address.
    pub address: Address,
    /// The account, or `None` if it does not exist (the proof then shows
    /// its absence).
    pub account: Option<TrieAccount>,
    /// Account trie nodes from the root to the account.
    pub proof: Vec<Bytes>,
    /// The requested storage slots with their proofs.
    pub storage: Vec<StorageProof>,
}

/// A storage slot with its Merkle proof against the account's storage root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot.
    pub slot: B256,
    /// Its value (zero when unset).
    pub value: U256,
    /// Storage trie nodes from the storage root to the slot.
    pub proof: Vec<Bytes>,
}

impl<'a> StateReader<'a> {
    pub(crate) fn new(store: &'a Store, at: Option<u64>) -> Self {
        Self { store, at }
    }

    /// The account at `address`.
    pub fn account(&self, address: Address) -> StoreResult<Option<alloy_trie::TrieAccount>> {
        match self.at {
            None => self.store.account(address),
            Some(number) => self.store.account_at(address, number),
        }
    }

    /// The value of `slot` in `address`'s storage.
    pub fn storage(&self, address: Address, slot: B256) -> StoreResult<U256> {
        match self.at {
            None => self.store.storage(address, slot),
            Some(number) => self.store.storage_at(address, slot, number),
        }
    }

    /// The bytecode with `hash` (code is never deleted, so any block's).
    pub fn code(&self, hash: B256) -> StoreResult<Option<Bytes>> {
        self.store.code(hash)
    }

    /// The account and storage proofs for `address` and `slots`. Trie nodes
    /// are stored for the head only: for an earlier block, the tries are
    /// taken back to it first (see [`StateReader::past_proof`]).
    pub fn proof(&self, address: Address, slots: &[B256]) -> StoreResult<AccountProof> {
        let head = self.store.head_number()?.unwrap_or_default();
        if let Some(number) = self.at
            && number != head
        {
            return self.past_proof(address, slots, number);
        }
        let root = self.store.head_state_root()?;
        let account = self.store.account(address)?;
        let account_proof = proof::prove(
            &self.store.account_trie(),
            root,
            keccak256(address).as_slice(),
        )?;
        let storage_root = account.as_ref().map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        let storage_nodes = self.store.storage_trie(keccak256(address));
        let storage = slots
            .iter()
            .map(|slot| {
                Ok(StorageProof {
                    slot: *slot,
                    value: self.store.storage(address, *slot)?,
                    proof: proof::prove(&storage_nodes, storage_root, keccak256(slot).as_slice())?,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok(AccountProof {
            address,
            account,
            proof: account_proof,
            storage,
        })
    }
}

/// How often a past-block proof is retried when blocks committed while it
/// was built (the head's tries moved under it).
const PAST_PROOF_ATTEMPTS: usize = 3;

impl StateReader<'_> {
    /// The proof at block `number` before the head: the head's account trie
    /// (and the account's storage trie) with every account (slot) changed
    /// since `number` set back to its value then, in memory; the proof is
    /// read from the stored nodes under those changes. The work grows with
    /// what changed since `number`, which the history window bounds. The
    /// rebuilt roots must equal block `number`'s state root and the
    /// account's storage root then, or nothing is returned.
    fn past_proof(
        &self,
        address: Address,
        slots: &[B256],
        number: u64,
    ) -> StoreResult<AccountProof> {
        let store = self.store;
        let state_root = store
            .header(number)?
            .ok_or_else(|| corrupt("headers", format!("block #{number} is missing")))?
            .state_root;
        for _ in 0..PAST_PROOF_ATTEMPTS {
            store.check_state_available(number)?;
            let head = store.head_number()?.unwrap_or_default();
            let head_root = store.head_state_root()?;
            let head_account = store.account(address)?;
            // Read after the roots: a block committed meanwhile shows in the
            // history, and the root check below catches it.
            let accounts = store.accounts_changed_after(number, head)?;
            let slots_changed = store.slots_changed_after(&address, number, head)?;
            if store.head_number()? != Some(head) {
                continue;
            }

            let mut trie = Trie::new(store.account_trie(), head_root);
            for changed in &accounts {
                let key = keccak256(changed);
                match store.account_at(*changed, number)? {
                    Some(account) => trie.insert(key.as_slice(), alloy_rlp::encode(account))?,
                    None => trie.remove(key.as_slice())?,
                }
            }
            let (root, updates) = trie.commit();
            if root != state_root {
                continue;
            }
            let account = store.account_at(address, number)?;
            let account_proof = proof::prove(
                &Updated::new(store.account_trie(), updates),
                root,
                keccak256(address).as_slice(),
            )?;

            let storage_root = account.as_ref().map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
            let head_storage_root = head_account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
            let mut trie = Trie::new(store.storage_trie(keccak256(address)), head_storage_root);
            for slot in &slots_changed {
                let key = keccak256(slot);
                let value = store.storage_at(address, *slot, number)?;
                if value.is_zero() {
                    trie.remove(key.as_slice())?;
                } else {
                    trie.insert(key.as_slice(), alloy_rlp::encode(value))?;
                }
            }
            let (root, updates) = trie.commit();
            if root != storage_root {
                continue;
            }
            let nodes = Updated::new(store.storage_trie(keccak256(address)), updates);
            let storage = slots
                .iter()
                .map(|slot| {
                    Ok(StorageProof {
                        slot: *slot,
                        value: store.storage_at(address, *slot, number)?,
                        proof: proof::prove(&nodes, root, keccak256(slot).as_slice())?,
                    })
                })
                .collect::<StoreResult<_>>()?;
            if store.head_number()? != Some(head) {
                continue;
            }
            return Ok(AccountProof {
                address,
                account,
                proof: account_proof,
                storage,
            });
        }
        Err(corrupt(
            "state history",
            format!(
                "proof at block #{number}: the tries taken back to it do not give its roots \
                 (or blocks kept committing while they were rebuilt)"
            ),
        ))
    }
}

/// Stored trie nodes with one [`TrieUpdates`] applied over them, in memory.
struct Updated<R> {
    stored: R,
    wiped: bool,
    deleted: HashSet<Nibbles>,
    put: HashMap<Nibbles, Vec<u8>>,
}

impl<R> Updated<R> {
    fn new(stored: R, updates: TrieUpdates) -> Self {
        Self {
            stored,
            wiped: updates.wipe,
            deleted: updates.deletes.into_iter().collect(),
            put: updates.puts.into_iter().collect(),
        }
    }
}

impl<R: NodeReader> NodeReader for Updated<R> {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        if let Some(rlp) = self.put.get(path) {
            return Ok(Some(rlp.clone()));
        }
        if self.wiped || self.deleted.contains(path) {
            return Ok(None);
        }
        self.stored.node(path)
    }
}

impl DatabaseRef for StateReader<'_> {
    type Error = StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        Ok(self.account(address)?.map(|account| AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            account_id: None,
            code: None,
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.store
            .bytecode(code_hash)?
            .ok_or_else(|| corrupt("code", format!("bytecode {code_hash} is missing")))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StoreError> {
        self.storage(address, B256::from(index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StoreError> {
        Ok(self.store.block_hash(number)?.unwrap_or_default())
    }
}
