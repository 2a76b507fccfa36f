//! Unmodified Ethereum clients against a dev node: web3.py (PyPI) and cast
//! (Foundry, npm), installed pinned by `scripts/tools.sh`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use outrigger_tests::node_process::NodeProcess;
use serde_json::Value;

/// Account 0 of the test mnemonic.
const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const ADDR1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

fn tools_dir() -> PathBuf {
    std::env::var_os("OUTRIGGER_TOOLS").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/outrigger/tools"),
        PathBuf::from,
    )
}

pub(crate) fn tool(relative: &str) -> PathBuf {
    let path = tools_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/tools.sh (./scripts/test.sh does)",
        path.display()
    );
    path
}

fn artifact() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../execution/tests/data/TestToken.json")
}

#[test]
fn web3py_transfers_deploys_calls_reads_logs_and_sees_errors() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "0"], dir.path()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/web3_flow.py");
    let output = Command::new(tool("venv/bin/python"))
        .arg(&script)
        .arg(format!("http://{}", node.rpc))
        .arg(artifact())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("web3.py flow passed"),
        "web3.py flow failed:\n{stdout}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        node.output()
    );
}

#[test]
fn subscriptions_over_websocket_and_polled_filters() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "0"], dir.path()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/subscriptions.py");
    let output = Command::new(tool("venv/bin/python"))
        .arg(&script)
        .arg(format!("http://{}", node.rpc))
        .arg(format!("ws://{}", node.rpc))
        .arg(artifact())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("subscriptions flow passed"),
        "subscriptions flow failed:\n{stdout}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        node.output()
    );
}

/// Runs cast against the node; returns stdout, or panics with everything.
fn cast(node: &NodeProcess, args: &[&str]) -> String {
    let output = cast_output(node, args);
    assert!(
        output.status.success(),
        "cast {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn cast_output(node: &NodeProcess, args: &[&str]) -> std::process::Output {
    // The URL goes right after the subcommand: `send --create` takes every
    // later argument as a constructor argument.
    let (subcommand, rest) = args.split_first().expect("a cast subcommand");
    Command::new(cast_binary())
        .arg(subcommand)
        .args(["--rpc-url", &format!("http://{}", node.rpc)])
        .args(rest)
        .env("FOUNDRY_DISABLE_NIGHTLY_WARNING", "1")
        .output()
        .unwrap()
}

fn cast_binary() -> PathBuf {
    tool("npm/node_modules/@foundry-rs/cast-linux-amd64/bin/cast")
}

#[test]
fn cast_sends_deploys_calls_and_reads_logs() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "0"], dir.path()).unwrap();
    assert_eq!(cast(&node, &["chain-id"]), "1337");
    // The same port speaks WebSocket.
    let ws = Command::new(cast_binary())
        .args(["chain-id", "--rpc-url", &format!("ws://{}", node.rpc)])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ws.stdout).trim(), "1337", "{ws:?}");
    assert_eq!(cast(&node, &["balance", ADDR1]), "10000000000000000000000");

    // A value transfer, signed by cast (EIP-1559 by default).
    let receipt: Value = serde_json::from_str(&cast(
        &node,
        &[
            "send",
            "--private-key",
            KEY0,
            "--json",
            ADDR1,
            "--value",
            "1ether",
        ],
    ))
    .unwrap();
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["type"], "0x2", "{receipt}");
    assert_eq!(cast(&node, &["balance", ADDR1]), "10001000000000000000000");
    assert_eq!(cast(&node, &["nonce", ADDR0]), "1");

    // Deploy the ERC20 and use it.
    let artifact: Value =
        serde_json::from_str(&std::fs::read_to_string(artifact()).unwrap()).unwrap();
    let bytecode = artifact["TestToken"]["bytecode"].as_str().unwrap();
    let deployed: Value = serde_json::from_str(&cast(
        &node,
        &[
            "send",
            "--private-key",
            KEY0,
            "--json",
            "--create",
            bytecode,
            "constructor(uint256)",
            "1000",
        ],
    ))
    .unwrap();
    let token = deployed["contractAddress"].as_str().unwrap().to_string();
    assert_eq!(
        cast(
            &node,
            &["call", &token, "balanceOf(address)(uint256)", ADDR0]
        ),
        "1000"
    );
    let estimate: u64 = cast(
        &node,
        &[
            "estimate",
            "--from",
            ADDR0,
            &token,
            "transfer(address,uint256)",
            ADDR1,
            "10",
        ],
    )
    .parse()
    .unwrap();
    assert!((30_000..100_000).contains(&estimate), "{estimate}");
    let moved: Value = serde_json::from_str(&cast(
        &node,
        &[
            "send",
            "--private-key",
            KEY0,
            "--json",
            &token,
            "transfer(address,uint256)",
            ADDR1,
            "10",
        ],
    ))
    .unwrap();
    assert_eq!(moved["status"], "0x1");
    assert_eq!(
        cast(
            &node,
            &["call", &token, "balanceOf(address)(uint256)", ADDR1]
        ),
        "10"
    );
    let logs: Value = serde_json::from_str(&cast(
        &node,
        &[
            "logs",
            "--json",
            "--from-block",
            "0",
            "--address",
            &token,
            "Transfer(address indexed,address indexed,uint256)",
        ],
    ))
    .unwrap();
    assert_eq!(logs.as_array().unwrap().len(), 2, "{logs}");
    assert_eq!(logs[1]["transactionHash"], moved["transactionHash"]);

    // A revert reason comes back through cast.
    let output = cast_output(
        &node,
        &[
            "call",
            "--from",
            ADDR1,
            &token,
            "transfer(address,uint256)",
            ADDR0,
            "1000000",
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("insufficient balance"), "{stderr}");

    // Blocks and receipts as cast reads them.
    let number = moved["blockNumber"].as_str().unwrap();
    let number = u64::from_str_radix(number.trim_start_matches("0x"), 16).unwrap();
    let block: Value =
        serde_json::from_str(&cast(&node, &["block", &number.to_string(), "--json"])).unwrap();
    assert_eq!(block["hash"], moved["blockHash"]);
    assert_eq!(
        cast(
            &node,
            &[
                "receipt",
                moved["transactionHash"].as_str().unwrap(),
                "status"
            ]
        ),
        "true"
    );
}

