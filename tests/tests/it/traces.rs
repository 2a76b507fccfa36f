//! geth's tracing methods and `eth_createAccessList` on a real dev node.
//!
//! The contracts are hand-assembled so that every gas figure below can be
//! derived by hand from the opcode costs (Berlin's cold/warm access, no
//! refunds involved), which is what geth's callTracer reports for them:
//!
//! `INNER` (102 bytes of runtime): with empty calldata it returns the word
//! 0x2a; with any calldata it reverts with `Error("nope")`.
//!
//! | pc | op | gas (success path) |
//! |---|---|---|
//! | 00 | CALLDATASIZE | 2 |
//! | 01 | PUSH1 0x0e | 3 |
//! | 03 | JUMPI | 10 |
//! | 04 | PUSH1 0x2a, PUSH1 0 | 3 + 3 |
//! | 08 | MSTORE | 3 + 3 (memory to 1 word) |
//! | 09 | PUSH1 0x20, PUSH1 0 | 3 + 3 |
//! | 0d | RETURN | 0 |
//!
//! success: 33 gas. Revert path: CALLDATASIZE, PUSH1, JUMPI (15), JUMPDEST
//! (1), then four `PUSH; PUSH1; MSTORE` groups that grow memory a word each
//! (4 × 12), `PUSH1 0x64; PUSH1 0` (6) and REVERT (0): 70 gas.
//!
//! `OUTER` (92 bytes), called with 5 wei: `CALL(10000 gas, INNER, 1 wei,
//! no input, 32 bytes out)`, stores the returned word in slot 0, logs it
//! with topic 7, `CALL(10000 gas, INNER, 0 wei, input 0x2a)` (which
//! reverts, caught), stores that call's success flag (0) in slot 1 and
//! returns the word. Its execution gas:
//!
//! - 7 pushes (21); first CALL: cold INNER 2600 + value 9000 + memory 3,
//!   callee gets 10000 + 2300 stipend, uses 33: net 2600 + 9000 + 3 + 33 -
//!   2300 = 9336.
//! - POP, PUSH1, MLOAD, PUSH1 (11); SSTORE slot 0, cold, 0 → 0x2a: 22100.
//! - 3 pushes (9); LOG1 with 32 bytes: 375 + 375 + 256 = 1006.
//! - 7 pushes (21); second CALL: warm INNER 100, callee uses 70: 170.
//! - PUSH1 (3); SSTORE slot 1, cold, 0 → 0: 2200.
//! - PUSH1, PUSH1, RETURN: 6.
//!
//! Total 34883, plus 21000 intrinsic: the transaction uses 55883 gas.

use std::{str::FromStr as _, time::Duration};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy_signer_local::PrivateKeySigner;
use outrigger_tests::{
    CHAIN_ID,
    node_process::{NodeProcess, quantity, rpc, rpc_response},
};
use serde_json::{Value, json};

/// Account 0 of the test mnemonic, funded on the dev chain.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Gas limit of the call to `OUTER`.
const OUTER_GAS: u64 = 200_000;
/// Gas `OUTER`'s transaction uses (see the module docs).
const OUTER_GAS_USED: u64 = 55_883;

fn dev_signer() -> PrivateKeySigner {
    PrivateKeySigner::from_str(DEV_KEY).expect("the test key")
}

/// `INNER`'s runtime code.
fn inner_code() -> Vec<u8> {
    let mut code = hex!("36600e57602a60005260206000f35b").to_vec();
    code.push(0x7f); // PUSH32 Error(string) selector
    code.extend_from_slice(&hex!("08c379a0"));
    code.extend_from_slice(&[0; 28]);
    code.extend_from_slice(&hex!("600052602060045260046024 52"));
    code.push(0x7f); // PUSH32 "nope"
    code.extend_from_slice(b"nope");
    code.extend_from_slice(&[0; 28]);
    code.extend_from_slice(&hex!("6044 52 6064 6000 fd"));
    assert_eq!(code.len(), 0x66);
    code
}

/// `OUTER`'s runtime code, calling `inner`.
fn outer_code(inner: Address) -> Vec<u8> {
    let mut code = hex!("60206000600060006001 73").to_vec();
    code.extend_from_slice(inner.as_slice());
    code.extend_from_slice(&hex!("612710 f1 50 600051 600055 6007 6020 6000 a1"));
    code.extend_from_slice(&hex!("6000 6000 6001 601f 6000 73"));
    code.extend_from_slice(inner.as_slice());
    code.extend_from_slice(&hex!("612710 f1 6001 55 6020 6000 f3"));
    assert_eq!(code.len(), 0x5c);
    code
}

