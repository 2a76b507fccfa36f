//! Finality under load: a 4-validator chain of real processes on
//! 127.0.0.1; `--senders` accounts each send a transfer to a random node's
//! RPC and wait for its receipt, then send the next (closed loop), for
//! `--seconds`. Prints finality latency (submitted → receipt) p50/p99 and
//! finalized transactions per second.
//!
//!   cargo run --release -p outrigger-tests --bin outrigger-finality-bench -- --seconds 30
//!
//! (Build the `outrigger` binary of the same profile first.)

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy_primitives::Address;
use outrigger_tests::{
    node_process::rpc,
    testnet::{TestNet, dev_key, signed_transfer},
};
use serde_json::json;

fn flag(args: &[String], name: &str, default: u64) -> eyre::Result<u64> {
    match args.iter().position(|a| a == name) {
        Some(i) => Ok(args
            .get(i + 1)
            .ok_or_else(|| eyre::eyre!("{name} needs a value"))?
            .parse()?),
        None => Ok(default),
    }
}

fn main() -> eyre::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = flag(&args, "--seconds", 20)?;
    let senders = flag(&args, "--senders", 10)?.clamp(1, 10) as u32;
    let block_time_ms = flag(&args, "--block-time-ms", 200)?;
    let dir = tempfile::tempdir()?;
    let net = TestNet::start(dir.path(), 4, block_time_ms)?;
    net.wait_all(2, Duration::from_secs(60))?;
    let rpcs: Vec<_> = (0..4).map(|i| net.node(i).rpc).collect();
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..senders)
        .map(|s| {
            let latencies = latencies.clone();
            let rpcs = rpcs.clone();
            std::thread::spawn(move || -> eyre::Result<()> {
                let key = dev_key(s);
                let to = Address::repeat_byte(0x10 + s as u8);
                let mut nonce = 0u64;
                while Instant::now() < deadline {
                    let node = rpcs[(nonce as usize + s as usize) % rpcs.len()];
                    let raw = signed_transfer(&key, nonce, to);
                    let sent = Instant::now();
                    let hash = rpc(node, "eth_sendRawTransaction", json!([raw]))?;
                    loop {
                        let receipt = rpc(node, "eth_getTransactionReceipt", json!([hash]))?;
                        if !receipt.is_null() {
                            break;
                        }
                        if sent.elapsed() > Duration::from_secs(60) {
                            eyre::bail!("no receipt for {hash} after 60 s");
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    latencies
                        .lock()
                        .map_err(|_| eyre::eyre!("poisoned"))?
                        .push(sent.elapsed());
                    nonce += 1;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| eyre::eyre!("a sender panicked"))??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = latencies
        .lock()
        .map_err(|_| eyre::eyre!("poisoned"))?
        .clone();
    latencies.sort();
    if latencies.is_empty() {
        eyre::bail!("no transaction finalized");
    }
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "4 validators, block time {block_time_ms} ms, {senders} closed-loop senders, {elapsed:.1} s: \
         {} txs finalized, {:.1} tx/s, finality p50 {:.0} ms, p99 {:.0} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}
