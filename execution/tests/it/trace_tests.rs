//! Tracing stored transactions and calls: replay from the parent's state,
//! the request limits, and `eth_createAccessList`.

use std::time::Duration;

use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy_rpc_types_trace::{
    common::TraceResult,
    geth::{
        GethDebugBuiltInTracerType, GethDebugTracingOptions, GethDefaultTracingOptions, GethTrace,
        PreStateFrame,
    },
};
use outrigger_execution::{
    StoreError,
    call::CallRequest,
    genesis::GenesisFile,
    trace::{TraceError, TraceLimits},
};

use crate::support::{TestChain, eip1559, genesis_json, key};

/// `slot0 += 1`: PUSH1 0, SLOAD, PUSH1 1, ADD, PUSH1 0, SSTORE, STOP (7 steps).
const COUNTER: [u8; 10] = hex!("60005460010160005500");
/// `JUMPDEST; PUSH1 0; JUMP`: loops until out of gas.
const LOOP: [u8; 4] = hex!("5b600056");

fn counter() -> Address {
    Address::repeat_byte(0xc0)
}

fn looper() -> Address {
    Address::repeat_byte(0x10)
}

/// A funded key 1, the counter and the loop.
fn genesis() -> GenesisFile {
    let mut genesis = genesis_json(&[(key(1).address(), U256::from(10u64).pow(U256::from(20)))]);
    for (address, code) in [(counter(), &COUNTER[..]), (looper(), &LOOP[..])] {
        genesis.genesis.alloc.insert(
            address,
            GenesisAccount::default().with_code(Some(Bytes::copy_from_slice(code))),
        );
    }
    genesis
}

/// A chain whose block 1 holds two calls to the counter (slot 0 goes 0 →
/// 1 → 2).
fn chain() -> TestChain {
    let chain = TestChain::new(&genesis());
    let call = |nonce| {
        eip1559(
            &key(1),
            nonce,
            TxKind::Call(counter()),
            U256::ZERO,
            Bytes::new(),
            100_000,
        )
    };
    let block = chain.build(vec![call(0), call(1)]);
    assert_eq!(block.block.body.transactions.len(), 2);
    chain
}

fn limits() -> TraceLimits {
    TraceLimits {
        timeout: Duration::from_secs(5),
        struct_log_steps_max: 1_000,
        recorded_bytes_max: 1 << 20,
    }
}

fn prestate() -> GethDebugTracingOptions {
    GethDebugTracingOptions::new_tracer(GethDebugBuiltInTracerType::PreStateTracer)
}

fn counter_slot(trace: &GethTrace) -> U256 {
    let GethTrace::PreStateTracer(PreStateFrame::Default(mode)) = trace else {
        panic!("not a prestate trace: {trace:?}");
    };
    let storage = &mode.0[&counter()].storage;
    U256::from_be_bytes(storage[&B256::ZERO].0)
}

#[test]
fn a_transaction_is_traced_on_the_state_the_earlier_ones_left() {
    let chain = chain();
    let executor = chain.chain.executor();
    let store = chain.store();
    let first = executor
        .trace_transaction(store, 1, 0, prestate(), &limits())
        .unwrap();
    let second = executor
        .trace_transaction(store, 1, 1, prestate(), &limits())
        .unwrap();
    assert_eq!(counter_slot(&first), U256::ZERO);
    assert_eq!(counter_slot(&second), U256::from(1));
    // The block trace gives the same, in order, with the hashes.
    let block = executor
        .trace_block(store, 1, prestate(), &limits())
        .unwrap();
    let hashes: Vec<B256> = store
        .block(1)
        .unwrap()
        .unwrap()
        .body
        .transactions
        .iter()
        .map(|tx| *tx.hash())
        .collect();
    let traced: Vec<(B256, U256)> = block
        .iter()
        .map(|result| match result {
            TraceResult::Success { result, tx_hash } => (tx_hash.unwrap(), counter_slot(result)),
            TraceResult::Error { error, .. } => panic!("{error}"),
        })
        .collect();
    assert_eq!(
        traced,
        vec![(hashes[0], U256::ZERO), (hashes[1], U256::from(1))]
    );
    // No transaction 2, no tracing of block 0 or of a block not stored.
    assert!(matches!(
        executor.trace_transaction(store, 1, 2, prestate(), &limits()),
        Err(TraceError::NoTransaction {
            number: 1,
            index: 2
        })
    ));
    assert!(matches!(
        executor.trace_block(store, 0, prestate(), &limits()),
        Err(TraceError::Genesis)
    ));
    assert!(matches!(
        executor.trace_block(store, 9, prestate(), &limits()),
        Err(TraceError::BlockNotFound(9))
    ));
}

