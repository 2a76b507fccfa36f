// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "./Vm.sol";
import {L1Bridge} from "../../src/L1Bridge.sol";
import {SidechainBridge} from "../../src/SidechainBridge.sol";
import {BridgeCore} from "../../src/BridgeCore.sol";
import {BridgedToken} from "../../src/BridgedToken.sol";
import {
    DepositMessage,
    WithdrawalMessage,
    InitParams,
    TokenConfig,
    TokenListing,
    TokenMetadata
} from "../../src/BridgeTypes.sol";
import {MockERC20, NoReturnToken, FeeToken} from "../mocks/Tokens.sol";

/// @notice Both bridges in one EVM, wired to each other, with N relayers, a
/// governance and a guardian, ETH, three L1 tokens (plain, USDT-style,
/// fee-on-transfer) and one sidechain token listed on both sides.
abstract contract BridgeFixture {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant SIDE_NATIVE_SUPPLY = 1_000_000 ether;
    uint256 internal constant GOV_DELAY = 2 days;
    uint256 internal constant TRANSFER_DELAY = 1 days;
    uint256 internal constant MAX = 1_000_000e18;
    uint256 internal constant DAILY = 3_000_000e18;
    uint256 internal constant LARGE = 100_000e18;

    L1Bridge internal l1;
    SidechainBridge internal side;

    address internal governance = address(0x60F);
    address internal guardian = address(0x6A4D);
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);

    uint256[] internal relayerKeys; // sorted by address
    address[] internal relayerAddrs;

    MockERC20 internal usdc; // L1 token
    NoReturnToken internal usdt; // L1 token, USDT-style
    FeeToken internal feeToken; // L1 token, fee-on-transfer
    MockERC20 internal sideToken; // sidechain token

    function setUp() public virtual {
        _deploy(4, 3);
    }

    function _deploy(uint256 n, uint256 t) internal {
        _makeRelayers(n, 0x1000);
        usdc = new MockERC20("USD Coin", "USDC");
        usdt = new NoReturnToken();
        feeToken = new FeeToken();
        sideToken = new MockERC20("Side", "SIDE");
        l1 = new L1Bridge();
        side = new SidechainBridge();
        l1.initialize(_params(block.chainid, address(side), relayerAddrs, t));
        side.initialize(_params(block.chainid, address(l1), relayerAddrs, t));
        vm.deal(address(side), SIDE_NATIVE_SUPPLY);
        vm.label(address(l1), "L1Bridge");
        vm.label(address(side), "SidechainBridge");
    }

    function _makeRelayers(uint256 n, uint256 seed) internal {
        delete relayerKeys;
        delete relayerAddrs;
        for (uint256 i = 0; i < n; i++) {
            uint256 key = seed + i;
            address a = vm.addr(key);
            relayerKeys.push(key);
            relayerAddrs.push(a);
            // insertion sort by address
            uint256 j = relayerAddrs.length - 1;
            while (j > 0 && relayerAddrs[j - 1] > a) {
                relayerAddrs[j] = relayerAddrs[j - 1];
                relayerKeys[j] = relayerKeys[j - 1];
                j--;
            }
            relayerAddrs[j] = a;
            relayerKeys[j] = key;
        }
    }

    function _cfg(uint256 min, uint256 max, uint256 daily, uint256 large) internal pure returns (TokenConfig memory) {
        return TokenConfig({enabled: true, minAmount: min, maxAmount: max, dailyLimit: daily, delayThreshold: large});
    }

    function _meta(string memory name, string memory symbol, uint8 decimals)
        internal
        pure
        returns (TokenMetadata memory)
    {
        return TokenMetadata(name, symbol, decimals);
    }

    function _tokens() internal view virtual returns (TokenListing[] memory list) {
        list = new TokenListing[](5);
        list[0] = TokenListing(address(0), true, _cfg(1, MAX, DAILY, LARGE), _meta("", "", 18));
        list[1] = TokenListing(address(usdc), true, _cfg(1, MAX, DAILY, LARGE), _meta("Bridged USDC", "USDC.o", 18));
        list[2] = TokenListing(address(usdt), true, _cfg(1, MAX, DAILY, LARGE), _meta("Bridged USDT", "USDT.o", 6));
        list[3] = TokenListing(address(feeToken), true, _cfg(1, MAX, DAILY, LARGE), _meta("Bridged FEE", "FEE.o", 18));
        list[4] =
            TokenListing(address(sideToken), false, _cfg(1, MAX, DAILY, LARGE), _meta("Side on L1", "SIDE.l1", 18));
    }

    function _params(uint256 remoteChainId, address remoteBridge, address[] memory relayers, uint256 t)
        internal
        view
        returns (InitParams memory)
    {
        return InitParams({
            governance: governance,
            guardian: guardian,
            governanceDelay: GOV_DELAY,
            transferDelay: TRANSFER_DELAY,
            remoteChainId: remoteChainId,
            remoteBridge: remoteBridge,
            relayers: relayers,
            threshold: t,
            tokens: _tokens()
        });
    }

    // ------------------------------------------------------------ messages

    function _deposit(uint256 nonce, address token, bool homeL1, address to, uint256 amount)
        internal
        view
        returns (DepositMessage memory)
    {
        return DepositMessage(nonce, token, homeL1, alice, to, amount);
    }

    function _withdrawal(uint256 nonce, address token, bool homeL1, address to, uint256 amount)
        internal
        view
        returns (WithdrawalMessage memory)
    {
        return WithdrawalMessage(nonce, token, homeL1, alice, to, amount);
    }

    /// The first `count` relayers (by address) confirm `d`.
    function _confirm(DepositMessage memory d, uint256 count) internal {
        for (uint256 i = 0; i < count; i++) {
            vm.prank(relayerAddrs[i]);
            side.confirmDeposit(d);
        }
    }

    function _signature(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// Signatures of the first `count` relayers, sorted by signer.
    function _sigs(bytes32 digest, uint256 count) internal view returns (bytes[] memory sigs) {
        sigs = new bytes[](count);
        for (uint256 i = 0; i < count; i++) {
            sigs[i] = _signature(relayerKeys[i], digest);
        }
    }

    function _sigsOf(bytes32 digest, uint256[] memory keys) internal pure returns (bytes[] memory sigs) {
        sigs = new bytes[](keys.length);
        for (uint256 i = 0; i < keys.length; i++) {
            sigs[i] = _signature(keys[i], digest);
        }
    }

    /// Deposits `amount` of an L1 token from alice and relays it to the sidechain.
    function _bridgeToSide(MockERC20 token, uint256 amount) internal returns (uint256 nonce) {
        token.mint(alice, amount);
        vm.startPrank(alice);
        token.approve(address(l1), amount);
        nonce = l1.depositERC20(address(token), alice, amount);
        vm.stopPrank();
        _confirm(_deposit(nonce, address(token), true, alice, amount), l1.threshold());
    }

    /// The governance path: schedule, wait, call.
    function _govern(address bridge, bytes memory data) internal {
        vm.prank(governance);
        BridgeCore(bridge).schedule(data);
        vm.warp(block.timestamp + BridgeCore(bridge).governanceDelay());
        vm.prank(governance);
        (bool ok, bytes memory ret) = bridge.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
