//! A hostile peer for tests: [`spawn_garbage_peer`] dials a node and floods
//! it with undecodable and oversized gossip on every topic and with malformed
//! and oversized frames on the sync protocol, redialling whenever it is
//! disconnected. A well-behaved node disconnects and bans it.
//!
//! The `p2p_garbage` example runs it as its own process.

use std::{io, time::Duration};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, SwarmBuilder, gossipsub, identify, noise,
    request_response::{self, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent, dial_opts::DialOpts},
    tcp, yamux,
};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{
    GossipLimits, Keypair, NetworkError, Topic, behaviour::identify_protocol_version,
    codec::protocol_name,
};

/// What the garbage peer attacks and how hard.
#[derive(Debug, Clone)]
pub struct GarbageConfig {
    /// The victim's chain id (to speak its topics and protocols).
    pub chain_id: u64,
    /// The victim's address.
    pub target: Multiaddr,
    /// Time between two volleys of garbage. Default 50 ms.
    pub interval: Duration,
    /// The victim's gossip limits, to send messages just over them.
    pub limits: GossipLimits,
    /// Send garbage gossip. Default true.
    pub gossip: bool,
    /// Send malformed sync requests. Default true.
    pub sync: bool,
}

impl GarbageConfig {
    /// Attacks `target` on `chain_id` with the default interval and limits.
    pub fn new(chain_id: u64, target: Multiaddr) -> Self {
        Self {
            chain_id,
            target,
            interval: Duration::from_millis(50),
            limits: GossipLimits::default(),
            gossip: true,
            sync: true,
        }
    }
}

/// A running garbage peer; stops when dropped or on [`GarbagePeer::stop`].
pub struct GarbagePeer {
    peer_id: PeerId,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl GarbagePeer {
    /// Its p2p identity.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Stops it and waits for its task to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for GarbagePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes raw bytes as requests; reads whatever comes back.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut buf = Vec::new();
        io.take(1024).read_to_end(&mut buf).await?;
        Ok(buf)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut buf = Vec::new();
        io.take(1 << 20).read_to_end(&mut buf).await?;
        Ok(buf)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&response).await
    }
}

#[derive(NetworkBehaviour)]
struct GarbageBehaviour {
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<RawCodec>,
    identify: identify::Behaviour,
}

/// Starts a garbage peer with a fresh identity on the current tokio runtime.
pub fn spawn_garbage_peer(config: GarbageConfig) -> Result<GarbagePeer, NetworkError> {
    let keypair = Keypair::generate_ed25519();
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(super::behaviour::message_id)
        // Big enough to send anything the victim might refuse.
        .max_transmit_size(config.limits.max() * 4 + 4096)
        .build()
        .map_err(|e| NetworkError::Config(format!("gossipsub: {e}")))?;
    let gossipsub =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)
            .map_err(|e| NetworkError::Config(format!("gossipsub: {e}")))?;
    let protocol = StreamProtocol::try_from_owned(protocol_name(config.chain_id))
        .map_err(|e| NetworkError::Config(e.to_string()))?;
    let sync = request_response::Behaviour::with_codec(
        RawCodec,
        [(protocol, ProtocolSupport::Outbound)],
        request_response::Config::default().with_request_timeout(Duration::from_secs(5)),
    );
    let identify = identify::Behaviour::new(identify::Config::new(
        identify_protocol_version(config.chain_id),
        keypair.public(),
    ));
    let behaviour = GarbageBehaviour {
        gossipsub,
        sync,
        identify,
    };
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetworkError::Config(format!("transport: {e}")))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| NetworkError::Config(format!("behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let peer_id = *swarm.local_peer_id();
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.interval);
        let mut victim: Option<PeerId> = None;
        let mut n: u64 = 0;
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                event = swarm.select_next_some() => match event {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                        tracing::debug!(target: "p2p", peer = %peer_id, "garbage peer connected");
                        victim = Some(peer_id);
                    }
                    SwarmEvent::ConnectionClosed { num_established: 0, .. } => victim = None,
                    _ => {}
                },
                _ = tick.tick() => {
                    let Some(peer) = victim else {
                        let _ = swarm.dial(DialOpts::unknown_peer_id().address(config.target.clone()).build());
                        continue;
                    };
                    n += 1;
                    let behaviour = swarm.behaviour_mut();
                    for topic in Topic::ALL.into_iter().filter(|_| config.gossip) {
                        let ident = topic.ident(config.chain_id);
                        // Undecodable for any engine: unique so it is not a duplicate.
                        let garbage = format!("garbage {n} {}", topic.name()).into_bytes();
                        let _ = behaviour.gossipsub.publish(ident.clone(), garbage);
                        if n.is_multiple_of(4) {
                            // Just over the limit (caught by the node), and far over
                            // (caught by gossipsub's own per-topic limit).
                            let limit = config.limits.for_topic(topic);
                            for size in [limit + 1, limit * 2 + 2048] {
                                let mut big = vec![0xee; size];
                                big[..8].copy_from_slice(&n.to_be_bytes());
                                let _ = behaviour.gossipsub.publish(ident.clone(), big);
                            }
                        }
                    }
                    if config.sync {
                        // An unknown tag, and a frame announcing 4 GiB.
                        behaviour.sync.send_request(&peer, vec![0, 0, 0, 3, 9, 9, 9]);
                        behaviour.sync.send_request(&peer, vec![0xff, 0xff, 0xff, 0xff, 0]);
                    }
                }
            }
        }
    });
    Ok(GarbagePeer {
        peer_id,
        stop: Some(stop_tx),
        task,
    })
}
