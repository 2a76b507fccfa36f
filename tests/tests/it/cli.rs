//! The `outrigger` command line: help, keys, configuration errors, and a
//! persistent node from `init` and a config file.

use std::{process::Command, time::Duration};

use outrigger_tests::node_process::{NodeProcess, outrigger_binary, rpc};
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
