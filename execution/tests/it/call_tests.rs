//! `eth_call` and `eth_estimateGas` semantics on the head state: returns,
//! reverts with their data, geth's rules for fees and nonces, and gas
//! estimates that are enough and at most 1.5% too much.

use std::time::Duration;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use outrigger_execution::call::{CallBudget, CallError, CallOutcome, CallRequest};

use crate::support::{
    TestChain, address_word, balance_slot, bytecode, calldata, eip1559, genesis_json, key, word,
};

const ETH: u128 = 1_000_000_000_000_000_000;
const GAS_CAP: u64 = 50_000_000;

fn transfer_data(to: Address, value: u64) -> Bytes {
    calldata(
        "transfer(address,uint256)",
        &[address_word(to), word(U256::from(value))],
    )
}

/// A chain where key 1 deployed TestToken (supply 1000) and Ephemeral.
fn setup() -> (TestChain, Address, Address) {
    let alice = key(1);
    let node = TestChain::new(&genesis_json(&[(alice.address(), U256::from(100 * ETH))]));
    let mut deploy = bytecode("TestToken").to_vec();
    deploy.extend_from_slice(&word(U256::from(1000)));
    node.build(vec![
        eip1559(
            &alice,
            0,
            TxKind::Create,
            U256::ZERO,
            deploy.into(),
            1_000_000,
        ),
        eip1559(
            &alice,
            1,
            TxKind::Create,
            U256::ZERO,
            bytecode("Ephemeral"),
            1_000_000,
        ),
    ]);
    (node, alice.address().create(0), alice.address().create(1))
}

fn call(node: &TestChain, request: &CallRequest) -> Result<CallOutcome, CallError> {
    let head = node.store().head().unwrap().unwrap();
    node.chain
        .executor()
        .call(node.store(), &head, request, GAS_CAP, &Default::default())
}

fn call_within(node: &TestChain, request: &CallRequest, budget: CallBudget) -> Option<CallOutcome> {
    let head = node.store().head().unwrap().unwrap();
    node.chain
        .executor()
        .call_within(
            node.store(),
            &head,
            request,
            GAS_CAP,
            &Default::default(),
            Some(budget),
        )
        .unwrap()
}

#[test]
fn a_budgeted_call_answers_as_the_unbounded_one_or_not_at_all() {
    let (node, token, ephemeral) = setup();
    let roomy = CallBudget {
        steps: 10_000,
        time: Duration::from_secs(60),
        precompile_gas: 50_000,
    };
    let view = CallRequest {
        to: Some(token),
        input: calldata("balanceOf(address)", &[address_word(key(1).address())]),
        ..Default::default()
    };
    let revert = CallRequest {
        to: Some(ephemeral),
        input: calldata("fail()", &[]),
        ..Default::default()
    };
    // Within the budget: the unbounded call's answer, gas and all (it runs
    // with the same gas, so GAS and the 63/64 rule see the same numbers).
    for request in [&view, &revert] {
        let unbounded = call(&node, request).unwrap();
        assert_eq!(call_within(&node, request, roomy), Some(unbounded));
    }
    // Past the steps, or the time (checked every 64 steps; a balanceOf
    // takes more): no answer.
    let few_steps = CallBudget { steps: 20, ..roomy };
    assert_eq!(call_within(&node, &view, few_steps), None);
    let no_time = CallBudget {
        time: Duration::ZERO,
        ..roomy
    };
    assert_eq!(call_within(&node, &view, no_time), None);
    // A precompile (SHA-256) given more gas than the budget lets it have:
    // no answer; given less, the unbounded answer.
    let sha256 = |gas| CallRequest {
        to: Some(Address::with_last_byte(2)),
        input: Bytes::from_static(b"abc"),
        gas: Some(gas),
        ..Default::default()
    };
    assert_eq!(call_within(&node, &sha256(100_000), roomy), None);
    let unbounded = call(&node, &sha256(40_000)).unwrap();
    assert!(unbounded.is_success(), "{unbounded:?}");
    assert_eq!(call_within(&node, &sha256(40_000), roomy), Some(unbounded));
    // A failure to execute at all is an error either way.
    let unfunded = CallRequest {
        from: Some(Address::repeat_byte(0x99)),
        to: Some(token),
        value: Some(U256::from(1)),
        ..Default::default()
    };
    let head = node.store().head().unwrap().unwrap();
    let error = node
        .chain
        .executor()
        .call_within(
            node.store(),
            &head,
            &unfunded,
            GAS_CAP,
            &Default::default(),
            Some(roomy),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        call(&node, &unfunded).unwrap_err().to_string()
    );
}

fn estimate(node: &TestChain, request: &CallRequest) -> Result<u64, CallError> {
    let head = node.store().head().unwrap().unwrap();
    node.chain
        .executor()
        .estimate_gas(node.store(), &head, request, GAS_CAP, &Default::default())
}

