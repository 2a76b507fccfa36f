//! Nonce ordering, replacement, eviction, block building and new heads.

use super::*;

/// The hashes a block builder would take, in order.
fn best_hashes(pool: &Pool, base_fee: u64) -> Vec<B256> {
    pool.best_transactions(base_fee)
        .map(|tx| *tx.tx_hash())
        .collect()
}

#[test]
fn nonce_gap_queues_and_filling_it_promotes() {
    let alice = key(1);
    let state = MemState::default();
    let mut pool = pool();
    pool.add(eip1559(&alice, 0, 10, 1), &state)
        .expect("nonce 0");
    pool.add(eip1559(&alice, 2, 10, 1), &state)
        .expect("nonce 2");
    pool.add(eip1559(&alice, 3, 10, 1), &state)
        .expect("nonce 3");
    assert_eq!((pool.pending_count(), pool.queued_count()), (1, 2));
    assert_eq!(pool.pending_nonce(addr(&alice)), Some(1));
    assert_eq!(pool.best_transactions(BASE_FEE).count(), 1);

    pool.add(eip1559(&alice, 1, 10, 1), &state)
        .expect("nonce 1");
    assert_eq!((pool.pending_count(), pool.queued_count()), (4, 0));
    assert_eq!(pool.pending_nonce(addr(&alice)), Some(4));
    let nonces: Vec<u64> = pool
        .best_transactions(BASE_FEE)
        .map(|tx| alloy_consensus::Transaction::nonce(tx.inner()))
        .collect();
    assert_eq!(nonces, vec![0, 1, 2, 3]);
}

#[test]
fn replacement_needs_ten_percent_on_fee_cap_and_tip() {
    let alice = key(1);
    let state = MemState::default();
    let mut pool = pool();
    let original = eip1559(&alice, 0, 100, 10);
    pool.add(original.clone(), &state).expect("original");

    // 9% on both: refused.
    let low = eip1559_with(&alice, 0, 0, 0, |tx| {
        tx.max_fee_per_gas = 109 * GWEI;
        tx.max_priority_fee_per_gas = 10_900_000_000;
    });
    assert!(matches!(
        pool.add(low, &state),
        Err(crate::txpool::PoolError::ReplacementUnderpriced)
    ));
    // 10% on the fee cap only: refused.
    let cap_only = eip1559(&alice, 0, 110, 10);
    assert!(pool.add(cap_only, &state).is_err());

    // 10% on both: replaces.
    let bumped = eip1559_with(&alice, 0, 0, 0, |tx| {
        tx.max_fee_per_gas = 110 * GWEI;
        tx.max_priority_fee_per_gas = 11 * GWEI;
    });
    assert_eq!(pool.add(bumped.clone(), &state).ok(), Some(hash(&bumped)));
    assert!(pool.get(&hash(&original)).is_none());
    assert!(pool.get(&hash(&bumped)).is_some());
    assert_eq!((pool.len(), pool.pending_count()), (1, 1));
}

#[test]
fn replacement_at_wei_prices_must_still_rise() {
    let alice = key(1);
    let state = MemState::default();
    let mut pool = pool();
    let wei = |max_fee: u128, tip: u128, value: u64| {
        eip1559_with(&alice, 0, 0, 0, |tx| {
            tx.max_fee_per_gas = max_fee;
            tx.max_priority_fee_per_gas = tip;
            tx.value = U256::from(value);
        })
    };
    pool.add(wei(5, 5, 1), &state).expect("original");
    // 10% of 5 wei rounds to nothing, but equal fees are not a bump.
    assert!(pool.add(wei(5, 5, 2), &state).is_err());
    let bumped = wei(6, 6, 3);
    assert_eq!(pool.add(bumped.clone(), &state).ok(), Some(hash(&bumped)));
}

#[test]
fn recover_all_keeps_the_input_order() {
    let txs: Vec<_> = (1..=40u8)
        .map(|seed| eip1559(&key(seed), u64::from(seed), 10, 1).into_inner())
        .collect();
    let signers: Vec<Address> = crate::txpool::recover_all(txs)
        .into_iter()
        .map(|tx| tx.expect("valid signature").signer())
        .collect();
    let expected: Vec<Address> = (1..=40u8).map(|seed| addr(&key(seed))).collect();
    assert_eq!(signers, expected);
}

