//! A whole bridge on loopback for end-to-end tests: anvil as the L1, a
//! chain of validator processes ([`TestNet`]) as the sidechain, both bridges
//! deployed and initialised from the committed artifacts, and N relayer
//! processes (`outrigger relayer`) with their keystores and configs. Each
//! relayer talks to its own validator's RPC (with the next one as failover),
//! so the relayers do not share one sidechain node.
//!
//! The sidechain's native supply: the genesis gives [`NATIVE_SUPPLY`] to the
//! address the `SidechainBridge` will be deployed at (the deployer's first
//! CREATE), as the contracts' README asks; deploying onto an address that
//! holds a balance is allowed (only code or a nonce collide). The deployer,
//! the relayers and [`SIDECHAIN_GAS_USERS`] get a small float for gas: that
//! coin is unbacked on L1, so solvency is checked on the bridge's balance
//! (native coin out of the bridge == ETH locked on L1), never on totals.

use std::{
    fs::File,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use alloy_consensus::TxEip1559;
use alloy_primitives::{Address, Bytes, TxKind, U256, hex};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use eyre::{Context as _, bail, eyre};
use outrigger_bridge::{
    contracts::{L1Bridge, MockERC20, SidechainBridge},
    deploy::{self, DeployPlan},
    rpc::RpcClient,
};
use serde_json::{Value, json};

use crate::{
    anvil::AnvilProcess,
    key,
    node_process::{free_addr, http_get, outrigger_binary, quantity, rpc},
    testnet::TestNet,
};

/// Chain id of the test sidechain.
pub const SIDECHAIN_ID: u64 = 1337;
/// anvil's chain id.
pub const L1_ID: u64 = 31337;
/// The native coin the `SidechainBridge` holds at genesis: 1e9 ETH.
pub fn native_supply() -> U256 {
    ether(1_000_000_000)
}
/// Keys funded for gas on the sidechain at genesis besides deployer and relayers.
pub const SIDECHAIN_GAS_USERS: [u8; 2] = [21, 22];
/// Password of the relayers' keystores.
pub const PASSWORD: &str = "correct horse battery staple";

pub use outrigger_bridge::deploy::ether;

/// Signs and sends a transaction (a CREATE when `to` is `None`) and waits for
/// its successful receipt.
pub fn send_tx(
    addr: SocketAddr,
    chain_id: u64,
    signer: &PrivateKeySigner,
    to: Option<Address>,
    input: Vec<u8>,
    value: U256,
) -> eyre::Result<Value> {
    let from = signer.address();
    let mut call = json!({"from": from, "input": Bytes::from(input.clone()), "value": value});
    if let Some(to) = to {
        call["to"] = json!(to);
    }
    let estimate = quantity(&rpc(addr, "eth_estimateGas", json!([call]))?)?;
    let nonce = quantity(&rpc(
        addr,
        "eth_getTransactionCount",
        json!([from, "latest"]),
    )?)?;
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: estimate * 3 / 2 + 50_000,
        max_fee_per_gas: 50_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: to.map_or(TxKind::Create, TxKind::Call),
        value,
        access_list: Default::default(),
        input: input.into(),
    };
    let hash = rpc(
        addr,
        "eth_sendRawTransaction",
        json!([crate::raw_hex(signer, tx)]),
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let receipt = rpc(addr, "eth_getTransactionReceipt", json!([hash]))?;
        if !receipt.is_null() {
            if receipt["status"] != "0x1" {
                bail!("transaction {hash} reverted: {receipt}");
            }
            return Ok(receipt);
        }
        if Instant::now() > deadline {
            bail!("transaction {hash} not mined within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `eth_call` of a `sol!` call at the latest block.
pub fn call<C: SolCall>(addr: SocketAddr, to: Address, call: &C) -> eyre::Result<C::Return> {
    let out = rpc(
        addr,
        "eth_call",
        json!([{"to": to, "input": Bytes::from(call.abi_encode())}, "latest"]),
    )?;
    let bytes: Bytes = serde_json::from_value(out)?;
    Ok(C::abi_decode_returns(&bytes)?)
}

/// Native balance.
pub fn balance(addr: SocketAddr, who: Address) -> eyre::Result<U256> {
    Ok(serde_json::from_value(rpc(
        addr,
        "eth_getBalance",
        json!([who, "latest"]),
    )?)?)
}

/// Polls `check` every 100 ms until it returns `Some`, failing after `timeout`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> eyre::Result<Option<T>>,
) -> eyre::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) if Instant::now() > deadline => return Err(error),
            Err(_) => {}
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How the relayers decide L1 finality in a test.
#[derive(Debug, Clone, Copy)]
pub enum L1Finality {
    /// anvil's `finalized` tag (head − 2 with `--slots-in-an-epoch 1`).
    Finalized,
    /// head − depth.
    Confirmations(u64),
}

/// A relayer process.
pub struct RelayerProcess {
    child: Option<Child>,
    /// Its config file.
    pub config: PathBuf,
    /// Its metrics address.
    pub metrics: SocketAddr,
    /// Its address.
    pub address: Address,
    log: PathBuf,
}

impl RelayerProcess {
    /// A relayer of `config` (metrics on `metrics`, key of `address`)
    /// logging to `log`, not started yet.
    pub fn new(config: PathBuf, metrics: SocketAddr, address: Address, log: PathBuf) -> Self {
        Self {
            child: None,
            config,
            metrics,
            address,
            log,
        }
    }

    /// Starts (or restarts) `outrigger relayer --config ..`.
    pub fn start(&mut self) -> eyre::Result<()> {
        assert!(self.child.is_none(), "relayer already running");
        let out = File::options().create(true).append(true).open(&self.log)?;
        let child = Command::new(outrigger_binary())
            .arg("relayer")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .wrap_err("spawning the relayer")?;
        self.child = Some(child);
        wait_for("relayer metrics", Duration::from_secs(30), || {
            Ok(http_get(self.metrics, "/metrics").ok().map(|_| ()))
        })
        .map_err(|e| eyre!("{e}:\n{}", self.output()))
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Its log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its metrics text.
    pub fn metrics_text(&self) -> eyre::Result<String> {
        Ok(http_get(self.metrics, "/metrics")?.1)
    }

    /// The value of one sample line (`name{labels}`), if exported.
    pub fn metric(&self, sample: &str) -> eyre::Result<Option<f64>> {
        Ok(self.metrics_text()?.lines().find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == sample).then(|| value.parse().ok()).flatten()
        }))
    }
}

