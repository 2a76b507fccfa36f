//! Consensus rules of Ethereum blocks, by fork: a header against its
//! parent, a body against its header, and execution results against the
//! header's commitments. Each failure says which rule and which values.

use alloy_consensus::{
    BlockBody, EMPTY_OMMER_ROOT_HASH, Header, TxEip4844Variant, TxEnvelope, proofs,
};
use alloy_eips::eip1559::INITIAL_BASE_FEE;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks};
use alloy_primitives::U256;

use crate::{
    chain::{has_blob_transactions, logs_bloom},
    chain_spec::ChainSpec,
    executor::ExecutionOutput,
};

/// The lowest gas limit a block may have.
pub const MIN_GAS_LIMIT: u64 = 5000;
/// A block's gas limit moves by less than `parent / 1024` per block.
pub const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// The highest gas limit (geth keeps gas in a signed 64-bit integer).
pub const MAX_GAS_LIMIT: u64 = i64::MAX as u64;
/// Extra data is at most this many bytes.
pub const MAXIMUM_EXTRA_DATA_SIZE: usize = 32;

type Rule = Result<(), String>;

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, expected: T, got: T) -> Rule {
    if expected == got {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected:?}, got {got:?}"))
    }
}

/// Checks `header` against its `parent`.
pub fn validate_header(spec: &ChainSpec, parent: &Header, header: &Header) -> Rule {
    let number = header.number;
    expect("block number", parent.number + 1, number)?;
    if header.timestamp <= parent.timestamp {
        return Err(format!(
            "timestamp {} is not after the parent's {}",
            header.timestamp, parent.timestamp
        ));
    }
    if header.extra_data.len() > MAXIMUM_EXTRA_DATA_SIZE {
        return Err(format!(
            "extra data is {} bytes, above 32",
            header.extra_data.len()
        ));
    }
    if header.gas_limit > MAX_GAS_LIMIT {
        return Err(format!("gas limit {} above 2^63-1", header.gas_limit));
    }
    if header.gas_used > header.gas_limit {
        return Err(format!(
            "gas used {} above gas limit {}",
            header.gas_used, header.gas_limit
        ));
    }
    validate_gas_limit(spec, parent, header)?;

    // EIP-1559 base fee.
    if spec.is_london_active_at_block(number) {
        let expected = if spec
            .ethereum_fork_activation(EthereumHardfork::London)
            .transitions_at_block(number)
        {
            INITIAL_BASE_FEE
        } else {
            parent
                .next_block_base_fee(spec.base_fee_params())
                .ok_or("parent has no base fee after London")?
        };
        expect("base fee", Some(expected), header.base_fee_per_gas)?;
    } else if header.base_fee_per_gas.is_some() {
        return Err("base fee before London".into());
    }

    // Proof of work before the merge, none after it.
    if spec.is_paris_active_at_block(number) {
        expect("difficulty after the merge", U256::ZERO, header.difficulty)?;
        expect(
            "nonce after the merge",
            0u64,
            u64::from_be_bytes(header.nonce.0),
        )?;
        expect(
            "ommers hash after the merge",
            EMPTY_OMMER_ROOT_HASH,
            header.ommers_hash,
        )?;
    } else {
        expect(
            "difficulty",
            ethash_difficulty(spec, parent, header),
            header.difficulty,
        )?;
    }

    // Fields that forks add must be present exactly from that fork on.
    let ts = header.timestamp;
    presence(
        "withdrawals root",
        spec.is_shanghai_active_at_timestamp(ts),
        header.withdrawals_root.is_some(),
    )?;
    let cancun = spec.is_cancun_active_at_timestamp(ts);
    presence("blob gas used", cancun, header.blob_gas_used.is_some())?;
    presence("excess blob gas", cancun, header.excess_blob_gas.is_some())?;
    presence(
        "parent beacon block root",
        cancun,
        header.parent_beacon_block_root.is_some(),
    )?;
    presence(
        "requests hash",
        spec.is_prague_active_at_timestamp(ts),
        header.requests_hash.is_some(),
    )?;
    if let Some(params) = spec.blob_params_at(ts) {
        let expected = parent
            .next_block_excess_blob_gas(params)
            .unwrap_or_default();
        expect("excess blob gas", Some(expected), header.excess_blob_gas)?;
        let used = header.blob_gas_used.unwrap_or_default();
        if used > params.max_blob_gas_per_block() {
            return Err(format!("blob gas used {used} above the block maximum"));
        }
        if !used.is_multiple_of(alloy_eips::eip4844::DATA_GAS_PER_BLOB) {
            return Err(format!(
                "blob gas used {used} is not a multiple of the blob gas"
            ));
        }
    }
    Ok(())
}

fn presence(field: &str, required: bool, present: bool) -> Rule {
    match (required, present) {
        (true, false) => Err(format!("{field} missing")),
        (false, true) => Err(format!("{field} present before its fork")),
        _ => Ok(()),
    }
}

