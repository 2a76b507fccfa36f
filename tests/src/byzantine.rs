//! What the byzantine-peer tests share: the `outrigger-byzantine` process
//! as a handle that kills it on drop, and a full node started with
//! bootnodes of the test's choosing (the finality load is
//! [`crate::load`]).

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eyre::{Context as _, bail};

use crate::node_process::{NodeProcess, outrigger_binary, target_profile_dir};

/// How long the byzantine peer may take to print its peer id.
const START_TIMEOUT: Duration = Duration::from_secs(20);

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
    crate::node_process::metric_at(node.metrics, name)
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
