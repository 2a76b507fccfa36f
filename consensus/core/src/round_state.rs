//! The Tendermint state machine of Alg. 1 (arXiv 1807.04938) for one
//! validator: `apply(state, input) -> Vec<Output>`. It never blocks, never
//! reads a clock and never signs: it says what to sign, what timeout to
//! schedule, what to ask execution, and what was decided.
//!
//! Differences from the paper, all on the engine boundary:
//! - `getValue()` and `valid(v)` are asynchronous: [`Output::RequestValue`]
//!   is answered by [`Input::ProposalValue`], [`Output::ValidateValue`] by
//!   [`Input::ValueValidated`]. Rules that need `valid(v)` wait for it.
//! - The proposer also schedules `timeoutPropose` (line 21), because its own
//!   `getValue()` may never answer.
//! - The decision rule (line 49) does not need the proposal message: the
//!   value is a block hash, which the precommits carry, and `valid(v)` is
//!   asked of execution (which fetches the block by hash) if no proposal
//!   brought it. This lets a lagging node decide from a commit certificate.
//! - Reaching the next height (line 52–54) is the engine's call: after
//!   [`Output::Decide`] it commits the block and sends [`Input::StartHeight`]
//!   with the next height's validator set.
//! - Counting: each validator counts once per (round, kind) toward the
//!   totals ("2f + 1 ⟨PREVOTE, h, r, ∗⟩", lines 34, 47, 55); an equivocator's
//!   second, conflicting vote yields [`Output::Evidence`] and also counts
//!   toward its own value, as in the paper's per-value counting. Without it,
//!   honest nodes that saw the two votes in different orders can disagree
//!   about a polka for ever (the simulator shows liveness failures); safety is
//!   unaffected because two > 2/3 sets still share an honest validator.
//! - Before signing anything the core hands the engine a [`LastSigned`]
//!   record to persist; restored at restart, it stops the core from signing
//!   anything at or below it, and restores the lock (lines 38–39).

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::VerifyingKey;

use crate::certificate::CommitCertificate;
use crate::config::{Config, ConfigError};
use crate::events::{Decision, Input, LastSigned, Output};
use crate::signing::{Proposal, SignedProposal, SignedVote, Vote};
use crate::timeouts::{Timeout, TimeoutKind};
use crate::types::{BlockHash, Height, Round, SignStep, Step, ValidatorIndex, VoteKind};
use crate::validator_set::{ProposerSequence, ValidatorSet};
use crate::votes::{Added, VoteLog};

enum Admit {
    Now,
    Later,
    Drop,
}

#[derive(Clone, Debug)]
enum FutureMessage {
    Proposal(SignedProposal),
    Vote(SignedVote),
}

/// One validator's consensus state (the variables of Alg. 1, lines 1–9,
/// plus the message log and the bounds on it).
#[derive(Debug)]
pub struct RoundState {
    config: Config,
    our_key: Option<VerifyingKey>,
    last_signed: Option<LastSigned>,
    height: Height,
    round: Round,
    step: Step,
    validators: Option<ValidatorSet>,
    our_index: Option<ValidatorIndex>,
    proposers: Vec<ValidatorIndex>,
    proposer_seq: Option<ProposerSequence>,
    locked: Option<(Round, BlockHash)>,
    valid: Option<(Round, BlockHash)>,
    votes: VoteLog,
    /// At most two proposals per round (a second one is an equivocation).
    proposals: BTreeMap<Round, Vec<SignedProposal>>,
    validity: BTreeMap<BlockHash, bool>,
    validation_requested: BTreeSet<BlockHash>,
    value_requested: bool,
    prevote_timeout_scheduled: bool,
    precommit_timeout_scheduled: bool,
    line36_fired: bool,
    evidence_sent: BTreeSet<(ValidatorIndex, Round, VoteKind)>,
    future: Vec<FutureMessage>,
    decision: Option<Decision>,
    /// A verified certificate for this height received from outside.
    synced: Option<CommitCertificate>,
    dropped_messages: u64,
}

