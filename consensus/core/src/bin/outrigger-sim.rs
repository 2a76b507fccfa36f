//! `outrigger-sim`: runs the consensus core's deterministic simulator over
//! many seeds in parallel, prints seeds/s and every failing seed with the
//! command that replays it, and exits non-zero on any violation.
//!
//! ```text
//! outrigger-sim --seeds N [--start-seed S] [--validators n] [--byzantine f]
//!               [--heights K] [--gst-max MS] [--threads T] [--behavior silent|equivocate|invalid|off-round|amnesia|mixed] [--break-lock] [--forget-last-signed] [--hold-certificates] [--trace]
//! ```

#[path = "../../tests/sim/mod.rs"]
mod sim;

use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: outrigger-sim --seeds N [--start-seed S] [--validators n] [--byzantine f] \
                     [--heights K] [--gst-max MS] [--threads T] [--behavior silent|equivocate|invalid|off-round|amnesia|mixed] [--break-lock] [--forget-last-signed] [--hold-certificates] [--trace]";

struct Args {
    seeds: u64,
    start: u64,
    validators: usize,
    byzantine: Option<usize>,
    heights: u64,
    threads: usize,
    break_lock: bool,
    trace: bool,
    gst_max_ms: u64,
    hold_certificates: bool,
    forget_last_signed: bool,
    behavior: Option<sim::byzantine::Behavior>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seeds: 100,
        start: 0,
        validators: 4,
        byzantine: None,
        heights: 3,
        threads: sim::default_threads(),
        break_lock: false,
        trace: false,
        gst_max_ms: 4000,
        hold_certificates: false,
        forget_last_signed: false,
        behavior: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--break-lock" {
            args.break_lock = true;
            continue;
        }
        if flag == "--forget-last-signed" {
            args.forget_last_signed = true;
            continue;
        }
        if flag == "--hold-certificates" {
            args.hold_certificates = true;
            continue;
        }
        if flag == "--trace" {
            args.trace = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|e| format!("{flag} {v}: {e}\n{USAGE}"))
        };
        match flag.as_str() {
            "--seeds" => args.seeds = num(&value)?,
            "--start-seed" => args.start = num(&value)?,
            "--validators" => args.validators = num(&value)? as usize,
            "--byzantine" => args.byzantine = Some(num(&value)? as usize),
            "--heights" => args.heights = num(&value)?,
            "--threads" => args.threads = num(&value)? as usize,
            "--gst-max" => args.gst_max_ms = num(&value)?,
            "--behavior" => {
                args.behavior = Some(match value.as_str() {
                    "silent" => sim::byzantine::Behavior::Silent,
                    "equivocate" => sim::byzantine::Behavior::Equivocate,
                    "invalid" => sim::byzantine::Behavior::InvalidValues,
                    "off-round" => sim::byzantine::Behavior::OffRound,
                    "amnesia" => sim::byzantine::Behavior::Amnesia,
                    "mixed" => sim::byzantine::Behavior::Mixed,
                    _ => return Err(format!("unknown behavior {value}\n{USAGE}")),
                })
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if args.validators == 0 || args.heights == 0 {
        return Err(format!(
            "--validators and --heights must be at least 1\n{USAGE}"
        ));
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let byzantine = args.byzantine.unwrap_or((args.validators - 1) / 3);
    if byzantine >= args.validators {
        eprintln!("--byzantine must be below --validators");
        return ExitCode::from(2);
    }
    let mut base = sim::SimConfig::new(args.validators, byzantine, args.start);
    base.heights = args.heights;
    base.break_lock = args.break_lock;
    base.trace = args.trace;
    base.gst_max_ms = args.gst_max_ms;
    base.behavior = args.behavior;
    base.forget_last_signed = args.forget_last_signed;
    if args.hold_certificates {
        base.hold_certificates_per_mille = 1000;
    }
    println!(
        "outrigger-sim: seeds {}..{} n={} byzantine={} heights={} threads={}{}",
        args.start,
        args.start + args.seeds,
        args.validators,
        byzantine,
        args.heights,
        args.threads,
        if args.break_lock {
            " (lock ignored: expect violations)"
        } else {
            ""
        }
    );
    let started = Instant::now();
    let summary = sim::run_many(&base, args.start, args.seeds, args.threads);
    let secs = started.elapsed().as_secs_f64();
    for o in &summary.failures {
        println!("FAIL seed {}:", o.config.seed);
        for v in &o.violations {
            println!("  {v}");
        }
        println!("  replay: {}", o.config.replay_command());
    }
    let st = &summary.stats;
    println!(
        "{} seeds in {secs:.2}s: {:.1} seeds/s; {} failed; {} decisions, max {} rounds after GST; \
         {} messages delivered, {} dropped, {} duplicated, {} partitions, {} crashes, {} evidence, \
         {} invalid proposals, {} off-round messages",
        summary.seeds,
        summary.seeds as f64 / secs.max(1e-9),
        summary.failures.len(),
        st.decisions,
        st.max_rounds_after_gst,
        st.deliveries,
        st.dropped,
        st.duplicated,
        st.partitions,
        st.crashes,
        st.evidence,
        st.invalid_proposals,
        st.off_round_messages
    );
    if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
