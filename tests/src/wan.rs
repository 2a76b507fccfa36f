//! A wide-area network in userspace, for multi-process tests on loopback:
//! one TCP proxy per (dialler, listener) pair of nodes, on a tokio runtime
//! of its own. Each proxy forwards the connections it accepts to its
//! node's real address under the conditions of the link between the two
//! nodes, which a test changes at any time: one-way delay, jitter, segment
//! loss, and a cut.
//!
//! The kernels the tests run on have no `netem` qdisc, so the faults are
//! modelled on the byte stream, the way TCP shows them to an application:
//!
//! - Delay and jitter: every chunk read from one side is written to the
//!   other `delay ± jitter` (uniform) after it was read, never before the
//!   chunk ahead of it: TCP delivers in order, so jitter delays, it never
//!   reorders.
//! - Loss: TCP retransmits a lost segment, so the application sees a stall,
//!   not a gap. A chunk counts as [`SEGMENT_BYTES`]-sized segments, each lost
//!   with probability `loss`; a chunk with a lost segment is held back for a
//!   retransmission timeout of [`RTO_MIN`] plus up to [`RTO_SPREAD`] (Linux's
//!   minimum RTO is 200 ms), and every chunk behind it waits too
//!   (head-of-line blocking).
//! - Cut: the link's open connections are closed at once (both ends see the
//!   connection drop) and new ones are accepted and closed straight away, as
//!   long as the link stays cut. Nodes notice at once and redial; a silent
//!   black hole is not modelled.
//!
//! Links are undirected: the proxy in front of `b` that `a` dials and the
//! one in front of `a` that `b` dials share the conditions of link `{a, b}`,
//! so whichever side's dial wins, the connection sees the same network.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::{mpsc, watch},
    task::JoinSet,
    time::Instant,
};

/// Size of the segments a chunk is counted in for loss (a TCP payload on a
/// 1500-byte MTU).
pub const SEGMENT_BYTES: usize = 1448;
/// Shortest time a chunk with a lost segment is held back.
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// The hold is [`RTO_MIN`] plus a uniform part of up to this.
pub const RTO_SPREAD: Duration = Duration::from_millis(100);
/// Largest chunk read at once.
const CHUNK_BYTES_MAX: usize = 16 * 1024;
/// Chunks in flight per direction of a connection; a full pipe stops reading
/// (backpressure), so memory is bounded by this times [`CHUNK_BYTES_MAX`].
const CHUNKS_IN_FLIGHT_MAX: usize = 256;
/// How long a proxy tries to reach its node before it drops the client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The conditions of one link, the same in both directions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// One-way delay added to every chunk.
    pub delay: Duration,
    /// Each chunk's delay is `delay ± jitter`, uniform (order is kept).
    pub jitter: Duration,
    /// Probability that one segment is lost (and so retransmitted).
    pub loss: f64,
    /// No connection passes: open ones are closed, new ones refused.
    pub cut: bool,
}

impl Conditions {
    /// Loopback: the proxy only forwards.
    pub const CLEAR: Self = Self {
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        loss: 0.0,
        cut: false,
    };
}

/// What a link carried so far.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Connections forwarded to a node.
    pub connections: AtomicU64,
    /// Connections refused (or closed) because the link was cut.
    pub cut_connections: AtomicU64,
    /// Bytes forwarded, both directions.
    pub bytes: AtomicU64,
    /// Chunks held back for a retransmission timeout.
    pub retransmits: AtomicU64,
}

struct Link {
    conditions: watch::Sender<Conditions>,
    stats: Arc<LinkStats>,
}

/// The proxies of a test and the links they model. Dropping it stops every
/// proxy and closes every connection.
pub struct Wan {
    runtime: tokio::runtime::Runtime,
    links: BTreeMap<(usize, usize), Link>,
    seed: u64,
}

// Dropping the runtime cancels the accept loops and connection tasks, which
// closes their sockets.

fn key(a: usize, b: usize) -> (usize, usize) {
    assert_ne!(a, b, "a link joins two nodes");
    (a.min(b), a.max(b))
}