/// Init code that deploys `runtime` (shorter than 256 bytes).
fn deployer(runtime: &[u8]) -> Vec<u8> {
    let len = u8::try_from(runtime.len()).expect("short runtime");
    // PUSH1 len, DUP1, PUSH1 11, PUSH1 0, CODECOPY, PUSH1 0, RETURN
    let mut code = vec![
        0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(runtime);
    code
}

/// A signed EIP-1559 transaction from the dev account, as raw hex.
fn raw_tx(nonce: u64, to: Option<Address>, value: u64, input: Vec<u8>, gas: u64) -> String {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: to.map_or(TxKind::Create, TxKind::Call),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::from(input),
    };
    outrigger_tests::raw_hex(&dev_signer(), tx)
}

fn send(node: &NodeProcess, raw: &str) -> Value {
    rpc(node.rpc, "eth_sendRawTransaction", json!([raw])).unwrap()
}

fn wait_receipt(node: &NodeProcess, hash: &Value) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let receipt = rpc(node.rpc, "eth_getTransactionReceipt", json!([hash])).unwrap();
        if !receipt.is_null() {
            return receipt;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no receipt for {hash}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A hex quantity, or an account's `balance` field, as a number.
fn balance(value: &Value) -> U256 {
    let text = value
        .get("balance")
        .unwrap_or(value)
        .as_str()
        .unwrap_or_else(|| panic!("no quantity in {value}"));
    U256::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

fn word(value: u64) -> String {
    format!("0x{}", hex::encode(U256::from(value).to_be_bytes::<32>()))
}

fn hex_quantity(value: u64) -> String {
    format!("{value:#x}")
}

fn addr(address: Address) -> String {
    format!("{address:#x}")
}

/// `Error("nope")` as revert data.
fn nope() -> String {
    let mut data = hex!("08c379a0").to_vec();
    data.extend_from_slice(&U256::from(0x20).to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(4).to_be_bytes::<32>());
    let mut text = [0u8; 32];
    text[..4].copy_from_slice(b"nope");
    data.extend_from_slice(&text);
    format!("0x{}", hex::encode(data))
}

/// A dev node with both contracts deployed; returns it with their
/// addresses and the block that deployed them.
fn deployed(block_time_ms: &str, dir: &std::path::Path) -> (NodeProcess, Address, Address, u64) {
    let node = NodeProcess::start(&["--dev", "--block-time-ms", block_time_ms], dir).unwrap();
    let sender = dev_signer().address();
    let inner = sender.create(0);
    let outer = sender.create(1);
    let first = send(&node, &raw_tx(0, None, 0, deployer(&inner_code()), 200_000));
    let second = send(
        &node,
        &raw_tx(1, None, 0, deployer(&outer_code(inner)), 200_000),
    );
    wait_receipt(&node, &first);
    let receipt = wait_receipt(&node, &second);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(
        rpc(node.rpc, "eth_getCode", json!([outer, "latest"])).unwrap(),
        format!("0x{}", hex::encode(outer_code(inner)))
    );
    let block = quantity(&receipt["blockNumber"]).unwrap();
    (node, inner, outer, block)
}

#[test]
fn call_tracer_matches_geth_for_nested_calls_with_a_caught_revert() {
    let dir = tempfile::tempdir().unwrap();
    let (node, inner, outer, deploy_block) = deployed("0", dir.path());
    let sender = dev_signer().address();

    // eth_createAccessList before the call changes any slot: OUTER's two
    // slots and INNER; with the list, the accesses are warm: 2500 less for
    // the CALL, 2100 less for each SSTORE, 2 × 2400 + 2 × 1900 more up front.
    let request =
        json!({"from": sender, "to": outer, "value": "0x5", "gas": hex_quantity(OUTER_GAS)});
    let list = rpc(
        node.rpc,
        "eth_createAccessList",
        json!([request, hex_quantity(deploy_block)]),
    )
    .unwrap();
    let mut expected_list = vec![
        json!({"address": addr(outer), "storageKeys": [word(0), word(1)]}),
        json!({"address": addr(inner), "storageKeys": []}),
    ];
    expected_list.sort_by_key(|item| item["address"].as_str().unwrap().to_string());
    assert_eq!(list["accessList"], Value::Array(expected_list), "{list}");
    assert_eq!(
        list["gasUsed"],
        hex_quantity(OUTER_GAS_USED - 2_500 - 2_100 - 2_100 + 2 * 2_400 + 2 * 1_900)
    );
    assert!(list.get("error").is_none(), "{list}");
    // A reverting call: the list is empty (INNER is the recipient), the
    // error is geth's, and the gas is 21000 + 16 for the data byte + 70.
    let reverting = rpc(
        node.rpc,
        "eth_createAccessList",
        json!([{"from": sender, "to": inner, "data": "0x01"}, "latest"]),
    )
    .unwrap();
    assert_eq!(
        reverting,
        json!({"accessList": [], "gasUsed": hex_quantity(21_086), "error": "execution reverted"})
    );

    let hash = send(&node, &raw_tx(2, Some(outer), 5, Vec::new(), OUTER_GAS));
    let receipt = wait_receipt(&node, &hash);
    assert_eq!(
        receipt["gasUsed"],
        hex_quantity(OUTER_GAS_USED),
        "{receipt}"
    );

    let ok_call = json!({
        "type": "CALL",
        "from": addr(outer),
        "to": addr(inner),
        "value": "0x1",
        "gas": hex_quantity(10_000 + 2_300),
        "gasUsed": hex_quantity(33),
        "input": "0x",
        "output": word(0x2a),
    });
    let reverted_call = json!({
        "type": "CALL",
        "from": addr(outer),
        "to": addr(inner),
        "value": "0x0",
        "gas": hex_quantity(10_000),
        "gasUsed": hex_quantity(70),
        "input": "0x2a",
        "output": nope(),
        "error": "execution reverted",
        "revertReason": "nope",
    });
    let top = json!({
        "type": "CALL",
        "from": addr(sender),
        "to": addr(outer),
        "value": "0x5",
        "gas": hex_quantity(OUTER_GAS),
        "gasUsed": hex_quantity(OUTER_GAS_USED),
        "input": "0x",
        "output": word(0x2a),
        "calls": [ok_call, reverted_call],
    });
    let trace = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer"}]),
    )
    .unwrap();
    assert_eq!(trace, top);

    // withLog: OUTER's log, after one call (position 1).
    let with_log = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer", "tracerConfig": {"withLog": true}}]),
    )
    .unwrap();
    let mut expected = top.clone();
    expected["logs"] = json!([{
        "address": addr(outer),
        "topics": [word(7)],
        "data": word(0x2a),
        "position": "0x1",
        "index": "0x0",
    }]);
    assert_eq!(with_log, expected);

    // onlyTopCall: the same frame without its calls.
    let only_top = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}}]),
    )
    .unwrap();
    let mut expected = top.clone();
    expected.as_object_mut().unwrap().remove("calls");
    assert_eq!(only_top, expected);

    // debug_traceCall runs the same message on the state before it.
    let call = rpc(
        node.rpc,
        "debug_traceCall",
        json!([
            {"from": sender, "to": outer, "value": "0x5", "gas": hex_quantity(OUTER_GAS)},
            hex_quantity(deploy_block),
            {"tracer": "callTracer"}
        ]),
    )
    .unwrap();
    assert_eq!(call, top);

    // prestateTracer: the accounts the transaction touched, as they were.
    let block = quantity(&receipt["blockNumber"]).unwrap();
    let parent = hex_quantity(block - 1);
    let prestate = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "prestateTracer"}]),
    )
    .unwrap();
    let balance_before = rpc(node.rpc, "eth_getBalance", json!([sender, parent])).unwrap();
    assert_eq!(
        prestate[addr(sender)]["balance"],
        balance_before,
        "{prestate}"
    );
    assert_eq!(prestate[addr(sender)]["nonce"], 2, "{prestate}");
    assert_eq!(
        prestate[addr(outer)]["code"],
        format!("0x{}", hex::encode(outer_code(inner)))
    );
    assert_eq!(prestate[addr(outer)]["nonce"], 1);
    assert_eq!(
        prestate[addr(outer)]["storage"],
        json!({ word(0): word(0), word(1): word(0) }),
        "{prestate}"
    );
    assert_eq!(
        prestate[addr(inner)]["code"],
        format!("0x{}", hex::encode(inner_code()))
    );
    // diffMode: what changed. OUTER keeps 4 wei, INNER gets 1, slot 0 is
    // set; slot 1 stays zero so it is not in the diff.
    let diff = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}]),
    )
    .unwrap();
    assert_eq!(diff["post"][addr(outer)]["balance"], "0x4", "{diff}");
    assert_eq!(
        diff["post"][addr(outer)]["storage"],
        json!({ word(0): word(0x2a) }),
        "{diff}"
    );
    assert_eq!(diff["post"][addr(inner)]["balance"], "0x1", "{diff}");
    assert_eq!(diff["post"][addr(sender)]["nonce"], 3, "{diff}");
    let balance_after = rpc(node.rpc, "eth_getBalance", json!([sender, "latest"])).unwrap();
    assert_eq!(
        diff["post"][addr(sender)]["balance"],
        balance_after,
        "{diff}"
    );
    assert_eq!(
        diff["pre"][addr(sender)]["balance"],
        balance_before,
        "{diff}"
    );
    // The fee recipient (the zero address on a dev node) gains the 1 gwei
    // tip on every unit of gas.
    let coinbase = addr(Address::ZERO);
    let gained = balance(&diff["post"][&coinbase]) - balance(&diff["pre"][&coinbase]);
    assert_eq!(
        gained,
        U256::from(OUTER_GAS_USED) * U256::from(1_000_000_000u64)
    );
    // The sender pays the 5 wei and the gas at the block's base fee + tip.
    let header = rpc(
        node.rpc,
        "eth_getBlockByNumber",
        json!([hex_quantity(block), false]),
    )
    .unwrap();
    let price = balance(&header["baseFeePerGas"]) + U256::from(1_000_000_000u64);
    assert_eq!(
        balance(&diff["pre"][addr(sender)]) - balance(&diff["post"][addr(sender)]),
        U256::from(5) + U256::from(OUTER_GAS_USED) * price
    );

    // 4byteTracer: no input here is 4 bytes or longer, so no selectors.
    let four = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "4byteTracer"}]),
    )
    .unwrap();
    assert_eq!(four, json!({}));
    let noop = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "noopTracer"}]),
    )
    .unwrap();
    assert_eq!(noop, json!({}));

    // Bad input gets clear errors.
    let unknown = rpc_response(
        node.rpc,
        "debug_traceTransaction",
        json!([B256::repeat_byte(9), {}]),
    )
    .unwrap();
    assert_eq!(unknown["error"]["code"], -32000, "{unknown}");
    assert_eq!(unknown["error"]["message"], "transaction not found");
    let bad_tracer = rpc_response(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "fancyTracer"}]),
    )
    .unwrap();
    assert_eq!(bad_tracer["error"]["code"], -32000, "{bad_tracer}");
    assert!(
        bad_tracer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("tracer not found"),
        "{bad_tracer}"
    );
    let bad_timeout = rpc_response(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer", "timeout": "soon"}]),
    )
    .unwrap();
    assert_eq!(bad_timeout["error"]["code"], -32602, "{bad_timeout}");
    assert!(
        bad_timeout["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid timeout"),
        "{bad_timeout}"
    );
}

