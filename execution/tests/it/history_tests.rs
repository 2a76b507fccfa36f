//! The state of recent blocks, read through the history each block records:
//! balances, nonces and storage at every kept block, the window pruned as
//! blocks are added, `eth_call` at a past block, and history surviving a
//! reopen.

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use outrigger_execution::{StoreError, call::CallRequest};

use crate::support::{TestChain, eip1559, genesis_json, key};

const ETH: u128 = 1_000_000_000_000_000_000;

fn counter_code() -> Bytes {
    // Init code that deploys a contract whose runtime increments slot 0 on
    // every call and returns nothing: SLOAD 0, ADD 1, SSTORE 0.
    let runtime: [u8; 9] = [0x60, 0x00, 0x54, 0x60, 0x01, 0x01, 0x60, 0x00, 0x55];
    let mut init = vec![
        0x60,
        runtime.len() as u8, // PUSH1 len
        0x80,                // DUP1
        0x60,
        0x0c, // PUSH1 offset of runtime
        0x60,
        0x00, // PUSH1 0
        0x39, // CODECOPY
        0x60,
        0x00, // PUSH1 0
        0xf3, // RETURN
        0x00,
    ];
    init.extend_from_slice(&runtime);
    init.into()
}

#[test]
fn balances_nonces_and_storage_at_every_kept_block() {
    let alice = key(1);
    let bob = Address::repeat_byte(0xb0);
    let genesis = genesis_json(&[(alice.address(), U256::from(100 * ETH))]);
    let window = 4;
    let node = TestChain::with_history(&genesis, window);
    let counter = alice.address().create(0);
    node.build(vec![eip1559(
        &alice,
        0,
        TxKind::Create,
        U256::ZERO,
        counter_code(),
        200_000,
    )]);
    // Blocks 2..=9: one transfer of n wei to bob and one counter bump each.
    for n in 2..=9u64 {
        node.build(vec![
            eip1559(
                &alice,
                2 * n - 3,
                TxKind::Call(bob),
                U256::from(n),
                Bytes::new(),
                21_000,
            ),
            eip1559(
                &alice,
                2 * n - 2,
                TxKind::Call(counter),
                U256::ZERO,
                Bytes::new(),
                100_000,
            ),
        ]);
    }
    let store = node.store();
    assert_eq!(store.head_number().unwrap(), Some(9));
    assert_eq!(store.oldest_state().unwrap(), Some(9 - window));
    for number in (9 - window)..=9 {
        let state = store.state_at(number).unwrap();
        // Bob got 2 + 3 + ... + number wei by block `number`.
        let expected: u64 = (2..=number).sum();
        let bob_balance = state
            .account(bob)
            .unwrap()
            .map(|a| a.balance)
            .unwrap_or_default();
        assert_eq!(bob_balance, U256::from(expected), "bob at #{number}");
        let nonce = state.account(alice.address()).unwrap().unwrap().nonce;
        assert_eq!(nonce, 2 * number - 1, "alice's nonce at #{number}");
        let count = state.storage(counter, B256::ZERO).unwrap();
        assert_eq!(count, U256::from(number - 1), "counter at #{number}");
    }
    // Older state was pruned: a clear error, not a wrong answer.
    for number in [0, 9 - window - 1] {
        let error = store.state_at(number).unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::StateUnavailable {
                    oldest: 5,
                    head: 9,
                    ..
                }
            ),
            "{error}"
        );
        let error = store.account_at(bob, number).unwrap_err();
        assert!(
            matches!(error, StoreError::StateUnavailable { .. }),
            "{error}"
        );
    }
    assert!(matches!(
        store.state_at(10).unwrap_err(),
        StoreError::StateUnavailable { .. }
    ));
    // Proofs at every kept block, against that block's state root (the
    // tries are rebuilt back to it): the counter's slot 0 and bob's account.
    for number in (9 - window)..=9 {
        let state_root = store.header(number).unwrap().unwrap().state_root;
        for address in [counter, bob] {
            let proof = store
                .state_at(number)
                .unwrap()
                .proof(address, &[B256::ZERO])
                .unwrap();
            let account = proof.account.expect("both accounts exist");
            alloy_trie::proof::verify_proof(
                state_root,
                alloy_trie::Nibbles::unpack(alloy_primitives::keccak256(address)),
                Some(alloy_rlp::encode(account)),
                &proof.proof,
            )
            .unwrap_or_else(|e| panic!("{address} at #{number}: {e}"));
            let slot = &proof.storage[0];
            let expected = (address == counter).then(|| U256::from(number - 1));
            assert_eq!(slot.value, expected.unwrap_or_default(), "#{number}");
            alloy_trie::proof::verify_proof(
                account.storage_root,
                alloy_trie::Nibbles::unpack(alloy_primitives::keccak256(B256::ZERO)),
                expected.map(alloy_rlp::encode),
                &slot.proof,
            )
            .unwrap_or_else(|e| panic!("{address} slot 0 at #{number}: {e}"));
        }
    }
    // Outside the window, no proof either.
    assert!(matches!(
        store
            .state_at(9 - window - 1)
            .and_then(|s| s.proof(bob, &[])),
        Err(StoreError::StateUnavailable { .. })
    ));

    // eth_call at a past block runs on that block's state.
    assert_eq!(
        store.storage_at(counter, B256::ZERO, 6).unwrap(),
        U256::from(5)
    );
    let header = store.header(6).unwrap().unwrap();
    let send_at_6 = |value: u64| {
        node.chain.executor().call(
            store,
            &header,
            &CallRequest {
                from: Some(bob),
                to: Some(Address::repeat_byte(0xcc)),
                value: Some(U256::from(value)),
                ..Default::default()
            },
            50_000_000,
            &Default::default(),
        )
    };
    assert!(
        send_at_6((2..=6).sum()).unwrap().is_success(),
        "bob can send what he had at #6"
    );
    let too_much = send_at_6((2..=7).sum());
    assert!(
        too_much.is_err() || !too_much.unwrap().is_success(),
        "but not what he only had later"
    );
}

