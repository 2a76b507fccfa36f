//! `rpc`: requests/s of an Outrigger `--dev` node and of anvil, both given
//! the same state by the same signed transactions (a MockERC20, holders,
//! funded senders) and then the same load from the lean client: reads
//! (`eth_blockNumber`, `eth_getBalance`, `eth_call` of `balanceOf`) with N
//! keep-alive clients, and `eth_sendRawTransaction` of pre-signed
//! transfers. Neither mines during the load (`--no-mining`; a block time
//! of an hour); `evm_mine` seals the setup.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, Bytes, TxKind, U256};
use eyre::{bail, ensure};
use serde_json::{Value, json};

use super::{
    Knobs, Row, Size,
    http::{self, LoadResult},
    load::{self, Kind, Plan},
};
use crate::{
    anvil::AnvilProcess,
    node_process::{NodeProcess, rpc},
    testnet::dev_key,
};

/// Token holders whose balances `eth_call` reads.
const HOLDERS: usize = 32;
/// Senders one dev account funds (below the pool's 64 per sender).
const FUNDED_PER_DEV: usize = 60;

struct Target {
    name: &'static str,
    rpc: SocketAddr,
}

/// Runs the scenario. Knobs: `--clients`, `--seconds` (per method),
/// `--senders`, `--txs-per-sender`.
pub fn run(size: Size, knobs: &Knobs) -> eyre::Result<Vec<Row>> {
    let clients: usize = knobs.get("clients", size.pick(4, 32, 64))?;
    let seconds: f64 = knobs.get("seconds", size.pick(0.5, 3.0, 5.0))?;
    let senders: usize = knobs.get("senders", size.pick(20, 500, 500))?;
    let per_sender: usize = knobs.get("txs-per-sender", size.pick(5, 16, 16))?;
    ensure!(
        senders <= 9 * FUNDED_PER_DEV,
        "--senders at most {}",
        9 * FUNDED_PER_DEV
    );
    ensure!(
        per_sender <= 60,
        "--txs-per-sender at most 60 (the pool's per-sender limit)"
    );
    let dir = tempfile::tempdir()?;
    let node = NodeProcess::start(&["--dev", "--block-time-ms", "3600000"], dir.path())?;
    let anvil = AnvilProcess::start(&["--no-mining", "--chain-id", "1337"], dir.path())?;
    let targets = [
        Target {
            name: "outrigger",
            rpc: node.rpc,
        },
        Target {
            name: "anvil",
            rpc: anvil.rpc,
        },
    ];
    let token = dev_key(0).address().create(0);
    for target in &targets {
        setup(target, token, senders)?;
    }
    // The same state: a holder's token balance and a sender's ether.
    let probe = |t: &Target| -> eyre::Result<(Value, Value)> {
        let call =
            json!({"to": token, "data": load::balance_of_call(load::sender_key(0).address())});
        Ok((
            rpc(t.rpc, "eth_call", json!([call, "latest"]))?,
            rpc(
                t.rpc,
                "eth_getBalance",
                json!([load::sender_key(senders - 1).address(), "latest"]),
            )?,
        ))
    };
    let (a, b) = (probe(&targets[0])?, probe(&targets[1])?);
    ensure!(
        a == b,
        "the two chains differ after the setup: {a:?} vs {b:?}"
    );

    let reads: [(&str, Vec<Vec<u8>>); 3] = [
        (
            "eth_blockNumber",
            vec![http::request(&http::body("eth_blockNumber", "[]"))],
        ),
        (
            "eth_getBalance",
            (0..senders)
                .map(|s| {
                    let params = format!(r#"["{}","latest"]"#, load::sender_key(s).address());
                    http::request(&http::body("eth_getBalance", &params))
                })
                .collect(),
        ),
        (
            "eth_call balanceOf",
            (0..HOLDERS)
                .map(|h| {
                    let data = load::balance_of_call(load::sender_key(h).address());
                    let params = format!(r#"[{{"to":"{token}","data":"{data}"}},"latest"]"#);
                    http::request(&http::body("eth_call", &params))
                })
                .collect(),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let duration = Duration::from_secs_f64(seconds);
    let mut rows = Vec::new();
    for (method, requests) in reads {
        let requests = Arc::new(requests);
        let mut results = Vec::new();
        for target in &targets {
            // Warm the connections and caches, then measure.
            runtime.block_on(http::closed_loop(
                target.rpc,
                requests.clone(),
                clients,
                duration / 5,
                false,
            ))?;
            results.push(runtime.block_on(http::closed_loop(
                target.rpc,
                requests.clone(),
                clients,
                duration,
                false,
            ))?);
        }
        rows.push(row(&format!("{method} req/s"), &results, clients)?);
    }
    // Ingest: each pre-signed transfer sent once to each.
    let keys: Vec<_> = (0..senders).map(load::sender_key).collect();
    let plan = Plan::sign(
        &keys,
        crate::CHAIN_ID,
        &vec![0; senders],
        per_sender,
        |_, _| Kind::Eth,
    );
    let requests = Arc::new(plan.requests);
    let mut results = Vec::new();
    for target in &targets {
        results.push(runtime.block_on(http::closed_loop(
            target.rpc,
            requests.clone(),
            clients,
            Duration::from_secs(600),
            true,
        ))?);
    }
    rows.push(row("eth_sendRawTransaction tx/s", &results, clients)?);
    drop((node, anvil));
    Ok(rows)
}

fn row(measure: &str, results: &[LoadResult], clients: usize) -> eyre::Result<Row> {
    let [ours, anvil] = results else {
        bail!("two targets");
    };
    for (name, r) in [("outrigger", ours), ("anvil", anvil)] {
        ensure!(
            r.ok > 0,
            "{measure}: {name} answered nothing ({} errors)",
            r.errors
        );
    }
    Ok(Row::new("rpc", measure, ours.per_second(), "/s")
        .vs("anvil", anvil.per_second())
        .note(format!(
            "{clients} clients on 1 thread, client CPU {:.2}/{:.2} cores; errors {}/{}",
            ours.client_cores, anvil.client_cores, ours.errors, anvil.errors
        )))
}

/// Deploys the token, mints to the holders, funds the senders, mines.
fn setup(target: &Target, token: Address, senders: usize) -> eyre::Result<()> {
    let dev0 = dev_key(0);
    let mut raws = vec![crate::raw_hex(&dev0, load::deploy_token(0)?)];
    for h in 0..HOLDERS {
        let data = load::mint_call(load::sender_key(h).address(), U256::from(1_000_000u64));
        raws.push(call(&dev0, 1 + h as u64, token, U256::ZERO, data, 100_000));
    }
    for s in 0..senders {
        let dev = dev_key(1 + (s / FUNDED_PER_DEV) as u32);
        let to = load::sender_key(s).address();
        let value = U256::from(10u64).pow(U256::from(20u64));
        raws.push(call(
            &dev,
            (s % FUNDED_PER_DEV) as u64,
            to,
            value,
            Bytes::new(),
            21_000,
        ));
    }
    for raw in &raws {
        rpc(target.rpc, "eth_sendRawTransaction", json!([raw]))?;
    }
    rpc(target.rpc, "evm_mine", json!([]))?;
    let block = rpc(target.rpc, "eth_getBlockByNumber", json!(["latest", false]))?;
    let included = block["transactions"].as_array().map_or(0, Vec::len);
    ensure!(
        included == raws.len(),
        "{}: the setup block holds {included} of {} transactions",
        target.name,
        raws.len()
    );
    Ok(())
}

fn call(
    key: &alloy_signer_local::PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> String {
    crate::raw_hex(
        key,
        load::eip1559(nonce, TxKind::Call(to), value, input, gas_limit),
    )
}
