//! Test helper: builds and commits blocks of transfers to fresh accounts in
//! a loop, printing `committed N` after each commit, until killed. The
//! crash tests `kill -9` it at random points and check what reopens.

use std::{collections::VecDeque, io::Write, path::PathBuf};

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, U256};
use outrigger_execution::{BlockAttributes, StoreConfig, executor::TransactionSource};
use outrigger_tests::{SENDERS, key, open_chain, recipient, transfer};

struct Queue(VecDeque<Recovered<TxEnvelope>>);

impl TransactionSource for Queue {
    fn next_transaction(&mut self) -> Option<Recovered<TxEnvelope>> {
        self.0.pop_front()
    }
    fn skip_sender(&mut self, sender: Address) {
        panic!("transfer from {sender} unexpectedly failed");
    }
}

fn main() -> eyre::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or_else(|| eyre::eyre!("usage: outrigger-commit-loop DATA_DIR [TXS_PER_BLOCK]"))?,
    );
    let per_block: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let chain = open_chain(&dir, &StoreConfig::default())?;
    let store = chain.store().clone();
    let mut stdout = std::io::stdout().lock();
    loop {
        let head = store.head()?.ok_or_else(|| eyre::eyre!("no genesis"))?;
        let number = head.number + 1;
        let senders: Vec<_> = (1..=SENDERS).map(key).collect();
        let mut nonces = Vec::new();
        for signer in &senders {
            nonces.push(store.account(signer.address())?.map_or(0, |a| a.nonce));
        }
        let txs = (0..per_block)
            .map(|i| {
                let s = (i % SENDERS as u64) as usize;
                let tx = transfer(
                    &senders[s],
                    nonces[s],
                    recipient(number, i),
                    U256::from(number),
                );
                nonces[s] += 1;
                tx
            })
            .collect();
        let attributes = BlockAttributes {
            timestamp: head.timestamp + 1,
            beneficiary: Address::repeat_byte(0xfe),
            gas_limit: head.gas_limit,
            extra_data: Bytes::new(),
            prev_randao: B256::ZERO,
        };
        let executed = chain.build(&attributes, &mut Queue(txs))?;
        chain.commit(&executed)?;
        writeln!(stdout, "committed {number}")?;
        stdout.flush()?;
    }
}
