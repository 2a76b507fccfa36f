//! Load for a chain: pre-signed transactions of many senders, sent over
//! the lean client (closed loop with a window per sender, or open loop at
//! a fixed rate), and a tracker that watches one node's new blocks and
//! notes when each transaction was included.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_consensus::{TxEip1559, TxEnvelope, transaction::SignerRecoverable as _};
use alloy_eips::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex, keccak256};
use alloy_signer_local::PrivateKeySigner;
use eyre::{bail, eyre};
use tokio::sync::Notify;

use super::http::{self, Conn};

/// The funded load sender `i` (distinct from every other test key).
pub fn sender_key(i: usize) -> PrivateKeySigner {
    let mut bytes = [0u8; 32];
    bytes[0] = 0xbe;
    bytes[24..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    PrivateKeySigner::from_bytes(&B256::from(bytes)).expect("a key below the order is valid")
}

/// What a load transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 1 wei to a fresh address.
    Eth,
    /// `transfer(fresh address, 1)` on the token.
    Erc20 {
        /// The token.
        token: Address,
    },
    /// `mint(sender, 10^30)` on the token.
    Mint {
        /// The token.
        token: Address,
    },
}

/// Calldata of `transfer(to, amount)`.
pub fn transfer_call(to: Address, amount: U256) -> Bytes {
    call2("transfer(address,uint256)", to, amount)
}

/// Calldata of `mint(to, amount)`.
pub fn mint_call(to: Address, amount: U256) -> Bytes {
    call2("mint(address,uint256)", to, amount)
}

/// Calldata of `balanceOf(holder)`.
pub fn balance_of_call(holder: Address) -> Bytes {
    let mut data = keccak256("balanceOf(address)")[..4].to_vec();
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(holder.as_slice());
    data.into()
}

fn call2(signature: &str, to: Address, amount: U256) -> Bytes {
    let mut data = keccak256(signature)[..4].to_vec();
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(to.as_slice());
    data.extend_from_slice(&amount.to_be_bytes::<32>());
    data.into()
}

/// The test token's creation code with its constructor arguments.
pub fn token_init_code() -> eyre::Result<Bytes> {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../../contracts/artifacts/MockERC20.json"))?;
    let code: Bytes = artifact["bytecode"]
        .as_str()
        .ok_or_else(|| eyre!("MockERC20.json has no bytecode"))?
        .parse()?;
    use alloy_sol_types::SolValue as _;
    let args = ("Bench".to_string(), "BNC".to_string()).abi_encode_params();
    Ok([code.to_vec(), args].concat().into())
}

/// Signs an EIP-1559 transaction of `kind` (`seq` picks the recipient).
pub fn sign(key: &PrivateKeySigner, chain_id: u64, nonce: u64, kind: Kind, seq: u64) -> TxEnvelope {
    let fresh = Address::from_word(keccak256(
        [key.address().as_slice(), &seq.to_be_bytes()].concat(),
    ));
    let (to, value, input, gas_limit) = match kind {
        Kind::Eth => (fresh, U256::from(1u64), Bytes::new(), 21_000),
        Kind::Erc20 { token } => (
            token,
            U256::ZERO,
            transfer_call(fresh, U256::from(1u64)),
            70_000,
        ),
        Kind::Mint { token } => (
            token,
            U256::ZERO,
            mint_call(key.address(), U256::from(10u64).pow(U256::from(30u64))),
            100_000,
        ),
    };
    let tx = TxEip1559 {
        chain_id,
        ..eip1559(nonce, TxKind::Call(to), value, input, gas_limit)
    };
    crate::sign(key, tx)
}

/// An EIP-1559 transaction on the test chain id at the fees every
/// benchmark transaction pays (100 gwei cap, 1 gwei tip).
pub fn eip1559(nonce: u64, to: TxKind, value: U256, input: Bytes, gas_limit: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: crate::CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        access_list: Default::default(),
        input,
    }
}

