//! Checks that need no account state: encoding, hard-fork rules, chain id,
//! sizes, gas and fee sanity, intrinsic gas.
//!
//! Intrinsic gas comes from revm's own
//! [`calculate_initial_tx_gas`](revm::context_interface::cfg::gas::calculate_initial_tx_gas),
//! so the pool never admits a transaction the executor would reject for gas,
//! nor refuses one it would take. From Prague the EIP-7623 calldata floor is
//! enforced too, as revm does. The pool computes gas with revm's default
//! configuration (EIP-2780 and EIP-8037, optional Amsterdam features, off).
//!
//! [`validate_stateless`] is the full path from raw bytes, shared by
//! `eth_sendRawTransaction` and the `TransactionTests` conformance runner.

use alloy_consensus::{
    Transaction, TxEnvelope,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::{Decodable2718, Typed2718};
use alloy_primitives::{B256, U256};
use revm::{
    context_interface::cfg::gas::calculate_initial_tx_gas,
    primitives::{eip3860, eip7825, eip7954, hardfork::SpecId},
};

use super::{PoolError, PoolResult};

/// geth's message for a signature that recovers to no public key.
pub(crate) const INVALID_SIG: &str = "invalid transaction v, r, s values";

/// Everything the stateless checks depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRules {
    /// The only chain id accepted in signatures.
    pub chain_id: u64,
    /// The hard fork in force at the next block.
    pub spec: SpecId,
    /// Gas limit of the next block; a transaction above it can never be
    /// included.
    pub block_gas_limit: u64,
    /// Whether EIP-4844 blob transactions are accepted (false on Outrigger:
    /// the chain has no blob data layer).
    pub blobs_allowed: bool,
    /// Whether legacy transactions without an EIP-155 chain id are accepted.
    pub allow_unprotected: bool,
    /// Largest accepted EIP-2718 encoding, in bytes.
    pub max_tx_bytes: usize,
}

/// Gas a transaction pays before executing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntrinsicGas {
    /// Base, calldata, access-list, authorization and init-code gas.
    pub initial: u64,
    /// EIP-7623 calldata floor: the least gas the transaction is charged.
    /// Enforced from Prague only.
    pub floor: u64,
}

/// What validation learned about a transaction; the pool keeps it beside
/// the transaction so nothing is computed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFacts {
    /// The transaction hash.
    pub hash: B256,
    /// The nonce.
    pub nonce: u64,
    /// The gas limit.
    pub gas_limit: u64,
    /// `max_fee_per_gas` (the gas price for legacy and EIP-2930).
    pub max_fee_per_gas: u128,
    /// `max_priority_fee_per_gas` (the gas price for legacy and EIP-2930).
    pub max_priority_fee_per_gas: u128,
    /// Most the transaction can take from the sender:
    /// `gas_limit * max_fee_per_gas + value + blob_gas * max_fee_per_blob_gas`,
    /// saturated at 2^256 - 1 ([`tx_cost`] tells an overflow apart).
    pub cost: U256,
    /// Intrinsic gas at the rules' hard fork.
    pub intrinsic_gas: IntrinsicGas,
    /// EIP-2718 encoded length in bytes.
    pub encoded_len: usize,
}

/// Decodes one EIP-2718 transaction (a legacy RLP list, or a type byte
/// followed by the RLP payload), refusing trailing bytes.
pub fn decode_tx(bytes: &[u8]) -> PoolResult<TxEnvelope> {
    TxEnvelope::decode_2718_exact(bytes).map_err(|e| PoolError::Decode(e.to_string()))
}

/// Recovers the sender. From Homestead, signatures with a high `s` are
/// refused (EIP-2); Frontier accepted them.
pub fn recover_tx(tx: TxEnvelope, spec: SpecId) -> PoolResult<Recovered<TxEnvelope>> {
    let recovered = if spec.is_enabled_in(SpecId::HOMESTEAD) {
        tx.try_into_recovered()
    } else {
        tx.try_into_recovered_unchecked()
    };
    recovered.map_err(|_| PoolError::InvalidSender(INVALID_SIG.to_owned()))
}

