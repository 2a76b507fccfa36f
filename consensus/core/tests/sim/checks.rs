//! The properties checked after every step of a simulation: agreement,
//! validity, no honest double-sign, honest evidence never produced, and
//! (at decisions and at the end) liveness after GST.

use std::collections::BTreeMap;

use outrigger_consensus_core::{BlockHash, Height, Round, SignStep};

/// The simulated execution's verdict on a block: valid blocks have an even
/// first byte. Honest proposers only build valid blocks.
pub(crate) fn is_valid(value: BlockHash) -> bool {
    value.0[0] & 1 == 0
}

#[derive(Default)]
pub(crate) struct Checker {
    /// What each honest validator signed per (height, round, step).
    signed: BTreeMap<(usize, Height, Round, SignStep), Option<BlockHash>>,
    /// The first honest decision per height.
    decided: BTreeMap<Height, (usize, BlockHash)>,
    pub(crate) violations: Vec<String>,
}

impl Checker {
    /// An honest validator signs `value` at (height, round, step).
    pub(crate) fn signed(
        &mut self,
        node: usize,
        height: Height,
        round: Round,
        step: SignStep,
        value: Option<BlockHash>,
        now_ms: u64,
    ) {
        if let Some(previous) = self.signed.insert((node, height, round, step), value) {
            let what = if previous == value {
                "the same vote again (the last-signed guard should forbid it)"
            } else {
                "conflicting votes: double-sign"
            };
            self.violations.push(format!(
                "t={now_ms}ms: honest node {node} signed {what}: {step:?} at height {height} \
                 round {round}: {previous:?} then {value:?}"
            ));
        }
    }

    /// An honest validator decides `value` at `height`.
    pub(crate) fn decided(&mut self, node: usize, height: Height, value: BlockHash, now_ms: u64) {
        if !is_valid(value) {
            self.violations.push(format!(
                "t={now_ms}ms: validity: node {node} decided invalid block {value:?} at {height}"
            ));
        }
        match self.decided.get(&height) {
            Some((first, v)) if *v != value => self.violations.push(format!(
                "t={now_ms}ms: agreement: node {node} decided {value:?} at {height}, node {first} decided {v:?}"
            )),
            Some(_) => {}
            None => {
                self.decided.insert(height, (node, value));
            }
        }
    }

    pub(crate) fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    pub(crate) fn decisions(&self) -> impl Iterator<Item = (&Height, &(usize, BlockHash))> {
        self.decided.iter()
    }
}
