// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "./utils/Vm.sol";
import {BridgeCore} from "../src/BridgeCore.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {BridgedToken} from "../src/BridgedToken.sol";
import {InitParams, TokenConfig, TokenListing, TokenMetadata, WithdrawalMessage} from "../src/BridgeTypes.sol";
import {MockERC20} from "./mocks/Tokens.sol";

/// The contracts against an independent EIP-712 implementation: the fixture
/// is eth-account's digest and signatures for one withdrawal
/// (tools/eip712_fixture.py, which scripts/contracts.sh re-derives and
/// compares). Both bridges are deployed at the fixture's addresses and chain
/// ids and must compute that digest, accept those signatures on the sidechain
/// and finalize with them on L1.
contract Eip712FixtureTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    string internal json;
    uint256 internal l1ChainId;
    uint256 internal sideChainId;
    address internal deployer;
    L1Bridge internal l1;
    SidechainBridge internal side;
    WithdrawalMessage internal w;
    bytes32 internal digest;

    function setUp() public {
        json = vm.readFile("test/fixtures/eip712_withdrawal.json");
        l1ChainId = vm.parseJsonUint(json, ".l1ChainId");
        sideChainId = vm.parseJsonUint(json, ".sidechainChainId");
        deployer = vm.parseJsonAddress(json, ".deployer");
        digest = vm.parseJsonBytes32(json, ".digest");
        w = WithdrawalMessage({
            nonce: vm.parseJsonUint(json, ".withdrawal.nonce"),
            token: vm.parseJsonAddress(json, ".withdrawal.token"),
            homeL1: vm.parseJsonBool(json, ".withdrawal.homeL1"),
            from: vm.parseJsonAddress(json, ".withdrawal.from"),
            to: vm.parseJsonAddress(json, ".withdrawal.to"),
            amount: vm.parseJsonUint(json, ".withdrawal.amount")
        });
        vm.assertTrue(digest != bytes32(0) && w.amount > 1e18, "fixture loaded");

        vm.chainId(l1ChainId);
        vm.prank(deployer);
        l1 = new L1Bridge();
        vm.prank(deployer);
        side = new SidechainBridge();
        vm.assertEq(address(l1), vm.parseJsonAddress(json, ".l1Bridge"), "L1 bridge at the fixture's address");
        vm.assertEq(address(side), vm.parseJsonAddress(json, ".sidechainBridge"), "sidechain bridge address");

        address[] memory relayers = vm.parseJsonAddressArray(json, ".relayers");
        uint256 threshold = vm.parseJsonUint(json, ".threshold");
        vm.prank(deployer);
        l1.initialize(_params(sideChainId, address(side), relayers, threshold));
        vm.chainId(sideChainId);
        vm.prank(deployer);
        side.initialize(_params(l1ChainId, address(l1), relayers, threshold));
    }

    function test_typeHashMatchesFixtureTypeString() public view {
        vm.assertEq(l1.WITHDRAWAL_TYPEHASH(), keccak256(bytes(vm.parseJsonString(json, ".typeString"))), "type string");
    }

    function test_ethWithdrawalDigestAgrees() public {
        WithdrawalMessage memory e = WithdrawalMessage({
            nonce: vm.parseJsonUint(json, ".ethWithdrawal.nonce"),
            token: vm.parseJsonAddress(json, ".ethWithdrawal.token"),
            homeL1: vm.parseJsonBool(json, ".ethWithdrawal.homeL1"),
            from: vm.parseJsonAddress(json, ".ethWithdrawal.from"),
            to: vm.parseJsonAddress(json, ".ethWithdrawal.to"),
            amount: vm.parseJsonUint(json, ".ethWithdrawal.amount")
        });
        bytes32 expected = vm.parseJsonBytes32(json, ".ethDigest");
        vm.assertTrue(e.homeL1 && e.token == address(0) && e.amount == type(uint256).max, "fixture loaded");
        vm.chainId(l1ChainId);
        vm.assertEq(l1.hashWithdrawal(e), expected, "L1 digest of an ETH withdrawal");
        vm.chainId(sideChainId);
        vm.assertEq(side.hashWithdrawal(e), expected, "sidechain digest of an ETH withdrawal");
    }

    function test_contractsAgreeWithEthAccount() public {
        bytes32 domainSeparator = vm.parseJsonBytes32(json, ".domainSeparator");
        bytes[] memory sigs = new bytes[](3);
        for (uint256 i = 0; i < 3; i++) {
            sigs[i] = vm.parseJsonBytes(json, string.concat(".signatures[", _digit(i), "]"));
        }

        // sidechain: the withdrawal happens, its digest is eth-account's, and
        // the relayers' eth-account signatures are accepted and served back
        vm.chainId(sideChainId);
        MockERC20 impl = new MockERC20("Side", "SIDE");
        vm.etch(w.token, address(impl).code);
        MockERC20(w.token).mint(w.from, w.amount);
        vm.prank(w.from);
        MockERC20(w.token).approve(address(side), w.amount);
        vm.prank(w.from);
        uint256 nonce = side.withdraw(w.token, w.to, w.amount);
        vm.assertEq(nonce, w.nonce, "nonce");
        vm.assertEq(side.withdrawalDigest(nonce), digest, "sidechain digest == eth-account digest");
        vm.assertEq(side.hashWithdrawal(w), digest, "sidechain hashWithdrawal");
        vm.assertEq(side.domainSeparator(), domainSeparator, "sidechain domain separator");
        for (uint256 i = 0; i < 3; i++) {
            side.submitSignature(nonce, sigs[i]);
        }
        (address[] memory signers, bytes[] memory served) = side.signaturesOf(nonce);
        address[] memory expectedSigners = vm.parseJsonAddressArray(json, ".signers");
        for (uint256 i = 0; i < 3; i++) {
            vm.assertEq(signers[i], expectedSigners[i], "signer");
            vm.assertEq(served[i], sigs[i], "signature served as posted");
        }

        // L1: same digest, and the signatures finalize the withdrawal
        vm.chainId(l1ChainId);
        vm.assertEq(l1.domainSeparator(), domainSeparator, "L1 domain separator");
        vm.assertEq(l1.hashWithdrawal(w), digest, "L1 digest == eth-account digest");
        l1.finalizeWithdrawal(w, served);
        BridgedToken t = BridgedToken(l1.bridgedToken(w.token, false));
        vm.assertEq(t.balanceOf(w.to), w.amount, "minted on L1");

        // the same signatures are worthless on another L1 chain id
        vm.chainId(l1ChainId + 1);
        vm.assertTrue(l1.hashWithdrawal(w) != digest, "bound to the L1 chain id");
    }

    function _params(uint256 remoteChainId, address remoteBridge, address[] memory relayers, uint256 threshold)
        internal
        view
        returns (InitParams memory p)
    {
        TokenListing[] memory tokens = new TokenListing[](1);
        tokens[0] = TokenListing(
            w.token,
            false,
            TokenConfig({enabled: true, minAmount: 1, maxAmount: 1e27, dailyLimit: 3e27, delayThreshold: 1e27}),
            TokenMetadata("Side on L1", "SIDE.l1", 18)
        );
        p = InitParams({
            governance: address(0x60F),
            guardian: address(0x6A4D),
            governanceDelay: 2 days,
            transferDelay: 1 days,
            remoteChainId: remoteChainId,
            remoteBridge: remoteBridge,
            relayers: relayers,
            threshold: threshold,
            tokens: tokens
        });
    }

    function _digit(uint256 i) internal pure returns (string memory) {
        return string(abi.encodePacked(bytes1(uint8(48 + i))));
    }
}
