//! The benchmark runner of issue 10: each scenario measures Outrigger and,
//! in the same run, its baseline; the figures go to a table on stdout and,
//! with `--json FILE`, to a JSON file.
//!
//! ```sh
//! cargo build --release --workspace --bins --examples
//! $CARGO_TARGET_DIR/release/outrigger-bench all --size small --json bench.json
//! $CARGO_TARGET_DIR/release/outrigger-bench rpc --size full --clients 64
//! ```
//!
//! Scenarios: `import`, `state-scale`, `devnet-tps`, `rpc`, `sync`, `all`.
//! Sizes: `tiny` (CI, debug build), `small`, `full` (issue 10's sizes).
//! Knobs (after the scenario, `--name value`): import `--txs --blocks`;
//! state-scale `--accounts A,B`; rpc `--clients --seconds --senders
//! --txs-per-sender`; devnet-tps `--senders --window --seconds --rate
//! --paced-seconds --clients --block-time-ms --gas-limit`; sync `--blocks --senders
//! --txs-per-sender --block-time-ms`. Uses the `outrigger` binary and the
//! `import_bench` example of the same profile, and the pinned anvil.

use outrigger_tests::bench::{self, Knobs, Row, Size, import::Part};

const USAGE: &str = "usage: outrigger-bench <import|state-scale|devnet-tps|rpc|sync|all> \
                     [--size tiny|small|full] [--json FILE] [--knob value ...]";

fn main() -> eyre::Result<()> {
    // Stopped by a signal, the validators and anvil it started go too.
    outrigger_tests::children::kill_on_signal()?;
    let args: Vec<String> = std::env::args().collect();
    let Some(scenario) = args.get(1).cloned() else {
        eyre::bail!("{USAGE}");
    };
    if args[1..]
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "--help" | "help"))
    {
        println!("{USAGE}");
        return Ok(());
    }
    let mut rest = args[2..].to_vec();
    let mut take = |name: &str| -> Option<String> {
        let at = rest.iter().position(|a| a == name)?;
        let value = rest.get(at + 1).cloned();
        rest.drain(at..(at + 2).min(rest.len()));
        value
    };
    let size = Size::parse(&take("--size").unwrap_or_else(|| "small".into()))?;
    let json = take("--json");
    let knobs = Knobs::parse(&rest)?;
    println!(
        "outrigger-bench {scenario}, size {size:?}, {} cores, load average {}",
        bench::cores(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut rows: Vec<Row> = Vec::new();
    let mut run = |name: &str, f: &dyn Fn() -> eyre::Result<Vec<Row>>| -> eyre::Result<()> {
        let started = std::time::Instant::now();
        let got = f().map_err(|e| e.wrap_err(format!("scenario {name}")))?;
        eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
        print!("{}", bench::table(&got));
        rows.extend(got);
        Ok(())
    };
    match scenario.as_str() {
        "import" => run("import", &|| bench::import::run(Part::Import, size, &knobs))?,
        "state-scale" => run("state-scale", &|| {
            bench::import::run(Part::StateScale, size, &knobs)
        })?,
        "rpc" => run("rpc", &|| bench::rpc::run(size, &knobs))?,
        "devnet-tps" => run("devnet-tps", &|| bench::devnet::run(size, &knobs))?,
        "sync" => run("sync", &|| bench::sync::run(size, &knobs))?,
        "all" => {
            run("import + state-scale", &|| {
                bench::import::run(Part::Both, size, &knobs)
            })?;
            run("rpc", &|| bench::rpc::run(size, &knobs))?;
            run("devnet-tps", &|| bench::devnet::run(size, &knobs))?;
            run("sync", &|| bench::sync::run(size, &knobs))?;
        }
        other => eyre::bail!("unknown scenario {other:?}\n{USAGE}"),
    }
    if scenario == "all" {
        println!("\nall scenarios:\n{}", bench::table(&rows));
    }
    if let Some(path) = json {
        bench::write_json(std::path::Path::new(&path), &args[1..], &rows)?;
        println!("wrote {path}");
    }
    Ok(())
}
