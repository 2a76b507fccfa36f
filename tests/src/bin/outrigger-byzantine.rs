//! A byzantine peer for multi-process tests: a real libp2p node (the
//! consensus crate's network, so gossipsub signing, topics, block-sync
//! protocol and message encodings are exactly what validators speak) that
//! misbehaves toward real `outrigger` validators in the ways chosen by flags:
//!
//! - `--equivocate --validator-key FILE --rpc HOST:PORT`: signs, with a
//!   validator's key, a prevote for each proposed block it sees and a prevote
//!   for nil at the same height and round, and the same for precommits, so
//!   honest nodes hold two conflicting signed votes (slashable evidence). Its
//!   index in the set comes from `outrigger_validators` at `--rpc`; it stops
//!   signing once its key leaves the set. The key file is the node's format
//!   (hex, or a v3 keystore decrypted with `OUTRIGGER_KEY_PASSWORD`).
//! - `--flood`: hundreds of gossip messages a second: re-published valid
//!   votes (fresh nonces, so gossipsub sees new messages), undecodable
//!   votes, proposals and transactions, and votes over the size limit.
//! - `--flood-valid`: only the first kind, faster (about 2000 a second):
//!   genuine votes of the current height, each a new gossip message.
//! - `--flood-future`: about 2000 votes a second of heights a million
//!   above the newest it has seen, signed by a key that is not a
//!   validator's (nothing checks a vote that far ahead, so the signer does
//!   not matter).
//! - `--replay`: re-publishes valid votes it captured from gossip at heights
//!   at least two below the newest it has seen.
//! - `--forge`: for each proposal, votes for it signed by a key that is not
//!   a validator's, under validators' indices.
//! - `--bad-sync`: claims a head 20 blocks above the best honest peer's and
//!   answers block requests with blocks whose certificates are signed by
//!   keys that are not validators' (real blocks fetched from an honest
//!   bootnode where it can, made-up ones past the honest head).
//!
//! ```text
//! outrigger-byzantine --chain-id 1337 --bootnode /ip4/127.0.0.1/tcp/P/p2p/ID ...
//!     [--listen /ip4/127.0.0.1/tcp/P] [--seconds N] MODE...
//! ```
//!
//! It prints `peer id <id>` first, then once a second and at the end a
//! `stats` line: connected peers, connections and disconnections seen,
//! messages published, votes signed, sync requests answered. It runs until
//! killed, or for `--seconds`.

use std::{
    collections::{HashSet, VecDeque},
    io::Write as _,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_consensus::{BlockBody, Header};
use eyre::{Context as _, bail, eyre};
use outrigger_consensus::{
    codec,
    network::{
        self, GossipLimits, Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, PeerId, Status,
        SyncRequest, SyncResponse, Topic, Verdict,
    },
};
use outrigger_consensus_core::{
    BlockHash, ChainId, CommitCertificate, Height, Round, SignedVote, SigningKey, ValidatorIndex,
    Vote, VoteKind,
};
use outrigger_execution::block::Block;
use outrigger_tests::node_process::rpc;
use serde_json::json;

/// Votes captured from gossip for replays and duplicates, at most.
const CAPTURED_VOTES_MAX: usize = 2048;
/// How far above the best honest head the bad-sync peer claims to be.
const CLAIMED_LEAD: u64 = 20;
/// Made-up blocks in one bad-sync answer past the honest head, at most.
const MADE_UP_BLOCKS_MAX: u64 = 8;
/// How often the flooder and the replayer publish.
const TICK: Duration = Duration::from_millis(20);
/// Messages the flooder publishes per tick (about 500 a second).
const FLOOD_PER_TICK: usize = 10;
/// Re-published valid votes per tick under `--flood-valid`.
const FLOOD_VALID_PER_TICK: usize = 40;
/// How far above the newest height seen `--flood-future` votes are.
const FUTURE_LEAD: u64 = 1_000_000;
/// Old votes the replayer publishes per tick (about 100 a second).
const REPLAY_PER_TICK: usize = 2;
/// A vote this large is over every node's vote limit (1 KiB) but under the
/// transport limit of the votes topic, so the node sees and rejects it.
const OVERSIZED_VOTE_BYTES: usize = 1500;

#[derive(Debug, Default)]
struct Options {
    chain_id: u64,
    listen: Vec<Multiaddr>,
    bootnodes: Vec<Multiaddr>,
    seconds: Option<u64>,
    /// The validator key file and the RPC that names the set.
    equivocate: Option<(PathBuf, SocketAddr)>,
    flood: bool,
    flood_valid: bool,
    flood_future: bool,
    replay: bool,
    forge: bool,
    bad_sync: bool,
}

fn options() -> eyre::Result<Options> {
    let mut o = Options {
        chain_id: 1337,
        ..Options::default()
    };
    let mut key = None;
    let mut rpc_addr = None;
    let mut equivocate = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| eyre!("{arg} needs a value"));
        match arg.as_str() {
            "--chain-id" => o.chain_id = value()?.parse()?,
            "--listen" => o.listen.push(value()?.parse()?),
            "--bootnode" => o.bootnodes.push(value()?.parse()?),
            "--seconds" => o.seconds = Some(value()?.parse()?),
            "--validator-key" => key = Some(PathBuf::from(value()?)),
            "--rpc" => rpc_addr = Some(value()?.parse::<SocketAddr>()?),
            "--equivocate" => equivocate = true,
            "--flood" => o.flood = true,
            "--flood-valid" => o.flood_valid = true,
            "--flood-future" => o.flood_future = true,
            "--replay" => o.replay = true,
            "--forge" => o.forge = true,
            "--bad-sync" => o.bad_sync = true,
            other => bail!("unknown argument {other:?} (see the module docs)"),
        }
    }
    if equivocate {
        match (key, rpc_addr) {
            (Some(key), Some(rpc_addr)) => o.equivocate = Some((key, rpc_addr)),
            _ => bail!("--equivocate needs --validator-key FILE and --rpc HOST:PORT"),
        }
    }
    if o.bootnodes.is_empty() {
        bail!("give at least one --bootnode");
    }
    if o.listen.is_empty() {
        o.listen.push("/ip4/127.0.0.1/tcp/0".parse()?);
    }
    Ok(o)
}

