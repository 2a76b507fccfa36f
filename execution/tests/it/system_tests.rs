//! The validator-set system contract through the real executor: installed
//! by the genesis, `epochEnd` at every epoch's last block, the set it
//! returns stored with that block, the precompiles behind registration and
//! slashing.

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use ed25519_dalek::{Signer as _, SigningKey};
use outrigger_consensus_core::{
    BlockHash, ChainId, Evidence, Height, Round, ValidatorIndex, Vote, VoteKind,
};
use outrigger_execution::{
    call::{CallOutcome, CallRequest},
    genesis::GenesisFile,
    overrides::CallOverrides,
    system::{
        ED25519_VERIFY, EVIDENCE_VERIFY, VALIDATORS_CONTRACT,
        contracts::{PoAValidators, PoSStaking},
        registration_message,
    },
};

use crate::support::{CHAIN_ID, TestChain, eip1559, genesis_json, key};

const EPOCH: u64 = 5;
const GAS: u64 = 1_000_000;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn consensus_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn key_word(key: &SigningKey) -> B256 {
    B256::from(key.verifying_key().to_bytes())
}

/// A chain of four validators (consensus keys 1..=4, operators `key(1..=4)`)
/// in `mode`, five blocks per epoch; `key(1..=9)` funded.
fn chain(mode: &str) -> (TestChain, GenesisFile) {
    chain_with(mode, U256::ZERO)
}

/// [`chain`] with a per-block reward.
fn chain_with(mode: &str, block_reward: U256) -> (TestChain, GenesisFile) {
    let funded: Vec<(Address, U256)> = (1..=9).map(|n| (key(n).address(), ether(1000))).collect();
    let mut json = serde_json::to_value(&genesis_json(&funded).genesis).unwrap();
    let validators: Vec<serde_json::Value> = (1..=4u8)
        .map(|n| {
            serde_json::json!({
                "publicKey": key_word(&consensus_key(n)),
                "power": 1,
                "operator": key(n).address(),
            })
        })
        .collect();
    json["outrigger"] = serde_json::json!({
        "consensus": mode,
        "epochBlocks": EPOCH,
        "validators": validators,
        "blockReward": block_reward,
    });
    let genesis = GenesisFile::from_json(&json.to_string()).unwrap();
    (TestChain::new(&genesis), genesis)
}

fn tx(from: &PrivateKeySigner, nonce: u64, input: Vec<u8>, value: U256) -> Recovered<TxEnvelope> {
    eip1559(
        from,
        nonce,
        TxKind::Call(VALIDATORS_CONTRACT),
        value,
        input.into(),
        GAS,
    )
}

fn nonce(chain: &TestChain, who: &PrivateKeySigner) -> u64 {
    chain
        .store()
        .account(who.address())
        .unwrap()
        .map_or(0, |a| a.nonce)
}

/// Builds blocks with `txs` in the first, until the head closes its epoch;
/// every transaction must succeed. Returns the set that the epoch's last
/// block fixed.
fn to_epoch_end(chain: &TestChain, txs: Vec<Recovered<TxEnvelope>>) -> Vec<(B256, u64)> {
    let count = txs.len();
    let first = chain.build(txs);
    assert_eq!(first.block.body.transactions.len(), count, "all included");
    for receipt in &first.receipts {
        assert!(receipt.status(), "a transaction failed: {receipt:?}");
    }
    let mut last = first;
    while !(last.block.header.number + 1).is_multiple_of(EPOCH) {
        last = chain.build(Vec::new());
    }
    let set = last.epoch_set.expect("the epoch's last block fixes a set");
    assert_eq!(set.epoch, last.block.header.number / EPOCH + 1);
    assert_eq!(
        chain.store().epoch_set(set.epoch).unwrap().unwrap(),
        set,
        "stored with the block"
    );
    set.validators.iter().map(|v| (v.key, v.power)).collect()
}

fn view<C: SolCall>(chain: &TestChain, call: &C) -> C::Return {
    let head = chain.store().head().unwrap().unwrap();
    let request = CallRequest {
        to: Some(VALIDATORS_CONTRACT),
        input: call.abi_encode().into(),
        ..Default::default()
    };
    let outcome = chain
        .chain
        .executor()
        .call(
            chain.store(),
            &head,
            &request,
            50_000_000,
            &CallOverrides::default(),
        )
        .unwrap();
    let CallOutcome::Success { output, .. } = outcome else {
        panic!("view call failed: {outcome:?}");
    };
    C::abi_decode_returns(&output).unwrap()
}

