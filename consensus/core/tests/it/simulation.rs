//! Seeds through the simulator: safety and liveness hold, the same seed
//! gives the same history, and a deliberately broken rule is caught.

use std::time::Instant;

use crate::sim::byzantine::Behavior;
use crate::sim::{Outcome, SimConfig, Summary, default_threads, run, run_many, run_until};

/// Seeds per configuration in CI.
const CI_SEEDS: u64 = 500;

fn check(n: usize, f: usize, seeds: u64) -> Summary {
    let started = Instant::now();
    let summary = run_many(&SimConfig::new(n, f, 0), 0, seeds, default_threads());
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "n={n} f={f}: {} seeds in {secs:.1}s ({:.0} seeds/s), {} decisions, max {} rounds after GST, stats {:?}",
        summary.seeds,
        summary.seeds as f64 / secs,
        summary.stats.decisions,
        summary.stats.max_rounds_after_gst,
        summary.stats
    );
    for o in &summary.failures {
        eprintln!(
            "seed {} failed: {:#?}\n  replay: {}",
            o.config.seed,
            o.violations,
            o.config.replay_command()
        );
    }
    assert!(
        summary.failures.is_empty(),
        "{} of {} seeds failed",
        summary.failures.len(),
        summary.seeds
    );
    assert_eq!(summary.seeds, seeds);
    summary
}

/// The faults the simulator claims to model really happened.
fn assert_faults_exercised(s: &Summary, byzantine: bool) {
    let st = &s.stats;
    assert!(st.dropped > 0 && st.duplicated > 0, "{st:?}");
    assert!(st.partitions > 0 && st.crashes > 0, "{st:?}");
    if byzantine {
        assert!(
            st.evidence > 0 && st.invalid_proposals > 0 && st.off_round_messages > 0,
            "{st:?}"
        );
    }
}

#[test]
fn n4_one_byzantine_500_seeds() {
    let s = check(4, 1, CI_SEEDS);
    assert_faults_exercised(&s, true);
}

#[test]
fn n7_two_byzantine_500_seeds() {
    let s = check(7, 2, CI_SEEDS);
    assert_faults_exercised(&s, true);
}

#[test]
fn n10_three_byzantine_500_seeds() {
    let s = check(10, 3, CI_SEEDS);
    assert_faults_exercised(&s, true);
}

#[test]
fn n4_all_honest_decides_within_few_rounds() {
    let s = check(4, 0, 100);
    assert_faults_exercised(&s, false);
    assert!(s.stats.max_rounds_after_gst <= 6, "{:?}", s.stats);
}

#[test]
fn same_seed_same_history() {
    for seed in [1, 42, 4242] {
        let config = SimConfig::new(7, 2, seed);
        let (a, b) = (run(&config), run(&config));
        assert_eq!(a.history, b.history, "seed {seed}");
        assert_eq!(a.stats, b.stats, "seed {seed}");
        assert_eq!(a.violations, b.violations, "seed {seed}");
    }
    let histories: Vec<u64> = (0..5)
        .map(|seed| run(&SimConfig::new(4, 1, seed)).history)
        .collect();
    let mut distinct = histories.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        histories.len(),
        "different seeds, different histories: {histories:?}"
    );
}

/// With the lock ignored (lines 23 and 29), the simulator must find two
/// honest nodes deciding different blocks. The attack needs an adversary
/// that owns the asynchronous period: byzantine "amnesia" validators (fresh
/// proposals, a precommit for the block to one peer and nil to the rest), a
/// long asynchronous period, and commit certificates held until GST. About
/// one seed in a thousand hits it; the same settings with the lock honoured
/// are part of `amnesia_attack_with_the_lock_is_safe`.
#[test]
fn ignoring_the_lock_is_caught_as_an_agreement_violation() {
    let mut base = SimConfig::new(4, 1, 0);
    base.break_lock = true;
    base.hold_certificates_per_mille = 1000;
    base.gst_max_ms = 30_000;
    base.behavior = Some(Behavior::Amnesia);
    let agreement = |o: &Outcome| o.violations.iter().any(|v| v.contains("agreement"));
    let summary = run_until(&base, 0, 5000, default_threads(), agreement);
    let found: Vec<u64> = summary
        .failures
        .iter()
        .filter(|o| agreement(o))
        .map(|o| o.config.seed)
        .collect();
    eprintln!(
        "broken lock: agreement violated in seeds {found:?} ({} seeds run)",
        summary.seeds
    );
    assert!(
        !found.is_empty(),
        "the simulator missed a broken lock in {} seeds",
        summary.seeds
    );
    // Seed 113 is the first such seed: the search is deterministic.
    assert!(found.contains(&113), "{found:?}");
}

/// The attack above, with the lock honoured: no violation.
#[test]
fn amnesia_attack_with_the_lock_is_safe() {
    let mut base = SimConfig::new(4, 1, 0);
    base.hold_certificates_per_mille = 1000;
    base.gst_max_ms = 30_000;
    base.behavior = Some(Behavior::Amnesia);
    let summary = run_many(&base, 0, 300, default_threads());
    for o in &summary.failures {
        eprintln!(
            "seed {}: {:#?}\n  replay: {}",
            o.config.seed,
            o.violations,
            o.config.replay_command()
        );
    }
    assert!(summary.failures.is_empty());
}

/// An engine that loses the last-signed record at restart makes honest
/// validators sign conflicting votes: the simulator must see it.
#[test]
fn restarting_without_the_last_signed_record_is_caught_as_a_double_sign() {
    let mut base = SimConfig::new(4, 1, 0);
    base.forget_last_signed = true;
    let double_sign = |o: &Outcome| o.violations.iter().any(|v| v.contains("double-sign"));
    let summary = run_until(&base, 0, 2000, default_threads(), double_sign);
    let found: Vec<u64> = summary
        .failures
        .iter()
        .filter(|o| double_sign(o))
        .map(|o| o.config.seed)
        .collect();
    eprintln!(
        "forgotten record: double-sign in seeds {found:?} ({} seeds run)",
        summary.seeds
    );
    assert!(
        !found.is_empty(),
        "the simulator missed a lost record in {} seeds",
        summary.seeds
    );
}
