//! Validator chains of real `outrigger` processes on 127.0.0.1: finality,
//! agreement, crashes, loss of quorum, block sync, transactions through
//! any node.

use std::time::{Duration, Instant};

use alloy_primitives::Address;
use outrigger_tests::{
    node_process::{quantity, rpc},
    testnet::{TestNet, dev_key, signed_transfer},
};
use serde_json::json;

fn wait_receipt(net: &TestNet, node: usize, hash: &str, timeout: Duration) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let receipt = rpc(
            net.node(node).rpc,
            "eth_getTransactionReceipt",
            json!([hash]),
        )
        .unwrap();
        if !receipt.is_null() {
            return receipt;
        }
        assert!(
            Instant::now() < deadline,
            "no receipt for {hash} on node {node}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn four_validators_finalize_agree_and_take_transactions_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = TestNet::start(dir.path(), 4, 200).unwrap();
    net.wait_all(3, Duration::from_secs(60)).unwrap();
    // A transaction through each node's RPC, whoever proposes next.
    let mut hashes = Vec::new();
    for node in 0..4 {
        let raw = signed_transfer(&dev_key(node as u32), 0, Address::repeat_byte(0x42));
        let hash = rpc(net.node(node).rpc, "eth_sendRawTransaction", json!([raw])).unwrap();
        hashes.push(hash.as_str().unwrap().to_string());
    }
    let mut included = 0;
    for hash in &hashes {
        let receipt = wait_receipt(&net, 0, hash, Duration::from_secs(30));
        assert_eq!(receipt["status"], "0x1");
        included = included.max(quantity(&receipt["blockNumber"]).unwrap());
    }
    // Node 3 answers from its own head: read once it has every block.
    net.wait_all(included + 2, Duration::from_secs(30)).unwrap();
    let balance = rpc(
        net.node(3).rpc,
        "eth_getBalance",
        json!([format!("{:#x}", Address::repeat_byte(0x42)), "latest"]),
    )
    .unwrap();
    assert_eq!(quantity(&balance).unwrap(), 4_000);
    net.assert_agree(included + 2).unwrap();

    // The blocks carry certificates a newcomer checks: a full node syncs.
    let full = net.add_full_node().unwrap();
    let head = net.head(0).unwrap();
    net.node(full)
        .wait_for_block(head, Duration::from_secs(60))
        .unwrap();
    net.assert_agree(head).unwrap();
    assert!(
        net.metric(0, "outrigger_consensus_committed_total")
            .unwrap()
            > 0.0
    );
    assert!(net.metric(full, "outrigger_sync_blocks_total").unwrap() > 0.0);
    // Where blocks' time goes: the validators timed each height and the
    // stages of their blocks (among them they built and validated); the
    // full node imported and wrote what it synced.
    let stage = |node: usize, stage: &str| {
        let series = format!("outrigger_block_stage_seconds_count{{stage=\"{stage}\"}}");
        net.metric(node, &series).unwrap()
    };
    for (what, nodes) in [("build", 0..4), ("validate", 0..4), ("commit", 0..1)] {
        let count: f64 = nodes.map(|node| stage(node, what)).sum();
        assert!(count > 0.0, "no {what} timed");
    }
    assert!(
        net.metric(0, "outrigger_consensus_height_seconds_count")
            .unwrap()
            > 0.0
    );
    assert!(stage(full, "import") > 0.0 && stage(full, "commit") > 0.0);
    // Every validator is connected to the three others (and maybe the full
    // node); the full node, caught up, is not syncing.
    for node in 0..4 {
        let peers =
            quantity(&rpc(net.node(node).rpc, "net_peerCount", json!([])).unwrap()).unwrap();
        assert!(peers >= 3, "node {node} has {peers} peers");
    }
    assert_eq!(
        rpc(net.node(full).rpc, "eth_syncing", json!([])).unwrap(),
        json!(false)
    );
}

#[test]
fn a_killed_validator_is_not_missed_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = TestNet::start(dir.path(), 4, 200).unwrap();
    net.wait_all(3, Duration::from_secs(60)).unwrap();
    net.kill(3);
    let head = net.head(0).unwrap();
    net.wait_all(head + 8, Duration::from_secs(60)).unwrap();
    net.restart(3).unwrap();
    let head = net.head(0).unwrap();
    net.node(3)
        .wait_for_block(head + 2, Duration::from_secs(60))
        .unwrap();
    net.assert_agree(head).unwrap();
}