#[test]
fn full_pending_evicts_cheapest_tail_of_another_sender() {
    let (alice, bob, carol) = (key(1), key(2), key(3));
    let state = MemState::default();
    let mut pool = pool_with(PoolConfig {
        max_pending_txs: 3,
        ..PoolConfig::default()
    });
    let alice0 = eip1559(&alice, 0, 20, 1);
    let alice1 = eip1559(&alice, 1, 20, 9);
    let bob0 = eip1559(&bob, 0, 20, 5);
    for tx in [&alice0, &alice1, &bob0] {
        pool.add(tx.clone(), &state).expect("fits");
    }
    // Alice's cheap nonce 0 is not a candidate: evicting it would strand
    // nonce 1. Her tail (tip 9) outbids Bob's (tip 5), so Bob goes.
    let carol0 = eip1559(&carol, 0, 20, 6);
    pool.add(carol0.clone(), &state).expect("outbids bob");
    assert!(pool.get(&hash(&bob0)).is_none());
    for tx in [&alice0, &alice1, &carol0] {
        assert!(pool.contains(&hash(tx)));
    }
    assert_eq!(pool.pending_count(), 3);
    assert_eq!(pool.pending_nonce(addr(&alice)), Some(2));
}

#[test]
fn full_queue_evicts_cheapest_queued_and_keeps_pending() {
    let (alice, bob) = (key(1), key(2));
    let state = MemState::default();
    let mut pool = pool_with(PoolConfig {
        max_queued_txs: 1,
        ..PoolConfig::default()
    });
    pool.add(eip1559(&alice, 0, 20, 1), &state)
        .expect("pending");
    let alice_gapped = eip1559(&alice, 2, 20, 1);
    pool.add(alice_gapped.clone(), &state).expect("queued");
    let bob_gapped = eip1559(&bob, 4, 20, 2);
    pool.add(bob_gapped.clone(), &state)
        .expect("outbids the queued one");
    assert!(!pool.contains(&hash(&alice_gapped)));
    assert!(pool.contains(&hash(&bob_gapped)));
    assert_eq!((pool.pending_count(), pool.queued_count()), (1, 1));
}

#[test]
fn best_transactions_go_by_tip_and_keep_each_senders_nonce_order() {
    let (alice, bob, carol) = (key(1), key(2), key(3));
    let state = MemState::default();
    let mut pool = pool();
    let alice0 = eip1559(&alice, 0, 50, 1);
    let alice1 = eip1559(&alice, 1, 50, 10);
    let bob0 = eip1559(&bob, 0, 50, 5);
    let carol0 = eip1559(&carol, 0, 50, 3);
    for tx in [&alice1, &alice0, &carol0, &bob0] {
        pool.add(tx.clone(), &state).expect("fits");
    }
    // Alice's tip-10 transaction waits for her tip-1 nonce 0.
    assert_eq!(
        best_hashes(&pool, BASE_FEE),
        vec![hash(&bob0), hash(&carol0), hash(&alice0), hash(&alice1)]
    );
}

#[test]
fn best_transactions_rank_by_effective_tip_at_the_base_fee() {
    let (alice, bob) = (key(1), key(2));
    let state = MemState::default();
    let mut pool = pool();
    // At base fee 1 gwei Alice pays 1 gwei of tip (fee cap 2), Bob 1.5 gwei.
    let alice0 = eip1559(&alice, 0, 2, 2);
    let bob0 = eip1559_with(&bob, 0, 50, 0, |tx| {
        tx.max_priority_fee_per_gas = 1_500_000_000
    });
    pool.add(alice0.clone(), &state).expect("fits");
    pool.add(bob0.clone(), &state).expect("fits");
    assert_eq!(
        best_hashes(&pool, BASE_FEE),
        vec![hash(&bob0), hash(&alice0)]
    );
    // At base fee 0 Alice's full 2 gwei tip counts.
    assert_eq!(best_hashes(&pool, 0), vec![hash(&alice0), hash(&bob0)]);
}

#[test]
fn best_transactions_break_ties_by_arrival() {
    let state = MemState::default();
    let mut pool = pool();
    let txs: Vec<_> = (1..=4).map(|seed| eip1559(&key(seed), 0, 10, 2)).collect();
    for tx in &txs {
        pool.add(tx.clone(), &state).expect("fits");
    }
    assert_eq!(
        best_hashes(&pool, BASE_FEE),
        txs.iter().map(hash).collect::<Vec<_>>()
    );
}

