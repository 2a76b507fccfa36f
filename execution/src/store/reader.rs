//! Reading the head state: revm's database interface, and proofs.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use revm::{
    bytecode::Bytecode, database_interface::DatabaseRef, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

use super::{Store, StoreError, StoreResult, corrupt};
use crate::trie::proof;

/// The head state of a [`Store`], as revm reads it.
#[derive(Clone, Copy, Debug)]
pub struct StateReader<'a> {
    store: &'a Store,
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
    pub(crate) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// The account and storage proofs for `address` and `slots` at the head.
    pub fn proof(&self, address: Address, slots: &[B256]) -> StoreResult<AccountProof> {
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

impl DatabaseRef for StateReader<'_> {
    type Error = StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        Ok(self.store.account(address)?.map(|account| AccountInfo {
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
        let code = self
            .store
            .code(code_hash)?
            .ok_or_else(|| corrupt("code", format!("bytecode {code_hash} is missing")))?;
        Bytecode::new_raw_checked(code).map_err(|e| corrupt("code", e))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StoreError> {
        self.store.storage(address, B256::from(index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StoreError> {
        Ok(self.store.block_hash(number)?.unwrap_or_default())
    }
}
