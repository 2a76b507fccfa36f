//! A block of ETH transfers, contract deployments, ERC20 transfers, a revert
//! and a self-destruct, built by the builder, committed, and replayed on a
//! second node through the import path.

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use outrigger_execution::{BlockError, trie::node::to_nibbles};

use crate::support::{
    TestChain, address_word, balance_slot, bytecode, calldata, eip1559, genesis_json, key, word,
};

const ETH: u64 = 1_000_000_000_000_000_000;

#[test]
fn transfers_contracts_revert_and_selfdestruct() {
    let (alice, bob) = (key(1), key(2));
    let funded = [
        (alice.address(), U256::from(100u128 * ETH as u128)),
        (bob.address(), U256::from(ETH)),
    ];
    let genesis = genesis_json(&funded);
    let node = TestChain::new(&genesis);

    // Block 1: an ETH transfer and two deployments.
    let token = alice.address().create(1);
    let ephemeral = alice.address().create(2);
    let mut deploy = bytecode("TestToken").to_vec();
    deploy.extend_from_slice(&word(U256::from(1_000_000u64)));
    let block1 = node.build(vec![
        eip1559(
            &alice,
            0,
            TxKind::Call(bob.address()),
            U256::from(ETH),
            Bytes::new(),
            21_000,
        ),
        eip1559(
            &alice,
            1,
            TxKind::Create,
            U256::ZERO,
            deploy.into(),
            1_000_000,
        ),
        eip1559(
            &alice,
            2,
            TxKind::Create,
            U256::ZERO,
            bytecode("Ephemeral"),
            500_000,
        ),
    ]);
    assert_eq!(block1.block.body.transactions.len(), 3);
    assert!(block1.receipts.iter().all(|r| r.status()));
    let store = node.store();
    assert_eq!(
        store.account(bob.address()).unwrap().unwrap().balance,
        U256::from(2u128 * ETH as u128)
    );
    assert!(
        !store
            .code(store.account(token).unwrap().unwrap().code_hash)
            .unwrap()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.storage(token, balance_slot(alice.address())).unwrap(),
        U256::from(1_000_000u64)
    );
    // The deployment emitted Transfer(0, alice, supply).
    let transfer_topic = keccak256("Transfer(address,address,uint256)");
    assert_eq!(block1.receipts[1].logs()[0].topics()[0], transfer_topic);
    assert!(
        block1
            .block
            .header
            .logs_bloom
            .contains_input(alloy_primitives::BloomInput::Raw(token.as_slice()))
    );

    // Block 2: an ERC20 transfer, a revert, a self-destruct, and a
    // transaction that cannot pay (skipped by the builder).
    let poor = key(3);
    let block2 = node.build(vec![
        eip1559(
            &alice,
            3,
            TxKind::Call(token),
            U256::ZERO,
            calldata(
                "transfer(address,uint256)",
                &[address_word(bob.address()), word(U256::from(250u64))],
            ),
            100_000,
        ),
        eip1559(
            &bob,
            0,
            TxKind::Call(ephemeral),
            U256::ZERO,
            calldata("fail()", &[]),
            100_000,
        ),
        eip1559(
            &bob,
            1,
            TxKind::Call(ephemeral),
            U256::ZERO,
            calldata("destroy(address)", &[address_word(bob.address())]),
            100_000,
        ),
        eip1559(
            &poor,
            0,
            TxKind::Call(bob.address()),
            U256::from(1u64),
            Bytes::new(),
            21_000,
        ),
    ]);
    let receipts = &block2.receipts;
    assert_eq!(receipts.len(), 3, "the unfunded transaction is left out");
    assert!(receipts[0].status(), "ERC20 transfer succeeds");
    assert!(!receipts[1].status(), "fail() reverts");
    assert!(receipts[2].status(), "destroy() succeeds");
    assert!(
        receipts
            .windows(2)
            .all(|w| w[0].cumulative_gas_used() < w[1].cumulative_gas_used())
    );
    assert_eq!(
        receipts[2].cumulative_gas_used(),
        block2.block.header.gas_used
    );
    assert_eq!(
        store.storage(token, balance_slot(bob.address())).unwrap(),
        U256::from(250u64)
    );
    assert_eq!(
        store.storage(token, balance_slot(alice.address())).unwrap(),
        U256::from(999_750u64)
    );
    // EIP-6780: a contract not created in the same transaction keeps its code.
    assert!(store.account(ephemeral).unwrap().is_some());

    // Fees: the proposer gets the tips, the base fee is burned.
    let header = &block2.block.header;
    let base_fee = header.base_fee_per_gas.unwrap() as u128;
    let tips: u128 = block2
        .block
        .body
        .transactions
        .iter()
        .zip(receipts.iter().scan(0u64, |prev, r| {
            let used = r.cumulative_gas_used() - *prev;
            *prev = r.cumulative_gas_used();
            Some(used)
        }))
        .map(|(tx, used)| tx.effective_tip_per_gas(base_fee as u64).unwrap() * used as u128)
        .sum();
    let beneficiary = store.account(header.beneficiary).unwrap().unwrap().balance;
    assert!(
        beneficiary >= U256::from(tips),
        "beneficiary has at least block 2's tips"
    );

    // A second node imports both blocks through the import path and ends at
    // the same state root.
    let replica = TestChain::new(&genesis);
    for block in [&block1, &block2] {
        let hash = replica
            .chain
            .import(block.block.clone())
            .expect("replica imports");
        assert_eq!(hash, block.hash);
    }
    assert_eq!(
        replica.store().head_state_root().unwrap(),
        header.state_root
    );

    // A tampered block is rejected and changes nothing.
    let mut bad = block2.block.clone();
    bad.header.number += 1;
    bad.header.parent_hash = block2.hash;
    bad.header.timestamp += 1;
    let err = replica.chain.import(bad).unwrap_err();
    assert!(matches!(err, BlockError::Invalid { .. }), "{err}");
    assert_eq!(replica.store().head_number().unwrap(), Some(2));

    // Proofs of the head state verify against the state root.
    let proof = store
        .state()
        .proof(token, &[balance_slot(bob.address())])
        .unwrap();
    let account = proof.account.unwrap();
    alloy_trie::proof::verify_proof(
        header.state_root,
        alloy_trie::Nibbles::from_nibbles(to_nibbles(keccak256(token).as_slice())),
        Some(alloy_rlp::encode(account)),
        &proof.proof,
    )
    .expect("account proof verifies");
    alloy_trie::proof::verify_proof(
        account.storage_root,
        alloy_trie::Nibbles::from_nibbles(to_nibbles(
            keccak256(balance_slot(bob.address())).as_slice(),
        )),
        Some(alloy_rlp::encode(U256::from(250u64))),
        &proof.storage[0].proof,
    )
    .expect("storage proof verifies");
}

