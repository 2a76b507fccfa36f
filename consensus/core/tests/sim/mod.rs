//! A deterministic simulator for the consensus core: n validators with
//! unequal power, a seeded network (delay, drop, duplication, reordering,
//! partitions that heal, all before a GST after which delivery is bounded),
//! crash and restart with the last-signed record restored, and byzantine
//! validators. The same seed gives the same history.
#![allow(dead_code)]

pub(crate) mod byzantine;
mod checks;
mod rng;
mod world;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(crate) use world::run;

/// One simulation's parameters (everything else comes from the seed).
#[derive(Clone, Debug)]
pub(crate) struct SimConfig {
    pub(crate) validators: usize,
    /// Byzantine validators (their total power is kept below 1/3).
    pub(crate) byzantine: usize,
    /// Heights every honest node must decide.
    pub(crate) heights: u64,
    pub(crate) seed: u64,
    /// Test-only: honest cores ignore the lock (a deliberate bug).
    pub(crate) break_lock: bool,
    /// Batch-verify every honest decision's commit certificate.
    pub(crate) verify_certificates: bool,
    /// Print every event to stderr (for replaying one seed).
    pub(crate) trace: bool,
    /// GST falls in `500..=gst_max_ms`: longer asynchrony, more rounds in it.
    pub(crate) gst_max_ms: u64,
    /// Chance (per mille, drawn per seed) that the adversary holds every
    /// commit certificate sent before GST until GST, as an asynchronous
    /// network may: nodes that did not decide then keep running rounds.
    pub(crate) hold_certificates_per_mille: u64,
    /// Test-only: restart honest nodes without their last-signed record (a
    /// deliberate bug in the engine model).
    pub(crate) forget_last_signed: bool,
    /// Every byzantine validator behaves like this (default: drawn per seed).
    pub(crate) behavior: Option<byzantine::Behavior>,
}

impl SimConfig {
    pub(crate) fn new(validators: usize, byzantine: usize, seed: u64) -> Self {
        Self {
            validators,
            byzantine,
            heights: 3,
            seed,
            break_lock: false,
            verify_certificates: true,
            trace: false,
            gst_max_ms: 4000,
            hold_certificates_per_mille: 500,
            forget_last_signed: false,
            behavior: None,
        }
    }

    /// The command line that replays this seed.
    pub(crate) fn replay_command(&self) -> String {
        format!(
            "cargo run --release -p outrigger-consensus-core --bin outrigger-sim -- --seeds 1 --start-seed {} \
             --validators {} --byzantine {} --heights {} --gst-max {}{}{}{}{}",
            self.seed,
            self.validators,
            self.byzantine,
            self.heights,
            self.gst_max_ms,
            if self.break_lock { " --break-lock" } else { "" },
            if self.forget_last_signed {
                " --forget-last-signed"
            } else {
                ""
            },
            if self.hold_certificates_per_mille >= 1000 {
                " --hold-certificates"
            } else {
                ""
            },
            match self.behavior {
                Some(b) => format!(" --behavior {}", b.flag()),
                None => String::new(),
            }
        )
    }
}

/// Counters that show the faults were exercised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    pub(crate) events: u64,
    pub(crate) deliveries: u64,
    pub(crate) dropped: u64,
    pub(crate) duplicated: u64,
    pub(crate) partitions: u64,
    pub(crate) crashes: u64,
    pub(crate) evidence: u64,
    pub(crate) invalid_proposals: u64,
    pub(crate) off_round_messages: u64,
    pub(crate) signatures: u64,
    pub(crate) decisions: u64,
    pub(crate) max_rounds_after_gst: u64,
    pub(crate) sim_time_ms: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.events += o.events;
        self.deliveries += o.deliveries;
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.partitions += o.partitions;
        self.crashes += o.crashes;
        self.evidence += o.evidence;
        self.invalid_proposals += o.invalid_proposals;
        self.off_round_messages += o.off_round_messages;
        self.signatures += o.signatures;
        self.decisions += o.decisions;
        self.max_rounds_after_gst = self.max_rounds_after_gst.max(o.max_rounds_after_gst);
        self.sim_time_ms += o.sim_time_ms;
    }
}

/// What one simulation found.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) config: SimConfig,
    pub(crate) violations: Vec<String>,
    /// A hash of every event processed and every decision.
    pub(crate) history: u64,
    pub(crate) stats: Stats,
}

/// Many seeds, summed.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) seeds: u64,
    pub(crate) failures: Vec<Outcome>,
    pub(crate) stats: Stats,
}

/// Runs seeds `start..start + count` of `base` on `threads` threads.
pub(crate) fn run_many(base: &SimConfig, start: u64, count: u64, threads: usize) -> Summary {
    run_until(base, start, count, threads, |_| false)
}

/// Like [`run_many`], but stops handing out seeds once `stop` holds for an
/// outcome (seeds already started still finish).
pub(crate) fn run_until(
    base: &SimConfig,
    start: u64,
    count: u64,
    threads: usize,
    stop: impl Fn(&Outcome) -> bool + Sync,
) -> Summary {
    let next = AtomicU64::new(0);
    let stopped = AtomicBool::new(false);
    let summary = Mutex::new(Summary::default());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    let config = SimConfig {
                        seed: start + i,
                        ..base.clone()
                    };
                    let outcome = run(&config);
                    if stop(&outcome) {
                        stopped.store(true, Ordering::Relaxed);
                    }
                    let mut sum = summary.lock().unwrap_or_else(|e| e.into_inner());
                    sum.seeds += 1;
                    sum.stats.add(&outcome.stats);
                    if !outcome.violations.is_empty() {
                        sum.failures.push(outcome);
                    }
                }
            });
        }
    });
    let mut summary = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    summary.failures.sort_by_key(|o| o.config.seed);
    summary
}

/// Threads to use: the machine's parallelism.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
