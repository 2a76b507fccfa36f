//! The `outrigger` command line: help, keys, configuration errors, and a
//! persistent node from `init` and a config file.

use std::{process::Command, time::Duration};

use outrigger_tests::node_process::{NodeProcess, outrigger_binary, quantity, rpc};
use serde_json::json;

fn outrigger(args: &[&str]) -> std::process::Output {
    Command::new(outrigger_binary())
        .args(args)
        .output()
        .unwrap()
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_explains_every_command() {
    let output = outrigger(&["--help"]);
    assert!(output.status.success());
    let help = text(&output);
    for command in ["node", "init", "keys"] {
        assert!(help.contains(command), "{help}");
    }
    let help = text(&outrigger(&["node", "--help"]));
    for flag in [
        "--dev",
        "--genesis",
        "--config",
        "--data-dir",
        "--block-time-ms",
        "--rpc-addr",
        "--metrics-addr",
        "--log-format",
    ] {
        assert!(help.contains(flag), "node --help lacks {flag}:\n{help}");
    }
    let help = text(&outrigger(&["keys", "--help"]));
    assert!(help.contains("generate") && help.contains("show"), "{help}");
}

#[test]
fn keys_are_private_files_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let output = outrigger(&["keys", "generate", "--data-dir", data]);
    assert!(output.status.success(), "{}", text(&output));
    let key_file = dir.path().join("validator.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let secret = std::fs::read_to_string(&key_file).unwrap();
    let shown = outrigger(&["keys", "show", "--key-file", key_file.to_str().unwrap()]);
    assert!(shown.status.success());
    let public = String::from_utf8_lossy(&shown.stdout).trim().to_string();
    assert_eq!(public.len(), 66, "{public}");
    assert!(text(&output).contains(&public));
    assert!(
        !text(&output).contains(secret.trim()),
        "generate printed the secret"
    );
    assert!(
        !text(&shown).contains(secret.trim()),
        "show printed the secret"
    );
    let again = outrigger(&["keys", "generate", "--data-dir", data]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("refusing to overwrite"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), secret);
}

#[test]
fn bad_configuration_is_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, "[rpc]\ngas_cap = \"plenty\"\n").unwrap();
    let output = outrigger(&["node", "--config", config.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("rpc.gas_cap"), "{stderr}");

    let output = Command::new(outrigger_binary())
        .args(["node", "--dev"])
        .env("OUTRIGGER__METRICS__ADDR", "not-an-address")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("metrics.addr"), "{stderr}");

    let output = outrigger(&[
        "node",
        "--data-dir",
        dir.path().join("empty").to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("not initialised"),
        "{}",
        text(&output)
    );
}