/// Reads a validator key file as the node writes it: one hex line, or a
/// web3 v3 keystore whose passphrase is in `OUTRIGGER_KEY_PASSWORD`.
fn read_validator_key(path: &PathBuf) -> eyre::Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let bytes = if text.trim_start().starts_with('{') {
        let passphrase = std::env::var("OUTRIGGER_KEY_PASSWORD")
            .wrap_err("the key is encrypted: set OUTRIGGER_KEY_PASSWORD")?;
        eth_keystore::decrypt_key(path, passphrase)
            .map_err(|e| eyre!("decrypting {}: {e}", path.display()))?
    } else {
        alloy_primitives::hex::decode(text.trim())
            .wrap_err_with(|| format!("{} is not hex", path.display()))?
    };
    let secret: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| eyre!("{}: {} bytes, expected 32", path.display(), b.len()))?;
    Ok(SigningKey::from_bytes(&secret))
}

fn random_key() -> SigningKey {
    SigningKey::from_bytes(&rand08::random::<[u8; 32]>())
}

/// Counters printed on the `stats` lines.
#[derive(Default)]
struct Stats {
    connected: AtomicU64,
    disconnected: AtomicU64,
    published: AtomicU64,
    publish_errors: AtomicU64,
    signed: AtomicU64,
    sync_answers: AtomicU64,
}

/// What the peer learnt from gossip.
#[derive(Default)]
struct Seen {
    /// The highest height of a proposal, vote or decision.
    height: u64,
    /// Valid-looking votes, newest last.
    votes: VecDeque<SignedVote>,
    /// Where the replayer is in `votes`.
    replay_cursor: usize,
    /// (height, round, equivocation or forgery) already acted on.
    acted: HashSet<(u64, u32, bool)>,
    /// The last status an honest peer gave us.
    honest_status: Option<Status>,
    /// The equivocating key's index in the set, as last looked up: signing
    /// must not wait for an RPC round trip, or the honest three have
    /// decided the height before the conflicting votes arrive.
    validator_index: Option<ValidatorIndex>,
}

/// The running peer: network handle and shared state.
#[derive(Clone)]
struct Peer {
    network: NetworkHandle,
    chain_id: ChainId,
    bootnodes: Arc<Vec<PeerId>>,
    stats: Arc<Stats>,
    seen: Arc<Mutex<Seen>>,
    nonce: Arc<AtomicU64>,
    /// The equivocating validator's key and the RPC naming the set.
    validator: Option<Arc<(SigningKey, SocketAddr)>>,
    /// The key of `--forge` and `--bad-sync` signatures: no validator's.
    outsider: Arc<SigningKey>,
}

