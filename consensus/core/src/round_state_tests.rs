//! Step tables for Alg. 1: each row is (input, expected outputs, expected
//! step), outputs written compactly ("prevote A", "timeout prevote r0", ...).

use super::*;
use crate::signing::Vote;
use crate::timeouts::TimeoutKind;
use crate::types::ChainId;
use crate::validator_set::Validator;
use ed25519_dalek::SigningKey;

const CHAIN: ChainId = ChainId(777);
const H: Height = Height(1);
const A: BlockHash = BlockHash([0xa0; 32]);
const B: BlockHash = BlockHash([0xb0; 32]);
const C: BlockHash = BlockHash([0xc0; 32]);

struct Fx {
    keys: Vec<SigningKey>,
    set: ValidatorSet,
}

/// Four validators of equal power, indexed in set order. Proposers rotate
/// 0, 1, 2, 3, 0, ...
fn fx() -> Fx {
    fx_powers(&[1, 1, 1, 1])
}

fn fx_powers(powers: &[u64]) -> Fx {
    let mut keys: Vec<SigningKey> = (0..powers.len())
        .map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32]))
        .collect();
    keys.sort_by(|a, b| {
        a.verifying_key()
            .as_bytes()
            .cmp(b.verifying_key().as_bytes())
    });
    let set = ValidatorSet::new(
        keys.iter()
            .zip(powers)
            .map(|(k, p)| Validator {
                public_key: k.verifying_key(),
                power: *p,
            })
            .collect(),
    )
    .unwrap();
    Fx { keys, set }
}

impl Fx {
    fn core(&self, me: usize) -> RoundState {
        self.core_with(me, None, false)
    }
    fn core_with(&self, me: usize, last: Option<LastSigned>, ignore_lock: bool) -> RoundState {
        let mut config = Config::new(CHAIN);
        config.test_ignore_lock = ignore_lock;
        RoundState::new(config, Some(self.keys[me].verifying_key()), last).unwrap()
    }
    fn start(&self) -> Input {
        Input::StartHeight {
            height: H,
            validators: self.set.clone(),
        }
    }
    fn vote(&self, kind: VoteKind, round: u32, value: Option<BlockHash>, who: usize) -> Input {
        let vote = Vote {
            kind,
            height: H,
            round: Round(round),
            value,
            validator: ValidatorIndex(who as u32),
        };
        Input::Vote(vote.sign(CHAIN, &self.keys[who]))
    }
    fn prevote(&self, round: u32, value: Option<BlockHash>, who: usize) -> Input {
        self.vote(VoteKind::Prevote, round, value, who)
    }
    fn precommit(&self, round: u32, value: Option<BlockHash>, who: usize) -> Input {
        self.vote(VoteKind::Precommit, round, value, who)
    }
    fn proposal(&self, round: u32, value: BlockHash, valid_round: Option<u32>) -> Input {
        let proposer = self.set.proposer(Round(round));
        let p = Proposal {
            height: H,
            round: Round(round),
            value,
            valid_round: valid_round.map(Round),
            proposer,
        };
        Input::Proposal(p.sign(CHAIN, &self.keys[proposer.get()]))
    }
}

fn valid(value: BlockHash, ok: bool) -> Input {
    Input::ValueValidated {
        height: H,
        value,
        valid: ok,
    }
}

fn timeout(kind: TimeoutKind, round: u32) -> Input {
    Input::Timeout(Timeout {
        kind,
        height: H,
        round: Round(round),
    })
}

fn name(v: Option<BlockHash>) -> String {
    match v {
        None => "nil".into(),
        Some(A) => "A".into(),
        Some(B) => "B".into(),
        Some(C) => "C".into(),
        Some(other) => format!("{other:?}"),
    }
}

fn show(o: &Output) -> String {
    match o {
        Output::SignProposal { proposal: p, .. } => {
            format!(
                "propose {} vr={:?}",
                name(Some(p.value)),
                p.valid_round.map(|r| r.0)
            )
        }
        Output::SignVote { vote, .. } => {
            let kind = if vote.kind == VoteKind::Prevote {
                "prevote"
            } else {
                "precommit"
            };
            format!("{kind} {}", name(vote.value))
        }
        Output::ScheduleTimeout { timeout, .. } => {
            format!("timeout {:?} r{}", timeout.kind, timeout.round.0).to_lowercase()
        }
        Output::RequestValue { round, .. } => format!("request value r{}", round.0),
        Output::ValidateValue { value, .. } => format!("validate {}", name(Some(*value))),
        Output::Decide(d) => format!("decide {} r{}", name(Some(d.value)), d.round.0),
        Output::Evidence(_) => "evidence".into(),
    }
}

