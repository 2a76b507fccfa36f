// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice An L1 -> sidechain transfer, as emitted by `L1Bridge.Deposit` and
/// confirmed by relayers with `SidechainBridge.confirmDeposit`.
/// `token` is the asset's address on its home chain: `homeL1 = true` for an L1
/// asset (`token = address(0)` is ETH, released as the sidechain's native coin),
/// `homeL1 = false` for a sidechain asset returning home.
struct DepositMessage {
    uint256 nonce;
    address token;
    bool homeL1;
    address from;
    address to;
    uint256 amount;
}

/// @notice A sidechain -> L1 transfer, as emitted by
/// `SidechainBridge.WithdrawalRequested`, signed by relayers (EIP-712 type
/// `Withdrawal`) and finalized with `L1Bridge.finalizeWithdrawal`.
/// `token` and `homeL1` as in `DepositMessage`.
struct WithdrawalMessage {
    uint256 nonce;
    address token;
    bool homeL1;
    address from;
    address to;
    uint256 amount;
}

/// @notice Per-token rails, set at initialization or by timelocked governance.
/// Amounts are in the token's smallest unit.
struct TokenConfig {
    bool enabled;
    /// Smallest amount a user may send (> 0: no dust messages for relayers).
    uint256 minAmount;
    /// Largest amount a user may send in one transfer.
    uint256 maxAmount;
    /// Most that may leave the bridge (release or mint) in any 24 h window.
    uint256 dailyLimit;
    /// Incoming transfers of at least this much wait `transferDelay` and can be
    /// cancelled by the guardian meanwhile.
    uint256 delayThreshold;
}

/// @notice Name, symbol and decimals of the bridged token this chain deploys
/// for an asset whose home is the other chain.
struct TokenMetadata {
    string name;
    string symbol;
    uint8 decimals;
}

/// @notice A token listed at initialization.
struct TokenListing {
    address token;
    bool homeL1;
    TokenConfig config;
    TokenMetadata metadata;
}

/// @notice Everything `initialize` sets, once.
struct InitParams {
    address governance;
    address guardian;
    uint256 governanceDelay;
    uint256 transferDelay;
    /// The other chain's id and bridge address (sidechain's for L1Bridge, L1's
    /// for SidechainBridge), bound into every EIP-712 digest.
    uint256 remoteChainId;
    address remoteBridge;
    address[] relayers;
    uint256 threshold;
    TokenListing[] tokens;
}
