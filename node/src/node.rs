//! One plain function wires a node: the store and genesis, the chain, the
//! pool, the block sealer, the JSON-RPC server and the metrics endpoint.
//! It returns a handle whose `shutdown()` stops them in order.

use std::{net::SocketAddr, path::Path, sync::Arc};

use alloy_primitives::B256;
use eyre::{Context as _, bail};
use outrigger_execution::{
    Chain, Store, StoreConfig,
    genesis::{GenesisFile, init_genesis},
    txpool::{ChainParams, HeadParams, Pool},
};
use parking_lot::Mutex;
use tokio::{
    sync::{Notify, broadcast, watch},
    task::JoinHandle,
};
use tracing::info;

use crate::{config::NodeConfig, metrics::Metrics, rpc, sealer};

/// File name of the genesis inside a data dir.
pub const GENESIS_FILE: &str = "genesis.json";
/// Folder of the database inside a data dir.
pub const DB_DIR: &str = "db";

/// What the RPC server and the sealer share.
#[derive(Debug)]
pub struct NodeState {
    /// The chain: store, spec and executor.
    pub chain: Chain,
    /// The transaction pool, behind a lock held only briefly.
    pub pool: Mutex<Pool>,
    /// Woken when a transaction enters the pool (for instant sealing).
    pub tx_arrived: Notify,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
    /// New blocks and pooled transactions, for subscriptions.
    pub events: Events,
    /// Installed polled filters.
    pub filters: crate::rpc::filters::Filters,
    /// Accounts the node signs for (`--dev` only).
    pub dev_signers: Vec<alloy_signer_local::PrivateKeySigner>,
    /// The suggested priority fee and the head it was computed at.
    pub tip_cache: Mutex<Option<(u64, u128)>>,
    /// Held while a block is built and committed, so that the sealer and
    /// `evm_mine` never build on the same head.
    pub seal_lock: Mutex<()>,
    /// The configuration the node started with.
    pub config: NodeConfig,
    /// Where `eth_sendRawTransaction` queues transactions for gossip (on a
    /// validator chain).
    pub tx_gossip: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
    /// The network and block sync of a validator chain, once started
    /// (`net_peerCount`, `eth_syncing`).
    pub p2p: std::sync::OnceLock<P2pStatus>,
    /// The genesis' consensus section (validators, epoch length).
    pub consensus: outrigger_execution::genesis::OutriggerGenesis,
    /// Double-signing this node saw, and its reports.
    pub evidence: crate::evidence::EvidenceLog,
}

/// What the RPC reads of the p2p side.
#[derive(Debug)]
pub struct P2pStatus {
    /// The network (its peers).
    pub network: outrigger_consensus::network::NetworkHandle,
    /// The block sync in progress, if any.
    pub sync: watch::Receiver<Option<outrigger_consensus::SyncRange>>,
}

/// A sealed block as subscriptions announce it.
#[derive(Debug)]
pub struct SealedHead {
    /// Its number.
    pub number: u64,
    /// Its header in RPC form (`newHeads`).
    pub header: alloy_rpc_types_eth::Header,
}

/// What subscriptions are fed from. Bounded: a subscriber that falls this
/// far behind skips ahead.
#[derive(Debug)]
pub struct Events {
    /// Newly sealed blocks: the number and the RPC header, made once for
    /// every subscriber.
    pub blocks: broadcast::Sender<Arc<SealedHead>>,
    /// Hashes of transactions that entered the pool.
    pub pending_transactions: broadcast::Sender<B256>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            blocks: broadcast::channel(256).0,
            pending_transactions: broadcast::channel(4096).0,
        }
    }
}

/// A running node.
#[derive(Debug)]
pub struct NodeHandle {
    /// Where JSON-RPC listens (the port is resolved when `:0` was asked).
    pub rpc_addr: SocketAddr,
    /// Where metrics are served, if enabled.
    pub metrics_addr: Option<SocketAddr>,
    /// The shared state.
    pub state: Arc<NodeState>,
    shutdown: watch::Sender<bool>,
    rpc: jsonrpsee::server::ServerHandle,
    producer: Producer,
    tasks: Vec<JoinHandle<()>>,
}