impl Peer {
    fn nonce(&self) -> u64 {
        self.nonce.fetch_add(1, Ordering::Relaxed)
    }

    async fn publish(&self, topic: Topic, data: Vec<u8>) {
        match self.network.publish(topic, data).await {
            Ok(()) => self.stats.published.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.stats.publish_errors.fetch_add(1, Ordering::Relaxed),
        };
    }

    async fn publish_vote(&self, vote: &SignedVote) {
        let data = codec::encode_vote(vote, self.nonce());
        self.publish(Topic::Votes, data).await;
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        // A panic while holding the lock ends the process anyway.
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records gossip; returns a proposal's (height, round, value).
    fn observe(&self, topic: Topic, data: &[u8]) -> Option<(Height, Round, BlockHash)> {
        let mut seen = self.seen();
        match topic {
            Topic::Votes => {
                let vote = codec::decode_vote(data).ok()?;
                seen.height = seen.height.max(vote.vote.height.0);
                if seen.votes.len() >= CAPTURED_VOTES_MAX {
                    seen.votes.pop_front();
                    seen.replay_cursor = seen.replay_cursor.saturating_sub(1);
                }
                seen.votes.push_back(vote);
                None
            }
            Topic::Proposals => {
                let message = codec::decode_proposal(data).ok()?;
                let p = message.proposal.proposal;
                seen.height = seen.height.max(p.height.0);
                Some((p.height, p.round, p.value))
            }
            Topic::Decisions => {
                let certificate = codec::decode_decision(data).ok()?;
                seen.height = seen.height.max(certificate.height.0);
                None
            }
            Topic::Transactions => None,
        }
    }

    /// Marks (height, round, kind of act) as done; false if it was.
    fn first_time(&self, height: Height, round: Round, equivocation: bool) -> bool {
        let mut seen = self.seen();
        let newest = seen.height;
        seen.acted
            .retain(|(h, _, _)| h.saturating_add(16) >= newest);
        seen.acted.insert((height.0, round.0, equivocation))
    }

    /// Prevote and precommit both the proposed block and nil, as the
    /// validator, at the proposal's height and round.
    async fn equivocate(&self, height: Height, round: Round, value: BlockHash) {
        let Some(validator) = self.validator.clone() else {
            return;
        };
        if !self.first_time(height, round, true) {
            return;
        }
        let cached = self.seen().validator_index;
        let lookup = self.clone().refresh_validator_index();
        let index = match cached {
            Some(index) => {
                // Refreshed for the next height while this one is signed.
                tokio::spawn(lookup);
                index
            }
            None => match lookup.await {
                Some(index) => index,
                None => {
                    println!("height {height}: our key is not in the validator set; not signing");
                    return;
                }
            },
        };
        let mut votes = Vec::new();
        for kind in [VoteKind::Prevote, VoteKind::Precommit] {
            for value in [Some(value), None] {
                let vote = Vote {
                    kind,
                    height,
                    round,
                    value,
                    validator: index,
                };
                votes.push(vote.sign(self.chain_id, &validator.0));
            }
        }
        self.stats
            .signed
            .fetch_add(votes.len() as u64, Ordering::Relaxed);
        // Twice: a node that was a step behind when the first copies came
        // (and dropped them) holds the conflict after the second.
        for pass in 0..2 {
            if pass == 1 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            for vote in &votes {
                self.publish_vote(vote).await;
            }
        }
    }

    /// Looks the equivocating key up in the current set and caches the
    /// answer; `None` when it is not a member (or the lookup failed).
    async fn refresh_validator_index(self) -> Option<ValidatorIndex> {
        let validator = self.validator.clone()?;
        let rpc_addr = validator.1;
        let public = validator.0.verifying_key();
        let found = tokio::task::spawn_blocking(move || validator_index(rpc_addr, &public)).await;
        let index = match found {
            Ok(Ok(index)) => index,
            Ok(Err(e)) => {
                println!("no validator set: {e}");
                None
            }
            Err(e) => {
                println!("validator set lookup failed: {e}");
                None
            }
        };
        self.seen().validator_index = index;
        index
    }

    /// Votes for the proposal signed by the outsider under the indices of
    /// the first validators.
    async fn forge(&self, height: Height, round: Round, value: BlockHash) {
        if !self.first_time(height, round, false) {
            return;
        }
        for index in 0..3 {
            for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                let vote = Vote {
                    kind,
                    height,
                    round,
                    value: Some(value),
                    validator: ValidatorIndex(index),
                }
                .sign(self.chain_id, &self.outsider);
                self.stats.signed.fetch_add(1, Ordering::Relaxed);
                self.publish_vote(&vote).await;
            }
        }
    }

