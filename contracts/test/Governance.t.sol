// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {BridgeCore} from "../src/BridgeCore.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {InitParams, TokenConfig, TokenMetadata, WithdrawalMessage} from "../src/BridgeTypes.sol";

/// Initialization, timelocked governance, guardian and pause, relayer-set rules.
contract GovernanceTest is BridgeFixture {
    // --------------------------------------------------------- initializer

    function test_initialize_once() public {
        vm.expectRevert(BridgeCore.AlreadyInitialized.selector);
        l1.initialize(_params(1, address(side), relayerAddrs, 3));
        vm.expectRevert(BridgeCore.AlreadyInitialized.selector);
        side.initialize(_params(1, address(l1), relayerAddrs, 3));
    }

    function test_initialize_onlyDeployer() public {
        L1Bridge fresh = new L1Bridge();
        InitParams memory p = _params(1, address(side), relayerAddrs, 3);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotInitializer.selector, alice));
        fresh.initialize(p);
        fresh.initialize(p);
        vm.assertTrue(fresh.initialized(), "initialized by the deployer");
    }

    function test_uninitialized_rejectsEverything() public {
        L1Bridge fresh = new L1Bridge();
        SidechainBridge freshSide = new SidechainBridge();
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(BridgeCore.NotInitialized.selector);
        fresh.depositETH{value: 1 ether}(bob);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1);
        vm.expectRevert(BridgeCore.NotInitialized.selector);
        fresh.finalizeWithdrawal(w, new bytes[](0));
        vm.expectRevert(BridgeCore.NotInitialized.selector);
        freshSide.confirmDeposit(_deposit(1, address(0), true, bob, 1));
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGovernance.selector, address(0)));
        vm.prank(address(0));
        fresh.schedule("");
    }

    function test_initialize_rejectsZeroRolesAndBadDelays() public {
        InitParams memory p = _params(1, address(side), relayerAddrs, 3);
        p.governance = address(0);
        _expectInitRevert(p, abi.encodeWithSelector(BridgeCore.ZeroAddress.selector));
        p = _params(1, address(side), relayerAddrs, 3);
        p.guardian = address(0);
        _expectInitRevert(p, abi.encodeWithSelector(BridgeCore.ZeroAddress.selector));
        p = _params(1, address(0), relayerAddrs, 3);
        _expectInitRevert(p, abi.encodeWithSelector(BridgeCore.ZeroAddress.selector));
        p = _params(0, address(side), relayerAddrs, 3);
        _expectInitRevert(p, abi.encodeWithSelector(BridgeCore.ZeroChainId.selector));
        p = _params(1, address(side), relayerAddrs, 3);
        p.governanceDelay = 59 minutes;
        _expectInitRevert(p, abi.encodeWithSelector(BridgeCore.BadDelay.selector, 59 minutes));
        p = _params(1, address(side), relayerAddrs, 3);
        p.transferDelay = 0;
        _expectInitRevert(p, abi.encodeWithSelector(BridgeCore.BadDelay.selector, 0));
    }

    function _expectInitRevert(InitParams memory p, bytes memory err) internal {
        L1Bridge fresh = new L1Bridge();
        vm.expectRevert(err);
        fresh.initialize(p);
    }

    // -------------------------------------------------- relayers, threshold

    function test_threshold_atLeastTwoThirds() public {
        for (uint256 n = 3; n <= 12; n++) {
            _makeRelayers(n, 0x5000);
            uint256 minT = (2 * n + 2) / 3; // ceil(2n/3)
            _expectInitRevert(
                _params(1, address(side), relayerAddrs, minT - 1),
                abi.encodeWithSelector(BridgeCore.BadThreshold.selector, minT - 1, n)
            );
            _expectInitRevert(
                _params(1, address(side), relayerAddrs, n + 1),
                abi.encodeWithSelector(BridgeCore.BadThreshold.selector, n + 1, n)
            );
            L1Bridge ok = new L1Bridge();
            ok.initialize(_params(1, address(side), relayerAddrs, minT));
            vm.assertEq(ok.threshold(), minT, "ceil(2n/3) accepted");
        }
    }

    function test_relayers_countBounds() public {
        _makeRelayers(2, 0x5000);
        _expectInitRevert(
            _params(1, address(side), relayerAddrs, 2), abi.encodeWithSelector(BridgeCore.BadRelayerCount.selector, 2)
        );
        _makeRelayers(65, 0x5000);
        _expectInitRevert(
            _params(1, address(side), relayerAddrs, 65), abi.encodeWithSelector(BridgeCore.BadRelayerCount.selector, 65)
        );
        _makeRelayers(64, 0x5000);
        L1Bridge ok = new L1Bridge();
        ok.initialize(_params(1, address(side), relayerAddrs, 43));
        vm.assertEq(ok.relayers().length, 64, "64 relayers");
    }

    function test_relayers_rejectUnsortedDuplicateZero() public {
        address[] memory list = new address[](4);
        for (uint256 i = 0; i < 4; i++) {
            list[i] = relayerAddrs[i];
        }
        (list[1], list[2]) = (list[2], list[1]);
        _expectInitRevert(
            _params(1, address(side), list, 3), abi.encodeWithSelector(BridgeCore.RelayersNotSorted.selector, 2)
        );
        list[2] = list[1];
        _expectInitRevert(
            _params(1, address(side), list, 3), abi.encodeWithSelector(BridgeCore.RelayersNotSorted.selector, 2)
        );
        list[0] = address(0);
        _expectInitRevert(_params(1, address(side), list, 3), abi.encodeWithSelector(BridgeCore.ZeroAddress.selector));
    }

    function test_setRelayers_throughTimelockReplacesTheSet() public {
        address[] memory oldSet = relayerAddrs;
        uint256[] memory oldKeys = relayerKeys;
        _makeRelayers(7, 0x7000);
        _govern(address(l1), abi.encodeCall(BridgeCore.setRelayers, (relayerAddrs, 5)));
        vm.assertEq(l1.threshold(), 5, "threshold");
        vm.assertEq(l1.relayerSetVersion(), 2, "version");
        for (uint256 i = 0; i < 4; i++) {
            vm.assertFalse(l1.isRelayer(oldSet[i]), "old relayer removed");
        }
        // old keys no longer finalize
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory oldSigs = _sigsOf(l1.hashWithdrawal(w), oldKeys);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotEnoughSignatures.selector, 4, 5));
        l1.finalizeWithdrawal(w, oldSigs);
        l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 5));
        vm.assertEq(bob.balance, 1 ether, "new set finalizes");
    }

    // ------------------------------------------------------------ timelock

    function test_timelock_governanceOnly_scheduledOnly_afterDelay() public {
        bytes memory data = abi.encodeCall(BridgeCore.setGuardian, (alice));
        bytes32 id = keccak256(data);
        // not governance
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGovernance.selector, alice));
        l1.schedule(data);
        // not scheduled
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.OperationNotScheduled.selector, id));
        l1.setGuardian(alice);
        vm.prank(governance);
        l1.schedule(data);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.OperationAlreadyScheduled.selector, id));
        l1.schedule(data);
        // too early
        vm.warp(block.timestamp + GOV_DELAY - 1);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.OperationNotReady.selector, id, block.timestamp + 1));
        l1.setGuardian(alice);
        // scheduled, ready, but not governance calling
        vm.warp(block.timestamp + 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGovernance.selector, alice));
        l1.setGuardian(alice);
        // other arguments are another operation
        vm.prank(governance);
        vm.expectRevert(
            abi.encodeWithSelector(
                BridgeCore.OperationNotScheduled.selector, keccak256(abi.encodeCall(BridgeCore.setGuardian, (bob)))
            )
        );
        l1.setGuardian(bob);
        vm.prank(governance);
        l1.setGuardian(alice);
        vm.assertEq(l1.guardian(), alice, "changed");
        // consumed
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.OperationNotScheduled.selector, id));
        l1.setGuardian(alice);
    }

    function test_timelock_expires() public {
        bytes memory data = abi.encodeCall(BridgeCore.setGuardian, (alice));
        vm.prank(governance);
        l1.schedule(data);
        vm.warp(block.timestamp + GOV_DELAY + 14 days + 1);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.OperationExpired.selector, keccak256(data)));
        l1.setGuardian(alice);
    }

    function test_timelock_guardianVetoes() public {
        _makeRelayers(3, 0x9000); // a set governance (or its thief) wants in
        bytes memory data = abi.encodeCall(BridgeCore.setRelayers, (relayerAddrs, 2));
        vm.prank(governance);
        bytes32 id = l1.schedule(data);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGuardian.selector, alice));
        l1.cancel(data);
        vm.prank(guardian);
        l1.cancel(data);
        vm.warp(block.timestamp + GOV_DELAY);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.OperationNotScheduled.selector, id));
        l1.setRelayers(relayerAddrs, 2);
        vm.assertEq(l1.relayerSetVersion(), 1, "unchanged");
    }

    function test_timelock_guardianCannotVetoItsReplacement() public {
        bytes memory replace = abi.encodeCall(BridgeCore.setGuardian, (alice));
        vm.prank(governance);
        l1.schedule(replace);
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGovernance.selector, guardian));
        l1.cancel(replace);
        vm.warp(block.timestamp + GOV_DELAY);
        vm.prank(governance);
        l1.setGuardian(alice);
        vm.assertEq(l1.guardian(), alice, "replaced despite the old guardian");
    }

    function test_everyConfigChangeIsTimelocked() public {
        TokenConfig memory c = _cfg(1, 10, 30, 10);
        TokenMetadata memory m = _meta("", "", 18);
        bytes[] memory calls = new bytes[](7);
        calls[0] = abi.encodeCall(BridgeCore.setRelayers, (relayerAddrs, 4));
        calls[1] = abi.encodeCall(BridgeCore.setToken, (address(usdc), true, c, m));
        calls[2] = abi.encodeCall(BridgeCore.setGovernance, (alice));
        calls[3] = abi.encodeCall(BridgeCore.setGuardian, (alice));
        calls[4] = abi.encodeCall(BridgeCore.setGovernanceDelay, (3 days));
        calls[5] = abi.encodeCall(BridgeCore.setTransferDelay, (2 days));
        calls[6] = abi.encodeCall(BridgeCore.unpause, ());
        for (uint256 i = 0; i < calls.length; i++) {
            vm.prank(governance);
            (bool ok, bytes memory ret) = address(l1).call(calls[i]);
            vm.assertFalse(ok, "governance alone, without the timelock");
            vm.assertEq(
                ret,
                abi.encodeWithSelector(BridgeCore.OperationNotScheduled.selector, keccak256(calls[i])),
                "needs scheduling"
            );
            vm.prank(guardian);
            (ok,) = address(l1).call(calls[i]);
            vm.assertFalse(ok, "guardian");
        }
        for (uint256 i = 0; i < calls.length; i++) {
            _govern(address(l1), calls[i]);
            if (i == 2) governance = alice; // the new governance runs the rest
        }
        vm.assertEq(l1.threshold(), 4, "relayers");
        vm.assertEq(l1.tokenConfig(address(usdc), true).maxAmount, 10, "token");
        vm.assertEq(l1.governance(), alice, "governance");
        vm.assertEq(l1.guardian(), alice, "guardian");
        vm.assertEq(l1.governanceDelay(), 3 days, "governance delay");
        vm.assertEq(l1.transferDelay(), 2 days, "transfer delay");
    }

    function test_setToken_rejectsIncoherentLimits() public {
        TokenMetadata memory m = _meta("", "", 18);
        TokenConfig[5] memory bad = [
            _cfg(0, 10, 30, 10), // min 0: dust
            _cfg(11, 10, 30, 10), // min > max
            _cfg(1, 10, 9, 10), // daily < max
            _cfg(2, 10, 30, 1), // delay threshold < min
            _cfg(1, 10, 30, 11) // delay threshold > max: nothing ever delayed
        ];
        for (uint256 i = 0; i < bad.length; i++) {
            bytes memory data = abi.encodeCall(BridgeCore.setToken, (address(usdc), true, bad[i], m));
            vm.prank(governance);
            l1.schedule(data);
            vm.warp(block.timestamp + GOV_DELAY);
            vm.prank(governance);
            (bool ok, bytes memory ret) = address(l1).call(data);
            vm.assertFalse(ok, "rejected");
            vm.assertEq(ret, abi.encodeWithSelector(BridgeCore.BadTokenConfig.selector, address(usdc), true), "error");
        }
        // no sidechain asset at address(0)
        bytes memory zero = abi.encodeCall(BridgeCore.setToken, (address(0), false, _cfg(1, 10, 30, 10), m));
        vm.prank(governance);
        l1.schedule(zero);
        vm.warp(block.timestamp + GOV_DELAY);
        vm.prank(governance);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadTokenConfig.selector, address(0), false));
        l1.setToken(address(0), false, _cfg(1, 10, 30, 10), m);
    }

    function test_delist_stopsDeposits() public {
        TokenConfig memory off;
        _govern(address(l1), abi.encodeCall(BridgeCore.setToken, (address(usdc), true, off, _meta("", "", 18))));
        usdc.mint(alice, 10);
        vm.startPrank(alice);
        usdc.approve(address(l1), 10);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.TokenNotListed.selector, address(usdc), true));
        l1.depositERC20(address(usdc), bob, 10);
        vm.stopPrank();
    }

    // ---------------------------------------------------- guardian, pause

    function test_pause_guardianPausesButCannotUnpause() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGuardian.selector, alice));
        l1.pause();
        vm.prank(guardian);
        l1.pause();
        vm.assertTrue(l1.paused(), "paused");
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGovernance.selector, guardian));
        l1.unpause();
        // even scheduling is governance's
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGovernance.selector, guardian));
        l1.schedule(abi.encodeCall(BridgeCore.unpause, ()));
        _govern(address(l1), abi.encodeCall(BridgeCore.unpause, ()));
        vm.assertFalse(l1.paused(), "unpaused by governance through the timelock");
    }

    function test_pause_stopsEveryUserAndRelayerPath() public {
        vm.prank(guardian);
        side.pause();
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(BridgeCore.IsPaused.selector);
        side.withdraw{value: 1 ether}(address(0), bob, 1 ether);
        vm.prank(relayerAddrs[0]);
        vm.expectRevert(BridgeCore.IsPaused.selector);
        side.confirmDeposit(_deposit(1, address(0), true, bob, 1));
        vm.expectRevert(BridgeCore.IsPaused.selector);
        side.submitSignature(1, new bytes(65));
        vm.expectRevert(BridgeCore.IsPaused.selector);
        side.executeQueuedDeposit(_deposit(1, address(0), true, bob, 1));
    }

    // ------------------------------------------------- no arbitrary calls

    function test_noFallbackNoReceive() public {
        vm.deal(alice, 1 ether);
        vm.startPrank(alice);
        (bool ok,) = address(l1).call{value: 1}("");
        vm.assertFalse(ok, "L1Bridge takes no plain ETH");
        (ok,) = address(side).call{value: 1}("");
        vm.assertFalse(ok, "SidechainBridge takes no plain coin");
        (ok,) = address(l1).call(abi.encodeWithSignature("execute(address,bytes)", address(usdc), ""));
        vm.assertFalse(ok, "no generic execute");
        vm.stopPrank();
    }
}
