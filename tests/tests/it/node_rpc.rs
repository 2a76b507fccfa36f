//! The `outrigger` binary as a dApp and an operator meet it: JSON-RPC over
//! HTTP with geth's error codes, metrics, restarts and `kill -9`.

use std::{str::FromStr as _, time::Duration};

use alloy_eips::Encodable2718 as _;
use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use outrigger_tests::{
    node_process::{NodeProcess, http_get, http_post, quantity, rpc, rpc_response},
    transfer,
};
use serde_json::{Value, json};

/// Account 0 of the test mnemonic, funded on the dev chain.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn dev_signer() -> PrivateKeySigner {
    PrivateKeySigner::from_str(DEV_KEY).expect("the test key")
}

fn raw_transfer(nonce: u64, to: Address, value: u64) -> String {
    let tx = transfer(&dev_signer(), nonce, to, U256::from(value));
    format!(
        "0x{}",
        alloy_primitives::hex::encode(tx.inner().encoded_2718())
    )
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error in {response}"))
}

#[test]
fn bad_input_gets_standard_errors_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "0"], dir.path()).unwrap();
    let post = |body: &str| -> Value {
        let (_, body) = http_post(node.rpc, body).unwrap();
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    };
    // Malformed JSON: parse error.
    assert_eq!(
        error_code(&post("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ")),
        -32700
    );
    // Unknown method.
    let response = post(r#"{"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}"#);
    assert_eq!(error_code(&response), -32601, "{response}");
    // Wrong parameter types.
    for params in [
        json!(["not an address", "latest"]),
        json!([1, 2, 3, 4]),
        json!({"a": 1}),
    ] {
        let response = rpc_response(node.rpc, "eth_getBalance", params.clone()).unwrap();
        assert_eq!(error_code(&response), -32602, "{params}: {response}");
    }
    // Bytes that are no transaction, and a transaction signed for another chain.
    let response = rpc_response(node.rpc, "eth_sendRawTransaction", json!(["0xdeadbeef"])).unwrap();
    assert_eq!(error_code(&response), -32000, "{response}");
    let mut foreign =
        transfer(&dev_signer(), 0, Address::repeat_byte(1), U256::from(1)).into_inner();
    if let alloy_consensus::TxEnvelope::Eip1559(signed) = &mut foreign {
        let (mut tx, signature, _) = signed.clone().into_parts();
        tx.chain_id = 1;
        *signed = alloy_consensus::Signed::new_unhashed(tx, signature);
    }
    let raw = format!(
        "0x{}",
        alloy_primitives::hex::encode(foreign.encoded_2718())
    );
    let response = rpc_response(node.rpc, "eth_sendRawTransaction", json!([raw])).unwrap();
    assert_eq!(error_code(&response), -32000, "{response}");
    // A batch: each call answered in order, errors in place.
    let batch = post(
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},
            {"jsonrpc":"2.0","id":2,"method":"eth_nope","params":[]},
            {"jsonrpc":"2.0","id":3,"method":"net_version","params":[]}]"#,
    );
    let batch = batch.as_array().expect("a batch response");
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[0]["result"], "0x539");
    assert_eq!(batch[1]["error"]["code"], -32601);
    assert_eq!(batch[2]["result"], "1337");
    // Still serving, and a good transaction still goes through.
    let to = Address::repeat_byte(0x42);
    let hash = rpc(
        node.rpc,
        "eth_sendRawTransaction",
        json!([raw_transfer(0, to, 7)]),
    )
    .unwrap();
    let receipt = wait_receipt(&node, &hash);
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        rpc(node.rpc, "eth_getBalance", json!([to, "latest"])).unwrap(),
        "0x7"
    );
    // A transaction that cannot go in yet (nonce gap) seals no empty block.
    let head = quantity(&rpc(node.rpc, "eth_blockNumber", json!([])).unwrap()).unwrap();
    rpc(
        node.rpc,
        "eth_sendRawTransaction",
        json!([raw_transfer(9, to, 1)]),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        quantity(&rpc(node.rpc, "eth_blockNumber", json!([])).unwrap()).unwrap(),
        head
    );
    // A filter listing too many addresses is refused, naming the limit.
    let addresses: Vec<String> = (0..2000u32).map(|i| format!("{:#042x}", i + 1)).collect();
    let response =
        rpc_response(node.rpc, "eth_newFilter", json!([{"address": addresses}])).unwrap();
    assert_eq!(error_code(&response), -32005, "{response}");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("filter too large")
    );
    // The same transaction again: geth's words.
    let response = rpc_response(
        node.rpc,
        "eth_sendRawTransaction",
        json!([raw_transfer(0, to, 7)]),
    )
    .unwrap();
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nonce too low"),
        "{response}"
    );
    // State at a past block: as it was then (EIP-1898 by hash too); a
    // future block is not found.
    assert_eq!(
        rpc(node.rpc, "eth_getBalance", json!([to, "0x0"])).unwrap(),
        "0x0"
    );
    let genesis = rpc(node.rpc, "eth_getBlockByNumber", json!(["0x0", false])).unwrap();
    assert_eq!(
        rpc(
            node.rpc,
            "eth_getBalance",
            json!([to, {"blockHash": genesis["hash"], "requireCanonical": true}])
        )
        .unwrap(),
        "0x0"
    );
    let block = receipt["blockNumber"].as_str().unwrap();
    assert_eq!(
        rpc(node.rpc, "eth_getBalance", json!([to, block])).unwrap(),
        "0x7"
    );
    let response = rpc_response(node.rpc, "eth_getBalance", json!([to, "0xffff"])).unwrap();
    assert_eq!(
        response["error"]["message"], "header not found",
        "{response}"
    );
    assert_eq!(
        rpc(node.rpc, "eth_getBlockByNumber", json!(["0xffff", false])).unwrap(),
        Value::Null
    );
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