/// Runs rows against `core`, asserting outputs and step after each.
fn run(core: &mut RoundState, rows: Vec<(Input, &[&str], Step)>) {
    for (i, (input, expected, step)) in rows.into_iter().enumerate() {
        let desc = format!("{input:?}");
        let outs: Vec<String> = core.apply(input).iter().map(show).collect();
        assert_eq!(outs, expected.to_vec(), "row {i}: {desc}");
        assert_eq!(core.step(), step, "row {i} step: {desc}");
    }
}

use Step::{Commit, Precommit, Prevote, Propose};
use TimeoutKind::{Precommit as TPrecommit, Prevote as TPrevote, Propose as TPropose};

#[test]
fn proposers_rotate_by_index_with_equal_power() {
    let f = fx();
    let order: Vec<u32> = f.set.proposers().take(8).map(|v| v.0).collect();
    assert_eq!(order, [0, 1, 2, 3, 0, 1, 2, 3]);
}

#[test]
fn lines_11_to_27_non_proposer_prevotes_a_valid_proposal() {
    let f = fx();
    let mut core = f.core(3);
    run(
        &mut core,
        vec![
            (f.start(), &["timeout propose r0"], Propose), // line 21
            (f.proposal(0, A, None), &["validate A"], Propose), // valid(v) asked
            (valid(A, true), &["prevote A"], Prevote),     // lines 22–24, 27
            (f.proposal(0, A, None), &[], Prevote),        // duplicate: nothing
        ],
    );
}

#[test]
fn line_26_invalid_proposal_gets_a_nil_prevote() {
    let f = fx();
    let mut core = f.core(3);
    run(
        &mut core,
        vec![
            (f.start(), &["timeout propose r0"], Propose),
            (f.proposal(0, A, None), &["validate A"], Propose),
            (valid(A, false), &["prevote nil"], Prevote), // line 26
        ],
    );
}

#[test]
fn lines_14_to_19_proposer_asks_for_a_value_and_proposes_it() {
    let f = fx();
    let mut core = f.core(0);
    let value = Input::ProposalValue {
        height: H,
        round: Round(0),
        value: A,
    };
    run(
        &mut core,
        vec![
            (
                f.start(),
                &["request value r0", "timeout propose r0"],
                Propose,
            ), // lines 14, 18
            (value, &["propose A vr=None"], Propose), // line 19
            (f.proposal(0, A, None), &["prevote A"], Prevote), // own proposal back: line 22
        ],
    );
}

#[test]
fn proposals_from_a_non_proposer_or_with_a_bad_valid_round_are_dropped() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    let p = Proposal {
        height: H,
        round: Round(0),
        value: A,
        valid_round: None,
        proposer: ValidatorIndex(2),
    };
    run(
        &mut core,
        vec![(Input::Proposal(p.sign(CHAIN, &f.keys[2])), &[], Propose)],
    );
    run(&mut core, vec![(f.proposal(0, A, Some(0)), &[], Propose)]); // vr must be < round
    assert_eq!(core.dropped_messages(), 2);
}

#[test]
fn lines_34_44_61_prevote_quorums_and_timeout() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    run(
        &mut core,
        vec![
            (timeout(TPropose, 0), &["prevote nil"], Prevote), // lines 57–60
            (f.prevote(0, Some(A), 0), &[], Prevote),
            (f.prevote(0, None, 1), &[], Prevote),
            (f.prevote(0, Some(B), 2), &["timeout prevote r0"], Prevote), // lines 34–35
            (timeout(TPrevote, 0), &["precommit nil"], Precommit),        // lines 61–64
            (timeout(TPrevote, 0), &[], Precommit),                       // step moved on
        ],
    );
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(timeout(TPropose, 0));
    run(
        &mut core,
        vec![
            (f.prevote(0, None, 0), &[], Prevote),
            (f.prevote(0, None, 1), &[], Prevote),
            // Three nil prevotes: line 34 and line 44 both fire.
            (
                f.prevote(0, None, 2),
                &["timeout prevote r0", "precommit nil"],
                Precommit,
            ),
        ],
    );
}

