//! A closed-loop transaction load for multi-node tests: one sender per
//! node sends a transfer, waits for its receipt and sends the next, and the
//! latency (submitted → receipt, finality on these chains) counts in the
//! test phase it was submitted in.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alloy_primitives::Address;
use eyre::{bail, eyre};
use serde_json::json;

use crate::{
    node_process::rpc,
    testnet::{TestNet, dev_key, signed_transfer},
};

/// How long a sender waits for one receipt before it fails.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Closed-loop senders, one per validator: each sends a transfer to its
/// node's RPC, waits for the receipt, sends the next. Each latency
/// (submitted → receipt) counts in the phase it was submitted in.
pub struct FinalityLoad {
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(usize, Duration)>>>,
    senders: Vec<JoinHandle<eyre::Result<()>>>,
}

impl FinalityLoad {
    /// Starts a sender for each of `nodes`, from dev account `first_key + i`.
    pub fn start(net: &TestNet, nodes: &[usize], first_key: u32) -> Self {
        let phase = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let senders = nodes
            .iter()
            .enumerate()
            .map(|(i, &node)| {
                let rpc_addr = net.node(node).rpc;
                let (phase, stop, samples) = (phase.clone(), stop.clone(), samples.clone());
                std::thread::spawn(move || -> eyre::Result<()> {
                    let key = dev_key(first_key + i as u32);
                    let to = Address::repeat_byte(0x60 + i as u8);
                    let mut nonce = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let submitted_in = phase.load(Ordering::Relaxed);
                        let sent = Instant::now();
                        let raw = signed_transfer(&key, nonce, to);
                        let hash = rpc(rpc_addr, "eth_sendRawTransaction", json!([raw]))?;
                        while rpc(rpc_addr, "eth_getTransactionReceipt", json!([hash]))?.is_null() {
                            if sent.elapsed() > RECEIPT_TIMEOUT {
                                bail!("node {node}: no receipt for {hash} after 60 s");
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        samples
                            .lock()
                            .map_err(|_| eyre!("poisoned"))?
                            .push((submitted_in, sent.elapsed()));
                        nonce += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        Self {
            phase,
            stop,
            samples,
            senders,
        }
    }

    /// Counts what is submitted from now on in `phase`.
    pub fn enter(&self, phase: usize) {
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// Stops the senders and returns the latencies of each of `phases`
    /// phases, sorted.
    pub fn finish(self, phases: usize) -> eyre::Result<Vec<Vec<Duration>>> {
        self.stop.store(true, Ordering::Relaxed);
        for sender in self.senders {
            sender.join().map_err(|_| eyre!("a sender panicked"))??;
        }
        let mut by_phase = vec![Vec::new(); phases];
        for (phase, latency) in self.samples.lock().map_err(|_| eyre!("poisoned"))?.iter() {
            by_phase[*phase].push(*latency);
        }
        for latencies in &mut by_phase {
            latencies.sort();
        }
        Ok(by_phase)
    }
}

/// The `q` quantile (0..=1) of sorted latencies.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at]
}