impl Drop for RelayerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The shape of one bridge test's system.
#[derive(Debug, Clone, Copy)]
pub struct BridgeSetup<'a> {
    /// Arguments for anvil.
    pub anvil_args: &'a [&'a str],
    /// How relayers decide L1 finality.
    pub finality: L1Finality,
    /// Sidechain validator processes.
    pub validators: usize,
    /// Relayer processes.
    pub relayers: u8,
    /// Relayer signatures (and votes) needed.
    pub threshold: usize,
    /// Extra top-level lines for every relayer config.
    pub relayer_extra: &'a str,
}

impl Default for BridgeSetup<'_> {
    /// The system: 4 validators, 4 relayers with threshold 3, L1
    /// finality from anvil's `finalized` tag.
    fn default() -> Self {
        Self {
            anvil_args: &[],
            finality: L1Finality::Finalized,
            validators: 4,
            relayers: 4,
            threshold: 3,
            relayer_extra: "",
        }
    }
}

/// Everything of one bridge test.
pub struct BridgeEnv {
    /// Scratch dir (logs, keystores, configs, data).
    pub dir: tempfile::TempDir,
    /// The L1.
    pub anvil: AnvilProcess,
    /// The sidechain's validators.
    pub sidechain: TestNet,
    /// L1 bridge.
    pub l1_bridge: Address,
    /// Sidechain bridge.
    pub sidechain_bridge: Address,
    /// An L1 ERC20 listed on both bridges.
    pub token: Address,
    /// The relayers, sorted by address.
    pub relayers: Vec<RelayerProcess>,
    /// Relayer keys, in the same order.
    pub relayer_keys: Vec<PrivateKeySigner>,
    /// Signatures/votes needed.
    pub threshold: usize,
    /// Config for `outrigger bridge` commands.
    pub client_config: PathBuf,
}

/// The deployer on both chains.
pub fn deployer() -> PrivateKeySigner {
    key(1)
}

