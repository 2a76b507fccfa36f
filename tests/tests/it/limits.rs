//! JSON-RPC limits pushed past their bounds with a real WebSocket client
//! (`tests/clients/limits.py`, Python `websockets`): each refusal names the
//! limit, and the node keeps serving. (The oversized body, the 10,000-call
//! batch and the log range are in `node_rpc`.)

use std::{path::Path, process::Command};

use outrigger_tests::node_process::NodeProcess;

use crate::clients::tool;

/// Runs `limits.py ARGS` against a fresh dev node started with `env`.
fn run_limits(env: &[(&str, &str)], args: impl Fn(&NodeProcess) -> Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let node =
        NodeProcess::start_with_env(&["--dev", "--block-time-ms", "3600000"], env, dir.path())
            .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/limits.py");
    let output = Command::new(tool("venv/bin/python"))
        .arg(&script)
        .args(args(&node))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("limits held"),
        "limits.py failed:\n{stdout}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        node.output()
    );
}

#[test]
fn a_thousand_subscriptions_on_one_websocket_and_the_per_connection_limit() {
    run_limits(
        &[("OUTRIGGER__RPC__MAX_SUBSCRIPTIONS_PER_CONNECTION", "1024")],
        |node| {
            vec![
                "subscriptions".into(),
                format!("ws://{}", node.rpc),
                format!("http://{}", node.rpc),
                "1024".into(),
            ]
        },
    );
}

#[test]
fn connections_past_max_connections_are_refused_until_others_close() {
    run_limits(&[("OUTRIGGER__RPC__MAX_CONNECTIONS", "32")], |node| {
        vec![
            "connections".into(),
            format!("ws://{}", node.rpc),
            format!("http://{}", node.rpc),
            "32".into(),
        ]
    });
}

#[test]
fn a_thousand_deep_recursive_call_ends_at_the_gas_cap() {
    run_limits(&[], |node| {
        vec!["recursion".into(), format!("http://{}", node.rpc)]
    });
}
