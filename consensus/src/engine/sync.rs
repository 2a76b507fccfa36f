//! Block sync (asking peers for their head, fetching and importing
//! certified blocks), serving it to peers, and re-broadcasting our own
//! messages when a height stalls.

use std::time::Instant;

use tokio::{sync::oneshot, task::JoinSet};
use tracing::{debug, info, warn};

use super::{Engine, EngineError, Internal, REBROADCAST_MESSAGES};
use crate::{
    app::AppError,
    codec,
    network::{PeerId, Status, SyncRequest, SyncResponse, Topic},
};

impl Engine {
    /// The periodic work: re-broadcast if the height stalls, and ask peers
    /// where they are.
    pub(super) async fn on_tick(&mut self) {
        let stalled = self.config.rebroadcast_after;
        if self.height_started.elapsed() >= stalled && self.last_rebroadcast.elapsed() >= stalled {
            self.rebroadcast().await;
        }
        if self.syncing {
            return;
        }
        self.syncing = true;
        let network = self.network.clone();
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let mut requests = JoinSet::new();
            for info in network.peers().await {
                let network = network.clone();
                requests.spawn(async move {
                    match network.request(info.peer_id, SyncRequest::Status).await {
                        Ok(SyncResponse::Status(status)) => Some((info.peer_id, status)),
                        _ => None,
                    }
                });
            }
            let mut statuses = Vec::new();
            while let Some(result) = requests.join_next().await {
                if let Ok(Some(status)) = result {
                    statuses.push(status);
                }
            }
            let _ = internal.send(Internal::Statuses(statuses)).await;
        });
    }

    /// The committed head: the core's height once it decided (the engine
    /// commits before anything else), the height before otherwise.
    pub(super) fn head(&self) -> u64 {
        let height = self.core.height().0;
        if self.core.decision().is_some() {
            height
        } else {
            height.saturating_sub(1)
        }
    }

    pub(super) fn on_statuses(
        &mut self,
        statuses: Vec<(PeerId, Status)>,
    ) -> Result<(), EngineError> {
        let genesis = self.app.genesis_hash();
        let mut best: Option<(PeerId, u64)> = None;
        for (peer, status) in statuses {
            if status.chain_id != self.chain_id || status.genesis_hash != genesis {
                warn!(target: "sync", %peer, chain_id = status.chain_id, "peer is on another chain");
                self.network.ban(peer, "another chain");
                continue;
            }
            if best.is_none_or(|(_, head)| status.head > head) {
                best = Some((peer, status.head));
            }
        }
        if let Some((_, best)) = best {
            self.peers_head = Some(best);
        }
        let head = self.head();
        let Some((peer, target)) = best.filter(|(_, target)| *target > head) else {
            self.metrics.sync_target.set(head as i64);
            self.syncing = false;
            // No peer is ahead (a peer that claimed a higher head lied, or
            // consensus caught up): the node is not syncing.
            if self.sync_progress.take().is_some() {
                info!(target: "sync", height = head, "no peer is ahead; following consensus");
                self.sync_target = head;
                self.publish_sync();
            }
            return Ok(());
        };
        self.metrics.sync_target.set(target as i64);
        // One block behind is what consensus is about to decide here too:
        // fetch only once it is clearly behind, or stuck.
        if target == head + 1 && self.height_started.elapsed() < self.config.sync.interval * 2 {
            self.syncing = false;
            return Ok(());
        }
        if self.sync_progress.is_none() {
            info!(target: "sync", head, target, %peer, "behind the network; syncing");
            self.sync_progress = Some((Instant::now(), head));
        }
        self.sync_target = target;
        self.publish_sync();
        self.fetch(peer);
        Ok(())
    }

    /// Publishes the sync in progress (or none) for `eth_syncing`.
    fn publish_sync(&self) {
        let range = self.sync_progress.map(|(_, start)| super::SyncRange {
            start,
            target: self.sync_target,
        });
        self.sync_status.send_if_modified(|current| {
            let changed = *current != range;
            *current = range;
            changed
        });
    }

    fn fetch(&mut self, peer: PeerId) {
        let from = self.head() + 1;
        let count = (self.sync_target + 1)
            .saturating_sub(from)
            .clamp(1, u64::from(self.config.sync.batch_blocks));
        let network = self.network.clone();
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let request = SyncRequest::Blocks {
                from,
                // At most batch_blocks, which is a u32.
                count: count as u32,
            };
            let message = match network.request(peer, request).await {
                Ok(SyncResponse::Blocks(blocks)) => Internal::Fetched { peer, blocks },
                Ok(other) => {
                    debug!(target: "sync", %peer, ?other, "peer did not serve blocks");
                    Internal::SyncDone
                }
                Err(error) => {
                    debug!(target: "sync", %peer, %error, "block request failed");
                    Internal::SyncDone
                }
            };
            let _ = internal.send(message).await;
        });
    }

    /// Checks and imports fetched blocks in order; a bad one costs the peer.
    pub(super) async fn on_fetched(
        &mut self,
        peer: PeerId,
        blocks: Vec<Vec<u8>>,
    ) -> Result<(), EngineError> {
        let chain_id = self.config.core.chain_id;
        let mut imported = 0u64;
        for bytes in blocks {
            let synced = match codec::decode_synced_block(&bytes) {
                Ok(synced) => synced,
                Err(e) => {
                    warn!(target: "sync", %peer, error = %e, "undecodable block");
                    self.network.penalize(peer, "undecodable synced block");
                    break;
                }
            };
            let height = synced.certificate.height;
            if height.0 <= self.head() {
                continue;
            }
            if self.core.decision().is_some() {
                // Decided and committed, waiting out the block interval:
                // behind the network, the next height starts now.
                self.advance_to_head().await?;
            }
            if height > self.core.height() {
                self.network.penalize(peer, "synced blocks out of order");
                break;
            }
            if let Err(e) = synced
                .certificate
                .verify(chain_id, height, &self.validators)
            {
                warn!(target: "sync", %peer, %height, error = %e, "bad certificate");
                self.network.penalize(peer, "bad certificate");
                break;
            }
            let seal = codec::encode_certificate(&synced.certificate);
            let app = self.app.clone();
            let block = synced.block;
            let result = tokio::task::spawn_blocking(move || app.import(block, &seal))
                .await
                .map_err(|e| EngineError::App(format!("import task: {e}")))?;
            match result {
                Ok(()) => {
                    imported += 1;
                    self.metrics.synced_blocks.inc();
                }
                Err(AppError::NotOnHead { .. }) => {}
                Err(AppError::Invalid(reason)) => {
                    // A certified block that does not execute: the certificate
                    // is real, so this node's state disagrees with the network.
                    warn!(target: "sync", %peer, %height, %reason, "certified block failed to import");
                    break;
                }
                Err(AppError::Fatal(e)) => return Err(EngineError::App(e)),
            }
            self.advance_to_head().await?;
        }
        let head = self.head();
        if let Some((started, from)) = self.sync_progress {
            let elapsed = started.elapsed().as_secs_f64().max(1e-3);
            let rate = (head.saturating_sub(from)) as f64 / elapsed;
            let left = self.sync_target.saturating_sub(head);
            info!(
                target: "sync",
                height = head,
                target = self.sync_target,
                blocks_per_s = format!("{rate:.1}"),
                eta_s = if rate > 0.0 { (left as f64 / rate).round() } else { f64::NAN },
                "syncing"
            );
            if left == 0 {
                info!(target: "sync", height = head, "caught up; following consensus");
                self.sync_progress = None;
                self.publish_sync();
            }
        }
        if imported > 0 && head < self.sync_target {
            self.fetch(peer);
        } else {
            self.syncing = false;
        }
        Ok(())
    }

    /// Answers a peer's sync request, reading the store off the task.
    pub(super) fn serve_sync(
        &self,
        peer: PeerId,
        request: SyncRequest,
        respond: oneshot::Sender<SyncResponse>,
    ) {
        let app = self.app.clone();
        let chain_id = self.chain_id;
        let batch_max = self.config.sync.batch_blocks;
        let bytes_max = self.config.sync.response_bytes_max;
        tokio::task::spawn_blocking(move || {
            let response = match request {
                SyncRequest::Status => match app.head() {
                    Ok((head, _)) => SyncResponse::Status(Status {
                        chain_id,
                        genesis_hash: app.genesis_hash(),
                        head,
                    }),
                    Err(e) => SyncResponse::Error(e.to_string()),
                },
                SyncRequest::Blocks { from, count } => {
                    match app.synced_blocks(from, count.min(batch_max), bytes_max) {
                        Ok(blocks) => SyncResponse::Blocks(blocks),
                        Err(e) => SyncResponse::Error(e.to_string()),
                    }
                }
            };
            debug!(target: "sync", %peer, "served a sync request");
            let _ = respond.send(response);
        });
    }

    /// Publishes again the newest messages this validator signed at the
    /// current height, with fresh nonces.
    pub(super) async fn rebroadcast(&mut self) {
        self.last_rebroadcast = Instant::now();
        let record = self.wal.record();
        if record
            .last_signed
            .is_none_or(|l| l.height != self.core.height())
        {
            return;
        }
        let messages: Vec<Vec<u8>> = record
            .messages
            .iter()
            .rev()
            .take(REBROADCAST_MESSAGES)
            .cloned()
            .collect();
        debug!(target: "consensus", height = %self.core.height(), round = %self.core.round(), count = messages.len(), "re-broadcasting our messages");
        for mut message in messages.into_iter().rev() {
            let topic = if codec::decode_vote(&message).is_ok() {
                Topic::Votes
            } else {
                Topic::Proposals
            };
            let nonce = self.next_nonce();
            codec::set_nonce(&mut message, nonce);
            self.publish(topic, message).await;
        }
    }
}
