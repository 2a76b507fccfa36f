//! A validator chain of real `outrigger` processes on 127.0.0.1 that a test
//! can kill, restart and extend with full nodes: `outrigger genesis new`
//! makes the keys, each node gets a config with its p2p port and every
//! other node as a bootnode.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use eyre::{Context as _, bail, eyre};
use serde_json::{Value, json};

use crate::node_process::{NodeProcess, free_addr, outrigger_binary, quantity, rpc};

/// The test mnemonic's account `i`: funded on chains from `genesis new`.
pub fn dev_key(i: u32) -> alloy_signer_local::PrivateKeySigner {
    alloy_signer_local::MnemonicBuilder::<alloy_signer_local::coins_bip39::English>::default()
        .phrase("test test test test test test test test test test test junk")
        .index(i)
        .and_then(|b| b.build())
        .expect("the test mnemonic derives")
}

/// A signed EIP-1559 transfer of 1000 wei on the dev chain id, as the hex
/// `eth_sendRawTransaction` takes.
pub fn signed_transfer(
    key: &alloy_signer_local::PrivateKeySigner,
    nonce: u64,
    to: alloy_primitives::Address,
) -> String {
    let tx = alloy_consensus::TxEip1559 {
        chain_id: crate::CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(to),
        value: alloy_primitives::U256::from(1_000u64),
        ..Default::default()
    };
    crate::raw_hex(key, tx)
}

/// Consensus settings for tests: short timeouts so that a dead proposer
/// costs about a second.
const TEST_CONSENSUS: &str = "timeout_propose_ms = 1000\ntimeout_vote_ms = 500\n\
     timeout_per_round_ms = 250\ntimeout_max_ms = 2000\nrebroadcast_after_ms = 1000\n\
     sync_interval_ms = 500\n";

/// One node's files and address book entry.
struct Member {
    dir: PathBuf,
    config: PathBuf,
    p2p: String,
    /// The addresses it dials the validators at, when not their own.
    bootnodes: Option<Vec<String>>,
}

/// Where node `from` dials node `to`, whose p2p listen address is the
/// third argument: that address, or a proxy's in front of it.
pub type Route<'a> = &'a mut dyn FnMut(usize, usize, SocketAddr) -> eyre::Result<SocketAddr>;

/// The running chain.
pub struct TestNet {
    root: PathBuf,
    members: Vec<Member>,
    /// The processes; `None` while a node is stopped.
    pub nodes: Vec<Option<NodeProcess>>,
    validators: usize,
}