#[test]
fn lines_36_to_43_polka_locks_and_precommits() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    run(
        &mut core,
        vec![
            (valid(A, true), &["prevote A"], Prevote),
            (f.prevote(0, Some(A), 0), &[], Prevote),
            (f.prevote(0, Some(A), 1), &[], Prevote),
            (
                f.prevote(0, Some(A), 2),
                &["timeout prevote r0", "precommit A"],
                Precommit,
            ),
        ],
    );
    assert_eq!(core.locked(), Some((Round(0), A)));
    assert_eq!(core.valid(), Some((Round(0), A)));
}

#[test]
fn line_36_after_precommit_sets_only_the_valid_value() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    run(
        &mut core,
        vec![
            (timeout(TPropose, 0), &["prevote nil"], Prevote), // validation still pending
            (f.prevote(0, Some(A), 0), &[], Prevote),
            (f.prevote(0, None, 1), &[], Prevote),
            (f.prevote(0, Some(A), 2), &["timeout prevote r0"], Prevote),
            (timeout(TPrevote, 0), &["precommit nil"], Precommit),
            (f.prevote(0, Some(A), 1), &["evidence"], Precommit), // 1 already voted nil
        ],
    );
    // A fourth prevote for A completes the polka; validity still unknown.
    let mut core2 = f.core(3);
    core2.apply(f.start());
    core2.apply(f.proposal(0, A, None));
    core2.apply(timeout(TPropose, 0));
    core2.apply(f.prevote(0, None, 3));
    core2.apply(timeout(TPrevote, 0));
    run(
        &mut core2,
        vec![
            (timeout(TPrevote, 0), &[], Precommit),
            (f.prevote(0, Some(A), 0), &[], Precommit),
            (f.prevote(0, Some(A), 1), &[], Precommit),
            (f.prevote(0, Some(A), 2), &[], Precommit),
            (valid(A, true), &[], Precommit), // line 36 in step precommit: lines 42–43 only
        ],
    );
    assert_eq!(core2.locked(), None);
    assert_eq!(core2.valid(), Some((Round(0), A)));
}

#[test]
fn lines_47_65_precommit_quorum_timeout_and_next_round() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    run(
        &mut core,
        vec![
            (f.precommit(0, Some(A), 0), &[], Propose),
            (f.precommit(0, None, 1), &[], Propose),
            (f.precommit(0, None, 2), &["timeout precommit r0"], Propose), // lines 47–48
            (timeout(TPrecommit, 0), &["timeout propose r1"], Propose),    // lines 65–67, 11–21
            (timeout(TPrecommit, 0), &[], Propose),                        // stale
        ],
    );
    assert_eq!(core.round(), Round(1));
}

#[test]
fn lines_49_to_51_decide_with_a_verifiable_certificate() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    core.apply(valid(A, true));
    run(
        &mut core,
        vec![
            (f.precommit(0, Some(A), 0), &[], Prevote),
            (f.precommit(0, Some(A), 1), &[], Prevote),
            (f.precommit(0, Some(A), 2), &["decide A r0"], Commit),
            (f.precommit(0, Some(A), 3), &[], Commit), // decided: dropped
        ],
    );
    let d = core.decision().unwrap();
    d.certificate.verify(CHAIN, H, &f.set).unwrap();
}

#[test]
fn line_49_decides_from_precommits_alone_after_validation() {
    // A lagging node that never saw the proposal (e.g. fed a certificate).
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    run(
        &mut core,
        vec![
            (f.precommit(2, Some(B), 0), &[], Propose),
            (f.precommit(2, Some(B), 1), &["timeout propose r2"], Propose), // line 55: f+1 in r2
            (
                f.precommit(2, Some(B), 2),
                &["validate B", "timeout precommit r2"],
                Propose,
            ),
            (valid(B, true), &["decide B r2"], Commit),
        ],
    );
}

#[test]
fn line_55_skips_to_a_round_with_f_plus_one_messages() {
    let f = fx_powers(&[1, 1, 1, 3]);
    let mut core = f.core(0);
    core.apply(f.start());
    // Validator 3 alone holds 3/6 > 1/3.
    let out: Vec<String> = core.apply(f.prevote(5, None, 3)).iter().map(show).collect();
    assert_eq!(out.last().map(String::as_str), Some("timeout propose r5"));
    assert_eq!(core.round(), Round(5));
    // Power 1 of 6 in round 7 is not enough.
    run(&mut core, vec![(f.prevote(7, None, 1), &[], Propose)]);
    assert_eq!(core.round(), Round(5));
}

