//! `deploy/`: every metric the Grafana dashboard and the Prometheus alert
//! rules query is one that real validators and relayers export, every job
//! they select is scraped by `prometheus.yml`, and the example configs load.
//! (`scripts/deploy_check.sh` checks the syntax of the same files.)

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use outrigger_tests::{
    bridge_env::{BridgeEnv, BridgeSetup, RelayerProcess, balance, ether, wait_for},
    key,
    node_process::{free_addr, http_get, outrigger_binary},
};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(relative: &str) -> String {
    let path = deploy_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The PromQL of the dashboard: every `expr`, and the template variables'
/// `query`/`definition` strings (`label_values(metric, label)`).
fn dashboard_queries(json: &serde_json::Value, out: &mut Vec<String>) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                        out.push(s.clone());
                    }
                    _ => dashboard_queries(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| dashboard_queries(v, out)),
        _ => {}
    }
}

/// The `expr:` values of a Prometheus rules file (single-line or `|`/`>`
/// blocks), without a YAML parser.
fn rule_exprs(yaml: &str) -> Vec<String> {
    let mut exprs = Vec::new();
    let mut lines = yaml.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(at) = line.find("expr:") else {
            continue;
        };
        if !line[..at]
            .trim_start_matches(' ')
            .trim_start_matches("- ")
            .is_empty()
        {
            continue;
        }
        let value = line[at + "expr:".len()..].trim();
        if value.starts_with('|') || value.starts_with('>') {
            let mut block = String::new();
            while let Some(next) = lines.peek() {
                let indent = next.len() - next.trim_start().len();
                if !next.trim().is_empty() && indent <= at {
                    break;
                }
                block.push_str(next);
                block.push('\n');
                lines.next();
            }
            exprs.push(block);
        } else {
            exprs.push(value.to_string());
        }
    }
    exprs
}

/// PromQL tokens: identifiers outside quoted strings, and the values of
/// `job="…"` matchers.
struct Tokens {
    metrics: BTreeSet<String>,
    jobs: BTreeSet<String>,
}

fn tokenize(expr: &str) -> Tokens {
    let mut tokens = Tokens {
        metrics: BTreeSet::new(),
        jobs: BTreeSet::new(),
    };
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut last_ident = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            let text: String = chars[start..i.min(chars.len())].iter().collect();
            let before: String = chars[..start - 1].iter().collect();
            let matcher = before.trim_end();
            if last_ident == "job" && (matcher.ends_with('=') || matcher.ends_with("=~")) {
                tokens.jobs.insert(text);
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            last_ident = chars[start..i].iter().collect();
            if last_ident.starts_with("outrigger_") {
                tokens.metrics.insert(last_ident.clone());
            }
        } else {
            i += 1;
        }
    }
    tokens
}

/// Metric names (with histogram suffixes) queried, each with where.
fn queried() -> (BTreeMap<String, BTreeSet<&'static str>>, BTreeSet<String>) {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("grafana/dashboards/outrigger.json")).expect("dashboard JSON");
    let mut dashboard_exprs = Vec::new();
    dashboard_queries(&dashboard, &mut dashboard_exprs);
    let alert_exprs = rule_exprs(&read("prometheus/alerts.yml"));
    assert!(
        dashboard_exprs.len() >= 30 && alert_exprs.len() >= 10,
        "found {} dashboard and {} alert queries: the parsing is broken",
        dashboard_exprs.len(),
        alert_exprs.len()
    );
    let mut metrics: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut jobs = BTreeSet::new();
    for (source, exprs) in [
        ("dashboard", &dashboard_exprs),
        ("alerts.yml", &alert_exprs),
    ] {
        for expr in exprs.iter() {
            let tokens = tokenize(expr);
            for name in tokens.metrics {
                metrics.entry(name).or_default().insert(source);
            }
            jobs.extend(tokens.jobs);
        }
    }
    (metrics, jobs)
}

/// Sample names of a Prometheus text exposition.
fn exported(text: &str, into: &mut BTreeSet<String>) {
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        into.insert(line[..end].to_string());
    }
}

#[test]
fn tokenizer_finds_metrics_and_jobs() {
    let tokens = tokenize(
        r#"histogram_quantile(0.95, sum by (le) (rate(outrigger_a_bucket{job="outrigger-node", x=~"outrigger_not_a_metric"}[5m]))) / on(job) outrigger_b"#,
    );
    assert_eq!(
        tokens.metrics.into_iter().collect::<Vec<_>>(),
        ["outrigger_a_bucket", "outrigger_b"]
    );
    assert_eq!(
        tokens.jobs.into_iter().collect::<Vec<_>>(),
        ["outrigger-node"]
    );
    let exprs = rule_exprs(
        "      - alert: A\n        expr: up == 0\n      - alert: B\n        expr: |\n          a\n          / b\n        for: 1m\n",
    );
    assert_eq!(exprs, ["up == 0", "          a\n          / b\n"]);
}

