//! `devnet-tps`: four validator processes on this machine, load from many
//! senders funded in the genesis over every validator's RPC. Finalized
//! tx/s at saturation (closed loop, a window per sender) and sent →
//! included latency at a fixed rate, for ETH and then ERC20 transfers;
//! CPU per validator; beside them the ceiling of this machine: one core's
//! sender recovery rate, measured in the same run, × cores / validators
//! (every validator recovers every sender).

use std::{
    net::SocketAddr,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, U256};
use eyre::{Context as _, bail};
use serde_json::{Value, json};

use super::{
    Knobs, Row, Size,
    load::{self, Kind, Plan, Tracker},
};
use crate::{
    node_process::rpc,
    testnet::{TestNet, dev_key},
};

/// Validators of the devnet.
pub const VALIDATORS: usize = 4;

/// Settings of a devnet load run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Funded senders.
    pub senders: usize,
    /// Transactions each sender keeps in flight at saturation.
    pub window: usize,
    /// Seconds of saturation per workload.
    pub saturate: Duration,
    /// Fixed rate of the latency phase, tx/s.
    pub rate: f64,
    /// Seconds of the latency phase.
    pub paced: Duration,
    /// Connections per node.
    pub clients_per_node: usize,
    /// The validators' block time.
    pub block_time_ms: u64,
    /// Most tx/s saturation can reach: bounds the transactions signed.
    pub max_tps: f64,
    /// The genesis block gas limit, if not `genesis new`'s default.
    pub gas_limit: Option<u64>,
}

impl Settings {
    /// The settings of `size`, with `knobs` over them.
    pub fn new(size: Size, knobs: &Knobs) -> eyre::Result<Self> {
        Ok(Self {
            senders: knobs.get("senders", size.pick(40, 500, 1000))?,
            window: knobs.get("window", size.pick(4, 8, 8))?,
            saturate: Duration::from_secs_f64(knobs.get("seconds", size.pick(2.0, 10.0, 20.0))?),
            rate: knobs.get("rate", size.pick(100.0, 1000.0, 1000.0))?,
            paced: Duration::from_secs_f64(knobs.get("paced-seconds", size.pick(1.0, 5.0, 10.0))?),
            clients_per_node: knobs.get("clients", size.pick(2, 8, 8))?,
            block_time_ms: knobs.get("block-time-ms", 100)?,
            max_tps: size.pick(2_000.0, 20_000.0, 20_000.0),
            gas_limit: knobs.get_opt("gas-limit")?,
        })
    }

    /// Transactions per sender a saturation plus a latency phase may use.
    fn per_sender(&self) -> usize {
        let saturated = (self.max_tps * self.saturate.as_secs_f64() / self.senders as f64) as usize;
        let paced = (self.rate * self.paced.as_secs_f64() / self.senders as f64).ceil() as usize;
        saturated.max(self.window * 2) + paced + 1
    }
}

/// Starts a devnet of [`VALIDATORS`] whose genesis funds `senders` load
/// senders (and has block gas limit `gas_limit`, if given).
pub fn start_net(
    dir: &Path,
    senders: usize,
    block_time_ms: u64,
    gas_limit: Option<u64>,
) -> eyre::Result<TestNet> {
    TestNet::start_with(dir, VALIDATORS, block_time_ms, |genesis| {
        if let Some(gas_limit) = gas_limit {
            genesis["gasLimit"] = json!(format!("{gas_limit:#x}"));
        }
        let alloc = genesis["alloc"]
            .as_object_mut()
            .ok_or_else(|| eyre::eyre!("genesis without alloc"))?;
        let balance = format!("{:#x}", U256::from(10u64).pow(U256::from(24u64)));
        for s in 0..senders {
            alloc.insert(
                load::sender_key(s).address().to_string(),
                json!({ "balance": balance }),
            );
        }
        Ok(())
    })
}

/// The validators a run loads and watches.
struct Validators {
    rpcs: Vec<SocketAddr>,
    pids: Vec<u32>,
    metrics: Vec<SocketAddr>,
}

