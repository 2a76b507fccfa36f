//! Polled filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, `eth_getFilterChanges`,
//! `eth_getFilterLogs`, `eth_uninstallFilter`), as geth keeps them: a filter
//! not polled for five minutes is removed, and their number is bounded, as
//! is what a pending-transaction filter holds between polls.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use alloy_primitives::{B256, U128};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};
use parking_lot::Mutex;

use super::error::{RpcError, RpcResult};

/// A filter left unpolled this long is removed (geth's `filterTimeout`).
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Most filters installed at once.
pub const MAX_FILTERS: usize = 1024;
/// Most transaction hashes a pending-transaction filter keeps between polls.
pub const MAX_PENDING_PER_FILTER: usize = 10_000;

/// What a filter watches.
#[derive(Debug, Clone)]
pub enum FilterKind {
    /// Logs matching the filter, from `next_block` on.
    Logs {
        /// The criteria (its block range bounds `eth_getFilterLogs`).
        filter: Box<Filter>,
        /// The first block not yet reported.
        next_block: u64,
    },
    /// New block hashes, from `next_block` on.
    Blocks {
        /// The first block not yet reported.
        next_block: u64,
    },
    /// Hashes of transactions that entered the pool.
    PendingTransactions {
        /// Hashes since the last poll, oldest first.
        hashes: VecDeque<B256>,
    },
}

#[derive(Debug)]
struct Installed {
    kind: FilterKind,
    last_poll: Instant,
}

/// The installed filters.
#[derive(Debug, Default)]
pub struct Filters {
    inner: Mutex<FiltersInner>,
}

#[derive(Debug, Default)]
struct FiltersInner {
    filters: HashMap<u128, Installed>,
}

/// What a poll returns.
#[derive(Debug)]
pub enum Changes {
    /// Logs, for a log filter.
    Logs(Vec<Log>),
    /// Block or transaction hashes.
    Hashes(Vec<B256>),
}

impl Filters {
    /// Installs a filter; returns its id.
    pub fn install(&self, kind: FilterKind) -> RpcResult<U128> {
        let mut inner = self.inner.lock();
        inner.expire();
        if inner.filters.len() >= MAX_FILTERS {
            return Err(RpcError::LimitExceeded(format!(
                "too many filters installed (limit {MAX_FILTERS}); uninstall some or poll them"
            )));
        }
        // Random, so that one client cannot guess and poll another's filters.
        let id = loop {
            let id: u128 = rand::random();
            if id != 0 && !inner.filters.contains_key(&id) {
                break id;
            }
        };
        inner.filters.insert(
            id,
            Installed {
                kind,
                last_poll: Instant::now(),
            },
        );
        Ok(U128::from(id))
    }

    /// Removes a filter; whether it existed.
    pub fn uninstall(&self, id: U128) -> bool {
        self.inner.lock().filters.remove(&id.to::<u128>()).is_some()
    }

    /// Appends a pooled transaction to every pending-transaction filter.
    pub fn on_pending_transaction(&self, hash: B256) {
        let mut inner = self.inner.lock();
        for installed in inner.filters.values_mut() {
            if let FilterKind::PendingTransactions { hashes } = &mut installed.kind {
                if hashes.len() == MAX_PENDING_PER_FILTER {
                    hashes.pop_front();
                }
                hashes.push_back(hash);
            }
        }
    }

    /// Takes the filter's state for a poll, marking it polled; an error if
    /// no such filter. `advance` computes the changes and the new state
    /// (`None`: keep the old one), which is stored even when the changes are
    /// an error, so a filter whose range was too large moves on.
    pub fn poll(
        &self,
        id: U128,
        advance: impl FnOnce(&FilterKind) -> (RpcResult<Changes>, Option<FilterKind>),
    ) -> RpcResult<Changes> {
        let kind = {
            let mut inner = self.inner.lock();
            inner.expire();
            let installed = inner
                .filters
                .get_mut(&id.to::<u128>())
                .ok_or_else(|| RpcError::Execution("filter not found".into()))?;
            installed.last_poll = Instant::now();
            let kind = installed.kind.clone();
            if let FilterKind::PendingTransactions { hashes } = &mut installed.kind {
                hashes.clear();
            }
            kind
        };
        let (changes, next) = advance(&kind);
        if let Some(next) = next
            && let Some(installed) = self.inner.lock().filters.get_mut(&id.to::<u128>())
        {
            installed.kind = next;
        }
        changes
    }

    /// The criteria of a log filter.
    pub fn log_filter(&self, id: U128) -> RpcResult<Filter> {
        let mut inner = self.inner.lock();
        inner.expire();
        match inner.filters.get_mut(&id.to::<u128>()) {
            Some(Installed {
                kind: FilterKind::Logs { filter, .. },
                last_poll,
            }) => {
                *last_poll = Instant::now();
                Ok((**filter).clone())
            }
            Some(_) => Err(RpcError::InvalidParams("not a log filter".into())),
            None => Err(RpcError::Execution("filter not found".into())),
        }
    }
}

impl FiltersInner {
    fn expire(&mut self) {
        let now = Instant::now();
        self.filters
            .retain(|_, f| now.duration_since(f.last_poll) < FILTER_TIMEOUT);
    }
}

/// The block numbers a filter's own range names (tags are open ends).
pub fn own_range(filter: &Filter) -> (Option<u64>, Option<u64>) {
    match filter.block_option {
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => (
            from_block.and_then(|b| b.as_number()),
            to_block.and_then(|b| b.as_number()),
        ),
        FilterBlockOption::AtBlockHash(_) => (None, None),
    }
}

/// `filter` restricted to the blocks `from..=to`.
pub fn with_range(filter: &Filter, from: u64, to: u64) -> Filter {
    Filter {
        block_option: FilterBlockOption::Range {
            from_block: Some(from.into()),
            to_block: Some(to.into()),
        },
        ..filter.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_filters_are_bounded_and_drained_by_polls() {
        let filters = Filters::default();
        let id = filters
            .install(FilterKind::PendingTransactions {
                hashes: VecDeque::new(),
            })
            .unwrap();
        for i in 0..(MAX_PENDING_PER_FILTER + 5) {
            filters.on_pending_transaction(B256::with_last_byte((i % 256) as u8));
        }
        let poll = |filters: &Filters| match filters
            .poll(id, |kind| match kind {
                FilterKind::PendingTransactions { hashes } => {
                    (Ok(Changes::Hashes(hashes.iter().copied().collect())), None)
                }
                _ => unreachable!(),
            })
            .unwrap()
        {
            Changes::Hashes(hashes) => hashes,
            Changes::Logs(_) => unreachable!(),
        };
        assert_eq!(poll(&filters).len(), MAX_PENDING_PER_FILTER);
        assert!(poll(&filters).is_empty(), "a poll drains the filter");
        assert!(filters.uninstall(id));
        assert!(!filters.uninstall(id));
        assert!(filters.poll(id, |_| unreachable!()).is_err());
    }

    #[test]
    fn the_number_of_filters_is_bounded() {
        let filters = Filters::default();
        for _ in 0..MAX_FILTERS {
            filters
                .install(FilterKind::Blocks { next_block: 0 })
                .unwrap();
        }
        let error = filters
            .install(FilterKind::Blocks { next_block: 0 })
            .unwrap_err();
        assert!(error.to_string().contains("too many filters"), "{error}");
    }
}
