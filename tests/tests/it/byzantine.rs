//! A byzantine peer process (`outrigger-byzantine`, a real libp2p peer
//! speaking the real wire format) against real `outrigger` validators.
//!
//! Hostile peers (issue 11): a 4-validator chain under closed-loop load
//! (one sender per validator, latency = submitted → receipt) is measured
//! normally, then with the byzantine peer flooding gossip, replaying old
//! votes, sending votes signed by a non-validator, and answering block
//! sync with blocks whose certificates are bad, the last while a full node
//! syncs from scratch with the bad peer and one honest validator as its
//! only bootnodes. Each phase's peer has a fresh p2p identity and runs at
//! the lowest CPU priority (an attacker has its own machine). A second
//! run floods genuine votes of the current height, which pass every check.
//!
//! Equivocation (issue 9): on a proof-of-stake chain, validator 3's
//! process is replaced by the byzantine peer signing conflicting votes
//! with its key; the honest validators report the evidence, the staking
//! contract slashes and jails it, and the next epoch's set leaves it out.

use std::time::{Duration, Instant};

use alloy_primitives::{U256, keccak256};
use outrigger_tests::{
    byzantine::{ByzantinePeer, bans_of, metric, start_full_node},
    load::{FinalityLoad, quantile},
    node_process::rpc,
    testnet::{TestNet, dev_key},
};
use serde_json::{Value, json};

const BLOCK_TIME_MS: u64 = 200;
/// How long each phase's load runs.
const PHASE: Duration = Duration::from_secs(10);

/// One phase of a hostile-peer test.
struct Phase {
    name: &'static str,
    /// The byzantine peer's mode flags (none: the normal baseline).
    flags: &'static [&'static str],
    /// Whether every validator must ban the peer. A replayed vote is
    /// genuine and merely stale: validators ignore it (not forwarded, not
    /// verified, no penalty) as they ignore an honest laggard's, and
    /// nothing tells the two apart.
    banned: bool,
}

const NORMAL: Phase = Phase {
    name: "normal",
    flags: &[],
    banned: false,
};

