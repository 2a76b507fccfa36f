//! geth's call overrides (`stateOverrides`, `blockOverrides`) for
//! `eth_call`, `eth_estimateGas`, `debug_traceCall` and `eth_simulateV1`.
//!
//! State overrides go into a [`CacheDB`] layer over the state reader, block
//! overrides into a copy of the block header: the store is never written.

use alloy_consensus::Header;
use alloy_primitives::{Address, U256, keccak256};
pub use alloy_rpc_types_eth::{
    BlockOverrides,
    state::{AccountOverride, StateOverride},
};
use revm::{
    database::CacheDB,
    database_interface::DatabaseRef,
    precompile::{PrecompileSpecId, Precompiles},
    primitives::hardfork::SpecId,
    state::Bytecode,
};

/// The overrides of one call.
#[derive(Clone, Debug, Default)]
pub struct CallOverrides {
    /// Accounts' balance, nonce, code and storage, and moved precompiles.
    pub state: Option<StateOverride>,
    /// Fields of the block the call runs in.
    pub block: Option<Box<BlockOverrides>>,
}

/// Why overrides cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// `state` replaces the storage, `stateDiff` patches it: not both.
    #[error("account {0} has both 'state' and 'stateDiff'")]
    BothStateAndStateDiff(Address),
    /// `movePrecompileToAddress` on an account that is no precompile.
    #[error("account {0} is not a precompile")]
    NotAPrecompile(Address),
    /// A precompile moved onto an account that is itself overridden (its
    /// own address included).
    #[error("account {0} is already overridden")]
    AlreadyOverridden(Address),
    /// The code override is not valid bytecode (a malformed EIP-7702
    /// delegation).
    #[error("account {address}: invalid code override: {reason}")]
    Code {
        /// The overridden account.
        address: Address,
        /// What is wrong with the code.
        reason: String,
    },
    /// A block field this chain does not have.
    #[error("block override '{0}' is not supported: this chain has no {1}")]
    Unsupported(&'static str, &'static str),
    /// A block number past what a header holds.
    #[error("block override 'number' {0} is too large")]
    NumberTooLarge(U256),
}

/// What overrides do to the precompiles: in geth's rules an overridden
/// precompile address stops being one, and `movePrecompileToAddress` puts
/// its precompile at another address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrecompileEdits {
    /// Each overridden precompile address, and where its precompile moves
    /// (`None`: it is removed).
    pub edits: Vec<(Address, Option<Address>)>,
}

impl PrecompileEdits {
    /// Whether `address` holds a moved precompile.
    pub fn is_destination(&self, address: Address) -> bool {
        self.edits.iter().any(|&(_, to)| to == Some(address))
    }
}

/// Applies `overrides` to the accounts in `db`; returns what the EVM must
/// do to the precompiles of fork `spec`. As geth: only a precompile may
/// move, and not onto an address that is itself overridden.
pub fn apply_state_overrides<D: DatabaseRef>(
    db: &mut CacheDB<D>,
    overrides: &StateOverride,
    spec: SpecId,
) -> Result<PrecompileEdits, OverrideApplyError<D::Error>> {
    let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(spec));
    let mut edits = PrecompileEdits::default();
    // Sorted, so that which error a bad request gets does not depend on
    // hash-map order.
    let mut accounts: Vec<_> = overrides.iter().collect();
    accounts.sort_by_key(|(address, _)| **address);
    for &(&address, account) in &accounts {
        let is_precompile = precompiles.contains(&address);
        if let Some(to) = account.move_precompile_to {
            if !is_precompile {
                return Err(OverrideError::NotAPrecompile(address).into());
            }
            if overrides.contains_key(&to) {
                return Err(OverrideError::AlreadyOverridden(to).into());
            }
        }
        if is_precompile {
            edits.edits.push((address, account.move_precompile_to));
        }
    }
    for (&address, account) in accounts {
        apply_account(db, address, account)?;
    }
    Ok(edits)
}

fn apply_account<D: DatabaseRef>(
    db: &mut CacheDB<D>,
    address: Address,
    account: &AccountOverride,
) -> Result<(), OverrideApplyError<D::Error>> {
    if account.state.is_some() && account.state_diff.is_some() {
        return Err(OverrideError::BothStateAndStateDiff(address).into());
    }
    let mut info = db
        .basic_ref(address)
        .map_err(OverrideApplyError::Database)?
        .unwrap_or_default();
    if let Some(nonce) = account.nonce {
        info.nonce = nonce;
    }
    if let Some(balance) = account.balance {
        info.balance = balance;
    }
    if let Some(code) = &account.code {
        let bytecode =
            Bytecode::new_raw_checked(code.clone()).map_err(|e| OverrideError::Code {
                address,
                reason: e.to_string(),
            })?;
        info.code_hash = keccak256(code);
        info.code = Some(bytecode);
    } else if info.code.is_none() && info.code_hash != revm::primitives::KECCAK_EMPTY {
        info.code = Some(
            db.code_by_hash_ref(info.code_hash)
                .map_err(OverrideApplyError::Database)?,
        );
    }
    db.insert_account_info(address, info);
    if let Some(state) = &account.state {
        let slots = state
            .iter()
            .map(|(slot, value)| (U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0)));
        db.replace_account_storage(address, slots.collect())
            .map_err(OverrideApplyError::Database)?;
    }
    if let Some(diff) = &account.state_diff {
        for (slot, value) in diff {
            db.insert_account_storage(
                address,
                U256::from_be_bytes(slot.0),
                U256::from_be_bytes(value.0),
            )
            .map_err(OverrideApplyError::Database)?;
        }
    }
    Ok(())
}

/// A bad override, or the state under it failing.
#[derive(Debug, thiserror::Error)]
pub enum OverrideApplyError<E> {
    /// The override itself is wrong.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// Reading the state failed.
    #[error(transparent)]
    Database(E),
}

/// Applies `overrides` to a copy of `header` (the block a call runs in) and
/// the block-hash overrides to `db`.
pub fn apply_block_overrides<D: DatabaseRef>(
    header: &Header,
    overrides: &BlockOverrides,
    db: &mut CacheDB<D>,
) -> Result<Header, OverrideError> {
    if overrides.blob_base_fee.is_some() {
        return Err(OverrideError::Unsupported("blobBaseFee", "blobs"));
    }
    if overrides.beacon_root.is_some() {
        return Err(OverrideError::Unsupported("beaconRoot", "beacon chain"));
    }
    let mut header = header.clone();
    if let Some(number) = overrides.number {
        header.number = u64::try_from(number).map_err(|_| OverrideError::NumberTooLarge(number))?;
    }
    if let Some(difficulty) = overrides.difficulty {
        header.difficulty = difficulty;
    }
    if let Some(time) = overrides.time {
        header.timestamp = time;
    }
    if let Some(gas_limit) = overrides.gas_limit {
        header.gas_limit = gas_limit;
    }
    if let Some(coinbase) = overrides.coinbase {
        header.beneficiary = coinbase;
    }
    if let Some(random) = overrides.random {
        header.mix_hash = random;
    }
    if let Some(base_fee) = overrides.base_fee {
        header.base_fee_per_gas = Some(base_fee.saturating_to());
    }
    if let Some(hashes) = &overrides.block_hash {
        for (&number, &hash) in hashes {
            db.cache.block_hashes.insert(U256::from(number), hash);
        }
    }
    Ok(header)
}