#[test]
fn forge_deploys_the_bridge_and_its_eip712_digest_matches_alloys() {
    use outrigger_bridge::contracts::{withdrawal, withdrawal_digest, withdrawal_domain};

    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "0"], dir.path()).unwrap();
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts");
    let forge = contracts.join("node_modules/@foundry-rs/forge-linux-amd64/bin/forge");
    assert!(
        forge.exists(),
        "{} is missing: run ./scripts/contracts.sh (./scripts/test.sh does)",
        forge.display()
    );
    // forge compiles with the pinned solc-js and deploys to the node.
    let output = Command::new(&forge)
        .current_dir(&contracts)
        .args([
            "create",
            "src/L1Bridge.sol:L1Bridge",
            "--broadcast",
            "--json",
        ])
        .args(["--rpc-url", &format!("http://{}", node.rpc)])
        .args(["--private-key", KEY0])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "forge create failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json_start = stdout.find('{').expect("forge's JSON");
    let created: Value = serde_json::from_str(stdout[json_start..].trim()).unwrap();
    let bridge: alloy_primitives::Address =
        created["deployedTo"].as_str().unwrap().parse().unwrap();
    let receipt: Value = serde_json::from_str(&cast(
        &node,
        &[
            "receipt",
            created["transactionHash"].as_str().unwrap(),
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        receipt["contractAddress"].as_str().unwrap().to_lowercase(),
        format!("{bridge:#x}")
    );

    // The domain is bound to this chain (1337) and this contract, and the
    // digest the contract computes is the one alloy computes in Rust.
    let separator = cast(
        &node,
        &["call", &bridge.to_string(), "domainSeparator()(bytes32)"],
    );
    assert_eq!(
        separator,
        withdrawal_domain(1337, bridge).separator().to_string()
    );
    let (token, from, to) = (
        alloy_primitives::Address::repeat_byte(0x7e),
        alloy_primitives::Address::repeat_byte(0xf0),
        alloy_primitives::Address::repeat_byte(0x70),
    );
    // Not initialised yet: the remote chain id and bridge read as zero.
    let expected = withdrawal_digest(
        &withdrawal(
            0,
            alloy_primitives::Address::ZERO,
            alloy_primitives::U256::from(5),
            token,
            false,
            from,
            to,
            alloy_primitives::U256::from(1000),
        ),
        1337,
        bridge,
    );
    let digest = cast(
        &node,
        &[
            "call",
            &bridge.to_string(),
            "hashWithdrawal((uint256,address,bool,address,address,uint256))(bytes32)",
            &format!("(5,{token},false,{from},{to},1000)"),
        ],
    );
    assert_eq!(digest, expected.to_string());
}
