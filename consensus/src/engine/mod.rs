//! The consensus engine: one task that owns the core's [`RoundState`] and
//! carries out its outputs with real timers, the WAL, the validator key,
//! the network and the chain ([`Application`]).
//!
//! - Gossip in: every proposal, vote and decision is decoded and its
//!   signature checked against the validator set of its height before the
//!   core sees it; the verdict goes back to the network, which forwards only
//!   accepted messages and charges the sender for rejected ones. Messages of
//!   past heights, and of heights beyond the next, are ignored (block sync
//!   serves a node that far behind).
//! - Signing: the [`Wal`] record is fsynced before a signature is made;
//!   the signed message is then published and fed back into the core.
//! - Values: the proposer's block is built off the task
//!   ([`Application::propose`]); every proposal is executed off the task
//!   ([`Application::validate`]) before the core may prevote it; the result
//!   stays in the application so that commit is a write.
//! - Decisions: the block is committed with its certificate, the
//!   certificate is gossiped (so that peers that missed precommits decide
//!   at once), and the next height starts.
//! - Block sync: every `sync.interval` the engine asks peers for their head;
//!   if one is ahead, it fetches blocks with certificates in batches, checks
//!   each certificate against the set of its height, imports them and moves
//!   the core to the height after.
//! - Validator sets: the application names the members of each height's
//!   epoch ([`Application::validators`]); proposer priorities start from
//!   zero at an epoch's first height and advance once per height. The set
//!   of a new epoch is fixed by the last block of the epoch before, so a
//!   syncing node learns it by importing that block before it checks the
//!   next certificate.
//! - Liveness after restarts and lost messages: when a height makes no
//!   progress for `rebroadcast_after`, the engine re-publishes the messages
//!   it signed at that height (gossipsub does not repeat old messages).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use outrigger_consensus_core::{
    BlockHash, Config as CoreConfig, Height, Input, Output, RoundState, SigningKey, Step,
    ValidatorSet, VoteKind,
};
use outrigger_execution::block::Block;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tracing::{debug, info, warn};

mod gossip;
mod sync;
mod txs;

use crate::{
    app::{AppError, Application, EpochValidators},
    codec::{self, ProposalMessage},
    metrics::EngineMetrics,
    network::{GossipId, NetworkEvent, NetworkHandle, PeerId, Status, Topic},
    wal::{Wal, WalError},
};

/// How the engine runs besides the core's own configuration.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The core's chain id, timeouts and memory limits.
    pub core: CoreConfig,
    /// This validator's key; `None` for a full node that only follows.
    pub signing_key: Option<SigningKey>,
    /// Where the WAL lives.
    pub wal_dir: PathBuf,
    /// Block sync.
    pub sync: SyncConfig,
    /// A height without progress for this long re-publishes what this
    /// validator signed at it.
    pub rebroadcast_after: Duration,
    /// Proposed blocks kept per height (two per round at most are valid
    /// proposals; more is an attack).
    pub proposal_blocks_max: usize,
    /// Least time from the start of a height to the start of the next
    /// (CometBFT's `timeout_commit`): the block rate when the network is
    /// faster. Messages of the next height are buffered meanwhile.
    pub block_interval: Duration,
}

/// Block sync settings.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// How often peers are asked for their head.
    pub interval: Duration,
    /// Blocks asked for per request.
    pub batch_blocks: u32,
    /// Most bytes served in one response.
    pub response_bytes_max: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            batch_blocks: 64,
            response_bytes_max: 16 << 20,
        }
    }
}

/// Why the engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The WAL failed: signing without it could double-sign.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// The chain failed (the store).
    #[error("the chain failed: {0}")]
    App(String),
    /// The core refused its configuration.
    #[error("consensus configuration: {0}")]
    Config(String),
}

/// A block sync in progress: from which head, to which peer-reported one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRange {
    /// The head when this sync began.
    pub start: u64,
    /// The highest head a peer reported.
    pub target: u64,
}