impl BridgeEnv {
    /// Starts anvil, the sidechain, deploys both bridges and starts the
    /// relayers, as `setup` says.
    pub fn start(setup: BridgeSetup<'_>) -> eyre::Result<Self> {
        let BridgeSetup {
            anvil_args,
            finality,
            validators,
            relayers: n,
            threshold,
            relayer_extra,
        } = setup;
        let dir = tempfile::Builder::new()
            .prefix("outrigger-bridge-")
            .tempdir()?;
        let anvil = AnvilProcess::start(anvil_args, dir.path())?;
        let deployer = deployer();
        let mut relayer_keys: Vec<PrivateKeySigner> = (0..n).map(|i| key(11 + i)).collect();
        relayer_keys.sort_by_key(|k| k.address());
        let relayer_addresses: Vec<Address> = relayer_keys.iter().map(|k| k.address()).collect();

        // L1: fund, then MockERC20 (nonce 0), L1Bridge (1), initialize (2).
        for who in [deployer.address()]
            .into_iter()
            .chain(relayer_addresses.iter().copied())
            .chain(SIDECHAIN_GAS_USERS.iter().map(|&k| key(k).address()))
        {
            rpc(anvil.rpc, "anvil_setBalance", json!([who, ether(1_000)]))?;
        }
        let sidechain_bridge = deploy::sidechain_bridge_address(deployer.address());

        // The sidechain: genesis with the bridge's native supply, then deploy.
        let mut funded = vec![
            (sidechain_bridge, native_supply()),
            (deployer.address(), ether(1_000)),
        ];
        funded.extend(relayer_addresses.iter().map(|a| (*a, ether(100))));
        funded.extend(
            SIDECHAIN_GAS_USERS
                .iter()
                .map(|&k| (key(k).address(), ether(10))),
        );
        let sidechain =
            TestNet::start_with(&dir.path().join("sidechain"), validators, 200, |genesis| {
                genesis["config"]["chainId"] = SIDECHAIN_ID.into();
                let alloc = genesis["alloc"]
                    .as_object_mut()
                    .ok_or_else(|| eyre!("the genesis has no alloc"))?;
                for (address, balance) in &funded {
                    alloc.insert(address.to_string(), json!({ "balance": balance }));
                }
                Ok(())
            })?;
        let sidechain_rpc = sidechain.node(0).rpc;

        let client = |name: &'static str, addr: SocketAddr| {
            RpcClient::new(name, &[format!("http://{addr}")], Duration::from_secs(10))
        };
        let plan = DeployPlan {
            l1_chain_id: L1_ID,
            sidechain_chain_id: SIDECHAIN_ID,
            relayers: relayer_addresses.clone(),
            threshold,
            governance: key(2).address(),
            guardian: key(3).address(),
            test_token: Some(("Test Token".into(), "TT".into())),
        };
        let deployment = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(deploy::deploy(
                &client("l1", anvil.rpc)?,
                &client("sidechain", sidechain_rpc)?,
                &deployer,
                &deployer,
                &plan,
            ))?;
        let l1_bridge = deployment.l1_bridge;
        let token = deployment
            .test_token
            .ok_or_else(|| eyre!("no test token deployed"))?;