/// The deployment of the test token at `nonce` (its address is the
/// sender's `create(nonce)`).
pub fn deploy_token(nonce: u64) -> eyre::Result<TxEip1559> {
    Ok(eip1559(
        nonce,
        TxKind::Create,
        U256::ZERO,
        token_init_code()?,
        3_000_000,
    ))
}

/// The `eth_sendRawTransaction` request of a signed transaction.
pub fn send_request(tx: &TxEnvelope) -> Vec<u8> {
    let params = format!(r#"["0x{}"]"#, hex::encode(tx.encoded_2718()));
    http::request(&http::body("eth_sendRawTransaction", &params))
}

/// Pre-signed transactions: `per_sender` for each of `senders`, nonces
/// from each sender's `first_nonce`; transaction `(s, i)` has id
/// `s * per_sender + i`.
pub struct Plan {
    /// Senders.
    pub senders: usize,
    /// Transactions per sender.
    pub per_sender: usize,
    /// The requests, by id.
    pub requests: Vec<Vec<u8>>,
    /// Their hashes, by id.
    pub hashes: Vec<B256>,
}

impl Plan {
    /// Signs (on every core) `per_sender` transactions for each sender;
    /// `kind(s, i)` says what transaction `i` of sender `s` is.
    pub fn sign(
        keys: &[PrivateKeySigner],
        chain_id: u64,
        first_nonce: &[u64],
        per_sender: usize,
        kind: impl Fn(usize, usize) -> Kind + Sync,
    ) -> Self {
        let senders = keys.len();
        let chunk = senders.div_ceil(super::cores()).max(1);
        let mut signed: Vec<(Vec<u8>, B256)> = Vec::with_capacity(senders * per_sender);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..senders)
                .step_by(chunk)
                .map(|start| {
                    let kind = &kind;
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for s in start..(start + chunk).min(senders) {
                            for i in 0..per_sender {
                                let nonce = first_nonce[s] + i as u64;
                                let tx = sign(&keys[s], chain_id, nonce, kind(s, i), nonce);
                                out.push((send_request(&tx), *tx.tx_hash()));
                            }
                        }
                        out
                    })
                })
                .collect();
            for handle in handles {
                signed.extend(handle.join().expect("signing does not panic"));
            }
        });
        let (requests, hashes) = signed.into_iter().unzip();
        Self {
            senders,
            per_sender,
            requests,
            hashes,
        }
    }

    fn id(&self, sender: usize, seq: usize) -> usize {
        sender * self.per_sender + seq
    }
}

/// Sender recoveries per second on one core, over `txs` transfers.
pub fn recovery_rate(txs: usize) -> eyre::Result<f64> {
    let key = sender_key(0);
    let signed: Vec<TxEnvelope> = (0..txs as u64)
        .map(|n| sign(&key, crate::CHAIN_ID, n, Kind::Eth, n))
        .collect();
    let started = Instant::now();
    for tx in &signed {
        if tx.recover_signer()? != key.address() {
            bail!("recovered the wrong sender");
        }
    }
    Ok(txs as f64 / started.elapsed().as_secs_f64())
}

/// A block the tracker saw.
#[derive(Clone, Copy, Debug)]
pub struct SeenBlock {
    /// Its number.
    pub number: u64,
    /// When the tracker saw it.
    pub at: Instant,
    /// Transactions in it.
    pub txs: usize,
}

#[derive(Default)]
struct TrackState {
    blocks: Vec<SeenBlock>,
    included: HashMap<usize, Instant>,
    /// Ids included since the sender last looked (flow control).
    fresh: Vec<usize>,
}

/// Watches one node's new blocks and notes the inclusion of the plan's
/// transactions.
pub struct Tracker {
    state: Mutex<TrackState>,
    ids: HashMap<B256, usize>,
    notify: Notify,
    stop: AtomicBool,
}

