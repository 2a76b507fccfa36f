//! The bridge end to end: anvil as the L1, a sidechain of four validator
//! processes, both bridges deployed, four `outrigger relayer` processes with
//! threshold 3, and users driving `outrigger bridge …`.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer::SignerSync as _;
use alloy_sol_types::{SolCall as _, SolEvent as _};
use outrigger_bridge::contracts::{self, L1Bridge, SidechainBridge};
use outrigger_tests::{
    bridge_env::{
        BridgeEnv, BridgeSetup, L1_ID, L1Finality, SIDECHAIN_ID, balance, call, ether,
        native_supply, send_tx, wait_for,
    },
    key,
    node_process::{quantity, rpc},
};
use serde_json::json;

const ARRIVAL: Duration = Duration::from_secs(60);

fn l1_finalized(env: &BridgeEnv) -> eyre::Result<u64> {
    let block = rpc(
        env.anvil.rpc,
        "eth_getBlockByNumber",
        json!(["finalized", false]),
    )?;
    quantity(&block["number"])
}

/// Value of `outrigger bridge deposit`'s "deposit nonce N" / "withdrawal nonce N".
fn printed_nonce(output: &str, what: &str) -> u64 {
    let at = output
        .find(what)
        .unwrap_or_else(|| panic!("no {what:?} in {output}"));
    output[at + what.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number after {what:?} in {output}"))
}

fn executed_nonces(env: &BridgeEnv, on_l1: bool) -> Vec<u64> {
    let (addr, bridge) = if on_l1 {
        (env.anvil.rpc, env.l1_bridge)
    } else {
        (env.sidechain_rpc(), env.sidechain_bridge)
    };
    let mut nonces: Vec<u64> =
        BridgeEnv::logs(addr, bridge, L1Bridge::TransferExecuted::SIGNATURE_HASH)
            .unwrap()
            .iter()
            .map(|log| quantity(&log["topics"][1]).unwrap())
            .collect();
    nonces.sort_unstable();
    nonces
}

/// ETH and an ERC20 cross both ways with the exact amounts; a forging
/// relayer achieves nothing alone; with two of four relayers killed (two
/// votes, threshold 3), transfers wait, and complete once one is back
/// (kill -9 and restart: exactly once), through a validator crash too;
/// anyone can finish a withdrawal; solvency adds up.
#[test]
fn bridge_round_trip_exactly_once_through_relayer_crashes_and_forgeries() {
    let mut env = BridgeEnv::start(BridgeSetup {
        anvil_args: &["--block-time", "1", "--slots-in-an-epoch", "1"],
        ..BridgeSetup::default()
    })
    .unwrap();
    let user = key(21);
    let holder = key(31); // receives on the sidechain, withdraws back
    let l1_recipient = Address::repeat_byte(0x77);
    env.mint_l1_token(user.address(), ether(1_000)).unwrap();
    let token = env.token.to_string();
    let holder_hex = holder.address().to_string();

    // Deposits of ETH and the ERC20, through the CLI.
    let out = env
        .bridge_cli(
            &user,
            &[
                "deposit",
                "--amount",
                "2",
                "--to",
                &holder_hex,
                "--private-key-env",
                "TEST_USER_KEY",
            ],
        )
        .unwrap();
    assert!(
        out.contains("deposited 2.0") && out.contains("wait:"),
        "{out}"
    );
    let eth_nonce = printed_nonce(&out, "deposit nonce");
    let eth_block = printed_nonce(&out, "in block");
    let out = env
        .bridge_cli(
            &user,
            &[
                "deposit",
                "--amount",
                "100",
                "--token",
                &token,
                "--to",
                &holder_hex,
                "--private-key-env",
                "TEST_USER_KEY",
            ],
        )
        .unwrap();
    let token_nonce = printed_nonce(&out, "deposit nonce");
    assert_eq!((eth_nonce, token_nonce), (1, 2), "{out}");

    // Latency: from the L1 block being finalized to the coin on the sidechain.
    let mut final_at = None;
    wait_for("the ETH deposit on the sidechain", ARRIVAL, || {
        if final_at.is_none() && l1_finalized(&env)? >= eth_block {
            final_at = Some(Instant::now());
        }
        Ok((balance(env.sidechain_rpc(), holder.address())? == ether(2)).then_some(()))
    })
    .map_err(|e| eyre::eyre!("{e}\n{}", env.relayer_logs()))
    .unwrap();
    let final_at = final_at.unwrap_or_else(Instant::now);
    eprintln!(
        "deposit latency, L1 finalized -> minted: {} ms",
        final_at.elapsed().as_millis()
    );
    let bridged = wait_for("the token deposit on the sidechain", ARRIVAL, || {
        let bridged = env.bridged_token()?;
        Ok(
            (BridgeEnv::token_balance(env.sidechain_rpc(), bridged, holder.address())?
                == ether(100))
            .then_some(bridged),
        )
    })
    .unwrap();

    // A forging relayer: a vote for a deposit that never happened, and a
    // withdrawal signed only by itself. Neither gets anywhere. Its process
    // is stopped while the test forges with its key, so that the two do
    // not race for the account's nonces, and comes back afterwards.
    env.relayers[0].kill9();
    let forger = &env.relayer_keys[0];
    wait_for("the forger's transactions mined", ARRIVAL, || {
        let count = |tag: &str| {
            quantity(&rpc(
                env.sidechain_rpc(),
                "eth_getTransactionCount",
                json!([forger.address(), tag]),
            )?)
        };
        Ok((count("latest")? == count("pending")?).then_some(()))
    })
    .unwrap();
    let thief = Address::repeat_byte(0x66);
    let forged = contracts::SidechainBridge::DepositMessage {
        nonce: U256::from(99),
        token: Address::ZERO,
        homeL1: true,
        from: thief,
        to: thief,
        amount: ether(500),
    };
    send_tx(
        env.sidechain_rpc(),
        SIDECHAIN_ID,
        forger,
        Some(env.sidechain_bridge),
        SidechainBridge::confirmDepositCall { d: forged.clone() }.abi_encode(),
        U256::ZERO,
    )
    .unwrap();
    let forged_w = contracts::withdrawal(
        SIDECHAIN_ID,
        env.sidechain_bridge,
        U256::from(99),
        Address::ZERO,
        true,
        thief,
        thief,
        ether(1),
    );
    let signature = forger
        .sign_hash_sync(&contracts::withdrawal_digest(
            &forged_w,
            L1_ID,
            env.l1_bridge,
        ))
        .unwrap();
    let finalize_forged = L1Bridge::finalizeWithdrawalCall {
        w: contracts::L1Bridge::WithdrawalMessage {
            nonce: U256::from(99),
            token: Address::ZERO,
            homeL1: true,
            from: thief,
            to: thief,
            amount: ether(1),
        },
        signatures: vec![Bytes::from(signature.as_bytes().to_vec())],
    };
    let refused = rpc(
        env.anvil.rpc,
        "eth_estimateGas",
        json!([{"from": forger.address(), "to": env.l1_bridge, "input": Bytes::from(finalize_forged.abi_encode())}]),
    );
    assert!(
        refused.is_err(),
        "L1 accepted one relayer's signature: {refused:?}"
    );
    env.relayers[0].start().unwrap();

    // Two relayers die (kill -9). New transfers wait at two votes/signatures.
    // So does the validator whose RPC relayer 0 uses first: it fails over,
    // and the other three validators keep finalizing.
    env.relayers[1].kill9();
    env.relayers[2].kill9();
    env.sidechain.kill(0);
    let out = env
        .bridge_cli(
            &user,
            &[
                "deposit",
                "--amount",
                "1",
                "--to",
                &holder_hex,
                "--private-key-env",
                "TEST_USER_KEY",
            ],
        )
        .unwrap();
    let late_deposit = printed_nonce(&out, "deposit nonce");
    let out = env
        .bridge_cli(
            &holder,
            &[
                "withdraw",
                "--amount",
                "0.5",
                "--to",
                &l1_recipient.to_string(),
                "--private-key-env",
                "TEST_USER_KEY",
            ],
        )
        .unwrap();
    assert!(out.contains("withdrawal nonce 1"), "{out}");
    let out = env
        .bridge_cli(
            &holder,
            &[
                "withdraw",
                "--amount",
                "40",
                "--token",
                &token,
                "--to",
                &l1_recipient.to_string(),
                "--private-key-env",
                "TEST_USER_KEY",
            ],
        )
        .unwrap();
    assert!(out.contains("withdrawal nonce 2"), "{out}");
    // The live relayers vote and sign; that is all that happens.
    let votes = || {
        call(
            env.sidechain_rpc(),
            env.sidechain_bridge,
            &SidechainBridge::confirmationsCall {
                d: contracts::SidechainBridge::DepositMessage {
                    nonce: U256::from(late_deposit),
                    token: Address::ZERO,
                    homeL1: true,
                    from: user.address(),
                    to: holder.address(),
                    amount: ether(1),
                },
            },
        )
    };
    wait_for("the live relayers' votes", ARRIVAL, || {
        Ok((votes()?.count == U256::from(2)).then_some(()))
    })
    .unwrap();
    wait_for("the live relayers' signatures", ARRIVAL, || {
        let one = env.bridge_cli(&user, &["status", "--withdrawal", "1"])?;
        let two = env.bridge_cli(&user, &["status", "--withdrawal", "2"])?;
        Ok((one.contains("signatures 2/3") && two.contains("signatures 2/3")).then_some(()))
    })
    .unwrap();
    // Past the finality of the late deposit and a finalizer period: still waiting.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(env.incoming_status(false, late_deposit).unwrap(), 0);
    assert_eq!(votes().unwrap().count, U256::from(2));
    let status = env
        .bridge_cli(&user, &["status", "--withdrawal", "1"])
        .unwrap();
    assert!(
        status.contains("not yet executed") && status.contains("signatures 2/3"),
        "{status}"
    );
    let out = env.bridge_cli(
        &user,
        &[
            "finalize",
            "--withdrawal",
            "1",
            "--private-key-env",
            "TEST_USER_KEY",
        ],
    );
    assert!(
        out.as_ref()
            .is_err_and(|e| e.to_string().contains("2 of 3")),
        "{out:?}"
    );
    assert_eq!(balance(env.anvil.rpc, l1_recipient).unwrap(), U256::ZERO);

    // One comes back: everything completes, once.
    let back = Instant::now();
    env.relayers[1].start().unwrap();
    env.sidechain.restart(0).unwrap();
    wait_for("the withdrawals on L1", ARRIVAL, || {
        Ok(
            (balance(env.anvil.rpc, l1_recipient)? == ether(1) / U256::from(2)
                && BridgeEnv::token_balance(env.anvil.rpc, env.token, l1_recipient)? == ether(40))
            .then_some(()),
        )
    })
    .map_err(|e| eyre::eyre!("{e}\n{}", env.relayer_logs()))
    .unwrap();
    eprintln!(
        "withdrawal latency with a relayer restart (second signature -> finalized on L1): {} ms",
        back.elapsed().as_millis()
    );
    wait_for("the late deposit", ARRIVAL, || {
        Ok((env.incoming_status(false, late_deposit)? == 2).then_some(()))
    })
    .unwrap();
    // The last relayer returns to a backlog that is all done: it sends nothing.
    env.relayers[2].start().unwrap();
    wait_for("relayer 2 drained", ARRIVAL, || {
        Ok(
            (env.relayers[2].metric("outrigger_relayer_pending{kind=\"deposit\"}")? == Some(0.0)
                && env.relayers[2].metric("outrigger_relayer_pending{kind=\"withdrawal\"}")?
                    == Some(0.0))
            .then_some(()),
        )
    })
    .unwrap();
    assert_eq!(
        env.relayers[2]
            .metric("outrigger_relayer_transactions_total{chain=\"sidechain\",outcome=\"sent\"}")
            .unwrap(),
        None,
        "a relayer back after the work was done sends nothing:\n{}",
        env.relayers[2].output()
    );

    // With every relayer up: burn -> finalized on L1.
    let before = balance(env.anvil.rpc, l1_recipient).unwrap();
    let burned = Instant::now();
    env.bridge_cli(
        &holder,
        &[
            "withdraw",
            "--amount",
            "0.25",
            "--to",
            &l1_recipient.to_string(),
            "--private-key-env",
            "TEST_USER_KEY",
        ],
    )
    .unwrap();
    wait_for("a withdrawal with every relayer up", ARRIVAL, || {
        Ok(
            (balance(env.anvil.rpc, l1_recipient)? == before + ether(1) / U256::from(4))
                .then_some(()),
        )
    })
    .unwrap();
    eprintln!(
        "withdrawal latency, burn (CLI returned) -> paid on L1: {} ms",
        burned.elapsed().as_millis()
    );

    // Anyone may finish a withdrawal; here it is already done.
    let out = env
        .bridge_cli(
            &user,
            &[
                "finalize",
                "--withdrawal",
                "2",
                "--private-key-env",
                "TEST_USER_KEY",
            ],
        )
        .unwrap();
    assert!(out.contains("already executed"), "{out}");

    // Exactly once, and the books balance.
    assert_eq!(executed_nonces(&env, false), vec![1, 2, 3]);
    assert_eq!(executed_nonces(&env, true), vec![1, 2, 3]);
    assert_eq!(env.incoming_status(false, 99).unwrap(), 0, "forged deposit");
    assert_eq!(balance(env.sidechain_rpc(), thief).unwrap(), U256::ZERO);
    let locked_eth = ether(3) - ether(3) / U256::from(4);
    assert_eq!(balance(env.anvil.rpc, env.l1_bridge).unwrap(), locked_eth);
    assert_eq!(
        balance(env.sidechain_rpc(), env.sidechain_bridge).unwrap(),
        native_supply() - locked_eth
    );
    assert_eq!(
        BridgeEnv::token_balance(env.anvil.rpc, env.token, env.l1_bridge).unwrap(),
        ether(60)
    );
    assert_eq!(
        BridgeEnv::token_supply(env.sidechain_rpc(), bridged).unwrap(),
        ether(60)
    );
    assert_eq!(
        BridgeEnv::token_balance(env.sidechain_rpc(), bridged, holder.address()).unwrap(),
        ether(60)
    );
    assert_eq!(
        BridgeEnv::token_balance(env.anvil.rpc, env.token, user.address()).unwrap(),
        ether(900)
    );
    // The relayers export the same solvency.
    // Relayer 3 ran throughout: its counters cover the whole test.
    let relayer = &env.relayers[3];
    wait_for("solvency metrics", Duration::from_secs(10), || {
        let eth = "token=\"0x0000000000000000000000000000000000000000\"";
        let locked = relayer.metric(&format!("outrigger_bridge_l1_locked{{{eth}}}"))?;
        let minted = relayer.metric(&format!("outrigger_bridge_sidechain_minted{{{eth}}}"))?;
        Ok((locked == Some(2.25e18) && minted == Some(2.25e18)).then_some(()))
    })
    .unwrap();
    let text = relayer.metrics_text().unwrap();
    for name in [
        "outrigger_relayer_l1_head",
        "outrigger_relayer_l1_final",
        "outrigger_relayer_cursor_lag_blocks{chain=\"l1\"}",
        "outrigger_relayer_deposits_total{event=\"seen\"} 3",
        "outrigger_relayer_withdrawals_total{event=\"seen\"} 3",
        "outrigger_relayer_signatures_total 3",
        "outrigger_relayer_gas_balance_wei{chain=\"l1\"}",
    ] {
        assert!(text.contains(name), "metrics lack {name}:\n{text}");
    }
    // Every validator, the restarted one too, has the same chain.
    let head = env.sidechain.head(1).unwrap();
    env.sidechain.wait_all(head, ARRIVAL).unwrap();
    env.sidechain.assert_agree(head).unwrap();
    // The relayer never logs its key or password.
    for r in &env.relayers {
        let log = r.output();
        assert!(!log.contains(outrigger_tests::bridge_env::PASSWORD));
    }
}

/// With a confirmation depth: a deposit whose L1 block is reorganised away
/// is never minted, the one that replaces its nonce is minted once. Then
/// anvil goes down (relayers back off and count the errors; their first L1
/// URL is dead, so they also fail over) and comes back: work resumes.
#[test]
fn bridge_reorged_deposit_is_never_minted_and_relayers_ride_out_an_l1_outage() {
    let mut env = BridgeEnv::start(BridgeSetup {
        finality: L1Finality::Confirmations(3),
        ..BridgeSetup::default()
    })
    .unwrap();
    let user = key(21);
    let gone = Address::repeat_byte(0x51);
    let kept = Address::repeat_byte(0x52);
    let deposit = |env: &BridgeEnv, to: Address, amount: U256| {
        send_tx(
            env.anvil.rpc,
            L1_ID,
            &user,
            Some(env.l1_bridge),
            L1Bridge::depositETHCall { to }.abi_encode(),
            amount,
        )
        .unwrap()
    };
    // Mine past the deployment so the relayers' cursors are warm.
    rpc(env.anvil.rpc, "anvil_mine", json!(["0x4"])).unwrap();
    deposit(&env, gone, ether(1));
    std::thread::sleep(Duration::from_secs(1));
    // The block with the deposit (the head, 0 confirmations) is replaced.
    rpc(env.anvil.rpc, "anvil_reorg", json!([1, []])).unwrap();
    let nonce = call(env.anvil.rpc, env.l1_bridge, &L1Bridge::depositNonceCall {}).unwrap();
    assert_eq!(nonce, U256::ZERO, "the deposit left the chain");
    deposit(&env, kept, ether(3));
    rpc(env.anvil.rpc, "anvil_mine", json!(["0x3"])).unwrap();
    wait_for("the surviving deposit", ARRIVAL, || {
        Ok((balance(env.sidechain_rpc(), kept)? == ether(3)).then_some(()))
    })
    .map_err(|e| eyre::eyre!("{e}\n{}", env.relayer_logs()))
    .unwrap();
    rpc(env.anvil.rpc, "anvil_mine", json!(["0x3"])).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(balance(env.sidechain_rpc(), gone).unwrap(), U256::ZERO);
    assert_eq!(executed_nonces(&env, false), vec![1]);

    // L1 outage.
    let errors = "outrigger_relayer_errors_total{kind=\"rpc_unreachable\"}";
    env.anvil.stop().unwrap();
    wait_for(
        "relayers noticing the outage",
        Duration::from_secs(20),
        || Ok((env.relayers[0].metric(errors)?.unwrap_or(0.0) >= 2.0).then_some(())),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        env.relayers.iter_mut().all(|r| r.running()),
        "relayers survive the outage"
    );
    env.anvil.restart().unwrap();
    let after = Address::repeat_byte(0x53);
    deposit(&env, after, ether(2));
    rpc(env.anvil.rpc, "anvil_mine", json!(["0x3"])).unwrap();
    wait_for("a deposit after the outage", ARRIVAL, || {
        Ok((balance(env.sidechain_rpc(), after)? == ether(2)).then_some(()))
    })
    .map_err(|e| eyre::eyre!("{e}\n{}", env.relayer_logs()))
    .unwrap();
    assert!(env.relayers[0].output().contains("retry_in_ms"));
    assert_eq!(executed_nonces(&env, false), vec![1, 2]);
    assert_eq!(balance(env.anvil.rpc, env.l1_bridge).unwrap(), ether(5));
    assert_eq!(
        balance(env.sidechain_rpc(), env.sidechain_bridge).unwrap(),
        native_supply() - ether(5)
    );
}

/// A transaction that is not mined is re-sent with higher fees at the same
/// nonce; after a restart the recorded one is re-sent, never a second one;
/// the mined version is found whichever it is.
#[test]
fn bridge_submitter_reprices_a_stuck_transaction_and_never_sends_twice() {
    use std::sync::Arc;

    use outrigger_bridge::{
        metrics::RelayerMetrics,
        rpc::RpcClient,
        store::{Chain, Purpose, Queue},
        submitter::{Submitter, SubmitterSettings, TxOutcome},
    };

    let dir = tempfile::tempdir().unwrap();
    let anvil = outrigger_tests::anvil::AnvilProcess::start(&["--no-mining"], dir.path()).unwrap();
    let signer = key(41);
    rpc(
        anvil.rpc,
        "anvil_setBalance",
        json!([signer.address(), ether(10)]),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = Arc::new(
            RpcClient::new(
                "l1",
                &[format!("http://{}", anvil.rpc)],
                Duration::from_secs(5),
            )
            .unwrap(),
        );
        let queue = Arc::new(Queue::open(&dir.path().join("queue")).unwrap());
        let metrics = Arc::new(RelayerMetrics::new().unwrap());
        let settings = SubmitterSettings {
            chain_id: L1_ID,
            reprice_after: Duration::from_millis(300),
            fee_bump_percent: 25,
            max_fee_cap: 1_000_000_000_000,
            in_flight_max: 4,
        };
        let submitter = |queue: &Arc<Queue>| {
            Submitter::new(
                Chain::L1,
                client.clone(),
                queue.clone(),
                signer.clone(),
                settings.clone(),
                metrics.clone(),
            )
        };
        let first_submitter = submitter(&queue);
        let purpose = Purpose::FinalizeWithdrawal(U256::from(7));
        let first = first_submitter
            .send(purpose, Address::repeat_byte(0x42), Bytes::new(), 30_000)
            .await
            .unwrap();
        assert!(
            first_submitter.track().await.unwrap().is_empty(),
            "young: left alone"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        let outcomes = first_submitter.track().await.unwrap();
        assert!(
            matches!(outcomes[..], [TxOutcome::Repriced { .. }]),
            "{outcomes:?}"
        );
        let repriced = queue.transactions(Chain::L1, 10).unwrap().remove(0);
        assert_eq!(repriced.nonce, first.nonce);
        assert_eq!(repriced.hashes.len(), 2);
        assert!(repriced.max_fee_per_gas >= first.max_fee_per_gas * 5 / 4);
        assert!(repriced.max_priority_fee_per_gas >= first.max_priority_fee_per_gas * 5 / 4);
        drop(first_submitter);

        // A restart on the same queue: the same transaction goes out again.
        let restarted = submitter(&queue);
        restarted.resend_all().await.unwrap();
        rpc(anvil.rpc, "evm_mine", json!([])).unwrap();
        let outcomes = restarted.track().await.unwrap();
        match &outcomes[..] {
            [
                TxOutcome::Mined {
                    purpose: mined,
                    receipt,
                },
            ] => {
                assert_eq!(*mined, purpose);
                assert_eq!(
                    receipt.transaction_hash, repriced.hashes[1],
                    "the re-priced version"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(queue.transactions(Chain::L1, 10).unwrap().is_empty());
        assert_eq!(
            client.nonce(signer.address()).await.unwrap(),
            1,
            "one transaction in all"
        );
    });
}
