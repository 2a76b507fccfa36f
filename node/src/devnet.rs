//! A validator chain on one machine: `outrigger genesis new` writes a
//! genesis with N validators and their keys; `outrigger devnet` starts N
//! validator processes on loopback and describes them in `devnet.json`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use alloy_signer_local::PrivateKeySigner;
use eyre::{Context as _, bail};
use outrigger_execution::genesis::GenesisValidator;
use serde::Serialize;

use crate::{
    dev,
    keys::{P2P_KEY_FILE, VALIDATOR_KEY_FILE, ValidatorKey},
    node::GENESIS_FILE,
};

/// Most validators `genesis new` and `devnet` make.
pub const VALIDATORS_MAX: usize = 64;

/// One validator made by [`new_genesis`].
#[derive(Debug)]
pub struct NewValidator {
    /// Its folder: `validator.key` and `p2p.key`.
    pub dir: PathBuf,
    /// Its consensus public key, hex.
    pub public_key: String,
    /// Its p2p peer id.
    pub peer_id: String,
}

/// The folder of validator `index` under `out`.
pub fn validator_dir(out: &Path, index: usize) -> PathBuf {
    out.join(format!("node{index}"))
}

/// Writes `out/genesis.json` (chain `chain_id`, the ten test accounts and
/// `extra` funded, `count` validators of power 1) and
/// `out/node{i}/{validator,p2p}.key`.
pub fn new_genesis(
    out: &Path,
    count: usize,
    chain_id: u64,
    extra: &[(alloy_primitives::Address, alloy_primitives::U256)],
) -> eyre::Result<Vec<NewValidator>> {
    if count == 0 || count > VALIDATORS_MAX {
        bail!("--validators must be between 1 and {VALIDATORS_MAX}, not {count}");
    }
    let genesis_path = out.join(GENESIS_FILE);
    if genesis_path.exists() {
        bail!("{} exists; choose another folder", genesis_path.display());
    }
    let mut validators = Vec::with_capacity(count);
    let mut section = Vec::with_capacity(count);
    // Validator i acts in the system contract through test account i.
    let operators = dev::dev_accounts(u32::try_from(count)?.max(dev::DEV_ACCOUNTS))?;
    for (index, operator) in operators.iter().take(count).enumerate() {
        let dir = validator_dir(out, index);
        let key = ValidatorKey::generate();
        key.write_new(&dir.join(VALIDATOR_KEY_FILE))?;
        let p2p = ValidatorKey::generate();
        p2p.write_new(&dir.join(P2P_KEY_FILE))?;
        section.push(GenesisValidator {
            public_key: key.public().as_bytes().to_vec().into(),
            power: 1,
            fee_recipient: Default::default(),
            operator: operator.address(),
        });
        validators.push(NewValidator {
            dir,
            public_key: key.public_hex(),
            peer_id: crate::validator::peer_id(&p2p).to_string(),
        });
    }
    let accounts = dev::dev_accounts(dev::DEV_ACCOUNTS)?;
    let mut json: serde_json::Value = serde_json::from_str(&dev::dev_genesis_json(&accounts)?)?;
    json["config"]["chainId"] = chain_id.into();
    json["outrigger"]["validators"] = serde_json::to_value(&section)?;
    let alloc = json["alloc"]
        .as_object_mut()
        .ok_or_else(|| eyre::eyre!("the dev genesis has no alloc"))?;
    for (address, balance) in extra {
        alloc.insert(
            address.to_string(),
            serde_json::json!({ "balance": balance }),
        );
    }
    fs::create_dir_all(out).wrap_err_with(|| format!("creating {}", out.display()))?;
    fs::write(&genesis_path, serde_json::to_string_pretty(&json)?)
        .wrap_err_with(|| format!("writing {}", genesis_path.display()))?;
    Ok(validators)
}

/// Where devnet node `index` listens.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// JSON-RPC (HTTP and WebSocket).
    pub rpc: u16,
    /// libp2p.
    pub p2p: u16,
    /// Prometheus.
    pub metrics: u16,
}

