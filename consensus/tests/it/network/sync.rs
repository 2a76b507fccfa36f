//! Block sync request-response between two nodes.

use std::time::Duration;

use outrigger_consensus::network::{
    NetworkError, SYNC_BLOCKS_PER_REQUEST_MAX, Status, SyncRequest, SyncResponse,
};

use super::support::{
    CHAIN_ID, GENESIS, HEAD, Verdicts, block, config, eventually, init_logs, start,
};

const BLOCK_BYTES: usize = 4096;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_blocks_round_trip_within_limits() {
    init_logs();
    tokio::time::timeout(Duration::from_secs(60), async {
        // B answers with 4 KiB blocks and sends at most 16 MiB (default);
        // A reads and writes at most 10 KiB per response.
        let b = start(config(), Verdicts::Auto, BLOCK_BYTES).await;
        let mut a_config = config();
        a_config.bootnodes = vec![b.addr.clone()];
        a_config.sync_response_bytes_max = 10 * 1024;
        let a = start(a_config, Verdicts::Auto, BLOCK_BYTES).await;
        let b_id = b.peer_id();
        eventually("A connected to B", Duration::from_secs(10), || async {
            a.connected(b_id).await.then_some(())
        })
        .await;

        // Status, cached for peers().
        let status = a.handle.request(b_id, SyncRequest::Status).await.unwrap();
        let expected = Status {
            chain_id: CHAIN_ID,
            genesis_hash: GENESIS,
            head: HEAD,
        };
        assert_eq!(status, SyncResponse::Status(expected));
        let peers = a.handle.peers().await;
        let info = peers.iter().find(|p| p.peer_id == b_id).unwrap();
        assert_eq!(info.status, Some(expected));

        // Two 4 KiB blocks fit A's 10 KiB limit.
        let blocks = a
            .handle
            .request(b_id, SyncRequest::Blocks { from: 10, count: 2 })
            .await
            .unwrap();
        assert_eq!(
            blocks,
            SyncResponse::Blocks(vec![block(10, BLOCK_BYTES), block(11, BLOCK_BYTES)])
        );
        // Up to the responder's head only.
        let blocks = a
            .handle
            .request(b_id, SyncRequest::Blocks { from: HEAD, count: 2 })
            .await
            .unwrap();
        assert_eq!(blocks, SyncResponse::Blocks(vec![block(HEAD, BLOCK_BYTES)]));

        // Five are 20 KiB: B sends them, A refuses the response unread.
        let err = a
            .handle
            .request(b_id, SyncRequest::Blocks { from: 10, count: 5 })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, NetworkError::Request { reason, .. } if reason.contains("exceeds the limit")),
            "{err}"
        );

        // As a responder A sends only the blocks that fit its limit.
        let a_id = a.peer_id();
        let blocks = b
            .handle
            .request(a_id, SyncRequest::Blocks { from: 10, count: 5 })
            .await
            .unwrap();
        assert_eq!(
            blocks,
            SyncResponse::Blocks(vec![block(10, BLOCK_BYTES), block(11, BLOCK_BYTES)])
        );

        // Too many blocks in one request never leave.
        let err = a
            .handle
            .request(
                b_id,
                SyncRequest::Blocks {
                    from: 0,
                    count: SYNC_BLOCKS_PER_REQUEST_MAX + 1,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, NetworkError::InvalidRequest { .. }), "{err}");

        // Unknown peers are not dialled for a request.
        let stranger = outrigger_consensus::network::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let err = a
            .handle
            .request(stranger, SyncRequest::Status)
            .await
            .unwrap_err();
        assert!(matches!(err, NetworkError::NotConnected(_)), "{err}");

        // Out: status and three block requests; in: one from B.
        assert_eq!(a.metric("outrigger_p2p_sync_requests_total"), 5.0);
        // One oversized response cost B some score, not its connection.
        assert!(a.connected(b_id).await);

        // A ban (say, B's genesis differs) disconnects at once, and B's
        // redials are refused.
        a.handle.ban(b_id, "genesis differs");
        eventually("B disconnected", Duration::from_secs(5), || async {
            (!a.connected(b_id).await).then_some(())
        })
        .await;
        assert_eq!(a.metric("outrigger_p2p_peers_banned_total"), 1.0);
        a.stop().await;
        b.stop().await;
    })
    .await
    .expect("test timed out");
}