#[test]
fn calls_return_revert_and_need_no_funds_without_a_fee() {
    let (node, token, ephemeral) = setup();
    let alice = key(1).address();
    // A view call from an account that does not exist: no fee, no funds needed.
    let balance_of = calldata("balanceOf(address)", &[address_word(alice)]);
    let outcome = call(
        &node,
        &CallRequest {
            from: Some(Address::repeat_byte(0x99)),
            to: Some(token),
            input: balance_of,
            ..Default::default()
        },
    )
    .unwrap();
    let CallOutcome::Success { output, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(U256::from_be_slice(&output), U256::from(1000));

    // A revert carries its data: Error("always fails").
    let outcome = call(
        &node,
        &CallRequest {
            to: Some(ephemeral),
            input: calldata("fail()", &[]),
            ..Default::default()
        },
    )
    .unwrap();
    let CallOutcome::Revert { output, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(&output[..4], &[0x08, 0xc3, 0x79, 0xa0]);
    assert!(output.windows(12).any(|w| w == b"always fails"));

    // A call does not change state, and ignores the nonce.
    let moved = call(
        &node,
        &CallRequest {
            from: Some(alice),
            to: Some(token),
            input: transfer_data(Address::repeat_byte(2), 10),
            nonce: Some(0),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(moved.is_success(), "{moved:?}");
    assert_eq!(
        node.store()
            .storage(token, balance_slot(Address::repeat_byte(2)))
            .unwrap(),
        U256::ZERO
    );

    // As geth allows: a contract as the sender (EIP-3607 is for
    // transactions, not calls), and more gas than a transaction may have
    // (lowered to the cap).
    let from_contract = call(
        &node,
        &CallRequest {
            from: Some(token),
            to: Some(ephemeral),
            input: calldata("stored()", &[]),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(from_contract.is_success(), "{from_contract:?}");
    let head = node.store().head().unwrap().unwrap();
    let above_block = call(
        &node,
        &CallRequest {
            to: Some(ephemeral),
            input: calldata("stored()", &[]),
            gas: Some(head.gas_limit + 1),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(above_block.is_success(), "{above_block:?}");

    // With a fee, the sender must afford it: geth's words.
    let error = call(
        &node,
        &CallRequest {
            from: Some(Address::repeat_byte(0x99)),
            to: Some(token),
            max_fee_per_gas: Some(1_000_000_000_000),
            gas: Some(100_000),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("insufficient funds for gas * price + value"),
        "{error}"
    );
}

#[test]
fn estimates_are_enough_and_tight() {
    let (node, token, ephemeral) = setup();
    let alice = key(1);
    // A plain transfer is exactly 21000.
    let transfer = CallRequest {
        from: Some(alice.address()),
        to: Some(Address::repeat_byte(3)),
        value: Some(U256::from(1)),
        ..Default::default()
    };
    assert_eq!(estimate(&node, &transfer).unwrap(), 21_000);

    // An ERC20 transfer: the estimate succeeds as the gas limit, within 1.5%
    // of the least that works.
    let request = CallRequest {
        from: Some(alice.address()),
        to: Some(token),
        input: transfer_data(Address::repeat_byte(4), 5),
        ..Default::default()
    };
    let estimated = estimate(&node, &request).unwrap();
    let at = |gas| {
        call(
            &node,
            &CallRequest {
                gas: Some(gas),
                ..request.clone()
            },
        )
        .map(|o| o.is_success())
        .unwrap_or(false)
    };
    assert!(at(estimated), "the estimate {estimated} is not enough");
    let least = (21_000..=estimated).find(|g| at(*g)).unwrap();
    assert!(
        estimated - least <= estimated * 15 / 1000,
        "estimate {estimated} vs least {least}"
    );
    // Sending it with that gas works in a real block.
    let executed = node.build(vec![eip1559(
        &alice,
        2,
        TxKind::Call(token),
        U256::ZERO,
        request.input.clone(),
        estimated,
    )]);
    assert_eq!(executed.block.body.transactions.len(), 1);
    assert!(alloy_consensus::TxReceipt::status(&executed.receipts[0]));

    // A message that always reverts: the revert, with its data.
    let error = estimate(
        &node,
        &CallRequest {
            from: Some(alice.address()),
            to: Some(ephemeral),
            input: calldata("fail()", &[]),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(error, CallError::Reverted(CallOutcome::Revert { .. })),
        "{error:?}"
    );
    // More value than the balance.
    let error = estimate(
        &node,
        &CallRequest {
            value: Some(U256::from(1000 * ETH)),
            max_fee_per_gas: Some(1_000_000_000),
            ..transfer
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("insufficient funds"), "{error}");
}