#[test]
fn best_transactions_skip_a_sender_whose_next_tx_cannot_pay_the_base_fee() {
    let (alice, bob) = (key(1), key(2));
    let state = MemState::default();
    let mut pool = pool();
    // Alice's nonce 0 has fee cap 2 gwei: at base fee 3 gwei it cannot be
    // included, so neither can her well-paying nonce 1.
    pool.add(eip1559(&alice, 0, 2, 1), &state).expect("fits");
    pool.add(eip1559(&alice, 1, 50, 20), &state).expect("fits");
    let bob0 = eip1559(&bob, 0, 50, 1);
    pool.add(bob0.clone(), &state).expect("fits");
    assert_eq!(best_hashes(&pool, 3 * BASE_FEE), vec![hash(&bob0)]);
}

#[test]
fn has_executable_agrees_with_best_transactions() {
    let alice = key(1);
    let state = MemState::default();
    let mut pool = pool();
    assert!(!pool.has_executable(), "an empty pool");
    pool.add(eip1559(&alice, 0, 2, 1), &state).expect("fits");
    pool.add(eip1559(&alice, 1, 50, 20), &state).expect("fits");
    for base_fee in [BASE_FEE, 3 * BASE_FEE] {
        pool.set_head(HeadParams { base_fee, ..head() });
        assert_eq!(
            pool.has_executable(),
            !best_hashes(&pool, base_fee).is_empty(),
            "at base fee {base_fee}"
        );
    }
    assert!(!pool.has_executable(), "nonce 0 cannot pay 3 gwei");
}

#[test]
fn mark_invalid_skips_the_rest_of_a_sender() {
    let (alice, bob) = (key(1), key(2));
    let state = MemState::default();
    let mut pool = pool();
    let alice0 = eip1559(&alice, 0, 50, 9);
    pool.add(alice0.clone(), &state).expect("fits");
    pool.add(eip1559(&alice, 1, 50, 9), &state).expect("fits");
    pool.add(eip1559(&alice, 2, 50, 9), &state).expect("fits");
    let bob0 = eip1559(&bob, 0, 50, 1);
    pool.add(bob0.clone(), &state).expect("fits");

    let mut best = pool.best_transactions(BASE_FEE);
    let first = best.next().expect("alice's nonce 0");
    assert_eq!(*first.tx_hash(), hash(&alice0));
    // Executing it failed: the builder drops Alice for this block.
    best.mark_invalid(first.signer());
    let rest: Vec<B256> = best.map(|tx| *tx.tx_hash()).collect();
    assert_eq!(rest, vec![hash(&bob0)]);
}

#[test]
fn new_block_removes_included_and_stale_and_promotes() {
    let (alice, bob, carol, dave) = (key(1), key(2), key(3), key(4));
    let mut state = MemState::default();
    let mut pool = pool();
    let alice_txs: Vec<_> = (0..3).map(|n| eip1559(&alice, n, 10, 1)).collect();
    let bob0 = eip1559(&bob, 0, 10, 1);
    let carol0 = eip1559(&carol, 0, 10, 1);
    let dave3 = eip1559(&dave, 3, 10, 1);
    for tx in alice_txs.iter().chain([&bob0, &carol0, &dave3]) {
        pool.add(tx.clone(), &state).expect("fits");
    }
    assert_eq!((pool.pending_count(), pool.queued_count()), (5, 1));

    // The block took Alice's 0 and 1 (reported) and Bob's 0 (only visible
    // as his nonce moving); Carol's balance was drained; Dave's other
    // transactions, never seen by this pool, moved his nonce to 3.
    state.set(addr(&alice), 2, U256::MAX);
    state.set(addr(&bob), 1, U256::MAX);
    state.set(addr(&carol), 0, U256::from(1u64));
    state.set(addr(&dave), 3, U256::MAX);
    let outcome = pool
        .on_new_block(
            head(),
            &[hash(&alice_txs[0]), hash(&alice_txs[1])],
            None,
            &state,
        )
        .expect("state reads");
    assert_eq!(
        (
            outcome.included,
            outcome.stale,
            outcome.unexecutable,
            outcome.evicted
        ),
        (2, 1, 1, 0)
    );
    assert!(pool.contains(&hash(&alice_txs[2])));
    assert!(!pool.contains(&hash(&bob0)));
    assert!(!pool.contains(&hash(&carol0)));
    assert_eq!((pool.pending_count(), pool.queued_count()), (2, 0));
    assert_eq!(pool.pending_nonce(addr(&alice)), Some(3));
    assert_eq!(pool.pending_nonce(addr(&dave)), Some(4));
    assert_eq!(pool.pending_nonce(addr(&bob)), None);
}

