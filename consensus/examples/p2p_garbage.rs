//! A hostile peer for multi-process tests: dials a node and floods it with
//! garbage and oversized messages on every gossip topic and on block sync.
//!
//! `cargo run -p outrigger-consensus --example p2p_garbage -- <chain id> <multiaddr> [seconds]`

use std::time::Duration;

use outrigger_consensus::network::{
    Multiaddr,
    testing::{GarbageConfig, spawn_garbage_peer},
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: p2p_garbage <chain id> <multiaddr> [seconds]";
    let chain_id: u64 = args.next().ok_or(usage)?.parse()?;
    let target: Multiaddr = args.next().ok_or(usage)?.parse()?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60);
    let peer = spawn_garbage_peer(GarbageConfig::new(chain_id, target))?;
    println!("garbage peer {} running for {seconds}s", peer.peer_id());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    peer.stop().await;
    Ok(())
}