fn equivocation(offender: &SigningKey, height: u64) -> Bytes {
    let vote = Vote {
        kind: VoteKind::Prevote,
        height: Height(height),
        round: Round(0),
        value: Some(BlockHash([7; 32])),
        validator: ValidatorIndex(0),
    };
    let chain_id = ChainId(CHAIN_ID);
    let a = vote.sign(chain_id, offender);
    let b = Vote {
        value: None,
        ..vote
    }
    .sign(chain_id, offender);
    Bytes::copy_from_slice(&Evidence::new(a, b).to_portable(&offender.verifying_key()))
}

#[test]
fn genesis_installs_the_contract_with_the_genesis_set() {
    for mode in ["poa", "pos"] {
        let (chain, genesis) = chain(mode);
        let stored = chain.store().epoch_set(0).unwrap().unwrap();
        assert_eq!(Some(stored), genesis.genesis_set());
        let (keys, powers) = {
            let r = view(&chain, &PoSStaking::validatorsCall {});
            (r.keys, r.powers)
        };
        assert_eq!(keys.len(), 4, "{mode}");
        assert!(powers.iter().all(|p| *p == 1));
        let account = chain.store().account(VALIDATORS_CONTRACT).unwrap().unwrap();
        let stake = if mode == "pos" { ether(4) } else { U256::ZERO };
        assert_eq!(
            account.balance, stake,
            "{mode}: genesis stake is the contract's balance"
        );
    }
}

#[test]
fn pos_validators_join_leave_and_are_slashed_at_epoch_boundaries() {
    let (chain, _) = chain("pos");
    // A new validator registers (proving it holds key 5) and stakes 3 ETH.
    let newcomer = consensus_key(5);
    let operator = key(5);
    let signature = newcomer.sign(&registration_message(CHAIN_ID, operator.address()));
    let register = PoSStaking::registerCall {
        key: key_word(&newcomer),
        signature: Bytes::copy_from_slice(&signature.to_bytes()),
    };
    let set = to_epoch_end(
        &chain,
        vec![
            tx(&operator, 0, register.abi_encode(), U256::ZERO),
            tx(
                &operator,
                1,
                PoSStaking::stakeCall {}.abi_encode(),
                ether(3),
            ),
        ],
    );
    assert_eq!(set.len(), 5);
    assert!(
        set.contains(&(key_word(&newcomer), 3)),
        "power = stake / 1 ETH"
    );

    // Registering a key with a signature by another key is refused.
    let thief = key(6);
    let stolen = PoSStaking::registerCall {
        key: key_word(&consensus_key(1)),
        signature: Bytes::copy_from_slice(
            &consensus_key(6)
                .sign(&registration_message(CHAIN_ID, thief.address()))
                .to_bytes(),
        ),
    };
    let refused = chain.build(vec![tx(&thief, 0, stolen.abi_encode(), U256::ZERO)]);
    assert!(
        !refused.receipts[0].status(),
        "a foreign key cannot be registered"
    );

    // Validator 1 unstakes all of its stake: gone from the next epoch.
    let leaving = key(1);
    let set = to_epoch_end(
        &chain,
        vec![tx(
            &leaving,
            nonce(&chain, &leaving),
            PoSStaking::unstakeCall { amount: ether(1) }.abi_encode(),
            U256::ZERO,
        )],
    );
    assert_eq!(set.len(), 4);
    assert!(!set.iter().any(|(k, _)| *k == key_word(&consensus_key(1))));

    // Validator 2 double-signs; anyone may report it, once.
    let offender = consensus_key(2);
    let evidence = equivocation(&offender, 3);
    let reporter = key(7);
    let before = chain
        .store()
        .account(reporter.address())
        .unwrap()
        .unwrap()
        .balance;
    let report = PoSStaking::reportEquivocationCall {
        evidence: evidence.clone(),
    };
    let set = to_epoch_end(
        &chain,
        vec![tx(&reporter, 0, report.abi_encode(), U256::ZERO)],
    );
    assert!(
        !set.iter().any(|(k, _)| *k == key_word(&offender)),
        "jailed"
    );
    assert_eq!(set.len(), 3);
    let stake = view(
        &chain,
        &PoSStaking::stakeOfCall {
            key: key_word(&offender),
        },
    );
    assert!(stake.jailed);
    assert!(stake.bonded < ether(1), "slashed: {}", stake.bonded);
    let after = chain
        .store()
        .account(reporter.address())
        .unwrap()
        .unwrap()
        .balance;
    assert!(
        after + ether(1) / U256::from(100) > before,
        "the reward about pays the gas"
    );
    let again = chain.build(vec![tx(&reporter, 1, report.abi_encode(), U256::ZERO)]);
    assert!(!again.receipts[0].status(), "evidence is used once");

    // Tampered evidence is refused by the precompile.
    let mut forged = evidence.to_vec();
    forged[100] ^= 1;
    let forged = PoSStaking::reportEquivocationCall {
        evidence: forged.into(),
    };
    let refused = chain.build(vec![tx(&reporter, 2, forged.abi_encode(), U256::ZERO)]);
    assert!(!refused.receipts[0].status(), "forged evidence");
}