impl Tracker {
    /// A tracker of `plan`'s transactions.
    pub fn new(plan: &Plan) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(TrackState::default()),
            ids: plan
                .hashes
                .iter()
                .enumerate()
                .map(|(i, h)| (*h, i))
                .collect(),
            notify: Notify::new(),
            stop: AtomicBool::new(false),
        })
    }

    /// Polls `rpc` every 5 ms from block `from + 1` until [`Tracker::stop`].
    pub async fn run(self: Arc<Self>, rpc: SocketAddr, from: u64) -> eyre::Result<()> {
        let mut conn = Conn::connect(rpc).await?;
        let head_request = http::request(&http::body("eth_blockNumber", "[]"));
        let mut next = from + 1;
        while !self.stop.load(Ordering::Relaxed) {
            let head = quantity(conn.call(&head_request).await?)?;
            while next <= head {
                let request = http::request(&http::body(
                    "eth_getBlockByNumber",
                    &format!(r#"["{next:#x}",false]"#),
                ));
                let body: serde_json::Value = serde_json::from_slice(conn.call(&request).await?)?;
                let at = Instant::now();
                let hashes = body["result"]["transactions"]
                    .as_array()
                    .ok_or_else(|| eyre!("block {next}: {body}"))?;
                let mut state = self.state.lock().map_err(|_| eyre!("poisoned"))?;
                for hash in hashes {
                    let hash: B256 = hash.as_str().unwrap_or_default().parse()?;
                    if let Some(id) = self.ids.get(&hash) {
                        state.included.insert(*id, at);
                        state.fresh.push(*id);
                    }
                }
                state.blocks.push(SeenBlock {
                    number: next,
                    at,
                    txs: hashes.len(),
                });
                drop(state);
                self.notify.notify_waiters();
                next += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Stops [`Tracker::run`].
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The blocks seen so far.
    pub fn blocks(&self) -> Vec<SeenBlock> {
        self.state
            .lock()
            .map(|s| s.blocks.clone())
            .unwrap_or_default()
    }

    /// When transaction `id` was included.
    pub fn included(&self, id: usize) -> Option<Instant> {
        self.state.lock().ok()?.included.get(&id).copied()
    }

    fn take_fresh(&self) -> Vec<usize> {
        self.state
            .lock()
            .map(|mut s| std::mem::take(&mut s.fresh))
            .unwrap_or_default()
    }

    /// Waits until every id in `ids` is included, at most `timeout`.
    pub async fn wait_included(&self, ids: &[usize], timeout: Duration) -> eyre::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let missing = ids
                .iter()
                .filter(|id| self.included(**id).is_none())
                .count();
            if missing == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{missing} of {} transactions not included within {timeout:?}",
                    ids.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Transactions included per second between `from` and `to`: those of
    /// the blocks seen after the first block of the span, over the time
    /// from that first block to the last. Counting whole blocks over the
    /// span itself would step by a block's worth (4% at 25 blocks), as
    /// one more or one fewer fits in it.
    pub fn rate_between(&self, from: Instant, to: Instant) -> f64 {
        let blocks: Vec<SeenBlock> = self
            .blocks()
            .into_iter()
            .filter(|b| b.at > from && b.at <= to)
            .collect();
        match (blocks.first(), blocks.last()) {
            (Some(first), Some(last)) if last.at > first.at => {
                let txs: usize = blocks[1..].iter().map(|b| b.txs).sum();
                txs as f64 / (last.at - first.at).as_secs_f64()
            }
            _ => {
                let txs: usize = blocks.iter().map(|b| b.txs).sum();
                txs as f64 / (to - from).as_secs_f64()
            }
        }
    }
}

fn quantity(body: &[u8]) -> eyre::Result<u64> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    let text = value["result"]
        .as_str()
        .ok_or_else(|| eyre!("no quantity in {value}"))?;
    Ok(u64::from_str_radix(text.trim_start_matches("0x"), 16)?)
}

/// The ids a sender loop sends, and where each was sent from.
struct Queue {
    ready: Mutex<VecDeque<usize>>,
    notify: Notify,
    done: AtomicBool,
    sent_at: Mutex<HashMap<usize, Instant>>,
    sent: AtomicU64,
    rejected: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Queue {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            ready: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            done: AtomicBool::new(false),
            sent_at: Mutex::new(HashMap::new()),
            sent: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            first_error: Mutex::new(None),
        })
    }

    fn push(&self, ids: impl IntoIterator<Item = usize>) {
        if let Ok(mut ready) = self.ready.lock() {
            ready.extend(ids);
        }
        self.notify.notify_waiters();
    }

    fn pop(&self) -> Option<usize> {
        self.ready.lock().ok()?.pop_front()
    }
}