/// Applies one input to the state. Never blocks, never reads the clock.
pub fn apply(state: &mut RoundState, input: Input) -> Vec<Output> {
    state.apply(input)
}

impl RoundState {
    /// A core for the validator with key `our_key` (`None` to only follow
    /// consensus), restarting after `last_signed` if the engine persisted one.
    pub fn new(
        config: Config,
        our_key: Option<VerifyingKey>,
        last_signed: Option<LastSigned>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            our_key,
            last_signed,
            height: Height(0),
            round: Round(0),
            step: Step::Unstarted,
            validators: None,
            our_index: None,
            proposers: Vec::new(),
            proposer_seq: None,
            locked: None,
            valid: None,
            votes: VoteLog::default(),
            proposals: BTreeMap::new(),
            validity: BTreeMap::new(),
            validation_requested: BTreeSet::new(),
            value_requested: false,
            prevote_timeout_scheduled: false,
            precommit_timeout_scheduled: false,
            line36_fired: false,
            evidence_sent: BTreeSet::new(),
            future: Vec::new(),
            decision: None,
            synced: None,
            dropped_messages: 0,
        })
    }

    /// `h_p`.
    pub fn height(&self) -> Height {
        self.height
    }
    /// `round_p`.
    pub fn round(&self) -> Round {
        self.round
    }
    /// `step_p`.
    pub fn step(&self) -> Step {
        self.step
    }
    /// `(lockedRound_p, lockedValue_p)`.
    pub fn locked(&self) -> Option<(Round, BlockHash)> {
        self.locked
    }
    /// `(validRound_p, validValue_p)`.
    pub fn valid(&self) -> Option<(Round, BlockHash)> {
        self.valid
    }
    /// The last record handed out for signing (or restored).
    pub fn last_signed(&self) -> Option<LastSigned> {
        self.last_signed
    }
    /// This height's decision, once made.
    pub fn decision(&self) -> Option<&Decision> {
        self.decision.as_ref()
    }
    /// This height's validators.
    pub fn validators(&self) -> Option<&ValidatorSet> {
        self.validators.as_ref()
    }
    /// Our index in this height's set, if we are a validator.
    pub fn our_index(&self) -> Option<ValidatorIndex> {
        self.our_index
    }
    /// Messages dropped by the bounds so far (far ahead, stale, unknown sender, ...).
    pub fn dropped_messages(&self) -> u64 {
        self.dropped_messages
    }
    /// Messages buffered for future heights.
    pub fn buffered_messages(&self) -> usize {
        self.future.len()
    }
    /// Voting power of the `kind` votes for `value` in `round` of this height.
    pub fn vote_power(&self, round: Round, kind: VoteKind, value: Option<BlockHash>) -> u64 {
        self.votes.power_for(round, kind, value)
    }
    /// What execution said about `value` at this height, if asked and answered.
    pub fn validity(&self, value: &BlockHash) -> Option<bool> {
        self.validity.get(value).copied()
    }
    /// Whether exactly this signed vote of the current height is held
    /// already: a copy that needs no signature check and no relaying.
    pub fn has_vote(&self, signed: &SignedVote) -> bool {
        signed.vote.height == self.height && self.votes.contains(signed)
    }

    /// Rounds of the current height whose votes are held.
    pub fn rounds_held(&self) -> usize {
        self.votes.rounds_held()
    }

    /// Applies one input; see [`apply`].
    pub fn apply(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::StartHeight { height, validators } => {
                self.start_height(height, validators, &mut out)
            }
            Input::Proposal(p) => self.on_proposal(p, &mut out),
            Input::Vote(v) => self.on_vote(v, &mut out),
            Input::ProposalValue {
                height,
                round,
                value,
            } => self.on_proposal_value(height, round, value, &mut out),
            Input::ValueValidated {
                height,
                value,
                valid,
            } => {
                if height == self.height
                    && self.validation_requested.contains(&value)
                    && !self.validity.contains_key(&value)
                {
                    self.validity.insert(value, valid);
                    self.progress(&mut out);
                }
            }
            Input::Timeout(t) => self.on_timeout(t, &mut out),
            Input::Commit(c) => self.on_commit(c, &mut out),
        }
        out
    }

    // ---- height and round ------------------------------------------------

    fn start_height(&mut self, height: Height, validators: ValidatorSet, out: &mut Vec<Output>) {
        if self.step != Step::Unstarted && height <= self.height {
            return;
        }
        self.height = height;
        self.our_index = self.our_key.and_then(|k| validators.index_of(&k));
        self.proposer_seq = Some(validators.proposers());
        self.proposers.clear();
        self.validators = Some(validators);
        // Line 53: reset the locked and valid values and the message log.
        self.locked = None;
        self.valid = None;
        self.votes = VoteLog::default();
        self.proposals.clear();
        self.validity.clear();
        self.validation_requested.clear();
        self.evidence_sent.clear();
        self.decision = None;
        self.synced = None;
        let mut first_round = Round(0);
        if let Some(last) = self.last_signed.filter(|l| l.height == height) {
            // Restart inside a height: resume in the round we last signed in,
            // locked as we were (the lock is what keeps a restarted validator
            // from helping a conflicting block, Alg. 1 lines 23 and 29).
            first_round = last.round;
            self.locked = last.locked;
            self.valid = last.locked;
        }
        self.start_round(first_round, out);
        let buffered = std::mem::take(&mut self.future);
        for m in buffered {
            match m {
                FutureMessage::Proposal(p) => self.on_proposal(p, out),
                FutureMessage::Vote(v) => self.on_vote(v, out),
            }
        }
        self.progress(out);
    }

    /// `StartRound(round)`, Alg. 1 lines 11–21.
    fn start_round(&mut self, round: Round, out: &mut Vec<Output>) {
        self.round = round; // line 12
        self.step = Step::Propose; // line 13
        self.value_requested = false;
        self.prevote_timeout_scheduled = false;
        self.precommit_timeout_scheduled = false;
        self.line36_fired = false;
        let floor = Round(round.0.saturating_sub(self.config.limits.rounds_behind_max));
        let keep = [self.locked.map(|l| l.0), self.valid.map(|v| v.0)];
        self.votes.prune_below(floor, &keep);
        self.proposals
            .retain(|r, _| *r >= floor || keep.contains(&Some(*r)));
        if self.our_index.is_some() && self.proposer(round) == self.our_index {
            // Line 14.
            if let Some((valid_round, value)) = self.valid {
                self.propose(value, Some(valid_round), out); // lines 15–16, 19
            } else {
                self.value_requested = true; // line 18: getValue()
                out.push(Output::RequestValue {
                    height: self.height,
                    round,
                });
            }
        }
        self.schedule(TimeoutKind::Propose, out); // line 21
    }

    fn proposer(&mut self, round: Round) -> Option<ValidatorIndex> {
        let seq = self.proposer_seq.as_mut()?;
        while self.proposers.len() <= round.get_usize() {
            self.proposers.push(seq.next_proposer());
        }
        self.proposers.get(round.get_usize()).copied()
    }

    fn schedule(&self, kind: TimeoutKind, out: &mut Vec<Output>) {
        out.push(Output::ScheduleTimeout {
            timeout: Timeout {
                kind,
                height: self.height,
                round: self.round,
            },
            duration: self.config.timeouts.duration(kind, self.round),
        });
    }

    // ---- signing ---------------------------------------------------------

    fn may_sign(&self, step: SignStep) -> bool {
        self.last_signed
            .is_none_or(|l| (self.height, self.round, step) > l.position())
    }

    fn record(&mut self, step: SignStep) -> LastSigned {
        let record = LastSigned {
            height: self.height,
            round: self.round,
            step,
            locked: self.locked,
        };
        self.last_signed = Some(record);
        record
    }

    fn propose(&mut self, value: BlockHash, valid_round: Option<Round>, out: &mut Vec<Output>) {
        let Some(proposer) = self.our_index else {
            return;
        };
        if !self.may_sign(SignStep::Propose) {
            return;
        }
        // We built this block, or it is our validValue: both are valid.
        self.validity.insert(value, true);
        self.validation_requested.insert(value);
        let proposal = Proposal {
            height: self.height,
            round: self.round,
            value,
            valid_round,
            proposer,
        };
        let record = self.record(SignStep::Propose);
        out.push(Output::SignProposal { proposal, record });
    }

    /// Broadcasts our vote (if we are a validator and the guard allows) and
    /// moves to the vote's step.
    fn vote(&mut self, kind: VoteKind, value: Option<BlockHash>, out: &mut Vec<Output>) {
        self.step = match kind {
            VoteKind::Prevote => Step::Prevote,
            VoteKind::Precommit => Step::Precommit,
        };
        let Some(validator) = self.our_index else {
            return;
        };
        if !self.may_sign(kind.into()) {
            return;
        }
        let vote = Vote {
            kind,
            height: self.height,
            round: self.round,
            value,
            validator,
        };
        let record = self.record(kind.into());
        out.push(Output::SignVote { vote, record });
    }

    // ---- inputs ----------------------------------------------------------

    fn admit(&self, height: Height, round: Round) -> Admit {
        let limits = &self.config.limits;
        if self.step == Step::Unstarted || height < self.height {
            return Admit::Drop;
        }
        if height == self.height {
            if self.step == Step::Commit
                || round.0 > self.round.0.saturating_add(limits.rounds_ahead_max)
            {
                return Admit::Drop;
            }
            let floor = self.round.0.saturating_sub(limits.rounds_behind_max);
            let kept =
                self.locked.map(|l| l.0) == Some(round) || self.valid.map(|v| v.0) == Some(round);
            if round.0 < floor && !kept {
                return Admit::Drop;
            }
            return Admit::Now;
        }
        if height.0 - self.height.0 <= limits.heights_ahead_max
            && round.0 <= limits.rounds_ahead_max
            && self.future.len() < limits.future_messages_max
        {
            return Admit::Later;
        }
        Admit::Drop
    }

    fn on_proposal(&mut self, signed: SignedProposal, out: &mut Vec<Output>) {
        let p = signed.proposal;
        match self.admit(p.height, p.round) {
            Admit::Drop => {
                self.dropped_messages += 1;
                return;
            }
            Admit::Later => {
                self.future.push(FutureMessage::Proposal(signed));
                return;
            }
            Admit::Now => {}
        }
        let from_proposer = self.proposer(p.round) == Some(p.proposer);
        let valid_round_ok = p.valid_round.is_none_or(|vr| vr < p.round);
        let stored = self.proposals.entry(p.round).or_default();
        if !from_proposer || !valid_round_ok || stored.len() >= 2 {
            self.dropped_messages += 1;
            return;
        }
        if stored.iter().any(|s| s.proposal == p) {
            return;
        }
        stored.push(signed);
        if let Some(set) = &self.validators {
            self.votes.note_sender(p.round, p.proposer, set);
        }
        self.request_validation(p.value, out);
        self.progress(out);
    }

    fn on_vote(&mut self, signed: SignedVote, out: &mut Vec<Output>) {
        let v = signed.vote;
        match self.admit(v.height, v.round) {
            Admit::Drop => {
                self.dropped_messages += 1;
                return;
            }
            Admit::Later => {
                self.future.push(FutureMessage::Vote(signed));
                return;
            }
            Admit::Now => {}
        }
        let Some(set) = &self.validators else { return };
        if set.get(v.validator).is_none() {
            self.dropped_messages += 1;
            return;
        }
        match self.votes.add(signed, set) {
            Added::New => self.progress(out),
            Added::Duplicate => {}
            Added::Conflict(evidence, counted) => {
                if self.evidence_sent.insert((v.validator, v.round, v.kind)) {
                    out.push(Output::Evidence(*evidence));
                }
                if counted {
                    self.progress(out);
                }
            }
        }
    }

    fn on_proposal_value(
        &mut self,
        height: Height,
        round: Round,
        value: BlockHash,
        out: &mut Vec<Output>,
    ) {
        if height == self.height
            && round == self.round
            && self.step == Step::Propose
            && self.value_requested
        {
            self.value_requested = false;
            self.propose(value, None, out); // line 19, with validRound = -1
            self.progress(out);
        }
    }

    fn on_commit(&mut self, certificate: CommitCertificate, out: &mut Vec<Output>) {
        if matches!(self.step, Step::Unstarted | Step::Commit)
            || certificate.height != self.height
            || self.synced.is_some()
        {
            return;
        }
        let Some(set) = &self.validators else { return };
        if certificate
            .verify(self.config.chain_id, self.height, set)
            .is_err()
        {
            self.dropped_messages += 1;
            return;
        }
        self.request_validation(certificate.value, out);
        self.synced = Some(certificate);
        self.progress(out);
    }

    fn request_validation(&mut self, value: BlockHash, out: &mut Vec<Output>) {
        if !self.validity.contains_key(&value) && self.validation_requested.insert(value) {
            out.push(Output::ValidateValue {
                height: self.height,
                value,
            });
        }
    }

    fn on_timeout(&mut self, t: Timeout, out: &mut Vec<Output>) {
        if t.height != self.height || t.round != self.round || self.step == Step::Commit {
            return;
        }
        match t.kind {
            // Lines 57–60: OnTimeoutPropose.
            TimeoutKind::Propose if self.step == Step::Propose => {
                self.vote(VoteKind::Prevote, None, out)
            }
            // Lines 61–64: OnTimeoutPrevote.
            TimeoutKind::Prevote if self.step == Step::Prevote => {
                self.vote(VoteKind::Precommit, None, out)
            }
            // Lines 65–67: OnTimeoutPrecommit.
            TimeoutKind::Precommit => match self.round.next() {
                Some(next) => self.start_round(next, out),
                None => return,
            },
            _ => return,
        }
        self.progress(out);
    }

    // ---- the upon rules ----------------------------------------------------

    /// Fires the rules of lines 22–55 until none applies. Each firing changes
    /// the round, the step or a "first time" flag, so the loop ends.
    fn progress(&mut self, out: &mut Vec<Output>) {
        loop {
            if matches!(self.step, Step::Commit | Step::Unstarted) {
                return;
            }
            let fired = self.decide_rule(out)
                || self.round_skip_rule(out)
                || (self.step == Step::Propose && self.proposal_rule(out))
                || self.prevote_quorum_any_rule(out)
                || self.prevote_quorum_value_rule(out)
                || self.prevote_quorum_nil_rule(out)
                || self.precommit_quorum_any_rule(out);
            if !fired {
                return;
            }
        }
    }

    fn quorum(&self, power: u64) -> bool {
        self.validators.as_ref().is_some_and(|s| s.is_quorum(power))
    }

    /// Lines 49–54: 2f + 1 precommits for `v` in any round `r`, and `valid(v)`
    /// (the precommits counted here, or a certificate handed in).
    fn decide_rule(&mut self, out: &mut Vec<Output>) -> bool {
        if let Some(c) = &self.synced
            && self.validity.get(&c.value) == Some(&true)
        {
            {
                let decision = Decision {
                    height: self.height,
                    round: c.round,
                    value: c.value,
                    certificate: c.clone(),
                };
                self.decision = Some(decision.clone());
                self.step = Step::Commit;
                out.push(Output::Decide(decision));
                return true;
            }
        }
        let quorums: Vec<(Round, BlockHash)> = self.votes.precommit_quorums().collect();
        for (round, value) in quorums {
            match self.validity.get(&value) {
                Some(true) => {
                    let certificate = self.votes.certificate(self.height, round, value);
                    let decision = Decision {
                        height: self.height,
                        round,
                        value,
                        certificate,
                    };
                    self.decision = Some(decision.clone()); // line 51
                    self.step = Step::Commit;
                    out.push(Output::Decide(decision));
                    return true;
                }
                Some(false) => {}
                None => self.request_validation(value, out),
            }
        }
        false
    }

    /// Lines 55–56: f + 1 messages of a higher round: jump to it.
    fn round_skip_rule(&mut self, out: &mut Vec<Output>) -> bool {
        match self.votes.highest_one_third_round_above(self.round) {
            Some(round) => {
                self.start_round(round, out);
                true
            }
            None => false,
        }
    }

    /// Lines 22–33: the round's proposal, while in step propose.
    fn proposal_rule(&mut self, out: &mut Vec<Output>) -> bool {
        let proposals: Vec<Proposal> = self
            .proposals
            .get(&self.round)
            .map(|ps| ps.iter().map(|s| s.proposal).collect())
            .unwrap_or_default();
        let ignore_lock = self.config.test_ignore_lock;
        for p in proposals {
            let Some(&valid) = self.validity.get(&p.value) else {
                continue;
            };
            let accept = match p.valid_round {
                // Line 22–23: a fresh proposal; accept if not locked or locked on it.
                None => valid && (ignore_lock || self.locked.is_none_or(|(_, lv)| lv == p.value)),
                // Line 28–29: a re-proposal with a polka in round vr < round_p;
                // accept if locked no later than vr or locked on it.
                Some(vr) if vr < self.round => {
                    let polka = self.votes.power_for(vr, VoteKind::Prevote, Some(p.value));
                    if !self.quorum(polka) {
                        continue;
                    }
                    valid
                        && (ignore_lock
                            || self.locked.is_none_or(|(lr, lv)| lr <= vr || lv == p.value))
                }
                Some(_) => continue,
            };
            // Lines 24/26 and 30/32, then 27/33.
            self.vote(VoteKind::Prevote, accept.then_some(p.value), out);
            return true;
        }
        false
    }

    /// Lines 34–35: 2f + 1 prevotes of any value, first time in step prevote.
    fn prevote_quorum_any_rule(&mut self, out: &mut Vec<Output>) -> bool {
        if self.step != Step::Prevote || self.prevote_timeout_scheduled {
            return false;
        }
        if !self.quorum(self.votes.total(self.round, VoteKind::Prevote)) {
            return false;
        }
        self.prevote_timeout_scheduled = true;
        self.schedule(TimeoutKind::Prevote, out);
        true
    }

    /// Lines 36–43: the proposal and 2f + 1 prevotes for it, `valid(v)`, step
    /// prevote or later, first time: lock (if in prevote) and set the valid value.
    fn prevote_quorum_value_rule(&mut self, out: &mut Vec<Output>) -> bool {
        if self.step < Step::Prevote || self.line36_fired {
            return false;
        }
        let values: Vec<BlockHash> = self
            .proposals
            .get(&self.round)
            .map(|ps| ps.iter().map(|s| s.proposal.value).collect())
            .unwrap_or_default();
        for value in values {
            if self.validity.get(&value) != Some(&true)
                || !self.quorum(
                    self.votes
                        .power_for(self.round, VoteKind::Prevote, Some(value)),
                )
            {
                continue;
            }
            self.line36_fired = true;
            if self.step == Step::Prevote {
                self.locked = Some((self.round, value)); // lines 38–39
                self.vote(VoteKind::Precommit, Some(value), out); // lines 40–41
            }
            self.valid = Some((self.round, value)); // lines 42–43
            return true;
        }
        false
    }

    /// Lines 44–46: 2f + 1 prevotes for nil while in step prevote.
    fn prevote_quorum_nil_rule(&mut self, out: &mut Vec<Output>) -> bool {
        if self.step != Step::Prevote
            || !self.quorum(self.votes.power_for(self.round, VoteKind::Prevote, None))
        {
            return false;
        }
        self.vote(VoteKind::Precommit, None, out);
        true
    }

    /// Lines 47–48: 2f + 1 precommits of any value, first time.
    fn precommit_quorum_any_rule(&mut self, out: &mut Vec<Output>) -> bool {
        if self.precommit_timeout_scheduled
            || !self.quorum(self.votes.total(self.round, VoteKind::Precommit))
        {
            return false;
        }
        self.precommit_timeout_scheduled = true;
        self.schedule(TimeoutKind::Precommit, out);
        true
    }
}

#[cfg(test)]
#[path = "round_state_tests.rs"]
mod tests;
