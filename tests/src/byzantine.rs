//! What the byzantine-peer tests share: the `outrigger-byzantine` process
//! as a handle that kills it on drop, closed-loop finality load by phase,
//! and a full node started with bootnodes of the test's choosing.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alloy_primitives::Address;
use eyre::{Context as _, bail, eyre};
use serde_json::json;

use crate::{
    node_process::{NodeProcess, http_get, outrigger_binary, rpc, target_profile_dir},
    testnet::{TestNet, dev_key, signed_transfer},
};

/// How long the byzantine peer may take to print its peer id.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a sender waits for one receipt before the load fails.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `outrigger-byzantine` binary built beside the test binary.
pub fn byzantine_binary() -> PathBuf {
    let binary = target_profile_dir().join("outrigger-byzantine");
    assert!(
        binary.is_file(),
        "{} not built: run `cargo build --workspace`",
        binary.display()
    );
    binary
}

/// A running `outrigger-byzantine`; killed when dropped.
pub struct ByzantinePeer {
    child: Child,
    /// Its libp2p peer id, as nodes log it.
    pub peer_id: String,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl ByzantinePeer {
    /// Starts `outrigger-byzantine ARGS` with its output in
    /// `log_dir/byzantine-NAME.log`, and waits for its peer id.
    pub fn start(name: &str, args: &[String], log_dir: &Path) -> eyre::Result<Self> {
        Self::start_with_env(name, args, &[], log_dir)
    }

    /// [`ByzantinePeer::start`] with extra environment variables.
    pub fn start_with_env(
        name: &str,
        args: &[String],
        env: &[(&str, &str)],
        log_dir: &Path,
    ) -> eyre::Result<Self> {
        let log = log_dir.join(format!("byzantine-{name}.log"));
        let out = File::create(&log)?;
        // At the lowest priority: on a test machine it shares the cores
        // with the validators, and what is measured is their handling of
        // its messages, not its competition for the CPU (an attacker runs
        // on its own machine).
        let child = Command::new("nice")
            .args(["-n", "19"])
            .arg(byzantine_binary())
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .wrap_err("spawning outrigger-byzantine")?;
        let mut peer = Self {
            child,
            peer_id: String::new(),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(id) = peer
                .output()
                .lines()
                .find_map(|l| l.strip_prefix("peer id "))
            {
                peer.peer_id = id.trim().to_string();
                return Ok(peer);
            }
            if let Some(status) = peer.child.try_wait()? {
                bail!("byzantine peer exited with {status}:\n{}", peer.output());
            }
            if Instant::now() > deadline {
                bail!("byzantine peer printed no peer id:\n{}", peer.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A field of its latest `stats` line (`peers`, `published`, ...).
    pub fn stat(&self, field: &str) -> Option<u64> {
        let output = self.output();
        let line = output.lines().rev().find(|l| l.starts_with("stats "))?;
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    }

    /// Stops it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ByzantinePeer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The lines of `node`'s log saying it banned `peer_id`.
pub fn bans_of(node: &NodeProcess, peer_id: &str) -> Vec<String> {
    node.output()
        .lines()
        .filter(|l| l.contains("peer banned") && l.contains(peer_id))
        .map(str::to_string)
        .collect()
}

/// A Prometheus sample of `node` (summed over label sets).
pub fn metric(node: &NodeProcess, name: &str) -> eyre::Result<f64> {
    let (_, body) = http_get(node.metrics, "/metrics")?;
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            (rest.starts_with(' ') || rest.starts_with('{')).then_some(rest)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Starts a full node in `dir` on the genesis at `genesis` that dials only
/// `bootnodes`.
pub fn start_full_node(
    dir: &Path,
    genesis: &Path,
    bootnodes: &[String],
) -> eyre::Result<NodeProcess> {
    let out = Command::new(outrigger_binary())
        .args(["init", "--genesis"])
        .arg(genesis)
        .arg("--data-dir")
        .arg(dir)
        .output()?;
    if !out.status.success() {
        bail!("outrigger init: {}", String::from_utf8_lossy(&out.stderr));
    }
    let port = crate::node_process::free_addr().port();
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n\n[block]\ntime_ms = 1000\n\n[storage]\nsync_writes = false\n\n\
             [consensus]\nrole = \"full\"\nsync_interval_ms = 500\n\n\
             [p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{port}\"]\nbootnodes = {bootnodes:?}\n",
            dir.display().to_string()
        ),
    )?;
    NodeProcess::start(&["--config", &config.display().to_string()], dir)
}

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