/// Locked on A in round 0; in round 1 we prevote nil on B (line 26), but
/// a polka for B arrives: line 36 re-locks on B and precommits it.
#[test]
fn line_36_relocks_on_a_polka_in_a_later_round() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    core.apply(valid(A, true));
    for who in 0..3 {
        core.apply(f.prevote(0, Some(A), who));
    }
    assert_eq!(core.locked(), Some((Round(0), A)));
    for who in 0..3 {
        core.apply(f.precommit(0, None, who));
    }
    core.apply(timeout(TPrecommit, 0)); // round 1
    run(
        &mut core,
        vec![
            (f.proposal(1, B, None), &["validate B"], Propose),
            (valid(B, true), &["prevote nil"], Prevote), // locked on A: line 26
            (f.prevote(1, Some(B), 0), &[], Prevote),
            (f.prevote(1, Some(B), 1), &[], Prevote),
            (
                f.prevote(1, Some(B), 2),
                &["timeout prevote r1", "precommit B"],
                Precommit,
            ),
        ],
    );
    assert_eq!(core.locked(), Some((Round(1), B)));
}

/// We (validator 2) lock on A in round 1, then jump to round 3. A proposal
/// of B with a POL in round 0 < lockedRound 1 gets nil (a "hidden lock" is
/// respected); with a POL in round 2 ≥ lockedRound it gets B (lines 28–30).
#[test]
fn pol_round_at_or_after_the_lock_unlocks_and_a_hidden_lock_does_not() {
    let f = fx();
    let others = [0, 1, 3];
    let setup = || {
        let mut core = f.core(2);
        core.apply(f.start());
        core.apply(timeout(TPropose, 0));
        for who in others {
            core.apply(f.prevote(0, Some(B), who)); // polka for B in round 0, unseen proposal
            core.apply(f.precommit(0, None, who));
        }
        core.apply(timeout(TPrecommit, 0));
        core.apply(f.proposal(1, A, None));
        core.apply(valid(A, true));
        for who in others {
            core.apply(f.prevote(1, Some(A), who));
        }
        assert_eq!(core.locked(), Some((Round(1), A)));
        let out: Vec<String> = core.apply(f.prevote(3, None, 0)).iter().map(show).collect();
        assert!(out.is_empty());
        let out: Vec<String> = core.apply(f.prevote(3, None, 1)).iter().map(show).collect();
        assert_eq!(out, ["timeout propose r3"]); // line 55
        core
    };
    let mut core = setup();
    run(
        &mut core,
        vec![
            (f.proposal(3, B, Some(0)), &["validate B"], Propose),
            (valid(B, true), &["prevote nil"], Prevote), // line 32: lockedRound 1 > vr 0
        ],
    );
    let mut core = setup();
    for who in others {
        run(&mut core, vec![(f.prevote(2, Some(B), who), &[], Propose)]);
    }
    run(
        &mut core,
        vec![
            (f.proposal(3, B, Some(2)), &["validate B"], Propose),
            (valid(B, true), &["prevote B"], Prevote), // line 30: lockedRound 1 <= vr 2
        ],
    );
}

#[test]
fn locked_value_is_prevoted_again_even_with_an_old_pol() {
    // Locked on A in round 1; proposal A with vr = 0 (polka in 0): lockedValue = v.
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    core.apply(valid(A, true));
    for who in 0..3 {
        core.apply(f.prevote(0, Some(A), who));
        core.apply(f.precommit(0, None, who));
    }
    core.apply(timeout(TPrecommit, 0));
    run(
        &mut core,
        vec![(f.proposal(1, A, Some(0)), &["prevote A"], Prevote)],
    );
}

#[test]
fn proposer_re_proposes_its_valid_value() {
    let f = fx();
    let mut core = f.core(1); // proposer of round 1
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    core.apply(valid(A, true));
    for who in [0, 2, 3] {
        core.apply(f.prevote(0, Some(A), who));
    }
    for who in [0, 2, 3] {
        core.apply(f.precommit(0, None, who));
    }
    run(
        &mut core,
        vec![(
            timeout(TPrecommit, 0),
            &["propose A vr=Some(0)", "timeout propose r1"],
            Propose,
        )],
    );
}