/// A running engine.
#[derive(Debug)]
pub struct EngineHandle {
    shutdown: watch::Sender<bool>,
    /// `None` once [`EngineHandle::failed`] has seen it end.
    task: Option<JoinHandle<Result<(), EngineError>>>,
    sync: watch::Receiver<Option<SyncRange>>,
}

impl EngineHandle {
    /// Whether the node is catching up by block sync (`eth_syncing`).
    pub fn sync_status(&self) -> watch::Receiver<Option<SyncRange>> {
        self.sync.clone()
    }

    /// Stops the engine and waits for it.
    pub async fn shutdown(self) -> Result<(), EngineError> {
        let _ = self.shutdown.send(true);
        let Some(task) = self.task else {
            // Already ended, and `failed` reported why.
            return Ok(());
        };
        match task.await {
            Ok(result) => result,
            Err(e) => Err(EngineError::App(format!("engine task panicked: {e}"))),
        }
    }

    /// Resolves when the engine stops by itself, which only a fatal error
    /// does (once; after that it never resolves).
    pub async fn failed(&mut self) -> EngineError {
        let Some(task) = self.task.as_mut() else {
            return std::future::pending().await;
        };
        let result = task.await;
        self.task = None;
        match result {
            Ok(Ok(())) => EngineError::App("the consensus engine stopped".into()),
            Ok(Err(e)) => e,
            Err(e) => EngineError::App(format!("engine task panicked: {e}")),
        }
    }
}

/// Results of work done off the engine task.
enum Internal {
    Timeout(outrigger_consensus_core::Timeout),
    Proposed {
        height: Height,
        round: outrigger_consensus_core::Round,
        result: Result<Box<Block>, AppError>,
    },
    Validated {
        height: Height,
        value: BlockHash,
        result: Result<bool, AppError>,
    },
    Statuses(Vec<(PeerId, Status)>),
    Fetched {
        peer: PeerId,
        blocks: Vec<Vec<u8>>,
    },
    SyncDone,
}

/// Messages of the next height kept while its validator set is unknown (it
/// starts an epoch that the head has not fixed yet).
const EARLY_MESSAGES_MAX: usize = 256;
/// Their bytes at most (a proposal carries its block).
const EARLY_BYTES_MAX: usize = 16 << 20;

/// Copies of held votes and messages of past heights a peer may send per
/// second before it is penalised:
/// this plus [`DUPLICATES_PER_SECOND_PER_VALIDATOR`] per validator (honest
/// rebroadcasts of a stalled height stay far below).
const DUPLICATES_PER_SECOND_BASE: u32 = 64;
/// See [`DUPLICATES_PER_SECOND_BASE`].
const DUPLICATES_PER_SECOND_PER_VALIDATOR: u32 = 16;
/// A peer sending this many times its allowance of useless messages in one
/// second is banned at once (penalties alone lose the race against gossip
/// pruning it, after which its flood no longer reaches the engine).
const DUPLICATES_BAN_FACTOR: u32 = 2;
/// Peers whose duplicate counts are kept at once.
const DUPLICATE_PEERS_MAX: usize = 1024;
/// Heights past the best head peers reported (or this node's, if higher)
/// that an honest message may still carry, per second of the sync
/// interval: the chain moves on between two status rounds, by up to ~90
/// empty blocks a second at block time 0. A message beyond, while this
/// node follows consensus, is junk and counts against its sender.
const AHEAD_HORIZON_PER_SECOND: u64 = 1024;

/// Capacity of the engine's internal channel.
const INTERNAL_CHANNEL: usize = 1024;
/// Gossip messages published again on a rebroadcast: all this validator
/// signed at the height (the WAL keeps at most this many). Not just the
/// newest: a peer that restarted has lost the prevotes of earlier rounds,
/// and without the polka of a proposal's valid round it cannot accept the
/// proposal (Alg. 1, line 28), so the height could stall.
const REBROADCAST_MESSAGES: usize = crate::wal::MESSAGES_MAX;

