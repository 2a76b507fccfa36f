//! Who may stay connected: the peer limit, and peers of another chain.

use std::time::Duration;

use super::support::{Verdicts, config, eventually, init_logs, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_peers_are_refused() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut hub_config = config();
        hub_config.max_peers = 1;
        let hub = start(hub_config, Verdicts::Auto, 0).await;
        let mut first_config = config();
        first_config.bootnodes = vec![hub.addr.clone()];
        let first = start(first_config, Verdicts::Auto, 0).await;
        eventually(
            "the first peer connected",
            Duration::from_secs(10),
            || async { hub.connected(first.peer_id()).await.then_some(()) },
        )
        .await;

        let mut second_config = config();
        second_config.bootnodes = vec![hub.addr.clone()];
        let second = start(second_config, Verdicts::Auto, 0).await;
        // It keeps redialling (backoff capped at 1 s) and is refused each time.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let peers = hub.handle.peers().await;
        assert_eq!(peers.len(), 1, "{peers:?}");
        assert_eq!(peers[0].peer_id, first.peer_id());
        assert!(second.handle.peers().await.is_empty());

        // Room again once the first one leaves.
        first.stop().await;
        eventually(
            "the second peer connected",
            Duration::from_secs(10),
            || async { hub.connected(second.peer_id()).await.then_some(()) },
        )
        .await;
        hub.stop().await;
        second.stop().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_chain_is_banned() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(30), async {
        let ours = start(config(), Verdicts::Auto, 0).await;
        let mut theirs_config = config();
        theirs_config.chain_id = 8;
        theirs_config.bootnodes = vec![ours.addr.clone()];
        let theirs = start(theirs_config, Verdicts::Auto, 0).await;
        // Whichever side identifies the other first bans it and hangs up.
        eventually(
            "the other chain's peer banned",
            Duration::from_secs(10),
            || async {
                let banned = ours.metric("outrigger_p2p_peers_banned_total")
                    + theirs.metric("outrigger_p2p_peers_banned_total");
                (banned >= 1.0).then_some(())
            },
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!ours.connected(theirs.peer_id()).await);
        assert!(!theirs.connected(ours.peer_id()).await);
        ours.stop().await;
        theirs.stop().await;
    })
    .await
    .expect("test timed out");
}