#[test]
fn metrics_report_height_pool_and_rpc_calls() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "100"], dir.path()).unwrap();
    node.wait_for_block(3, Duration::from_secs(30)).unwrap();
    rpc(node.rpc, "eth_chainId", json!([])).unwrap();
    let _ = rpc(node.rpc, "eth_bogus", json!([]));
    let (status, body) = http_get(node.metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    let height = body
        .lines()
        .find_map(|l| l.strip_prefix("outrigger_chain_height "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no height in {body}"));
    assert!(height >= 3, "{body}");
    for needle in [
        "outrigger_block_interval_seconds_bucket",
        "outrigger_block_transactions_count",
        "outrigger_block_gas_used_count",
        "outrigger_txpool_transactions{state=\"pending\"} 0",
        "outrigger_rpc_requests_total{method=\"eth_chainId\",outcome=\"ok\"} 1",
        "outrigger_rpc_requests_total{method=\"unknown\",outcome=\"error\"} 1",
        "outrigger_rpc_request_duration_seconds_bucket{method=\"eth_blockNumber\"",
    ] {
        assert!(body.contains(needle), "missing {needle} in:\n{body}");
    }
    let (status, _) = http_get(node.metrics, "/other").unwrap();
    assert_eq!(status, 404);
}

#[test]
fn restart_and_kill_nine_keep_every_sealed_block() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let args = ["--dev", "--data-dir", data, "--block-time-ms", "100"];
    let to = Address::repeat_byte(0x77);

    // A clean stop and restart: balances and blocks kept.
    let mut node = NodeProcess::start(&args, dir.path()).unwrap();
    let hash = rpc(
        node.rpc,
        "eth_sendRawTransaction",
        json!([raw_transfer(0, to, 5)]),
    )
    .unwrap();
    let receipt = wait_receipt(&node, &hash);
    let block = quantity(&receipt["blockNumber"]).unwrap();
    let block_hash = receipt["blockHash"].clone();
    assert!(node.terminate().unwrap().success(), "{}", node.output());
    let mut node = NodeProcess::start(&args, dir.path()).unwrap();
    assert_eq!(
        rpc(node.rpc, "eth_getBalance", json!([to, "latest"])).unwrap(),
        "0x5"
    );
    let stored = rpc(
        node.rpc,
        "eth_getBlockByNumber",
        json!([format!("{block:#x}"), false]),
    )
    .unwrap();
    assert_eq!(stored["hash"], block_hash);
    assert_eq!(
        quantity(
            &rpc(
                node.rpc,
                "eth_getTransactionCount",
                json!([dev_signer().address(), "latest"])
            )
            .unwrap()
        )
        .unwrap(),
        1
    );

    // kill -9 while sealing: every block a client saw survives, and the
    // chain goes on from there.
    for round in 0..3u64 {
        let hash = rpc(
            node.rpc,
            "eth_sendRawTransaction",
            json!([raw_transfer(1 + round, to, 1)]),
        )
        .unwrap();
        wait_receipt(&node, &hash);
        let seen = node.wait_for_block(0, Duration::from_secs(1)).unwrap();
        let seen_hash = rpc(
            node.rpc,
            "eth_getBlockByNumber",
            json!([format!("{seen:#x}"), false]),
        )
        .unwrap()["hash"]
            .clone();
        node.kill9();
        node = NodeProcess::start(&args, dir.path()).unwrap();
        let head = node.wait_for_block(seen, Duration::from_secs(10)).unwrap();
        assert!(head >= seen);
        let again = rpc(
            node.rpc,
            "eth_getBlockByNumber",
            json!([format!("{seen:#x}"), false]),
        )
        .unwrap();
        assert_eq!(
            again["hash"], seen_hash,
            "block {seen} changed after kill -9"
        );
        assert_eq!(
            rpc(node.rpc, "eth_getBalance", json!([to, "latest"])).unwrap(),
            format!("{:#x}", 5 + round + 1)
        );
        node.wait_for_block(head + 2, Duration::from_secs(10))
            .unwrap();
    }
}

#[test]
fn dev_accounts_sign_and_send_txpool_shows_them_and_evm_mine_seals() {
    let dir = tempfile::tempdir().unwrap();
    // A block an hour: only evm_mine seals.
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "3600000"], dir.path()).unwrap();
    let accounts = rpc(node.rpc, "eth_accounts", json!([])).unwrap();
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 10);
    assert_eq!(accounts[0], "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");

    // eth_sendTransaction: the node fills nonce, fees and gas, and signs.
    let to = Address::repeat_byte(0x55);
    let hash = rpc(
        node.rpc,
        "eth_sendTransaction",
        json!([{"from": accounts[0], "to": to, "value": "0x10"}]),
    )
    .unwrap();
    let status = rpc(node.rpc, "txpool_status", json!([])).unwrap();
    assert_eq!(status, json!({"pending": "0x1", "queued": "0x0"}));
    let content = rpc(node.rpc, "txpool_content", json!([])).unwrap();
    let pooled = &content["pending"]["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"]["0"];
    assert_eq!(pooled["hash"], hash, "{content}");
    assert_eq!(pooled["type"], "0x2");
    let inspect = rpc(node.rpc, "txpool_inspect", json!([])).unwrap();
    assert!(
        inspect["pending"]["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"]["0"]
            .as_str()
            .unwrap()
            .contains("16 wei + 21000 gas"),
        "{inspect}"
    );
    assert_eq!(
        quantity(&rpc(node.rpc, "eth_blockNumber", json!([])).unwrap()).unwrap(),
        0
    );
    assert_eq!(rpc(node.rpc, "evm_mine", json!([])).unwrap(), "0x0");
    assert_eq!(
        quantity(&rpc(node.rpc, "eth_blockNumber", json!([])).unwrap()).unwrap(),
        1
    );
    let receipt = rpc(node.rpc, "eth_getTransactionReceipt", json!([hash])).unwrap();
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        rpc(node.rpc, "eth_getBalance", json!([to, "latest"])).unwrap(),
        "0x10"
    );
    assert_eq!(
        rpc(node.rpc, "txpool_status", json!([])).unwrap(),
        json!({"pending": "0x0", "queued": "0x0"})
    );

    // Two deployments that each log a Transfer, in one block: a receipt read
    // alone numbers its logs block-wide, as the block's receipts do.
    let artifact: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../execution/tests/data/TestToken.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let deploy = format!(
        "{}{:064x}",
        artifact["TestToken"]["bytecode"].as_str().unwrap(),
        1000
    );
    let hashes: Vec<Value> = (0..2)
        .map(|_| {
            rpc(
                node.rpc,
                "eth_sendTransaction",
                json!([{"from": accounts[0], "data": deploy}]),
            )
            .unwrap()
        })
        .collect();
    rpc(node.rpc, "evm_mine", json!([])).unwrap();
    let block_receipts = rpc(node.rpc, "eth_getBlockReceipts", json!(["latest"])).unwrap();
    assert_eq!(block_receipts.as_array().unwrap().len(), 2);
    for (index, hash) in hashes.iter().enumerate() {
        let receipt = rpc(node.rpc, "eth_getTransactionReceipt", json!([hash])).unwrap();
        assert_eq!(receipt, block_receipts[index]);
        assert_eq!(receipt["logs"][0]["logIndex"], format!("{index:#x}"));
    }

    // personal_sign and eth_sign: EIP-191 signatures that recover to the account.
    let message = b"hello outrigger";
    let data = format!("0x{}", alloy_primitives::hex::encode(message));
    for (method, params) in [
        ("personal_sign", json!([data, accounts[1]])),
        ("eth_sign", json!([accounts[1], data])),
    ] {
        let signature = rpc(node.rpc, method, params).unwrap();
        let bytes: alloy_primitives::Bytes = signature.as_str().unwrap().parse().unwrap();
        let signature = alloy_primitives::Signature::try_from(bytes.as_ref()).unwrap();
        let signer = signature.recover_address_from_msg(message).unwrap();
        assert_eq!(
            format!("{signer:#x}"),
            accounts[1].as_str().unwrap(),
            "{method}"
        );
    }
    // A key the node does not hold.
    let response = rpc_response(
        node.rpc,
        "eth_sendTransaction",
        json!([{"from": Address::repeat_byte(1), "to": to}]),
    )
    .unwrap();
    assert_eq!(
        response["error"]["message"], "unknown account",
        "{response}"
    );
}

