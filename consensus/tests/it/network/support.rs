//! Nodes on loopback and a stand-in engine that answers their events.

use std::{future::Future, time::Duration};

use outrigger_consensus::network::{
    GossipId, Keypair, Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, PeerId, Status,
    SyncRequest, SyncResponse, Topic, Verdict, spawn,
};
use tokio::{sync::mpsc, task::JoinHandle};

pub(crate) const CHAIN_ID: u64 = 7;
pub(crate) const GENESIS: [u8; 32] = [1; 32];
pub(crate) const HEAD: u64 = 100;

pub(crate) fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Listens on a random loopback port; small proposal limit and fast redials.
pub(crate) fn config() -> NetworkConfig {
    let mut config = NetworkConfig::new(CHAIN_ID, Keypair::generate_ed25519());
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    config.gossip_message_bytes_max.proposal_bytes_max = 64 * 1024;
    config.redial_backoff_min = Duration::from_millis(100);
    config.redial_backoff_max = Duration::from_secs(1);
    config.sync_request_timeout = Duration::from_secs(5);
    config
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `timeout`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A gossip message as the engine saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) topic: Topic,
    pub(crate) id: GossipId,
    pub(crate) source: PeerId,
    pub(crate) data: Vec<u8>,
}

/// How the stand-in engine judges gossip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdicts {
    /// Payloads starting with `ok` are accepted, anything else rejected.
    Auto,
    /// No verdict: the test gives it.
    Hold,
}

pub(crate) struct Node {
    pub(crate) handle: NetworkHandle,
    pub(crate) registry: prometheus::Registry,
    /// Our address with `/p2p/<peer id>`, for others' bootnode lists.
    pub(crate) addr: Multiaddr,
    pub(crate) gossip: mpsc::Receiver<Received>,
    pub(crate) peer_events: mpsc::Receiver<NetworkEvent>,
    engine: JoinHandle<()>,
}

impl Node {
    pub(crate) fn peer_id(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    pub(crate) async fn connected(&self, peer: PeerId) -> bool {
        self.handle.peers().await.iter().any(|p| p.peer_id == peer)
    }

    /// The value of a counter or gauge, summed over its labels.
    pub(crate) fn metric(&self, name: &str) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|family| family.name() == name)
            .flat_map(|family| {
                let gauge = family.get_field_type() == prometheus::proto::MetricType::GAUGE;
                family.get_metric().iter().map(move |m| {
                    if gauge {
                        m.get_gauge().get_value()
                    } else {
                        m.get_counter().get_value()
                    }
                })
            })
            .sum()
    }

    /// Waits for a gossip message whose payload is `data`.
    pub(crate) async fn receive(&mut self, data: &[u8], timeout: Duration) -> Received {
        let wait = async {
            while let Some(received) = self.gossip.recv().await {
                if received.data == data {
                    return received;
                }
            }
            panic!("engine stopped");
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{:?} not received in {timeout:?}",
                    String::from_utf8_lossy(data)
                )
            })
    }

    pub(crate) async fn stop(self) {
        self.handle.shutdown().await;
        self.engine.abort();
    }
}

/// The opaque block at `height`: `bytes` bytes starting with the height.
pub(crate) fn block(height: u64, bytes: usize) -> Vec<u8> {
    let mut block = vec![0xb1; bytes.max(8)];
    block[..8].copy_from_slice(&height.to_be_bytes());
    block
}

/// Starts a network and an engine answering its events: gossip verdicts
/// per `verdicts`, Status with chain 7 at head 100, and blocks of
/// `block_bytes` bytes.
pub(crate) async fn start(config: NetworkConfig, verdicts: Verdicts, block_bytes: usize) -> Node {
    let registry = prometheus::Registry::new();
    let (handle, mut events) = spawn(config, &registry).unwrap();
    let listening = eventually("a listen address", Duration::from_secs(5), || async {
        handle.listen_addrs().await.first().cloned()
    })
    .await;
    let addr = format!("{listening}/p2p/{}", handle.local_peer_id())
        .parse()
        .unwrap();
    let (gossip_tx, gossip) = mpsc::channel(4096);
    let (peer_tx, peer_events) = mpsc::channel(4096);
    let engine_handle = handle.clone();
    let engine = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                NetworkEvent::Gossip {
                    topic,
                    id,
                    source,
                    data,
                } => {
                    if verdicts == Verdicts::Auto {
                        let verdict = if data.starts_with(b"ok") {
                            Verdict::Accept
                        } else {
                            Verdict::Reject
                        };
                        engine_handle.validated(id.clone(), verdict);
                    }
                    let _ = gossip_tx.try_send(Received {
                        topic,
                        id,
                        source,
                        data,
                    });
                }
                NetworkEvent::SyncRequest {
                    request, respond, ..
                } => {
                    let response = match request {
                        SyncRequest::Status => SyncResponse::Status(Status {
                            chain_id: CHAIN_ID,
                            genesis_hash: GENESIS,
                            head: HEAD,
                        }),
                        SyncRequest::Blocks { from, count } => SyncResponse::Blocks(
                            (from..from + u64::from(count))
                                .take_while(|h| *h <= HEAD)
                                .map(|h| block(h, block_bytes))
                                .collect(),
                        ),
                    };
                    let _ = respond.send(response);
                }
                event => {
                    let _ = peer_tx.try_send(event);
                }
            }
        }
    });
    Node {
        handle,
        registry,
        addr,
        gossip,
        peer_events,
        engine,
    }
}

/// Publishes fresh payloads `{prefix} {n}` from `from` until `to` receives
/// one: gossip only flows once both sides saw each other's subscriptions.
pub(crate) async fn warm_up(from: &Node, to: &mut Node, topic: Topic, prefix: &str) {
    for n in 0..100 {
        let data = format!("{prefix} {n}").into_bytes();
        from.handle.publish(topic, data.clone()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_millis(200), async {
            while let Some(received) = to.gossip.recv().await {
                if received.data.starts_with(prefix.as_bytes()) {
                    return;
                }
            }
        })
        .await;
        if got.is_ok() {
            // Drain the other warm-up copies still in flight.
            tokio::time::sleep(Duration::from_millis(300)).await;
            while to.gossip.try_recv().is_ok() {}
            return;
        }
    }
    panic!("no {topic} message got through: {prefix}");
}