#[test]
fn the_step_cap_counts_every_transaction_of_a_block() {
    let chain = chain();
    let executor = chain.chain.executor();
    let store = chain.store();
    // Each call logs 7 steps: one fits under a cap of 10, the block's 14
    // do not.
    let limits = TraceLimits {
        struct_log_steps_max: 10,
        ..limits()
    };
    let one = executor
        .trace_transaction(store, 1, 1, GethDebugTracingOptions::default(), &limits)
        .unwrap();
    let GethTrace::Default(frame) = one else {
        panic!("{one:?}")
    };
    assert_eq!(frame.struct_logs.len(), 7);
    assert!(matches!(
        executor.trace_block(store, 1, GethDebugTracingOptions::default(), &limits),
        Err(TraceError::Steps(10))
    ));
    // A limit of 5 per transaction keeps the block at 10 logged steps.
    let options = GethDebugTracingOptions {
        config: GethDefaultTracingOptions::default().with_limit(5),
        ..Default::default()
    };
    let block = executor.trace_block(store, 1, options, &limits).unwrap();
    for result in block {
        let TraceResult::Success {
            result: GethTrace::Default(frame),
            ..
        } = result
        else {
            panic!("{result:?}")
        };
        assert_eq!(frame.struct_logs.len(), 5);
    }
}

#[test]
fn the_struct_logger_shows_storage_unless_disabled() {
    let chain = chain();
    let executor = chain.chain.executor();
    let store = chain.store();
    // The second call: SLOAD reads 1, SSTORE writes 2 (storage as geth
    // shows it: the slots the contract touched so far, at SLOAD/SSTORE).
    let trace = executor
        .trace_transaction(store, 1, 1, GethDebugTracingOptions::default(), &limits())
        .unwrap();
    let GethTrace::Default(frame) = trace else {
        panic!("{trace:?}")
    };
    let word = |n: u64| B256::from(U256::from(n));
    let ops: Vec<&str> = frame.struct_logs.iter().map(|l| l.op.as_ref()).collect();
    assert_eq!(
        ops,
        ["PUSH1", "SLOAD", "PUSH1", "ADD", "PUSH1", "SSTORE", "STOP"]
    );
    let sload = &frame.struct_logs[1];
    assert_eq!(sload.stack.as_deref(), Some(&[U256::ZERO][..]));
    assert_eq!(
        sload.storage,
        Some([(B256::ZERO, word(1))].into_iter().collect())
    );
    let sstore = &frame.struct_logs[5];
    assert_eq!(
        sstore.storage,
        Some([(B256::ZERO, word(2))].into_iter().collect())
    );
    // The slot is cold in this transaction: 2100.
    assert_eq!(sload.gas_cost, 2_100);
    assert!(!frame.failed);
    let options = GethDebugTracingOptions {
        config: GethDefaultTracingOptions::default().disable_storage(),
        ..Default::default()
    };
    let trace = executor
        .trace_transaction(store, 1, 1, options, &limits())
        .unwrap();
    let GethTrace::Default(frame) = trace else {
        panic!("{trace:?}")
    };
    assert!(frame.struct_logs.iter().all(|l| l.storage.is_none()));
}

