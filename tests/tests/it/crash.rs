//! `kill -9` at random points while blocks are being committed: every
//! reopen finds the last fully committed block, never a half-written one,
//! and the chain continues from it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use alloy_primitives::keccak256;
use alloy_trie::{Nibbles, proof::verify_proof};
use outrigger_execution::{StoreConfig, trie::node::to_nibbles};
use outrigger_tests::{SENDERS, key, open_chain, recipient};

const ROUNDS: u64 = 12;
const TXS_PER_BLOCK: &str = "300";

/// Checks the flat state of `addresses` against the state root by proof:
/// flat records, trie nodes and header all agree.
fn check_consistent(dir: &std::path::Path, reported: u64) -> u64 {
    let chain = open_chain(dir, &StoreConfig::default()).expect("reopen after kill");
    let store = chain.store();
    let head = store.head().expect("read head").expect("genesis exists");
    assert!(
        head.number >= reported,
        "block {reported} was reported committed but head is {}",
        head.number
    );
    assert_eq!(
        store.block_hash(head.number).unwrap(),
        Some(head.hash_slow())
    );
    let body = store.body(head.number).unwrap().expect("head body");
    let receipts = store.receipts(head.number).unwrap().expect("head receipts");
    assert_eq!(body.transactions.len(), receipts.len());
    let mut addresses: Vec<_> = (1..=SENDERS).map(|n| key(n).address()).collect();
    addresses.extend((0..5).map(|i| recipient(head.number, i)));
    for address in addresses {
        let proof = store.state().proof(address, &[]).expect("proof");
        let account = proof.account.map(alloy_rlp::encode);
        assert!(
            head.number == 0 || account.is_some(),
            "account {address} missing at #{}",
            head.number
        );
        let key = Nibbles::from_nibbles(to_nibbles(keccak256(address).as_slice()));
        verify_proof(head.state_root, key, account, &proof.proof).unwrap_or_else(|e| {
            panic!(
                "state of {address} disagrees with root at #{}: {e}",
                head.number
            )
        });
    }
    head.number
}

#[test]
fn kill_nine_during_commits_never_leaves_a_half_written_block() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut head = 0;
    // A fixed schedule of kill delays, different in every round.
    let mut delay_ms: u64 = 150;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_outrigger-commit-loop"))
            .arg(dir.path())
            .arg(TXS_PER_BLOCK)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start commit loop");
        let stdout = child.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    l.strip_prefix("committed ")
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .last()
                .unwrap_or(0)
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        delay_ms = 150 + (delay_ms * 7919 + round * 104_729) % 900;
        child.kill().expect("kill -9");
        child.wait().expect("reap child");
        let reported = reader.join().expect("reader thread");
        let reopened = check_consistent(dir.path(), reported);
        assert!(reopened >= head, "head went back from {head} to {reopened}");
        head = reopened;
        assert!(Instant::now() < deadline, "crash test over its time budget");
    }
    assert!(head > 0, "the commit loop never committed a block");
}

/// The last `signed H R S` line a child printed before it was killed.
fn last_signed_line(
    stdout: std::process::ChildStdout,
) -> std::thread::JoinHandle<Option<(u64, u32, u8)>> {
    std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| {
                let mut words = l.strip_prefix("signed ")?.split(' ');
                Some((
                    words.next()?.parse().ok()?,
                    words.next()?.parse().ok()?,
                    words.next()?.parse().ok()?,
                ))
            })
            .last()
    })
}

/// `kill -9` at random points while a validator's WAL is appended to (and
/// now and then rewritten): every reopen holds at least the last signature
/// the child reported, its messages are all of that height and in order,
/// and signing goes on from there.
#[test]
fn kill_nine_during_wal_appends_never_loses_a_reported_signature() {
    use outrigger_consensus::wal::Wal;

    let dir = tempfile::tempdir().expect("temp dir");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut delay_ms: u64 = 40;
    let mut last = None;
    for round in 0..ROUNDS * 2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_outrigger-wal-loop"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start WAL loop");
        let reader = last_signed_line(child.stdout.take().expect("piped stdout"));
        std::thread::sleep(Duration::from_millis(delay_ms));
        delay_ms = 40 + (delay_ms * 7919 + round * 104_729) % 400;
        child.kill().expect("kill -9");
        child.wait().expect("reap child");
        let reported = reader.join().expect("reader thread");

        let wal = Wal::open(dir.path()).expect("the WAL reopens after kill -9");
        let record = wal.record();
        let signed = record
            .last_signed
            .map(|l| (l.height.0, l.round.0, l.step as u8));
        assert!(
            signed >= reported && signed >= last,
            "reopened at {signed:?}; the child reported {reported:?}, the run before ended at {last:?}"
        );
        let positions: Vec<(u64, u32, u8)> = record
            .messages
            .iter()
            .map(|m| {
                (
                    u64::from_be_bytes(m[..8].try_into().unwrap()),
                    u32::from_be_bytes(m[8..12].try_into().unwrap()),
                    m[12],
                )
            })
            .collect();
        assert!(
            positions.is_sorted(),
            "messages out of order: {positions:?}"
        );
        assert!(
            positions
                .iter()
                .all(|p| Some(p.0) == signed.map(|s| s.0) && Some(*p) <= signed),
            "messages {positions:?} do not belong to {signed:?}"
        );
        last = signed;
        assert!(Instant::now() < deadline, "crash test over its time budget");
    }
    let (height, ..) = last.expect("the WAL loop never signed");
    assert!(height > 1, "the WAL loop never got past its first height");
}
