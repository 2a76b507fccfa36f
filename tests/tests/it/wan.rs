//! Four validators of real `outrigger` processes whose links go through a
//! userspace WAN ([`outrigger_tests::wan`]): each validator dials each other
//! one through a TCP proxy on 127.0.0.1 that stands for the link between
//! them. Bootnodes are the only addresses a node dials, so no link bypasses
//! its proxy; the partitions below would not hold if one did.
//!
//! How the network is modelled (no `netem` on these kernels): each link
//! gets a one-way delay between 50 and 150 ms (a repeatable spread over the
//! six links), each chunk of bytes `delay ± 20 ms` (uniform, order kept, as
//! TCP delivers), and 1% loss per 1448-byte segment. TCP turns a lost
//! segment into a retransmission, so a chunk with a lost segment is held
//! back 200–300 ms (a retransmission timeout) and the chunks behind it wait
//! too. A cut link closes its connections and refuses new ones.
//!
//! One closed-loop sender per validator sends a transfer to its own node's
//! RPC and waits for the receipt, then sends the next. Finality latency
//! (submitted → receipt) is counted in the phase in which the transaction
//! was submitted, so a transaction sent into a partition counts the wait for
//! the heal.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use outrigger_tests::{
    load::FinalityLoad,
    node_process::{quantity, rpc},
    testnet::TestNet,
    wan::{Conditions, Wan},
};
use serde_json::json;

const VALIDATORS: usize = 4;
const BLOCK_TIME_MS: u64 = 200;
/// After a heal, finality must be back within this.
const RESUME_WITHIN: Duration = Duration::from_secs(30);
/// After a heal, every link must be back within this: the longest bootnode
/// redial delay (30 s, plus up to 25% jitter) and a handshake. A node
/// redials with a delay that doubled during the partition, and when both
/// ends of a link redial at once each refuses the other's connection (one
/// connection per peer), so both wait again: a link can stay down much
/// longer than finality does (three of four validators suffice).
const MESH_WITHIN: Duration = Duration::from_secs(40);

const PHASES: [&str; 6] = [
    "loopback (through the proxies, no faults)",
    "WAN 50-150 ms ± 20 ms, 1% loss",
    "WAN, validator 3 cut off (1|3)",
    "WAN, after the 1|3 heal",
    "WAN, cut in halves (2|2)",
    "WAN, after the 2|2 heal",
];

/// The closed-loop senders, and where each phase began.
struct Load {
    /// When each phase began, and node 0's head then.
    marks: Vec<(Instant, u64)>,
    senders: FinalityLoad,
}

impl Load {
    fn start(net: &TestNet) -> Self {
        let nodes: Vec<usize> = (0..VALIDATORS).collect();
        Self {
            marks: Vec::new(),
            senders: FinalityLoad::start(net, &nodes, 0),
        }
    }

    fn enter(&mut self, net: &TestNet, phase: usize) {
        assert_eq!(phase, self.marks.len(), "phases in order");
        println!("-- {}", PHASES[phase]);
        self.marks.push((Instant::now(), net.head(0).unwrap()));
        self.senders.enter(phase);
    }

    /// Stops the senders (each finishes its transaction) and prints, per
    /// phase, its length, blocks finalized and finality latency; returns
    /// the latencies of each phase, sorted.
    fn finish(mut self, net: &TestNet) -> Vec<Vec<Duration>> {
        self.marks.push((Instant::now(), net.head(0).unwrap()));
        let by_phase = self.senders.finish(PHASES.len()).unwrap();
        println!(
            "finality (submitted → receipt; a transaction counts in the phase it was submitted in), \
             {VALIDATORS} validators, block time {BLOCK_TIME_MS} ms:"
        );
        println!(
            "  {:<42} {:>5} {:>7} {:>5} {:>8} {:>8} {:>8}",
            "phase", "s", "blocks", "txs", "p50 ms", "p99 ms", "max ms"
        );
        for (phase, latencies) in by_phase.iter().enumerate() {
            let (start, from) = self.marks[phase];
            let (end, to) = self.marks[phase + 1];
            let ms = |q: f64| {
                latencies
                    .get(((latencies.len().max(1) - 1) as f64 * q).round() as usize)
                    .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
            };
            println!(
                "  {:<42} {:>5.1} {:>7} {:>5} {:>8.0} {:>8.0} {:>8.0}",
                PHASES[phase],
                (end - start).as_secs_f64(),
                to - from,
                latencies.len(),
                ms(0.5),
                ms(0.99),
                ms(1.0),
            );
        }
        by_phase
    }
}

fn peers(net: &TestNet, node: usize) -> u64 {
    quantity(&rpc(net.node(node).rpc, "net_peerCount", json!([])).unwrap()).unwrap()
}