/// The node's flow: transactions enter the pool, the builder draws the best
/// ones, the block commits, and the pool drops what was included.
#[test]
fn pool_feeds_the_builder_and_forgets_included_transactions() {
    use outrigger_execution::txpool::{ChainParams, HeadParams, Pool, PoolConfig};

    let (alice, bob) = (key(1), key(2));
    let genesis = genesis_json(&[
        (alice.address(), U256::from(10u128 * ETH as u128)),
        (bob.address(), U256::from(10u128 * ETH as u128)),
    ]);
    let node = TestChain::new(&genesis);
    let head = node.store().head().unwrap().unwrap();
    let spec = node.chain.spec();
    let params = |header: &outrigger_execution::Header| HeadParams::after(spec, header);
    let mut pool = Pool::new(
        PoolConfig::default(),
        ChainParams {
            chain_id: spec.chain_id,
            blobs_allowed: false,
            head: params(&head),
        },
    );
    // Alice's nonces 0..3, bob's nonce 1 (a gap: queued, not built).
    for nonce in 0..3 {
        let tx = eip1559(
            &alice,
            nonce,
            TxKind::Call(bob.address()),
            U256::from(1u64),
            Bytes::new(),
            21_000,
        );
        pool.add(tx, node.store()).expect("pool accepts");
    }
    let gapped = eip1559(
        &bob,
        1,
        TxKind::Call(alice.address()),
        U256::from(1u64),
        Bytes::new(),
        21_000,
    );
    pool.add(gapped, node.store()).expect("queued");
    assert_eq!((pool.pending_count(), pool.queued_count()), (3, 1));

    let attributes = outrigger_execution::BlockAttributes {
        timestamp: head.timestamp + 1,
        beneficiary: Address::repeat_byte(0xfe),
        gas_limit: head.gas_limit,
        extra_data: Bytes::new(),
        prev_randao: B256::ZERO,
    };
    let base_fee = params(&head).base_fee;
    let executed = node
        .chain
        .build(&attributes, &mut pool.best_transactions(base_fee))
        .unwrap();
    assert_eq!(
        executed.block.body.transactions.len(),
        3,
        "the gapped transaction waits"
    );
    node.chain.commit(&executed).unwrap();

    let included: Vec<B256> = executed
        .block
        .body
        .transactions
        .iter()
        .map(|tx| *tx.tx_hash())
        .collect();
    pool.on_new_block(
        params(&executed.block.header),
        &included,
        None,
        node.store(),
    )
    .unwrap();
    assert_eq!((pool.pending_count(), pool.queued_count()), (0, 1));
    assert_eq!(
        node.store()
            .account(alice.address())
            .unwrap()
            .unwrap()
            .nonce,
        3
    );
}
