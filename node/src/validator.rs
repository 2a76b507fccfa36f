//! The node of a validator chain: the p2p network, the consensus engine
//! over the chain ([`ChainApp`]), and the relay of locally submitted
//! transactions to the `txs` gossip topic.

use std::{path::Path, sync::Arc, time::Duration};

use alloy_primitives::{B256, Bytes};
use eyre::Context as _;
use outrigger_consensus::{
    EngineConfig, EngineHandle, EngineMetrics, SyncConfig,
    network::{self, NetworkConfig, NetworkHandle, Topic},
};
use outrigger_consensus_core::{
    ChainId, Config as CoreConfig, TimeoutConfig, TimeoutSchedule, Validator, ValidatorSet,
    VerifyingKey,
};
use outrigger_execution::genesis::GenesisFile;
use tokio::{sync::mpsc, task::JoinHandle};
use tracing::{info, warn};

use crate::{
    config::{NodeConfig, Role},
    consensus_app::{ChainApp, TX_GOSSIP_BATCH_BYTES, TX_GOSSIP_BATCH_MAX, encode_tx_batch},
    keys::ValidatorKey,
    node::NodeState,
};

/// Transactions submitted here waiting to be gossiped.
pub const TX_GOSSIP_QUEUE: usize = 4096;

/// The running consensus side of a node.
#[derive(Debug)]
pub struct Consensus {
    /// The engine.
    pub engine: EngineHandle,
    /// The p2p network.
    pub network: NetworkHandle,
    relay: JoinHandle<()>,
}

impl Consensus {
    /// Stops the engine, then the network.
    pub async fn shutdown(self) {
        if let Err(error) = self.engine.shutdown().await {
            warn!(target: "consensus", %error, "engine stopped with an error");
        }
        self.relay.abort();
        self.network.shutdown().await;
    }
}

/// The genesis validator set.
pub fn genesis_validators(genesis: &GenesisFile) -> eyre::Result<ValidatorSet> {
    let validators = genesis
        .outrigger
        .validators
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let bytes: [u8; 32] = v.public_key.as_ref().try_into().map_err(|_| {
                eyre::eyre!(
                    "genesis validator {i}: public key has {} bytes, expected 32",
                    v.public_key.len()
                )
            })?;
            let public_key = VerifyingKey::from_bytes(&bytes)
                .map_err(|e| eyre::eyre!("genesis validator {i}: bad ed25519 key: {e}"))?;
            Ok(Validator {
                public_key,
                power: v.power,
            })
        })
        .collect::<eyre::Result<Vec<_>>>()?;
    ValidatorSet::new(validators).wrap_err("the genesis validator set")
}

fn in_data_dir(data_dir: &Path, path: &Path) -> std::path::PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        data_dir.join(path)
    }
}

/// The account that reports double-signing, if the node has one
/// (`consensus.reporter_keystore`, decrypted with the key passphrase).
pub fn reporter(config: &NodeConfig) -> eyre::Result<Option<alloy_signer_local::PrivateKeySigner>> {
    let path = &config.consensus.reporter_keystore;
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    let path = in_data_dir(&config.data_dir, path);
    let password = key_passphrase(config)?.ok_or_else(|| {
        eyre::eyre!(
            "consensus.reporter_keystore needs the key passphrase (consensus.key_password_file or OUTRIGGER_KEY_PASSWORD)"
        )
    })?;
    let signer = outrigger_bridge::load_keystore(&path, &password)?;
    info!(target: "consensus", reporter = %signer.address(), "equivocation reporter account");
    Ok(Some(signer))
}

/// The p2p peer id of a p2p key.
pub fn peer_id(p2p_key: &ValidatorKey) -> network::PeerId {
    network::keypair_from_ed25519_secret(p2p_key.signing_key().to_bytes())
        .public()
        .to_peer_id()
}

/// The passphrase of the node's encrypted key files, if it has one.
fn key_passphrase(config: &NodeConfig) -> eyre::Result<Option<String>> {
    let file = &config.consensus.key_password_file;
    let file = (!file.as_os_str().is_empty()).then(|| in_data_dir(&config.data_dir, file));
    Ok(crate::keys::passphrase(file.as_deref())?)
}

/// Reads the p2p key, creating it at first start (encrypted if the node
/// has a key passphrase).
fn p2p_key(config: &NodeConfig, passphrase: Option<&str>) -> eyre::Result<ValidatorKey> {
    let path = in_data_dir(&config.data_dir, &config.p2p.key_file);
    if !path.exists() {
        ValidatorKey::generate().write_new_with(&path, passphrase)?;
        info!(target: "p2p", path = %path.display(), "created the p2p key");
    }
    Ok(ValidatorKey::read_with(&path, passphrase)?)
}

