//! Gossip in: decode, check against the validator set of the message's
//! height, answer the network's validation, feed the core. And the results
//! of work done off the engine task.

use std::time::{Duration, Instant};

use outrigger_consensus_core::{Height, Input, ValidatorSet};
use tracing::{debug, error, warn};

use super::{
    AHEAD_HORIZON_PER_SECOND, DUPLICATE_PEERS_MAX, DUPLICATES_BAN_FACTOR,
    DUPLICATES_PER_SECOND_BASE, DUPLICATES_PER_SECOND_PER_VALIDATOR, EARLY_BYTES_MAX,
    EARLY_MESSAGES_MAX, Engine, EngineError, Internal, vote_label,
};
use crate::{
    app::AppError,
    codec,
    network::{GossipId, NetworkEvent, PeerId, Topic, Verdict},
};

/// Where a message's height is relative to ours.
enum Relevance {
    /// The current height: checked against its set.
    Current,
    /// The next height: checked against the next set, buffered by the core.
    Next(ValidatorSet),
    /// The next height, whose set is not known yet (it starts an epoch
    /// that this node's head has not fixed): kept until that height starts.
    Unknown,
    /// A past height: of no use, and counted against the peer that sent
    /// it (see [`Engine::note_ignored`]).
    Past,
    /// Beyond the next height: this node is behind, and every honest peer
    /// at the tip sends these; sync catches up. Nothing checks them (the
    /// set of a height not reached yet may not be known) and they are not
    /// relayed. Blamed only when far beyond any head known while this node
    /// follows consensus (see [`Engine::note_ahead`]): a node that is
    /// behind cannot tell junk of future heights from an honest peer ahead
    /// of it, and pays a decode for each.
    Ahead,
}

impl Engine {
    pub(super) async fn on_network(&mut self, event: NetworkEvent) -> Result<(), EngineError> {
        match event {
            NetworkEvent::Gossip {
                topic,
                id,
                source,
                data,
            } => self.on_gossip(topic, Some(id), Some(source), &data).await,
            NetworkEvent::SyncRequest {
                peer,
                request,
                respond,
            } => {
                self.serve_sync(peer, request, respond);
                Ok(())
            }
            NetworkEvent::PeerConnected(peer) => {
                debug!(target: "consensus", %peer, "peer connected");
                Ok(())
            }
            NetworkEvent::PeerDisconnected(peer) => {
                debug!(target: "consensus", %peer, "peer disconnected");
                Ok(())
            }
        }
    }

    fn relevance(&self, height: Height) -> Relevance {
        let current = self.core.height();
        if height == current {
            Relevance::Current
        } else if Some(height) == current.next() {
            match &self.next_validators {
                Some(set) => Relevance::Next(set.clone()),
                None => Relevance::Unknown,
            }
        } else if height > current {
            Relevance::Ahead
        } else {
            Relevance::Past
        }
    }

    fn reject(
        &self,
        id: Option<GossipId>,
        source: Option<PeerId>,
        kind: &'static str,
        why: &dyn std::fmt::Display,
    ) {
        debug!(target: "consensus", ?source, kind, %why, "rejected gossip");
        self.metrics
            .messages_rejected
            .with_label_values(&[kind])
            .inc();
        self.verdict(id, Verdict::Reject);
    }

    /// Answers the network's validation of a gossiped message (a replayed
    /// early message was answered when it arrived).
    fn verdict(&self, id: Option<GossipId>, verdict: Verdict) {
        if let Some(id) = id {
            self.network.validated(id, verdict);
        }
    }

    /// A vote or proposal of a height past the next, ignored without a
    /// check. A node that is behind gets honest traffic of heights far
    /// ahead of its own and cannot tell junk from it, so such a message
    /// counts against its sender only when this node follows consensus
    /// (no sync under way, a status round done) and the height is beyond
    /// [`AHEAD_HORIZON_PER_SECOND`] per second of the sync interval (at
    /// least one) past the best head known.
    fn note_ahead(&mut self, source: Option<PeerId>, height: Height) {
        let Some(peers_head) = self.peers_head else {
            return;
        };
        if self.sync_progress.is_some() {
            return;
        }
        let seconds = self.config.sync.interval.as_secs_f64().ceil().max(1.0) as u64;
        let margin = AHEAD_HORIZON_PER_SECOND.saturating_mul(seconds);
        let horizon = self.head().max(peers_head).saturating_add(margin);
        if height.0 > horizon {
            self.note_ignored(source);
        }
    }