/// Decodes, recovers and statelessly validates raw transaction bytes: the
/// path `eth_sendRawTransaction` takes before [`Pool::add`](super::Pool::add).
pub fn validate_stateless(
    bytes: &[u8],
    rules: &ValidationRules,
) -> PoolResult<(Recovered<TxEnvelope>, TxFacts)> {
    // Refuse oversized input before paying for decoding and recovery.
    if bytes.len() > rules.max_tx_bytes {
        return Err(PoolError::OversizedData {
            size: bytes.len(),
            limit: rules.max_tx_bytes,
        });
    }
    let tx = decode_tx(bytes)?;
    // A protected signature before Spurious Dragon does not recover.
    if !rules.spec.is_enabled_in(SpecId::SPURIOUS_DRAGON)
        && tx.is_legacy()
        && tx.chain_id().is_some()
    {
        return Err(PoolError::InvalidSender(INVALID_SIG.to_owned()));
    }
    let tx = recover_tx(tx, rules.spec)?;
    let facts = validate_tx(&tx, rules)?;
    Ok((tx, facts))
}

/// Intrinsic gas of `tx` at `spec`, computed by revm.
pub fn intrinsic_gas(tx: &TxEnvelope, spec: SpecId) -> IntrinsicGas {
    let (accounts, storages) = tx.access_list().map_or((0, 0), |list| {
        list.iter()
            .fold((0u64, 0u64), |(accounts, storages), item| {
                (
                    accounts.saturating_add(1),
                    storages.saturating_add(item.storage_keys.len() as u64),
                )
            })
    });
    let authorizations = tx.authorization_list().map_or(0, |list| list.len() as u64);
    let gas = calculate_initial_tx_gas(
        spec,
        tx.input(),
        tx.kind().is_create(),
        accounts,
        storages,
        authorizations,
        None,
    );
    IntrinsicGas {
        initial: gas.initial_total_gas(),
        floor: gas.floor_gas(),
    }
}

/// `gas_limit * max_fee_per_gas + value + blob_gas * max_fee_per_blob_gas`,
/// or `None` if that exceeds 2^256 - 1.
pub fn tx_cost(tx: &TxEnvelope) -> Option<U256> {
    let gas = U256::from(tx.gas_limit()).checked_mul(U256::from(tx.max_fee_per_gas()))?;
    let blob = match (tx.blob_gas_used(), tx.max_fee_per_blob_gas()) {
        (Some(blob_gas), Some(price)) => U256::from(blob_gas).checked_mul(U256::from(price))?,
        _ => U256::ZERO,
    };
    gas.checked_add(tx.value())?.checked_add(blob)
}

/// The hard fork that activates an EIP-2718 type, if it is not active at `spec`.
fn inactive_type_fork(ty: u8, spec: SpecId) -> Option<&'static str> {
    let (fork, name) = match ty {
        1 => (SpecId::BERLIN, "Berlin"),
        2 => (SpecId::LONDON, "London"),
        3 => (SpecId::CANCUN, "Cancun"),
        4 => (SpecId::PRAGUE, "Prague"),
        _ => return None,
    };
    (!spec.is_enabled_in(fork)).then_some(name)
}

/// Largest init code a creation may carry at `spec`, if limited (EIP-3860
/// from Shanghai, EIP-7954 from Amsterdam).
fn max_initcode_size(spec: SpecId) -> Option<usize> {
    if spec.is_enabled_in(SpecId::AMSTERDAM) {
        Some(eip7954::MAX_INITCODE_SIZE)
    } else if spec.is_enabled_in(SpecId::SHANGHAI) {
        Some(eip3860::MAX_INITCODE_SIZE)
    } else {
        None
    }
}