#[test]
fn oversized_requests_and_batches_are_refused_and_others_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_with_env(
        &["--dev", "--block-time-ms", "100"],
        &[
            ("OUTRIGGER__RPC__MAX_LOGS_BLOCK_RANGE", "3"),
            ("OUTRIGGER__STORAGE__STATE_HISTORY_BLOCKS", "2"),
        ],
        dir.path(),
    )
    .unwrap();
    // A body over the 10 MiB limit.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "ab".repeat(6 * 1024 * 1024)
    );
    let (status, _) = http_post(node.rpc, &huge).unwrap();
    assert_eq!(status, 413, "payload too large");
    // A batch of 10,000 calls, over the limit of 100: one error, not 10,000 answers.
    let batch: Vec<Value> = (0..10_000)
        .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "eth_blockNumber", "params": []}))
        .collect();
    let (_, body) = http_post(node.rpc, &Value::Array(batch).to_string()).unwrap();
    let response: Value = serde_json::from_str(&body).unwrap();
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("batch request was too large")
            && response["error"]["data"].as_str().unwrap().contains("100"),
        "{response}"
    );
    // A log query over too many blocks names the limit (3 blocks here).
    node.wait_for_block(4, Duration::from_secs(20)).unwrap();
    let response = rpc_response(
        node.rpc,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "0x4"}]),
    )
    .unwrap();
    assert_eq!(error_code(&response), -32005, "{response}");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max block range 3")
    );
    // Everyone else is still served.
    assert_eq!(rpc(node.rpc, "eth_chainId", json!([])).unwrap(), "0x539");
}
