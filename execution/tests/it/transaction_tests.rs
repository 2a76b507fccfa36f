//! The Ethereum `TransactionTests` through the pool's admission path.
//!
//! Each test is raw transaction bytes and, per fork, either the expected
//! hash, sender and intrinsic gas, or an exception. The bytes go through
//! [`validate_stateless`] — decode, sender recovery, stateless validation,
//! exactly what `eth_sendRawTransaction` runs before `Pool::add` — with the
//! fork's rules on chain id 1 (the chain the fixtures were signed for).
//! Valid transactions must give the expected hash, sender and intrinsic gas;
//! invalid ones must be refused (the exception's kind is not compared: the
//! pool's messages are geth's, the fixtures' are test-suite names).
//!
//! Exclusion rules, each counted and printed:
//!
//! 1. A fork name with no revm `SpecId` is skipped. (None in the current
//!    fixture.) Constantinople maps to Petersburg: revm has no separate id,
//!    and the two differ only in SSTORE metering (EIP-1283), which no
//!    transaction-validity rule touches.
//! 2. A transaction the fixture calls *valid* whose fee field (gas price,
//!    max fee or max priority fee) is wider than 128 bits is skipped. alloy's
//!    transaction types hold fees as `u128`, so these bytes cannot be decoded
//!    into a `TxEnvelope` at all; geth decodes them and then refuses them at
//!    the balance check (21,000 gas at 2^128 wei is ~2^142 wei, far beyond any
//!    balance). The pool refuses them too, only with a decoding error instead
//!    of `insufficient funds`. In the current fixture these are
//!    `TransactionWithHighGasPrice`, `V_equals38` and
//!    `GasLimitPriceProductOverflowtMinusOne` (27 fork results). Fixtures that
//!    call such a transaction *invalid* are still run: the pool must refuse them.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, hex};
use alloy_rlp::Header;
use outrigger_execution::txpool::{PoolConfig, ValidationRules, validate_stateless};
use revm::primitives::hardfork::SpecId;
use serde::Deserialize;

use crate::fixtures;

/// The chain id the fixtures are signed for.
const FIXTURE_CHAIN_ID: u64 = 1;