/// Validates a recovered transaction against `rules`, in geth's order, and
/// returns what the pool needs to know about it.
pub fn validate_tx(tx: &Recovered<TxEnvelope>, rules: &ValidationRules) -> PoolResult<TxFacts> {
    let envelope = tx.inner();
    if envelope.is_eip4844() && !rules.blobs_allowed {
        return Err(PoolError::BlobsNotSupported);
    }
    let encoded_len = envelope.eip2718_encoded_length();
    if encoded_len > rules.max_tx_bytes {
        return Err(PoolError::OversizedData {
            size: encoded_len,
            limit: rules.max_tx_bytes,
        });
    }
    let ty = envelope.ty();
    if let Some(fork) = inactive_type_fork(ty, rules.spec) {
        return Err(PoolError::TxTypeNotActive { ty, fork });
    }
    match envelope.chain_id() {
        Some(have) if have != rules.chain_id => {
            return Err(PoolError::InvalidChainId {
                have,
                want: rules.chain_id,
            });
        }
        Some(_) => {}
        None if rules.allow_unprotected => {}
        None => return Err(PoolError::Unprotected),
    }
    if envelope.nonce() == u64::MAX {
        return Err(PoolError::NonceMax {
            sender: tx.signer(),
            nonce: envelope.nonce(),
        });
    }
    if envelope.kind().is_create()
        && let Some(limit) = max_initcode_size(rules.spec)
        && envelope.input().len() > limit
    {
        return Err(PoolError::MaxInitCodeSizeExceeded {
            size: envelope.input().len(),
            limit,
        });
    }
    let gas_limit = envelope.gas_limit();
    if rules.spec.is_enabled_in(SpecId::OSAKA) && gas_limit > eip7825::TX_GAS_LIMIT_CAP {
        return Err(PoolError::GasLimitTooHigh {
            cap: eip7825::TX_GAS_LIMIT_CAP,
            gas: gas_limit,
        });
    }
    if gas_limit > rules.block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit);
    }
    let max_fee_per_gas = envelope.max_fee_per_gas();
    let max_priority_fee_per_gas = envelope.priority_fee_or_price();
    if max_priority_fee_per_gas > max_fee_per_gas {
        return Err(PoolError::TipAboveFeeCap);
    }
    if envelope.authorization_list().is_some_and(<[_]>::is_empty) {
        return Err(PoolError::EmptyAuthList);
    }
    if envelope
        .blob_versioned_hashes()
        .is_some_and(<[_]>::is_empty)
    {
        return Err(PoolError::MissingBlobHashes);
    }
    let intrinsic_gas = intrinsic_gas(envelope, rules.spec);
    if gas_limit < intrinsic_gas.initial {
        return Err(PoolError::IntrinsicGasTooLow {
            gas: gas_limit,
            needed: intrinsic_gas.initial,
        });
    }
    if rules.spec.is_enabled_in(SpecId::PRAGUE) && gas_limit < intrinsic_gas.floor {
        return Err(PoolError::FloorDataGas {
            gas: gas_limit,
            needed: intrinsic_gas.floor,
        });
    }
    // A cost above 2^256 - 1 is a valid transaction no account can pay for:
    // refused at the balance check, not here.
    let cost = tx_cost(envelope).unwrap_or(U256::MAX);
    Ok(TxFacts {
        hash: *envelope.tx_hash(),
        nonce: envelope.nonce(),
        gas_limit,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        cost,
        intrinsic_gas,
        encoded_len,
    })
}

/// Whether `new` may replace `old` (same sender and nonce): both the fee cap
/// and the tip must rise strictly and by at least `bump_percent`, as in geth
/// (the strict rise matters at wei-level prices where the percentage rounds
/// to nothing).
pub fn is_sufficient_bump(old: &TxFacts, new: &TxFacts, bump_percent: u64) -> bool {
    let raised = |old: u128, new: u128| {
        let threshold =
            U256::from(old) * U256::from(100 + u128::from(bump_percent)) / U256::from(100);
        new > old && U256::from(new) >= threshold
    };
    raised(old.max_fee_per_gas, new.max_fee_per_gas)
        && raised(old.max_priority_fee_per_gas, new.max_priority_fee_per_gas)
}
