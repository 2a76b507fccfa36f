//! Gossip between three nodes in a line, A - B - C (A and C only know B).

use std::time::Duration;

use outrigger_consensus::network::{NetworkError, Topic, Verdict};

use super::support::{Verdicts, config, init_logs, start, warm_up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_reach_everyone_and_are_forwarded_only_after_accept() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut b = start(config(), Verdicts::Hold, 0).await;
        let mut a_config = config();
        a_config.bootnodes = vec![b.addr.clone()];
        let mut a = start(a_config, Verdicts::Auto, 0).await;
        let mut c_config = config();
        c_config.bootnodes = vec![b.addr.clone()];
        let mut c = start(c_config, Verdicts::Auto, 0).await;

        // B's votes reach both of its neighbours.
        warm_up(&b, &mut a, Topic::Votes, "ok warm-up b->a").await;
        warm_up(&b, &mut c, Topic::Votes, "ok warm-up b->c").await;
        let vote = b"ok vote from b".to_vec();
        b.handle.publish(Topic::Votes, vote.clone()).await.unwrap();
        let at_a = a.receive(&vote, Duration::from_secs(5)).await;
        let at_c = c.receive(&vote, Duration::from_secs(5)).await;
        assert_eq!((at_a.topic, at_a.source), (Topic::Votes, b.peer_id()));
        assert_eq!((at_c.topic, at_c.source), (Topic::Votes, b.peer_id()));

        // A is not connected to C: A's vote reaches C only through B, and
        // only once B's engine accepted it.
        assert!(!a.connected(c.peer_id()).await);
        // Let the mesh form (heartbeats every second).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let vote = b"ok vote from a".to_vec();
        a.handle.publish(Topic::Votes, vote.clone()).await.unwrap();
        let at_b = b.receive(&vote, Duration::from_secs(5)).await;
        assert_eq!(at_b.source, a.peer_id());
        let early = tokio::time::timeout(
            Duration::from_millis(1500),
            c.receive(&vote, Duration::from_secs(60)),
        )
        .await;
        assert!(early.is_err(), "C got A's vote before B accepted it");
        b.handle.validated(at_b.id, Verdict::Accept);
        let at_c = c.receive(&vote, Duration::from_secs(5)).await;
        assert_eq!(at_c.source, b.peer_id(), "forwarded by B");

        // A message B ignores is not forwarded.
        let vote = b"ok vote B ignores".to_vec();
        a.handle.publish(Topic::Votes, vote.clone()).await.unwrap();
        let at_b = b.receive(&vote, Duration::from_secs(5)).await;
        b.handle.validated(at_b.id, Verdict::Ignore);
        let late = tokio::time::timeout(
            Duration::from_secs(2),
            c.receive(&vote, Duration::from_secs(60)),
        )
        .await;
        assert!(late.is_err(), "C got a vote B ignored");

        // Payloads over the topic's limit are refused at publish.
        let err = a
            .handle
            .publish(Topic::Votes, vec![b'o'; 1025])
            .await
            .unwrap_err();
        assert!(
            matches!(err, NetworkError::MessageTooLarge { max: 1024, .. }),
            "{err}"
        );

        assert!(a.metric("outrigger_p2p_gossip_messages_total") > 0.0);
        assert_eq!(b.metric("outrigger_p2p_peers"), 2.0);
        for node in [a, b, c] {
            node.stop().await;
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_without_peers_is_not_an_error() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(20), async {
        let a = start(config(), Verdicts::Auto, 0).await;
        a.handle
            .publish(Topic::Transactions, b"ok lonely".to_vec())
            .await
            .unwrap();
        assert_eq!(a.metric("outrigger_p2p_publish_no_peers_total"), 1.0);
        a.handle.shutdown().await;
        let err = a
            .handle
            .publish(Topic::Votes, b"ok".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(err, NetworkError::Closed), "{err}");
        assert!(a.handle.peers().await.is_empty());
    })
    .await
    .expect("test timed out");
}