/// The per-block time histograms the validators export, by the word the
/// report uses: a height from its start to its commit, and the stages of
/// the node's `outrigger_block_stage_seconds`.
const STAGES: [(&str, &str); 4] = [
    ("height", "outrigger_consensus_height_seconds"),
    ("build", "outrigger_block_stage_seconds{stage=\"build\"}"),
    (
        "validate",
        "outrigger_block_stage_seconds{stage=\"validate\"}",
    ),
    ("commit", "outrigger_block_stage_seconds{stage=\"commit\"}"),
];

/// Sum and count of each of [`STAGES`], over all validators.
struct StageTotals(Vec<(f64, f64)>);

impl StageTotals {
    fn read(metrics: &[SocketAddr]) -> eyre::Result<Self> {
        let series = |name: &str, part: &str| match name.split_once('{') {
            Some((base, labels)) => format!("{base}_{part}{{{labels}"),
            None => format!("{name}_{part}"),
        };
        let mut totals = Vec::with_capacity(STAGES.len());
        for (_, name) in STAGES {
            let (mut sum, mut count) = (0.0, 0.0);
            for addr in metrics {
                sum += crate::node_process::metric_at(*addr, &series(name, "sum"))?;
                count += crate::node_process::metric_at(*addr, &series(name, "count"))?;
            }
            totals.push((sum, count));
        }
        Ok(Self(totals))
    }

