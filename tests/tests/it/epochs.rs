//! Validator sets that change at epoch boundaries, on chains of real
//! `outrigger` processes driven by `outrigger validator` as an operator
//! would: under proof of stake a new validator registers, stakes, joins and
//! signs, and a genesis validator unstakes, leaves and withdraws; under
//! proof of authority the validators vote a member in and another out; a
//! fresh node syncs from genesis across three set changes. No halt: a
//! thread times every block and the largest gap is bounded.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use outrigger_tests::{
    node_process::{outrigger_binary, quantity, rpc},
    testnet::{TestNet, dev_key},
};
use serde_json::{Value, json};

/// Short epochs so that a test sees several.
const EPOCH_BLOCKS: u64 = 10;
const BLOCK_MS: u64 = 200;
/// Epochs between `unstake` and the stake being paid out by `withdraw`.
const UNBONDING_EPOCHS: u64 = 2;
/// One ether, the genesis stake of a power-1 validator.
const ETHER: u128 = 1_000_000_000_000_000_000;
/// The longest any block may take through the changes: a dead proposer
/// costs about 1.5 s with the test timeouts; a halt is far longer.
const GAP_MAX: Duration = Duration::from_secs(5);
/// Precommits a validator signed (it counts none while outside the set).
const PRECOMMITS: &str = "outrigger_consensus_signed_total{kind=\"precommit\"}";
/// How long a set change may take to show: one epoch is about 2.5 s.
const WAIT: Duration = Duration::from_secs(30);

/// The genesis edit: `mode`, short epochs, and the PoS unbonding period.
fn chain(mode: &'static str) -> impl FnOnce(&mut Value) -> eyre::Result<()> {
    move |genesis| {
        let section = &mut genesis["outrigger"];
        section["consensus"] = json!(mode);
        section["epochBlocks"] = json!(EPOCH_BLOCKS);
        section["pos"]["unbondingEpochs"] = json!(UNBONDING_EPOCHS);
        Ok(())
    }
}