/// Waits until `node` has `expected` peers.
fn wait_peers(net: &TestNet, node: usize, expected: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let count = peers(net, node);
        if count == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {node} has {count} peers, expected {expected}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until every validator is connected to every other one.
fn wait_mesh(net: &TestNet, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    for node in 0..VALIDATORS {
        wait_peers(
            net,
            node,
            VALIDATORS as u64 - 1,
            deadline.saturating_duration_since(Instant::now()),
        );
    }
}

fn heads(net: &TestNet) -> Vec<u64> {
    (0..VALIDATORS).map(|i| net.head(i).unwrap()).collect()
}

/// Waits until every node in `nodes` has a head of at least `number`;
/// returns how long that took.
fn wait_heads(net: &TestNet, nodes: &[usize], number: u64, timeout: Duration) -> Duration {
    let started = Instant::now();
    for &i in nodes {
        let left = timeout.saturating_sub(started.elapsed());
        net.node(i)
            .wait_for_block(number, left)
            .unwrap_or_else(|e| panic!("node {i}: {e}"));
    }
    started.elapsed()
}

fn sleep(seconds: u64) {
    std::thread::sleep(Duration::from_secs(seconds));
}

/// Loopback, then WAN; under WAN a 1|3 partition (the majority goes on)
/// and a 2|2 one (nothing is finalized), each of about
/// `OUTRIGGER_WAN_PARTITION_S` seconds (10 by default), then healed:
/// finality is back within 30 s, every link within 40 s, and all
/// validators agree on the chain.
#[test]
fn validators_finalize_over_a_lossy_wan_and_resume_after_partitions_heal() {
    // About how long each partition lasts (10 s by default; at least 10).
    let partition_s: u64 = std::env::var("OUTRIGGER_WAN_PARTITION_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(10);
    let test_started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut wan = Wan::new(0x5eed).unwrap();
    let net = TestNet::start_routed(
        dir.path(),
        VALIDATORS,
        BLOCK_TIME_MS,
        &mut |from, to, listen| Ok(wan.proxy(from, to, listen)?),
    )
    .unwrap();
    let all: Vec<usize> = (0..VALIDATORS).collect();
    wait_heads(&net, &all, 2, Duration::from_secs(60));
    wait_mesh(&net, Duration::from_secs(10));
    let mut load = Load::start(&net);

    load.enter(&net, 0);
    let before = heads(&net)[0];
    sleep(12);
    let loopback_blocks = heads(&net)[0] - before;
    assert!(
        loopback_blocks >= 10,
        "{loopback_blocks} blocks on loopback"
    );

    // WAN: delays spread evenly over 50..=150 ms across the six links.
    load.enter(&net, 1);
    let links = wan.links();
    for (n, &(a, b)) in links.iter().enumerate() {
        let delay_ms = 50 + 100 * n as u64 / (links.len() as u64 - 1);
        println!("link {a}-{b}: {delay_ms} ms one way");
        wan.set(
            a,
            b,
            Conditions {
                delay: Duration::from_millis(delay_ms),
                jitter: Duration::from_millis(20),
                loss: 0.01,
                cut: false,
            },
        );
    }
    let before = heads(&net)[0];
    sleep(25);
    let wan_blocks = heads(&net)[0] - before;
    assert!(wan_blocks >= 10, "only {wan_blocks} blocks in 25 s of WAN");

    // 1|3: the majority goes on; validator 3 is alone and stops.
    load.enter(&net, 2);
    wan.partition(&[3]);
    wait_peers(&net, 3, 0, Duration::from_secs(5));
    for node in 0..3 {
        wait_peers(&net, node, 2, Duration::from_secs(5));
    }
    let cut = heads(&net);
    sleep(10);
    let during = heads(&net);
    assert!(
        during[0] >= cut[0] + 5,
        "the majority finalized {} blocks in 10 s",
        during[0] - cut[0]
    );
    sleep(partition_s.saturating_sub(10));
    // A height in flight at the cut may still be committed by validator 3.
    assert!(during[3] <= cut[3] + 1, "validator 3 finalized alone");
    load.enter(&net, 3);
    wan.heal();
    let healed = Instant::now();
    let target = heads(&net)[0];
    wait_heads(&net, &[3], target, RESUME_WITHIN);
    let caught_up = healed.elapsed();
    wait_mesh(&net, MESH_WITHIN.saturating_sub(healed.elapsed()));
    println!(
        "1|3: the majority finalized {} blocks in the first 10 s of the cut; after the heal \
         validator 3 caught up in {:.1} s, every link was back in {:.1} s",
        during[0] - cut[0],
        caught_up.as_secs_f64(),
        healed.elapsed().as_secs_f64()
    );
    sleep(8);

    // 2|2: no quorum on either side; nothing is finalized until the heal.
    load.enter(&net, 4);
    wan.partition(&[0, 1]);
    for node in 0..VALIDATORS {
        wait_peers(&net, node, 1, Duration::from_secs(5));
    }
    // A height in flight at the cut may still finish.
    std::thread::sleep(Duration::from_millis(1500));
    let halted = heads(&net);
    sleep(partition_s.saturating_sub(2).max(4));
    assert_eq!(heads(&net), halted, "finalized without a quorum");
    load.enter(&net, 5);
    wan.heal();
    let healed = Instant::now();
    let top = *halted.iter().max().unwrap();
    let resumed = wait_heads(&net, &all, top + 2, RESUME_WITHIN);
    wait_mesh(&net, MESH_WITHIN.saturating_sub(healed.elapsed()));
    println!(
        "2|2: halted at {halted:?}; after the heal every validator finalized 2 more blocks \
         in {:.1} s, every link was back in {:.1} s",
        resumed.as_secs_f64(),
        healed.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(12).saturating_sub(healed.elapsed()));

    let by_phase = load.finish(&net);
    assert!(
        by_phase[1].len() >= 20,
        "{} txs under WAN",
        by_phase[1].len()
    );

    // Every link carried its validators' traffic, the lossy ones with
    // retransmissions; all agree on one chain.
    for (a, b) in wan.links() {
        let stats = wan.stats(a, b);
        assert!(
            stats.connections.load(Ordering::Relaxed) >= 1,
            "link {a}-{b}"
        );
        assert!(
            stats.retransmits.load(Ordering::Relaxed) >= 1,
            "link {a}-{b}"
        );
    }
    let head = heads(&net).into_iter().min().unwrap();
    net.assert_agree(head).unwrap();
    println!(
        "head {head}, whole test {:.0} s",
        test_started.elapsed().as_secs_f64()
    );
}