/// A relayer whose every RPC URL is dead, from `template`'s config: it
/// runs, fails each round and counts
/// `outrigger_relayer_errors_total{kind="rpc_unreachable"}`, the metric that
/// only exists once something failed. It can act on nothing.
fn dead_end_relayer(template: &RelayerProcess, dir: &Path) -> RelayerProcess {
    let metrics = free_addr();
    let dead = free_addr();
    let config: String = std::fs::read_to_string(&template.config)
        .unwrap()
        .lines()
        .map(|line| {
            if line.starts_with("rpc_urls") {
                format!("rpc_urls = [\"http://{dead}\"]")
            } else if line.starts_with("data_dir") {
                "data_dir = \"dead-end-relayer-data\"".into()
            } else if line.starts_with("metrics_addr") {
                format!("metrics_addr = \"{metrics}\"")
            } else {
                line.to_string()
            }
        })
        .map(|line| line + "\n")
        .collect();
    let path = dir.join("dead-end-relayer.toml");
    std::fs::write(&path, config).unwrap();
    let mut relayer = RelayerProcess::new(
        path,
        metrics,
        template.address,
        dir.join("dead-end-relayer.log"),
    );
    relayer.start().unwrap();
    relayer
}

/// A validator chain with a bridge (4 validators, anvil, 4 relayers of
/// threshold 3), one ETH deposit through it, then every `/metrics` scraped:
/// each metric the dashboard or an alert queries must be among them.
#[test]
fn dashboard_and_alerts_query_only_exported_metrics() {
    let (queried, jobs) = queried();
    let prometheus = read("prometheus/prometheus.yml");
    for job in &jobs {
        assert!(
            prometheus.contains(&format!("job_name: {job}\n")),
            "the queries select job {job:?}, which prometheus.yml does not scrape"
        );
    }

    let env = BridgeEnv::start(BridgeSetup {
        anvil_args: &["--block-time", "1", "--slots-in-an-epoch", "1"],
        ..BridgeSetup::default()
    })
    .unwrap();
    // A deposit: relayer transactions and deposit counters.
    let user = key(21);
    let to = key(41).address();
    env.bridge_cli(
        &user,
        &[
            "deposit",
            "--amount",
            "1",
            "--to",
            &to.to_string(),
            "--private-key-env",
            "TEST_USER_KEY",
        ],
    )
    .unwrap();
    wait_for(
        "the deposit on the sidechain",
        Duration::from_secs(60),
        || Ok((balance(env.sidechain_rpc(), to)? == ether(1)).then_some(())),
    )
    .map_err(|e| eyre::eyre!("{e}\n{}", env.relayer_logs()))
    .unwrap();
    let template = &env.relayers[0];
    let dead_end = dead_end_relayer(template, template.config.parent().unwrap_or(env.path()));

    let mut names = BTreeSet::new();
    let outcome = wait_for(
        "every queried metric exported",
        Duration::from_secs(20),
        || {
            names.clear();
            for i in env.sidechain.running() {
                exported(
                    &http_get(env.sidechain.node(i).metrics, "/metrics")?.1,
                    &mut names,
                );
            }
            for relayer in &env.relayers {
                exported(&relayer.metrics_text()?, &mut names);
            }
            exported(&dead_end.metrics_text()?, &mut names);
            Ok(queried
                .keys()
                .all(|name| names.contains(name))
                .then(|| names.clone()))
        },
    );
    let missing: Vec<String> = queried
        .iter()
        .filter(|(name, _)| !names.contains(*name))
        .map(|(name, sources)| format!("{name} (queried by {sources:?})"))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics queried but not exported by the node or the relayer:\n  {}\nexported: {names:?}",
        missing.join("\n  ")
    );
    outcome.unwrap();
    eprintln!(
        "{} queried metric names, all exported ({} exported in all)",
        queried.len(),
        names.len()
    );
}

/// deploy/validator.toml and deploy/full-node.toml (and node.example.toml)
/// pass the node's configuration checks: the node gets as far as the data
/// dir, which is not initialised here.
#[test]
fn example_node_configs_load() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    for file in ["validator.toml", "full-node.toml", "node.example.toml"] {
        let output = Command::new(outrigger_binary())
            .args(["node", "--config"])
            .arg(deploy_dir().join(file))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--rpc-addr", &free_addr().to_string()])
            .args(["--metrics-addr", &free_addr().to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{file}: {text}");
        assert!(
            text.contains("is not initialised") && !text.contains("invalid configuration"),
            "{file} does not load: {text}"
        );
    }
}
