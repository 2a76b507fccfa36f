//! Hostile JSON-RPC clients (`tests/clients/hostile_rpc.py`): slow clients
//! holding half-sent requests, a huge announced body, deeply nested JSON.
//! The node bounds what they hold (per-IP and total TCP connection limits,
//! body size, JSON depth) and keeps serving a well-behaved client, whose
//! latency before, during and after the abuse is printed.

use std::{path::Path, process::Command};

use outrigger_tests::node_process::NodeProcess;

use crate::clients::tool;

#[test]
fn slow_huge_and_deep_clients_do_not_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_with_env(
        &["--dev", "--block-time-ms", "1000"],
        &[("OUTRIGGER__RPC__MAX_CONNECTIONS_PER_IP", "200")],
        dir.path(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/hostile_rpc.py");
    let output = Command::new(tool("venv/bin/python"))
        .arg(&script)
        .arg(node.rpc.to_string())
        .arg(node.metrics.to_string())
        .arg("200")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("hostile clients held"),
        "hostile_rpc.py failed:\n{stdout}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        node.output()
    );
}
