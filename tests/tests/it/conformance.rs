//! The Ethereum JSON-RPC specification's own test fixtures (execution-apis
//! `tests/`), replayed against a dev node: each answer is validated against
//! the method's result schema in the spec's `src/`, each error by its code.
//! The driver is `tests/clients/conformance.py` (its docstring states how
//! the fixture chain's hashes and addresses become ours); it prints
//! per-method pass counts and the excluded methods with the reason.

use std::{path::Path, process::Command};

use outrigger_tests::node_process::NodeProcess;

use crate::clients::tool;

/// The spec archive in the shared fixtures dir (`$OUTRIGGER_FIXTURES`, or
/// `../shared/fixtures` beside the workspace root).
fn fixtures() -> std::path::PathBuf {
    std::env::var_os("OUTRIGGER_FIXTURES")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
            std::path::PathBuf::from,
        )
        .join("execution-apis/execution-apis.tgz")
}

#[test]
fn execution_apis_fixtures_conform_to_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let python = tool("venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/conformance.py");
    let fixtures = fixtures();
    assert!(fixtures.is_file(), "{} is missing", fixtures.display());

    // Unpack the fixtures and write a genesis holding the fixture chain's
    // accounts beside the dev accounts.
    let prepare = Command::new(&python)
        .arg(&script)
        .arg("prepare")
        .arg(&fixtures)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        prepare.status.success(),
        "prepare failed:\n{}\n{}",
        String::from_utf8_lossy(&prepare.stdout),
        String::from_utf8_lossy(&prepare.stderr)
    );

    // Blocks only on evm_mine: the driver seals the fixture chain's 54
    // blocks itself, and the head must not move while fixtures run.
    let genesis = dir.path().join("genesis.json");
    let node = NodeProcess::start(
        &[
            "--dev",
            "--genesis",
            genesis.to_str().unwrap(),
            "--block-time-ms",
            "3600000",
        ],
        dir.path(),
    )
    .unwrap();
    let output = Command::new(&python)
        .arg(&script)
        .arg("run")
        .arg(format!("http://{}", node.rpc))
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("conformance passed"),
        "conformance failed:\n{stdout}\n{}\nnode log (tail):\n{}",
        String::from_utf8_lossy(&output.stderr),
        tail(&node.output(), 40)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `eth_getProof` answers checked by `tests/clients/proofs.py`, a
/// Merkle-Patricia proof verifier written apart from the node (PyPI `rlp`
/// and `eth_hash` only), against the block's `stateRoot`: inclusion and
/// exclusion proofs of accounts and storage slots, and a tampered proof
/// rejected.
#[test]
fn get_proof_verified_by_an_independent_verifier() {
    let dir = tempfile::tempdir().unwrap();
    // Blocks only on evm_mine, so the script knows which block is the head.
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "3600000"], dir.path()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/proofs.py");
    let output = Command::new(tool("venv/bin/python"))
        .arg(&script)
        .arg(format!("http://{}", node.rpc))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("proofs verified"),
        "proof verification failed:\n{stdout}\n{}\nnode log (tail):\n{}",
        String::from_utf8_lossy(&output.stderr),
        tail(&node.output(), 40)
    );
}
