// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {BridgeCore} from "../src/BridgeCore.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {BridgedToken} from "../src/BridgedToken.sol";
import {WithdrawalMessage} from "../src/BridgeTypes.sol";
import {SafeTransfer} from "../src/lib/SafeTransfer.sol";
import {MockERC20, FalseToken} from "./mocks/Tokens.sol";

/// Deposits and withdrawal finalization on L1.
contract L1BridgeTest is BridgeFixture {
    event Deposit(
        uint256 indexed nonce, address indexed token, bool homeL1, address indexed from, address to, uint256 amount
    );

    // ------------------------------------------------------------- deposits

    function test_depositETH_locksAndEmitsIncreasingNonces() public {
        vm.deal(alice, 10 ether);
        vm.expectEmit(true, true, true, true, address(l1));
        emit Deposit(1, address(0), true, alice, bob, 1 ether);
        vm.prank(alice);
        uint256 n1 = l1.depositETH{value: 1 ether}(bob);
        vm.prank(alice);
        uint256 n2 = l1.depositETH{value: 2 ether}(bob);
        vm.assertEq(n1, 1, "first nonce");
        vm.assertEq(n2, 2, "second nonce");
        vm.assertEq(l1.depositNonce(), 2, "depositNonce");
        vm.assertEq(address(l1).balance, 3 ether, "locked ETH");
    }

    function test_depositERC20_locks() public {
        usdc.mint(alice, 500);
        vm.startPrank(alice);
        usdc.approve(address(l1), 500);
        vm.expectEmit(true, true, true, true, address(l1));
        emit Deposit(1, address(usdc), true, alice, bob, 500);
        l1.depositERC20(address(usdc), bob, 500);
        vm.stopPrank();
        vm.assertEq(usdc.balanceOf(address(l1)), 500, "locked");
        vm.assertEq(usdc.balanceOf(alice), 0, "alice paid");
    }

    function test_depositERC20_noReturnValueToken() public {
        usdt.mint(alice, 700);
        vm.startPrank(alice);
        usdt.approve(address(l1), 700);
        l1.depositERC20(address(usdt), bob, 700);
        vm.stopPrank();
        vm.assertEq(usdt.balanceOf(address(l1)), 700, "USDT-style token locked");
    }

    function test_depositERC20_feeOnTransferEmitsReceivedAmount() public {
        feeToken.mint(alice, 10_000);
        vm.startPrank(alice);
        feeToken.approve(address(l1), 10_000);
        vm.expectEmit(true, true, true, true, address(l1));
        emit Deposit(1, address(feeToken), true, alice, bob, 9_900);
        l1.depositERC20(address(feeToken), bob, 10_000);
        vm.stopPrank();
        vm.assertEq(feeToken.balanceOf(address(l1)), 9_900, "bridge holds what arrived");
    }

    function test_depositERC20_rejectsFalseReturningToken() public {
        FalseToken f = new FalseToken();
        _listOnL1(address(f));
        f.mint(alice, 100);
        vm.startPrank(alice);
        f.approve(address(l1), 100);
        vm.expectRevert(abi.encodeWithSelector(SafeTransfer.TokenCallFailed.selector, address(f), bytes4(0x23b872dd)));
        l1.depositERC20(address(f), bob, 100);
        vm.stopPrank();
    }

    function test_depositERC20_rejectsListedAddressWithoutCode() public {
        address ghost = address(0x6057);
        _listOnL1(ghost);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(SafeTransfer.TokenCallFailed.selector, ghost, bytes4(0x70a08231)));
        l1.depositERC20(ghost, bob, 100);
        // and a release of it cannot pass for a USDT-style success
        WithdrawalMessage memory w = _withdrawal(1, ghost, true, bob, 100);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        vm.expectRevert(abi.encodeWithSelector(SafeTransfer.NotAContract.selector, ghost));
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_deposit_rejectsZeroRecipientAndAmount() public {
        vm.deal(alice, 1 ether);
        vm.startPrank(alice);
        vm.expectRevert(BridgeCore.ZeroAddress.selector);
        l1.depositETH{value: 1 ether}(address(0));
        vm.expectRevert(BridgeCore.ZeroAmount.selector);
        l1.depositETH{value: 0}(bob);
        vm.expectRevert(BridgeCore.ZeroAmount.selector);
        l1.depositERC20(address(usdc), bob, 0);
        vm.expectRevert(BridgeCore.ZeroAddress.selector);
        l1.depositERC20(address(0), bob, 1);
        vm.stopPrank();
    }

    function test_deposit_rejectsUnlistedToken() public {
        MockERC20 other = new MockERC20("Other", "OTH");
        other.mint(alice, 100);
        vm.startPrank(alice);
        other.approve(address(l1), 100);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.TokenNotListed.selector, address(other), true));
        l1.depositERC20(address(other), bob, 100);
        vm.stopPrank();
    }

    function test_deposit_enforcesMinAndMax() public {
        _govern(
            address(l1),
            abi.encodeCall(BridgeCore.setToken, (address(usdc), true, _cfg(10, 1000, 3000, 1000), _meta("", "", 18)))
        );
        usdc.mint(alice, 5000);
        vm.startPrank(alice);
        usdc.approve(address(l1), 5000);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AmountOutOfRange.selector, 9, 10, 1000));
        l1.depositERC20(address(usdc), bob, 9);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AmountOutOfRange.selector, 1001, 10, 1000));
        l1.depositERC20(address(usdc), bob, 1001);
        l1.depositERC20(address(usdc), bob, 10);
        l1.depositERC20(address(usdc), bob, 1000);
        vm.stopPrank();
    }

    function test_deposit_rejectedWhilePaused() public {
        vm.prank(guardian);
        l1.pause();
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(BridgeCore.IsPaused.selector);
        l1.depositETH{value: 1 ether}(bob);
    }

    function test_deposit_rejectsEthWithTokenDeposit() public {
        vm.deal(address(this), 1 ether);
        (bool ok,) = address(l1).call{value: 1}(abi.encodeCall(L1Bridge.depositERC20, (address(usdc), bob, 1)));
        vm.assertFalse(ok, "depositERC20 is not payable");
    }

    // ------------------------------------------------------------- finalize

    function test_finalize_releasesETHWithThresholdSignatures() public {
        vm.deal(address(l1), 5 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 2 ether);
        l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 3));
        vm.assertEq(bob.balance, 2 ether, "bob paid");
        (,, BridgeCore.Status st) = l1.incoming(1);
        vm.assertTrue(st == BridgeCore.Status.Executed, "executed");
    }

    function test_finalize_releasesNoReturnToken() public {
        usdt.mint(address(l1), 1000);
        WithdrawalMessage memory w = _withdrawal(1, address(usdt), true, bob, 1000);
        l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 3));
        vm.assertEq(usdt.balanceOf(bob), 1000, "bob paid");
    }

    function test_finalize_acceptsAllRelayers() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 4));
        vm.assertEq(bob.balance, 1 ether, "bob paid");
    }

    function test_finalize_onceOnly() public {
        vm.deal(address(l1), 5 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        l1.finalizeWithdrawal(w, sigs);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AlreadyProcessed.selector, 1));
        l1.finalizeWithdrawal(w, sigs);
        // Same nonce, other content (other signatures): still consumed.
        WithdrawalMessage memory w2 = _withdrawal(1, address(0), true, alice, 1 ether);
        bytes[] memory sigs2 = _sigs(l1.hashWithdrawal(w2), 3);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AlreadyProcessed.selector, 1));
        l1.finalizeWithdrawal(w2, sigs2);
        vm.assertEq(bob.balance, 1 ether, "paid once");
    }

    function test_finalize_rejectsTooFewSignatures() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 2);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotEnoughSignatures.selector, 2, 3));
        l1.finalizeWithdrawal(w, sigs);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotEnoughSignatures.selector, 0, 3));
        l1.finalizeWithdrawal(w, new bytes[](0));
    }

    function test_finalize_rejectsDuplicateSigner() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes32 digest = l1.hashWithdrawal(w);
        bytes[] memory sigs = _sigs(digest, 3);
        sigs[2] = sigs[1];
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.SignersNotSorted.selector, relayerAddrs[1]));
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_rejectsUnsortedSigners() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        (sigs[0], sigs[1]) = (sigs[1], sigs[0]);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.SignersNotSorted.selector, relayerAddrs[0]));
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_rejectsNonRelayerSigner() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes32 digest = l1.hashWithdrawal(w);
        bytes[] memory sigs = _sigs(digest, 3);
        // a stranger with the highest possible-looking address replaces the last
        uint256 strangerKey = 0xBAD;
        address stranger = vm.addr(strangerKey);
        sigs[2] = _signature(strangerKey, digest);
        if (stranger > relayerAddrs[1]) {
            vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotRelayer.selector, stranger));
        } else {
            vm.expectRevert(abi.encodeWithSelector(BridgeCore.SignersNotSorted.selector, stranger));
        }
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_rejectsHighS() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes32 digest = l1.hashWithdrawal(w);
        bytes[] memory sigs = _sigs(digest, 3);
        sigs[0] = _malleate(sigs[0]);
        // the malleated twin recovers the same signer
        vm.expectRevert(BridgeCore.HighS.selector);
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_rejectsBadVAndLength() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        bytes memory s0 = sigs[0];
        s0[64] = bytes1(uint8(s0[64]) - 27); // v as 0/1
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadV.selector, uint8(s0[64])));
        l1.finalizeWithdrawal(w, sigs);
        sigs[0] = new bytes(64);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadSignatureLength.selector, 64));
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_rejectsZeroSignature() public {
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory sigs = new bytes[](3);
        for (uint256 i = 0; i < 3; i++) {
            sigs[i] = abi.encodePacked(bytes32(0), bytes32(0), uint8(27));
        }
        vm.expectRevert(BridgeCore.InvalidSignature.selector);
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_rejectsZeroNonceRecipientAmount() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(0, address(0), true, bob, 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        vm.expectRevert(BridgeCore.ZeroNonce.selector);
        l1.finalizeWithdrawal(w, sigs);
        w = _withdrawal(1, address(0), true, address(0), 1 ether);
        sigs = _sigs(l1.hashWithdrawal(w), 3);
        vm.expectRevert(BridgeCore.ZeroAddress.selector);
        l1.finalizeWithdrawal(w, sigs);
        w = _withdrawal(1, address(0), true, bob, 0);
        sigs = _sigs(l1.hashWithdrawal(w), 3);
        vm.expectRevert(BridgeCore.ZeroAmount.selector);
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_rejectsSignaturesOverOtherContent() public {
        vm.deal(address(l1), 10 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        w.amount = 9 ether; // tampered after signing
        vm.expectRevert(); // recovers unrelated addresses
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_mintsSidechainTokenAtPredictedAddress() public {
        address predicted = l1.predictBridgedToken(address(sideToken), false);
        vm.assertEq(l1.bridgedToken(address(sideToken), false), address(0), "not yet deployed");
        WithdrawalMessage memory w = _withdrawal(1, address(sideToken), false, bob, 500);
        l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 3));
        vm.assertEq(l1.bridgedToken(address(sideToken), false), predicted, "CREATE2 address");
        BridgedToken t = BridgedToken(predicted);
        vm.assertEq(t.balanceOf(bob), 500, "minted");
        vm.assertEq(t.originToken(), address(sideToken), "origin");
        vm.assertFalse(t.homeL1(), "home is the sidechain");
        vm.assertEq(keccak256(bytes(t.symbol())), keccak256("SIDE.l1"), "symbol from the token list");

        // and back: depositing the bridged token burns it and names the sidechain token
        vm.prank(bob);
        vm.expectEmit(true, true, true, true, address(l1));
        emit Deposit(1, address(sideToken), false, bob, alice, 200);
        l1.depositERC20(address(t), alice, 200);
        vm.assertEq(t.totalSupply(), 300, "burned");
    }

    function test_finalize_rejectsUnlistedToken() public {
        MockERC20 other = new MockERC20("Other", "OTH");
        other.mint(address(l1), 100);
        WithdrawalMessage memory w = _withdrawal(1, address(other), true, bob, 100);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.TokenNotListed.selector, address(other), true));
        l1.finalizeWithdrawal(w, sigs);
    }

    function test_finalize_paused() public {
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        vm.prank(guardian);
        l1.pause();
        vm.expectRevert(BridgeCore.IsPaused.selector);
        l1.finalizeWithdrawal(w, sigs);
    }

    // ----------------------------------------------------- delay and limits

    function test_largeWithdrawal_waitsDelay_thenAnyoneExecutes() public {
        usdc.mint(address(l1), LARGE);
        WithdrawalMessage memory w = _withdrawal(1, address(usdc), true, bob, LARGE);
        l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 3));
        vm.assertEq(usdc.balanceOf(bob), 0, "not paid yet");
        (, uint64 readyAt, BridgeCore.Status st) = l1.incoming(1);
        vm.assertTrue(st == BridgeCore.Status.Queued, "queued");
        vm.assertEq(readyAt, block.timestamp + TRANSFER_DELAY, "readyAt");
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.TransferNotReady.selector, 1, readyAt));
        l1.executeQueuedWithdrawal(w);
        vm.warp(readyAt);
        vm.prank(address(0xD00D));
        l1.executeQueuedWithdrawal(w);
        vm.assertEq(usdc.balanceOf(bob), LARGE, "paid after delay");
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotQueued.selector, 1));
        l1.executeQueuedWithdrawal(w);
    }

    function test_largeWithdrawal_guardianCancels() public {
        usdc.mint(address(l1), LARGE);
        WithdrawalMessage memory w = _withdrawal(1, address(usdc), true, bob, LARGE);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        l1.finalizeWithdrawal(w, sigs);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotGuardian.selector, alice));
        l1.cancelQueued(1);
        vm.prank(guardian);
        l1.cancelQueued(1);
        vm.warp(block.timestamp + TRANSFER_DELAY);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotQueued.selector, 1));
        l1.executeQueuedWithdrawal(w);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AlreadyProcessed.selector, 1));
        l1.finalizeWithdrawal(w, sigs);
        vm.assertEq(usdc.balanceOf(bob), 0, "never paid");
    }

    function test_queuedWithdrawal_mustMatchContent() public {
        usdc.mint(address(l1), 2 * LARGE);
        WithdrawalMessage memory w = _withdrawal(1, address(usdc), true, bob, LARGE);
        l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 3));
        vm.warp(block.timestamp + TRANSFER_DELAY);
        w.amount = 2 * LARGE;
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.HashMismatch.selector, 1));
        l1.executeQueuedWithdrawal(w);
    }

    function test_dailyLimit_queuesOverflow_untilWindowPasses() public {
        usdc.mint(address(l1), 10 * MAX);
        uint256 amount = LARGE - 1; // below the delay size
        uint256 fits = DAILY / amount; // 30 fit in the window
        for (uint256 i = 1; i <= fits; i++) {
            WithdrawalMessage memory w = _withdrawal(i, address(usdc), true, bob, amount);
            l1.finalizeWithdrawal(w, _sigs(l1.hashWithdrawal(w), 3));
        }
        vm.assertEq(usdc.balanceOf(bob), fits * amount, "within the limit");
        WithdrawalMessage memory over = _withdrawal(fits + 1, address(usdc), true, bob, amount);
        l1.finalizeWithdrawal(over, _sigs(l1.hashWithdrawal(over), 3));
        (,, BridgeCore.Status st) = l1.incoming(fits + 1);
        vm.assertTrue(st == BridgeCore.Status.Queued, "over the limit: queued");
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.DailyLimitExceeded.selector, address(usdc), true, amount));
        l1.executeQueuedWithdrawal(over);
        vm.warp(block.timestamp + 23 hours);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.DailyLimitExceeded.selector, address(usdc), true, amount));
        l1.executeQueuedWithdrawal(over);
        vm.warp(block.timestamp + 7 hours); // 30 h later every bucket has rolled out
        l1.executeQueuedWithdrawal(over);
        vm.assertEq(usdc.balanceOf(bob), (fits + 1) * amount, "paid once the window rolled");
        vm.assertEq(l1.outflowInWindow(address(usdc), true), amount, "window holds the last one");
    }

    function test_ethCallbackCannotReenter() public {
        Reenterer r = new Reenterer(l1);
        vm.deal(address(l1), 2 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, address(r), 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        r.arm(w, sigs);
        // the recipient re-enters finalizeWithdrawal from its receive(): the
        // guard reverts it, so the recipient refuses the ETH, which is held
        l1.finalizeWithdrawal(w, sigs);
        vm.assertEq(address(r).balance, 0, "nothing paid twice");
        vm.assertEq(l1.unclaimedETH(address(r)), 1 ether, "held once");
        vm.assertEq(address(l1).balance, 2 ether, "still in the bridge");
    }

    function test_refusedETH_isHeld_thenClaimedElsewhere() public {
        Refuser r = new Refuser();
        vm.deal(address(l1), 3 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, address(r), 2 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        l1.finalizeWithdrawal(w, sigs);
        vm.assertEq(l1.unclaimedETH(address(r)), 2 ether, "held for the recipient");
        (,, BridgeCore.Status st) = l1.incoming(1);
        vm.assertTrue(st == BridgeCore.Status.Executed, "the withdrawal is done");
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AlreadyProcessed.selector, 1));
        l1.finalizeWithdrawal(w, sigs);
        vm.prank(address(r));
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.EthTransferFailed.selector, address(r), 2 ether));
        l1.claimETH(address(r));
        vm.prank(address(r));
        l1.claimETH(bob);
        vm.assertEq(bob.balance, 2 ether, "claimed to another address");
        vm.prank(address(r));
        vm.expectRevert(BridgeCore.ZeroAmount.selector);
        l1.claimETH(bob);
        vm.prank(alice);
        vm.expectRevert(BridgeCore.ZeroAmount.selector);
        l1.claimETH(alice);
    }

    function test_gasBurningRecipient_cannotBurnThePayersGas() public {
        GasBurner g = new GasBurner();
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, address(g), 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        uint256 before = gasleft();
        l1.finalizeWithdrawal(w, sigs);
        vm.assertLe(before - gasleft(), 300_000, "bounded by ETH_CALL_GAS");
        vm.assertEq(l1.unclaimedETH(address(g)), 1 ether, "held");
    }

    /// Whatever gas the caller gives, a smart-wallet recipient needing ~90k
    /// gas is paid in full or the call reverts: a caller cannot push its ETH
    /// into the held balance by starving the inner call. (EIP-150 alone leaves
    /// a starving caller too little gas to record a held payout; the explicit
    /// gasleft() check in `_pay` does not rely on that.) Fails if
    /// ETH_CALL_GAS is too small for such wallets.
    function test_callerGas_cannotForceAPayoutToBeHeld() public {
        Wallet wallet = new Wallet();
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, address(wallet), 1 ether);
        bytes[] memory sigs = _sigs(l1.hashWithdrawal(w), 3);
        uint256 succeeded;
        for (uint256 g = 60_000; g < 400_000; g += 3_000) {
            uint256 snap = vm.snapshotState();
            try l1.finalizeWithdrawal{gas: g}(w, sigs) {
                succeeded++;
                vm.assertEq(l1.unclaimedETH(address(wallet)), 0, "never held");
                vm.assertEq(address(wallet).balance, 1 ether, "paid");
            } catch {}
            vm.revertToState(snap);
        }
        vm.assertGe(succeeded, 10, "enough gas succeeds");
    }

    function test_deposit_rejectsTheOtherBridgeAsRecipient() public {
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadRecipient.selector, address(side)));
        l1.depositETH{value: 1 ether}(address(side));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadRecipient.selector, address(l1)));
        side.withdraw{value: 1 ether}(address(0), address(l1), 1 ether);
    }

    function _listOnL1(address token) internal {
        _govern(
            address(l1),
            abi.encodeCall(BridgeCore.setToken, (token, true, _cfg(1, MAX, DAILY, LARGE), _meta("", "", 18)))
        );
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

contract Refuser {}

contract GasBurner {
    receive() external payable {
        while (true) {}
    }
}

/// Spends ~90k of the 100k ETH_CALL_GAS on receipt (four new storage slots).
contract Wallet {
    uint256[4] internal counters;

    receive() external payable {
        counters[0] += 1;
        counters[1] += msg.value;
        counters[2] = block.number + 1;
        counters[3] = block.timestamp + 1;
    }
}

contract Reenterer {
    L1Bridge internal immutable bridge;
    WithdrawalMessage internal w;
    bytes[] internal sigs;

    constructor(L1Bridge b) {
        bridge = b;
    }

    function arm(WithdrawalMessage memory w_, bytes[] memory sigs_) external {
        w = w_;
        delete sigs;
        for (uint256 i = 0; i < sigs_.length; i++) {
            sigs.push(sigs_[i]);
        }
    }

    receive() external payable {
        bridge.finalizeWithdrawal(w, sigs);
    }
}