#[test]
fn struct_logger_records_each_step_with_geths_options() {
    let dir = tempfile::tempdir().unwrap();
    let (node, inner, _, _) = deployed("0", dir.path());
    let sender = dev_signer().address();
    // INNER's success path: 9 steps, 33 gas.
    let hash = send(&node, &raw_tx(2, Some(inner), 0, Vec::new(), 50_000));
    wait_receipt(&node, &hash);
    let trace = rpc(node.rpc, "debug_traceTransaction", json!([hash])).unwrap();
    assert_eq!(trace["gas"], 21_033, "{trace}");
    assert_eq!(trace["failed"], false);
    assert_eq!(trace["returnValue"], word(0x2a));
    let logs = trace["structLogs"].as_array().unwrap();
    let ops: Vec<&str> = logs.iter().map(|l| l["op"].as_str().unwrap()).collect();
    assert_eq!(
        ops,
        [
            "CALLDATASIZE",
            "PUSH1",
            "JUMPI",
            "PUSH1",
            "PUSH1",
            "MSTORE",
            "PUSH1",
            "PUSH1",
            "RETURN"
        ]
    );
    let pcs: Vec<u64> = logs.iter().map(|l| l["pc"].as_u64().unwrap()).collect();
    assert_eq!(pcs, [0, 1, 3, 4, 6, 8, 9, 11, 13]);
    let costs: Vec<u64> = logs
        .iter()
        .map(|l| l["gasCost"].as_u64().unwrap())
        .collect();
    assert_eq!(costs, [2, 3, 10, 3, 3, 6, 3, 3, 0]);
    // Gas left before each step: 50000 - 21000, minus the costs so far.
    let mut gas = 29_000;
    for (log, cost) in logs.iter().zip(&costs) {
        assert_eq!(log["gas"], gas, "{log}");
        assert_eq!(log["depth"], 1);
        gas -= cost;
    }
    // The stack before MSTORE holds the offset on top of the value; no
    // memory unless asked for.
    assert_eq!(logs[5]["stack"], json!(["0x2a", "0x0"]));
    assert!(logs[8].get("memory").is_none(), "{}", logs[8]);

    // disableStack, enableMemory, limit.
    let trace = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"disableStack": true, "enableMemory": true, "limit": 9}]),
    )
    .unwrap();
    let logs = trace["structLogs"].as_array().unwrap();
    assert_eq!(logs.len(), 9);
    assert!(logs.iter().all(|l| l.get("stack").is_none()), "{trace}");
    assert_eq!(logs[8]["memory"], json!([word(0x2a)]), "{trace}");
    let limited = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"limit": 3}]),
    )
    .unwrap();
    assert_eq!(limited["structLogs"].as_array().unwrap().len(), 3);

    // debug_traceCall with the struct logger: the same steps.
    let call = rpc(
        node.rpc,
        "debug_traceCall",
        json!([{"from": sender, "to": inner, "gas": "0xc350"}, "latest", {}]),
    )
    .unwrap();
    assert_eq!(call["structLogs"].as_array().unwrap().len(), 9);
    assert_eq!(call["gas"], 21_033);
}

