// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgeCore} from "./BridgeCore.sol";
import {DepositMessage} from "./BridgeTypes.sol";

/// @notice The bridge on the sidechain. It holds the sidechain's bridged ETH
/// supply as native coin (funded at genesis).
///
/// Deposits arrive by relayer vote: each relayer calls `confirmDeposit` with
/// the deposit it saw on L1; when `threshold` distinct current relayers have
/// confirmed the same content, the deposit executes once (mints the bridged
/// token, deployed by CREATE2 on first use, or releases native coin or a
/// locked sidechain token).
///
/// Withdrawals start here: `withdraw` burns (or locks) and emits
/// `WithdrawalRequested`; relayers post EIP-712 signatures with
/// `submitSignature`; anyone reads them with `signaturesOf` and calls
/// `L1Bridge.finalizeWithdrawal`.
contract SidechainBridge is BridgeCore {
    /// Votes for one deposit content under one relayer set.
    struct Confirmations {
        uint64 version;
        uint32 count;
        uint64 bitmap;
    }

    /// A posted signature in EIP-2098 compact form: `vs` is s with the parity
    /// bit (v - 27) in its top bit, free because s is low.
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// Nonce of the last withdrawal; the first withdrawal gets 1.
    uint256 public withdrawalNonce;
    /// Withdrawal nonce => its EIP-712 digest.
    mapping(uint256 => bytes32) public withdrawalDigest;
    mapping(uint256 => Signature[]) internal _signatures;
    mapping(uint256 => mapping(address => bool)) public hasSigned;
    /// Deposit content hash => votes.
    mapping(bytes32 => Confirmations) internal _confirmations;

    event DepositConfirmed(uint256 indexed nonce, bytes32 indexed hash, address indexed relayer, uint256 count);
    /// `token` is the asset's home-chain address (address(0) with homeL1 = ETH,
    /// withdrawn as native coin); `digest` is what relayers sign.
    event WithdrawalRequested(
        uint256 indexed nonce,
        address indexed token,
        bool homeL1,
        address indexed from,
        address to,
        uint256 amount,
        bytes32 digest
    );
    event SignatureSubmitted(uint256 indexed nonce, address indexed signer);

    error AlreadyConfirmed(uint256 nonce, address relayer);
    error AlreadySigned(uint256 nonce, address signer);
    error UnknownWithdrawal(uint256 nonce);

    constructor() BridgeCore(false) {}

    /// @notice A relayer's vote that deposit `d` happened (and is final) on L1.
    /// Votes count per identical content and lapse when the relayer set
    /// changes; the vote that reaches `threshold` executes (or queues) it.
    function confirmDeposit(DepositMessage calldata d) external whenActive nonReentrant {
        uint256 index = _relayerIndex[msg.sender];
        if (index == 0) revert NotRelayer(msg.sender);
        if (d.nonce == 0) revert ZeroNonce();
        if (d.to == address(0)) revert ZeroAddress();
        if (d.amount == 0) revert ZeroAmount();
        if (incoming[d.nonce].status != Status.None) revert AlreadyProcessed(d.nonce);
        bytes32 h = hashDeposit(d);
        Confirmations storage c = _confirmations[h];
        uint64 version = relayerSetVersion;
        if (c.version != version) {
            c.version = version;
            c.count = 0;
            c.bitmap = 0;
        }
        uint64 bit = uint64(1 << (index - 1)); // index <= MAX_RELAYERS = 64
        if (c.bitmap & bit != 0) revert AlreadyConfirmed(d.nonce, msg.sender);
        c.bitmap |= bit;
        uint32 count = c.count + 1;
        c.count = count;
        emit DepositConfirmed(d.nonce, h, msg.sender, count);
        if (count >= threshold) {
            delete _confirmations[h];
            _accept(d.nonce, h, d.token, d.homeL1, d.to, d.amount);
        }
    }

    /// @notice Finishes a queued deposit once its delay has passed and the
    /// daily limit has room. Anyone may call it.
    function executeQueuedDeposit(DepositMessage calldata d) external whenActive nonReentrant {
        _executeQueued(d.nonce, hashDeposit(d), d.token, d.homeL1, d.to, d.amount);
    }

    /// @notice Sends `amount` of a sidechain token to `to` on L1: burns a
    /// bridged token, locks a listed sidechain token, or, with `token =
    /// address(0)` and `msg.value = amount`, locks native coin (ETH on L1).
    function withdraw(address token, address to, uint256 amount)
        external
        payable
        whenActive
        nonReentrant
        returns (uint256 nonce)
    {
        (address home, bool homeL1) = (token, false);
        if (token == address(0)) {
            homeL1 = true;
        } else {
            bytes32 key = _bridgedTokenKey[token];
            if (key != 0) (home, homeL1) = _unkey(key);
        }
        uint256 received = _take(home, homeL1, msg.sender, to, amount);
        nonce = ++withdrawalNonce;
        bytes32 digest = _hashWithdrawal(nonce, home, homeL1, msg.sender, to, received);
        withdrawalDigest[nonce] = digest;
        emit WithdrawalRequested(nonce, home, homeL1, msg.sender, to, received, digest);
    }

    /// @notice Posts a relayer's EIP-712 signature of withdrawal `nonce`.
    /// Anyone may post it; it must recover to a current relayer.
    function submitSignature(uint256 nonce, bytes calldata signature) external whenActive {
        bytes32 digest = withdrawalDigest[nonce];
        if (digest == 0) revert UnknownWithdrawal(nonce);
        address signer = _recover(digest, signature);
        if (_relayerIndex[signer] == 0) revert NotRelayer(signer);
        if (hasSigned[nonce][signer]) revert AlreadySigned(nonce, signer);
        hasSigned[nonce][signer] = true;
        uint256 parity = uint8(signature[64]) - 27; // _recover checked v is 27 or 28
        _signatures[nonce].push(
            Signature(bytes32(signature[0:32]), bytes32(uint256(bytes32(signature[32:64])) | (parity << 255)))
        );
        emit SignatureSubmitted(nonce, signer);
    }

    /// @notice The signatures posted for withdrawal `nonce`, sorted by signer
    /// as `L1Bridge.finalizeWithdrawal` wants them. Signers that have since
    /// left the relayer set are included; drop them before finalizing.
    function signaturesOf(uint256 nonce) external view returns (address[] memory signers, bytes[] memory signatures) {
        Signature[] storage all = _signatures[nonce];
        bytes32 digest = withdrawalDigest[nonce];
        uint256 n = all.length;
        signers = new address[](n);
        signatures = new bytes[](n);
        for (uint256 i = 0; i < n; i++) {
            bytes32 r = all[i].r;
            uint256 vs = uint256(all[i].vs);
            uint8 v = uint8(27 + (vs >> 255));
            bytes32 sv = bytes32(vs & ~uint256(1 << 255));
            address signer = ecrecover(digest, v, r, sv);
            // insertion sort: at most MAX_RELAYERS entries
            uint256 j = i;
            while (j > 0 && signers[j - 1] > signer) {
                signers[j] = signers[j - 1];
                signatures[j] = signatures[j - 1];
                j--;
            }
            signers[j] = signer;
            signatures[j] = abi.encodePacked(r, sv, v);
        }
    }

    /// @notice The hash relayers vote on for a deposit.
    function hashDeposit(DepositMessage calldata d) public pure returns (bytes32) {
        return keccak256(abi.encode(d));
    }

    /// @notice Confirmation count and relayer bitmap for a deposit content,
    /// counting only votes of the current relayer set.
    function confirmations(DepositMessage calldata d) external view returns (uint256 count, uint256 bitmap) {
        Confirmations storage c = _confirmations[hashDeposit(d)];
        if (c.version != relayerSetVersion) return (0, 0);
        return (c.count, c.bitmap);
    }
}