/// Connection tasks: `clients` keep-alive connections spread over `rpcs`,
/// each sending the next ready id until the queue is done and empty.
fn spawn_senders(
    plan: &Arc<Plan>,
    queue: &Arc<Queue>,
    rpcs: &[SocketAddr],
    clients: usize,
) -> Vec<tokio::task::JoinHandle<eyre::Result<()>>> {
    (0..clients)
        .map(|c| {
            let (plan, queue, rpc) = (plan.clone(), queue.clone(), rpcs[c % rpcs.len()]);
            tokio::spawn(async move {
                let mut conn = Conn::connect(rpc).await?;
                loop {
                    let Some(id) = queue.pop() else {
                        if queue.done.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        let notified = queue.notify.notified();
                        tokio::select! {
                            () = notified => {}
                            () = tokio::time::sleep(Duration::from_millis(2)) => {}
                        }
                        continue;
                    };
                    let sent = Instant::now();
                    let body = conn.call(&plan.requests[id]).await?;
                    if http::is_error(body) {
                        queue.rejected.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut first) = queue.first_error.lock() {
                            first.get_or_insert_with(|| String::from_utf8_lossy(body).into_owned());
                        }
                    } else {
                        queue.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Ok(mut at) = queue.sent_at.lock() {
                        at.insert(id, sent);
                    }
                }
            })
        })
        .collect()
}

/// What a load phase did.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// Transactions the nodes accepted.
    pub accepted: u64,
    /// Transactions the nodes refused.
    pub rejected: u64,
    /// The first refusal.
    pub first_error: Option<String>,
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Per sender, the next sequence number not sent.
    pub next_seq: Vec<usize>,
    /// Sent → included latencies of the phase's included transactions, sorted.
    pub latencies: Vec<Duration>,
    /// When the phase started.
    pub started: Instant,
}

/// Closed loop: every sender keeps `window` transactions in flight, from
/// sequence `from[s]` up to the plan's end, for `duration`.
pub async fn saturate(
    plan: &Arc<Plan>,
    tracker: &Arc<Tracker>,
    rpcs: &[SocketAddr],
    clients: usize,
    from: &[usize],
    window: usize,
    duration: Duration,
) -> eyre::Result<PhaseResult> {
    let queue = Queue::new();
    let mut next_seq = from.to_vec();
    tracker.take_fresh();
    let started = Instant::now();
    let tasks = spawn_senders(plan, &queue, rpcs, clients);
    // Interleave senders so that every node sees every sender early.
    let mut first = Vec::new();
    for _ in 0..window {
        for (s, next) in next_seq.iter_mut().enumerate() {
            if *next < plan.per_sender {
                first.push(plan.id(s, *next));
                *next += 1;
            }
        }
    }
    queue.push(first);
    while started.elapsed() < duration {
        let notified = tracker.notify.notified();
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
        let mut more = Vec::new();
        for id in tracker.take_fresh() {
            let s = id / plan.per_sender;
            if next_seq[s] < plan.per_sender {
                more.push(plan.id(s, next_seq[s]));
                next_seq[s] += 1;
            }
        }
        queue.push(more);
    }
    // Stop feeding: what was queued but not sent is given back.
    let unsent: Vec<usize> = queue
        .ready
        .lock()
        .map(|mut r| r.drain(..).collect())
        .unwrap_or_default();
    for id in unsent {
        let s = id / plan.per_sender;
        next_seq[s] = next_seq[s].min(id % plan.per_sender);
    }
    finish(plan, queue, tasks, started, next_seq, tracker, from).await
}