fn heads(net: &TestNet, nodes: &[usize]) -> Vec<u64> {
    nodes.iter().map(|i| net.head(*i).unwrap()).collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn byzantine_args(
    net: &TestNet,
    to: &[usize],
    listen: Option<&str>,
    flags: &[&str],
) -> Vec<String> {
    let mut args = vec![
        "--chain-id".to_string(),
        "1337".into(),
        "--seconds".into(),
        "60".into(),
    ];
    for i in to {
        args.push("--bootnode".into());
        args.push(net.p2p_addr(*i).to_string());
    }
    if let Some(listen) = listen {
        args.push("--listen".into());
        args.push(listen.into());
    }
    args.extend(flags.iter().map(|f| f.to_string()));
    args
}

/// The validators that banned `peer`, with their reasons.
fn bans(net: &TestNet, peer: &ByzantinePeer) -> Vec<(usize, String)> {
    (0..4)
        .filter_map(|i| {
            let lines = bans_of(net.node(i), &peer.peer_id);
            Some((i, ban_reason(lines.first()?)))
        })
        .collect()
}

/// A counter summed over the validators.
fn total(net: &TestNet, name: &str) -> f64 {
    (0..4).map(|i| metric(net.node(i), name).unwrap()).sum()
}

/// The validators' counters a phase reports: gossip they rejected, gossip
/// they dropped with their engine's queue full, round timeouts.
const COUNTERS: [&str; 3] = [
    "outrigger_p2p_rejected_messages_total",
    "outrigger_p2p_dropped_events_total",
    "outrigger_consensus_timeouts_total",
];

#[test]
fn hostile_peers_are_banned_and_finality_holds() {
    hostile_phases(&[
        NORMAL,
        Phase {
            name: "flood",
            flags: &["--flood"],
            banned: true,
        },
        Phase {
            name: "replay",
            flags: &["--replay"],
            banned: false,
        },
        Phase {
            name: "forge",
            flags: &["--forge"],
            banned: true,
        },
        Phase {
            name: "bad-sync (+ full node syncing from scratch)",
            flags: &["--bad-sync"],
            banned: true,
        },
    ]);
}

/// Genuine votes of the current height re-published about a thousand times
/// a second, each a new gossip message: every one passes the checks, so
/// only their rate gives the sender away: the engine counts copies of
/// votes it holds (and messages of past heights) per peer and bans a peer
/// far above what rebroadcasts explain. Then votes of heights a million
/// ahead, which nothing checks: validators at the tip count them the same
/// way (a node that is behind would not).
#[test]
fn a_flood_of_genuine_votes_costs_the_sender() {
    hostile_phases(&[
        NORMAL,
        Phase {
            name: "flood of genuine current votes",
            flags: &["--flood-valid"],
            banned: true,
        },
        Phase {
            name: "flood of far-future votes",
            flags: &["--flood-future"],
            banned: true,
        },
    ]);
}

/// Runs a 4-validator chain under closed-loop load through `phases` (the
/// first the normal baseline), a fresh byzantine peer in each; prints the
/// figures; then fails for every phase whose finality p50 is over twice
/// the baseline's or whose peer should have been banned by every
/// validator and was not.
fn hostile_phases(phases: &[Phase]) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let net = TestNet::start(root, 4, BLOCK_TIME_MS).unwrap();
    net.wait_all(2, Duration::from_secs(60)).unwrap();
    let load = FinalityLoad::start(&net, &[0, 1, 2, 3], 0);
    let validators = [0, 1, 2, 3];
    let mut report = Vec::new();
    for (p, phase) in phases.iter().enumerate() {
        let counters_before = COUNTERS.map(|c| total(&net, c));
        let before = heads(&net, &validators);
        load.enter(p);
        let started = Instant::now();
        if phase.flags.is_empty() {
            std::thread::sleep(PHASE);
            let after = heads(&net, &validators);
            let counted = COUNTERS.map(|c| total(&net, c));
            println!(
                "{:<45} heads {before:?} -> {after:?}; rejected/dropped gossip, timeouts {:?}",
                phase.name,
                std::array::from_fn::<f64, 3, _>(|i| counted[i] - counters_before[i]),
            );
            continue;
        }
        let bad_sync = phase.flags.contains(&"--bad-sync");
        let listen = format!(
            "/ip4/127.0.0.1/tcp/{}",
            outrigger_tests::node_process::free_addr().port()
        );
        let peer = ByzantinePeer::start(
            &phase.name.replace(' ', "_"),
            &byzantine_args(
                &net,
                &validators,
                bad_sync.then_some(listen.as_str()),
                phase.flags,
            ),
            root,
        )
        .unwrap();
        let mut full = None;
        if bad_sync {
            // A fresh node whose only ways to the chain are the liar and
            // validator 0.
            let bootnodes = vec![
                format!("{listen}/p2p/{}", peer.peer_id),
                net.p2p_addr(0).to_string(),
            ];
            let node = start_full_node(&root.join("full"), &root.join("genesis.json"), &bootnodes)
                .unwrap();
            full = Some(node);
        }
        std::thread::sleep(PHASE.saturating_sub(started.elapsed()));
        let after = heads(&net, &validators);
        let banned = bans(&net, &peer);
        println!(
            "{:<45} heads {before:?} -> {after:?}; rejected/dropped gossip, timeouts {:?}; banned by validators {banned:?}; the peer delivered {} messages, answered {} sync requests, has {} peers at the end",
            phase.name,
            {
                let counted = COUNTERS.map(|c| total(&net, c));
                std::array::from_fn::<f64, 3, _>(|i| counted[i] - counters_before[i])
            },
            peer.stat("delivered").unwrap_or(0),
            peer.stat("sync_answers").unwrap_or(0),
            peer.stat("peers").unwrap_or(0),
        );
        assert!(
            after.iter().zip(&before).all(|(a, b)| a > b),
            "{}: the chain stopped: {before:?} -> {after:?}",
            phase.name
        );
        if let Some(full) = full {
            let target = net.head(0).unwrap();
            let synced = full.wait_for_block(target, Duration::from_secs(30));
            let full_bans = bans_of(&full, &peer.peer_id);
            println!(
                "  full node: {} to block {target} {:.1} s after it started; banned the liar: {:?}",
                if synced.is_ok() {
                    "synced"
                } else {
                    "NOT synced"
                },
                started.elapsed().as_secs_f64(),
                full_bans.first().map(|l| ban_reason(l))
            );
            synced.unwrap_or_else(|e| panic!("the full node did not sync: {e}\n{}", full.output()));
            for number in [1, target / 2, target] {
                let at = |addr| {
                    rpc(
                        addr,
                        "eth_getBlockByNumber",
                        json!([format!("{number:#x}"), false]),
                    )
                    .unwrap()["hash"]
                        .clone()
                };
                assert_eq!(
                    at(full.rpc),
                    at(net.node(0).rpc),
                    "the full node's block {number} is not the honest chain's"
                );
            }
            assert!(
                !full_bans.is_empty(),
                "the full node did not ban the liar:\n{}",
                full.output()
            );
        }
        if phase.flags.contains(&"--replay") {
            // Replayed votes are not new equivocations.
            for i in 0..4 {
                let evidence = rpc(net.node(i).rpc, "outrigger_evidence", json!([])).unwrap();
                assert_eq!(evidence, json!([]), "node {i} took a replay for evidence");
            }
        }
        if bad_sync {
            // The liar made the validators sync toward a head that does
            // not exist; once it is banned they must not stay "syncing".
            std::thread::sleep(Duration::from_secs(2));
            for i in 0..4 {
                let syncing = rpc(net.node(i).rpc, "eth_syncing", json!([])).unwrap();
                let (status, _) =
                    outrigger_tests::node_process::http_get(net.node(i).metrics, "/health")
                        .unwrap();
                println!("  validator {i}: eth_syncing {syncing}, /health {status}");
            }
        }
        report.push((phase, banned, peer.peer_id.clone()));
        drop(peer);
    }
    let latencies = load.finish(phases.len()).unwrap();
    println!("finality (submitted → receipt), 4 validators, block time {BLOCK_TIME_MS} ms:");
    for (phase, l) in phases.iter().zip(&latencies) {
        println!(
            "  {:<45} {:>4} txs  p50 {:>6.0} ms  p99 {:>6.0} ms",
            phase.name,
            l.len(),
            ms(quantile(l, 0.5)),
            ms(quantile(l, 0.99))
        );
    }
    // Every mode is judged before the test fails, so one mode's failure
    // does not hide another's.
    let mut failures = Vec::new();
    let normal = quantile(&latencies[0], 0.5);
    for (phase, l) in phases.iter().zip(&latencies).skip(1) {
        let p50 = quantile(l, 0.5);
        if l.is_empty() || p50 > normal * 2 {
            failures.push(format!(
                "{}: finality p50 {p50:?} ({} txs) is more than twice the normal {normal:?}",
                phase.name,
                l.len()
            ));
        }
    }
    for (phase, banned, peer_id) in &report {
        let by: Vec<usize> = banned.iter().map(|(i, _)| *i).collect();
        if phase.banned && by != [0, 1, 2, 3] {
            failures.push(format!(
                "{}: only validators {by:?} banned the byzantine peer {peer_id}",
                phase.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `reason=...` of a log line, without its colours.
fn ban_reason(line: &str) -> String {
    let plain: String = {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    plain
        .split("reason=")
        .nth(1)
        .and_then(|r| r.split(" ban_secs").next())
        .unwrap_or(&plain)
        .to_string()
}

/// The staking system contract.
const STAKING: &str = "0x0000000000000000000000000000000000001000";
/// Passphrase of the reporters' keystores.
const REPORTER_PASSWORD: &str = "reporter passphrase";

/// `stakeOf(key)` of the staking contract: (bonded wei, jailed).
fn stake_of(addr: std::net::SocketAddr, key: &str) -> eyre::Result<(U256, bool)> {
    let selector = &keccak256("stakeOf(bytes32)")[..4];
    let data = format!(
        "0x{}{}",
        alloy_primitives::hex::encode(selector),
        key.trim_start_matches("0x")
    );
    let out = rpc(
        addr,
        "eth_call",
        json!([{"to": STAKING, "data": data}, "latest"]),
    )?;
    let bytes = alloy_primitives::hex::decode(out.as_str().unwrap_or_default())?;
    eyre::ensure!(bytes.len() >= 96, "stakeOf returned {out}");
    Ok((
        U256::from_be_slice(&bytes[..32]),
        U256::from_be_slice(&bytes[64..96]) != U256::ZERO,
    ))
}

/// The public keys of `outrigger_validators`.
fn validator_keys(addr: std::net::SocketAddr) -> Vec<String> {
    let set = rpc(addr, "outrigger_validators", json!([])).unwrap();
    set["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["publicKey"].as_str().unwrap().to_lowercase())
        .collect()
}

/// Polls `check` every 100 ms until it gives a value, for at most `within`.
fn wait_for<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Gives node `i` a funded reporter account (dev account 5 + i) in a
/// keystore and the passphrase file, in its config.
fn add_reporter(root: &std::path::Path, i: usize) -> eyre::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = root.join(format!("node{i}"));
    alloy_signer_local::PrivateKeySigner::encrypt_keystore(
        &dir,
        &mut rand08::thread_rng(),
        dev_key(5 + i as u32).to_bytes(),
        REPORTER_PASSWORD,
        Some("reporter.json"),
    )?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("password"))?;
    std::io::Write::write_all(&mut file, format!("{REPORTER_PASSWORD}\n").as_bytes())?;
    let config = dir.join("node.toml");
    let text = std::fs::read_to_string(&config)?;
    eyre::ensure!(text.contains("[consensus]\n"), "no [consensus] in {text}");
    std::fs::write(
        &config,
        text.replace(
            "[consensus]\n",
            "[consensus]\nreporter_keystore = \"reporter.json\"\nkey_password_file = \"password\"\n",
        ),
    )?;
    Ok(())
}

#[test]
fn equivocating_validator_is_slashed_and_jailed() {
    const EPOCH_BLOCKS: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut net = TestNet::start_with(root, 4, BLOCK_TIME_MS, |genesis| {
        genesis["outrigger"]["consensus"] = json!("pos");
        genesis["outrigger"]["epochBlocks"] = json!(EPOCH_BLOCKS);
        Ok(())
    })
    .unwrap();
    let genesis: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("genesis.json")).unwrap()).unwrap();
    let offender = genesis["outrigger"]["validators"][3]["publicKey"]
        .as_str()
        .unwrap()
        .to_lowercase();
    net.wait_all(1, Duration::from_secs(60)).unwrap();
    // The honest validators get reporter accounts (their configs are
    // written at start), and validator 3's process gives way to the
    // byzantine peer signing with its key.
    for i in 0..4 {
        net.kill(i);
    }
    for i in 0..3 {
        add_reporter(root, i).unwrap();
        net.restart(i).unwrap();
    }
    let start = net.head(0).unwrap();
    assert!(validator_keys(net.node(0).rpc).contains(&offender));
    // Read before any report can land; judged after the evidence, so a
    // chain without the staking contract still shows how far it got.
    let stake_before = stake_of(net.node(0).rpc, &offender);
    let mut args = byzantine_args(&net, &[0, 1, 2], None, &["--equivocate"]);
    args.extend([
        "--validator-key".to_string(),
        root.join("node3/validator.key").display().to_string(),
        "--rpc".to_string(),
        net.node(0).rpc.to_string(),
    ]);
    let peer = ByzantinePeer::start("equivocate", &args, root).unwrap();
    let started = Instant::now();

    // Any honest validator may be the one holding both conflicting votes
    // while it is still at that height: the others may have decided it.
    let (holder, evidence) = wait_for(
        "evidence on an honest validator",
        Duration::from_secs(30),
        || {
            (0..3).find_map(|i| {
                let list = rpc(net.node(i).rpc, "outrigger_evidence", json!([])).ok()?;
                (!list.as_array()?.is_empty()).then_some((i, list))
            })
        },
    );
    let first = evidence[0]["evidence"].as_str().unwrap().to_lowercase();
    assert!(
        first.starts_with(&offender),
        "the evidence names {}, not validator 3 ({offender})",
        &first[..66]
    );
    println!(
        "evidence after {:.1} s: {} pieces on validator {holder}, first report {}",
        started.elapsed().as_secs_f64(),
        evidence.as_array().unwrap().len(),
        evidence[0]["report"]
    );
    let (bonded_before, jailed) = stake_before.unwrap();
    assert!(
        !jailed && bonded_before > U256::ZERO,
        "validator 3 starts bonded"
    );
    let (bonded_after, _) = wait_for("validator 3 jailed", Duration::from_secs(30), || {
        let (bonded, jailed) = stake_of(net.node(0).rpc, &offender).ok()?;
        jailed.then_some((bonded, jailed))
    });
    let jailed_at = net.head(0).unwrap();
    println!(
        "jailed at block {jailed_at} after {:.1} s: bonded {bonded_before} -> {bonded_after}",
        started.elapsed().as_secs_f64()
    );
    assert!(bonded_after < bonded_before, "validator 3 was not slashed");
    let left_at = wait_for(
        "validator 3 out of the set",
        Duration::from_secs(10 + EPOCH_BLOCKS),
        || (!validator_keys(net.node(0).rpc).contains(&offender)).then(|| net.head(0).unwrap()),
    );
    println!(
        "out of the set at block {left_at} (epochs of {EPOCH_BLOCKS}); byzantine peer signed {} votes",
        peer.stat("signed").unwrap_or(0)
    );
    assert!(left_at <= (jailed_at / EPOCH_BLOCKS + 2) * EPOCH_BLOCKS);
    // The chain goes on with the three honest validators.
    net.wait_all(left_at + 2 * EPOCH_BLOCKS, Duration::from_secs(30))
        .unwrap();
    net.assert_agree(left_at + 2 * EPOCH_BLOCKS).unwrap();
    assert!(net.head(0).unwrap() > start);
}