#[test]
fn new_block_takes_the_new_head() {
    let mut pool = pool();
    let lowered = HeadParams {
        block_gas_limit: 50_000,
        ..head()
    };
    let big = eip1559_with(&key(1), 0, 10, 1, |tx| tx.gas_limit = 60_000);
    pool.add(big.clone(), &MemState::default())
        .expect("fits the old limit");
    let outcome = pool
        .on_new_block(lowered, &[], Some(&[]), &MemState::default())
        .expect("state reads");
    assert_eq!(outcome.unexecutable, 1);
    assert!(pool.is_empty());
    assert_eq!(pool.params().head, lowered);
    let again = eip1559_with(&key(1), 0, 10, 1, |tx| tx.gas_limit = 60_000);
    assert!(pool.add(again, &MemState::default()).is_err());
}

#[test]
fn failed_state_read_leaves_the_pool_unchanged() {
    struct Broken;
    impl AccountState for Broken {
        fn account(&self, address: Address) -> PoolResult<PoolAccount> {
            Err(crate::txpool::PoolError::State {
                address,
                source: "disk on fire".into(),
            })
        }
    }
    let mut pool = pool();
    let tx = eip1559(&key(1), 0, 10, 1);
    pool.add(tx.clone(), &MemState::default()).expect("fits");
    let err = pool
        .on_new_block(head(), &[hash(&tx)], None, &Broken)
        .expect_err("the read fails");
    assert_eq!(
        err.to_string(),
        format!("reading account {}: disk on fire", addr(&key(1)))
    );
    assert!(pool.contains(&hash(&tx)));
    // The next head reads every sender again, whatever its block changed.
    let mut state = MemState::default();
    state.set(addr(&key(1)), 1, U256::MAX);
    let outcome = pool
        .on_new_block(head(), &[], Some(&[]), &state)
        .expect("state reads");
    assert_eq!(outcome.stale, 1);
    assert!(pool.is_empty());
}

#[test]
fn new_block_reads_only_the_senders_its_block_changed() {
    struct Counting<'a>(&'a MemState, std::cell::RefCell<Vec<Address>>);
    impl AccountState for Counting<'_> {
        fn account(&self, address: Address) -> PoolResult<PoolAccount> {
            self.1.borrow_mut().push(address);
            self.0.account(address)
        }
    }
    let (alice, bob, carol) = (key(1), key(2), key(3));
    let mut state = MemState::default();
    let mut pool = pool();
    let (alice0, bob0) = (eip1559(&alice, 0, 10, 1), eip1559(&bob, 0, 10, 1));
    pool.add(alice0.clone(), &state).expect("fits");
    pool.add(bob0.clone(), &state).expect("fits");

    // The block moved Alice's nonce and paid Carol, who has nothing pooled.
    state.set(addr(&alice), 1, U256::MAX);
    let counting = Counting(&state, Default::default());
    let outcome = pool
        .on_new_block(head(), &[], Some(&[addr(&carol), addr(&alice)]), &counting)
        .expect("state reads");
    assert_eq!(*counting.1.borrow(), vec![addr(&alice)]);
    assert_eq!(outcome.stale, 1);
    assert!(!pool.contains(&hash(&alice0)));
    assert!(pool.contains(&hash(&bob0)));

    // A new gas limit can make anyone's transaction unexecutable: every
    // sender is read.
    let counting = Counting(&state, Default::default());
    let lowered = HeadParams {
        block_gas_limit: 20_000,
        ..head()
    };
    let outcome = pool
        .on_new_block(lowered, &[], Some(&[]), &counting)
        .expect("state reads");
    assert_eq!(*counting.1.borrow(), vec![addr(&bob)]);
    assert_eq!(outcome.unexecutable, 1);
    assert!(pool.is_empty());
}