        let (finality, confirmations) = match finality {
            L1Finality::Finalized => ("finalized", 1),
            L1Finality::Confirmations(depth) => ("confirmations", depth),
        };
        // Sidechain RPC URLs: a validator's own, then the next one's.
        let chains = |first: usize| {
            let url = |i: usize| format!("\"http://{}\"", sidechain.node(i % validators).rpc);
            format!(
                "[l1]\nrpc_urls = [\"http://{}\"]\nchain_id = {L1_ID}\nbridge = \"{l1_bridge}\"\nfinality = \"{finality}\"\nconfirmations = {confirmations}\nrpc_timeout_ms = 2000\n\n[sidechain]\nrpc_urls = [{}, {}]\nchain_id = {SIDECHAIN_ID}\nbridge = \"{sidechain_bridge}\"\nrpc_timeout_ms = 2000\n",
                anvil.rpc,
                url(first),
                url(first + 1)
            )
        };
        let client_config = dir.path().join("bridge.toml");
        std::fs::write(&client_config, chains(0))?;
        std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n"))?;
        let mut relayers = Vec::new();
        let dead_url = free_addr();
        for (i, signer) in relayer_keys.iter().enumerate() {
            let name = format!("relayer{i}");
            PrivateKeySigner::encrypt_keystore(
                dir.path(),
                &mut rand08::thread_rng(),
                signer.to_bytes(),
                PASSWORD,
                Some(&format!("{name}.json")),
            )?;
            let metrics = free_addr();
            let config = dir.path().join(format!("{name}.toml"));
            std::fs::write(
                &config,
                format!(
                    "data_dir = \"{name}-data\"\nkeystore = \"{name}.json\"\npassword_file = \"password\"\nmetrics_addr = \"{metrics}\"\npoll_interval_ms = 200\nbackoff_max_ms = 2000\nsolvency_tokens = [\"{token}\"]\nsidechain_native_supply = \"{}\"\n{relayer_extra}\n{}\n[submit]\nfinalize_fallback_ms = 3000\nreprice_after_ms = 5000\n",
                    native_supply(),
                    // A dead first L1 URL: every relayer fails over.
                    chains(i).replace(
                        &format!("rpc_urls = [\"http://{}\"]", anvil.rpc),
                        &format!(
                            "rpc_urls = [\"http://{dead_url}\", \"http://{}\"]",
                            anvil.rpc
                        )
                    )
                ),
            )?;
            let mut process = RelayerProcess::new(
                config,
                metrics,
                signer.address(),
                dir.path().join(format!("{name}.log")),
            );
            process.start()?;
            relayers.push(process);
        }
        Ok(Self {
            dir,
            anvil,
            sidechain,
            l1_bridge,
            sidechain_bridge,
            token,
            relayers,
            relayer_keys,
            threshold,
            client_config,
        })
    }

    /// Mints the L1 token to `to`.
    pub fn mint_l1_token(&self, to: Address, amount: U256) -> eyre::Result<()> {
        send_tx(
            self.anvil.rpc,
            L1_ID,
            &deployer(),
            Some(self.token),
            MockERC20::mintCall { to, amount }.abi_encode(),
            U256::ZERO,
        )?;
        Ok(())
    }

    /// Runs `outrigger bridge --config .. ARGS` with `key` in an env var.
    pub fn bridge_cli(&self, key: &PrivateKeySigner, args: &[&str]) -> eyre::Result<String> {
        let output: Output = Command::new(outrigger_binary())
            .arg("bridge")
            .arg("--config")
            .arg(&self.client_config)
            .args(args)
            .env("TEST_USER_KEY", hex::encode(key.to_bytes()))
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            bail!("outrigger bridge {args:?} failed:\n{text}");
        }
        Ok(text)
    }

    /// The sidechain twin of the L1 token (zero before its first deposit).
    pub fn bridged_token(&self) -> eyre::Result<Address> {
        call(
            self.sidechain_rpc(),
            self.sidechain_bridge,
            &SidechainBridge::bridgedTokenCall {
                token: self.token,
                homeL1: true,
            },
        )
    }

    /// ERC20 balance of `who` at `token` on the chain at `addr`.
    pub fn token_balance(addr: SocketAddr, token: Address, who: Address) -> eyre::Result<U256> {
        if token == Address::ZERO {
            return Ok(U256::ZERO);
        }
        call(addr, token, &MockERC20::balanceOfCall(who))
    }

    /// ERC20 total supply.
    pub fn token_supply(addr: SocketAddr, token: Address) -> eyre::Result<U256> {
        if token == Address::ZERO {
            return Ok(U256::ZERO);
        }
        call(addr, token, &MockERC20::totalSupplyCall {})
    }

    /// `incoming(nonce).status` on the sidechain (deposits) or L1 (withdrawals).
    pub fn incoming_status(&self, on_l1: bool, nonce: u64) -> eyre::Result<u8> {
        Ok(if on_l1 {
            call(
                self.anvil.rpc,
                self.l1_bridge,
                &L1Bridge::incomingCall(U256::from(nonce)),
            )?
            .status
        } else {
            call(
                self.sidechain_rpc(),
                self.sidechain_bridge,
                &SidechainBridge::incomingCall(U256::from(nonce)),
            )?
            .status
        })
    }

    /// Logs of `topic0` at `address` on the chain at `addr`.
    pub fn logs(
        addr: SocketAddr,
        address: Address,
        topic0: alloy_primitives::B256,
    ) -> eyre::Result<Vec<Value>> {
        let logs = rpc(
            addr,
            "eth_getLogs",
            json!([{"address": address, "fromBlock": "0x0", "toBlock": "latest", "topics": [topic0]}]),
        )?;
        Ok(logs.as_array().cloned().unwrap_or_default())
    }

    /// The RPC of the first running sidechain node.
    pub fn sidechain_rpc(&self) -> SocketAddr {
        let first = self.sidechain.running()[0];
        self.sidechain.node(first).rpc
    }

    /// Where the scratch files are.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every relayer's log, for failure messages.
    pub fn relayer_logs(&self) -> String {
        self.relayers
            .iter()
            .map(|r| format!("--- relayer {} ---\n{}", r.address, tail(&r.output(), 40)))
            .collect()
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
