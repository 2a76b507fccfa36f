//! A garbage peer is disconnected and banned; honest peers stay.

use std::time::Duration;

use outrigger_consensus::network::{
    Topic,
    testing::{GarbageConfig, spawn_garbage_peer},
};

use super::support::{CHAIN_ID, Verdicts, config, eventually, init_logs, start, warm_up};

/// Runs a garbage peer sending what `garbage` enables against a node with an
/// honest neighbour, and checks the garbage peer is banned and stays out.
async fn garbage_peer_is_banned(gossip: bool, sync: bool) {
    let mut victim_config = config();
    victim_config.gossip_message_bytes_max.proposal_bytes_max = 8 * 1024;
    let limits = victim_config.gossip_message_bytes_max;
    let mut victim = start(victim_config, Verdicts::Auto, 16).await;
    let mut honest_config = config();
    honest_config.bootnodes = vec![victim.addr.clone()];
    let honest = start(honest_config, Verdicts::Auto, 16).await;
    warm_up(&honest, &mut victim, Topic::Votes, "ok honest warm-up").await;

    let mut garbage_config = GarbageConfig::new(CHAIN_ID, victim.addr.clone());
    garbage_config.limits = limits;
    garbage_config.gossip = gossip;
    garbage_config.sync = sync;
    let garbage = spawn_garbage_peer(garbage_config).unwrap();
    let garbage_id = garbage.peer_id();

    eventually(
        "the garbage peer banned",
        Duration::from_secs(20),
        || async { (victim.metric("outrigger_p2p_peers_banned_total") >= 1.0).then_some(()) },
    )
    .await;
    eventually("the garbage peer gone", Duration::from_secs(5), || async {
        (!victim.connected(garbage_id).await).then_some(())
    })
    .await;
    // It keeps redialling every 50 ms and is refused each time.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !victim.connected(garbage_id).await,
            "banned peer reconnected"
        );
    }
    assert_eq!(victim.metric("outrigger_p2p_peers_banned_total"), 1.0);
    if gossip {
        assert!(victim.metric("outrigger_p2p_rejected_messages_total") >= 1.0);
    }

    // The honest peer is still connected, its score intact, its gossip flows.
    let peers = victim.handle.peers().await;
    let honest_info = peers
        .iter()
        .find(|p| p.peer_id == honest.peer_id())
        .expect("honest peer still connected");
    assert!(honest_info.score >= 0.0, "{honest_info:?}");
    let vote = b"ok after the attack".to_vec();
    honest
        .handle
        .publish(Topic::Votes, vote.clone())
        .await
        .unwrap();
    victim.receive(&vote, Duration::from_secs(5)).await;

    garbage.stop().await;
    victim.stop().await;
    honest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_rejected_gossip_is_banned() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(60), garbage_peer_is_banned(true, false))
        .await
        .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_malformed_sync_requests_is_banned() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(60), garbage_peer_is_banned(false, true))
        .await
        .expect("test timed out");
}