#[derive(Debug, Deserialize)]
struct TxTest {
    txbytes: String,
    result: BTreeMap<String, ForkResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForkResult {
    hash: Option<B256>,
    sender: Option<Address>,
    intrinsic_gas: Option<String>,
    exception: Option<String>,
}

/// The revm hard fork a fixture fork name stands for.
fn spec(fork: &str) -> Option<SpecId> {
    Some(match fork {
        "Frontier" => SpecId::FRONTIER,
        "Homestead" => SpecId::HOMESTEAD,
        "EIP150" => SpecId::TANGERINE,
        "EIP158" => SpecId::SPURIOUS_DRAGON,
        "Byzantium" => SpecId::BYZANTIUM,
        "Constantinople" | "ConstantinopleFix" => SpecId::PETERSBURG,
        "Istanbul" => SpecId::ISTANBUL,
        "Berlin" => SpecId::BERLIN,
        "London" => SpecId::LONDON,
        "Paris" => SpecId::MERGE,
        "Shanghai" => SpecId::SHANGHAI,
        "Cancun" => SpecId::CANCUN,
        "Prague" => SpecId::PRAGUE,
        "Osaka" => SpecId::OSAKA,
        _ => return None,
    })
}

/// Whether a fee field of the encoded transaction is wider than 128 bits
/// (exclusion rule 2). Anything that does not parse as an RLP list of
/// strings answers false and is run as usual.
fn fee_wider_than_u128(bytes: &[u8]) -> bool {
    let (fee_fields, mut payload): (&[usize], &[u8]) = match bytes.split_first() {
        // Legacy: [nonce, gasPrice, ...]
        Some((first, _)) if *first >= 0xc0 => (&[1], bytes),
        // EIP-2930: [chainId, nonce, gasPrice, ...]
        Some((1, rest)) => (&[2], rest),
        // EIP-1559, -4844, -7702: [chainId, nonce, maxPriorityFee, maxFee, ...]
        Some((2..=4, rest)) => (&[2, 3], rest),
        _ => return false,
    };
    match Header::decode(&mut payload) {
        Ok(list) if list.list => {}
        _ => return false,
    }
    for index in 0..=fee_fields.iter().copied().max().unwrap_or(0) {
        let Ok(field) = Header::decode(&mut payload) else {
            return false;
        };
        if field.list || payload.len() < field.payload_length {
            return false;
        }
        if fee_fields.contains(&index) && field.payload_length > 16 {
            return true;
        }
        payload = &payload[field.payload_length..];
    }
    false
}

/// Runs one test at one fork; `Err` describes the mismatch.
fn check(bytes: &[u8], spec: SpecId, expected: &ForkResult) -> Result<(), String> {
    let rules = ValidationRules {
        chain_id: FIXTURE_CHAIN_ID,
        spec,
        // The fixtures have no block: no block gas limit applies.
        block_gas_limit: u64::MAX,
        blobs_allowed: true,
        allow_unprotected: true,
        max_tx_bytes: PoolConfig::default().max_tx_bytes,
    };
    let outcome = validate_stateless(bytes, &rules);
    match (&expected.exception, outcome) {
        (Some(exception), Ok((tx, _))) => Err(format!(
            "accepted (sender {}, hash {}), expected {exception}",
            tx.signer(),
            tx.tx_hash()
        )),
        (Some(_), Err(_)) => Ok(()),
        (None, Err(err)) => Err(format!("refused: {err}")),
        (None, Ok((tx, facts))) => {
            let intrinsic = expected
                .intrinsic_gas
                .as_deref()
                .and_then(|gas| u64::from_str_radix(gas.trim_start_matches("0x"), 16).ok());
            let mut problems = Vec::new();
            if Some(*tx.tx_hash()) != expected.hash {
                problems.push(format!(
                    "hash {} expected {:?}",
                    tx.tx_hash(),
                    expected.hash
                ));
            }
            if Some(tx.signer()) != expected.sender {
                problems.push(format!(
                    "sender {} expected {:?}",
                    tx.signer(),
                    expected.sender
                ));
            }
            if Some(facts.intrinsic_gas.initial) != intrinsic {
                problems.push(format!(
                    "intrinsic gas {} expected {:?}",
                    facts.intrinsic_gas.initial, expected.intrinsic_gas
                ));
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("; "))
            }
        }
    }
}

#[test]
fn ethereum_transaction_tests() {
    let unpacked = fixtures::unpack("ethereum-tests/trie-tx-rlp-keystore.tgz");
    let files = fixtures::json_files(&unpacked.path().join("TransactionTests"));
    assert!(!files.is_empty(), "no TransactionTests in the fixture");
    let (mut passed, mut failed) = (0usize, Vec::new());
    let (mut no_spec, mut wide_fee) = (0usize, 0usize);
    for path in files {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let tests: BTreeMap<String, TxTest> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        for (name, test) in tests {
            // Bytes that are not even hex can only be an invalid transaction:
            // an empty slice stands for them and must be refused.
            let bytes = hex::decode(&test.txbytes).unwrap_or_default();
            for (fork, expected) in &test.result {
                let Some(spec) = spec(fork) else {
                    no_spec += 1;
                    continue;
                };
                if expected.exception.is_none() && fee_wider_than_u128(&bytes) {
                    wide_fee += 1;
                    continue;
                }
                match check(&bytes, spec, expected) {
                    Ok(()) => passed += 1,
                    Err(why) => failed.push(format!("{name} [{fork}]: {why}")),
                }
            }
        }
    }
    println!(
        "TransactionTests: {passed} passed / {} failed / {} excluded \
         ({no_spec} fork without a revm SpecId, {wide_fee} valid with a fee above u128)",
        failed.len(),
        no_spec + wide_fee
    );
    assert!(
        failed.is_empty(),
        "{} TransactionTests failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(passed > 2_000, "only {passed} fork results checked");
}
