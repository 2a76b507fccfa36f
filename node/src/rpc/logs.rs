//! `eth_getLogs`: blocks whose bloom may match are read, their logs
//! filtered; the block range and the result count are bounded.

use alloy_eips::BlockNumberOrTag;
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};

use super::{
    convert::StoredBlock,
    error::{RpcError, RpcResult},
};
use crate::node::NodeState;

/// Most addresses, and most values in one topic position, a filter may list:
/// matching costs grow with them, and one request must not buy unbounded
/// work or memory.
pub(super) const MAX_FILTER_VALUES: usize = 1024;

/// Refuses filters listing more than [`MAX_FILTER_VALUES`] addresses or
/// values in a topic position.
pub(super) fn check_filter(filter: &Filter) -> RpcResult<()> {
    if filter.address.len() > MAX_FILTER_VALUES
        || filter.topics.iter().any(|t| t.len() > MAX_FILTER_VALUES)
    {
        return Err(RpcError::LimitExceeded(format!(
            "filter too large: at most {MAX_FILTER_VALUES} addresses and {MAX_FILTER_VALUES} values per topic"
        )));
    }
    Ok(())
}

/// The logs of block `number` matching `filter` (its block range ignored),
/// all of them whatever `rpc.max_logs` says: one block's logs are bounded by
/// its gas.
pub(super) fn block_logs(state: &NodeState, filter: &Filter, number: u64) -> RpcResult<Vec<Log>> {
    let store = state.chain.store();
    let Some(header) = store.header(number)? else {
        return Ok(Vec::new());
    };
    if !filter.matches_bloom(header.logs_bloom) {
        return Ok(Vec::new());
    }
    let Some(block) = StoredBlock::read(store, number)? else {
        return Ok(Vec::new());
    };
    let receipts = store.receipts(number)?.unwrap_or_default();
    Ok(block
        .rpc_receipts(&receipts)
        .iter()
        .flat_map(|receipt| receipt.inner.logs())
        .filter(|log| filter.matches(&log.inner))
        .cloned()
        .collect())
}

/// The logs matching `filter`; `resolve` turns a block tag into a number.
pub(super) fn get_logs(
    state: &NodeState,
    filter: &Filter,
    head: u64,
    resolve: impl Fn(BlockNumberOrTag) -> RpcResult<Option<u64>>,
) -> RpcResult<Vec<Log>> {
    check_filter(filter)?;
    let store = state.chain.store();
    let limits = &state.config.rpc;
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let number = store.block_number(hash)?.ok_or(RpcError::HeaderNotFound)?;
            (number, number)
        }
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let from = resolve(from_block.unwrap_or_default())?;
            let to = resolve(to_block.unwrap_or_default())?;
            // A range reaching past the head ends at the head; one that
            // starts past it is empty.
            let to = to.unwrap_or(head);
            match from {
                Some(from) => (from, to),
                None => return Ok(Vec::new()),
            }
        }
    };
    if from > to {
        return Err(RpcError::InvalidParams(format!(
            "invalid block range params: fromBlock {from} is after toBlock {to}"
        )));
    }
    if to - from >= limits.max_logs_block_range {
        return Err(RpcError::LimitExceeded(format!(
            "query exceeds max block range {}",
            limits.max_logs_block_range
        )));
    }
    let mut logs = Vec::new();
    for number in from..=to {
        let Some(header) = store.header(number)? else {
            break;
        };
        if !filter.matches_bloom(header.logs_bloom) {
            continue;
        }
        let Some(block) = StoredBlock::read(store, number)? else {
            break;
        };
        let receipts = store.receipts(number)?.unwrap_or_default();
        for receipt in block.rpc_receipts(&receipts) {
            for log in receipt.inner.logs() {
                if filter.matches(&log.inner) {
                    if logs.len() == limits.max_logs {
                        return Err(RpcError::LimitExceeded(format!(
                            "query returned more than {} results",
                            limits.max_logs
                        )));
                    }
                    logs.push(log.clone());
                }
            }
        }
    }
    Ok(logs)
}
