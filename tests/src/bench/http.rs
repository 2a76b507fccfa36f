//! A lean JSON-RPC client for load: one keep-alive HTTP/1.1 connection per
//! client, request bodies encoded before the clock starts, the response
//! read by its `Content-Length` and checked for an `"error"` member only.
//! It costs a few microseconds a request, far below any server's.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use eyre::{bail, eyre};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// Largest response the client accepts.
const RESPONSE_BYTES_MAX: usize = 64 << 20;

/// A whole HTTP request for one JSON-RPC body, ready to write.
pub fn request(body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The JSON-RPC body of `method(params)`, `params` already JSON.
pub fn body(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#)
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> eyre::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(16 << 10),
        })
    }

    /// Sends a request made by [`request`] and returns the response body.
    pub async fn call(&mut self, request: &[u8]) -> eyre::Result<&[u8]> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut header_end = None;
        let mut length = 0;
        loop {
            if let Some(end) = header_end
                && self.buf.len() >= end + length
            {
                return Ok(&self.buf[end..end + length]);
            }
            if self.buf.len() > RESPONSE_BYTES_MAX {
                bail!("response over {RESPONSE_BYTES_MAX} bytes");
            }
            let start = self.buf.len();
            self.buf.resize(start + (16 << 10), 0);
            let read = self.stream.read(&mut self.buf[start..]).await?;
            self.buf.truncate(start + read);
            if read == 0 {
                bail!("connection closed mid-response");
            }
            if header_end.is_none()
                && let Some(at) = find(&self.buf, b"\r\n\r\n")
            {
                let head = std::str::from_utf8(&self.buf[..at])?;
                if !head.starts_with("HTTP/1.1 200") {
                    bail!("HTTP status: {}", head.lines().next().unwrap_or_default());
                }
                length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .ok_or_else(|| eyre!("response without Content-Length: {head}"))?;
                header_end = Some(at + 4);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a JSON-RPC response body is an error.
pub fn is_error(body: &[u8]) -> bool {
    find(body, br#""error""#).is_some()
}

/// What a closed-loop load run measured.
#[derive(Clone, Copy, Debug)]
pub struct LoadResult {
    /// Successful responses.
    pub ok: u64,
    /// Error responses (JSON-RPC errors).
    pub errors: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// CPU the client process used over the run, in cores.
    pub client_cores: f64,
}

impl LoadResult {
    /// Successful responses per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// `clients` keep-alive connections to `addr`, each sending the next of
/// `requests` as soon as its previous answer arrives, for `duration` or
/// until every request was sent once (when `once`). Runs on the calling
/// tokio runtime.
pub async fn closed_loop(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    clients: usize,
    duration: Duration,
    once: bool,
) -> eyre::Result<LoadResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::connect(addr).await?);
    }
    let cpu_before = crate::bench::cpu_time(std::process::id())?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (requests, next, ok, errors, stop) = (
            requests.clone(),
            next.clone(),
            ok.clone(),
            errors.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if once && i >= requests.len() {
                    break;
                }
                let body = conn.call(&requests[i % requests.len()]).await?;
                if is_error(body) {
                    errors.fetch_add(1, Ordering::Relaxed);
                } else {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<_, eyre::Report>(())
        }));
    }
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    let mut all = Box::pin(futures_join(tasks));
    let joined = tokio::select! {
        () = &mut deadline => { stop.store(true, Ordering::Relaxed); all.await }
        r = &mut all => r,
    };
    let elapsed = started.elapsed();
    joined?;
    let cpu = crate::bench::cpu_time(std::process::id())? - cpu_before;
    Ok(LoadResult {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        client_cores: cpu.as_secs_f64() / elapsed.as_secs_f64(),
    })
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<eyre::Result<()>>>) -> eyre::Result<()> {
    for task in tasks {
        task.await??;
    }
    Ok(())
}
