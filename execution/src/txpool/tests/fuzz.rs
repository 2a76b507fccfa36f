//! Fuzz target `tx` (see `outrigger-fuzz`): raw bytes as
//! `eth_sendRawTransaction` hands them to the pool. Decoding never panics;
//! whatever decodes re-encodes to the same bytes and hashes to their
//! keccak256; validation and admission never panic.

use alloy_consensus::{
    Block, BlockBody, Header, TxEip2930, TxEip4844, transaction::SignerRecoverable as _,
};
use alloy_eips::{
    Encodable2718 as _, Typed2718 as _, eip2930::AccessListItem, eip7702::Authorization,
};
use alloy_primitives::keccak256;
use alloy_rlp::Encodable as _;
use outrigger_fuzz::{Fuzzer, outcome};

use super::*;
use crate::txpool::{PoolError, decode_tx, validate_stateless};

fn run(bytes: &[u8], rules: &crate::txpool::ValidationRules) -> u64 {
    let decoded = match decode_tx(bytes) {
        Ok(tx) => tx,
        Err(PoolError::Decode(e)) => {
            return outcome(("decode", e.split(':').next().map(str::to_owned)));
        }
        Err(other) => panic!("decode_tx returned a non-decode error: {other:?}"),
    };
    assert_eq!(decoded.encoded_2718(), bytes, "re-encoding differs");
    assert_eq!(
        *decoded.tx_hash(),
        keccak256(bytes),
        "hash is not keccak256 of the bytes"
    );
    let kind = decoded.ty();
    let recovers = decoded.recover_signer().is_ok();
    match validate_stateless(bytes, rules) {
        Ok((tx, facts)) => {
            assert!(recovers);
            assert_eq!(facts.hash, keccak256(bytes));
            assert_eq!(facts.encoded_len, bytes.len());
            let mut pool = pool();
            let added = pool.add(tx, &MemState::default());
            outcome((
                kind,
                "valid",
                added.map_err(|e| std::mem::discriminant(&e)).is_ok(),
            ))
        }
        Err(e) => outcome((kind, recovers, std::mem::discriminant(&e))),
    }
}

#[test]
fn fuzz_tx() {
    let rules = pool().validation_rules();
    Fuzzer::new("tx")
        .max_len(2048)
        .run(|bytes| run(bytes, &rules));
}

/// Real transactions of every type, for the `tx` and `block_rlp` seeds.
fn sample_txs() -> Vec<TxEnvelope> {
    let k = key(1);
    let access_list: alloy_eips::eip2930::AccessList = vec![AccessListItem {
        address: TO,
        storage_keys: vec![B256::with_last_byte(1), B256::with_last_byte(2)],
    }]
    .into();
    let authorization = Authorization {
        chain_id: U256::from(CHAIN_ID),
        address: TO,
        nonce: 3,
    };
    let auth_sig = k
        .sign_hash_sync(&authorization.signature_hash())
        .expect("signing");
    vec![
        legacy(&k, 0, 2, Some(CHAIN_ID)).into_inner(),
        legacy(&k, 1, 2, None).into_inner(),
        sign(
            &k,
            TxEip2930 {
                chain_id: CHAIN_ID,
                nonce: 2,
                gas_price: 2 * GWEI,
                gas_limit: 50_000,
                to: TxKind::Create,
                value: U256::ZERO,
                access_list: access_list.clone(),
                input: Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xf3]),
            },
        )
        .into_inner(),
        eip1559_with(&k, 3, 10, 1, |tx| {
            tx.input = Bytes::from_static(b"\xa9\x05\x9c\xbb")
        })
        .into_inner(),
        sign(
            &k,
            TxEip7702 {
                chain_id: CHAIN_ID,
                nonce: 4,
                gas_limit: 100_000,
                max_fee_per_gas: 10 * GWEI,
                max_priority_fee_per_gas: GWEI,
                to: TO,
                value: U256::ZERO,
                access_list,
                authorization_list: vec![authorization.into_signed(auth_sig)],
                input: Bytes::new(),
            },
        )
        .into_inner(),
        sign(
            &k,
            TxEip4844 {
                chain_id: CHAIN_ID,
                nonce: 5,
                gas_limit: 21_000,
                max_fee_per_gas: 10 * GWEI,
                max_priority_fee_per_gas: GWEI,
                to: TO,
                value: U256::ZERO,
                access_list: Default::default(),
                blob_versioned_hashes: vec![B256::with_last_byte(1)],
                max_fee_per_blob_gas: 1,
                input: Bytes::new(),
            },
        )
        .into_inner(),
    ]
}

#[test]
#[ignore = "a tool, not a test: rewrites the `tx` and `block_rlp` seed corpus"]
fn write_tx_and_block_seeds() {
    let txs = sample_txs();
    let dir = outrigger_fuzz::corpus_dir("tx");
    std::fs::create_dir_all(&dir).unwrap();
    for tx in &txs {
        let name = match tx {
            TxEnvelope::Legacy(signed) if signed.tx().chain_id.is_none() => {
                "type-0-unprotected".into()
            }
            _ => format!("type-{}", tx.ty()),
        };
        std::fs::write(dir.join(name), tx.encoded_2718()).unwrap();
    }
    let dir = outrigger_fuzz::corpus_dir("block_rlp");
    std::fs::create_dir_all(&dir).unwrap();
    let header = Header {
        number: 7,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(BASE_FEE),
        timestamp: 1_700_000_000,
        withdrawals_root: Some(B256::with_last_byte(9)),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(B256::with_last_byte(3)),
        ..Default::default()
    };
    let blocks = [
        ("empty", Vec::new()),
        ("all-types", txs.clone()),
        ("two-1559", vec![txs[3].clone(), txs[3].clone()]),
    ];
    for (name, transactions) in blocks {
        let block = Block {
            header: header.clone(),
            body: BlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals: Some(Default::default()),
            },
        };
        let mut out = Vec::new();
        block.encode(&mut out);
        std::fs::write(dir.join(name), out).unwrap();
    }
}
