// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {BridgeCore} from "../src/BridgeCore.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {DepositMessage, WithdrawalMessage} from "../src/BridgeTypes.sol";

/// Each historical bridge hack, replayed against these contracts: the attack
/// is attempted and must fail (or, when the attacker already holds a broken
/// threshold, be bounded by the limits and stopped by the guardian).
contract AttacksTest is BridgeFixture {
    /// Ronin, March 2022: 5 of 9 validator keys stolen; threshold was 5 of 9;
    /// 173,600 ETH and 25.5M USDC left in two transactions.
    function test_attack_Ronin_fiveOfNineKeys() public {
        _makeRelayers(9, 0xA000);
        // 5 of 9 is below two thirds: no such bridge can be configured
        L1Bridge weak = new L1Bridge();
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadThreshold.selector, 5, 9));
        weak.initialize(_params(block.chainid, address(side), relayerAddrs, 5));
        // nor reached through governance later
        bytes memory lower = abi.encodeCall(BridgeCore.setRelayers, (relayerAddrs, 5));
        vm.prank(governance);
        l1.schedule(lower);
        vm.warp(block.timestamp + GOV_DELAY);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadThreshold.selector, 5, 9));
        l1.setRelayers(relayerAddrs, 5);

        // the real bridge: 6 of 9. The attacker's 5 keys sign a drain.
        L1Bridge bridge = new L1Bridge();
        bridge.initialize(_params(block.chainid, address(side), relayerAddrs, 6));
        vm.deal(address(bridge), 173_600 ether);
        address attacker = address(0xA77AC);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, attacker, 173_600 ether);
        bytes[] memory five = _sigs(bridge.hashWithdrawal(w), 5);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotEnoughSignatures.selector, 5, 6));
        bridge.finalizeWithdrawal(w, five);
        vm.assertEq(attacker.balance, 0, "nothing stolen");
    }

    /// Ronin, had the attacker held a full threshold: the drain is delayed
    /// (large) or capped (daily limit) and the guardian stops it.
    function test_attack_Ronin_brokenThresholdIsBounded() public {
        // ETH rails sized for a bridge holding 173,600 ETH
        uint256 daily = 20_000 ether;
        uint256 large = 5_000 ether;
        _govern(
            address(l1),
            abi.encodeCall(BridgeCore.setToken, (address(0), true, _cfg(1, large, daily, large), _meta("", "", 18)))
        );
        vm.deal(address(l1), 173_600 ether);
        address attacker = address(0xA77AC);
        // one big transaction: queued, then cancelled by the guardian
        WithdrawalMessage memory big = _withdrawal(1, address(0), true, attacker, 173_600 ether);
        l1.finalizeWithdrawal(big, _sigs(l1.hashWithdrawal(big), 3));
        vm.prank(guardian);
        l1.cancelQueued(1);
        // many transactions under the delay size: the daily limit caps them
        uint256 piece = large - 1 ether;
        uint256 nonce = 2;
        for (; nonce < 40; nonce++) {
            WithdrawalMessage memory w = _withdrawal(nonce, address(0), true, attacker, piece);
            l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 3));
        }
        vm.assertEq(attacker.balance, (daily / piece) * piece, "exactly what fits one daily limit");
        vm.prank(guardian);
        l1.pause();
        WithdrawalMessage memory more = _withdrawal(nonce, address(0), true, attacker, piece);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(more), 3);
        vm.warp(block.timestamp + 2 days);
        vm.expectRevert(BridgeCore.IsPaused.selector);
        l1.finalizeWithdrawal(more, sigs);
        vm.assertGe(address(l1).balance, 173_600 ether - daily, "most funds kept");
    }

    /// Harmony Horizon, June 2022: a 2-of-5 multisig; 2 keys stolen.
    function test_attack_Harmony_twoOfFive() public {
        _makeRelayers(5, 0xB000);
        L1Bridge weak = new L1Bridge();
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadThreshold.selector, 2, 5));
        weak.initialize(_params(block.chainid, address(side), relayerAddrs, 2));
        L1Bridge bridge = new L1Bridge();
        bridge.initialize(_params(block.chainid, address(side), relayerAddrs, 4));
        usdc.mint(address(bridge), 1_000_000e18);
        address attacker = address(0xA77AC);
        WithdrawalMessage memory w = _withdrawal(1, address(usdc), true, attacker, 90_000e18);
        bytes32 digest = bridge.hashWithdrawal(w);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotEnoughSignatures.selector, 2, 4));
        bridge.finalizeWithdrawal(w, _sigs(digest, 2));
        // the same two keys, each signing twice, do not make four
        bytes[] memory padded = new bytes[](4);
        padded[0] = _signature(relayerKeys[0], digest);
        padded[1] = _signature(relayerKeys[1], digest);
        padded[2] = padded[0];
        padded[3] = padded[1];
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.SignersNotSorted.selector, relayerAddrs[0]));
        bridge.finalizeWithdrawal(w, padded);
        // nor does a malleated twin of a signature count as another signer
        padded[2] = _malleate(padded[1]);
        vm.expectRevert(BridgeCore.HighS.selector);
        bridge.finalizeWithdrawal(w, padded);
        vm.assertEq(usdc.balanceOf(attacker), 0, "nothing stolen");
    }

    /// Nomad, August 2022: an upgrade initialized the trusted root to zero, the
    /// default value of an unproven message, so any message passed; people
    /// copied a working transaction and swapped in their own address.
    function test_attack_Nomad_zeroValuesAndCopyPaste() public {
        vm.deal(address(l1), 100 ether);
        address copier = address(0xC0B1E5);
        // default values prove nothing: empty, zeroed and garbage signatures
        WithdrawalMessage memory forged = _withdrawal(1, address(0), true, copier, 10 ether);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotEnoughSignatures.selector, 0, 3));
        l1.finalizeWithdrawal(forged, new bytes[](0));
        bytes[] memory zeros = new bytes[](3);
        for (uint256 i = 0; i < 3; i++) {
            zeros[i] = abi.encodePacked(bytes32(0), bytes32(0), uint8(27));
        }
        vm.expectRevert(BridgeCore.InvalidSignature.selector);
        l1.finalizeWithdrawal(forged, zeros);
        // nonce 0 (the default) is never a message
        WithdrawalMessage memory zeroNonce = _withdrawal(0, address(0), true, copier, 10 ether);
        bytes[] memory zsigs = _sigs(l1.hashWithdrawal(zeroNonce), 3);
        vm.expectRevert(BridgeCore.ZeroNonce.selector);
        l1.finalizeWithdrawal(zeroNonce, zsigs);
        // re-running initialize (how Nomad's zero root got in) is impossible
        vm.expectRevert(BridgeCore.AlreadyInitialized.selector);
        l1.initialize(_params(block.chainid, address(side), relayerAddrs, 3));
        // an uninitialized bridge (threshold 0) accepts nothing
        L1Bridge fresh = new L1Bridge();
        vm.deal(address(fresh), 1 ether);
        vm.expectRevert(BridgeCore.NotInitialized.selector);
        fresh.finalizeWithdrawal(forged, new bytes[](0));

        // copy-paste: a legitimate withdrawal, replayed with another recipient
        WithdrawalMessage memory real = _withdrawal(1, address(0), true, bob, 10 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(real), 3);
        WithdrawalMessage memory copy = _withdrawal(2, address(0), true, copier, 10 ether);
        vm.expectRevert(); // the signatures recover to non-relayers
        l1.finalizeWithdrawal(copy, sigs);
        l1.finalizeWithdrawal(real, sigs);
        copy.nonce = 1;
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AlreadyProcessed.selector, 1));
        l1.finalizeWithdrawal(copy, sigs);
        vm.assertEq(copier.balance, 0, "nothing stolen");
        vm.assertEq(bob.balance, 10 ether, "the real one paid once");
    }

    /// Poly Network, August 2021: a cross-chain message made the manager call
    /// the keeper-key store (a crafted selector), replacing the keepers.
    function test_attack_Poly_messageCannotCallTheBridge() public {
        uint64 versionBefore = l1.relayerSetVersion();
        address[] memory before = l1.relayers();
        // a validly signed message aimed at the bridge itself as "token"
        WithdrawalMessage memory w = _withdrawal(1, address(l1), true, bob, 1);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.TokenNotListed.selector, address(l1), true));
        l1.finalizeWithdrawal(w, sigs);
        // ... or at the bridge as recipient: refused before any payout (and a
        // payout is at most a plain value transfer: no calldata ever reaches it)
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w2 = _withdrawal(2, address(0), true, address(l1), 1 ether);
        bytes[] memory sigs2 = _sigs(l1.hashWithdrawal(w2), 3);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadRecipient.selector, address(l1)));
        l1.finalizeWithdrawal(w2, sigs2);
        // a deposit on the sidechain naming the bridge as token is refused too
        DepositMessage memory d = _deposit(1, address(side), false, bob, 1);
        _confirm(d, 2);
        vm.prank(relayerAddrs[2]);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.TokenNotListed.selector, address(side), false));
        side.confirmDeposit(d);
        // the bridge calling itself is not governance
        vm.prank(address(l1));
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGovernance.selector, address(l1)));
        l1.schedule(abi.encodeCall(BridgeCore.setRelayers, (before, 3)));
        vm.assertEq(l1.relayerSetVersion(), versionBefore, "relayer set untouched");
        vm.assertEq(l1.relayers().length, before.length, "same relayers");
        vm.assertEq(l1.governance(), governance, "same governance");
    }

    /// Multichain, July 2023: one person held every key; funds walked out.
    function test_attack_Multichain_oneOperator() public {
        // one relayer (or two) is not a bridge that can be configured
        address[] memory one = new address[](1);
        one[0] = relayerAddrs[0];
        L1Bridge solo = new L1Bridge();
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadRelayerCount.selector, 1));
        solo.initialize(_params(block.chainid, address(side), one, 1));
        // one relayer key of the real set can neither release nor mint
        vm.deal(address(l1), 1000 ether);
        address operator = vm.addr(relayerKeys[0]);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, operator, 1000 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 1);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotEnoughSignatures.selector, 1, 3));
        l1.finalizeWithdrawal(w, sigs);
        vm.prank(operator);
        side.confirmDeposit(_deposit(1, address(0), true, operator, 1000 ether));
        vm.assertEq(operator.balance, 0, "one confirmation executes nothing");
        // the operator also holding the governance key: no function moves
        // funds, and a relayer-set swap waits out the timelock in public,
        // where the guardian vetoes it
        _makeRelayers(3, 0xC000);
        bytes memory swap = abi.encodeCall(BridgeCore.setRelayers, (relayerAddrs, 2));
        vm.prank(governance);
        bytes32 id = l1.schedule(swap);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.OperationNotReady.selector, id, block.timestamp + GOV_DELAY));
        l1.setRelayers(relayerAddrs, 2);
        vm.prank(guardian);
        l1.cancel(swap);
        vm.assertEq(address(l1).balance, 1000 ether, "funds stay");
    }

    function _malleate(bytes memory sig) internal pure returns (bytes memory) {
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return abi.encodePacked(r, bytes32(n - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }
}