fn validate_gas_limit(spec: &ChainSpec, parent: &Header, header: &Header) -> Rule {
    let mut parent_limit = parent.gas_limit;
    // At the London block the target becomes half the limit: the limit
    // doubles so the target stays.
    if spec
        .ethereum_fork_activation(EthereumHardfork::London)
        .transitions_at_block(header.number)
    {
        parent_limit *= spec.base_fee_params().elasticity_multiplier as u64;
    }
    let bound = parent_limit / GAS_LIMIT_BOUND_DIVISOR;
    if header.gas_limit.abs_diff(parent_limit) >= bound {
        return Err(format!(
            "gas limit {} moves too far from the parent's {parent_limit} (bound {bound})",
            header.gas_limit
        ));
    }
    if header.gas_limit < MIN_GAS_LIMIT {
        return Err(format!(
            "gas limit {} below {MIN_GAS_LIMIT}",
            header.gas_limit
        ));
    }
    Ok(())
}

/// The difficulty Ethash requires (Frontier, Homestead, Byzantium rules,
/// with the difficulty bomb and its delays).
pub fn ethash_difficulty(spec: &ChainSpec, parent: &Header, header: &Header) -> U256 {
    const MIN_DIFFICULTY: u64 = 131_072;
    let number = header.number;
    let elapsed = header.timestamp.saturating_sub(parent.timestamp);
    let step = parent.difficulty / U256::from(2048);
    let adjust = |factor: i64| {
        if factor >= 0 {
            parent.difficulty + step * U256::from(factor as u64)
        } else {
            parent
                .difficulty
                .saturating_sub(step * U256::from(factor.unsigned_abs()))
        }
    };
    let mut difficulty = if spec.is_byzantium_active_at_block(number) {
        let uncles = if parent.ommers_hash == EMPTY_OMMER_ROOT_HASH {
            1
        } else {
            2
        };
        adjust((uncles - (elapsed / 9) as i64).max(-99))
    } else if spec.is_homestead_active_at_block(number) {
        adjust((1 - (elapsed / 10) as i64).max(-99))
    } else if elapsed < 13 {
        adjust(1)
    } else {
        adjust(-1)
    };
    difficulty = difficulty.max(U256::from(MIN_DIFFICULTY));
    let delays = [
        (EthereumHardfork::GrayGlacier, 11_400_000),
        (EthereumHardfork::ArrowGlacier, 10_700_000),
        (EthereumHardfork::London, 9_700_000),
        (EthereumHardfork::MuirGlacier, 9_000_000),
        (EthereumHardfork::Constantinople, 5_000_000),
        (EthereumHardfork::Byzantium, 3_000_000),
    ];
    let delay = delays
        .iter()
        .find(|(fork, _)| spec.is_ethereum_fork_active_at_block(*fork, number))
        .map_or(0, |(_, delay)| *delay);
    let fake_number = number.saturating_sub(delay);
    let period = fake_number / 100_000;
    if period > 1 {
        difficulty += U256::from(1) << (period - 2) as usize;
    }
    difficulty
}

/// Checks `body` against `header`: the transactions, ommers and
/// withdrawals commitments, and what the chain allows.
pub fn validate_body(spec: &ChainSpec, header: &Header, body: &BlockBody<TxEnvelope>) -> Rule {
    expect(
        "transactions root",
        header.transactions_root,
        proofs::calculate_transaction_root(&body.transactions),
    )?;
    expect(
        "ommers hash",
        header.ommers_hash,
        proofs::calculate_ommers_root(&body.ommers),
    )?;
    if body.ommers.len() > 2 {
        return Err(format!("{} ommers, at most 2 allowed", body.ommers.len()));
    }
    let withdrawals_root = body
        .withdrawals
        .as_ref()
        .map(|w| proofs::calculate_withdrawals_root(w));
    expect(
        "withdrawals root",
        header.withdrawals_root,
        withdrawals_root,
    )?;
    if !spec.blobs_enabled && has_blob_transactions(&body.transactions) {
        return Err("blob transactions are not supported on this chain".into());
    }
    // Blobs travel beside blocks, never inside them.
    let with_sidecar = body.transactions.iter().position(|tx| {
        matches!(tx, TxEnvelope::Eip4844(signed) if matches!(signed.tx(), TxEip4844Variant::TxEip4844WithSidecar(_)))
    });
    if let Some(index) = with_sidecar {
        return Err(format!(
            "transaction {index} carries a blob sidecar inside the block"
        ));
    }
    Ok(())
}

/// Checks the execution result against the header's commitments.
pub fn validate_output(_spec: &ChainSpec, header: &Header, output: &ExecutionOutput) -> Rule {
    expect("gas used", header.gas_used, output.gas_used)?;
    if let Some(blob_gas_used) = header.blob_gas_used {
        expect("blob gas used", blob_gas_used, output.blob_gas_used)?;
    }
    expect(
        "receipts root",
        header.receipts_root,
        proofs::calculate_receipt_root(&output.receipts),
    )?;
    let bloom = logs_bloom(&output.receipts);
    if bloom != header.logs_bloom {
        return Err("logs bloom mismatch".into());
    }
    if let Some(requests_hash) = header.requests_hash {
        expect(
            "requests hash",
            requests_hash,
            output.requests.requests_hash(),
        )?;
    }
    debug_assert!(
        output
            .receipts
            .iter()
            .all(|r| r.cumulative_gas_used() <= header.gas_used)
    );
    Ok(())
}