#[test]
fn byte_and_time_limits_stop_a_trace() {
    let chain = chain();
    let executor = chain.chain.executor();
    let store = chain.store();
    let head = store.head().unwrap().unwrap();
    let loop_call = CallRequest {
        from: Some(key(1).address()),
        to: Some(looper()),
        gas: Some(10_000_000),
        ..Default::default()
    };
    let call_tracer = GethDebugTracingOptions::new_tracer(GethDebugBuiltInTracerType::CallTracer);
    let quick = TraceLimits {
        timeout: Duration::ZERO,
        ..limits()
    };
    let timed_out = executor.trace_call(
        store,
        &head,
        &loop_call,
        u64::MAX,
        &Default::default(),
        call_tracer,
        &quick,
    );
    assert!(
        matches!(timed_out, Err(TraceError::Timeout(d)) if d == Duration::ZERO),
        "{timed_out:?}"
    );
    // Each struct log of the loop copies a word or two of stack: 1000
    // steps pass 64 bytes.
    let small = TraceLimits {
        recorded_bytes_max: 64,
        ..limits()
    };
    let too_big = executor.trace_call(
        store,
        &head,
        &loop_call,
        u64::MAX,
        &Default::default(),
        GethDebugTracingOptions::default(),
        &small,
    );
    assert!(matches!(too_big, Err(TraceError::Bytes(64))), "{too_big:?}");
    // Without stack capture, and bytes to spare, the 1000-step cap is what
    // stops it.
    let no_stack = GethDebugTracingOptions {
        config: GethDefaultTracingOptions::default().disable_stack(),
        ..Default::default()
    };
    let capped = executor.trace_call(
        store,
        &head,
        &loop_call,
        u64::MAX,
        &Default::default(),
        no_stack,
        &limits(),
    );
    assert!(
        matches!(capped, Err(TraceError::Steps(1_000))),
        "{capped:?}"
    );
}

#[test]
fn access_list_lists_the_slots_a_call_touches() {
    let chain = chain();
    let executor = chain.chain.executor();
    let store = chain.store();
    let head = store.head().unwrap().unwrap();
    // The counter is the recipient: listed for its slot only.
    let request = CallRequest {
        from: Some(key(1).address()),
        to: Some(counter()),
        ..Default::default()
    };
    let outcome = executor
        .create_access_list(store, &head, &request, 30_000_000)
        .unwrap();
    assert_eq!(outcome.access_list.0.len(), 1);
    assert_eq!(outcome.access_list.0[0].address, counter());
    assert_eq!(outcome.access_list.0[0].storage_keys, vec![B256::ZERO]);
    assert_eq!(outcome.error, None);
    // 21000 + 2400 + 1900 for the list; then PUSH1, SLOAD (warm 100),
    // PUSH1, ADD, PUSH1 (12), SSTORE 2 → 3 on a warm slot (2900), STOP.
    assert_eq!(outcome.gas_used, 21_000 + 2_400 + 1_900 + 12 + 100 + 2_900);
    // Out of gas is reported, not raised: the loop has no slots, and as
    // the recipient it is not listed.
    let looping = CallRequest {
        from: Some(key(1).address()),
        to: Some(looper()),
        gas: Some(50_000),
        ..Default::default()
    };
    let outcome = executor
        .create_access_list(store, &head, &looping, 30_000_000)
        .unwrap();
    assert!(outcome.access_list.0.is_empty(), "{outcome:?}");
    assert_eq!(outcome.gas_used, 50_000);
    assert_eq!(outcome.error.as_deref(), Some("out of gas"));
}

#[test]
fn tracing_needs_the_parent_state() {
    // Keep no history: block 1's parent state is gone once block 2 is in.
    let chain = chain().reopen(&genesis(), 0);
    chain.build(Vec::new());
    let result = chain.chain.executor().trace_transaction(
        chain.store(),
        1,
        0,
        GethDebugTracingOptions::default(),
        &limits(),
    );
    assert!(
        matches!(
            result,
            Err(TraceError::Store(StoreError::StateUnavailable {
                number: 0,
                ..
            }))
        ),
        "{result:?}"
    );
}
