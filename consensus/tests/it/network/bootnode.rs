//! A node started before its bootnode connects once the bootnode is up.

use std::time::Duration;

use outrigger_consensus::network::{Keypair, NetworkEvent};

use super::support::{Verdicts, config, init_logs, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootnode_that_comes_up_late_is_dialled() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(60), async {
        // The bootnode's identity and port are known before it runs.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let boot_key = Keypair::generate_ed25519();
        let boot_id = boot_key.public().to_peer_id();
        let mut a_config = config();
        a_config.bootnodes = vec![
            format!("/ip4/127.0.0.1/tcp/{port}/p2p/{boot_id}")
                .parse()
                .unwrap(),
        ];
        let mut a = start(a_config, Verdicts::Auto, 0).await;

        // A few dials fail while nothing listens.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(a.handle.peers().await.is_empty());

        let mut boot_config = config();
        boot_config.keypair = boot_key.clone();
        boot_config.listen = vec![format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()];
        let boot = start(boot_config.clone(), Verdicts::Auto, 0).await;

        // Backoff is capped at 1 s in the test config.
        let event = tokio::time::timeout(Duration::from_secs(10), a.peer_events.recv())
            .await
            .expect("A never connected to its bootnode");
        assert!(
            matches!(event, Some(NetworkEvent::PeerConnected(p)) if p == boot_id),
            "{event:?}"
        );

        // And again after the bootnode restarts.
        boot.stop().await;
        let event = tokio::time::timeout(Duration::from_secs(10), a.peer_events.recv())
            .await
            .expect("no disconnect event");
        assert!(
            matches!(event, Some(NetworkEvent::PeerDisconnected(p)) if p == boot_id),
            "{event:?}"
        );
        let boot = start(boot_config, Verdicts::Auto, 0).await;
        let event = tokio::time::timeout(Duration::from_secs(10), a.peer_events.recv())
            .await
            .expect("A never reconnected to its restarted bootnode");
        assert!(
            matches!(event, Some(NetworkEvent::PeerConnected(p)) if p == boot_id),
            "{event:?}"
        );
        boot.stop().await;
        a.stop().await;
    })
    .await
    .expect("test timed out");
}