#[test]
fn trace_block_returns_one_result_per_transaction_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (node, inner, outer, _) = deployed("1000", dir.path());
    // Both in one batch, so both land in one block.
    let body = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
         "params": [raw_tx(2, Some(outer), 5, Vec::new(), OUTER_GAS)]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction",
         "params": [raw_tx(3, Some(inner), 0, Vec::new(), 50_000)]},
    ]);
    let (_, response) =
        outrigger_tests::node_process::http_post(node.rpc, &body.to_string()).unwrap();
    let response: Value = serde_json::from_str(&response).unwrap();
    let hashes: Vec<Value> = response
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].clone())
        .collect();
    let first = wait_receipt(&node, &hashes[0]);
    let second = wait_receipt(&node, &hashes[1]);
    assert_eq!(first["blockNumber"], second["blockNumber"], "one block");
    let number = first["blockNumber"].clone();
    let by_number = rpc(
        node.rpc,
        "debug_traceBlockByNumber",
        json!([number, {"tracer": "callTracer"}]),
    )
    .unwrap();
    let results = by_number.as_array().unwrap();
    assert_eq!(results.len(), 2, "{by_number}");
    assert_eq!(results[0]["txHash"], hashes[0]);
    assert_eq!(results[1]["txHash"], hashes[1]);
    assert_eq!(
        results[0]["result"]["gasUsed"],
        hex_quantity(OUTER_GAS_USED)
    );
    assert_eq!(results[0]["result"]["calls"].as_array().unwrap().len(), 2);
    // The second is traced on the state the first left.
    assert_eq!(results[1]["result"]["to"], addr(inner));
    assert_eq!(results[1]["result"]["gasUsed"], hex_quantity(21_033));
    let block_hash = first["blockHash"].clone();
    let by_hash = rpc(
        node.rpc,
        "debug_traceBlockByHash",
        json!([block_hash, {"tracer": "callTracer"}]),
    )
    .unwrap();
    assert_eq!(by_hash, by_number);
    // The struct logger over a block: one result per transaction too.
    let logs = rpc(node.rpc, "debug_traceBlockByNumber", json!([number])).unwrap();
    assert_eq!(logs[1]["result"]["structLogs"].as_array().unwrap().len(), 9);
    assert_eq!(logs[0]["txHash"], hashes[0]);

    let missing = rpc_response(node.rpc, "debug_traceBlockByNumber", json!(["0xffff"])).unwrap();
    assert_eq!(missing["error"]["code"], -32000, "{missing}");
    let genesis = rpc_response(node.rpc, "debug_traceBlockByNumber", json!(["0x0"])).unwrap();
    assert_eq!(
        genesis["error"]["message"], "genesis is not traceable",
        "{genesis}"
    );
}