#[test]
fn bounds_drop_far_heights_far_rounds_and_strangers_and_count_once() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    let far = Vote {
        kind: VoteKind::Prevote,
        height: Height(3),
        round: Round(0),
        value: None,
        validator: ValidatorIndex(0),
    };
    let stranger = Vote {
        validator: ValidatorIndex(9),
        height: H,
        ..far
    };
    run(
        &mut core,
        vec![
            (Input::Vote(far.sign(CHAIN, &f.keys[0])), &[], Propose),
            (Input::Vote(stranger.sign(CHAIN, &f.keys[0])), &[], Propose),
            (f.prevote(1000, None, 0), &[], Propose),
        ],
    );
    assert_eq!(core.dropped_messages(), 3);
    // The next height is buffered, not dropped.
    let next = Vote {
        height: Height(2),
        ..far
    };
    core.apply(Input::Vote(next.sign(CHAIN, &f.keys[0])));
    assert_eq!(core.buffered_messages(), 1);
    // The same vote three times counts once: no quorum.
    core.apply(timeout(TPropose, 0));
    run(
        &mut core,
        vec![
            (f.prevote(0, None, 0), &[], Prevote),
            (f.prevote(0, None, 0), &[], Prevote),
            (f.prevote(0, None, 0), &[], Prevote),
            (f.prevote(0, None, 1), &[], Prevote),
        ],
    );
}

#[test]
fn conflicting_votes_give_verifiable_evidence_once() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    run(
        &mut core,
        vec![
            (f.prevote(0, Some(A), 1), &[], Propose),
            (f.prevote(0, Some(B), 1), &["evidence"], Propose),
            (f.prevote(0, None, 1), &[], Propose),
        ],
    );
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.prevote(0, Some(A), 1));
    let out = core.apply(f.prevote(0, Some(B), 1));
    let Output::Evidence(e) = &out[0] else {
        panic!("{out:?}")
    };
    e.verify(CHAIN, &f.set).unwrap();
    assert!(e.verify(ChainId(1), &f.set).is_err());
}

#[test]
fn rounds_behind_are_pruned() {
    let f = fx();
    let mut config = Config::new(CHAIN);
    config.limits.rounds_behind_max = 2;
    let mut core = RoundState::new(config, Some(f.keys[3].verifying_key()), None).unwrap();
    core.apply(f.start());
    for r in 0..10 {
        core.apply(f.prevote(r, None, 0));
        for who in 0..3 {
            core.apply(f.precommit(r, None, who));
        }
        core.apply(timeout(TPrecommit, r));
    }
    assert_eq!(core.round(), Round(10));
    assert!(core.rounds_held() <= 3, "held {}", core.rounds_held());
}