/// Starts the engine on the chain's head.
pub fn spawn(
    config: EngineConfig,
    app: Arc<dyn Application>,
    network: NetworkHandle,
    events: mpsc::Receiver<NetworkEvent>,
    metrics: EngineMetrics,
) -> Result<EngineHandle, EngineError> {
    let wal = Wal::open(&config.wal_dir)?;
    let our_key = config.signing_key.as_ref().map(SigningKey::verifying_key);
    let core = RoundState::new(config.core.clone(), our_key, wal.record().last_signed)
        .map_err(|e| EngineError::Config(e.to_string()))?;
    let (head, _) = app.head().map_err(|e| EngineError::App(e.to_string()))?;
    let (epoch_start, validators) = set_of(app.as_ref(), head + 1)?
        .ok_or_else(|| EngineError::App(format!("no validator set for block #{}", head + 1)))?;
    let tx_checker = txs::app_checker(app.clone(), network.clone())
        .map_err(|e| EngineError::Config(format!("transaction checking thread: {e}")))?;
    let (internal_tx, internal_rx) = mpsc::channel(INTERNAL_CHANNEL);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (sync_status, sync) = watch::channel(None);
    let engine = Engine {
        chain_id: config.core.chain_id.0,
        core,
        validators,
        validators_height: Height(head + 1),
        epoch_start,
        next_validators: None,
        early: Vec::new(),
        duplicates: HashMap::new(),
        wal,
        app,
        network,
        metrics,
        tx_checker,
        internal: internal_tx,
        blocks: HashMap::new(),
        awaiting_block: HashSet::new(),
        height_started: Instant::now(),
        last_rebroadcast: Instant::now(),
        syncing: false,
        sync_target: 0,
        peers_head: None,
        sync_progress: None,
        sync_status,
        next_height_at: None,
        nonce: rand::random(),
        config,
    };
    let task = tokio::spawn(engine.run(events, internal_rx, shutdown_rx));
    Ok(EngineHandle {
        shutdown,
        task: Some(task),
        sync,
    })
}

/// The set of `height` and its epoch's first height: the epoch's members,
/// their proposer priorities advanced once per height since the epoch
/// began (since height 1 in epoch 0). `None` while the set is not fixed.
fn set_of(app: &dyn Application, height: u64) -> Result<Option<(u64, ValidatorSet)>, EngineError> {
    epoch_of(app, height)?
        .map(|epoch| epoch_set_at(epoch, height))
        .transpose()
}

/// The validators of the epoch `height` falls in, as the app stores them
/// (`None` while that epoch's set is not fixed).
fn epoch_of(app: &dyn Application, height: u64) -> Result<Option<EpochValidators>, EngineError> {
    app.validators(height)
        .map_err(|e| EngineError::App(e.to_string()))
}

/// `epoch`'s set as of `height`: its priorities advanced once per height
/// since the epoch began. The work grows with the heights since then, so
/// the engine calls it on entering an epoch (or at start), and steps the
/// set it holds one height at a time otherwise.
fn epoch_set_at(epoch: EpochValidators, height: u64) -> Result<(u64, ValidatorSet), EngineError> {
    let mut set = ValidatorSet::new(epoch.validators)
        .map_err(|e| EngineError::Config(format!("the validator set of block #{height}: {e}")))?;
    for _ in epoch.first_height.max(1)..height {
        set = set.for_next_height();
    }
    Ok((epoch.first_height, set))
}