#[test]
fn init_then_node_from_a_config_file_continues_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A geth-style genesis with its own chain id and one funded account.
    let genesis = dir.path().join("genesis.json");
    std::fs::write(
        &genesis,
        json!({
            "config": {
                "chainId": 4242, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0,
                "eip158Block": 0, "byzantiumBlock": 0, "constantinopleBlock": 0,
                "petersburgBlock": 0, "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 0,
                "terminalTotalDifficulty": 0, "terminalTotalDifficultyPassed": true,
                "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0
            },
            "gasLimit": "0x1c9c380",
            "difficulty": "0x0",
            "baseFeePerGas": "0x3b9aca00",
            "timestamp": "0x6553f100",
            "extraData": "0x",
            "alloc": {
                "0x70997970C51812dc3A010C7d01b50e0d17dc79C8": { "balance": "0x1234" }
            }
        })
        .to_string(),
    )
    .unwrap();
    let output = outrigger(&[
        "init",
        "--genesis",
        genesis.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[block]\ntime_ms = 100\n[log]\nformat = \"json\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let mut node = NodeProcess::start(&["--config", config], dir.path()).unwrap();
    assert_eq!(rpc(node.rpc, "eth_chainId", json!([])).unwrap(), "0x1092");
    assert_eq!(
        rpc(
            node.rpc,
            "eth_getBalance",
            json!(["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "latest"])
        )
        .unwrap(),
        "0x1234"
    );
    let genesis_block = rpc(node.rpc, "eth_getBlockByNumber", json!(["0x0", false])).unwrap();
    assert_eq!(
        genesis_block["timestamp"], "0x6553f100",
        "block 0 is the file's"
    );
    let reached = node.wait_for_block(3, Duration::from_secs(20)).unwrap();
    assert!(node.terminate().unwrap().success());
    // JSON logs: every line one object.
    let log = node.output();
    assert!(
        log.lines()
            .filter(|l| l.starts_with('{'))
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{log}"
    );
    let node = NodeProcess::start(&["--config", config], dir.path()).unwrap();
    let head = node
        .wait_for_block(reached + 1, Duration::from_secs(20))
        .unwrap();
    assert!(head > reached);
    let again = rpc(node.rpc, "eth_getBlockByNumber", json!(["0x0", false])).unwrap();
    assert_eq!(again["hash"], genesis_block["hash"]);
}

/// Validator and p2p keys encrypted at rest (`outrigger keys encrypt`): the
/// node refuses to start without the passphrase, saying where to give it,
/// and finalizes blocks with it, from a file or the environment; neither the
/// secret nor the passphrase reaches its log.
#[test]
fn encrypted_keys_need_their_passphrase() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chain");
    let made = outrigger(&[
        "genesis",
        "new",
        "--validators",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made));
    let node_dir = out.join("node0");
    let key_file = node_dir.join("validator.key");
    let secret = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_string();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "tiller and sheet\n").unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = text(&outrigger(&[
        "keys",
        "show",
        "--key-file",
        key_file.to_str().unwrap(),
    ]));
    for file in ["validator.key", "p2p.key"] {
        let path = node_dir.join(file);
        let args = ["keys", "encrypt", "--key-file", path.to_str().unwrap()];
        let refused = outrigger(&args);
        assert!(!refused.status.success(), "encrypting needs a passphrase");
        let encrypted =
            outrigger(&[&args[..], &["--password-file", pass.to_str().unwrap()]].concat());
        assert!(encrypted.status.success(), "{}", text(&encrypted));
    }
    // The p2p key's peer id, as `genesis new` printed it.
    let peer_id = text(&made)
        .split("peer id ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let shown_id = outrigger(&[
        "keys",
        "show",
        "--peer-id",
        "--key-file",
        node_dir.join("p2p.key").to_str().unwrap(),
        "--password-file",
        pass.to_str().unwrap(),
    ]);
    assert_eq!(text(&shown_id).trim(), peer_id);
    let stored = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        !stored.contains(&secret) && stored.contains("scrypt"),
        "{stored}"
    );
    let shown = outrigger(&[
        "keys",
        "show",
        "--key-file",
        key_file.to_str().unwrap(),
        "--password-file",
        pass.to_str().unwrap(),
    ]);
    assert_eq!(text(&shown), public, "the same key, decrypted");

    let init = outrigger(&[
        "init",
        "--genesis",
        out.join("genesis.json").to_str().unwrap(),
        "--data-dir",
        node_dir.to_str().unwrap(),
    ]);
    assert!(init.status.success(), "{}", text(&init));
    let p2p = outrigger_tests::node_process::free_addr();
    let config = |password_file: &str| {
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = {:?}\n[block]\ntime_ms = 100\n[consensus]\nkey_password_file = {password_file:?}\n\
                 [p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{}\"]\n",
                node_dir.to_str().unwrap(),
                p2p.port()
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };

    let without = Command::new(outrigger_binary())
        .args(["node", "--config", &config("")])
        .env_remove("OUTRIGGER_KEY_PASSWORD")
        .output()
        .unwrap();
    assert!(!without.status.success());
    assert!(
        text(&without).contains("OUTRIGGER_KEY_PASSWORD"),
        "{}",
        text(&without)
    );

    let node =
        NodeProcess::start(&["--config", &config(pass.to_str().unwrap())], dir.path()).unwrap();
    node.wait_for_block(3, Duration::from_secs(30)).unwrap();
    let log = std::fs::read_to_string(&node.log).unwrap();
    drop(node);
    assert!(
        !log.contains(&secret) && !log.contains("tiller"),
        "the log holds a secret"
    );

    let node = NodeProcess::start_with_env(
        &["--config", &config("")],
        &[("OUTRIGGER_KEY_PASSWORD", "tiller and sheet")],
        dir.path(),
    )
    .unwrap();
    let head = quantity(&rpc(node.rpc, "eth_blockNumber", json!([])).unwrap()).unwrap();
    node.wait_for_block(head + 2, Duration::from_secs(30))
        .unwrap();
}

/// `outrigger node` processes whose parent is `parent`.
fn node_children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid ...`; comm has no ")" here.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((head, rest)) = stat.split_once(") ") else {
                return false;
            };
            let ppid = rest.split_whitespace().nth(1);
            let node = std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).nth(1) == Some(b"node"));
            head.ends_with("(outrigger") && ppid == Some(&parent.to_string()) && node
        })
        .collect()
}

/// Whether `pid` is gone or only a zombie waiting for its new parent.
fn stopped(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .split_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[test]
fn the_benchmark_runner_explains_itself() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_outrigger-bench"))
            .args(args)
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for scenario in [
        "import",
        "state-scale",
        "devnet-tps",
        "rpc",
        "sync",
        "--size",
    ] {
        assert!(text.contains(scenario), "--help lacks {scenario}: {text}");
    }
    let unknown = run(&["nonsense"]);
    assert!(!unknown.status.success());
    let error = String::from_utf8_lossy(&unknown.stderr);
    assert!(error.contains("unknown scenario \"nonsense\""), "{error}");
}

/// Sends SIGTERM to the benchmark when the test ends early.
struct Terminate(std::process::Child);

impl Drop for Terminate {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn a_signalled_benchmark_stops_the_validators_it_started() {
    let mut bench = Terminate(
        Command::new(env!("CARGO_BIN_EXE_outrigger-bench"))
            .args(["devnet-tps", "--size", "tiny"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = bench.0.id();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let validators = loop {
        let found = node_children(pid);
        if found.len() >= 4 {
            break found;
        }
        assert!(
            bench.0.try_wait().unwrap().is_none(),
            "the benchmark ended before its four validators were up"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no validators in 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        validators.iter().all(|v| !stopped(*v)),
        "validators {validators:?} run before the signal"
    );
    println!("validators {validators:?} up; stopping the benchmark");
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = bench.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the benchmark ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(143), "exit code of a SIGTERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !validators.iter().all(|v| stopped(*v)) {
        assert!(
            std::time::Instant::now() < deadline,
            "validators {validators:?} still run after the benchmark was stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
