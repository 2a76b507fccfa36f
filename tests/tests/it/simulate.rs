//! State and block overrides and `eth_simulateV1` against a dev node, with
//! hand-assembled contracts whose answers are derived by hand.

use outrigger_tests::node_process::{NodeProcess, quantity, rpc, rpc_response};
use serde_json::{Value, json};

/// An account that holds nothing on the dev chain.
const ALICE: &str = "0xa11ce00000000000000000000000000000000001";
/// Another.
const BOB: &str = "0xb0b0000000000000000000000000000000000002";
/// Where the test puts its contracts' code.
const CONTRACT: &str = "0xc0de000000000000000000000000000000000003";

/// `SELFBALANCE PUSH0 MSTORE PUSH0 SLOAD PUSH1 32 MSTORE PUSH1 64 PUSH0
/// RETURN`: the contract's balance and its slot 0, as two words.
const BALANCE_AND_SLOT0: &str = "0x475f525f5460205260405ff3";
/// `TIMESTAMP PUSH0 MSTORE PUSH1 32 PUSH0 RETURN`: the block's time.
const TIMESTAMP: &str = "0x425f5260205ff3";

/// `PUSH20 BOB BALANCE PUSH0 MSTORE PUSH1 32 PUSH0 RETURN`: Bob's balance.
fn bob_balance_code() -> String {
    format!("0x73{}315f5260205ff3", &BOB[2..])
}

fn word(value: u64) -> String {
    format!("{value:064x}")
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error in {response}"))
}

fn start() -> (tempfile::TempDir, NodeProcess) {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "0"], dir.path()).unwrap();
    (dir, node)
}

#[test]
fn eth_call_sees_state_and_block_overrides_and_the_store_does_not() {
    let (_dir, node) = start();
    let call = json!({"to": CONTRACT});
    // Balance 0x1234 and code by override; slot 0 = 42 by stateDiff.
    let overrides = json!({CONTRACT: {
        "balance": "0x1234",
        "code": BALANCE_AND_SLOT0,
        "stateDiff": {format!("0x{}", word(0)): format!("0x{}", word(42))},
    }});
    let output = rpc(node.rpc, "eth_call", json!([call, "latest", overrides])).unwrap();
    assert_eq!(output, json!(format!("0x{}{}", word(0x1234), word(42))));
    // Nothing of it reached the chain.
    let code = rpc(node.rpc, "eth_getCode", json!([CONTRACT, "latest"])).unwrap();
    assert_eq!(code, json!("0x"));
    let balance = rpc(node.rpc, "eth_getBalance", json!([CONTRACT, "latest"])).unwrap();
    assert_eq!(quantity(&balance).unwrap(), 0);

    // `state` and `stateDiff` together are refused, as geth refuses them.
    let both = json!({CONTRACT: {"state": {}, "stateDiff": {}}});
    let response = rpc_response(node.rpc, "eth_call", json!([call, "latest", both])).unwrap();
    assert_eq!(error_code(&response), -32000, "{response}");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("both"),
        "{response}"
    );

    // blockOverrides.time is what TIMESTAMP reads.
    let code = json!({CONTRACT: {"code": TIMESTAMP}});
    let time = 0x1234_5678u64;
    let output = rpc(
        node.rpc,
        "eth_call",
        json!([call, "latest", code, {"time": format!("{time:#x}")}]),
    )
    .unwrap();
    assert_eq!(output, json!(format!("0x{}", word(time))));
    // debug_traceCall takes the same overrides: the call tracer shows the
    // same output.
    let trace = rpc(
        node.rpc,
        "debug_traceCall",
        json!([call, "latest", {
            "tracer": "callTracer",
            "stateOverrides": code,
            "blockOverrides": {"time": format!("{time:#x}")},
        }]),
    )
    .unwrap();
    assert_eq!(
        trace["output"],
        json!(format!("0x{}", word(time))),
        "{trace}"
    );
}