impl Wan {
    /// A WAN with no links yet; `seed` makes the jitter and loss draws
    /// (not the timing of the processes) repeatable.
    pub fn new(seed: u64) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wan-proxy")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime,
            links: BTreeMap::new(),
            seed,
        })
    }

    /// Starts a proxy on 127.0.0.1 that node `from` dials to reach node
    /// `to`, whose real listen address is `target`; returns the proxy's
    /// address. Its connections take the conditions of link `{from, to}`
    /// (clear until set).
    pub fn proxy(
        &mut self,
        from: usize,
        to: usize,
        target: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        let link = self.links.entry(key(from, to)).or_insert_with(|| Link {
            conditions: watch::Sender::new(Conditions::CLEAR),
            stats: Arc::default(),
        });
        let conditions = link.conditions.subscribe();
        let stats = link.stats.clone();
        let listener = self.runtime.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
        let address = listener.local_addr()?;
        let mut seed = self.seed ^ ((from as u64) << 32 | to as u64);
        let seed = next_random(&mut seed);
        self.runtime
            .spawn(accept_loop(listener, target, conditions, stats, seed));
        Ok(address)
    }

    /// Sets the conditions of link `{a, b}`.
    pub fn set(&self, a: usize, b: usize, conditions: Conditions) {
        let link = self.links.get(&key(a, b)).expect("no proxy on this link");
        link.conditions.send_replace(conditions);
    }

    /// The conditions of link `{a, b}`.
    pub fn get(&self, a: usize, b: usize) -> Conditions {
        *self
            .links
            .get(&key(a, b))
            .expect("no proxy on this link")
            .conditions
            .borrow()
    }

    /// The links, as `(a, b)` with `a < b`.
    pub fn links(&self) -> Vec<(usize, usize)> {
        self.links.keys().copied().collect()
    }

    /// Cuts every link with one end in `side` and the other outside it;
    /// other conditions are kept.
    pub fn partition(&self, side: &[usize]) {
        for (a, b) in self.links() {
            if side.contains(&a) != side.contains(&b) {
                self.set(
                    a,
                    b,
                    Conditions {
                        cut: true,
                        ..self.get(a, b)
                    },
                );
            }
        }
    }

    /// Restores every cut link; other conditions are kept.
    pub fn heal(&self) {
        for (a, b) in self.links() {
            self.set(
                a,
                b,
                Conditions {
                    cut: false,
                    ..self.get(a, b)
                },
            );
        }
    }

    /// What link `{a, b}` carried so far.
    pub fn stats(&self, a: usize, b: usize) -> &LinkStats {
        &self
            .links
            .get(&key(a, b))
            .expect("no proxy on this link")
            .stats
    }
}

/// xorshift64: cheap, and repeatable from a seed.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// A uniform draw in [0, 1).
fn unit(state: &mut u64) -> f64 {
    (next_random(state) >> 11) as f64 / (1u64 << 53) as f64
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    conditions: watch::Receiver<Conditions>,
    stats: Arc<LinkStats>,
    mut seed: u64,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if conditions.borrow().cut {
            stats.cut_connections.fetch_add(1, Ordering::Relaxed);
            drop(client);
            continue;
        }
        let seeds = [next_random(&mut seed), next_random(&mut seed)];
        tokio::spawn(connection(
            client,
            target,
            conditions.clone(),
            stats.clone(),
            seeds,
        ));
    }
}