struct Engine {
    chain_id: u64,
    config: EngineConfig,
    core: RoundState,
    /// The set of the core's height, `validators_height`.
    validators: ValidatorSet,
    validators_height: Height,
    /// The first height of `validators`' epoch.
    epoch_start: u64,
    /// The set of the height after the core's, when it is known (it is not
    /// before the head closes an epoch).
    next_validators: Option<ValidatorSet>,
    /// Gossip of the next height that arrived while its set was unknown.
    early: Vec<(Topic, Vec<u8>)>,
    /// Useless messages (copies, past heights) per peer in the current
    /// one-second window.
    duplicates: HashMap<PeerId, (Instant, u32)>,
    wal: Wal,
    app: Arc<dyn Application>,
    network: NetworkHandle,
    metrics: EngineMetrics,
    /// Gossiped transaction batches on their way to the app.
    tx_checker: txs::TxChecker<GossipId>,
    internal: mpsc::Sender<Internal>,
    /// Blocks proposed at the current and the next height, by hash.
    blocks: HashMap<BlockHash, (Height, Block)>,
    /// Values the core asked to validate whose block has not arrived.
    awaiting_block: HashSet<BlockHash>,
    height_started: Instant,
    last_rebroadcast: Instant,
    syncing: bool,
    /// The highest head a peer reported while syncing.
    sync_target: u64,
    /// The best head peers reported in the last status round; `None`
    /// before the first.
    peers_head: Option<u64>,
    /// When syncing started and from which head, for the progress log.
    sync_progress: Option<(Instant, u64)>,
    /// The same, published for `eth_syncing`.
    sync_status: watch::Sender<Option<SyncRange>>,
    /// When to start the next height after a decision.
    next_height_at: Option<tokio::time::Instant>,
    /// Distinguishes re-broadcasts for gossipsub; not signed.
    nonce: u64,
}

