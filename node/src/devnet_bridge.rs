//! The bridge half of `outrigger devnet`: an L1 (by default an embedded
//! single-validator Outrigger chain running inside the devnet process, or
//! anvil, or any L1 RPC), both bridges deployed and initialised, a test
//! ERC20 listed on L1, and the relayer processes with their keystores and
//! configs.
//!
//! Everything it makes lives in the devnet's folder and is reused when the
//! devnet starts again: `l1/` (the embedded chain's data, or anvil's state
//! file), `bridge.json` (where the contracts are), `relayer{i}/` (keystore,
//! config, queue, log) and `bridge.toml` (the config for `outrigger bridge`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use eyre::{Context as _, bail, eyre};
use outrigger_bridge::{
    contracts::SidechainBridge,
    deploy::{self, DeployPlan, Deployment, ether},
    rpc::RpcClient,
    user::send_and_wait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::dev;

/// Chain id of the devnet's L1, embedded or anvil (anvil's own default).
pub const L1_CHAIN_ID: u64 = 31337;
/// The sidechain bridge's native coin at genesis: bridged ETH.
pub const NATIVE_SUPPLY_ETH: u64 = 1_000_000_000;
/// Password of the relayers' keystores (`DIR/relayer.pass`).
const RELAYER_PASSWORD: &str = "outrigger devnet relayer";
/// Account index (test mnemonic) of the sidechain deployer; relayers
/// follow it.
const DEPLOYER_INDEX: u32 = 10;
/// Account index of the L1 deployer on an L1 the devnet runs: another key,
/// so that L1 and sidechain contracts do not share addresses.
const L1_DEPLOYER_INDEX: u32 = 30;
/// Symbol of the test token on L1.
pub const TEST_TOKEN: &str = "TEST";
/// How long the L1 and the sidechain get to answer their first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the devnet's L1 comes from.
#[derive(Clone, Debug)]
pub enum L1 {
    /// A single-validator Outrigger chain the devnet runs.
    Embedded,
    /// anvil, started by the devnet from this binary path.
    Anvil(PathBuf),
    /// An L1 someone else runs; the test mnemonic's first account pays.
    Rpc(String),
}

/// The bridge part of a devnet.
#[derive(Clone, Debug)]
pub struct BridgeOptions {
    /// The L1.
    pub l1: L1,
    /// Relayer processes.
    pub relayers: usize,
    /// Signatures (and votes) needed.
    pub threshold: usize,
}

/// The bridge's part of `devnet.json`.
#[derive(Debug, Serialize)]
pub struct BridgeInfo {
    /// The L1.
    pub l1: L1Info,
    /// The sidechain's bridge.
    pub sidechain: SidechainInfo,
    /// Relayer addresses.
    pub relayers: Vec<Address>,
    /// The bridged assets.
    pub tokens: Vec<TokenInfo>,
    /// Config file for `outrigger bridge --config`.
    pub bridge_config: PathBuf,
}

/// The L1 in `devnet.json`.
#[derive(Debug, Serialize)]
pub struct L1Info {
    /// Its RPC URL.
    pub rpc: String,
    /// Its chain id.
    pub chain_id: u64,
    /// The L1 bridge.
    pub bridge: Address,
}

/// The sidechain bridge in `devnet.json`.
#[derive(Debug, Serialize)]
pub struct SidechainInfo {
    /// The sidechain bridge.
    pub bridge: Address,
}

/// One bridged asset in `devnet.json`.
#[derive(Debug, Serialize)]
pub struct TokenInfo {
    /// Its symbol.
    pub symbol: String,
    /// Its L1 address (zero: ETH).
    pub l1: Address,
    /// Its sidechain address, or `native` for ETH.
    pub sidechain: String,
}

/// `bridge.json`: what was deployed, so a restart reuses it.
#[derive(Debug, Serialize, Deserialize)]
struct Deployed {
    l1_chain_id: u64,
    l1_bridge: Address,
    sidechain_bridge: Address,
    test_token: Address,
}

fn mnemonic_account(index: u32) -> eyre::Result<PrivateKeySigner> {
    Ok(
        alloy_signer_local::MnemonicBuilder::<alloy_signer_local::coins_bip39::English>::default()
            .phrase(dev::TEST_MNEMONIC)
            .index(index)?
            .build()?,
    )
}

/// The deployer of the sidechain bridge (test mnemonic account 10).
pub fn deployer() -> eyre::Result<PrivateKeySigner> {
    mnemonic_account(DEPLOYER_INDEX)
}

/// The relayers' keys (test mnemonic accounts 11, 12, ...).
pub fn relayer_keys(count: usize) -> eyre::Result<Vec<PrivateKeySigner>> {
    (0..count)
        .map(|i| mnemonic_account(DEPLOYER_INDEX + 1 + u32::try_from(i)?))
        .collect()
}

/// Accounts the sidechain genesis funds for the bridge: the native supply
/// at the sidechain bridge's address, gas for the deployer and relayers.
pub fn sidechain_alloc(relayers: usize) -> eyre::Result<Vec<(Address, U256)>> {
    let deployer = deployer()?.address();
    let mut alloc = vec![
        (
            deploy::sidechain_bridge_address(deployer),
            ether(NATIVE_SUPPLY_ETH),
        ),
        (deployer, ether(1_000)),
    ];
    alloc.extend(
        relayer_keys(relayers)?
            .iter()
            .map(|k| (k.address(), ether(100))),
    );
    Ok(alloc)
}

/// The L1 RPC port: `base + 300`; relayer `i`'s metrics: `base + 310 + i`.
fn port(base: u16, offset: usize) -> eyre::Result<u16> {
    u16::try_from(usize::from(base) + offset)
        .map_err(|_| eyre!("--base-port {base} leaves no room for the bridge's ports"))
}

/// Starts `exe ARGS` with its stdout and stderr in `log`.
pub(crate) fn spawn(exe: &Path, args: &[&str], log: &Path, what: &str) -> eyre::Result<Child> {
    let out = fs::File::create(log).wrap_err_with(|| format!("creating {}", log.display()))?;
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .wrap_err_with(|| format!("starting {what} ({})", exe.display()))
}

fn client(name: &'static str, url: &str) -> eyre::Result<RpcClient> {
    Ok(RpcClient::new(
        name,
        &[url.to_string()],
        Duration::from_secs(10),
    )?)
}

/// Waits until `rpc` answers `eth_chainId`; returns the chain id.
async fn ready(rpc: &RpcClient, what: &str) -> eyre::Result<u64> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        match rpc.chain_id().await {
            Ok(id) => return Ok(id),
            Err(e) if tokio::time::Instant::now() > deadline => {
                bail!("{what} did not answer within {READY_TIMEOUT:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The embedded L1: a `--dev` node on its own thread and runtime inside
/// the devnet process, its test accounts node-managed (as `node --dev`'s).
#[derive(Debug)]
pub struct EmbeddedL1 {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<eyre::Result<()>>>,
}

impl EmbeddedL1 {
    /// Initialises `data_dir` with `genesis_json` (first time) and starts
    /// the node; returns once it serves RPC on `rpc`.
    fn start(
        data_dir: &Path,
        genesis_json: &str,
        rpc: std::net::SocketAddr,
        metrics: std::net::SocketAddr,
    ) -> eyre::Result<Self> {
        crate::node::init_data_dir(data_dir, genesis_json)?;
        let mut config = crate::config::NodeConfig {
            data_dir: data_dir.to_path_buf(),
            ..Default::default()
        };
        config.rpc.addr = rpc;
        config.metrics.addr = metrics;
        config.block.time_ms = 1000;
        let accounts = dev::dev_accounts(dev::DEV_ACCOUNTS)?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread =
            std::thread::Builder::new()
                .name("l1".into())
                .spawn(move || -> eyre::Result<()> {
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .thread_name("l1")
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        let mut handle = match crate::node::launch(config, accounts).await {
                            Ok(handle) => {
                                let _ = ready_tx.send(Ok(()));
                                handle
                            }
                            Err(error) => {
                                let _ = ready_tx.send(Err(format!("{error:#}")));
                                return Err(error);
                            }
                        };
                        let outcome = tokio::select! {
                            _ = stopped => Ok(()),
                            error = handle.failed() => Err(error),
                        };
                        handle.shutdown().await;
                        outcome
                    })
                })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(error)) => bail!("the embedded L1 did not start: {error}"),
            Err(_) => bail!("the embedded L1 thread ended before starting"),
        }
    }

    /// Whether the node stopped by itself (it failed).
    pub fn failed(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(std::thread::JoinHandle::is_finished)
    }

    /// Stops the node and waits for it.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A running L1 the devnet started.
enum L1Process {
    Embedded(EmbeddedL1),
    Child(Child),
}

/// Starts the L1 (unless it is someone else's); returns its RPC URL and
/// what runs it, if the devnet does.
fn start_l1(
    l1: &L1,
    dir: &Path,
    base_port: u16,
    fund: &[(Address, U256)],
) -> eyre::Result<(String, Option<L1Process>)> {
    let l1_dir = dir.join("l1");
    fs::create_dir_all(&l1_dir)?;
    let rpc_port = port(base_port, 300)?;
    let url = format!("http://127.0.0.1:{rpc_port}");
    let rpc_addr = format!("127.0.0.1:{rpc_port}");
    match l1 {
        L1::Rpc(url) => Ok((url.clone(), None)),
        L1::Embedded => {
            let genesis = l1_dir.join("genesis.json");
            if !genesis.exists() {
                let accounts = dev::dev_accounts(dev::DEV_ACCOUNTS)?;
                let mut json: serde_json::Value =
                    serde_json::from_str(&dev::dev_genesis_json(&accounts)?)?;
                json["config"]["chainId"] = L1_CHAIN_ID.into();
                let alloc = json["alloc"]
                    .as_object_mut()
                    .ok_or_else(|| eyre!("the dev genesis has no alloc"))?;
                for (address, balance) in fund {
                    alloc.insert(address.to_string(), json!({ "balance": balance }));
                }
                fs::write(&genesis, serde_json::to_string_pretty(&json)?)?;
            }
            let node = EmbeddedL1::start(
                &l1_dir.join("data"),
                &fs::read_to_string(&genesis)?,
                rpc_addr.parse()?,
                format!("127.0.0.1:{}", port(base_port, 309)?).parse()?,
            )?;
            Ok((url, Some(L1Process::Embedded(node))))
        }
        L1::Anvil(anvil) => {
            let child = spawn(
                anvil,
                &[
                    "--port",
                    &rpc_port.to_string(),
                    "--host",
                    "127.0.0.1",
                    "--chain-id",
                    &L1_CHAIN_ID.to_string(),
                    "--block-time",
                    "1",
                    "--slots-in-an-epoch",
                    "1",
                    "--state",
                    &l1_dir.join("anvil-state.json").display().to_string(),
                ],
                &l1_dir.join("anvil.log"),
                "anvil",
            )?;
            Ok((url, Some(L1Process::Child(child))))
        }
    }
}

/// Starts the L1, deploys the bridges the first time, and starts the
/// relayers; every process it starts is pushed to `children`, an embedded
/// L1 goes to `embedded`. The sidechain's validators must be running at
/// `sidechain_rpcs`.
pub fn start(
    dir: &Path,
    base_port: u16,
    options: &BridgeOptions,
    sidechain_rpcs: &[String],
    children: &mut Vec<(String, Child)>,
    embedded: &mut Option<EmbeddedL1>,
) -> eyre::Result<BridgeInfo> {
    if options.threshold == 0 || options.threshold > options.relayers {
        bail!(
            "--threshold must be between 1 and --relayers ({}), not {}",
            options.relayers,
            options.threshold
        );
    }
    let deployer = deployer()?;
    let relayers = relayer_keys(options.relayers)?;
    let mut fund = vec![(mnemonic_account(L1_DEPLOYER_INDEX)?.address(), ether(1_000))];
    fund.extend(relayers.iter().map(|r| (r.address(), ether(100))));
    let (l1_url, l1_child) = start_l1(&options.l1, dir, base_port, &fund)?;
    match l1_child {
        Some(L1Process::Child(child)) => children.push(("the L1".into(), child)),
        Some(L1Process::Embedded(node)) => *embedded = Some(node),
        None => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (l1_chain_id, deployed) = runtime.block_on(prepare(
        dir,
        &options.l1,
        &l1_url,
        &sidechain_rpcs[0],
        &deployer,
        &relayers,
        options.threshold,
        &fund,
    ))?;
    let sidechain_chain_id = dev::DEV_CHAIN_ID;
    let sidechain_token = runtime.block_on(async {
        client("sidechain", &sidechain_rpcs[0])?
            .call(
                deployed.sidechain_bridge,
                &SidechainBridge::predictBridgedTokenCall {
                    token: deployed.test_token,
                    homeL1: true,
                },
            )
            .await
            .map_err(eyre::Report::from)
    })?;

    // Configs: one for users, one per relayer (its validator's RPC first).
    let chains = |first: usize| {
        let url = |i: usize| format!("{:?}", sidechain_rpcs[i % sidechain_rpcs.len()]);
        format!(
            "[l1]\nrpc_urls = [{l1_url:?}]\nchain_id = {l1_chain_id}\nbridge = \"{}\"\nfinality = \"finalized\"\n\n\
             [sidechain]\nrpc_urls = [{}, {}]\nchain_id = {sidechain_chain_id}\nbridge = \"{}\"\n",
            deployed.l1_bridge,
            url(first),
            url(first + 1),
            deployed.sidechain_bridge,
        )
    };
    let bridge_config = dir.join("bridge.toml");
    fs::write(&bridge_config, chains(0))?;
    let password_file = dir.join("relayer.pass");
    if !password_file.exists() {
        crate::keys::write_private(&password_file, RELAYER_PASSWORD.as_bytes())?;
    }
    let exe = std::env::current_exe().wrap_err("locating the outrigger binary")?;
    for (i, key) in relayers.iter().enumerate() {
        let relayer_dir = dir.join(format!("relayer{i}"));
        fs::create_dir_all(&relayer_dir)?;
        if !relayer_dir.join("key.json").exists() {
            outrigger_bridge::save_keystore(&relayer_dir, "key.json", key, RELAYER_PASSWORD)?;
        }
        let config = relayer_dir.join("relayer.toml");
        fs::write(
            &config,
            format!(
                "data_dir = \"data\"\nkeystore = \"key.json\"\npassword_file = \"../relayer.pass\"\n\
                 metrics_addr = \"127.0.0.1:{}\"\npoll_interval_ms = 500\nsolvency_tokens = [\"{}\"]\n\
                 sidechain_native_supply = \"{}\"\n\n{}\n[submit]\nfinalize_fallback_ms = 5000\n",
                port(base_port, 310 + i)?,
                deployed.test_token,
                ether(NATIVE_SUPPLY_ETH),
                chains(i),
            ),
        )?;
        let child = spawn(
            &exe,
            &["relayer", "--config", &config.display().to_string()],
            &relayer_dir.join("relayer.log"),
            "a relayer",
        )?;
        children.push((format!("relayer {i}"), child));
    }
    Ok(BridgeInfo {
        l1: L1Info {
            rpc: l1_url,
            chain_id: l1_chain_id,
            bridge: deployed.l1_bridge,
        },
        sidechain: SidechainInfo {
            bridge: deployed.sidechain_bridge,
        },
        relayers: relayers.iter().map(PrivateKeySigner::address).collect(),
        tokens: vec![
            TokenInfo {
                symbol: "ETH".into(),
                l1: Address::ZERO,
                sidechain: "native".into(),
            },
            TokenInfo {
                symbol: TEST_TOKEN.into(),
                l1: deployed.test_token,
                sidechain: sidechain_token.to_string(),
            },
        ],
        bridge_config,
    })
}

/// Waits for both chains, funds what the L1 does not fund at genesis, and
/// deploys the bridges unless `bridge.json` says they are there already.
#[allow(clippy::too_many_arguments)]
async fn prepare(
    dir: &Path,
    l1: &L1,
    l1_url: &str,
    sidechain_url: &str,
    deployer: &PrivateKeySigner,
    relayers: &[PrivateKeySigner],
    threshold: usize,
    fund: &[(Address, U256)],
) -> eyre::Result<(u64, Deployed)> {
    let l1_rpc = client("l1", l1_url)?;
    let sidechain = client("sidechain", sidechain_url)?;
    let l1_chain_id = ready(&l1_rpc, "the L1").await?;
    ready(&sidechain, "the sidechain").await?;
    let record = dir.join("bridge.json");
    if record.exists() {
        let deployed: Deployed = serde_json::from_str(&fs::read_to_string(&record)?)
            .wrap_err_with(|| format!("reading {}", record.display()))?;
        let code: Bytes = l1_rpc
            .request("eth_getCode", json!([deployed.l1_bridge, "latest"]))
            .await?;
        if deployed.l1_chain_id != l1_chain_id || code.is_empty() {
            bail!(
                "{} names an L1 bridge at {} on chain {}, which this L1 (chain {l1_chain_id}) does not have: its state is gone; start the devnet in a new --data-dir",
                record.display(),
                deployed.l1_bridge,
                deployed.l1_chain_id
            );
        }
        return Ok((l1_chain_id, deployed));
    }
    // The L1 deployer: our own on an L1 we run (funded at genesis or by
    // anvil), the test mnemonic's first account on someone else's, which
    // also gives the relayers their L1 gas.
    let l1_deployer = match l1 {
        L1::Embedded => mnemonic_account(L1_DEPLOYER_INDEX)?,
        L1::Anvil(_) => {
            for (address, balance) in fund {
                let _: serde_json::Value = l1_rpc
                    .request("anvil_setBalance", json!([address, balance]))
                    .await?;
            }
            mnemonic_account(L1_DEPLOYER_INDEX)?
        }
        L1::Rpc(_) => {
            let payer = mnemonic_account(0)?;
            for relayer in relayers {
                if l1_rpc.balance(relayer.address()).await? < ether(1) {
                    send_and_wait(
                        &l1_rpc,
                        l1_chain_id,
                        &payer,
                        relayer.address(),
                        Vec::new(),
                        ether(10),
                        "funding a relayer on L1",
                    )
                    .await?;
                }
            }
            payer
        }
    };
    let accounts = dev::dev_accounts(2)?;
    let plan = DeployPlan {
        l1_chain_id,
        sidechain_chain_id: dev::DEV_CHAIN_ID,
        relayers: relayers.iter().map(PrivateKeySigner::address).collect(),
        threshold,
        governance: accounts[0].address(),
        guardian: accounts[1].address(),
        test_token: Some(("Test Token".into(), TEST_TOKEN.into())),
    };
    let Deployment {
        l1_bridge,
        sidechain_bridge,
        test_token,
    } = deploy::deploy(&l1_rpc, &sidechain, &l1_deployer, deployer, &plan).await?;
    let deployed = Deployed {
        l1_chain_id,
        l1_bridge,
        sidechain_bridge,
        test_token: test_token.ok_or_else(|| eyre!("no test token was deployed"))?,
    };
    fs::write(&record, serde_json::to_string_pretty(&deployed)?)?;
    Ok((l1_chain_id, deployed))
}