    /// One volley of the flood: duplicates of the newest captured votes,
    /// then, if `garbage`, garbage on every topic a node validates and an
    /// oversized vote.
    async fn flood(&self, garbage: bool) {
        let duplicates: Vec<SignedVote> = {
            let seen = self.seen();
            let count = if garbage {
                FLOOD_PER_TICK / 2
            } else {
                FLOOD_VALID_PER_TICK
            };
            seen.votes.iter().rev().take(count).cloned().collect()
        };
        for vote in &duplicates {
            self.publish_vote(vote).await;
        }
        if !garbage {
            return;
        }
        let junk = |len: usize| -> Vec<u8> {
            let mut bytes: Vec<u8> = (0..len).map(|_| rand08::random::<u8>()).collect();
            // Not the wire version: undecodable by construction.
            bytes[0] = 0xee;
            bytes
        };
        self.publish(Topic::Votes, junk(codec::VOTE_LEN + 9)).await;
        self.publish(Topic::Proposals, junk(600)).await;
        self.publish(Topic::Transactions, junk(200)).await;
        let mut oversized = codec::encode_vote(
            &Vote {
                kind: VoteKind::Prevote,
                height: Height(self.seen().height.max(1)),
                round: Round(0),
                value: None,
                validator: ValidatorIndex(0),
            }
            .sign(self.chain_id, &self.outsider),
            self.nonce(),
        );
        oversized.resize(OVERSIZED_VOTE_BYTES, 0);
        self.publish(Topic::Votes, oversized).await;
    }

    /// One volley of votes of heights far beyond any honest head.
    async fn flood_future(&self) {
        let height = self.seen().height.saturating_add(FUTURE_LEAD);
        for n in 0..FLOOD_VALID_PER_TICK as u64 {
            let vote = Vote {
                kind: VoteKind::Prevote,
                height: Height(height + n),
                round: Round(0),
                value: None,
                validator: ValidatorIndex(0),
            }
            .sign(self.chain_id, &self.outsider);
            self.stats.signed.fetch_add(1, Ordering::Relaxed);
            self.publish_vote(&vote).await;
        }
    }

    /// Re-publishes captured votes at least two heights old.
    async fn replay(&self) {
        let old: Vec<SignedVote> = {
            let mut seen = self.seen();
            let newest = seen.height;
            let mut picked = Vec::new();
            let len = seen.votes.len();
            for _ in 0..len {
                if picked.len() >= REPLAY_PER_TICK {
                    break;
                }
                let at = seen.replay_cursor % len;
                seen.replay_cursor = at + 1;
                let vote = &seen.votes[at];
                if vote.vote.height.0 + 2 <= newest {
                    picked.push(vote.clone());
                }
            }
            picked
        };
        for vote in &old {
            self.publish_vote(vote).await;
        }
    }

    /// An honest bootnode we are connected to, other than `not`.
    async fn honest_peer(&self, not: PeerId) -> Option<PeerId> {
        self.network
            .peers()
            .await
            .into_iter()
            .map(|p| p.peer_id)
            .find(|p| *p != not && self.bootnodes.contains(p))
    }

    /// Answers a sync request: with lies under `--bad-sync`, else an error.
    async fn answer_sync(
        &self,
        peer: PeerId,
        request: SyncRequest,
        bad_sync: bool,
    ) -> SyncResponse {
        if !bad_sync {
            return SyncResponse::Error("not serving".into());
        }
        // Once the honest nodes have banned us, we go on lying from what
        // we learnt from them.
        let honest = self.honest_peer(peer).await;
        let response = match request {
            SyncRequest::Status => {
                if let Some(honest) = honest
                    && let Ok(SyncResponse::Status(status)) =
                        self.network.request(honest, SyncRequest::Status).await
                {
                    self.seen().honest_status = Some(status);
                }
                let status = self.seen().honest_status;
                match status {
                    Some(status) => SyncResponse::Status(Status {
                        head: status.head.max(self.seen().height) + CLAIMED_LEAD,
                        ..status
                    }),
                    None => SyncResponse::Error("busy".into()),
                }
            }
            SyncRequest::Blocks { from, count } => {
                let mut real = Vec::new();
                if let Some(honest) = honest
                    && let Ok(SyncResponse::Blocks(blocks)) = self
                        .network
                        .request(honest, SyncRequest::Blocks { from, count })
                        .await
                {
                    real = blocks;
                }
                SyncResponse::Blocks(self.bad_blocks(from, count, real))
            }
        };
        self.stats.sync_answers.fetch_add(1, Ordering::Relaxed);
        response
    }

