//! `import` and `state-scale`: the execution crate's `import_bench`
//! example, run as a process (it alone may use revm directly, for the raw
//! baseline), its lines read back into rows.

use std::process::Command;

use eyre::{Context as _, bail, eyre};

use super::{Knobs, Row, Size};
use crate::node_process::target_profile_dir;

/// What to run of the example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Import vs raw revm (ETH and ERC20 blocks).
    Import,
    /// Commit cost at several state sizes.
    StateScale,
    /// Both, from one run of the example.
    Both,
}

/// Runs the example and returns its figures as rows. Knobs: `--txs`,
/// `--blocks`, `--accounts A,B,C`.
pub fn run(part: Part, size: Size, knobs: &Knobs) -> eyre::Result<Vec<Row>> {
    let binary = target_profile_dir().join("examples/import_bench");
    if !binary.is_file() {
        bail!(
            "{} not built: `cargo build --workspace --examples` (same profile)",
            binary.display()
        );
    }
    let import = part != Part::StateScale;
    let scale = part != Part::Import;
    let txs: usize = knobs.get("txs", size.pick(50, 1000, 2000))?;
    let blocks: usize = knobs.get("blocks", size.pick(1, 3, 5))?;
    let accounts = knobs
        .text("accounts")
        .unwrap_or(size.pick("1000,5000", "10000,100000", "10000,100000,1000000"))
        .to_string();
    let (txs, blocks, accounts) = match (import, scale) {
        // The example always does both: make the unwanted half small.
        (true, false) => (txs, blocks, "1000".to_string()),
        (false, true) => (10, 1, accounts),
        _ => (txs, blocks, accounts),
    };
    let output = Command::new(&binary)
        .args(["--txs", &txs.to_string(), "--blocks", &blocks.to_string()])
        .args(["--accounts", &accounts])
        .output()
        .wrap_err("running import_bench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "import_bench failed:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&stdout, import, scale)
}

/// The numbers of a line, in order (thousands separators dropped).
fn numbers(line: &str) -> Vec<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map(|t| t.replace(',', ""))
        .filter_map(|t| t.trim_matches('.').parse().ok())
        .collect()
}

fn parse(stdout: &str, import: bool, scale: bool) -> eyre::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut first_total = None;
    let mut lines = stdout.lines().peekable();
    while let Some(line) = lines.next() {
        let workload = line.split_whitespace().next().unwrap_or_default();
        if import && (workload == "eth" || workload == "erc20") && line.contains("import/raw") {
            // "eth 250 txs | raw revm T tx/s G Mgas/s | import T tx/s G Mgas/s | import/raw R"
            let n = numbers(&line[workload.len()..]);
            let [_, raw_tps, raw_mgas, imp_tps, imp_mgas, ..] = n[..] else {
                bail!("unexpected import_bench line: {line}");
            };
            let name = if workload == "eth" { "ETH" } else { "ERC20" };
            let phases = lines
                .peek()
                .filter(|l| l.contains("per tx:"))
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            rows.push(
                Row::new(
                    "import",
                    &format!("{name} block import tx/s"),
                    imp_tps,
                    "tx/s",
                )
                .vs("raw revm", raw_tps)
                .note(phases),
            );
            rows.push(
                Row::new(
                    "import",
                    &format!("{name} block import Mgas/s"),
                    imp_mgas,
                    "Mgas/s",
                )
                .vs("raw revm", raw_mgas),
            );
        }
        if scale && line.starts_with("commit of a 1,000-account block at") {
            // "... at N accounts: state root R ms + write W ms = T ms (X the
            // first size); account trie nodes written K (B KiB, P keccak-f
            // permutations)"
            let n = numbers(line);
            let [
                _,
                accounts,
                root,
                write,
                total,
                _,
                nodes,
                kib,
                permutations,
                ..,
            ] = n[..]
            else {
                bail!("unexpected import_bench line: {line}");
            };
            let first = *first_total.get_or_insert((accounts, total));
            let mut row = Row::new(
                "state-scale",
                &format!("commit ms/block at {accounts:.0} accounts"),
                total,
                "ms",
            )
            .note(format!(
                "state root {root:.2} ms + write {write:.2} ms; {nodes:.0} account trie nodes written ({kib:.0} KiB, {permutations:.0} keccak-f permutations)"
            ));
            if first.0 != accounts {
                row = row.vs(&format!("at {:.0} accounts", first.0), first.1);
            }
            rows.push(row);
        }
    }
    if rows.is_empty() {
        return Err(eyre!("no figures in import_bench's output:\n{stdout}"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_example_lines() {
        let out = "import benchmark: 1 blocks of 50 transactions, 64 senders\n\
eth         50 txs | raw revm     725736 tx/s  15240.1 Mgas/s | import     20322 tx/s   427.0 Mgas/s | import/raw 0.028\n\
       per tx: recover senders 26.20 us, execute 3.80 us, state root 6.30 us, write 5.10 us\n\
commit of a 1,000-account block at     10000 accounts: state root   11.50 ms + write   4.10 ms =   15.60 ms (1.00x the first size); account trie nodes written 2210 (512 KiB, 4100 keccak-f permutations)\n\
commit of a 1,000-account block at   1000000 accounts: state root   55.20 ms + write  12.50 ms =   67.70 ms (4.34x the first size); account trie nodes written 3818 (1405 KiB, 10200 keccak-f permutations)\n";
        let rows = parse(out, true, true).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].value, 20322.0);
        assert_eq!(rows[0].baseline.as_ref().unwrap().1, 725736.0);
        assert_eq!(rows[3].value, 67.7);
        assert!((rows[3].ratio().unwrap() - 67.7 / 15.6).abs() < 1e-9);
        assert!(
            rows[3].note.contains(
                "3818 account trie nodes written (1405 KiB, 10200 keccak-f permutations)"
            )
        );
    }
}
