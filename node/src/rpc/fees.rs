//! Fee suggestions and history: `eth_maxPriorityFeePerGas`, `eth_gasPrice`
//! and `eth_feeHistory`, computed as geth's gas price oracle does.

use alloy_consensus::Transaction as _;
use alloy_rpc_types_eth::FeeHistory;
use outrigger_execution::{Header, txpool::HeadParams};

use super::error::{RpcError, RpcResult};
use crate::node::NodeState;

/// Blocks the tip suggestion looks back over (geth's `Blocks`).
const TIP_BLOCKS: u64 = 20;
/// Cheapest tips sampled per block (geth's `sampleNumber`).
const TIP_SAMPLES_PER_BLOCK: usize = 3;
/// Percentile of the samples suggested (geth's `Percentile`).
const TIP_PERCENTILE: usize = 60;
/// Tips at or below this are ignored as noise, wei (geth's `IgnorePrice`).
const TIP_IGNORE_WEI: u128 = 2;

/// A priority fee that gets a transaction into one of the next blocks: the
/// 60th percentile of the three cheapest tips of each of the last 20 blocks,
/// or the configured default when those blocks are empty; never below the
/// pool's minimum.
pub(super) fn suggested_tip(state: &NodeState, head: &Header) -> RpcResult<u128> {
    if let Some((number, tip)) = *state.tip_cache.lock()
        && number == head.number
    {
        return Ok(tip);
    }
    let tip = compute_suggested_tip(state, head)?;
    *state.tip_cache.lock() = Some((head.number, tip));
    Ok(tip)
}

/// [`suggested_tip`] without the per-head cache.
fn compute_suggested_tip(state: &NodeState, head: &Header) -> RpcResult<u128> {
    let store = state.chain.store();
    let mut samples = Vec::new();
    for number in head.number.saturating_sub(TIP_BLOCKS - 1)..=head.number {
        let (Some(header), Some(body)) = (store.header(number)?, store.body(number)?) else {
            continue;
        };
        let mut tips: Vec<u128> = body
            .transactions
            .iter()
            .filter_map(|tx| tx.effective_tip_per_gas(header.base_fee_per_gas.unwrap_or_default()))
            .filter(|tip| *tip > TIP_IGNORE_WEI)
            .collect();
        tips.sort_unstable();
        samples.extend(tips.into_iter().take(TIP_SAMPLES_PER_BLOCK));
    }
    let floor = u128::from(state.config.txpool.min_priority_fee_wei);
    if samples.is_empty() {
        return Ok(u128::from(state.config.rpc.default_priority_fee_wei).max(floor));
    }
    samples.sort_unstable();
    let tip = samples[(samples.len() - 1) * TIP_PERCENTILE / 100];
    Ok(tip.max(floor))
}

/// `eth_feeHistory` over the `block_count` blocks ending at `newest`
/// (at most `rpc.max_fee_history_blocks`).
pub(super) fn fee_history(
    state: &NodeState,
    block_count: u64,
    newest: u64,
    percentiles: Option<&[f64]>,
) -> RpcResult<FeeHistory> {
    if let Some(percentiles) = percentiles {
        let valid = percentiles.len() <= 100
            && percentiles.iter().all(|p| (0.0..=100.0).contains(p))
            && percentiles.windows(2).all(|w| w[0] <= w[1]);
        if !valid {
            return Err(RpcError::InvalidParams(
                "invalid reward percentiles: at most 100, each in [0, 100], ascending".into(),
            ));
        }
    }
    let count = block_count
        .min(state.config.rpc.max_fee_history_blocks)
        .min(newest + 1);
    let mut history = FeeHistory::default();
    if count == 0 {
        return Ok(history);
    }
    let oldest = newest + 1 - count;
    let store = state.chain.store();
    let mut rewards = Vec::new();
    let mut last = None;
    for number in oldest..=newest {
        let header = store.header(number)?.ok_or(RpcError::HeaderNotFound)?;
        let base_fee = header.base_fee_per_gas.unwrap_or_default();
        history.base_fee_per_gas.push(u128::from(base_fee));
        history
            .gas_used_ratio
            .push(header.gas_used as f64 / header.gas_limit.max(1) as f64);
        history.base_fee_per_blob_gas.push(0);
        history.blob_gas_used_ratio.push(0.0);
        if let Some(percentiles) = percentiles {
            let body = store.body(number)?.unwrap_or_default();
            let receipts = store.receipts(number)?.unwrap_or_default();
            let mut previous = 0;
            let mut tips: Vec<(u128, u64)> = body
                .transactions
                .iter()
                .zip(&receipts)
                .map(|(tx, receipt)| {
                    let used = receipt.cumulative_gas_used() - previous;
                    previous = receipt.cumulative_gas_used();
                    (tx.effective_tip_per_gas(base_fee).unwrap_or_default(), used)
                })
                .collect();
            rewards.push(percentile_rewards(&mut tips, header.gas_used, percentiles));
        }
        last = Some(header);
    }
    if let Some(last) = last {
        let next = HeadParams::after(state.chain.spec(), &last);
        history.base_fee_per_gas.push(u128::from(next.base_fee));
        history.base_fee_per_blob_gas.push(0);
    }
    history.oldest_block = oldest;
    history.reward = percentiles.map(|_| rewards);
    Ok(history)
}

/// The tip at each percentile of the block's gas, as geth weighs it: the
/// transactions sorted by tip, each covering its share of the gas used.
fn percentile_rewards(tips: &mut [(u128, u64)], gas_used: u64, percentiles: &[f64]) -> Vec<u128> {
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    tips.sort_unstable_by_key(|(tip, _)| *tip);
    let mut out = Vec::with_capacity(percentiles.len());
    let mut index = 0;
    let mut cumulative = tips[0].1;
    for percentile in percentiles {
        let threshold = (gas_used as f64 * percentile / 100.0) as u64;
        while cumulative < threshold && index < tips.len() - 1 {
            index += 1;
            cumulative += tips[index].1;
        }
        out.push(tips[index].0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percentile_rewards;

    #[test]
    fn rewards_weigh_tips_by_gas() {
        // Tips 1, 2, 3 gwei using 21000, 50000, 29000 gas of 100000.
        let mut tips = vec![(3, 29_000), (1, 21_000), (2, 50_000)];
        let rewards = percentile_rewards(&mut tips, 100_000, &[0.0, 20.0, 25.0, 70.0, 72.0, 100.0]);
        assert_eq!(rewards, vec![1, 1, 2, 2, 3, 3]);
        assert_eq!(percentile_rewards(&mut [], 0, &[50.0]), vec![0]);
    }
}
