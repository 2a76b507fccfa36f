// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgeCore} from "./BridgeCore.sol";
import {WithdrawalMessage} from "./BridgeTypes.sol";

/// @notice The bridge on L1. Deposits lock ETH or a listed L1 token (or burn
/// the L1 bridged token of a sidechain asset) and emit `Deposit` with a
/// strictly increasing nonce, which relayers confirm on the sidechain.
/// Withdrawals finish here: anyone submits a withdrawal with the relayers'
/// EIP-712 signatures (collected on the sidechain), and the bridge releases
/// the L1 asset or mints the sidechain asset's bridged token.
contract L1Bridge is BridgeCore {
    /// Nonce of the last deposit; the first deposit gets 1.
    uint256 public depositNonce;

    /// `token` is the asset's home-chain address (address(0) with homeL1 =
    /// ETH); `amount` is what the bridge received (less than the requested
    /// amount for fee-on-transfer tokens).
    event Deposit(
        uint256 indexed nonce, address indexed token, bool homeL1, address indexed from, address to, uint256 amount
    );

    constructor() BridgeCore(true) {}

    /// @notice Locks `msg.value` ETH for `to` on the sidechain (as native coin).
    function depositETH(address to) external payable whenActive nonReentrant returns (uint256 nonce) {
        uint256 amount = _take(address(0), true, msg.sender, to, msg.value);
        return _emitDeposit(address(0), true, to, amount);
    }

    /// @notice Locks a listed L1 token, or burns the L1 bridged token of a
    /// sidechain asset, for `to` on the sidechain. Needs an allowance for a
    /// locked token; none for a bridged token.
    function depositERC20(address token, address to, uint256 amount)
        external
        whenActive
        nonReentrant
        returns (uint256 nonce)
    {
        if (token == address(0)) revert ZeroAddress();
        (address home, bool homeL1) = (token, true);
        bytes32 key = _bridgedTokenKey[token];
        if (key != 0) (home, homeL1) = _unkey(key);
        uint256 received = _take(home, homeL1, msg.sender, to, amount);
        return _emitDeposit(home, homeL1, to, received);
    }

    /// @notice Releases (or mints) a withdrawal signed by at least `threshold`
    /// distinct current relayers, signatures sorted by signer address. A large
    /// withdrawal, or one over the daily limit, is queued instead (see
    /// `executeQueuedWithdrawal`). Each nonce is consumed once.
    function finalizeWithdrawal(WithdrawalMessage calldata w, bytes[] calldata signatures)
        external
        whenActive
        nonReentrant
    {
        if (w.nonce == 0) revert ZeroNonce();
        if (incoming[w.nonce].status != Status.None) revert AlreadyProcessed(w.nonce);
        bytes32 digest = hashWithdrawal(w);
        _verifySignatures(digest, signatures);
        _accept(w.nonce, digest, w.token, w.homeL1, w.to, w.amount);
    }

    /// @notice Finishes a queued withdrawal once its delay has passed and the
    /// daily limit has room. Anyone may call it.
    function executeQueuedWithdrawal(WithdrawalMessage calldata w) external whenActive nonReentrant {
        _executeQueued(w.nonce, hashWithdrawal(w), w.token, w.homeL1, w.to, w.amount);
    }

    function _emitDeposit(address token, bool homeL1, address to, uint256 amount) private returns (uint256 nonce) {
        nonce = ++depositNonce;
        emit Deposit(nonce, token, homeL1, msg.sender, to, amount);
    }
}