    /// The real blocks with certificates re-signed by the outsider, then
    /// made-up blocks up to `count`: every certificate is bad.
    fn bad_blocks(&self, from: u64, count: u32, real: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut parent = Default::default();
        for bytes in real {
            let Ok(synced) = codec::decode_synced_block(&bytes) else {
                break;
            };
            parent = synced.block.header.hash_slow();
            let certificate = self.outsider_certificate(&synced.certificate);
            out.push(codec::encode_synced_block(
                &codec::encode_certificate(&certificate),
                &synced.block,
            ));
        }
        let made_up = u64::from(count)
            .saturating_sub(out.len() as u64)
            .min(MADE_UP_BLOCKS_MAX);
        let start = from + out.len() as u64;
        for number in start..start + made_up {
            let block = Block {
                header: Header {
                    number,
                    parent_hash: parent,
                    gas_limit: 30_000_000,
                    timestamp: number,
                    ..Default::default()
                },
                body: BlockBody::default(),
            };
            let hash = block.header.hash_slow();
            parent = hash;
            let certificate = self.outsider_certificate(&CommitCertificate {
                height: Height(number),
                round: Round(0),
                value: BlockHash(hash.0),
                signatures: Vec::new(),
            });
            out.push(codec::encode_synced_block(
                &codec::encode_certificate(&certificate),
                &block,
            ));
        }
        out
    }

    /// `certificate` for the same block, with precommits from the outsider
    /// under the indices of the first three validators: well formed,
    /// signed by no validator.
    fn outsider_certificate(&self, certificate: &CommitCertificate) -> CommitCertificate {
        let signatures = (0..3)
            .map(|i| {
                let vote = Vote {
                    kind: VoteKind::Precommit,
                    height: certificate.height,
                    round: certificate.round,
                    value: Some(certificate.value),
                    validator: ValidatorIndex(i),
                }
                .sign(self.chain_id, &self.outsider);
                (ValidatorIndex(i), vote.signature)
            })
            .collect();
        CommitCertificate {
            signatures,
            ..certificate.clone()
        }
    }
}

/// Our index in the set `outrigger_validators` names (sorted by key, as
/// the consensus core sorts it), if we are in it.
fn validator_index(
    rpc_addr: SocketAddr,
    public: &outrigger_consensus_core::VerifyingKey,
) -> eyre::Result<Option<ValidatorIndex>> {
    let set = rpc(rpc_addr, "outrigger_validators", json!([]))?;
    let mut keys = Vec::new();
    for v in set["validators"]
        .as_array()
        .ok_or_else(|| eyre!("no validators in {set}"))?
    {
        let hex = v["publicKey"]
            .as_str()
            .ok_or_else(|| eyre!("no publicKey in {v}"))?;
        keys.push(alloy_primitives::hex::decode(hex)?);
    }
    keys.sort();
    Ok(keys
        .iter()
        .position(|k| k.as_slice() == public.as_bytes())
        .map(|i| ValidatorIndex(i as u32)))
}

/// The sum of a counter's samples in `registry` whose labels include
/// `label`.
fn counter(registry: &prometheus::Registry, name: &str, label: (&str, &str)) -> u64 {
    registry
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == label.0 && l.value() == label.1)
        })
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

