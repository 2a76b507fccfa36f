//! Reading the head state: revm's database interface, and proofs.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use revm::{
    bytecode::Bytecode, database_interface::DatabaseRef, primitives::KECCAK_EMPTY,
    state::AccountInfo,
};

use super::{Store, StoreError, StoreResult, corrupt};
use crate::trie::proof;

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

    /// The account and storage proofs for `address` and `slots` at the head.
    /// Proofs need the trie nodes, which are kept for the head only.
    pub fn proof(&self, address: Address, slots: &[B256]) -> StoreResult<AccountProof> {
        let head = self.store.head_number()?.unwrap_or_default();
        if let Some(number) = self.at
            && number != head
        {
            return Err(StoreError::StateUnavailable {
                number,
                oldest: head,
                head,
            });
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
        let code = self
            .store
            .code(code_hash)?
            .ok_or_else(|| corrupt("code", format!("bytecode {code_hash} is missing")))?;
        Bytecode::new_raw_checked(code).map_err(|e| corrupt("code", e))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StoreError> {
        self.storage(address, B256::from(index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StoreError> {
        Ok(self.store.block_hash(number)?.unwrap_or_default())
    }
}
