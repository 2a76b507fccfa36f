//! anvil (Foundry's dev L1, from npm, pinned in `scripts/tools.sh`) as a
//! process on a loopback port, killed when the handle drops.

use std::{
    fs::File,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use eyre::{Context as _, bail};
use serde_json::json;

use crate::node_process::{free_addr, rpc};

/// The pinned anvil: `$OUTRIGGER_ANVIL`, else the one `scripts/tools.sh`
/// installs, else the one `contracts/`'s `npm ci` installs.
pub fn anvil_binary() -> eyre::Result<PathBuf> {
    if let Ok(path) = std::env::var("OUTRIGGER_ANVIL") {
        return Ok(PathBuf::from(path));
    }
    let tools = std::env::var("OUTRIGGER_TOOLS").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/outrigger/tools"),
        PathBuf::from,
    );
    let suffix = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
    let candidates = [
        tools.join("npm").join(suffix),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../contracts")
            .join(suffix),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            eyre::eyre!("anvil not found: run ./scripts/tools.sh (looked in {candidates:?})")
        })
}

/// A running anvil.
pub struct AnvilProcess {
    child: Child,
    args: Vec<String>,
    /// Its JSON-RPC address.
    pub rpc: SocketAddr,
    /// Its state file (dumped at SIGTERM, loaded at start).
    pub state: PathBuf,
    log: PathBuf,
}

impl AnvilProcess {
    /// Starts anvil with `args` (plus port and a state file in `dir`).
    pub fn start(args: &[&str], dir: &Path) -> eyre::Result<Self> {
        let rpc = free_addr();
        let state = dir.join(format!("anvil-{}.state.json", rpc.port()));
        let log = dir.join(format!("anvil-{}.log", rpc.port()));
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let child = spawn(&args, rpc, &state, &log)?;
        let mut anvil = Self {
            child,
            args,
            rpc,
            state,
            log,
        };
        anvil.wait_ready()?;
        Ok(anvil)
    }

    fn wait_ready(&mut self) -> eyre::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                crate::children::reaped(self.child.id());
                bail!("anvil exited with {status}:\n{}", self.output());
            }
            if rpc(self.rpc, "eth_chainId", json!([])).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("anvil did not serve within 30 s:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What anvil printed.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM (anvil dumps its state), then waits for the exit.
    pub fn stop(&mut self) -> eyre::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("anvil ignored SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        crate::children::reaped(self.child.id());
        Ok(())
    }

    /// Starts again on the same port from the dumped state.
    pub fn restart(&mut self) -> eyre::Result<()> {
        self.child = spawn(&self.args, self.rpc, &self.state, &self.log)?;
        self.wait_ready()
    }
}

fn spawn(args: &[String], rpc: SocketAddr, state: &Path, log: &Path) -> eyre::Result<Child> {
    let out = File::options().create(true).append(true).open(log)?;
    Command::new(anvil_binary()?)
        .args(args)
        .args(["--host", "127.0.0.1", "--port", &rpc.port().to_string()])
        .arg("--state")
        .arg(state)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .inspect(|child| crate::children::started(child.id()))
        .wrap_err("spawning anvil")
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::children::reaped(self.child.id());
    }
}
