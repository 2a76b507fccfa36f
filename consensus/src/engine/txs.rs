//! Gossiped transaction batches, checked on one thread of their own.
//!
//! Checking a batch (decoding it, recovering every sender, adding to the
//! pool) is CPU work the engine's task must not do. It used to take one
//! blocking-pool task per batch: a thread hand-off for every message, and
//! under a flood as many threads as the pool allows. Here one long-lived
//! thread takes batches from a bounded queue, in arrival order, without
//! sleeping while there is work; a batch that finds the queue full is
//! ignored (not forwarded, its sender not blamed), as a busy node must.

use std::{
    io,
    panic::{self, AssertUnwindSafe},
    sync::{
        Arc,
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
    thread,
};

use tracing::error;

use crate::{
    app::{Application, TransactionVerdict},
    network::{GossipId, NetworkHandle, Verdict},
};

/// Batches waiting for the checking thread. A batch is at most the
/// transaction topic's message size (64 KiB by default), so the queue holds
/// at most 16 MiB, and about two seconds of recovery work.
pub(super) const TX_QUEUE_BATCHES: usize = 256;

/// The queue in front of the checking thread. Dropping it ends the thread
/// once the batches already queued are checked.
pub(super) struct TxChecker<I> {
    queue: SyncSender<(I, Vec<u8>)>,
}

impl<I: Send + 'static> TxChecker<I> {
    /// Starts the thread: it calls `check` on every queued batch, in order,
    /// and hands `report` the batch's id and `check`'s answer.
    pub(super) fn spawn<V>(
        capacity: usize,
        check: impl Fn(&[u8]) -> V + Send + 'static,
        report: impl Fn(I, V) + Send + 'static,
    ) -> io::Result<Self> {
        let (queue, batches) = sync_channel(capacity);
        thread::Builder::new()
            .name("tx-check".into())
            .spawn(move || run(&batches, check, report))?;
        Ok(Self { queue })
    }

    /// Queues a batch. Gives it back if the queue is full or the thread
    /// has ended.
    pub(super) fn submit(&self, id: I, batch: Vec<u8>) -> Result<(), I> {
        self.queue
            .try_send((id, batch))
            .map_err(|error| match error {
                TrySendError::Full((id, _)) | TrySendError::Disconnected((id, _)) => id,
            })
    }
}

/// The engine's checker: `app` checks each batch, and `network` hears the
/// verdict (accepted batches are forwarded, rejected ones blame the peer).
pub(super) fn app_checker(
    app: Arc<dyn Application>,
    network: NetworkHandle,
) -> io::Result<TxChecker<GossipId>> {
    TxChecker::spawn(
        TX_QUEUE_BATCHES,
        move |batch: &[u8]| app.on_transaction(batch),
        move |id, verdict| {
            let verdict = match verdict {
                TransactionVerdict::Accepted => Verdict::Accept,
                TransactionVerdict::Ignored => Verdict::Ignore,
                TransactionVerdict::Rejected => Verdict::Reject,
            };
            network.validated(id, verdict);
        },
    )
}

fn run<I, V>(batches: &Receiver<(I, Vec<u8>)>, check: impl Fn(&[u8]) -> V, report: impl Fn(I, V)) {
    for (id, batch) in batches {
        // A check that panics (a bug) loses its batch, not the thread: the
        // node goes on taking gossiped transactions.
        match panic::catch_unwind(AssertUnwindSafe(|| check(&batch))) {
            Ok(verdict) => report(id, verdict),
            Err(_) => error!(
                target: "consensus",
                bytes = batch.len(),
                "checking a gossiped transaction batch panicked; the batch is dropped"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc, Barrier,
            mpsc::{RecvTimeoutError, channel},
        },
        time::Duration,
    };

    use super::*;

    #[test]
    fn batches_are_checked_in_order_and_a_full_queue_refuses_more() {
        // The first check says it started, then waits at the gate: the
        // queue behind it is empty and fills.
        let gate = Arc::new(Barrier::new(2));
        let (started, checking) = channel();
        let (reports, reported) = channel();
        let checker = {
            let gate = gate.clone();
            TxChecker::spawn(
                2,
                move |batch: &[u8]| {
                    if batch == b"first" {
                        started.send(()).expect("the test listens");
                        gate.wait();
                    }
                    batch.len()
                },
                move |id: u32, len| reports.send((id, len)).expect("the test listens"),
            )
            .expect("a thread")
        };
        checker.submit(1, b"first".to_vec()).expect("queued");
        checking
            .recv_timeout(Duration::from_secs(10))
            .expect("the first check started");
        checker.submit(2, b"ab".to_vec()).expect("queued");
        checker.submit(3, b"abc".to_vec()).expect("queued");
        assert_eq!(
            checker.submit(4, b"abcd".to_vec()),
            Err(4),
            "a full queue takes no more"
        );
        gate.wait();
        drop(checker);
        let got: Vec<(u32, usize)> = reported.iter().collect();
        assert_eq!(got, vec![(1, 5), (2, 2), (3, 3)]);
    }

    #[test]
    fn a_check_that_panics_loses_its_batch_not_the_thread() {
        let (reports, reported) = channel();
        let checker = TxChecker::spawn(
            4,
            |batch: &[u8]| {
                assert!(batch != b"bad", "a bug in the check");
                batch.len()
            },
            move |id: u32, len| reports.send((id, len)).expect("the test listens"),
        )
        .expect("a thread");
        checker.submit(1, b"bad".to_vec()).expect("queued");
        checker.submit(2, b"good".to_vec()).expect("queued");
        assert_eq!(
            reported.recv_timeout(Duration::from_secs(10)),
            Ok((2, 4)),
            "the batch after the panic is checked"
        );
    }

    #[test]
    fn dropping_the_checker_ends_its_thread() {
        let (ended, thread_gone) = channel::<()>();
        let checker = TxChecker::spawn(
            4,
            move |_: &[u8]| {
                // Captured so that it drops with the thread's closure.
                let _ = &ended;
            },
            |_: u32, ()| {},
        )
        .expect("a thread");
        checker.submit(1, vec![1]).expect("queued");
        drop(checker);
        // The only sender goes with the thread's closure.
        assert_eq!(
            thread_gone.recv_timeout(Duration::from_secs(10)),
            Err(RecvTimeoutError::Disconnected),
            "the thread ended"
        );
    }
}