impl Engine {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<NetworkEvent>,
        mut internal: mpsc::Receiver<Internal>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), EngineError> {
        self.start().await?;
        let mut tick = tokio::time::interval(self.config.sync.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopped(&mut shutdown) => break,
                event = events.recv() => match event {
                    Some(event) => self.on_network(event).await?,
                    None => break,
                },
                Some(message) = internal.recv() => self.on_internal(message).await?,
                _ = tick.tick() => self.on_tick().await,
                () = sleep_until(self.next_height_at) => {
                    self.next_height_at = None;
                    self.advance_to_head().await?;
                }
            }
        }
        info!(target: "consensus", height = %self.core.height(), "engine stopped");
        Ok(())
    }

    /// Starts the core at the height after the head and replays what this
    /// validator signed at it before a restart.
    async fn start(&mut self) -> Result<(), EngineError> {
        let height = self.core_height_from_head()?;
        let record = self.wal.record().clone();
        info!(
            target: "consensus",
            %height,
            validators = self.validators.len(),
            validator = self.config.signing_key.is_some(),
            resumed = ?record.last_signed,
            "consensus starting"
        );
        self.start_height(height).await?;
        if record.last_signed.is_some_and(|l| l.height == height) {
            for message in &record.messages {
                if let Some(input) = self.decode_own(message) {
                    self.feed(input).await?;
                }
            }
            self.rebroadcast().await;
        }
        Ok(())
    }

    fn core_height_from_head(&self) -> Result<Height, EngineError> {
        let (head, _) = self
            .app
            .head()
            .map_err(|e| EngineError::App(e.to_string()))?;
        Ok(Height(head + 1))
    }

    fn decode_own(&mut self, message: &[u8]) -> Option<Input> {
        if let Ok(vote) = codec::decode_vote(message) {
            return Some(Input::Vote(vote));
        }
        let proposal = codec::decode_proposal(message).ok()?;
        let p = &proposal.proposal.proposal;
        self.blocks.insert(p.value, (p.height, proposal.block));
        Some(Input::Proposal(proposal.proposal))
    }

    async fn start_height(&mut self, height: Height) -> Result<(), EngineError> {
        self.next_height_at = None;
        // Proposals of this height that arrived early stay.
        self.blocks.retain(|_, (h, _)| *h == height);
        self.awaiting_block.clear();
        self.next_validators = match height.next() {
            Some(next) => match epoch_of(self.app.as_ref(), next.0)? {
                Some(epoch) if epoch.first_height == self.epoch_start => {
                    Some(self.validators.for_next_height())
                }
                Some(epoch) => Some(epoch_set_at(epoch, next.0)?.1),
                None => None,
            },
            None => None,
        };
        self.height_started = Instant::now();
        self.last_rebroadcast = Instant::now();
        self.metrics.height.set(height.0 as i64);
        self.feed(Input::StartHeight {
            height,
            validators: self.validators.clone(),
        })
        .await?;
        self.replay_early().await
    }

    /// Applies `input` and carries out the outputs, including the inputs
    /// they lead to (our own signed messages).
    async fn feed(&mut self, input: Input) -> Result<(), EngineError> {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let round_before = self.core.round();
            let outputs = self.core.apply(input);
            if self.core.round() > round_before && self.core.round().0 > 0 {
                self.metrics.round_changes.inc();
                debug!(target: "consensus", height = %self.core.height(), round = %self.core.round(), "new round");
            }
            for output in outputs {
                self.carry_out(output, &mut queue).await?;
            }
        }
        self.metrics.round.set(i64::from(self.core.round().0));
        self.metrics.step.set(match self.core.step() {
            Step::Unstarted => 0,
            Step::Propose => 1,
            Step::Prevote => 2,
            Step::Precommit => 3,
            Step::Commit => 4,
        });
        Ok(())
    }

    async fn carry_out(
        &mut self,
        output: Output,
        queue: &mut VecDeque<Input>,
    ) -> Result<(), EngineError> {
        match output {
            Output::SignProposal { proposal, record } => {
                let Some(key) = &self.config.signing_key else {
                    return Ok(());
                };
                let Some((_, block)) = self.blocks.get(&proposal.value).cloned() else {
                    warn!(target: "consensus", value = %proposal.value, "no block for our proposal");
                    return Ok(());
                };
                let signed = proposal.sign(self.config.core.chain_id, key);
                let bytes = codec::encode_proposal(
                    &ProposalMessage {
                        proposal: signed.clone(),
                        block,
                    },
                    self.next_nonce(),
                );
                // The record is on disk before the signature leaves the node.
                self.wal.append(record, bytes.clone())?;
                self.metrics.signed.with_label_values(&["proposal"]).inc();
                info!(
                    target: "consensus",
                    height = %proposal.height,
                    round = %proposal.round,
                    value = %proposal.value,
                    "proposing"
                );
                self.publish(Topic::Proposals, bytes).await;
                queue.push_back(Input::Proposal(signed));
            }
            Output::SignVote { vote, record } => {
                let Some(key) = &self.config.signing_key else {
                    return Ok(());
                };
                let signed = vote.sign(self.config.core.chain_id, key);
                let bytes = codec::encode_vote(&signed, self.next_nonce());
                self.wal.append(record, bytes.clone())?;
                self.metrics
                    .signed
                    .with_label_values(&[vote_label(vote.kind)])
                    .inc();
                self.publish(Topic::Votes, bytes).await;
                queue.push_back(Input::Vote(signed));
            }
            Output::ScheduleTimeout { timeout, duration } => {
                let internal = self.internal.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(duration).await;
                    let _ = internal.send(Internal::Timeout(timeout)).await;
                });
            }
            Output::RequestValue { height, round } => {
                let app = self.app.clone();
                let internal = self.internal.clone();
                tokio::task::spawn_blocking(move || {
                    let result = app.propose(height.0).map(Box::new);
                    let _ = internal.blocking_send(Internal::Proposed {
                        height,
                        round,
                        result,
                    });
                });
            }
            Output::ValidateValue { height, value } => match self.blocks.get(&value) {
                Some((_, block)) => self.spawn_validation(height, value, block.clone()),
                None => {
                    self.awaiting_block.insert(value);
                }
            },
            Output::Decide(decision) => {
                let seal = codec::encode_certificate(&decision.certificate);
                let app = self.app.clone();
                let value = decision.value.0;
                let committed = tokio::task::spawn_blocking(move || app.commit(value, &seal))
                    .await
                    .map_err(|e| EngineError::App(format!("commit task: {e}")))?;
                match committed {
                    Ok(()) => {
                        self.metrics.committed.inc();
                        self.metrics
                            .height_seconds
                            .observe(self.height_started.elapsed().as_secs_f64());
                        info!(
                            target: "consensus",
                            height = %decision.height,
                            round = %decision.round,
                            hash = %decision.value,
                            signers = decision.certificate.signatures.len(),
                            "committed"
                        );
                        let bytes =
                            codec::encode_decision(&decision.certificate, self.next_nonce());
                        self.publish(Topic::Decisions, bytes).await;
                    }
                    Err(AppError::NotOnHead { .. }) => {
                        // Block sync committed this height meanwhile.
                        debug!(target: "consensus", height = %decision.height, "already committed by sync");
                    }
                    Err(e) => return Err(EngineError::App(e.to_string())),
                }
                let wait = self
                    .config
                    .block_interval
                    .saturating_sub(self.height_started.elapsed());
                self.next_height_at = Some(tokio::time::Instant::now() + wait);
            }
            Output::Evidence(evidence) => {
                self.metrics.equivocations.inc();
                let offender = evidence.first.vote.validator;
                let Some(validator) = self.validators.get(offender) else {
                    return Ok(());
                };
                let key = validator.public_key;
                warn!(
                    target: "consensus",
                    height = %evidence.first.vote.height,
                    round = %evidence.first.vote.round,
                    validator = %hex(key.as_bytes()),
                    "a validator signed conflicting votes"
                );
                self.app.on_evidence(evidence.to_portable(&key).to_vec());
            }
        }
        Ok(())
    }

    fn spawn_validation(&self, height: Height, value: BlockHash, block: Block) {
        let app = self.app.clone();
        let internal = self.internal.clone();
        tokio::task::spawn_blocking(move || {
            let result = app.validate(&block);
            let _ = internal.blocking_send(Internal::Validated {
                height,
                value,
                result,
            });
        });
    }

    /// Moves the core to the height after the committed head, advancing the
    /// validator set one height at a time.
    async fn advance_to_head(&mut self) -> Result<(), EngineError> {
        let next = self.core_height_from_head()?;
        if next <= self.core.height() {
            return Ok(());
        }
        let epoch = epoch_of(self.app.as_ref(), next.0)?
            .ok_or_else(|| EngineError::App(format!("no validator set for block #{next}")))?;
        if epoch.first_height == self.epoch_start && self.validators_height < next {
            // The same epoch: the set is the one we have, a few heights on.
            while self.validators_height < next {
                self.validators = self.validators.for_next_height();
                self.validators_height = Height(self.validators_height.0 + 1);
            }
        } else {
            let (start, set) = epoch_set_at(epoch, next.0)?;
            if start != self.epoch_start {
                info!(
                    target: "consensus",
                    height = %next,
                    validators = set.len(),
                    total_power = set.total_power(),
                    "new epoch: validator set"
                );
            }
            self.validators = set;
            self.validators_height = next;
            self.epoch_start = start;
        }
        debug_assert_eq!(self.validators_height, next);
        self.start_height(next).await
    }

    fn next_nonce(&mut self) -> u64 {
        self.nonce = self.nonce.wrapping_add(1);
        self.nonce
    }

    async fn publish(&self, topic: Topic, bytes: Vec<u8>) {
        if let Err(error) = self.network.publish(topic, bytes).await {
            warn!(target: "consensus", ?topic, %error, "publishing failed");
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Sleeps until `at`, or for ever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn vote_label(kind: VoteKind) -> &'static str {
    match kind {
        VoteKind::Prevote => "prevote",
        VoteKind::Precommit => "precommit",
    }
}