#[test]
fn traces_outside_the_history_window_and_over_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_with_env(
        &["--dev", "--block-time-ms", "0"],
        &[
            ("OUTRIGGER__STORAGE__STATE_HISTORY_BLOCKS", "2"),
            ("OUTRIGGER__RPC__MAX_TRACE_STEPS", "5"),
            ("OUTRIGGER__RPC__MAX_TRACE_BYTES", "200"),
        ],
        dir.path(),
    )
    .unwrap();
    let sender = dev_signer().address();
    let to = Address::repeat_byte(0x42);
    let hash = send(&node, &raw_tx(0, Some(to), 1, Vec::new(), 21_000));
    let receipt = wait_receipt(&node, &hash);
    assert_eq!(receipt["blockNumber"], "0x1");
    // Traceable while block 0's state is kept.
    let trace = rpc(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer"}]),
    )
    .unwrap();
    assert_eq!(trace["gasUsed"], hex_quantity(21_000));
    assert_eq!(trace["value"], "0x1");
    for _ in 0..4 {
        rpc(node.rpc, "evm_mine", json!([])).unwrap();
    }
    node.wait_for_block(5, Duration::from_secs(10)).unwrap();
    let old = rpc_response(
        node.rpc,
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer"}]),
    )
    .unwrap();
    assert_eq!(old["error"]["code"], -32000, "{old}");
    let message = old["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("historical state not available for block #0"),
        "{message}"
    );
    // The same error as eth_getBalance at that block.
    let balance = rpc_response(node.rpc, "eth_getBalance", json!([sender, "0x0"])).unwrap();
    assert_eq!(balance["error"], old["error"]);

    // More struct log steps than rpc.max_trace_steps (5): refused, unless
    // the request's own limit keeps it under.
    let loop_code = "0x5b600056"; // JUMPDEST PUSH1 0 JUMP, forever
    let call = json!({"from": sender, "data": loop_code, "gas": "0x1c9c380"});
    let steps = rpc_response(node.rpc, "debug_traceCall", json!([call, "latest", {}])).unwrap();
    assert_eq!(steps["error"]["code"], -32005, "{steps}");
    assert!(
        steps["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rpc.max_trace_steps"),
        "{steps}"
    );
    // (200,000 gas: the loop runs to out-of-gas unrecorded.)
    let short = json!({"from": sender, "data": loop_code, "gas": "0x30d40"});
    let limited = rpc(
        node.rpc,
        "debug_traceCall",
        json!([short, "latest", {"limit": 4}]),
    )
    .unwrap();
    let ops: Vec<&str> = limited["structLogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["JUMPDEST", "PUSH1", "JUMP", "JUMPDEST"]);
    // 30M gas of the loop takes longer than a 1 ms timeout.
    let timed = rpc_response(
        node.rpc,
        "debug_traceCall",
        json!([call, "latest", {"tracer": "callTracer", "timeout": "1ms"}]),
    )
    .unwrap();
    assert_eq!(timed["error"]["code"], -32000, "{timed}");
    assert!(
        timed["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("execution timeout"),
        "{timed}"
    );
    // More recorded bytes than rpc.max_trace_bytes (200): PUSH2 0x400,
    // MLOAD, STOP grows memory to 1056 bytes, which the struct logger
    // copies at the STOP.
    let big = json!({"from": sender, "data": "0x6104005100"});
    let bytes = rpc_response(
        node.rpc,
        "debug_traceCall",
        json!([big, "latest", {"enableMemory": true, "limit": 4}]),
    )
    .unwrap();
    assert_eq!(bytes["error"]["code"], -32005, "{bytes}");
    assert!(
        bytes["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rpc.max_trace_bytes"),
        "{bytes}"
    );
    // And the node keeps serving.
    assert_eq!(rpc(node.rpc, "eth_blockNumber", json!([])).unwrap(), "0x5");
}