fn outrigger(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(outrigger_binary())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `outrigger validator --rpc <node> ARGS`, as test account `operator`
/// (its key in an environment variable) when given.
fn validator_cli(net: &TestNet, node: usize, operator: Option<u32>, args: &[&str]) -> Output {
    let url = format!("http://{}", net.node(node).rpc);
    let mut all = vec!["validator", "--rpc", &url];
    all.extend_from_slice(args);
    let mut env = Vec::new();
    if let Some(index) = operator {
        all.extend_from_slice(&["--private-key-env", "OPERATOR_KEY"]);
        let secret = alloy_primitives::hex::encode(dev_key(index).to_bytes());
        env.push(("OPERATOR_KEY", secret));
    }
    outrigger(&all, &env)
}

/// [`validator_cli`] that must succeed; its output.
fn validator(net: &TestNet, node: usize, operator: Option<u32>, args: &[&str]) -> String {
    let output = validator_cli(net, node, operator, args);
    assert!(
        output.status.success(),
        "outrigger validator {args:?} failed:\n{}",
        text(&output)
    );
    text(&output)
}

/// A new validator key in `dir`: its file and public key (hex).
fn new_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(format!("{name}.key"));
    let output = outrigger(
        &["keys", "generate", "--key-file", file.to_str().unwrap()],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    (file.clone(), public_key(&file))
}

fn public_key(file: &Path) -> String {
    let output = outrigger(&["keys", "show", "--key-file", file.to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .to_lowercase()
}

/// The consensus key of genesis validator `index` (its folder from
/// `genesis new`).
fn genesis_key(root: &Path, index: usize) -> String {
    public_key(&root.join(format!("node{index}/validator.key")))
}

/// The block of the transaction whose hash `outrigger validator` printed.
fn tx_block(net: &TestNet, node: usize, printed: &str) -> u64 {
    receipt(net, node, printed)
        .get("blockNumber")
        .map(|n| quantity(n).unwrap())
        .unwrap()
}

fn receipt(net: &TestNet, node: usize, printed: &str) -> Value {
    let at = printed
        .find("transaction 0x")
        .unwrap_or_else(|| panic!("no transaction in {printed:?}"));
    let hash = &printed[at + "transaction ".len()..][..66];
    let receipt = rpc(
        net.node(node).rpc,
        "eth_getTransactionReceipt",
        json!([hash]),
    )
    .unwrap();
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    receipt
}

fn wei(value: &Value) -> u128 {
    u128::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn balance(net: &TestNet, node: usize, account: u32) -> u128 {
    let address = format!("{:#x}", dev_key(account).address());
    wei(&rpc(
        net.node(node).rpc,
        "eth_getBalance",
        json!([address, "latest"]),
    )
    .unwrap())
}

/// `outrigger_validators` of node `node`.
fn set(net: &TestNet, node: usize) -> Value {
    rpc(net.node(node).rpc, "outrigger_validators", json!([])).unwrap()
}

/// The power of `key` in `set`, if it is a member.
fn power_in(set: &Value, key: &str) -> Option<u64> {
    set["validators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["publicKey"].as_str().unwrap().eq_ignore_ascii_case(key))
        .map(|v| quantity(&v["power"]).unwrap())
}

/// Waits until node `node`'s current set gives `key` the power `wanted`
/// (`None`: not a member) and returns the epoch where it first did.
fn wait_power(net: &TestNet, node: usize, key: &str, wanted: Option<u64>) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = set(net, node);
        if power_in(&now, key) == wanted {
            return quantity(&now["epoch"]).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "key {key} did not get power {wanted:?} within {WAIT:?}: {now}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the running nodes have passed `blocks` more blocks.
fn go_on(net: &TestNet, node: usize, blocks: u64) {
    let head = net.head(node).unwrap();
    net.wait_all(head + blocks, WAIT).unwrap();
}

/// Waits until `metric` of node `node` is above zero.
/// The joined validator signs (its precommit counter moves), and its votes
/// count: with genesis validator 1 down, 4 of the 5 powers are a quorum only
/// with the joiner's; the chain goes on for an epoch, then 1 returns.
fn joiner_signs_and_counts(net: &mut TestNet, joiner: usize) {
    wait_metric(net, joiner, PRECOMMITS);
    let down = net.head(0).unwrap();
    net.kill(1);
    go_on(net, 0, EPOCH_BLOCKS);
    net.restart(1).unwrap();
    println!(
        "validator 1 down from block {down} to {}",
        net.head(0).unwrap()
    );
}

fn wait_metric(net: &TestNet, node: usize, metric: &str) -> f64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = net.metric(node, metric).unwrap();
        if value > 0.0 {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{metric} stayed 0 on node {node}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Records when each block first appears on one node, to find the longest
/// wait for a block.
struct BlockClock {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<(u64, Instant)>>,
}

/// What a [`BlockClock`] saw.
struct Gaps {
    blocks: u64,
    seconds: f64,
    /// The median wait for a block.
    median: Duration,
    /// The longest wait, and the block that ended it.
    longest: (Duration, u64),
    /// The wait for each epoch's first block.
    epoch_starts: Vec<(u64, Duration)>,
}

impl BlockClock {
    fn start(rpc_addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen: Vec<(u64, Instant)> = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(head) =
                    rpc(rpc_addr, "eth_blockNumber", json!([])).and_then(|h| quantity(&h))
                    && seen.last().is_none_or(|(last, _)| head > *last)
                {
                    seen.push((head, Instant::now()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        });
        Self { stop, thread }
    }

    fn finish(self) -> Gaps {
        self.stop.store(true, Ordering::Relaxed);
        let seen = self.thread.join().unwrap();
        let mut gaps = Gaps {
            blocks: 0,
            seconds: 0.0,
            median: Duration::ZERO,
            longest: (Duration::ZERO, 0),
            epoch_starts: Vec::new(),
        };
        if let (Some(first), Some(last)) = (seen.first(), seen.last()) {
            gaps.blocks = last.0 - first.0;
            gaps.seconds = (last.1 - first.1).as_secs_f64();
        }
        let mut all = Vec::new();
        for pair in seen.windows(2) {
            let ((_, before), (number, at)) = (pair[0], pair[1]);
            let gap = at - before;
            all.push(gap);
            if gap > gaps.longest.0 {
                gaps.longest = (gap, number);
            }
            if number % EPOCH_BLOCKS == 0 {
                gaps.epoch_starts.push((number, gap));
            }
        }
        all.sort();
        gaps.median = all.get(all.len() / 2).copied().unwrap_or_default();
        gaps
    }
}

impl Gaps {
    /// Prints the figures and checks that no block took `GAP_MAX`.
    fn report(&self, what: &str) {
        let epoch_starts: Vec<String> = self
            .epoch_starts
            .iter()
            .map(|(number, gap)| format!("#{number} {:.2} s", gap.as_secs_f64()))
            .collect();
        println!(
            "{what}: {} blocks in {:.1} s, median wait {:.2} s, longest {:.2} s (block {}); \
             waits for epochs' first blocks: {}",
            self.blocks,
            self.seconds,
            self.median.as_secs_f64(),
            self.longest.0.as_secs_f64(),
            self.longest.1,
            epoch_starts.join(", "),
        );
        assert!(self.blocks > 0, "{what}: no blocks seen");
        assert!(
            self.longest.0 < GAP_MAX,
            "{what}: block {} took {:?}",
            self.longest.1,
            self.longest.0
        );
    }
}

/// Proof of stake: a validator that is not in genesis registers and stakes
/// through the CLI, is in the set from the next epoch and its votes count
/// (with a genesis validator down, the chain needs them); a genesis
/// validator unstakes all, leaves at the following epoch and, after the
/// unbonding epochs and not before, `withdraw` pays its stake back.
/// `validator status --key` tells each stage.
#[test]
fn pos_a_staked_validator_joins_and_signs_and_an_unstaked_one_leaves_and_withdraws() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut net = TestNet::start_with(root, 4, BLOCK_MS, chain("pos")).unwrap();
    net.wait_all(2, Duration::from_secs(60)).unwrap();
    let clock = BlockClock::start(net.node(0).rpc);
    let genesis_set = set(&net, 0);
    assert_eq!(genesis_set["mode"], "pos");
    assert_eq!(
        genesis_set["contract"],
        "0x0000000000000000000000000000000000001000"
    );
    assert_eq!(quantity(&genesis_set["epochBlocks"]).unwrap(), EPOCH_BLOCKS);
    assert_eq!(quantity(&genesis_set["totalPower"]).unwrap(), 4);
    // PoA's commands are refused on a PoS chain, before any transaction.
    let refused = validator_cli(&net, 0, Some(0), &["vote", "--proposal", "1"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("is for poa chains; this chain is pos"),
        "{}",
        text(&refused)
    );

    // A new validator: its key, its node, its operator (test account 4).
    let (key_file, key) = new_key(root, "joiner");
    let operator = format!("{}", dev_key(4).address());
    let joiner = net.add_validator_node(&key_file, BLOCK_MS).unwrap();
    let status = validator(&net, 0, None, &["status", "--key", &key]);
    assert!(status.contains("mode pos, epoch "), "{status}");
    assert!(
        status.contains(&format!("({EPOCH_BLOCKS} blocks each, next at block ")),
        "{status}"
    );
    assert!(status.contains("4 validators, total power 4"), "{status}");
    assert!(status.contains("not in the current set"), "{status}");
    let out = validator(
        &net,
        0,
        Some(4),
        &["register", "--validator-key", key_file.to_str().unwrap()],
    );
    assert!(
        out.contains(&format!(
            "registered validator {key} to operator {operator}"
        )),
        "{out}"
    );
    let status = validator(&net, 0, None, &["status", "--key", &key]);
    assert!(status.contains(&format!("operator {operator}")), "{status}");
    assert!(status.contains("bonded 0.0"), "{status}");
    assert_eq!(
        net.metric(joiner, "outrigger_consensus_signed_total")
            .unwrap(),
        0.0,
        "a registered validator without stake signed"
    );
    let out = validator(&net, 0, Some(4), &["stake", "--amount", "1"]);
    let staked_at = tx_block(&net, 0, &out);
    let joined = wait_power(&net, 0, &key, Some(1));
    assert_eq!(
        joined,
        staked_at / EPOCH_BLOCKS + 1,
        "staked in block {staked_at}, joined in epoch {joined}"
    );
    println!("staked in block {staked_at}; in the set from epoch {joined}");
    let status = validator(&net, 0, None, &["status", "--key", &key]);
    assert!(status.contains("5 validators, total power 5"), "{status}");
    assert!(status.contains("bonded 1.0"), "{status}");
    assert!(status.contains(", in the current set"), "{status}");
    joiner_signs_and_counts(&mut net, joiner);

    // Genesis validator 3 (operator: test account 3) unstakes everything.
    let leaver = genesis_key(root, 3);
    let out = validator(&net, 0, Some(3), &["unstake", "--amount", "1"]);
    let unstaked_at = tx_block(&net, 0, &out);
    let left = wait_power(&net, 0, &leaver, None);
    assert_eq!(
        left,
        unstaked_at / EPOCH_BLOCKS + 1,
        "unstaked in block {unstaked_at}, left in epoch {left}"
    );
    println!("unstaked in block {unstaked_at}; out of the set from epoch {left}");
    let status = validator(&net, 0, None, &["status", "--key", &leaver]);
    assert!(
        status.contains("bonded 0.0") && status.contains("unbonding 1.0"),
        "{status}"
    );
    assert!(status.contains("not in the current set"), "{status}");
    // Too early: during the unbonding epochs a withdrawal is refused
    // before any transaction is sent.
    let before = balance(&net, 0, 3);
    let early = validator_cli(&net, 0, Some(3), &["withdraw"]);
    assert!(
        !early.status.success(),
        "withdrew during the unbonding period: {}",
        text(&early)
    );
    assert_eq!(balance(&net, 0, 3), before);
    // The set no longer needs its process.
    net.kill(3);
    go_on(&net, 0, EPOCH_BLOCKS);

    // After the unbonding epochs it pays the stake back.
    let released = unstaked_at / EPOCH_BLOCKS + UNBONDING_EPOCHS + 1;
    let deadline = Instant::now() + WAIT;
    while quantity(&set(&net, 0)["epoch"]).unwrap() < released {
        assert!(Instant::now() < deadline, "epoch {released} never came");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = balance(&net, 0, 3);
    let out = validator(&net, 0, Some(3), &["withdraw"]);
    let receipt = receipt(&net, 0, &out);
    let fee = wei(&receipt["gasUsed"]) * wei(&receipt["effectiveGasPrice"]);
    assert_eq!(balance(&net, 0, 3), before + ETHER - fee, "{out}");
    let status = validator(&net, 0, None, &["status", "--key", &leaver]);
    assert!(status.contains("unbonding 0.0"), "{status}");

    go_on(&net, 0, 2);
    clock.finish().report("PoS join and leave");
    let head = net.head(0).unwrap();
    net.wait_all(head, WAIT).unwrap();
    net.assert_agree(head).unwrap();
}

/// The proposal id `outrigger validator propose` printed.
fn proposal_id(printed: &str) -> String {
    printed
        .split("proposal ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no proposal id in {printed:?}"))
        .to_string()
}

/// Proof of authority: one operator proposes a new validator, a second
/// vote (2 of 4) does not pass it even across an epoch end, a third does;
/// it joins at the next epoch and its votes count. Then removing a genesis
/// validator takes 4 of the 5 (3 do not pass); it leaves at the next epoch
/// and the chain goes on without its process. An account that operates no
/// validator cannot vote.
#[test]
fn poa_validators_vote_a_member_in_and_another_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut net = TestNet::start_with(root, 4, BLOCK_MS, chain("poa")).unwrap();
    net.wait_all(2, Duration::from_secs(60)).unwrap();
    let clock = BlockClock::start(net.node(0).rpc);
    assert_eq!(set(&net, 0)["mode"], "poa");

    let (key_file, key) = new_key(root, "joiner");
    let operator = format!("{}", dev_key(5).address());
    let joiner = net.add_validator_node(&key_file, BLOCK_MS).unwrap();
    let out = validator(
        &net,
        0,
        Some(0),
        &["propose", "--add", &key, "--new-operator", &operator],
    );
    let add = proposal_id(&out);
    let stranger = validator_cli(&net, 0, Some(6), &["vote", "--proposal", &add]);
    assert!(
        !stranger.status.success(),
        "an account that operates no validator voted:\n{}",
        text(&stranger)
    );
    let out = validator(&net, 0, Some(1), &["vote", "--proposal", &add]);
    assert!(out.contains("yes power so far 2"), "{out}");
    // Two of four is not more than two thirds: an epoch ends, no change.
    let next = quantity(&set(&net, 0)["nextEpochBlock"]).unwrap();
    net.node(0).wait_for_block(next + 1, WAIT).unwrap();
    assert_eq!(power_in(&set(&net, 0), &key), None, "passed with 2 of 4");
    assert_eq!(
        net.metric(joiner, "outrigger_consensus_signed_total")
            .unwrap(),
        0.0,
        "signed before it was voted in"
    );
    let out = validator(&net, 0, Some(2), &["vote", "--proposal", &add]);
    assert!(
        out.contains("it passed and applies at the next epoch"),
        "{out}"
    );
    let passed_at = tx_block(&net, 0, &out);
    let joined = wait_power(&net, 0, &key, Some(1));
    assert_eq!(
        joined,
        passed_at / EPOCH_BLOCKS + 1,
        "passed in block {passed_at}, joined in epoch {joined}"
    );
    println!("voted in at block {passed_at}; in the set from epoch {joined}");
    let status = validator(&net, 0, None, &["status", "--key", &key]);
    assert!(status.contains("mode poa"), "{status}");
    assert!(status.contains("5 validators, total power 5"), "{status}");
    assert!(
        status.contains(&format!("operator {operator}")) && status.contains(", in the current set"),
        "{status}"
    );
    joiner_signs_and_counts(&mut net, joiner);

    // Removing genesis validator 3: the set is 5 now, 3 votes are not enough.
    let leaver = genesis_key(root, 3);
    let out = validator(&net, 0, Some(0), &["propose", "--remove", &leaver]);
    let remove = proposal_id(&out);
    assert_ne!(remove, add);
    validator(&net, 0, Some(1), &["vote", "--proposal", &remove]);
    let out = validator(&net, 0, Some(2), &["vote", "--proposal", &remove]);
    assert!(out.contains("yes power so far 3"), "{out}");
    let next = quantity(&set(&net, 0)["nextEpochBlock"]).unwrap();
    net.node(0).wait_for_block(next + 1, WAIT).unwrap();
    assert_eq!(
        power_in(&set(&net, 0), &leaver),
        Some(1),
        "removed with 3 of 5"
    );
    // The new member's operator casts the fourth vote.
    let out = validator(&net, 0, Some(5), &["vote", "--proposal", &remove]);
    assert!(
        out.contains("it passed and applies at the next epoch"),
        "{out}"
    );
    let passed_at = tx_block(&net, 0, &out);
    let left = wait_power(&net, 0, &leaver, None);
    assert_eq!(
        left,
        passed_at / EPOCH_BLOCKS + 1,
        "passed in block {passed_at}, left in epoch {left}"
    );
    println!("voted out at block {passed_at}; out of the set from epoch {left}");
    let status = validator(&net, 0, None, &["status", "--key", &leaver]);
    assert!(status.contains("not in the current set"), "{status}");
    net.kill(3);
    go_on(&net, 0, EPOCH_BLOCKS);

    clock.finish().report("PoA add and remove");
    let head = net.head(0).unwrap();
    net.wait_all(head, WAIT).unwrap();
    net.assert_agree(head).unwrap();
}

/// Three set changes under proof of stake (a validator joins; it stakes
/// more, so that from then on no certificate is valid without its
/// signature; a genesis validator leaves), then a full node starts from
/// genesis: it checks every certificate against the set of its epoch,
/// learnt from the blocks it imports, reaches the head and agrees.
#[test]
fn a_fresh_node_syncs_from_genesis_across_three_set_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut net = TestNet::start_with(root, 4, BLOCK_MS, chain("pos")).unwrap();
    net.wait_all(2, Duration::from_secs(60)).unwrap();
    let clock = BlockClock::start(net.node(0).rpc);
    let (key_file, key) = new_key(root, "joiner");
    net.add_validator_node(&key_file, BLOCK_MS).unwrap();

    let key_arg = key_file.to_str().unwrap();
    validator(&net, 0, Some(4), &["register", "--validator-key", key_arg]);
    validator(&net, 0, Some(4), &["stake", "--amount", "1"]);
    let first = wait_power(&net, 0, &key, Some(1));
    // Power 3 of 7: a quorum (5) needs the joiner.
    validator(&net, 0, Some(4), &["stake", "--amount", "2"]);
    let second = wait_power(&net, 0, &key, Some(3));
    let leaver = genesis_key(root, 3);
    validator(&net, 0, Some(3), &["unstake", "--amount", "1"]);
    let third = wait_power(&net, 0, &leaver, None);
    assert!(first < second && second < third, "{first} {second} {third}");
    assert_eq!(quantity(&set(&net, 0)["totalPower"]).unwrap(), 6);
    println!("set changes at epochs {first}, {second} and {third}");
    // A longer chain after the changes, so the sync rate means something.
    let head = net.head(0).unwrap();
    net.wait_all(head.max(8 * EPOCH_BLOCKS - 3) + 3, Duration::from_secs(60))
        .unwrap();
    clock.finish().report("three set changes");

    let target = net.head(0).unwrap();
    let started = Instant::now();
    let full = net.add_full_node().unwrap();
    net.node(full).wait_for_block(target, WAIT).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "full node synced {target} blocks ({} epochs, 3 set changes) in {elapsed:.1} s: {:.0} blocks/s (process start included)",
        target / EPOCH_BLOCKS,
        target as f64 / elapsed
    );
    assert!(net.metric(full, "outrigger_sync_blocks_total").unwrap() > 0.0);
    net.assert_agree(target).unwrap();
    // It knows the current set as the validators do.
    let known = set(&net, full);
    assert_eq!(power_in(&known, &key), Some(3), "{known}");
    assert_eq!(power_in(&known, &leaver), None, "{known}");
    // And follows the chain on.
    go_on(&net, 0, 3);
}