fn print_stats(peer: &Peer, registry: &prometheus::Registry, started: Instant, peers: usize) {
    let s = &peer.stats;
    // Publishing with no peer left succeeds too; these reached a peer.
    let delivered = counter(
        registry,
        "outrigger_p2p_gossip_messages_total",
        ("direction", "out"),
    );
    println!(
        "stats secs={} peers={peers} connected={} disconnected={} published={} delivered={delivered} publish_errors={} signed={} sync_answers={} height={}",
        started.elapsed().as_secs(),
        s.connected.load(Ordering::Relaxed),
        s.disconnected.load(Ordering::Relaxed),
        s.published.load(Ordering::Relaxed),
        s.publish_errors.load(Ordering::Relaxed),
        s.signed.load(Ordering::Relaxed),
        s.sync_answers.load(Ordering::Relaxed),
        peer.seen().height,
    );
    let _ = std::io::stdout().flush();
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let options = options()?;
    let validator = match &options.equivocate {
        Some((path, rpc_addr)) => Some(Arc::new((read_validator_key(path)?, *rpc_addr))),
        None => None,
    };
    let mut config = NetworkConfig::new(
        options.chain_id,
        network::keypair_from_ed25519_secret(rand08::random()),
    );
    config.listen = options.listen.clone();
    config.bootnodes = options.bootnodes.clone();
    config.redial_backoff_max = Duration::from_secs(5);
    // Our own limit must let the oversized votes out.
    config.gossip_message_bytes_max = GossipLimits {
        vote_bytes_max: OVERSIZED_VOTE_BYTES,
        ..GossipLimits::default()
    };
    let registry = prometheus::Registry::new();
    let (network, mut events) = network::spawn(config, &registry)?;
    println!("peer id {}", network.local_peer_id());
    let _ = std::io::stdout().flush();
    let peer = Peer {
        network: network.clone(),
        chain_id: ChainId(options.chain_id),
        bootnodes: Arc::new(bootnode_ids(&options.bootnodes)?),
        stats: Arc::new(Stats::default()),
        seen: Arc::new(Mutex::new(Seen::default())),
        nonce: Arc::new(AtomicU64::new(rand08::random::<u32>().into())),
        validator,
        outsider: Arc::new(random_key()),
    };
    let started = Instant::now();
    let deadline = options
        .seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut tick = tokio::time::interval(TICK);
    let mut report = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                on_event(&peer, &options, event);
            }
            _ = tick.tick() => {
                if options.flood || options.flood_valid {
                    peer.flood(options.flood).await;
                }
                if options.flood_future {
                    peer.flood_future().await;
                }
                if options.replay {
                    peer.replay().await;
                }
            }
            _ = report.tick() => {
                print_stats(&peer, &registry, started, network.peers().await.len());
            }
            _ = sleep_until(deadline) => break,
        }
    }
    print_stats(&peer, &registry, started, network.peers().await.len());
    network.shutdown().await;
    Ok(())
}

fn on_event(peer: &Peer, options: &Options, event: NetworkEvent) {
    match event {
        NetworkEvent::Gossip {
            topic, id, data, ..
        } => {
            // Nothing is forwarded: the honest nodes reach each other.
            peer.network.validated(id, Verdict::Ignore);
            if let Some((height, round, value)) = peer.observe(topic, &data) {
                if peer.validator.is_some() {
                    let peer = peer.clone();
                    tokio::spawn(async move { peer.equivocate(height, round, value).await });
                }
                if options.forge {
                    let peer = peer.clone();
                    tokio::spawn(async move { peer.forge(height, round, value).await });
                }
            }
        }
        NetworkEvent::SyncRequest {
            peer: from,
            request,
            respond,
        } => {
            let peer = peer.clone();
            let bad_sync = options.bad_sync;
            tokio::spawn(async move {
                let response = peer.answer_sync(from, request, bad_sync).await;
                let _ = respond.send(response);
            });
        }
        NetworkEvent::PeerConnected(id) => {
            peer.stats.connected.fetch_add(1, Ordering::Relaxed);
            println!("connected {id}");
        }
        NetworkEvent::PeerDisconnected(id) => {
            peer.stats.disconnected.fetch_add(1, Ordering::Relaxed);
            println!("disconnected {id}");
        }
    }
}

/// The peer ids at the end of the bootnode addresses.
fn bootnode_ids(addresses: &[Multiaddr]) -> eyre::Result<Vec<PeerId>> {
    addresses
        .iter()
        .map(|a| {
            let text = a.to_string();
            let id = text
                .rsplit("/p2p/")
                .next()
                .filter(|_| text.contains("/p2p/"))
                .ok_or_else(|| eyre!("bootnode {a} does not end in /p2p/<peer id>"))?;
            id.parse::<PeerId>()
                .map_err(|e| eyre!("bootnode {a}: peer id: {e}"))
        })
        .collect()
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