#[test]
fn without_quorum_nothing_is_finalized_until_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = TestNet::start(dir.path(), 4, 200).unwrap();
    net.wait_all(3, Duration::from_secs(60)).unwrap();
    net.kill(2);
    net.kill(3);
    // A height in flight may still finish; after that nothing does.
    std::thread::sleep(Duration::from_secs(1));
    let halted = net.head(0).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(net.head(0).unwrap(), halted, "finalized without a quorum");
    assert_eq!(net.head(1).unwrap(), halted);
    net.restart(2).unwrap();
    net.restart(3).unwrap();
    let resumed = Instant::now();
    net.wait_all(halted + 2, Duration::from_secs(30)).unwrap();
    println!(
        "finalization resumed {:.1} s after the restart",
        resumed.elapsed().as_secs_f64()
    );
    net.assert_agree(halted + 2).unwrap();
}

/// `kill -9` of a random validator at a random moment, then a restart;
/// `OUTRIGGER_KILL_LOOPS` times (50 by default). Afterwards: no double sign
/// was seen by anyone (the full node sees all gossip), every height has one
/// block, all state roots agree.
#[test]
fn random_crashes_never_cost_safety() {
    let loops: usize = std::env::var("OUTRIGGER_KILL_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let mut net = TestNet::start(dir.path(), 4, 100).unwrap();
    let observer = net.add_full_node().unwrap();
    net.wait_all(2, Duration::from_secs(60)).unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let started = Instant::now();
    for _ in 0..loops {
        let victim = (next() % 4) as usize;
        std::thread::sleep(Duration::from_millis(next() % 500));
        net.kill(victim);
        std::thread::sleep(Duration::from_millis(next() % 300));
        net.restart(victim).unwrap();
    }
    let head = net.head(observer).unwrap();
    net.wait_all(head + 3, Duration::from_secs(60)).unwrap();
    println!(
        "{loops} crashes in {:.0} s; head {} after",
        started.elapsed().as_secs_f64(),
        net.head(0).unwrap()
    );
    net.assert_agree(head + 3).unwrap();
    for i in net.running() {
        assert_eq!(
            net.metric(i, "outrigger_consensus_equivocations_total")
                .unwrap(),
            0.0,
            "node {i} saw a double sign"
        );
    }
}

/// A fresh full node joins a chain of `OUTRIGGER_SYNC_BLOCKS` blocks (1000
/// by default) and syncs to the tip, blaming none of its peers for the
/// gossip of heights ahead of it; prints blocks/s.
#[test]
fn a_new_full_node_syncs_a_long_chain() {
    let blocks: u64 = std::env::var("OUTRIGGER_SYNC_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let mut net = TestNet::start(dir.path(), 4, 0).unwrap();
    net.wait_all(blocks, Duration::from_secs(600)).unwrap();
    // The head before the full node starts: every status it then gets is
    // at least this (read after the start, at block time 0 the head has
    // moved on past what the first statuses said).
    let target = net.head(0).unwrap();
    let started = Instant::now();
    let full = net.add_full_node().unwrap();
    // While it catches up, eth_syncing says from where, where and to where.
    let mut progress = None;
    while progress.is_none() && net.head(full).unwrap() + 20 < target {
        let syncing = rpc(net.node(full).rpc, "eth_syncing", json!([])).unwrap();
        if syncing != json!(false) {
            progress = Some(syncing);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let progress = progress.expect("eth_syncing never showed the sync");
    let field = |name: &str| quantity(&progress[name]).unwrap();
    assert!(
        field("startingBlock") <= field("currentBlock"),
        "{progress}"
    );
    assert!(field("highestBlock") >= target, "{progress}");
    net.node(full)
        .wait_for_block(target, Duration::from_secs(300))
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "full node synced {target} blocks in {elapsed:.1} s: {:.0} blocks/s (process start included)",
        target as f64 / elapsed
    );
    net.assert_agree(target.min(50)).unwrap();
    // Behind the chain, it hears the validators' votes and proposals of
    // heights far ahead of its own: honest traffic, never held against
    // them (it used to be counted as a flood of stale messages, and a node
    // far enough behind a fast chain banned every validator and stalled).
    let output = net.node(full).output();
    let blamed: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("peer banned") || l.contains("floods copies or stale"))
        .collect();
    assert!(
        blamed.is_empty(),
        "the full node blamed honest validators:\n{}",
        blamed.join("\n")
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while rpc(net.node(full).rpc, "eth_syncing", json!([])).unwrap() != json!(false) {
        assert!(Instant::now() < deadline, "still syncing after catching up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A peer that floods a validator with garbage and oversized messages on
/// every gossip topic and on block sync is banned, and the chain goes on.
#[test]
fn a_garbage_peer_is_banned_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::start(dir.path(), 4, 200).unwrap();
    net.wait_all(2, Duration::from_secs(60)).unwrap();
    let garbage = outrigger_tests::node_process::target_profile_dir().join("examples/p2p_garbage");
    assert!(garbage.is_file(), "{} not built", garbage.display());
    let mut child = std::process::Command::new(garbage)
        .args(["1337", net.p2p_addr(0), "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let before = net.head(0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.metric(0, "outrigger_p2p_peers_banned_total").unwrap() < 1.0 {
        assert!(Instant::now() < deadline, "the garbage peer was not banned");
        std::thread::sleep(Duration::from_millis(100));
    }
    net.wait_all(before + 5, Duration::from_secs(30)).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        net.metric(0, "outrigger_p2p_rejected_messages_total")
            .unwrap()
            > 0.0
    );
    net.assert_agree(before + 5).unwrap();
}

/// Starts `outrigger devnet` in `dir`; returns the process and its
/// `devnet.json` once written (the time to ready is printed).
fn start_devnet(dir: &std::path::Path, base: u16) -> (std::process::Child, serde_json::Value) {
    let json_path = dir.join("devnet.json");
    let _ = std::fs::remove_file(&json_path);
    let started = Instant::now();
    let mut child = spawn_devnet(dir, base);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !json_path.exists() {
        if Instant::now() > deadline {
            // Stop it and what it started (a signal would wait for its start
            // to end), then say how far it got.
            let _ = child.kill();
            let _ = child.wait();
            drop(KillUnder(dir.display().to_string()));
            let log = std::fs::read_to_string(dir.join("devnet.err")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            panic!("no devnet.json within 60 s; the end of its log:\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // devnet.json is written last, when everything runs.
    std::thread::sleep(Duration::from_millis(200));
    let devnet = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    eprintln!(
        "devnet ready (validators, L1, bridges, relayers) in {} ms",
        started.elapsed().as_millis()
    );
    (child, devnet)
}

/// Runs `outrigger devnet` in `dir` with its ports from `base`, its output
/// in `dir`'s `devnet.out` and `devnet.err`.
fn spawn_devnet(dir: &std::path::Path, base: u16) -> std::process::Child {
    std::process::Command::new(outrigger_tests::node_process::outrigger_binary())
        .args(["devnet", "--validators", "4", "--block-time-ms", "200"])
        .args(["--base-port", &base.to_string()])
        .arg("--data-dir")
        .arg(dir)
        .stdout(std::fs::File::create(dir.join("devnet.out")).unwrap())
        .stderr(std::fs::File::create(dir.join("devnet.err")).unwrap())
        .spawn()
        .unwrap()
}

/// Ctrl-C (SIGINT) the devnet; it must exit cleanly `within`.
fn ctrl_c(mut child: std::process::Child, within: Duration) {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "devnet ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "devnet exited with {status}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn url_addr(url: &serde_json::Value) -> std::net::SocketAddr {
    url.as_str()
        .unwrap()
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// `outrigger devnet`: four validators, an embedded L1, both bridges, four
/// relayers of threshold 3, described in `devnet.json`. ETH and the test
/// token deposited with `outrigger bridge` arrive on the sidechain and,
/// withdrawn, back on L1; `/health` and `outrigger status` report; no
/// private key or password is in any log, output or metrics; Ctrl-C stops
/// every process; started again on its folder, the devnet goes on with the
/// same chain and bridge.
#[test]
fn devnet_command_runs_a_bridged_chain_and_ctrl_c_stops_it() {
    use alloy_sol_types::SolCall as _;
    use outrigger_bridge::contracts::MockERC20;
    use outrigger_tests::bridge_env::{BridgeEnv, ether, send_tx, wait_for};

    let dir = tempfile::tempdir().unwrap();
    // RPC on base..base+3, p2p base+100.., metrics base+200.., L1 base+300,
    // relayer metrics base+310..: a range unlikely to be taken, different
    // for each run, and below the kernel's ephemeral ports (32768 up), which
    // every outgoing connection and every other test's free port come from.
    let base = 20_000 + (std::process::id() % 12_000) as u16;
    let (child, devnet) = start_devnet(dir.path(), base);
    assert_eq!(devnet["chain_id"], 1337);
    assert_eq!(devnet["validators"].as_array().unwrap().len(), 4);
    assert_eq!(devnet["accounts"].as_array().unwrap().len(), 10);
    assert_eq!(devnet["l1"]["chain_id"], 31337);
    assert_eq!(devnet["relayers"].as_array().unwrap().len(), 4);
    assert_eq!(devnet["tokens"][0]["symbol"], "ETH");
    assert_eq!(devnet["tokens"][0]["sidechain"], "native");
    assert_eq!(devnet["tokens"][1]["symbol"], "TEST");
    let rpcs: Vec<std::net::SocketAddr> = devnet["rpc"]
        .as_array()
        .unwrap()
        .iter()
        .map(url_addr)
        .collect();
    let l1 = url_addr(&devnet["l1"]["rpc"]);
    let parse = |v: &serde_json::Value| -> alloy_primitives::Address {
        v.as_str().unwrap().parse().unwrap()
    };
    let l1_token = parse(&devnet["tokens"][1]["l1"]);
    let sidechain_token = parse(&devnet["tokens"][1]["sidechain"]);
    let funded = &devnet["accounts"][0]["address"];
    // 10,000 ETH, as the test accounts get, on both chains.
    for addr in [rpcs[2], l1] {
        let balance = rpc(addr, "eth_getBalance", json!([funded, "latest"])).unwrap();
        assert_eq!(balance, "0x21e19e0c9bab2400000", "{addr}");
    }

    // A user bridges ETH and the test token with the CLI.
    let user: alloy_signer_local::PrivateKeySigner = devnet["accounts"][0]["private_key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let to = alloy_primitives::Address::repeat_byte(0xbe);
    send_tx(
        l1,
        31337,
        &user,
        Some(l1_token),
        MockERC20::mintCall {
            to: user.address(),
            amount: ether(100),
        }
        .abi_encode(),
        alloy_primitives::U256::ZERO,
    )
    .unwrap();
    let config = devnet["bridge_config"].as_str().unwrap();
    let key = format!("0x{}", alloy_primitives::hex::encode(user.to_bytes()));
    let l1_token_hex = devnet["tokens"][1]["l1"].as_str().unwrap().to_string();
    let bridge = |args: &[&str], to: alloy_primitives::Address| {
        let out = std::process::Command::new(outrigger_tests::node_process::outrigger_binary())
            .args(["bridge", "--config", config])
            .args(args)
            .args(["--to", &to.to_string(), "--private-key-env", "DEVNET_KEY"])
            .env("DEVNET_KEY", &key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    bridge(&["deposit", "--amount", "2"], to);
    bridge(&["deposit", "--amount", "5", "--token", &l1_token_hex], to);
    bridge(
        &["deposit", "--amount", "7", "--token", &l1_token_hex],
        user.address(),
    );
    let deposited = Instant::now();
    wait_for(
        "the deposits on the sidechain",
        Duration::from_secs(60),
        || {
            let eth = outrigger_tests::bridge_env::balance(rpcs[3], to)?;
            let token = BridgeEnv::token_balance(rpcs[3], sidechain_token, to)?;
            Ok((eth == ether(2) && token == ether(5)).then_some(()))
        },
    )
    .unwrap();
    eprintln!(
        "devnet deposits all arrived {} ms after the last deposit command returned",
        deposited.elapsed().as_millis()
    );
    // And back: ETH and TEST withdrawn from the sidechain arrive on L1.
    wait_for(
        "the user's TEST on the sidechain",
        Duration::from_secs(60),
        || {
            let token = BridgeEnv::token_balance(rpcs[0], sidechain_token, user.address())?;
            Ok((token == ether(7)).then_some(()))
        },
    )
    .unwrap();
    let l1_recipient = alloy_primitives::Address::repeat_byte(0xbf);
    bridge(&["withdraw", "--amount", "1"], l1_recipient);
    bridge(
        &["withdraw", "--amount", "3", "--token", &l1_token_hex],
        l1_recipient,
    );
    wait_for("the withdrawals on L1", Duration::from_secs(60), || {
        let eth = outrigger_tests::bridge_env::balance(l1, l1_recipient)?;
        let token = BridgeEnv::token_balance(l1, l1_token, l1_recipient)?;
        Ok((eth == ether(1) && token == ether(3)).then_some(()))
    })
    .unwrap();

    // Health and status, as an operator sees them.
    let validator_metrics: std::net::SocketAddr =
        format!("127.0.0.1:{}", base + 200).parse().unwrap();
    let (code, health) =
        outrigger_tests::node_process::http_get(validator_metrics, "/health").unwrap();
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!((code, &health["healthy"]), (200, &json!(true)), "{health}");
    assert!(health["peers"].as_u64().unwrap() >= 3, "{health}");
    // The relayer's queue drains once it has seen the withdrawals paid.
    let status = wait_for(
        "outrigger status to show a drained queue",
        Duration::from_secs(30),
        || {
            let out = std::process::Command::new(outrigger_tests::node_process::outrigger_binary())
                .args(["status", "--rpc", devnet["rpc"][1].as_str().unwrap()])
                .args(["--relayer-metrics", &format!("127.0.0.1:{}", base + 311)])
                .output()?;
            let status = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(status
                .contains("pending     deposits 0, withdrawals 0")
                .then_some(status))
        },
    )
    .unwrap();
    for line in [
        "chain id      1337",
        "sync          in step with its peers",
        "validators    4 in epoch",
    ] {
        assert!(status.contains(line), "no {line:?} in:\n{status}");
    }
    assert!(!status.contains("peers         0"), "{status}");

    let relayer_metrics: Vec<std::net::SocketAddr> = (0..4)
        .map(|i| format!("127.0.0.1:{}", base + 310 + i).parse().unwrap())
        .collect();
    // What leaves the processes: metrics now, logs and output after the run.
    let mut exposed = String::new();
    for i in 0..4 {
        let validator: std::net::SocketAddr =
            format!("127.0.0.1:{}", base + 200 + i).parse().unwrap();
        for addr in [validator, relayer_metrics[usize::from(i)]] {
            exposed += &outrigger_tests::node_process::http_get(addr, "/metrics")
                .unwrap()
                .1;
        }
    }
    ctrl_c(child, Duration::from_secs(30));
    for entry in walk(dir.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".log") || name.starts_with("devnet.") {
            exposed += &std::fs::read_to_string(&entry).unwrap_or_default();
        }
    }
    let exposed = exposed.to_lowercase();
    assert!(exposed.len() > 10_000, "too little output to judge");
    // No private key of the devnet's (validators' consensus and p2p keys,
    // relayers', deployers') and no keystore password appears anywhere.
    let mut secrets: Vec<String> = (0..4)
        .flat_map(|i| ["validator.key", "p2p.key"].map(|f| dir.path().join(format!("node{i}/{f}"))))
        .map(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .trim()
                .trim_start_matches("0x")
                .to_lowercase()
        })
        .collect();
    secrets.extend(
        [10, 11, 12, 13, 14, 30].map(|i| {
            alloy_primitives::hex::encode(outrigger_tests::testnet::dev_key(i).to_bytes())
        }),
    );
    assert_eq!(secrets.len(), 14);
    // The relayer keys looked for are the devnet's relayers'.
    let relayer = json!(outrigger_tests::testnet::dev_key(11).address());
    assert!(devnet["relayers"].as_array().unwrap().contains(&relayer));
    for secret in &secrets {
        assert_eq!(secret.len(), 64);
        assert!(!exposed.contains(secret.as_str()), "a private key leaked");
    }
    let password = std::fs::read_to_string(dir.path().join("relayer.pass")).unwrap();
    assert!(
        !exposed.contains(&password.to_lowercase()),
        "the relayer password leaked"
    );
    for addr in rpcs.iter().chain([&l1]) {
        assert!(
            rpc(*addr, "eth_blockNumber", json!([])).is_err(),
            "{addr} still serves"
        );
    }
    for addr in &relayer_metrics {
        assert!(
            outrigger_tests::node_process::http_get(*addr, "/metrics").is_err(),
            "relayer metrics at {addr} still served"
        );
    }

    // Again on the same folder: the same chain and bridge, the deposits kept.
    let (child, again) = start_devnet(dir.path(), base);
    assert_eq!(again["l1"]["bridge"], devnet["l1"]["bridge"]);
    assert_eq!(again["tokens"], devnet["tokens"]);
    assert_eq!(
        outrigger_tests::bridge_env::balance(rpcs[0], to).unwrap(),
        ether(2)
    );
    ctrl_c(child, Duration::from_secs(30));
}

/// Kills, when dropped, every process with `0` in its arguments: what a
/// test's devnet started, whatever became of the devnet itself.
struct KillUnder(String);

impl Drop for KillUnder {
    fn drop(&mut self) {
        for pid in outrigger_tests::bench::pids_with_arg(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// A signal to `outrigger devnet` while it is still starting (its
/// validators answer, the bridge is being set up) stops everything it
/// started, once the start is done; before, the signal ended the devnet
/// process at once and its validators and relayers ran on.
#[test]
fn a_devnet_interrupted_while_starting_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let needle = dir.path().display().to_string();
    let _cleanup = KillUnder(needle.clone());
    // Below the other devnet test's ports and the ephemeral range.
    let base = 8_000 + (std::process::id() % 11_000) as u16;
    let mut devnet = spawn_devnet(dir.path(), base);
    let rpc0 = std::net::SocketAddr::from(([127, 0, 0, 1], base));
    let deadline = Instant::now() + Duration::from_secs(60);
    while rpc(rpc0, "eth_chainId", json!([])).is_err() {
        assert!(
            devnet.try_wait().unwrap().is_none(),
            "the devnet exited before its first validator answered"
        );
        assert!(Instant::now() < deadline, "validator 0 silent for 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let was_ready = dir.path().join("devnet.json").exists();
    // Its start ends (bounded), then it stops and exits 0.
    ctrl_c(devnet, Duration::from_secs(90));
    let out = std::fs::read_to_string(dir.path().join("devnet.out")).unwrap_or_default();
    assert!(out.contains("SIGINT: stopping the devnet"), "{out}");
    // Its validators and relayers go with it (it waits for them).
    let left = outrigger_tests::bench::pids_with_arg(&needle);
    assert!(left.is_empty(), "still running: {left:?}");
    eprintln!("signalled with devnet.json written: {was_ready}");
}

/// A devnet whose start fails half-way (validator 1's key file is readable
/// by others, which the devnet refuses after starting validators 0 and 1)
/// stops what it had started, then exits with the error.
#[test]
fn a_devnet_that_fails_while_starting_leaves_nothing_running() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    let needle = dir.path().display().to_string();
    let _cleanup = KillUnder(needle.clone());
    let made = std::process::Command::new(outrigger_tests::node_process::outrigger_binary())
        .args(["genesis", "new", "--validators", "4", "--out"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(made.success());
    let key = dir.path().join("node1").join("validator.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Below the other devnet tests' ports.
    let base = 4_000 + (std::process::id() % 3_600) as u16;
    let mut devnet = spawn_devnet(dir.path(), base);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = devnet.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the devnet neither started nor failed in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = std::fs::read_to_string(dir.path().join("devnet.err")).unwrap_or_default();
    assert!(!status.success(), "{err}");
    assert!(err.contains("node1"), "{err}");
    assert!(!dir.path().join("devnet.json").exists());
    let left = outrigger_tests::bench::pids_with_arg(&needle);
    assert!(left.is_empty(), "still running: {left:?}");
}
