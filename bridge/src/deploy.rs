//! Deploying a bridge: the L1 side (and, for development chains, a test
//! ERC20 listed on it) and the sidechain side, each initialised with the
//! relayer set and threshold. `outrigger devnet` and the end-to-end tests
//! use it.
//!
//! The sidechain's native coin is bridged ETH: the genesis gives the whole
//! native supply to the address the `SidechainBridge` will have, the first
//! contract its deployer creates ([`sidechain_bridge_address`]); deploying
//! onto an address that holds a balance is allowed (only code or a nonce
//! collide).

use alloy_primitives::{Address, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall as _, SolConstructor as _};

use crate::{
    contracts::{L1Bridge, MockERC20, SidechainBridge},
    rpc::RpcClient,
    user::{UserError, UserResult, send_and_wait},
};

/// Where the `SidechainBridge` lands: `deployer`'s first CREATE. The
/// sidechain genesis must fund this address with the native supply and
/// leave the deployer's nonce at 0.
pub fn sidechain_bridge_address(deployer: Address) -> Address {
    deployer.create(0)
}

/// `n` whole tokens of 18 decimals.
pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    /// L1 chain id.
    pub l1_chain_id: u64,
    /// Sidechain chain id.
    pub sidechain_chain_id: u64,
    /// The relayers, in any order (the contracts get them sorted).
    pub relayers: Vec<Address>,
    /// Signatures (and votes) needed.
    pub threshold: usize,
    /// Governance of both bridges.
    pub governance: Address,
    /// Guardian (pause) of both bridges.
    pub guardian: Address,
    /// Deploy a test ERC20 on L1 (name, symbol) and list it.
    pub test_token: Option<(String, String)>,
}

/// Where everything landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The L1 bridge.
    pub l1_bridge: Address,
    /// The sidechain bridge.
    pub sidechain_bridge: Address,
    /// The test ERC20 on L1, if one was deployed.
    pub test_token: Option<Address>,
}

/// The listing of an L1 token with limits generous enough for development.
fn listing(token: Address, name: &str, symbol: &str) -> L1Bridge::TokenListing {
    L1Bridge::TokenListing {
        token,
        homeL1: true,
        config: L1Bridge::TokenConfig {
            enabled: true,
            minAmount: U256::from(1),
            maxAmount: ether(1_000_000),
            dailyLimit: ether(100_000_000),
            delayThreshold: ether(1_000_000),
        },
        metadata: L1Bridge::TokenMetadata {
            name: name.into(),
            symbol: symbol.into(),
            decimals: 18,
        },
    }
}

async fn create(
    rpc: &RpcClient,
    chain_id: u64,
    deployer: &PrivateKeySigner,
    code: Vec<u8>,
    what: &str,
) -> UserResult<Address> {
    let receipt = send_and_wait(
        rpc,
        chain_id,
        deployer,
        TxKind::Create,
        code,
        U256::ZERO,
        what,
    )
    .await?;
    receipt
        .contract_address
        .ok_or_else(|| UserError::Other(format!("{what}: the receipt names no contract")))
}

/// Deploys and initialises both bridges (and the test token first, if the
/// plan asks). The sidechain deployer must not have sent a transaction yet.
pub async fn deploy(
    l1: &RpcClient,
    sidechain: &RpcClient,
    l1_deployer: &PrivateKeySigner,
    sidechain_deployer: &PrivateKeySigner,
    plan: &DeployPlan,
) -> UserResult<Deployment> {
    let expected = sidechain_bridge_address(sidechain_deployer.address());
    let nonce = sidechain.nonce(sidechain_deployer.address()).await?;
    if nonce != 0 {
        return Err(UserError::Other(format!(
            "the sidechain deployer {} has nonce {nonce}: the SidechainBridge must be its first contract ({expected})",
            sidechain_deployer.address()
        )));
    }
    let mut tokens = vec![listing(Address::ZERO, "", "")];
    let test_token = match &plan.test_token {
        Some((name, symbol)) => {
            let mut code = MockERC20::BYTECODE.to_vec();
            code.extend(
                MockERC20::constructorCall {
                    name_: name.clone(),
                    symbol_: symbol.clone(),
                }
                .abi_encode(),
            );
            let token = create(l1, plan.l1_chain_id, l1_deployer, code, "the test token").await?;
            tokens.push(listing(token, name, symbol));
            Some(token)
        }
        None => None,
    };
    let l1_bridge = create(
        l1,
        plan.l1_chain_id,
        l1_deployer,
        L1Bridge::BYTECODE.to_vec(),
        "the L1 bridge",
    )
    .await?;
    let sidechain_bridge = create(
        sidechain,
        plan.sidechain_chain_id,
        sidechain_deployer,
        SidechainBridge::BYTECODE.to_vec(),
        "the sidechain bridge",
    )
    .await?;
    if sidechain_bridge != expected {
        return Err(UserError::Other(format!(
            "the sidechain bridge landed at {sidechain_bridge}, not {expected}"
        )));
    }
    // The contracts take the relayer set in ascending order.
    let mut relayers = plan.relayers.clone();
    relayers.sort_unstable();
    relayers.dedup();
    let params = |remote_chain: u64, remote: Address| L1Bridge::InitParams {
        governance: plan.governance,
        guardian: plan.guardian,
        governanceDelay: U256::from(3600),
        transferDelay: U256::from(600),
        remoteChainId: U256::from(remote_chain),
        remoteBridge: remote,
        relayers: relayers.clone(),
        threshold: U256::from(plan.threshold),
        tokens: tokens.clone(),
    };
    send_and_wait(
        l1,
        plan.l1_chain_id,
        l1_deployer,
        l1_bridge,
        L1Bridge::initializeCall {
            p: params(plan.sidechain_chain_id, sidechain_bridge),
        }
        .abi_encode(),
        U256::ZERO,
        "initialising the L1 bridge",
    )
    .await?;
    // The sidechain's InitParams is the same ABI type as L1's.
    send_and_wait(
        sidechain,
        plan.sidechain_chain_id,
        sidechain_deployer,
        sidechain_bridge,
        L1Bridge::initializeCall {
            p: params(plan.l1_chain_id, l1_bridge),
        }
        .abi_encode(),
        U256::ZERO,
        "initialising the sidechain bridge",
    )
    .await?;
    Ok(Deployment {
        l1_bridge,
        sidechain_bridge,
        test_token,
    })
}
