// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {BridgeCore} from "../src/BridgeCore.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {BridgedToken} from "../src/BridgedToken.sol";
import {DepositMessage, WithdrawalMessage} from "../src/BridgeTypes.sol";

/// Deposit confirmation, withdrawals and signature collection on the sidechain.
contract SidechainBridgeTest is BridgeFixture {
    event WithdrawalRequested(
        uint256 indexed nonce,
        address indexed token,
        bool homeL1,
        address indexed from,
        address to,
        uint256 amount,
        bytes32 digest
    );

    // ------------------------------------------------------------- confirm

    function test_confirm_executesExactlyAtThreshold() public {
        DepositMessage memory d = _deposit(1, address(0), true, bob, 3 ether);
        _confirm(d, 2);
        vm.assertEq(bob.balance, 0, "2 of 4: nothing yet");
        (uint256 count,) = side.confirmations(d);
        vm.assertEq(count, 2, "two votes");
        vm.prank(relayerAddrs[2]);
        side.confirmDeposit(d);
        vm.assertEq(bob.balance, 3 ether, "3 of 4: native coin released");
        vm.assertEq(address(side).balance, SIDE_NATIVE_SUPPLY - 3 ether, "from the bridge's supply");
        // the fourth relayer comes late: the deposit is done
        vm.prank(relayerAddrs[3]);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AlreadyProcessed.selector, 1));
        side.confirmDeposit(d);
    }

    function test_confirm_recipientRefusingNativeCoinDoesNotStallRelayers() public {
        address refuser = address(new NoReceive());
        DepositMessage memory d = _deposit(1, address(0), true, refuser, 1 ether);
        _confirm(d, 3);
        (,, BridgeCore.Status st) = side.incoming(1);
        vm.assertTrue(st == BridgeCore.Status.Executed, "executed on the threshold vote");
        vm.assertEq(side.unclaimedETH(refuser), 1 ether, "held for the recipient");
    }

    function test_confirm_mintsBridgedTokenAtPredictedAddress() public {
        address predicted = side.predictBridgedToken(address(usdc), true);
        _confirm(_deposit(1, address(usdc), true, bob, 500), 3);
        vm.assertEq(side.bridgedToken(address(usdc), true), predicted, "CREATE2 address");
        BridgedToken t = BridgedToken(predicted);
        vm.assertEq(t.balanceOf(bob), 500, "minted");
        vm.assertEq(t.bridge(), address(side), "bridge");
        vm.assertEq(t.originToken(), address(usdc), "origin");
        vm.assertTrue(t.homeL1(), "home is L1");
        vm.assertEq(keccak256(bytes(t.name())), keccak256("Bridged USDC"), "name");
        vm.assertEq(t.decimals(), 18, "decimals");
        // a second deposit reuses it
        _confirm(_deposit(2, address(usdc), true, bob, 1), 3);
        vm.assertEq(t.balanceOf(bob), 501, "same token");
    }

    function test_confirm_onlyRelayers() public {
        DepositMessage memory d = _deposit(1, address(0), true, bob, 1 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotRelayer.selector, alice));
        side.confirmDeposit(d);
    }

    function test_confirm_sameRelayerTwiceCountsOnce() public {
        DepositMessage memory d = _deposit(1, address(0), true, bob, 1 ether);
        vm.startPrank(relayerAddrs[0]);
        side.confirmDeposit(d);
        vm.expectRevert(abi.encodeWithSelector(SidechainBridge.AlreadyConfirmed.selector, 1, relayerAddrs[0]));
        side.confirmDeposit(d);
        vm.stopPrank();
    }

    function test_confirm_differentContentDoesNotAdd() public {
        DepositMessage memory d = _deposit(1, address(0), true, bob, 1 ether);
        DepositMessage memory evil = _deposit(1, address(0), true, alice, 100 ether);
        _confirm(d, 2);
        vm.prank(relayerAddrs[2]);
        side.confirmDeposit(evil);
        vm.assertEq(bob.balance + alice.balance, 0, "2 + 1 split votes execute nothing");
        vm.prank(relayerAddrs[2]);
        side.confirmDeposit(d);
        vm.assertEq(bob.balance, 1 ether, "the majority content executes");
        vm.prank(relayerAddrs[3]);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.AlreadyProcessed.selector, 1));
        side.confirmDeposit(evil);
    }

    function test_confirm_votesLapseWhenRelayerSetChanges() public {
        DepositMessage memory d = _deposit(1, address(0), true, bob, 1 ether);
        _confirm(d, 2);
        address[] memory sameSet = relayerAddrs;
        _govern(address(side), abi.encodeCall(BridgeCore.setRelayers, (sameSet, 3)));
        (uint256 count,) = side.confirmations(d);
        vm.assertEq(count, 0, "old votes lapse");
        vm.prank(relayerAddrs[2]);
        side.confirmDeposit(d);
        vm.assertEq(bob.balance, 0, "one fresh vote is not a threshold");
        _confirm(d, 2); // the first two vote again
        vm.assertEq(bob.balance, 1 ether, "three fresh votes");
    }

    function test_confirm_removedRelayerCannotVote() public {
        address removed = relayerAddrs[0];
        address[] memory newSet = new address[](3);
        for (uint256 i = 0; i < 3; i++) {
            newSet[i] = relayerAddrs[i + 1];
        }
        _govern(address(side), abi.encodeCall(BridgeCore.setRelayers, (newSet, 2)));
        vm.prank(removed);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotRelayer.selector, removed));
        side.confirmDeposit(_deposit(1, address(0), true, bob, 1 ether));
    }

    function test_confirm_rejectsZeroNonceRecipientAmountAndUnlisted() public {
        vm.startPrank(relayerAddrs[0]);
        vm.expectRevert(BridgeCore.ZeroNonce.selector);
        side.confirmDeposit(_deposit(0, address(0), true, bob, 1));
        vm.expectRevert(BridgeCore.ZeroAddress.selector);
        side.confirmDeposit(_deposit(1, address(0), true, address(0), 1));
        vm.expectRevert(BridgeCore.ZeroAmount.selector);
        side.confirmDeposit(_deposit(1, address(0), true, bob, 0));
        vm.stopPrank();
        DepositMessage memory d = _deposit(1, address(0xDEAD), true, bob, 1);
        _confirm(d, 2);
        vm.prank(relayerAddrs[2]);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.TokenNotListed.selector, address(0xDEAD), true));
        side.confirmDeposit(d);
    }

    function test_confirm_releasesLockedSidechainToken() public {
        sideToken.mint(alice, 1000);
        vm.startPrank(alice);
        sideToken.approve(address(side), 1000);
        side.withdraw(address(sideToken), bob, 1000);
        vm.stopPrank();
        vm.assertEq(sideToken.balanceOf(address(side)), 1000, "locked on the sidechain");
        // it comes back from L1
        _confirm(_deposit(1, address(sideToken), false, bob, 400), 3);
        vm.assertEq(sideToken.balanceOf(bob), 400, "released");
    }

    function test_largeDeposit_delayedAndCancellable() public {
        DepositMessage memory d = _deposit(1, address(usdc), true, bob, LARGE);
        _confirm(d, 3);
        address t = side.predictBridgedToken(address(usdc), true);
        vm.assertEq(t.code.length, 0, "nothing minted yet");
        vm.expectRevert(
            abi.encodeWithSelector(BridgeCore.TransferNotReady.selector, 1, block.timestamp + TRANSFER_DELAY)
        );
        side.executeQueuedDeposit(d);
        vm.prank(guardian);
        side.cancelQueued(1);
        vm.warp(block.timestamp + TRANSFER_DELAY);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotQueued.selector, 1));
        side.executeQueuedDeposit(d);

        DepositMessage memory d2 = _deposit(2, address(usdc), true, bob, LARGE);
        _confirm(d2, 3);
        vm.warp(block.timestamp + TRANSFER_DELAY);
        side.executeQueuedDeposit(d2);
        vm.assertEq(BridgedToken(t).balanceOf(bob), LARGE, "minted after the delay");
    }

    function test_dailyLimit_onSidechainMint() public {
        uint256 amount = LARGE - 1;
        uint256 fits = DAILY / amount;
        for (uint256 i = 1; i <= fits + 1; i++) {
            _confirm(_deposit(i, address(usdc), true, bob, amount), 3);
        }
        BridgedToken t = BridgedToken(side.bridgedToken(address(usdc), true));
        vm.assertEq(t.totalSupply(), fits * amount, "the last one waits");
        (,, BridgeCore.Status st) = side.incoming(fits + 1);
        vm.assertTrue(st == BridgeCore.Status.Queued, "queued");
    }

    // ------------------------------------------------------------ withdraw

    function test_withdraw_burnsBridgedToken() public {
        _bridgeToSide(usdc, 1000);
        BridgedToken t = BridgedToken(side.bridgedToken(address(usdc), true));
        WithdrawalMessage memory w = _withdrawal(1, address(usdc), true, bob, 600);
        vm.expectEmit(true, true, true, true, address(side));
        emit WithdrawalRequested(1, address(usdc), true, alice, bob, 600, side.hashWithdrawal(w));
        vm.prank(alice);
        uint256 nonce = side.withdraw(address(t), bob, 600);
        vm.assertEq(nonce, 1, "nonce");
        vm.assertEq(t.balanceOf(alice), 400, "burned");
        vm.assertEq(t.totalSupply(), 400, "supply");
        vm.assertEq(side.withdrawalDigest(1), side.hashWithdrawal(w), "digest stored");
    }

    function test_withdraw_nativeCoin() public {
        vm.deal(alice, 5 ether);
        vm.prank(alice);
        side.withdraw{value: 2 ether}(address(0), bob, 2 ether);
        vm.assertEq(address(side).balance, SIDE_NATIVE_SUPPLY + 2 ether, "locked back");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.WrongValue.selector, 1 ether, 2 ether));
        side.withdraw{value: 1 ether}(address(0), bob, 2 ether);
    }

    function test_withdraw_locksSidechainToken() public {
        sideToken.mint(alice, 100);
        vm.startPrank(alice);
        sideToken.approve(address(side), 100);
        vm.expectEmit(true, true, true, false, address(side));
        emit WithdrawalRequested(1, address(sideToken), false, alice, bob, 100, bytes32(0));
        side.withdraw(address(sideToken), bob, 100);
        vm.stopPrank();
        vm.assertEq(sideToken.balanceOf(address(side)), 100, "locked");
    }

    function test_withdraw_rejectsZeroAndOverBalance() public {
        _bridgeToSide(usdc, 10);
        address t = side.bridgedToken(address(usdc), true);
        vm.startPrank(alice);
        vm.expectRevert(BridgeCore.ZeroAddress.selector);
        side.withdraw(t, address(0), 1);
        vm.expectRevert(BridgeCore.ZeroAmount.selector);
        side.withdraw(t, bob, 0);
        vm.expectRevert(abi.encodeWithSelector(BridgedToken.InsufficientBalance.selector, alice, 10, 11));
        side.withdraw(t, bob, 11);
        vm.stopPrank();
    }

    function test_bridgedToken_onlyBridgeMintsAndBurns() public {
        _bridgeToSide(usdc, 10);
        BridgedToken t = BridgedToken(side.bridgedToken(address(usdc), true));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgedToken.OnlyBridge.selector, alice));
        t.mint(alice, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgedToken.OnlyBridge.selector, alice));
        t.burn(alice, 1);
        vm.expectRevert(BridgeCore.NotDeploying.selector);
        side.bridgedTokenParameters();
    }

    function test_bridgedToken_isAPlainERC20() public {
        _bridgeToSide(usdc, 100);
        BridgedToken t = BridgedToken(side.bridgedToken(address(usdc), true));
        vm.prank(alice);
        vm.assertTrue(t.transfer(bob, 30), "transfer");
        vm.prank(bob);
        t.approve(alice, 20);
        vm.prank(alice);
        vm.assertTrue(t.transferFrom(bob, alice, 20), "transferFrom");
        vm.assertEq(t.balanceOf(alice), 90, "alice");
        vm.assertEq(t.balanceOf(bob), 10, "bob");
        vm.assertEq(t.allowance(bob, alice), 0, "allowance spent");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BridgedToken.InsufficientAllowance.selector, bob, alice, 0, 1));
        t.transferFrom(bob, alice, 1);
        vm.prank(alice);
        vm.expectRevert(BridgedToken.ZeroAddress.selector);
        t.transfer(address(0), 1);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(BridgedToken.InsufficientBalance.selector, bob, 10, 11));
        t.transfer(alice, 11);
        vm.assertEq(t.totalSupply(), 100, "supply unchanged by transfers");
    }

    // ---------------------------------------------------------- signatures

    function test_signatures_collectedAndSortedForL1() public {
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        side.withdraw{value: 1 ether}(address(0), bob, 1 ether);
        bytes32 digest = side.withdrawalDigest(1);
        // posted in reverse order, by a non-relayer (anyone may post)
        for (uint256 i = 4; i > 0; i--) {
            vm.prank(address(0xF00));
            side.submitSignature(1, _signature(relayerKeys[i - 1], digest));
        }
        (address[] memory signers, bytes[] memory sigs) = side.signaturesOf(1);
        vm.assertEq(signers.length, 4, "four");
        for (uint256 i = 0; i < 4; i++) {
            vm.assertEq(signers[i], relayerAddrs[i], "sorted by signer");
        }
        // and they finalize on L1 as they are
        vm.deal(address(l1), 1 ether);
        l1.finalizeWithdrawal(_withdrawal(1, address(0), true, bob, 1 ether), sigs);
        vm.assertEq(bob.balance, 1 ether, "finalized with the collected signatures");
    }

    function test_submitSignature_rejections() public {
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        side.withdraw{value: 1 ether}(address(0), bob, 1 ether);
        bytes32 digest = side.withdrawalDigest(1);
        vm.expectRevert(abi.encodeWithSelector(SidechainBridge.UnknownWithdrawal.selector, 2));
        side.submitSignature(2, _signature(relayerKeys[0], digest));
        address stranger = vm.addr(0xBAD);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotRelayer.selector, stranger));
        side.submitSignature(1, _signature(0xBAD, digest));
        bytes memory good = _signature(relayerKeys[0], digest);
        side.submitSignature(1, good);
        vm.expectRevert(abi.encodeWithSelector(SidechainBridge.AlreadySigned.selector, 1, relayerAddrs[0]));
        side.submitSignature(1, good);
        // a signature over another withdrawal recovers someone else
        bytes memory other = _signature(relayerKeys[1], keccak256("other"));
        vm.expectRevert();
        side.submitSignature(1, other);
    }
}

contract NoReceive {}