/// What makes the node's blocks.
#[derive(Debug)]
enum Producer {
    /// A development chain: the single-node sealer.
    Sealer(JoinHandle<eyre::Result<()>>),
    /// A validator chain: consensus over the network.
    Consensus(crate::validator::Consensus),
}

impl NodeHandle {
    /// Stops sealing, then the servers, and waits for them; the store closes
    /// when the last reference goes.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.rpc.stop();
        self.rpc.stopped().await;
        match self.producer {
            Producer::Sealer(sealer) => {
                if !sealer.is_finished() {
                    let _ = sealer.await;
                }
            }
            Producer::Consensus(consensus) => consensus.shutdown().await,
        }
        for task in self.tasks {
            let _ = task.await;
        }
        info!(target: "node", "stopped");
    }

    /// Resolves when block production stops by itself, which only a fatal
    /// error (a failing disk) does; returns that error.
    pub async fn failed(&mut self) -> eyre::Report {
        match &mut self.producer {
            Producer::Sealer(sealer) => match sealer.await {
                Ok(Ok(())) => eyre::eyre!("block production stopped"),
                Ok(Err(error)) => error,
                Err(error) => eyre::eyre!("block production panicked: {error}"),
            },
            Producer::Consensus(consensus) => consensus.engine.failed().await.into(),
        }
    }

    /// The p2p network, on a validator chain.
    pub fn network(&self) -> Option<&outrigger_consensus::network::NetworkHandle> {
        match &self.producer {
            Producer::Consensus(consensus) => Some(&consensus.network),
            Producer::Sealer(_) => None,
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// `/health`: healthy when the node is not catching up by block sync and,
/// on a validator chain, has a peer (a dev node always is).
fn health(state: Arc<NodeState>) -> crate::metrics::Health {
    Arc::new(move || {
        let state = state.clone();
        Box::pin(async move {
            let head = state.chain.store().head_number().ok().flatten();
            let (syncing, peers) = match state.p2p.get() {
                Some(p2p) => {
                    let syncing = p2p.sync.borrow().is_some();
                    (syncing, Some(p2p.network.peers().await.len()))
                }
                None => (false, None),
            };
            let healthy = head.is_some() && !syncing && peers.is_none_or(|n| n > 0);
            let body = serde_json::json!({
                "healthy": healthy,
                "head": head,
                "syncing": syncing,
                "peers": peers,
            });
            (healthy, body.to_string())
        })
    })
}

/// Writes `genesis` into a new data dir: the genesis file and block 0.
/// Refuses a data dir that already holds a different chain.
pub fn init_data_dir(data_dir: &Path, genesis_json: &str) -> eyre::Result<GenesisFile> {
    let genesis = GenesisFile::from_json(genesis_json).wrap_err("reading the genesis")?;
    std::fs::create_dir_all(data_dir)
        .wrap_err_with(|| format!("creating data dir {}", data_dir.display()))?;
    let path = data_dir.join(GENESIS_FILE);
    if path.exists() {
        let existing = std::fs::read_to_string(&path)?;
        let existing = GenesisFile::from_json(&existing)
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        if existing.genesis != genesis.genesis || existing.outrigger != genesis.outrigger {
            bail!(
                "data dir {} already holds another genesis; use a new data dir",
                data_dir.display()
            );
        }
    } else {
        std::fs::write(&path, genesis_json)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    let spec = genesis.chain_spec();
    let store = Store::open(&data_dir.join(DB_DIR), &StoreConfig::default())?;
    init_genesis(&store, &genesis, &spec)?;
    Ok(genesis)
}

/// Starts a node on an initialised data dir; `dev_signers` are the accounts
/// it signs for (the dev accounts of a `--dev` chain, or none).
pub async fn launch(
    config: NodeConfig,
    dev_signers: Vec<alloy_signer_local::PrivateKeySigner>,
) -> eyre::Result<NodeHandle> {
    let data_dir = &config.data_dir;
    let genesis_path = data_dir.join(GENESIS_FILE);
    if !genesis_path.is_file() {
        bail!(
            "data dir {} is not initialised: run `outrigger init --genesis FILE --data-dir {}`",
            data_dir.display(),
            data_dir.display()
        );
    }
    let genesis = GenesisFile::load(&genesis_path)
        .wrap_err_with(|| format!("reading {}", genesis_path.display()))?;
    // A genesis with validators is a consensus chain; without, a
    // single-node development chain.
    let networked = !genesis.outrigger.validators.is_empty();
    let spec = Arc::new(genesis.chain_spec());
    let store_config = StoreConfig {
        sync_writes: config.storage.sync_writes,
        cache_bytes: config.storage.cache_mb << 20,
        history_blocks: if config.storage.archive {
            outrigger_execution::store::ARCHIVE
        } else {
            config.storage.state_history_blocks
        },
        in_memory: false,
    };
    let store = Arc::new(
        Store::open(&data_dir.join(DB_DIR), &store_config)
            .wrap_err_with(|| format!("opening the database in {}", data_dir.display()))?,
    );
    let genesis_hash = init_genesis(&store, &genesis, &spec)?;
    let chain = Chain::new(store.clone(), spec.clone());
    let head = store
        .head()?
        .ok_or_else(|| eyre::eyre!("the database has no head block"))?;
    let pool = Pool::new(
        config.txpool.pool_config(),
        ChainParams {
            chain_id: spec.chain_id,
            blobs_allowed: spec.blobs_enabled,
            head: HeadParams::after(&spec, &head),
        },
    );
    let metrics = Arc::new(Metrics::new()?);
    metrics
        .height
        .set(i64::try_from(head.number).unwrap_or(i64::MAX));
    info!(
        target: "node",
        chain_id = spec.chain_id,
        genesis = %genesis_hash,
        head = head.number,
        data_dir = %data_dir.display(),
        "opened chain"
    );
    let (tx_gossip, tx_gossip_rx) = if networked {
        let (sender, receiver) = tokio::sync::mpsc::channel(crate::validator::TX_GOSSIP_QUEUE);
        (Some(sender), Some(receiver))
    } else {
        (None, None)
    };
    let state = Arc::new(NodeState {
        chain,
        pool: Mutex::new(pool),
        tx_arrived: Notify::new(),
        metrics: metrics.clone(),
        events: Events::default(),
        filters: Default::default(),
        dev_signers,
        seal_lock: Mutex::new(()),
        tip_cache: Mutex::new(None),
        config: config.clone(),
        tx_gossip,
        p2p: std::sync::OnceLock::new(),
        consensus: genesis.outrigger.clone(),
        evidence: crate::evidence::EvidenceLog::new(if networked {
            crate::validator::reporter(&config)?
        } else {
            None
        }),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let metrics_addr = if config.metrics.enabled {
        let listener = crate::metrics::bind(config.metrics.addr).await?;
        let addr = listener.local_addr()?;
        let served = metrics.clone();
        tasks.push(tokio::spawn(crate::metrics::serve(
            listener,
            Arc::new(move || served.render()),
            Some(health(state.clone())),
            shutdown_rx.clone(),
        )));
        info!(target: "node", %addr, "metrics at http://{addr}/metrics");
        Some(addr)
    } else {
        None
    };
    let (rpc, rpc_addr) = rpc::start(state.clone()).await?;
    info!(target: "node", addr = %rpc_addr, "JSON-RPC (HTTP and WebSocket) on {rpc_addr}");
    let producer = match tx_gossip_rx {
        Some(tx_gossip) => Producer::Consensus(
            crate::validator::start(
                &config,
                &genesis,
                genesis_hash,
                state.clone(),
                metrics.registry(),
                tx_gossip,
            )
            .await?,
        ),
        None => Producer::Sealer(tokio::spawn(sealer::run(state.clone(), shutdown_rx))),
    };
    Ok(NodeHandle {
        rpc_addr,
        metrics_addr,
        state,
        shutdown,
        rpc,
        producer,
        tasks,
    })
}
