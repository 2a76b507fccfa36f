//! A real `outrigger` process on loopback ports, and a minimal JSON-RPC
//! client over plain HTTP/1.0 so tests see exactly what a client sees.
//! The process is killed when the handle drops.

use std::{
    fs::File,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use eyre::{Context as _, bail, eyre};
use serde_json::{Value, json};

/// How long a node may take to answer its first RPC call.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `outrigger` binary built beside this test binary, or the one
/// `OUTRIGGER_BIN` names.
pub fn outrigger_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OUTRIGGER_BIN") {
        return PathBuf::from(path);
    }
    let binary = target_profile_dir().join("outrigger");
    assert!(
        binary.is_file(),
        "{} not built: run `cargo build --workspace` (nextest with --workspace builds it)",
        binary.display()
    );
    binary
}

/// `target/<profile>` of the running test or tool binary (tests run from
/// `target/<profile>/deps`, tools from `target/<profile>`).
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().expect("a binary is in a directory");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent()
            .expect("deps is in target/<profile>")
            .to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Ports [`free_addr`] picks from: below the kernel's ephemeral range
/// (32768 up on Linux), which every outgoing connection takes its local port
/// from, so a port found free stays free until the node binds it; and apart
/// from the fixed ranges of the devnet tests (4,000–7,999 and 20,000 up).
const TEST_PORTS: std::ops::Range<u16> = 8_000..20_000;

/// A free loopback address, never one this process handed out before, picked
/// at random from [`TEST_PORTS`]. A port from the ephemeral range, as
/// `bind(":0")` gives, could be taken by any outgoing connection in the time
/// between the pick and the node's bind; one from this range can only be
/// taken by another test picking the same port in that time.
pub fn free_addr() -> SocketAddr {
    use rand08::Rng as _;
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = rand08::thread_rng();
    for _ in 0..10_000 {
        let port = rng.gen_range(TEST_PORTS);
        if handed_out.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            let addr = listener.local_addr().expect("local addr");
            handed_out.push(port);
            return addr;
        }
    }
    panic!("no free loopback port in {TEST_PORTS:?}");
}

/// A running node.
pub struct NodeProcess {
    child: Child,
    /// JSON-RPC address.
    pub rpc: SocketAddr,
    /// Metrics address.
    pub metrics: SocketAddr,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

impl NodeProcess {
    /// Starts `outrigger node ARGS --rpc-addr .. --metrics-addr ..` with its
    /// output in `log_dir`, and waits until it answers `eth_blockNumber`.
    pub fn start(args: &[&str], log_dir: &Path) -> eyre::Result<Self> {
        Self::start_with_env(args, &[], log_dir)
    }

    /// [`NodeProcess::start`] with extra environment variables (config keys
    /// as `OUTRIGGER__SECTION__KEY`).
    pub fn start_with_env(
        args: &[&str],
        env: &[(&str, &str)],
        log_dir: &Path,
    ) -> eyre::Result<Self> {
        let rpc = free_addr();
        let metrics = free_addr();
        let log = log_dir.join(format!("node-{}.log", rpc.port()));
        let out = File::create(&log)?;
        let child = Command::new(outrigger_binary())
            .arg("node")
            .args(args)
            .args(["--rpc-addr", &rpc.to_string()])
            .args(["--metrics-addr", &metrics.to_string()])
            .env("RUST_LOG", "info")
            // A `--dev` node without a data dir makes a temporary one; a
            // node killed with -9 cannot remove it, so it goes under the
            // test's own folder, which the test removes.
            .env("TMPDIR", log_dir)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .wrap_err("spawning outrigger")?;
        crate::children::started(child.id());
        let mut node = Self {
            child,
            rpc,
            metrics,
            log,
        };
        node.wait_ready()?;
        Ok(node)
    }

    fn wait_ready(&mut self) -> eyre::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                crate::children::reaped(self.child.id());
                bail!(
                    "node exited with {status} before serving:\n{}",
                    self.output()
                );
            }
            if rpc(self.rpc, "eth_blockNumber", json!([])).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "node did not serve within {START_TIMEOUT:?}:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the node printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            crate::children::reaped(self.child.id());
        }
        status
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::children::reaped(self.child.id());
    }

    /// SIGTERM, then waits (at most 20 s) for a clean exit.
    pub fn terminate(&mut self) -> eyre::Result<ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                crate::children::reaped(self.child.id());
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.kill9();
                bail!("node ignored SIGTERM for 20 s:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the head is at least `number`.
    pub fn wait_for_block(&self, number: u64, timeout: Duration) -> eyre::Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            let head = quantity(&rpc(self.rpc, "eth_blockNumber", json!([]))?)?;
            if head >= number {
                return Ok(head);
            }
            if Instant::now() > deadline {
                bail!("head {head} did not reach {number} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends `body` as an HTTP POST to `addr` and returns the status and body.
pub fn http_post(addr: SocketAddr, body: &str) -> eyre::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let request = format!(
        "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // A server may answer and close before reading all of an oversized
    // body; its answer still counts.
    if let Err(error) = stream.write_all(request.as_bytes()) {
        return read_response(stream).map_err(|_| error.into());
    }
    read_response(stream)
}

/// Sends an HTTP GET for `path` and returns the status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> eyre::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    read_response(stream)
}

/// The sum of the Prometheus samples at `addr` whose series is `name`:
/// the bare name sums every label set, `name{labels}` one exactly.
pub fn metric_at(addr: SocketAddr, name: &str) -> eyre::Result<f64> {
    let (_, body) = http_get(addr, "/metrics")?;
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            (rest.starts_with(' ') || (rest.starts_with('{') && !name.ends_with('}')))
                .then_some(rest)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

fn read_response(mut stream: TcpStream) -> eyre::Result<(u16, String)> {
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| eyre!("malformed HTTP response: {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| eyre!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// The whole JSON-RPC response object of one call.
pub fn rpc_response(addr: SocketAddr, method: &str, params: Value) -> eyre::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (_, body) = http_post(addr, &body)?;
    Ok(serde_json::from_str(&body)?)
}

/// The result of one call, or its error object as the error.
pub fn rpc(addr: SocketAddr, method: &str, params: Value) -> eyre::Result<Value> {
    let response = rpc_response(addr, method, params)?;
    if let Some(error) = response.get("error") {
        bail!("{method}: {error}");
    }
    response
        .get("result")
        .cloned()
        .ok_or_else(|| eyre!("{method}: no result in {response}"))
}

/// A hex quantity (`"0x1a"`) as a number.
pub fn quantity(value: &Value) -> eyre::Result<u64> {
    let text = value
        .as_str()
        .ok_or_else(|| eyre!("not a quantity: {value}"))?;
    Ok(u64::from_str_radix(text.trim_start_matches("0x"), 16)?)
}
