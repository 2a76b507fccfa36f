//! `outrigger status`: one look at a node (head, peers, sync, validator
//! set) and, if asked, at a relayer's queue, through their public
//! endpoints only.

use std::time::Duration;

use eyre::{Context as _, eyre};
use outrigger_bridge::rpc::RpcClient;
use serde_json::{Value, json};

/// Prints the status of the node at `rpc` and of the relayer whose
/// metrics are at `relayer_metrics` (`host:port`), if given.
pub async fn run(rpc: &str, relayer_metrics: Option<&str>) -> eyre::Result<()> {
    let client = RpcClient::new("node", &[rpc.to_string()], Duration::from_secs(10))?;
    let ask = |method: &'static str, params: Value| {
        let client = &client;
        async move {
            client
                .request::<Value>(method, params)
                .await
                .wrap_err_with(|| format!("{method} at {rpc}"))
        }
    };
    let version = ask("web3_clientVersion", json!([])).await?;
    let chain_id = ask("eth_chainId", json!([])).await?;
    let head = ask("eth_getBlockByNumber", json!(["latest", false])).await?;
    let peers = ask("net_peerCount", json!([])).await?;
    let syncing = ask("eth_syncing", json!([])).await?;
    let validators = ask("outrigger_validators", json!([])).await?;
    let number = quantity(&head["number"])?;
    let timestamp = quantity(&head["timestamp"])?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    println!("node          {rpc} ({})", version.as_str().unwrap_or("?"));
    println!("chain id      {}", quantity(&chain_id)?);
    println!(
        "head          {number} {} ({} s ago)",
        head["hash"].as_str().unwrap_or("?"),
        now.saturating_sub(timestamp)
    );
    println!("peers         {}", quantity(&peers)?);
    match syncing {
        Value::Bool(false) => println!("sync          in step with its peers"),
        progress => println!(
            "sync          catching up: block {} of {} (from {})",
            quantity(&progress["currentBlock"])?,
            quantity(&progress["highestBlock"])?,
            quantity(&progress["startingBlock"])?
        ),
    }
    let set = validators["validators"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if set.is_empty() {
        println!("validators    none: a single-node development chain");
    } else {
        println!(
            "validators    {} in epoch {}, total power {}",
            set.len(),
            quantity(&validators["epoch"])?,
            quantity(&validators["totalPower"])?
        );
        for v in &set {
            println!(
                "              {} power {}",
                v["publicKey"].as_str().unwrap_or("?"),
                quantity(&v["power"])?
            );
        }
    }
    if let Some(addr) = relayer_metrics {
        let text = metrics_text(addr).await?;
        let sample = |name: &str| -> String {
            text.lines()
                .find_map(|line| {
                    let (key, value) = line.rsplit_once(' ')?;
                    (key == name).then(|| value.to_string())
                })
                .unwrap_or_else(|| "-".into())
        };
        println!("relayer       {addr}");
        println!(
            "  pending     deposits {}, withdrawals {}",
            sample("outrigger_relayer_pending{kind=\"deposit\"}"),
            sample("outrigger_relayer_pending{kind=\"withdrawal\"}")
        );
        println!(
            "  L1          head {}, final {}, cursor lag {} blocks",
            sample("outrigger_relayer_l1_head"),
            sample("outrigger_relayer_l1_final"),
            sample("outrigger_relayer_cursor_lag_blocks{chain=\"l1\"}")
        );
    }
    Ok(())
}

fn quantity(value: &Value) -> eyre::Result<u64> {
    let text = value
        .as_str()
        .ok_or_else(|| eyre!("expected a hex quantity, got {value}"))?;
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .wrap_err_with(|| format!("not a hex quantity: {text}"))
}

/// `GET /metrics` from `addr` (`host:port`), HTTP/1.0.
async fn metrics_text(addr: &str) -> eyre::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let read = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut body = Vec::new();
        stream.take(16 << 20).read_to_end(&mut body).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&body).into_owned())
    };
    let text = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .map_err(|_| eyre!("{addr}: no answer within 10 s"))?
        .wrap_err_with(|| format!("reading the relayer's metrics at {addr}"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| eyre!("{addr}: not an HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(eyre!("{addr}: {}", head.lines().next().unwrap_or("")));
    }
    Ok(body.to_string())
}
