//! The simulated network: seeded delay, drop, duplication and partitions
//! before GST, bounded delay after; and the gossip a real network layer does
//! (resending after a heal, a restart or GST; certificates for laggards).

use super::*;

impl World {
    /// Peers that decided the height `id` is stuck at send it the certificate.
    pub(super) fn catch_up(&mut self, id: usize) {
        let Some(h) = self.nodes[id].height() else {
            return;
        };
        if self.nodes[id].decided.contains_key(&h) {
            return;
        }
        for peer in 0..self.nodes.len() {
            if peer == id || !self.honest(peer) || self.nodes[peer].core.is_none() {
                continue;
            }
            if let Some(d) = self.nodes[peer].decided.get(&h).cloned() {
                self.note(mix(peer as u64, 0xca7c));
                for m in certificate_messages(&d) {
                    self.send(peer, id, m);
                }
                return;
            }
        }
    }

    /// Every live honest node resends its current-height messages to
    /// `target` (or everyone), and certificates of heights the target has
    /// not decided: reliable gossip after a heal, a restart or GST.
    pub(super) fn regossip(&mut self, source: Option<usize>, target: Option<usize>) {
        let n = self.nodes.len();
        for x in 0..n {
            if !self.honest(x) || self.nodes[x].core.is_none() || source.is_some_and(|s| s != x) {
                continue;
            }
            for y in 0..n {
                if x == y || target.is_some_and(|t| t != y) {
                    continue;
                }
                let Some(yh) = self.nodes[y].height() else {
                    continue;
                };
                if self.nodes[y].decided.contains_key(&yh) {
                    continue;
                }
                if let Some(d) = self.nodes[x].decided.get(&yh).cloned() {
                    for m in certificate_messages(&d) {
                        self.send(x, y, m);
                    }
                }
                let n = &self.nodes[x];
                let msgs: Vec<Msg> = n.wal.iter().chain(&n.relay).cloned().collect();
                for m in msgs {
                    self.send(x, y, m);
                }
            }
        }
    }

    // ---- the network -------------------------------------------------------

    pub(super) fn send(&mut self, from: usize, to: usize, msg: Msg) {
        if from == to {
            return;
        }
        if self.hold_certificates && self.now < self.gst && matches!(msg, Msg::Commit(_)) {
            let t = self.gst + self.rng.range(1, DELTA_MS);
            self.at(t, Kind::Deliver { to, msg });
            return;
        }
        let delay = if self.now < self.gst {
            if let Some((sides, start, end)) = &self.partition
                && (*start..*end).contains(&self.now)
                && sides[from] != sides[to]
            {
                self.stats.dropped += 1;
                return;
            }
            if self.rng.chance(150) {
                self.stats.dropped += 1;
                return;
            }
            self.rng.range(1, PRE_GST_DELAY_MAX_MS)
        } else {
            self.rng.range(1, DELTA_MS)
        };
        if self.rng.chance(50) {
            self.stats.duplicated += 1;
            let again = delay + self.rng.range(1, DELTA_MS);
            self.at(
                self.now + again,
                Kind::Deliver {
                    to,
                    msg: msg.clone(),
                },
            );
        }
        self.at(self.now + delay, Kind::Deliver { to, msg });
    }

    pub(super) fn broadcast(&mut self, from: usize, msg: &Msg) {
        for to in 0..self.nodes.len() {
            self.send(from, to, msg.clone());
        }
    }
}