#[test]
fn admission_reuses_held_sender_state_only_at_the_head_it_was_read() {
    /// Counts account reads; its head is a block number the test moves.
    struct AtHead<'a> {
        state: &'a MemState,
        head: std::cell::Cell<u64>,
        reads: std::cell::Cell<usize>,
    }
    impl AccountState for AtHead<'_> {
        fn account(&self, address: Address) -> PoolResult<PoolAccount> {
            self.reads.set(self.reads.get() + 1);
            self.state.account(address)
        }
        fn head(&self) -> Option<u64> {
            Some(self.head.get())
        }
    }
    let (alice, bob) = (key(1), key(2));
    let mut state = MemState::default();
    let at = AtHead {
        state: &state,
        head: 5.into(),
        reads: 0.into(),
    };
    let mut pool = pool();
    // Nothing held and nothing synced yet: admission reads.
    pool.add(eip1559(&alice, 0, 10, 1), &at).expect("fits");
    assert_eq!(at.reads.get(), 1);
    pool.add(eip1559(&alice, 1, 10, 1), &at).expect("fits");
    assert_eq!(at.reads.get(), 2, "no head synced: still read");

    // Block 5 is announced. The pool was not in sync with any head, so it
    // reads every sender it holds: Alice's state is now as of 5.
    pool.on_new_block(head(), &[], Some(&[addr(&alice)]), &at)
        .expect("state reads");
    let reads = at.reads.get();
    pool.add(eip1559(&alice, 2, 10, 1), &at).expect("fits");
    assert_eq!(
        at.reads.get(),
        reads,
        "held and at the synced head: no read"
    );
    pool.add(eip1559(&bob, 0, 10, 1), &at).expect("fits");
    assert_eq!(at.reads.get(), reads + 1, "a sender not held is read");

    // The store moved to 6 before the pool heard of it: read.
    at.head.set(6);
    pool.add(eip1559(&alice, 3, 10, 1), &at).expect("fits");
    assert_eq!(at.reads.get(), reads + 2);
    // Block 6 follows 5: synced again, held senders answer.
    pool.on_new_block(head(), &[], Some(&[]), &at)
        .expect("state reads");
    let reads = at.reads.get();
    pool.add(eip1559(&alice, 4, 10, 1), &at).expect("fits");
    assert_eq!(at.reads.get(), reads);

    // Block 8 is announced without 7 (its changes unseen): not in sync
    // until the next head reads every sender.
    at.head.set(8);
    pool.on_new_block(head(), &[], Some(&[]), &at)
        .expect("state reads");
    let reads = at.reads.get();
    pool.add(eip1559(&alice, 5, 10, 1), &at).expect("fits");
    assert_eq!(at.reads.get(), reads + 1, "a gap in the heads: read");

    // Reading every sender syncs whatever came before. A block included
    // Alice's first three: her held nonce is 3, and admission answers
    // from it as a read would.
    state.set(addr(&alice), 3, U256::MAX);
    let at = AtHead {
        state: &state,
        head: 9.into(),
        reads: 0.into(),
    };
    pool.on_new_block(head(), &[], None, &at)
        .expect("state reads");
    let reads = at.reads.get();
    let err = pool
        .add(eip1559(&alice, 2, 11, 1), &at)
        .expect_err("nonce below the account's");
    assert_eq!(err.to_string(), "nonce too low: next nonce 3, tx nonce 2");
    assert_eq!(at.reads.get(), reads, "answered from the held state");
}

#[test]
fn content_lists_pending_and_queued_by_sender_and_nonce() {
    let (alice, bob) = (key(1), key(2));
    let state = MemState::default();
    let mut pool = pool();
    let alice0 = eip1559(&alice, 0, 10, 1);
    let alice5 = eip1559(&alice, 5, 10, 1);
    let bob0 = eip1559(&bob, 0, 10, 1);
    for tx in [&alice0, &alice5, &bob0] {
        pool.add(tx.clone(), &state).expect("fits");
    }
    let content = pool.content();
    assert_eq!(content.pending.len(), 2);
    assert_eq!(
        content.pending[&addr(&alice)]
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        vec![0]
    );
    assert_eq!(
        content.queued[&addr(&alice)]
            .get(&5)
            .map(|tx| *tx.tx_hash()),
        Some(hash(&alice5))
    );
    let alice_content = pool.content_from(addr(&alice));
    assert_eq!(alice_content.pending.len(), 1);
    assert_eq!(alice_content.queued.len(), 1);
    assert!(pool.content_from(addr(&key(9))).pending.is_empty());
}

#[test]
fn adding_after_a_missed_head_drops_the_senders_included_txs() {
    let alice = key(1);
    let mut state = MemState::default();
    let mut pool = pool();
    pool.add(eip1559(&alice, 0, 10, 1), &state).expect("fits");
    pool.add(eip1559(&alice, 1, 10, 1), &state).expect("fits");
    // A block included both before the pool heard of it.
    state.set(addr(&alice), 2, U256::MAX);
    pool.add(eip1559(&alice, 2, 10, 1), &state).expect("fits");
    assert_eq!((pool.len(), pool.pending_count()), (1, 1));
    assert_eq!(pool.pending_nonce(addr(&alice)), Some(3));
}