impl Ports {
    /// RPC on `base + i`, p2p on `base + 100 + i`, metrics on `base + 200 + i`.
    pub fn of(base: u16, index: usize) -> eyre::Result<Self> {
        let port = |offset: usize| -> eyre::Result<u16> {
            u16::try_from(usize::from(base) + offset + index)
                .map_err(|_| eyre::eyre!("--base-port {base} leaves no room for node {index}"))
        };
        Ok(Self {
            rpc: port(0)?,
            p2p: port(100)?,
            metrics: port(200)?,
        })
    }
}

#[derive(Serialize)]
struct DevnetValidator {
    address: String,
    p2p: String,
    rpc: String,
}

#[derive(Serialize)]
struct DevnetAccount {
    address: String,
    private_key: String,
}

#[derive(Serialize)]
struct DevnetFile {
    chain_id: u64,
    rpc: Vec<String>,
    ws: Vec<String>,
    metrics: Vec<String>,
    validators: Vec<DevnetValidator>,
    accounts: Vec<DevnetAccount>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    bridge: Option<crate::devnet_bridge::BridgeInfo>,
}

/// What `outrigger devnet` is asked for.
#[derive(Clone, Debug)]
pub struct DevnetOptions {
    /// Number of validators.
    pub validators: usize,
    /// Where the genesis, the node folders and `devnet.json` go.
    pub data_dir: PathBuf,
    /// First port (see [`Ports::of`]).
    pub base_port: u16,
    /// Milliseconds between blocks.
    pub block_time_ms: u64,
    /// The L1, bridges and relayers; `None`: the validators alone.
    pub bridge: Option<crate::devnet_bridge::BridgeOptions>,
}

/// The running processes of a devnet (validators, L1, relayers), by name.
#[derive(Debug)]
pub struct Devnet {
    children: Vec<(String, Child)>,
    embedded_l1: Option<crate::devnet_bridge::EmbeddedL1>,
    /// What `devnet.json` says of the bridge, if the devnet has one.
    pub bridge: Option<crate::devnet_bridge::BridgeInfo>,
}

impl Devnet {
    /// Prepares (first time) and starts the devnet; writes `devnet.json`.
    pub fn start(options: &DevnetOptions) -> eyre::Result<Self> {
        let dir = &options.data_dir;
        // devnet.json says the devnet is up: not until it is again.
        let json_path = dir.join("devnet.json");
        if json_path.exists() {
            fs::remove_file(&json_path)
                .wrap_err_with(|| format!("removing the old {}", json_path.display()))?;
        }
        let genesis_path = dir.join(GENESIS_FILE);
        let count = options.validators;
        if !genesis_path.exists() {
            let extra = match &options.bridge {
                Some(bridge) => crate::devnet_bridge::sidechain_alloc(bridge.relayers)?,
                None => Vec::new(),
            };
            new_genesis(dir, count, dev::DEV_CHAIN_ID, &extra)?;
        }
        let genesis_json = fs::read_to_string(&genesis_path)?;
        let genesis = outrigger_execution::genesis::GenesisFile::from_json(&genesis_json)?;
        if genesis.outrigger.validators.len() != count {
            bail!(
                "{} has {} validators, not {count}; use another --data-dir",
                genesis_path.display(),
                genesis.outrigger.validators.len()
            );
        }
        let mut peers = Vec::with_capacity(count);
        for index in 0..count {
            let node_dir = validator_dir(dir, index);
            let p2p = ValidatorKey::read(&node_dir.join(P2P_KEY_FILE))?;
            let ports = Ports::of(options.base_port, index)?;
            peers.push((
                format!(
                    "/ip4/127.0.0.1/tcp/{}/p2p/{}",
                    ports.p2p,
                    crate::validator::peer_id(&p2p)
                ),
                ports,
            ));
        }
        let mut devnet = Self {
            children: Vec::with_capacity(count),
            embedded_l1: None,
            bridge: None,
        };
        let mut file = DevnetFile {
            chain_id: genesis.genesis.config.chain_id,
            rpc: Vec::new(),
            ws: Vec::new(),
            metrics: Vec::new(),
            validators: Vec::new(),
            accounts: dev::dev_accounts(dev::DEV_ACCOUNTS)?
                .iter()
                .map(|a: &PrivateKeySigner| DevnetAccount {
                    address: a.address().to_string(),
                    private_key: format!("0x{}", alloy_primitives::hex::encode(a.to_bytes())),
                })
                .collect(),
            bridge: None,
        };
        // A failure half-way stops what had started before it is reported.
        if let Err(error) = devnet.start_processes(options, &genesis_json, &peers, &mut file) {
            devnet.stop(Duration::from_secs(5));
            return Err(error);
        }
        devnet.bridge = file.bridge;
        Ok(devnet)
    }