#[test]
fn poa_validators_vote_members_in_and_out() {
    let (chain, _) = chain("poa");
    let newcomer = key_word(&consensus_key(5));
    let propose = PoAValidators::proposeCall {
        key: newcomer,
        operator: key(5).address(),
        power: 1,
        add: true,
    };
    // Two of four is not more than two thirds: the set stays.
    let vote = PoAValidators::voteCall { id: U256::from(1) };
    let set = to_epoch_end(
        &chain,
        vec![
            tx(&key(1), 0, propose.abi_encode(), U256::ZERO),
            tx(&key(2), 0, vote.abi_encode(), U256::ZERO),
        ],
    );
    assert_eq!(set.len(), 4);
    // The third vote passes it; the set changes at the epoch's end.
    let set = to_epoch_end(&chain, vec![tx(&key(3), 0, vote.abi_encode(), U256::ZERO)]);
    assert_eq!(set.len(), 5);
    assert!(set.contains(&(newcomer, 1)));
    // Someone who is not a validator cannot propose.
    let outsider = chain.build(vec![tx(&key(9), 0, propose.abi_encode(), U256::ZERO)]);
    assert!(!outsider.receipts[0].status());
}

#[test]
fn precompiles_check_ed25519_signatures_and_evidence() {
    let (chain, _) = chain("pos");
    let head = chain.store().head().unwrap().unwrap();
    let call = |to: Address, input: Vec<u8>| {
        chain
            .chain
            .executor()
            .call(
                chain.store(),
                &head,
                &CallRequest {
                    to: Some(to),
                    input: input.into(),
                    ..Default::default()
                },
                50_000_000,
                &CallOverrides::default(),
            )
            .unwrap()
    };
    let signer = consensus_key(3);
    let message = b"hello".to_vec();
    let good = [
        signer.verifying_key().to_bytes().as_slice(),
        &signer.sign(&message).to_bytes(),
        &message,
    ]
    .concat();
    let CallOutcome::Success { output, .. } = call(ED25519_VERIFY, good.clone()) else {
        panic!("ED25519_VERIFY failed");
    };
    assert_eq!(U256::from_be_slice(&output), U256::from(1));
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    let CallOutcome::Success { output, .. } = call(ED25519_VERIFY, bad) else {
        panic!("ED25519_VERIFY failed");
    };
    assert_eq!(U256::from_be_slice(&output), U256::ZERO);
    assert!(
        !call(ED25519_VERIFY, good[..50].to_vec()).is_success(),
        "short input fails"
    );

    let evidence = equivocation(&signer, 9);
    let CallOutcome::Success { output, .. } = call(EVIDENCE_VERIFY, evidence.to_vec()) else {
        panic!("EVIDENCE_VERIFY failed");
    };
    let (proven, height, round) =
        <(B256, u64, u32) as alloy_sol_types::SolValue>::abi_decode(&output).unwrap();
    assert_eq!((proven, height, round), (key_word(&signer), 9, 0));
    assert!(!call(EVIDENCE_VERIFY, evidence[..100].to_vec()).is_success());
}

#[test]
fn the_block_reward_goes_to_each_block_beneficiary() {
    let (chain, _) = chain_with("poa", ether(2));
    let beneficiary = Address::repeat_byte(0xfe);
    let balance = |chain: &TestChain| {
        chain
            .store()
            .account(beneficiary)
            .unwrap()
            .map_or(U256::ZERO, |a| a.balance)
    };
    assert_eq!(balance(&chain), U256::ZERO, "none at genesis");
    chain.build(Vec::new());
    assert_eq!(
        balance(&chain),
        ether(2),
        "an empty block: the reward alone"
    );
    let transfer = eip1559(
        &key(1),
        0,
        TxKind::Call(key(2).address()),
        U256::from(1),
        Bytes::new(),
        21_000,
    );
    let block = chain.build(vec![transfer]);
    let base_fee = block.block.header.base_fee_per_gas.unwrap();
    let tip = u128::min(1_000_000_000, 10_000_000_000 - u128::from(base_fee));
    assert_eq!(
        balance(&chain),
        ether(4) + U256::from(tip * 21_000),
        "the reward and the priority fee"
    );
}