#[test]
fn simulate_chains_blocks_validates_and_traces_transfers() {
    let (_dir, node) = start();
    let head = rpc(node.rpc, "eth_getBlockByNumber", json!(["latest", false])).unwrap();
    let (head_number, head_time) = (
        quantity(&head["number"]).unwrap(),
        quantity(&head["timestamp"]).unwrap(),
    );
    // Block 1: Alice (given 10,000 wei) sends Bob 1,000 without a fee.
    // Block 2: a contract reads Bob's balance.
    let payload = json!({
        "blockStateCalls": [
            {
                "stateOverrides": {ALICE: {"balance": "0x2710"}},
                "calls": [{"from": ALICE, "to": BOB, "value": "0x3e8"}],
            },
            {
                "stateOverrides": {CONTRACT: {"code": bob_balance_code()}},
                "calls": [{"from": ALICE, "to": CONTRACT}],
            },
        ],
        "traceTransfers": true,
    });
    let blocks = rpc(node.rpc, "eth_simulateV1", json!([payload, "latest"])).unwrap();
    let blocks = blocks.as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    // Numbers follow the head; times step by 12 s; block 2 builds on 1.
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(
            quantity(&block["number"]).unwrap(),
            head_number + 1 + i as u64
        );
        assert_eq!(
            quantity(&block["timestamp"]).unwrap(),
            head_time + 12 * (1 + i as u64)
        );
    }
    assert_eq!(blocks[1]["parentHash"], blocks[0]["hash"]);
    assert_eq!(blocks[0]["parentHash"], head["hash"]);

    // The transfer succeeded, used 21,000 gas, and shows as an ERC-20
    // Transfer(alice, bob, 1000) logged by 0xeeee…eeee.
    let transfer = &blocks[0]["calls"][0];
    assert_eq!(transfer["status"], json!("0x1"), "{transfer}");
    assert_eq!(quantity(&transfer["gasUsed"]).unwrap(), 21_000);
    let logs = transfer["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{transfer}");
    let pad = |address: &str| format!("0x000000000000000000000000{}", &address[2..]);
    assert_eq!(
        logs[0]["address"].as_str().unwrap().to_lowercase(),
        "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
    );
    assert_eq!(
        logs[0]["topics"],
        json!([
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
            pad(ALICE),
            pad(BOB),
        ])
    );
    assert_eq!(logs[0]["data"], json!(format!("0x{}", word(1000))));
    assert_eq!(logs[0]["blockHash"], blocks[0]["hash"]);
    assert_eq!(quantity(&blocks[0]["gasUsed"]).unwrap(), 21_000);

    // Block 2 sees block 1's state: Bob holds 1,000 wei.
    let read = &blocks[1]["calls"][0];
    assert_eq!(read["status"], json!("0x1"), "{read}");
    assert_eq!(read["returnData"], json!(format!("0x{}", word(1000))));
    // Nothing reached the chain.
    let balance = rpc(node.rpc, "eth_getBalance", json!([BOB, "latest"])).unwrap();
    assert_eq!(quantity(&balance).unwrap(), 0);

    // Without traceTransfers, a plain transfer logs nothing.
    let mut quiet = payload.clone();
    quiet["traceTransfers"] = json!(false);
    let blocks = rpc(node.rpc, "eth_simulateV1", json!([quiet, "latest"])).unwrap();
    assert_eq!(blocks[0]["calls"][0]["logs"], json!([]));

    // With validation, a nonce below the account's is refused (-38010).
    let low_nonce = json!({
        "blockStateCalls": [{
            "stateOverrides": {ALICE: {"balance": "0xde0b6b3a7640000", "nonce": "0x5"}},
            "calls": [{
                "from": ALICE, "to": BOB, "nonce": "0x3", "gas": "0x5208",
                "maxFeePerGas": "0x174876e800", "maxPriorityFeePerGas": "0x0",
            }],
        }],
        "validation": true,
    });
    let response = rpc_response(node.rpc, "eth_simulateV1", json!([low_nonce, "latest"])).unwrap();
    assert_eq!(error_code(&response), -38010, "{response}");
    // The same call at the right nonce goes through.
    let mut right = low_nonce.clone();
    right["blockStateCalls"][0]["calls"][0]["nonce"] = json!("0x5");
    let blocks = rpc(node.rpc, "eth_simulateV1", json!([right, "latest"])).unwrap();
    assert_eq!(blocks[0]["calls"][0]["status"], json!("0x1"), "{blocks}");

    // Block numbers must increase (-38020); at most 256 blocks (-38026);
    // no blocks at all is a bad parameter.
    let backwards = json!({"blockStateCalls": [
        {"blockOverrides": {"number": format!("{:#x}", head_number + 5)}},
        {"blockOverrides": {"number": format!("{:#x}", head_number + 3)}},
    ]});
    let response = rpc_response(node.rpc, "eth_simulateV1", json!([backwards, "latest"])).unwrap();
    assert_eq!(error_code(&response), -38020, "{response}");
    let many = json!({"blockStateCalls": vec![json!({}); 257]});
    let response = rpc_response(node.rpc, "eth_simulateV1", json!([many, "latest"])).unwrap();
    assert_eq!(error_code(&response), -38026, "{response}");
    let none = json!({"blockStateCalls": []});
    let response = rpc_response(node.rpc, "eth_simulateV1", json!([none, "latest"])).unwrap();
    assert_eq!(error_code(&response), -32602, "{response}");
}