fn run(args: &[&str]) -> eyre::Result<String> {
    let out = Command::new(outrigger_binary()).args(args).output()?;
    if !out.status.success() {
        bail!(
            "outrigger {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl TestNet {
    /// Makes a chain of `validators` in `root` with `block_time_ms` between
    /// blocks and starts every validator.
    pub fn start(root: &Path, validators: usize, block_time_ms: u64) -> eyre::Result<Self> {
        Self::start_with(root, validators, block_time_ms, |_| Ok(()))
    }

    /// As [`TestNet::start`], with `edit` applied to the genesis JSON that
    /// `outrigger genesis new` wrote (more accounts, another gas limit)
    /// before any node is initialised from it.
    pub fn start_with(
        root: &Path,
        validators: usize,
        block_time_ms: u64,
        edit: impl FnOnce(&mut Value) -> eyre::Result<()>,
    ) -> eyre::Result<Self> {
        Self::start_inner(root, validators, block_time_ms, edit, None)
    }

    /// As [`TestNet::start`], but validator `from` dials validator `to` at
    /// `route(from, to, to's listen address)`: a proxy that stands for the
    /// network between them (see [`crate::wan`]). Bootnodes are the only
    /// addresses a node dials, so every validator link goes through a route.
    pub fn start_routed(
        root: &Path,
        validators: usize,
        block_time_ms: u64,
        route: Route<'_>,
    ) -> eyre::Result<Self> {
        Self::start_inner(root, validators, block_time_ms, |_| Ok(()), Some(route))
    }

    fn start_inner(
        root: &Path,
        validators: usize,
        block_time_ms: u64,
        edit: impl FnOnce(&mut Value) -> eyre::Result<()>,
        route: Option<Route<'_>>,
    ) -> eyre::Result<Self> {
        let stdout = run(&[
            "genesis",
            "new",
            "--validators",
            &validators.to_string(),
            "--out",
            &root.display().to_string(),
        ])?;
        let peer_ids: Vec<String> = stdout
            .lines()
            .filter_map(|l| l.split("peer id ").nth(1))
            .map(|s| s.trim().to_string())
            .collect();
        if peer_ids.len() != validators {
            bail!("genesis new printed {} peer ids:\n{stdout}", peer_ids.len());
        }
        let genesis_path = root.join("genesis.json");
        let mut genesis: Value = serde_json::from_str(&std::fs::read_to_string(&genesis_path)?)?;
        edit(&mut genesis)?;
        std::fs::write(&genesis_path, serde_json::to_string_pretty(&genesis)?)?;
        let mut net = Self {
            root: root.to_path_buf(),
            members: Vec::new(),
            nodes: Vec::new(),
            validators,
        };
        for peer_id in &peer_ids {
            let dir = root.join(format!("node{}", net.members.len()));
            net.add_member(dir, Some(peer_id.clone()))?;
        }
        if let Some(route) = route {
            for from in 0..validators {
                let mut bootnodes = Vec::new();
                for (to, peer_id) in peer_ids.iter().enumerate() {
                    if to != from {
                        let via = route(from, to, net.listen_addr(to)?)?;
                        bootnodes.push(format!(
                            "/ip4/{}/tcp/{}/p2p/{peer_id}",
                            via.ip(),
                            via.port()
                        ));
                    }
                }
                net.members[from].bootnodes = Some(bootnodes);
            }
        }
        for i in 0..validators {
            net.write_config(i, "validator", block_time_ms)?;
        }
        for i in 0..validators {
            net.nodes.push(Some(net.spawn(i)?));
        }
        Ok(net)
    }

    fn add_member(&mut self, dir: PathBuf, peer_id: Option<String>) -> eyre::Result<usize> {
        let genesis = self.root.join("genesis.json");
        run(&[
            "init",
            "--genesis",
            &genesis.display().to_string(),
            "--data-dir",
            &dir.display().to_string(),
        ])?;
        let port = free_addr().port();
        let p2p = match peer_id {
            Some(id) => format!("/ip4/127.0.0.1/tcp/{port}/p2p/{id}"),
            None => format!("/ip4/127.0.0.1/tcp/{port}"),
        };
        self.members.push(Member {
            config: dir.join("node.toml"),
            dir,
            p2p,
            bootnodes: None,
        });
        Ok(self.members.len() - 1)
    }

    fn write_config(&self, index: usize, role: &str, block_time_ms: u64) -> eyre::Result<()> {
        let member = &self.members[index];
        let listen = member
            .p2p
            .split("/p2p/")
            .next()
            .ok_or_else(|| eyre!("bad p2p address"))?;
        let bootnodes: Vec<&str> = match &member.bootnodes {
            Some(routed) => routed.iter().map(String::as_str).collect(),
            None => self.members[..self.validators]
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, m)| m.p2p.as_str())
                .collect(),
        };
        let config = format!(
            "data_dir = {:?}\n\n[block]\ntime_ms = {block_time_ms}\n\n[storage]\nsync_writes = false\n\n\
             [consensus]\nrole = \"{role}\"\n{TEST_CONSENSUS}\n[p2p]\nlisten = [\"{listen}\"]\nbootnodes = {bootnodes:?}\n",
            member.dir.display().to_string(),
        );
        std::fs::write(&member.config, config).wrap_err("writing a node config")
    }

    fn spawn(&self, index: usize) -> eyre::Result<NodeProcess> {
        let member = &self.members[index];
        NodeProcess::start(
            &["--config", &member.config.display().to_string()],
            &member.dir,
        )
    }

    /// Adds and starts a full node (no validator key) that syncs from the
    /// validators; returns its index.
    pub fn add_full_node(&mut self) -> eyre::Result<usize> {
        let dir = self.root.join(format!("full{}", self.members.len()));
        let index = self.add_member(dir, None)?;
        self.write_config(index, "full", 1000)?;
        let node = self.spawn(index)?;
        self.nodes.push(Some(node));
        Ok(index)
    }

    /// The p2p address of node `index`, `/ip4/127.0.0.1/tcp/P[/p2p/ID]`.
    pub fn p2p_addr(&self, index: usize) -> &str {
        &self.members[index].p2p
    }

    /// The p2p listen address of node `index`.
    pub fn listen_addr(&self, index: usize) -> eyre::Result<SocketAddr> {
        let port = self.members[index]
            .p2p
            .split('/')
            .nth(4)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| eyre!("no port in {}", self.members[index].p2p))?;
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The running node `index`.
    pub fn node(&self, index: usize) -> &NodeProcess {
        self.nodes[index].as_ref().expect("node is running")
    }

    /// `kill -9` node `index`.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut node) = self.nodes[index].take() {
            node.kill9();
        }
    }

    /// Starts node `index` again on its data dir.
    pub fn restart(&mut self, index: usize) -> eyre::Result<()> {
        if self.nodes[index].is_none() {
            self.nodes[index] = Some(self.spawn(index)?);
        }
        Ok(())
    }

    /// Indices of the running nodes.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].is_some())
            .collect()
    }

    /// The head of node `index`.
    pub fn head(&self, index: usize) -> eyre::Result<u64> {
        quantity(&rpc(self.node(index).rpc, "eth_blockNumber", json!([]))?)
    }

    /// Waits until every running node's head is at least `number`.
    pub fn wait_all(&self, number: u64, timeout: Duration) -> eyre::Result<()> {
        let deadline = Instant::now() + timeout;
        for i in self.running() {
            let left = deadline.saturating_duration_since(Instant::now());
            self.node(i)
                .wait_for_block(number, left)
                .wrap_err_with(|| format!("node {i}"))?;
        }
        Ok(())
    }

    /// Checks that every running node has the same block hash and state
    /// root at every height from 1 to `up_to`.
    pub fn assert_agree(&self, up_to: u64) -> eyre::Result<()> {
        let running = self.running();
        for number in 0..=up_to {
            let mut seen: Option<(Value, Value, usize)> = None;
            for &i in &running {
                let block = rpc(
                    self.node(i).rpc,
                    "eth_getBlockByNumber",
                    json!([format!("{number:#x}"), false]),
                )?;
                let hash = block["hash"].clone();
                let root = block["stateRoot"].clone();
                match &seen {
                    None => seen = Some((hash, root, i)),
                    Some((h, r, j)) => {
                        if *h != hash || *r != root {
                            bail!(
                                "block {number}: node {j} has {h} (state {r}), node {i} has {hash} (state {root})"
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A Prometheus sample of node `index` (summed over label sets).
    pub fn metric(&self, index: usize, name: &str) -> eyre::Result<f64> {
        crate::node_process::metric_at(self.node(index).metrics, name)
    }

    /// Adds and starts a validator node that signs with `key_file`, a key
    /// that need not be in the genesis set (it signs once an epoch's set
    /// includes it); returns its index. It dials the genesis validators.
    pub fn add_validator_node(
        &mut self,
        key_file: &Path,
        block_time_ms: u64,
    ) -> eyre::Result<usize> {
        let dir = self.root.join(format!("validator{}", self.members.len()));
        let index = self.add_member(dir, None)?;
        self.write_config(index, "validator", block_time_ms)?;
        let config = &self.members[index].config;
        let text = std::fs::read_to_string(config)?.replacen(
            "[consensus]\n",
            &format!(
                "[consensus]\nvalidator_key_file = {:?}\n",
                key_file.display().to_string()
            ),
            1,
        );
        std::fs::write(config, text).wrap_err("writing a node config")?;
        let node = self.spawn(index)?;
        self.nodes.push(Some(node));
        Ok(index)
    }
}
