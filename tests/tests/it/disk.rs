//! A full disk: the node's data dir on a small tmpfs the test mounts fills
//! up while blocks carry large transactions. The node must stop cleanly with
//! a clear log line, the database must not be corrupt, and once space is
//! freed a restart continues from the last committed block.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use outrigger_tests::{
    node_process::{NodeProcess, quantity, rpc},
    testnet::dev_key,
};
use serde_json::json;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &std::path::Path, megabytes: u64) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a tmpfs failed (the test needs root, as CI runs)"
        );
        Self(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A transfer from test account `sender` carrying `size` random
/// (incompressible) bytes of calldata.
fn bulky_tx(sender: u32, nonce: u64, size: usize) -> String {
    let key = dev_key(sender);
    let seed = u64::from(sender) << 32 | nonce;
    let input: Vec<u8> = (0..size.div_ceil(32) as u64)
        .flat_map(|word| keccak256([seed.to_be_bytes(), word.to_be_bytes()].concat()).0)
        .take(size)
        .map(|byte| byte | 1)
        .collect();
    let tx = TxEip1559 {
        chain_id: outrigger_tests::CHAIN_ID,
        nonce,
        // Prague's calldata floor: 40 gas a non-zero byte.
        gas_limit: 21_000 + 40 * size as u64 + 10_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x44)),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(input),
    };
    outrigger_tests::raw_hex(&key, tx)
}

#[test]
fn a_full_disk_stops_the_node_cleanly_and_a_restart_continues() {
    assert!(
        is_root(),
        "this test mounts a tmpfs: run it as root (CI does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("fs"), 160);
    let data = fs.0.join("data");
    let data_arg = data.to_str().unwrap().to_string();
    let args = ["--dev", "--data-dir", &data_arg, "--block-time-ms", "100"];
    let node = NodeProcess::start(&args, dir.path()).unwrap();
    node.wait_for_block(2, Duration::from_secs(30)).unwrap();
    // Leave about 3 MB free.
    let free = free_bytes(&fs.0);
    let filler = fs.0.join("filler");
    std::fs::write(&filler, vec![0u8; (free - 3 * 1024 * 1024) as usize]).unwrap();

    let mut last_seen = 0;
    let mut nonces = [0u64; 10];
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut node = node;
    let status = loop {
        if let Some(status) = node.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let log = node.output();
            panic!(
                "the node never stopped on a full disk: head {last_seen}, {nonces:?} sent, {} bytes free\n{}",
                free_bytes(&fs.0),
                &log[log.len().saturating_sub(3000)..]
            );
        }
        if let Ok(head) = rpc(node.rpc, "eth_blockNumber", json!([])) {
            last_seen = last_seen.max(quantity(&head).unwrap());
        }
        // Keep bulky transactions from ten senders in the pool: about
        // 3 MB a block, so RocksDB's write-ahead log outgrows what it
        // preallocated within seconds.
        for (sender, nonce) in nonces.iter_mut().enumerate() {
            let sender = sender as u32;
            let mined = rpc(
                node.rpc,
                "eth_getTransactionCount",
                json!([dev_key(sender).address(), "latest"]),
            )
            .ok()
            .map(|n| quantity(&n).unwrap());
            let Some(mined) = mined else { break };
            while *nonce < mined + 6 {
                let _ = rpc(
                    node.rpc,
                    "eth_sendRawTransaction",
                    json!([bulky_tx(sender, *nonce, 120_000)]),
                );
                *nonce += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "the node must exit with an error");
    let log = std::fs::read_to_string(&node.log).unwrap();
    assert!(
        log.contains("No space left on device") && log.contains("the store failed"),
        "a clear log line names the cause:\n{}",
        &log[log.len().saturating_sub(3000)..]
    );
    assert!(
        last_seen >= 3,
        "blocks were committed before the disk filled"
    );
    drop(node);

    // Space back: the node restarts on the same database, at or past the
    // last block it reported, and goes on.
    std::fs::remove_file(&filler).unwrap();
    let node = NodeProcess::start(&args, dir.path()).unwrap();
    let head = quantity(&rpc(node.rpc, "eth_blockNumber", json!([])).unwrap()).unwrap();
    assert!(
        head >= last_seen,
        "restarted at {head}, but {last_seen} was reported"
    );
    let block = rpc(
        node.rpc,
        "eth_getBlockByNumber",
        json!([format!("{head:#x}"), true]),
    )
    .unwrap();
    assert_eq!(block["number"], json!(format!("{head:#x}")));
    node.wait_for_block(head + 3, Duration::from_secs(30))
        .unwrap();
    eprintln!("disk filled at block {last_seen}; restarted at {head} and continued");
}

/// Free bytes on the filesystem of `path` (`df`'s view).
fn free_bytes(path: &std::path::Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df prints the free bytes")
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}
