//! The benchmark runner's scenarios (`outrigger-bench`): each measures
//! Outrigger and, in the same run, the baseline it is judged against, and
//! returns rows for one table and one JSON file.
//!
//! - [`import`]: full block import vs raw revm, and commit cost vs state
//!   size (the `import_bench` example of the execution crate, run as a
//!   process).
//! - [`rpc`]: requests/s of a `--dev` node beside anvil with the same state.
//! - [`devnet`]: finalized tx/s and latency of four validator processes,
//!   beside the sender-recovery ceiling of this machine.
//! - [`sync`]: blocks/s of a fresh full node syncing from the validators.
//!
//! [`http`] is the lean keep-alive JSON-RPC client the load comes from,
//! [`load`] the signed transactions and the inclusion tracker.

pub mod devnet;
pub mod http;
pub mod import;
pub mod load;
pub mod rpc;
pub mod sync;

use std::{path::Path, time::Duration};

use serde_json::{Value, json};

/// How big a run is: `tiny` keeps CI under a minute in a debug build,
/// `full` is what BENCHMARKS.md quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Seconds in a debug build: proves the scenario works.
    Tiny,
    /// A minute or two per scenario in a release build.
    Small,
    /// The sizes issue 10 names.
    Full,
}

impl Size {
    /// Parses `tiny`, `small` or `full`.
    pub fn parse(text: &str) -> eyre::Result<Self> {
        match text {
            "tiny" => Ok(Self::Tiny),
            "small" => Ok(Self::Small),
            "full" => Ok(Self::Full),
            other => eyre::bail!("--size {other}: expected tiny, small or full"),
        }
    }

    /// Picks the value for this size.
    pub fn pick<T>(self, tiny: T, small: T, full: T) -> T {
        match self {
            Self::Tiny => tiny,
            Self::Small => small,
            Self::Full => full,
        }
    }
}

/// Every knob a scenario reads (see the runner's usage for which).
pub const KNOBS: &[&str] = &[
    "accounts",
    "block-time-ms",
    "blocks",
    "clients",
    "gas-limit",
    "paced-seconds",
    "rate",
    "seconds",
    "senders",
    "txs",
    "txs-per-sender",
    "window",
];

/// Per-scenario knobs: `--name value` flags after the subcommand.
#[derive(Clone, Debug, Default)]
pub struct Knobs(Vec<(String, String)>);

impl Knobs {
    /// Reads `--name value` pairs. A name no scenario reads is refused: a
    /// misspelt knob would otherwise run the default unnoticed.
    pub fn parse(args: &[String]) -> eyre::Result<Self> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| eyre::eyre!("expected a --flag, got {flag:?}"))?;
            if !KNOBS.contains(&name) {
                eyre::bail!(
                    "unknown knob --{name}; the knobs are --{}",
                    KNOBS.join(", --")
                );
            }
            let value = it
                .next()
                .ok_or_else(|| eyre::eyre!("--{name} needs a value"))?;
            pairs.push((name.to_string(), value.clone()));
        }
        Ok(Self(pairs))
    }

    /// The value of `--name`, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> eyre::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.get_opt(name)?.unwrap_or(default))
    }

    /// The value of `--name`, if given.
    pub fn get_opt<T: std::str::FromStr>(&self, name: &str) -> eyre::Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.text(name)
            .map(|v| v.parse().map_err(|e| eyre::eyre!("--{name} {v}: {e}")))
            .transpose()
    }

    /// The raw text of `--name`, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One measured figure, with the baseline measured beside it in the same
/// run (when the scenario has one).
#[derive(Clone, Debug)]
pub struct Row {
    /// The scenario (`rpc`, `devnet-tps`, ...).
    pub scenario: String,
    /// What was measured (`eth_call req/s`, `ETH finalized tx/s`, ...).
    pub measure: String,
    /// Outrigger's figure.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// The baseline's name and figure, in the same unit.
    pub baseline: Option<(String, f64)>,
    /// Anything the figure needs to be read right.
    pub note: String,
}

impl Row {
    /// A row without a baseline.
    pub fn new(scenario: &str, measure: &str, value: f64, unit: &str) -> Self {
        Self {
            scenario: scenario.into(),
            measure: measure.into(),
            value,
            unit: unit.into(),
            baseline: None,
            note: String::new(),
        }
    }

    /// Adds the baseline.
    pub fn vs(mut self, name: &str, value: f64) -> Self {
        self.baseline = Some((name.into(), value));
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    /// Outrigger's figure over the baseline's.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .as_ref()
            .filter(|(_, b)| *b > 0.0)
            .map(|(_, b)| self.value / b)
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "measure": self.measure,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline.as_ref().map(|(n, _)| n),
            "baseline_value": self.baseline.as_ref().map(|(_, v)| v),
            "ratio": self.ratio(),
            "note": self.note,
        })
    }
}

fn figure(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The rows as a table (one line each).
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<11} {:<38} {:>12} {:<9} {:>12} {:<14} {:>7}  {}\n",
        "scenario", "measure", "outrigger", "unit", "baseline", "(of)", "ratio", "note"
    );
    for row in rows {
        let (base_name, base) = match &row.baseline {
            Some((name, value)) => (name.as_str(), figure(*value)),
            None => ("", String::new()),
        };
        let ratio = row.ratio().map_or(String::new(), |r| format!("{r:.3}"));
        out.push_str(&format!(
            "{:<11} {:<38} {:>12} {:<9} {:>12} {:<14} {:>7}  {}\n",
            row.scenario,
            row.measure,
            figure(row.value),
            row.unit,
            base,
            base_name,
            ratio,
            row.note
        ));
    }
    out
}

/// Writes the rows and the run's settings as JSON.
pub fn write_json(path: &Path, command: &[String], rows: &[Row]) -> eyre::Result<()> {
    let value = json!({
        "command": command,
        "cores": cores(),
        "load_average": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "rows": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    std::fs::write(path, serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

/// Cores this machine has.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> eyre::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14 and stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| eyre::eyre!("malformed /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11)
        .zip(fields.get(12))
        .map(|(u, s)| Ok::<_, std::num::ParseIntError>(u.parse::<u64>()? + s.parse::<u64>()?))
        .ok_or_else(|| eyre::eyre!("short /proc/{pid}/stat"))??;
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// `sysconf(_SC_CLK_TCK)`, from `getconf` (100 on Linux).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The ids of the processes whose command line contains `needle`.
pub fn pids_with_arg(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

/// The `q` quantile (0..=1) of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn knobs_are_read_and_a_misspelt_one_is_refused() {
        let knobs = Knobs::parse(&args("--seconds 8 --accounts 10,20 --seconds 3")).unwrap();
        assert_eq!(knobs.get("seconds", 1.0).unwrap(), 3.0);
        assert_eq!(knobs.text("accounts"), Some("10,20"));
        assert_eq!(knobs.get("window", 7usize).unwrap(), 7);
        assert!(knobs.get::<usize>("accounts", 0).is_err());

        let refused = Knobs::parse(&args("--second 8")).unwrap_err().to_string();
        assert!(refused.contains("unknown knob --second"), "{refused}");
        let refused = Knobs::parse(&args("--seconds")).unwrap_err().to_string();
        assert!(refused.contains("--seconds needs a value"), "{refused}");
        assert!(Knobs::parse(&args("8")).is_err());
    }
}
