//! Every refusal, with the exact message an RPC client receives.

use alloy_consensus::{TxEip4844, TxEnvelope, transaction::Recovered};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, Bytes, Signature, TxKind, U256};
use revm::primitives::hardfork::SpecId;

use super::*;
use crate::txpool::{PoolError, recover_all, validate_stateless};

/// Adds `tx` to `pool` over `state` and returns the refusal message.
fn refusal(pool: &mut Pool, tx: Recovered<TxEnvelope>, state: &MemState) -> String {
    match pool.add(tx, state) {
        Ok(hash) => panic!("expected a refusal, the pool took {hash}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn nonce_below_account_nonce_is_nonce_too_low() {
    let alice = key(1);
    let mut state = MemState::default();
    state.set(addr(&alice), 5, U256::MAX);
    let message = refusal(&mut pool(), eip1559(&alice, 3, 10, 1), &state);
    assert_eq!(message, "nonce too low: next nonce 5, tx nonce 3");
}

#[test]
fn cost_above_balance_is_insufficient_funds() {
    let alice = key(1);
    let mut state = MemState::default();
    state.set(addr(&alice), 0, U256::from(1_000u64));
    // 21,000 gas * 10 gwei + 1 wei
    let message = refusal(&mut pool(), eip1559(&alice, 0, 10, 1), &state);
    assert_eq!(
        message,
        "insufficient funds for gas * price + value: balance 1000, tx cost 210000000000001, overshot 209999999999001"
    );
}

#[test]
fn cost_of_all_pooled_txs_above_balance_is_insufficient_funds() {
    let alice = key(1);
    let mut state = MemState::default();
    let one_tx = 21_000 * 10 * GWEI + 1;
    // Enough for one transaction and a half.
    state.set(addr(&alice), 0, U256::from(one_tx + one_tx / 2));
    let mut pool = pool();
    pool.add(eip1559(&alice, 0, 10, 1), &state)
        .expect("first fits");
    let message = refusal(&mut pool, eip1559(&alice, 1, 10, 1), &state);
    assert_eq!(
        message,
        format!(
            "insufficient funds for gas * price + value: balance {}, queued cost {one_tx}, tx cost {one_tx}, overshot {}",
            one_tx + one_tx / 2,
            one_tx - one_tx / 2
        )
    );
}

#[test]
fn cost_above_2_pow_256_is_insufficient_funds() {
    let alice = key(1);
    let mut state = MemState::default();
    state.set(addr(&alice), 0, U256::MAX);
    let tx = eip1559_with(&alice, 0, 10, 1, |tx| tx.value = U256::MAX);
    let message = refusal(&mut pool(), tx, &state);
    assert_eq!(
        message,
        format!(
            "insufficient funds for gas * price + value: address {} required balance exceeds 256 bits",
            addr(&alice)
        )
    );
}

#[test]
fn replacement_overdrawing_the_balance_is_insufficient_funds() {
    let alice = key(1);
    let mut state = MemState::default();
    let one_tx = 21_000 * 10 * GWEI + 1;
    state.set(addr(&alice), 0, U256::from(2 * one_tx));
    let mut pool = pool();
    pool.add(eip1559(&alice, 0, 10, 1), &state)
        .expect("first fits");
    pool.add(eip1559(&alice, 1, 10, 1), &state)
        .expect("second fits");
    // Doubling the fee cap of nonce 1 adds 21,000 * 10 gwei to what the
    // account owes.
    let message = refusal(&mut pool, eip1559(&alice, 1, 20, 2), &state);
    assert_eq!(
        message,
        format!(
            "insufficient funds for gas * price + value: balance {}, queued cost {}, tx bumped 210000000000000, overshot 210000000000000",
            2 * one_tx,
            2 * one_tx
        )
    );
}

#[test]
fn gas_below_intrinsic_is_intrinsic_gas_too_low() {
    let tx = eip1559_with(&key(1), 0, 10, 1, |tx| tx.gas_limit = 20_999);
    let message = refusal(&mut pool(), tx, &MemState::default());
    assert_eq!(
        message,
        "intrinsic gas too low: gas 20999, minimum needed 21000"
    );
}

#[test]
fn calldata_heavy_tx_below_eip7623_floor_is_refused_from_prague() {
    // 1,000 non-zero bytes: intrinsic 21,000 + 16,000; floor 21,000 + 40,000.
    let tx = eip1559_with(&key(1), 0, 10, 1, |tx| {
        tx.input = Bytes::from(vec![1u8; 1_000]);
        tx.gas_limit = 40_000;
    });
    let message = refusal(&mut pool(), tx, &MemState::default());
    assert_eq!(
        message,
        "insufficient gas for floor data gas cost: gas 40000, minimum needed 61000"
    );
}

#[test]
fn same_nonce_without_bump_is_replacement_underpriced() {
    let alice = key(1);
    let state = MemState::default();
    let mut pool = pool();
    pool.add(eip1559(&alice, 0, 10, 2), &state).expect("first");
    let message = refusal(&mut pool, eip1559(&alice, 0, 10, 1), &state);
    assert_eq!(message, "replacement transaction underpriced");
}

#[test]
fn tip_below_floor_is_transaction_underpriced() {
    let mut pool = pool_with(PoolConfig {
        min_priority_fee_wei: GWEI,
        ..PoolConfig::default()
    });
    let tx = eip1559_with(&key(1), 0, 10, 0, |tx| tx.max_priority_fee_per_gas = 1);
    let message = refusal(&mut pool, tx, &MemState::default());
    assert_eq!(
        message,
        "transaction underpriced: gas tip cap 1, minimum needed 1000000000"
    );
}

#[test]
fn full_pool_and_cheaper_newcomer_is_transaction_underpriced() {
    let state = MemState::default();
    let mut pool = pool_with(PoolConfig {
        max_pending_txs: 2,
        ..PoolConfig::default()
    });
    pool.add(eip1559(&key(1), 0, 10, 3), &state).expect("fits");
    pool.add(eip1559(&key(2), 0, 10, 4), &state).expect("fits");
    let message = refusal(&mut pool, eip1559(&key(3), 0, 10, 3), &state);
    assert_eq!(message, "transaction underpriced");
    assert_eq!(pool.pending_count(), 2);
}

#[test]
fn full_pool_with_nothing_of_others_to_evict_is_txpool_is_full() {
    let alice = key(1);
    let state = MemState::default();
    let mut pool = pool_with(PoolConfig {
        max_pending_txs: 2,
        ..PoolConfig::default()
    });
    pool.add(eip1559(&alice, 0, 10, 1), &state).expect("fits");
    pool.add(eip1559(&alice, 1, 10, 1), &state).expect("fits");
    let message = refusal(&mut pool, eip1559(&alice, 2, 50, 50), &state);
    assert_eq!(message, "txpool is full");
}

#[test]
fn gas_above_block_gas_limit_is_refused() {
    let mut pool = pool();
    pool.set_head(HeadParams {
        block_gas_limit: 100_000,
        ..head()
    });
    let tx = eip1559_with(&key(1), 0, 10, 1, |tx| tx.gas_limit = 100_001);
    let message = refusal(&mut pool, tx, &MemState::default());
    assert_eq!(message, "exceeds block gas limit");
}

#[test]
fn gas_above_eip7825_cap_is_refused_from_osaka() {
    let tx = eip1559_with(&key(1), 0, 10, 1, |tx| tx.gas_limit = 20_000_000);
    let message = refusal(&mut pool(), tx, &MemState::default());
    assert_eq!(
        message,
        "transaction gas limit too high (cap: 16777216, tx: 20000000)"
    );
}

#[test]
fn other_chain_id_is_invalid_chain_id() {
    let tx = eip1559_with(&key(1), 0, 10, 1, |tx| tx.chain_id = 1);
    let message = refusal(&mut pool(), tx, &MemState::default());
    assert_eq!(
        message,
        "invalid sender: invalid chain id for signer: have 1 want 7777"
    );
}

#[test]
fn same_hash_twice_is_already_known() {
    let tx = eip1559(&key(1), 0, 10, 1);
    let state = MemState::default();
    let mut pool = pool();
    pool.add(tx.clone(), &state).expect("first");
    assert_eq!(refusal(&mut pool, tx, &state), "already known");
}

#[test]
fn encoding_above_128_kib_is_oversized_data() {
    let tx = eip1559_with(&key(1), 0, 10, 1, |tx| {
        tx.input = Bytes::from(vec![0u8; 128 * 1024]);
        tx.gas_limit = 16_000_000;
    });
    let size = tx.inner().encode_2718_len();
    let message = refusal(&mut pool(), tx, &MemState::default());
    assert_eq!(
        message,
        format!("oversized data: transaction size {size}, limit 131072")
    );
}

#[test]
fn tip_above_fee_cap_is_refused() {
    let message = refusal(
        &mut pool(),
        eip1559(&key(1), 0, 10, 11),
        &MemState::default(),
    );
    assert_eq!(
        message,
        "max priority fee per gas higher than max fee per gas"
    );
}

#[test]
fn blob_transaction_is_refused_on_this_chain() {
    let tx = sign(
        &key(1),
        TxEip4844 {
            chain_id: CHAIN_ID,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: TO,
            value: U256::ZERO,
            access_list: Default::default(),
            blob_versioned_hashes: vec![B256::with_last_byte(1)],
            max_fee_per_blob_gas: GWEI,
            input: Bytes::new(),
        },
    );
    let message = refusal(&mut pool(), tx, &MemState::default());
    assert_eq!(
        message,
        "transaction type not supported: blob transactions are not supported on this chain"
    );
}

#[test]
fn set_code_transaction_before_prague_is_type_not_supported() {
    let mut pool = pool();
    pool.set_head(HeadParams {
        spec: SpecId::CANCUN,
        ..head()
    });
    let message = refusal(&mut pool, eip7702(&key(1), 0), &MemState::default());
    assert_eq!(
        message,
        "transaction type not supported: type 4 rejected, pool not yet in Prague"
    );
}

#[test]
fn set_code_transaction_without_authorizations_is_refused() {
    let message = refusal(&mut pool(), eip7702(&key(1), 0), &MemState::default());
    assert_eq!(message, "EIP-7702 transaction with empty auth list");
}

#[test]
fn unprotected_legacy_is_refused_unless_allowed() {
    let tx = legacy(&key(1), 0, 10, None);
    let message = refusal(&mut pool(), tx.clone(), &MemState::default());
    assert_eq!(
        message,
        "only replay-protected (EIP-155) transactions allowed over RPC"
    );

    let mut permissive = pool_with(PoolConfig {
        allow_unprotected_txs: true,
        ..PoolConfig::default()
    });
    assert_eq!(
        permissive.add(tx.clone(), &MemState::default()).ok(),
        Some(hash(&tx))
    );
}

#[test]
fn protected_legacy_is_accepted() {
    let tx = legacy(&key(1), 0, 10, Some(CHAIN_ID));
    assert_eq!(
        pool().add(tx.clone(), &MemState::default()).ok(),
        Some(hash(&tx))
    );
}

#[test]
fn sender_over_its_limit_is_account_limit_exceeded() {
    let alice = key(1);
    let state = MemState::default();
    let mut pool = pool_with(PoolConfig {
        max_txs_per_sender: 2,
        ..PoolConfig::default()
    });
    pool.add(eip1559(&alice, 0, 10, 1), &state).expect("fits");
    pool.add(eip1559(&alice, 5, 10, 1), &state).expect("fits");
    let message = refusal(&mut pool, eip1559(&alice, 1, 10, 1), &state);
    assert_eq!(message, "account limit exceeded: pooled 2 txs");
}

#[test]
fn max_nonce_is_refused_per_eip2681() {
    let alice = key(1);
    let message = refusal(
        &mut pool(),
        eip1559(&alice, u64::MAX, 10, 1),
        &MemState::default(),
    );
    assert_eq!(
        message,
        format!(
            "nonce has max value: address {}, nonce: {}",
            addr(&alice),
            u64::MAX
        )
    );
}

#[test]
fn init_code_above_eip3860_limit_is_refused() {
    let tx = eip1559_with(&key(1), 0, 10, 1, |tx| {
        tx.to = TxKind::Create;
        tx.input = Bytes::from(vec![0u8; 49_153]);
        tx.gas_limit = 16_000_000;
    });
    let message = refusal(&mut pool(), tx, &MemState::default());
    assert_eq!(
        message,
        "max initcode size exceeded: code size 49153, limit 49152"
    );
}

#[test]
fn signature_that_recovers_nothing_is_invalid_sender() {
    let good = eip1559(&key(1), 0, 10, 1).into_inner();
    let TxEnvelope::Eip1559(signed) = good.clone() else {
        panic!("built an EIP-1559 transaction");
    };
    let bad = TxEnvelope::from(signed.strip_signature().into_signed(Signature::new(
        U256::ZERO,
        U256::from(1),
        false,
    )));
    let results = recover_all(vec![good.clone(), bad]);
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0].as_ref().map(|tx| tx.signer()).ok(),
        Some(addr(&key(1)))
    );
    let message = results[1].as_ref().err().map(PoolError::to_string);
    assert_eq!(
        message.as_deref(),
        Some("invalid sender: invalid transaction v, r, s values")
    );
}

#[test]
fn bytes_that_are_no_transaction_are_refused_before_recovery() {
    let rules = pool().validation_rules();
    let err = validate_stateless(&[0xc0], &rules).err();
    assert!(
        matches!(err, Some(PoolError::Decode(_))),
        "expected a decode error, got {err:?}"
    );
}

#[test]
fn fee_cap_below_base_fee_is_kept_as_geth_does() {
    // geth's pool keeps such a transaction until the base fee falls; only the
    // block builder skips it.
    let tx = eip1559(&key(1), 0, 1, 1);
    let mut pool = pool();
    pool.set_head(HeadParams {
        base_fee: 5 * BASE_FEE,
        ..head()
    });
    assert_eq!(
        pool.add(tx.clone(), &MemState::default()).ok(),
        Some(hash(&tx))
    );
    assert_eq!(pool.best_transactions(5 * BASE_FEE).count(), 0);
    assert_eq!(pool.best_transactions(BASE_FEE).count(), 1);
}