/// Sends transaction `seq` of every sender once and waits for them all.
pub async fn send_seq(
    plan: &Arc<Plan>,
    tracker: &Arc<Tracker>,
    rpcs: &[SocketAddr],
    clients: usize,
    seq: usize,
) -> eyre::Result<PhaseResult> {
    let queue = Queue::new();
    let started = Instant::now();
    let tasks = spawn_senders(plan, &queue, rpcs, clients);
    queue.push((0..plan.senders).map(|s| plan.id(s, seq)));
    let from = vec![seq; plan.senders];
    let next = vec![seq + 1; plan.senders];
    finish(plan, queue, tasks, started, next, tracker, &from).await
}

/// Open loop: one transaction every `1 / rate` s, senders in turn, each
/// from sequence `from[s]`, for `duration`.
pub async fn paced(
    plan: &Arc<Plan>,
    tracker: &Arc<Tracker>,
    rpcs: &[SocketAddr],
    clients: usize,
    from: &[usize],
    rate: f64,
    duration: Duration,
) -> eyre::Result<PhaseResult> {
    let queue = Queue::new();
    let mut next_seq = from.to_vec();
    let started = Instant::now();
    let tasks = spawn_senders(plan, &queue, rpcs, clients);
    let total = (rate * duration.as_secs_f64()) as usize;
    let mut pushed = 0;
    let mut sender = 0;
    while pushed < total {
        let due = ((started.elapsed().as_secs_f64() * rate) as usize + 1).min(total);
        let mut batch = Vec::new();
        while pushed < due {
            let s = sender % plan.senders;
            sender += 1;
            if next_seq[s] >= plan.per_sender {
                if next_seq.iter().all(|n| *n >= plan.per_sender) {
                    bail!("the plan ran out of transactions at {pushed}");
                }
                continue;
            }
            batch.push(plan.id(s, next_seq[s]));
            next_seq[s] += 1;
            pushed += 1;
        }
        queue.push(batch);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    finish(plan, queue, tasks, started, next_seq, tracker, from).await
}

async fn finish(
    plan: &Arc<Plan>,
    queue: Arc<Queue>,
    tasks: Vec<tokio::task::JoinHandle<eyre::Result<()>>>,
    started: Instant,
    next_seq: Vec<usize>,
    tracker: &Arc<Tracker>,
    from: &[usize],
) -> eyre::Result<PhaseResult> {
    queue.done.store(true, Ordering::Relaxed);
    queue.notify.notify_waiters();
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    // Wait for what was sent, so that the next phase starts from an empty pool.
    let sent_ids: Vec<usize> = (0..plan.senders)
        .flat_map(|s| (from[s]..next_seq[s]).map(move |i| plan.id(s, i)))
        .collect();
    let rejected = queue.rejected.load(Ordering::Relaxed);
    if rejected == 0 {
        tracker
            .wait_included(&sent_ids, Duration::from_secs(120))
            .await?;
    } else {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let sent_at = queue.sent_at.lock().map_err(|_| eyre!("poisoned"))?;
    let mut latencies: Vec<Duration> = sent_ids
        .iter()
        .filter_map(|id| {
            Some(
                tracker
                    .included(*id)?
                    .saturating_duration_since(*sent_at.get(id)?),
            )
        })
        .collect();
    latencies.sort();
    Ok(PhaseResult {
        accepted: queue.sent.load(Ordering::Relaxed),
        rejected,
        first_error: queue.first_error.lock().ok().and_then(|e| e.clone()),
        elapsed,
        next_seq,
        latencies,
        started,
    })
}