fn core_config(chain_id: u64, config: &NodeConfig) -> CoreConfig {
    let c = &config.consensus;
    let ms = Duration::from_millis;
    let vote = TimeoutSchedule {
        base: ms(c.timeout_vote_ms),
        per_round: ms(c.timeout_per_round_ms),
        max: ms(c.timeout_max_ms / 2),
    };
    let mut core = CoreConfig::new(ChainId(chain_id));
    core.timeouts = TimeoutConfig {
        propose: TimeoutSchedule {
            base: ms(c.timeout_propose_ms),
            per_round: ms(c.timeout_per_round_ms),
            max: ms(c.timeout_max_ms),
        },
        prevote: vote,
        precommit: vote,
    };
    core
}

/// Groups the transactions submitted here into gossip messages: each
/// message takes what arrives within `delay` of its first transaction, up
/// to [`TX_GOSSIP_BATCH_MAX`] transactions and [`TX_GOSSIP_BATCH_BYTES`]
/// bytes (a larger transaction goes alone).
struct TxBatcher {
    queue: mpsc::Receiver<Vec<u8>>,
    delay: Duration,
    /// The transaction that did not fit in the last batch: the next one's
    /// first.
    carried: Option<Vec<u8>>,
}

impl TxBatcher {
    fn new(queue: mpsc::Receiver<Vec<u8>>, delay: Duration) -> Self {
        Self {
            queue,
            delay,
            carried: None,
        }
    }

    /// The next batch; `None` once the queue is closed and drained.
    async fn next(&mut self) -> Option<Vec<Bytes>> {
        let first = match self.carried.take() {
            Some(tx) => tx,
            None => self.queue.recv().await?,
        };
        let deadline = tokio::time::Instant::now() + self.delay;
        let mut bytes = first.len();
        let mut batch = vec![Bytes::from(first)];
        while batch.len() < TX_GOSSIP_BATCH_MAX {
            // The queue is polled before the deadline is checked, so what
            // is already queued still goes in once the delay is over.
            let Ok(Some(tx)) = tokio::time::timeout_at(deadline, self.queue.recv()).await else {
                break;
            };
            if bytes + tx.len() > TX_GOSSIP_BATCH_BYTES {
                self.carried = Some(tx);
                break;
            }
            bytes += tx.len();
            batch.push(Bytes::from(tx));
        }
        Some(batch)
    }
}