/// Forwards one connection both ways until both sides close or the link is
/// cut; returning drops (closes) both sockets.
async fn connection(
    client: TcpStream,
    target: SocketAddr,
    mut conditions: watch::Receiver<Conditions>,
    stats: Arc<LinkStats>,
    seeds: [u64; 2],
) {
    let Ok(Ok(server)) = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await
    else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Aborted, with the socket halves they own, when this function returns.
    let mut pipes = JoinSet::new();
    for (read, write, seed) in [
        (client_read, server_write, seeds[0]),
        (server_read, client_write, seeds[1]),
    ] {
        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT_MAX);
        pipes.spawn(read_side(read, tx, conditions.clone(), stats.clone(), seed));
        pipes.spawn(write_side(rx, write));
    }
    loop {
        tokio::select! {
            done = pipes.join_next() => {
                if done.is_none() {
                    return;
                }
            }
            changed = conditions.changed() => {
                if changed.is_err() || conditions.borrow().cut {
                    stats.cut_connections.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// Reads chunks and stamps each with the time it may be delivered.
async fn read_side(
    mut read: OwnedReadHalf,
    tx: mpsc::Sender<(Instant, Vec<u8>)>,
    conditions: watch::Receiver<Conditions>,
    stats: Arc<LinkStats>,
    mut rng: u64,
) {
    let mut buffer = vec![0u8; CHUNK_BYTES_MAX];
    let mut last_due = Instant::now();
    loop {
        let n = match read.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let now = Instant::now();
        let c = *conditions.borrow();
        let offset = c.delay.as_secs_f64() + c.jitter.as_secs_f64() * (2.0 * unit(&mut rng) - 1.0);
        let mut due = now + Duration::from_secs_f64(offset.max(0.0));
        let segments = n.div_ceil(SEGMENT_BYTES) as i32;
        let delivered = (1.0 - c.loss).powi(segments);
        if c.loss > 0.0 && unit(&mut rng) >= delivered {
            stats.retransmits.fetch_add(1, Ordering::Relaxed);
            due += RTO_MIN + RTO_SPREAD.mul_f64(unit(&mut rng));
        }
        // In order: never before the chunk ahead.
        due = due.max(last_due);
        last_due = due;
        stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if tx.send((due, buffer[..n].to_vec())).await.is_err() {
            return;
        }
    }
}

/// Writes each chunk at its time; closes its side when the reader is done.
async fn write_side(mut rx: mpsc::Receiver<(Instant, Vec<u8>)>, mut write: OwnedWriteHalf) {
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        if write.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Echo server on loopback; returns its address.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        address
    }

    fn round_trip(wan: &Wan, proxy: SocketAddr, bytes: &[u8]) -> std::io::Result<Duration> {
        wan.runtime.block_on(async {
            let mut s = TcpStream::connect(proxy).await?;
            let started = Instant::now();
            s.write_all(bytes).await?;
            let mut back = vec![0u8; bytes.len()];
            s.read_exact(&mut back).await?;
            assert_eq!(back, bytes);
            Ok(started.elapsed())
        })
    }

    #[test]
    fn delay_applies_each_way_and_a_cut_closes_and_refuses() {
        let mut wan = Wan::new(7).unwrap();
        let target = wan.runtime.block_on(echo());
        let proxy = wan.proxy(0, 1, target).unwrap();
        assert!(round_trip(&wan, proxy, b"ping").unwrap() < Duration::from_millis(50));
        wan.set(
            1,
            0,
            Conditions {
                delay: Duration::from_millis(100),
                ..Conditions::CLEAR
            },
        );
        let rtt = round_trip(&wan, proxy, b"ping").unwrap();
        assert!(
            rtt >= Duration::from_millis(200) && rtt < Duration::from_millis(400),
            "{rtt:?}"
        );
        // An open connection is closed by the cut.
        let mut open = wan.runtime.block_on(TcpStream::connect(proxy)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        wan.partition(&[0]);
        let read = wan.runtime.block_on(async {
            let mut byte = [0u8; 1];
            tokio::time::timeout(Duration::from_secs(2), open.read(&mut byte)).await
        });
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        assert!(round_trip(&wan, proxy, b"ping").is_err());
        assert!(wan.stats(0, 1).cut_connections.load(Ordering::Relaxed) >= 2);
        wan.heal();
        assert!(round_trip(&wan, proxy, b"ping").is_ok());
    }

    #[test]
    fn loss_holds_chunks_back_in_order() {
        let mut wan = Wan::new(11).unwrap();
        let target = wan.runtime.block_on(echo());
        let proxy = wan.proxy(0, 1, target).unwrap();
        wan.set(
            0,
            1,
            Conditions {
                loss: 0.2,
                ..Conditions::CLEAR
            },
        );
        // 200 kB echoed in order despite the holds (round_trip checks them).
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        round_trip(&wan, proxy, &bytes).unwrap();
        assert!(wan.stats(0, 1).retransmits.load(Ordering::Relaxed) > 0);
    }
}