    /// The mean of each stage between `self` and the later `after`.
    fn means_until(&self, after: &Self) -> String {
        STAGES
            .iter()
            .zip(self.0.iter().zip(&after.0))
            .map(|((word, _), ((s0, c0), (s1, c1)))| {
                let count = c1 - c0;
                if count > 0.0 {
                    format!("{word} {:.0} ms", (s1 - s0) / count * 1e3)
                } else {
                    format!("{word} -")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The validators' process ids (found by their config path).
pub fn validator_pids(root: &Path) -> eyre::Result<Vec<u32>> {
    (0..VALIDATORS)
        .map(|i| {
            let config = root.join(format!("node{i}")).join("node.toml");
            let pids = super::pids_with_arg(&config.display().to_string());
            match pids[..] {
                [pid] => Ok(pid),
                _ => bail!(
                    "validator {i}: {} processes with {}",
                    pids.len(),
                    config.display()
                ),
            }
        })
        .collect()
}

fn cpu_of(pids: &[u32]) -> eyre::Result<Vec<Duration>> {
    pids.iter().map(|p| super::cpu_time(*p)).collect()
}

/// Runs the scenario.
pub fn run(size: Size, knobs: &Knobs) -> eyre::Result<Vec<Row>> {
    let settings = Settings::new(size, knobs)?;
    let dir = tempfile::tempdir()?;
    let net = start_net(
        dir.path(),
        settings.senders,
        settings.block_time_ms,
        settings.gas_limit,
    )?;
    net.wait_all(1, Duration::from_secs(60))?;
    let validators = Validators {
        rpcs: (0..VALIDATORS).map(|i| net.node(i).rpc).collect(),
        pids: validator_pids(dir.path())?,
        metrics: (0..VALIDATORS).map(|i| net.node(i).metrics).collect(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = runtime
        .block_on(measure(&validators, &settings))
        .wrap_err_with(|| format!("devnet logs in {}", dir.path().display()));
    if rows.is_err() {
        // Keep the logs for a look.
        let kept = dir.keep();
        eprintln!("devnet-tps failed; logs kept in {}", kept.display());
    }
    rows
}

/// One workload's saturation and latency phases.
async fn workload(
    name: &str,
    plan: &Arc<Plan>,
    validators: &Validators,
    settings: &Settings,
    from: Vec<usize>,
    head: u64,
) -> eyre::Result<Vec<Row>> {
    let Validators {
        rpcs,
        pids,
        metrics,
    } = validators;
    let mut rows = Vec::new();
    let tracker = Tracker::new(plan);
    let watcher = tokio::spawn(tracker.clone().run(rpcs[0], head));
    let clients = settings.clients_per_node * rpcs.len();
    let cpu_before = cpu_of(pids)?;
    let stages_before = StageTotals::read(metrics)?;
    let sat = load::saturate(
        plan,
        &tracker,
        rpcs,
        clients,
        &from,
        settings.window,
        settings.saturate,
    )
    .await?;
    let cpu_after = cpu_of(pids)?;
    let stages = stages_before.means_until(&StageTotals::read(metrics)?);
    if sat.rejected > 0 {
        eprintln!(
            "{name}: {} transactions refused at saturation, first: {}",
            sat.rejected,
            sat.first_error.clone().unwrap_or_default()
        );
    }
    // Finalized rate over the saturation window after a warm-up fifth.
    let warm = sat.started + sat.elapsed / 5;
    let end = sat.started + sat.elapsed;
    let finalized = tracker.rate_between(warm, end);
    let blocks: Vec<_> = tracker
        .blocks()
        .into_iter()
        .filter(|b| b.at > warm && b.at <= end)
        .collect();
    let per_block = blocks.iter().map(|b| b.txs).sum::<usize>() as f64 / blocks.len().max(1) as f64;
    let cores: Vec<f64> = cpu_before
        .iter()
        .zip(&cpu_after)
        .map(|(b, a)| (*a - *b).as_secs_f64() / sat.elapsed.as_secs_f64())
        .collect();
    rows.push(
        Row::new("devnet-tps", &format!("{name} finalized tx/s, saturated"), finalized, "tx/s").note(
            format!(
                "{} senders x window {}, {} blocks of {per_block:.0} txs; per block (mean): {stages}; CPU per validator {} cores; {} refused",
                plan.senders,
                settings.window,
                blocks.len(),
                cores.iter().map(|c| format!("{c:.2}")).collect::<Vec<_>>().join("/"),
                sat.rejected
            ),
        ),
    );
    let cpu_before = cpu_of(pids)?;
    let stages_before = StageTotals::read(metrics)?;
    let paced = load::paced(
        plan,
        &tracker,
        rpcs,
        clients,
        &sat.next_seq,
        settings.rate,
        settings.paced,
    )
    .await?;
    let cpu_after = cpu_of(pids)?;
    let stages = stages_before.means_until(&StageTotals::read(metrics)?);
    tracker.stop();
    watcher.await??;
    let cores: Vec<String> = cpu_before
        .iter()
        .zip(&cpu_after)
        .map(|(b, a)| {
            format!(
                "{:.2}",
                (*a - *b).as_secs_f64() / paced.elapsed.as_secs_f64()
            )
        })
        .collect();
    let note = format!(
        "{} txs at {:.0} tx/s; per block (mean): {stages}; CPU per validator {} cores; {} refused",
        paced.latencies.len(),
        settings.rate,
        cores.join("/"),
        paced.rejected
    );
    rows.push(
        Row::new(
            "devnet-tps",
            &format!("{name} latency p50 at {:.0} tx/s", settings.rate),
            super::quantile_ms(&paced.latencies, 0.5),
            "ms",
        )
        .note(note),
    );
    // The slowest height of the phase: a p99 far above the p50 is one or
    // two of these.
    let seen = tracker.blocks();
    let slowest = seen
        .windows(2)
        .filter(|pair| pair[1].at > paced.started && pair[0].at < paced.started + paced.elapsed)
        .max_by_key(|pair| pair[1].at - pair[0].at);
    let mut p99 = Row::new(
        "devnet-tps",
        &format!("{name} latency p99 at {:.0} tx/s", settings.rate),
        super::quantile_ms(&paced.latencies, 0.99),
        "ms",
    );
    if let Some([before, after]) = slowest {
        p99 = p99.note(format!(
            "longest gap between blocks {:.0} ms (#{} to #{}, {:.0} ms into the phase)",
            (after.at - before.at).as_secs_f64() * 1e3,
            before.number,
            after.number,
            after
                .at
                .saturating_duration_since(paced.started)
                .as_secs_f64()
                * 1e3,
        ));
    }
    rows.push(p99);
    if paced.rejected > 0 {
        bail!(
            "{name}: {} transactions refused at {} tx/s, first: {}",
            paced.rejected,
            settings.rate,
            paced.first_error.unwrap_or_default()
        );
    }
    Ok(rows)
}

fn head(rpc_addr: SocketAddr) -> eyre::Result<u64> {
    crate::node_process::quantity(&rpc(rpc_addr, "eth_blockNumber", json!([]))?)
}

async fn measure(validators: &Validators, settings: &Settings) -> eyre::Result<Vec<Row>> {
    let rpcs = &validators.rpcs[..];
    let mut rows = Vec::new();
    let keys: Vec<_> = (0..settings.senders).map(load::sender_key).collect();
    let per_sender = settings.per_sender();

    // The ceiling, measured while the devnet idles.
    let recoveries = load::recovery_rate(if settings.senders < 100 { 300 } else { 3000 })?;
    let ceiling = recoveries * super::cores() as f64 / VALIDATORS as f64;

    // ETH transfers.
    let zeros = vec![0u64; keys.len()];
    let eth = Arc::new(Plan::sign(
        &keys,
        crate::CHAIN_ID,
        &zeros,
        per_sender,
        |_, _| Kind::Eth,
    ));
    let start = vec![0usize; keys.len()];
    rows.extend(workload("ETH", &eth, validators, settings, start, head(rpcs[0])?).await?);
    if let Some(row) = rows.first_mut() {
        *row = row.clone().vs("recovery ceiling", ceiling);
    }
    let eth_rows = rows.len();

    // ERC20: deploy the token, then each sender mints to itself (its
    // next nonce) and transfers.
    let nonces: Vec<u64> = (0..keys.len())
        .map(|s| next_nonce(rpcs[0], s))
        .collect::<eyre::Result<_>>()?;
    let deployer = dev_key(0);
    let deploy = load::deploy_token(0)?;
    let token: Address = deployer.address().create(0);
    let hash = rpc(
        rpcs[0],
        "eth_sendRawTransaction",
        json!([crate::raw_hex(&deployer, deploy)]),
    )?;
    wait_receipt(rpcs[0], &hash)?;
    let erc20 = Arc::new(Plan::sign(
        &keys,
        crate::CHAIN_ID,
        &nonces,
        per_sender + 1,
        |_, i| {
            if i == 0 {
                Kind::Mint { token }
            } else {
                Kind::Erc20 { token }
            }
        },
    ));
    // The mints, then the measured phases from sequence 1.
    let tracker = Tracker::new(&erc20);
    let watcher = tokio::spawn(tracker.clone().run(rpcs[0], head(rpcs[0])?));
    let mints = load::send_seq(&erc20, &tracker, rpcs, rpcs.len() * 2, 0).await?;
    tracker.stop();
    watcher.await??;
    if mints.rejected > 0 {
        bail!("mints refused: {}", mints.first_error.unwrap_or_default());
    }
    let from = vec![1usize; keys.len()];
    rows.extend(workload("ERC20", &erc20, validators, settings, from, head(rpcs[0])?).await?);
    if let Some(row) = rows.get_mut(eth_rows) {
        *row = row.clone().vs("recovery ceiling", ceiling);
    }
    rows.push(
        Row::new(
            "devnet-tps",
            "sender recoveries/s, one core",
            recoveries,
            "/s",
        )
        .note(format!(
            "ceiling = this x {} cores / {VALIDATORS} validators = {ceiling:.0} tx/s",
            super::cores()
        )),
    );
    Ok(rows)
}

/// The next nonce of load sender `s`, from the chain (the phases waited
/// for what they sent, so a refused transaction cannot desynchronise it).
fn next_nonce(rpc_addr: SocketAddr, s: usize) -> eyre::Result<u64> {
    let address = load::sender_key(s).address();
    crate::node_process::quantity(&rpc(
        rpc_addr,
        "eth_getTransactionCount",
        json!([address, "latest"]),
    )?)
}

/// Waits (30 s at most) for a receipt.
pub fn wait_receipt(rpc_addr: SocketAddr, hash: &Value) -> eyre::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt = rpc(rpc_addr, "eth_getTransactionReceipt", json!([hash]))?;
        if !receipt.is_null() {
            if receipt["status"] != json!("0x1") {
                bail!("transaction {hash} failed: {receipt}");
            }
            return Ok(receipt);
        }
        if Instant::now() > deadline {
            bail!("no receipt for {hash} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