/// Starts the network and the engine for `state`'s chain; `tx_gossip` is
/// the queue `eth_sendRawTransaction` fills.
pub async fn start(
    config: &NodeConfig,
    genesis: &GenesisFile,
    genesis_hash: B256,
    state: Arc<NodeState>,
    registry: &prometheus::Registry,
    tx_gossip: mpsc::Receiver<Vec<u8>>,
) -> eyre::Result<Consensus> {
    let chain_id = genesis.genesis.config.chain_id;
    let validators = genesis_validators(genesis)?;
    let passphrase = key_passphrase(config)?;
    let signing_key = match config.consensus.role {
        Role::Full => None,
        Role::Validator => {
            let path = in_data_dir(&config.data_dir, &config.consensus.validator_key_file);
            let key = ValidatorKey::read_with(&path, passphrase.as_deref()).wrap_err(
                "reading the validator key (consensus.role = \"validator\"); \
                 set consensus.role = \"full\" to run without one",
            )?;
            if validators.index_of(&key.public()).is_none() {
                info!(
                    target: "consensus",
                    key = %key.public_hex(),
                    "this validator's key is not in the genesis set: it signs once an epoch's set includes it"
                );
            }
            Some(key.signing_key().clone())
        }
    };
    let p2p_key = p2p_key(config, passphrase.as_deref())?;
    let parse = |what: &str, addrs: &[String]| -> eyre::Result<Vec<network::Multiaddr>> {
        addrs
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|e| eyre::eyre!("invalid configuration: {what}: {a}: {e}"))
            })
            .collect()
    };
    let network_config = NetworkConfig {
        listen: parse("p2p.listen", &config.p2p.listen)?,
        bootnodes: parse("p2p.bootnodes", &config.p2p.bootnodes)?,
        max_peers: config.p2p.max_peers,
        ..NetworkConfig::new(
            chain_id,
            network::keypair_from_ed25519_secret(p2p_key.signing_key().to_bytes()),
        )
    };
    let (network, events) = network::spawn(network_config, registry)?;
    info!(
        target: "p2p",
        peer_id = %network.local_peer_id(),
        "p2p identity"
    );
    let metrics = EngineMetrics::register(registry)?;
    let c = &config.consensus;
    let engine_config = EngineConfig {
        core: core_config(chain_id, config),
        signing_key,
        wal_dir: config.data_dir.join("consensus"),
        sync: SyncConfig {
            interval: Duration::from_millis(c.sync_interval_ms),
            batch_blocks: c.sync_batch_blocks,
            ..SyncConfig::default()
        },
        rebroadcast_after: Duration::from_millis(c.rebroadcast_after_ms),
        proposal_blocks_max: 32,
        block_interval: Duration::from_millis(config.block.time_ms),
    };
    let p2p = state.clone();
    let app = Arc::new(ChainApp::new(state, genesis_hash));
    let engine = outrigger_consensus::spawn(engine_config, app, network.clone(), events, metrics)?;
    // Set once per node: `start` runs once.
    let _ = p2p.p2p.set(crate::node::P2pStatus {
        network: network.clone(),
        sync: engine.sync_status(),
    });
    let relay_network = network.clone();
    let delay = Duration::from_millis(config.p2p.tx_gossip_delay_ms);
    let relay = tokio::spawn(async move {
        let mut batches = TxBatcher::new(tx_gossip, delay);
        while let Some(batch) = batches.next().await {
            let message = encode_tx_batch(&batch);
            if let Err(error) = relay_network.publish(Topic::Transactions, message).await {
                warn!(target: "p2p", %error, count = batch.len(), "gossiping transactions failed");
            }
        }
    });
    Ok(Consensus {
        engine,
        network,
        relay,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn queue() -> (mpsc::Sender<Vec<u8>>, mpsc::Receiver<Vec<u8>>) {
        mpsc::channel(TX_GOSSIP_QUEUE)
    }

    fn lens(batch: &[Bytes]) -> Vec<usize> {
        batch.iter().map(|tx| tx.len()).collect()
    }

    #[tokio::test]
    async fn without_a_delay_a_batch_takes_what_is_queued() {
        let (tx, rx) = queue();
        for len in [1, 2, 3] {
            tx.send(vec![0; len]).await.unwrap();
        }
        let mut batches = TxBatcher::new(rx, Duration::ZERO);
        assert_eq!(lens(&batches.next().await.unwrap()), [1, 2, 3]);
        tx.send(vec![0; 4]).await.unwrap();
        assert_eq!(lens(&batches.next().await.unwrap()), [4]);
        drop(tx);
        assert!(batches.next().await.is_none());
    }

    #[tokio::test]
    async fn a_batch_waits_for_later_transactions_until_its_delay() {
        let (tx, rx) = queue();
        // Long enough that a loaded machine still runs the late sender
        // within it.
        let mut batches = TxBatcher::new(rx, Duration::from_millis(500));
        let started = Instant::now();
        tx.send(vec![0; 1]).await.unwrap();
        let late = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            late.send(vec![0; 2]).await.unwrap();
        });
        // The second arrives within the delay; the batch closes at the
        // delay even though the queue stays open.
        assert_eq!(lens(&batches.next().await.unwrap()), [1, 2]);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(500), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[tokio::test]
    async fn a_closed_queue_ends_the_batch_without_waiting() {
        let (tx, rx) = queue();
        let mut batches = TxBatcher::new(rx, Duration::from_secs(30));
        tx.send(vec![0; 1]).await.unwrap();
        tx.send(vec![0; 2]).await.unwrap();
        drop(tx);
        let started = Instant::now();
        assert_eq!(lens(&batches.next().await.unwrap()), [1, 2]);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(batches.next().await.is_none());
    }

    #[tokio::test]
    async fn batches_are_bounded_in_count_and_bytes() {
        let (tx, rx) = queue();
        for _ in 0..TX_GOSSIP_BATCH_MAX + 10 {
            tx.send(vec![0; 1]).await.unwrap();
        }
        let half = TX_GOSSIP_BATCH_BYTES / 2 + 1;
        tx.send(vec![0; half]).await.unwrap();
        tx.send(vec![0; half]).await.unwrap();
        // Larger than a batch: it goes alone.
        tx.send(vec![0; 2 * TX_GOSSIP_BATCH_BYTES]).await.unwrap();
        drop(tx);
        let mut batches = TxBatcher::new(rx, Duration::ZERO);
        assert_eq!(batches.next().await.unwrap().len(), TX_GOSSIP_BATCH_MAX);
        // The ten left, then the first half-size one; the second does not
        // fit beside it and is carried to the next batch.
        assert_eq!(
            lens(&batches.next().await.unwrap()),
            [vec![1; 10], vec![half]].concat()
        );
        assert_eq!(lens(&batches.next().await.unwrap()), [half]);
        assert_eq!(
            lens(&batches.next().await.unwrap()),
            [2 * TX_GOSSIP_BATCH_BYTES]
        );
        assert!(batches.next().await.is_none());
    }
}