#[test]
fn every_sign_request_carries_the_record_and_the_lock() {
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    core.apply(valid(A, true));
    core.apply(f.prevote(0, Some(A), 0));
    core.apply(f.prevote(0, Some(A), 1));
    let out = core.apply(f.prevote(0, Some(A), 2));
    let record = out
        .iter()
        .find_map(|o| match o {
            Output::SignVote { record, .. } => Some(*record),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        record,
        LastSigned {
            height: H,
            round: Round(0),
            step: SignStep::Precommit,
            locked: Some((Round(0), A))
        }
    );
    assert_eq!(core.last_signed(), Some(record));
}

#[test]
fn restart_never_signs_at_or_below_the_record_and_keeps_the_lock() {
    let f = fx();
    // Signed a prevote in round 0: after restart, round 0's prevote is skipped.
    let last = LastSigned {
        height: H,
        round: Round(0),
        step: SignStep::Prevote,
        locked: None,
    };
    let mut core = f.core_with(3, Some(last), false);
    run(
        &mut core,
        vec![
            (f.start(), &["timeout propose r0"], Propose),
            (f.proposal(0, B, None), &["validate B"], Propose),
            (valid(B, true), &[], Prevote), // would prevote B: guard says no
        ],
    );
    // Precommitted A in round 2 (locked): restart resumes in round 2, locked.
    let last = LastSigned {
        height: H,
        round: Round(2),
        step: SignStep::Precommit,
        locked: Some((Round(2), A)),
    };
    let mut core = f.core_with(0, Some(last), false);
    run(
        &mut core,
        vec![(f.start(), &["timeout propose r2"], Propose)],
    );
    assert_eq!(core.locked(), Some((Round(2), A)));
    for who in 1..4 {
        core.apply(f.precommit(2, None, who));
    }
    core.apply(timeout(TPrecommit, 2));
    run(
        &mut core,
        vec![
            (f.proposal(3, B, None), &["validate B"], Propose),
            (valid(B, true), &["prevote nil"], Prevote), // lock restored: line 26
        ],
    );
    // A later height is unaffected by the record.
    let last = LastSigned {
        height: H,
        round: Round(9),
        step: SignStep::Precommit,
        locked: Some((Round(9), A)),
    };
    let mut core = f.core_with(3, Some(last), false);
    core.apply(Input::StartHeight {
        height: Height(2),
        validators: f.set.clone(),
    });
    assert_eq!((core.round(), core.locked()), (Round(0), None));
}

#[test]
fn test_switch_ignoring_the_lock_prevotes_against_it() {
    let f = fx();
    let mut core = f.core_with(3, None, true);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    core.apply(valid(A, true));
    for who in 0..3 {
        core.apply(f.prevote(0, Some(A), who));
        core.apply(f.precommit(0, None, who));
    }
    core.apply(timeout(TPrecommit, 0));
    core.apply(f.proposal(1, B, None));
    run(&mut core, vec![(valid(B, true), &["prevote B"], Prevote)]);
}

#[test]
fn non_validator_follows_without_signing() {
    let f = fx();
    let outsider = SigningKey::from_bytes(&[99; 32]);
    let mut core =
        RoundState::new(Config::new(CHAIN), Some(outsider.verifying_key()), None).unwrap();
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    run(&mut core, vec![(valid(A, true), &[], Prevote)]);
    for who in 0..3 {
        core.apply(f.precommit(0, Some(A), who));
    }
    assert_eq!(core.decision().map(|d| d.value), Some(A));
}

#[test]
fn a_commit_certificate_from_a_peer_decides_after_validation() {
    let f = fx();
    // Build a certificate for B in round 4 from another node's log.
    let mut other = f.core(0);
    other.apply(f.start());
    for who in 1..4 {
        other.apply(f.precommit(4, Some(B), who));
    }
    other.apply(valid(B, true));
    let certificate = other.decision().unwrap().certificate.clone();
    let mut core = f.core(3);
    core.apply(f.start());
    let mut forged = certificate.clone();
    forged.value = C;
    run(
        &mut core,
        vec![
            (Input::Commit(forged), &[], Propose), // does not verify: dropped
            (Input::Commit(certificate), &["validate B"], Propose),
            (valid(B, true), &["decide B r4"], Commit),
        ],
    );
    assert_eq!(core.dropped_messages(), 1);
}

#[test]
fn a_second_conflicting_vote_counts_toward_its_value_once() {
    // Validator 0 equivocates between A and nil in round 0. Nodes that saw
    // the two votes in different orders still agree on the polka for A.
    let f = fx();
    let mut core = f.core(3);
    core.apply(f.start());
    core.apply(f.proposal(0, A, None));
    core.apply(valid(A, true)); // we prevote A
    run(
        &mut core,
        vec![
            (f.prevote(0, None, 0), &[], Prevote),
            (f.prevote(0, Some(A), 0), &["evidence"], Prevote),
            (f.prevote(0, Some(B), 0), &[], Prevote), // a third value is ignored
            (f.prevote(0, Some(A), 1), &[], Prevote),
            // 0 (second vote), 1 and 2: A has 3 of 4.
            (
                f.prevote(0, Some(A), 2),
                &["timeout prevote r0", "precommit A"],
                Precommit,
            ),
        ],
    );
}

#[test]
fn held_votes_are_recognised_exactly() {
    let f = fx();
    let mut core = f.core(0);
    core.apply(f.start());
    let Input::Vote(signed) = f.prevote(0, Some(A), 1) else {
        unreachable!("a vote")
    };
    assert!(!core.has_vote(&signed), "not yet received");
    core.apply(Input::Vote(signed.clone()));
    assert!(core.has_vote(&signed));
    let Input::Vote(other_value) = f.prevote(0, Some(B), 1) else {
        unreachable!("a vote")
    };
    assert!(!core.has_vote(&other_value), "another value");
    let mut forged = signed.clone();
    forged.signature = other_value.signature;
    assert!(!core.has_vote(&forged), "same vote, other signature");
    let Input::Vote(precommit) = f.precommit(0, Some(A), 1) else {
        unreachable!("a vote")
    };
    assert!(!core.has_vote(&precommit), "another kind");
}
