//! `sync`: four validators build N blocks carrying transfers (saturating
//! closed-loop load, block time 0), then a fresh full node syncs them from
//! its peers. Blocks/s and tx/s of the sync, beside the rate at which the
//! validators produced the same blocks.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use super::{
    Knobs, Row, Size,
    devnet::{VALIDATORS, start_net},
    load::{self, Kind, Plan, Tracker},
};

/// Runs the scenario. Knobs: `--blocks`, `--senders`, `--block-time-ms`.
pub fn run(size: Size, knobs: &Knobs) -> eyre::Result<Vec<Row>> {
    let blocks: u64 = knobs.get("blocks", size.pick(30, 1000, 10_000))?;
    let senders: usize = knobs.get("senders", size.pick(20, 500, 1000))?;
    let block_time_ms: u64 = knobs.get("block-time-ms", 0)?;
    let per_sender: usize = knobs.get("txs-per-sender", size.pick(10, 100, 300))?;
    let dir = tempfile::tempdir()?;
    let mut net = start_net(dir.path(), senders, block_time_ms, None)?;
    net.wait_all(1, Duration::from_secs(60))?;
    let rpcs: Vec<_> = (0..VALIDATORS).map(|i| net.node(i).rpc).collect();
    let keys: Vec<_> = (0..senders).map(load::sender_key).collect();
    let plan = Arc::new(Plan::sign(
        &keys,
        crate::CHAIN_ID,
        &vec![0; senders],
        per_sender,
        |_, _| Kind::Eth,
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Build the chain: load in one-second rounds until the head reaches N.
    let start_head = net.head(0)?;
    let started = Instant::now();
    let tracker = Tracker::new(&plan);
    runtime.block_on(async {
        let watcher = tokio::spawn(tracker.clone().run(rpcs[0], start_head));
        let mut from = vec![0usize; senders];
        while net.head(0)? < blocks {
            if from.iter().all(|f| *f >= per_sender) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let round = load::saturate(
                &plan,
                &tracker,
                &rpcs,
                2 * rpcs.len(),
                &from,
                8,
                Duration::from_secs(1),
            )
            .await?;
            from = round.next_seq;
        }
        tracker.stop();
        watcher.await?
    })?;
    let built = started.elapsed();
    let target = net.head(0)?;
    let txs: usize = tracker.blocks().iter().map(|b| b.txs).sum();
    let built_blocks = target - start_head;
    let produced = built_blocks as f64 / built.as_secs_f64();

    let started = Instant::now();
    let full = net.add_full_node()?;
    net.node(full)
        .wait_for_block(target, Duration::from_secs(1800))?;
    let synced = started.elapsed();
    net.assert_agree(target.min(20))?;
    let rate = target as f64 / synced.as_secs_f64();
    Ok(vec![
        Row::new(
            "sync",
            &format!("full node sync of {target} blocks, blocks/s"),
            rate,
            "blocks/s",
        )
        .vs("validators producing", produced)
        .note(format!(
            "{synced:.1?} incl. process start; {:.1} txs/block on average ({txs} txs)",
            txs as f64 / built_blocks.max(1) as f64
        )),
        Row::new(
            "sync",
            "full node sync, tx/s",
            txs as f64 / synced.as_secs_f64(),
            "tx/s",
        )
        .vs("validators producing", txs as f64 / built.as_secs_f64()),
    ])
}