    /// Starts the validators, then the bridge if asked, and writes
    /// `devnet.json`; what it started is in `self` even when it fails.
    fn start_processes(
        &mut self,
        options: &DevnetOptions,
        genesis_json: &str,
        peers: &[(String, Ports)],
        file: &mut DevnetFile,
    ) -> eyre::Result<()> {
        let dir = &options.data_dir;
        let exe = std::env::current_exe().wrap_err("locating the outrigger binary")?;
        for (index, (p2p_addr, ports)) in peers.iter().enumerate() {
            let node_dir = validator_dir(dir, index);
            crate::node::init_data_dir(&node_dir, genesis_json)?;
            let bootnodes: Vec<&String> = peers
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, (addr, _))| addr)
                .collect();
            let config = format!(
                "data_dir = {data_dir:?}\n\n[block]\ntime_ms = {block_time}\n\n[rpc]\naddr = \"127.0.0.1:{rpc}\"\n\n\
                 [metrics]\naddr = \"127.0.0.1:{metrics}\"\n\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{p2p}\"]\nbootnodes = {bootnodes:?}\n",
                data_dir = node_dir.display().to_string(),
                block_time = options.block_time_ms,
                rpc = ports.rpc,
                metrics = ports.metrics,
                p2p = ports.p2p,
            );
            let config_path = node_dir.join("node.toml");
            fs::write(&config_path, config)?;
            let child = crate::devnet_bridge::spawn(
                &exe,
                &["node", "--config", &config_path.display().to_string()],
                &node_dir.join("node.log"),
                "a validator process",
            )?;
            self.children.push((format!("validator {index}"), child));
            let key = ValidatorKey::read(&node_dir.join(VALIDATOR_KEY_FILE))?;
            file.rpc.push(format!("http://127.0.0.1:{}", ports.rpc));
            file.ws.push(format!("ws://127.0.0.1:{}", ports.rpc));
            file.metrics
                .push(format!("http://127.0.0.1:{}/metrics", ports.metrics));
            file.validators.push(DevnetValidator {
                address: key.public_hex(),
                p2p: p2p_addr.clone(),
                rpc: format!("http://127.0.0.1:{}", ports.rpc),
            });
        }
        if let Some(bridge) = &options.bridge {
            file.bridge = Some(crate::devnet_bridge::start(
                dir,
                options.base_port,
                bridge,
                &file.rpc,
                &mut self.children,
                &mut self.embedded_l1,
            )?);
        }
        fs::write(dir.join("devnet.json"), serde_json::to_string_pretty(file)?)?;
        Ok(())
    }

    /// The first process that exited, if one did.
    pub fn exited(&mut self) -> Option<String> {
        if self.embedded_l1.as_ref().is_some_and(|l1| l1.failed()) {
            return Some("the embedded L1 stopped".into());
        }
        self.children.iter_mut().find_map(|(name, c)| {
            c.try_wait()
                .ok()
                .flatten()
                .map(|status| format!("{name} exited ({status})"))
        })
    }

    /// Asks every process to stop (SIGTERM), waits up to `grace`, then
    /// kills what is left.
    pub fn stop(mut self, grace: Duration) {
        for (_, child) in &self.children {
            if let Ok(pid) = i32::try_from(child.id()) {
                // Through kill(1): this crate has no unsafe code for kill(2).
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        let deadline = Instant::now() + grace;
        for (_, child) in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(l1) = self.embedded_l1.take() {
            l1.stop();
        }
    }
}