    /// Counts a message that was of no use against the peer that sent it: a
    /// copy of a vote we hold, or a vote or proposal of a past height (or
    /// of one far ahead, see [`Engine::note_ahead`]). Honest
    /// peers relay only what they accepted and rebroadcast a stalled height
    /// every few seconds, so they send few; a peer sending far more (copies
    /// of genuine messages with fresh nonces, which gossip cannot tell apart
    /// by id, or old ones replayed) is penalised for every `allowed` such
    /// messages within a second, and banned at twice that.
    fn note_ignored(&mut self, source: Option<PeerId>) {
        let Some(peer) = source else { return };
        let allowed = DUPLICATES_PER_SECOND_BASE
            + DUPLICATES_PER_SECOND_PER_VALIDATOR * self.validators.len() as u32;
        let now = Instant::now();
        if self.duplicates.len() >= DUPLICATE_PEERS_MAX && !self.duplicates.contains_key(&peer) {
            self.duplicates
                .retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(1));
        }
        let (since, count) = self.duplicates.entry(peer).or_insert((now, 0));
        if now.duration_since(*since) >= Duration::from_secs(1) {
            *since = now;
            *count = 0;
        }
        *count += 1;
        if *count == allowed * DUPLICATES_BAN_FACTOR {
            // Twice the allowance in one second is no honest peer.
            warn!(target: "consensus", %peer, count = *count, "peer floods copies or stale messages: banned");
            self.network
                .ban(peer, "flood of duplicate or stale consensus messages");
        } else if count.is_multiple_of(allowed) {
            warn!(target: "consensus", %peer, allowed, "peer floods copies or stale messages");
            self.metrics
                .messages_rejected
                .with_label_values(&["useless_flood"])
                .inc();
            self.network
                .penalize(peer, "flood of duplicate or stale consensus messages");
        }
    }

    /// Keeps a message of the next height whose set is not known yet, to
    /// check and feed when that height starts (bounded; beyond the bound it
    /// is dropped and rebroadcasts make up for it).
    fn keep_early(&mut self, topic: Topic, data: &[u8]) {
        let bytes: usize = self.early.iter().map(|(_, d)| d.len()).sum();
        if self.early.len() < EARLY_MESSAGES_MAX && bytes + data.len() <= EARLY_BYTES_MAX {
            self.early.push((topic, data.to_vec()));
        }
    }

    /// Checks and feeds the messages kept by [`Engine::keep_early`]: called
    /// when a height starts, so those of this height meet its set.
    pub(super) async fn replay_early(&mut self) -> Result<(), EngineError> {
        for (topic, data) in std::mem::take(&mut self.early) {
            self.on_gossip(topic, None, None, &data).await?;
        }
        Ok(())
    }

    async fn on_gossip(
        &mut self,
        topic: Topic,
        id: Option<GossipId>,
        source: Option<PeerId>,
        data: &[u8],
    ) -> Result<(), EngineError> {
        let chain_id = self.config.core.chain_id;
        match topic {
            Topic::Votes => {
                let vote = match codec::decode_vote(data) {
                    Ok(vote) => vote,
                    Err(e) => {
                        self.reject(id, source, "vote", &e);
                        return Ok(());
                    }
                };
                if self.core.has_vote(&vote) {
                    // A copy of a vote we hold (a rebroadcast, or a flood):
                    // not checked again and not relayed.
                    self.note_ignored(source);
                    self.verdict(id, Verdict::Ignore);
                    return Ok(());
                }
                let checked = match self.relevance(vote.vote.height) {
                    Relevance::Current => vote.verify(chain_id, &self.validators),
                    Relevance::Next(set) => vote.verify(chain_id, &set),
                    Relevance::Unknown => {
                        self.keep_early(topic, data);
                        self.verdict(id, Verdict::Ignore);
                        return Ok(());
                    }
                    Relevance::Past => {
                        self.note_ignored(source);
                        self.verdict(id, Verdict::Ignore);
                        return Ok(());
                    }
                    Relevance::Ahead => {
                        self.note_ahead(source, vote.vote.height);
                        self.verdict(id, Verdict::Ignore);
                        return Ok(());
                    }
                };
                if let Err(e) = checked {
                    self.reject(id, source, "vote", &e);
                    return Ok(());
                }
                self.verdict(id, Verdict::Accept);
                self.metrics
                    .messages_received
                    .with_label_values(&[vote_label(vote.vote.kind)])
                    .inc();
                self.feed(Input::Vote(vote)).await
            }
            Topic::Proposals => {
                let message = match codec::decode_proposal(data) {
                    Ok(message) => message,
                    Err(e) => {
                        self.reject(id, source, "proposal", &e);
                        return Ok(());
                    }
                };
                let p = &message.proposal.proposal;
                let set = match self.relevance(p.height) {
                    Relevance::Current => self.validators.clone(),
                    Relevance::Next(set) => set,
                    Relevance::Unknown => {
                        self.keep_early(topic, data);
                        self.verdict(id, Verdict::Ignore);
                        return Ok(());
                    }
                    Relevance::Past => {
                        self.note_ignored(source);
                        self.verdict(id, Verdict::Ignore);
                        return Ok(());
                    }
                    Relevance::Ahead => {
                        self.note_ahead(source, p.height);
                        self.verdict(id, Verdict::Ignore);
                        return Ok(());
                    }
                };
                if let Err(e) = message.proposal.verify(chain_id, &set) {
                    self.reject(id, source, "proposal", &e);
                    return Ok(());
                }
                if set.proposer(p.round) != p.proposer {
                    self.reject(id, source, "proposal", &"not the round's proposer");
                    return Ok(());
                }
                self.verdict(id, Verdict::Accept);
                self.metrics
                    .messages_received
                    .with_label_values(&["proposal"])
                    .inc();
                let (height, value) = (p.height, p.value);
                if !self.blocks.contains_key(&value) {
                    if self.blocks.len() >= self.config.proposal_blocks_max {
                        warn!(target: "consensus", %height, "too many proposed blocks held; dropping");
                        return Ok(());
                    }
                    if height == self.core.height() && self.awaiting_block.remove(&value) {
                        self.spawn_validation(height, value, message.block.clone());
                    }
                    self.blocks.insert(value, (height, message.block));
                }
                // A next-height proposal is buffered by the core; its block
                // waits here for that height.
                self.feed(Input::Proposal(message.proposal)).await
            }
            Topic::Decisions => {
                let certificate = match codec::decode_decision(data) {
                    Ok(certificate) => certificate,
                    Err(e) => {
                        self.reject(id, source, "decision", &e);
                        return Ok(());
                    }
                };
                // Another height's, or one this node already decided: it
                // has nothing to teach, so it is not verified (an ed25519
                // batch per peer per height) nor relayed; every validator
                // publishes its own decision once it commits.
                if certificate.height != self.core.height() || self.core.decision().is_some() {
                    self.verdict(id, Verdict::Ignore);
                    return Ok(());
                }
                if let Err(e) = certificate.verify(chain_id, certificate.height, &self.validators) {
                    self.reject(id, source, "decision", &e);
                    return Ok(());
                }
                self.verdict(id, Verdict::Accept);
                self.metrics
                    .messages_received
                    .with_label_values(&["decision"])
                    .inc();
                self.feed(Input::Commit(certificate)).await
            }
            Topic::Transactions => {
                let Some(id) = id else {
                    return Ok(());
                };
                if let Err(id) = self.tx_checker.submit(id, data.to_vec()) {
                    // Checking is behind: drop the batch unblamed.
                    self.metrics.tx_batches_dropped.inc();
                    self.network.validated(id, Verdict::Ignore);
                }
                Ok(())
            }
        }
    }

    pub(super) async fn on_internal(&mut self, message: Internal) -> Result<(), EngineError> {
        match message {
            Internal::Timeout(timeout) => {
                if timeout.height == self.core.height() && timeout.round == self.core.round() {
                    let kind = match timeout.kind {
                        outrigger_consensus_core::TimeoutKind::Propose => "propose",
                        outrigger_consensus_core::TimeoutKind::Prevote => "prevote",
                        outrigger_consensus_core::TimeoutKind::Precommit => "precommit",
                    };
                    self.metrics.timeouts.with_label_values(&[kind]).inc();
                }
                self.feed(Input::Timeout(timeout)).await
            }
            Internal::Proposed {
                height,
                round,
                result,
            } => match result {
                Ok(block) => {
                    if height != self.core.height() {
                        return Ok(());
                    }
                    let value = outrigger_consensus_core::BlockHash(block.header.hash_slow().0);
                    self.blocks.insert(value, (height, *block));
                    self.feed(Input::ProposalValue {
                        height,
                        round,
                        value,
                    })
                    .await
                }
                Err(AppError::Fatal(e)) => Err(EngineError::App(e)),
                Err(e) => {
                    // The head moved (sync) or building failed for a reason
                    // of the moment: the round's timeout moves on.
                    warn!(target: "consensus", %height, %round, error = %e, "could not build a block");
                    Ok(())
                }
            },
            Internal::Validated {
                height,
                value,
                result,
            } => match result {
                Ok(valid) => {
                    if !valid {
                        warn!(target: "consensus", %height, %value, "proposed block is invalid");
                    }
                    self.feed(Input::ValueValidated {
                        height,
                        value,
                        valid,
                    })
                    .await
                }
                Err(AppError::Fatal(e)) => Err(EngineError::App(e)),
                Err(e) => {
                    debug!(target: "consensus", %height, %value, error = %e, "validation skipped");
                    Ok(())
                }
            },
            Internal::Statuses(statuses) => self.on_statuses(statuses),
            Internal::Fetched { peer, blocks } => self.on_fetched(peer, blocks).await,
            Internal::SyncDone => {
                self.syncing = false;
                Ok(())
            }
        }
        .inspect_err(|e| error!(target: "consensus", error = %e, "consensus engine failed"))
    }
}