#[test]
fn history_survives_reopen_and_can_be_turned_off() {
    let alice = key(1);
    let bob = Address::repeat_byte(0xb1);
    let genesis = genesis_json(&[(alice.address(), U256::from(100 * ETH))]);
    let node = TestChain::with_history(&genesis, 128);
    for n in 0..3u64 {
        node.build(vec![eip1559(
            &alice,
            n,
            TxKind::Call(bob),
            U256::from(1),
            Bytes::new(),
            21_000,
        )]);
    }
    let node = node.reopen(&genesis, 128);
    let store = node.store();
    assert_eq!(store.oldest_state().unwrap(), Some(0));
    for number in 0..=3u64 {
        let balance = store
            .account_at(bob, number)
            .unwrap()
            .map(|a| a.balance)
            .unwrap_or_default();
        assert_eq!(balance, U256::from(number), "bob at #{number} after reopen");
    }
    // Reopened without history: the next block drops the window.
    let node = node.reopen(&genesis, 0);
    node.build(vec![eip1559(
        &alice,
        3,
        TxKind::Call(bob),
        U256::from(1),
        Bytes::new(),
        21_000,
    )]);
    assert_eq!(node.store().oldest_state().unwrap(), Some(4));
    assert!(node.store().state_at(3).is_err());
}

#[test]
fn a_reader_of_the_head_stays_on_its_block_after_the_next_commit() {
    let alice = key(1);
    let bob = Address::repeat_byte(0xb0);
    let genesis = genesis_json(&[(alice.address(), U256::from(100 * ETH))]);
    let node = TestChain::with_history(&genesis, 4);
    let transfer = |nonce: u64| {
        eip1559(
            &alice,
            nonce,
            TxKind::Call(bob),
            U256::from(7),
            Bytes::new(),
            21_000,
        )
    };
    node.build(vec![transfer(0)]);
    let store = node.store();
    let head = store.head_number().unwrap().unwrap();
    let reader = store.state_at(head).unwrap();
    let bob_balance = |reader: &outrigger_execution::store::StateReader<'_>| {
        reader.account(bob).unwrap().map(|a| a.balance)
    };
    // Read at the head (the flat state), then again after the head moved
    // (through the history): the same block's value both times.
    assert_eq!(bob_balance(&reader), Some(U256::from(7)));
    node.build(vec![transfer(1)]);
    assert_eq!(bob_balance(&reader), Some(U256::from(7)));
    assert_eq!(
        bob_balance(&store.state_at(head + 1).unwrap()),
        Some(U256::from(14))
    );
    assert_eq!(
        store.header(head + 1).unwrap(),
        store.head().unwrap(),
        "the head's header read by number is the head's"
    );
}
