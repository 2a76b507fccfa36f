// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {BridgeCore} from "../src/BridgeCore.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {BridgedToken} from "../src/BridgedToken.sol";
import {DepositMessage, WithdrawalMessage} from "../src/BridgeTypes.sol";

/// Exposes the outflow limiter for a property test.
contract LimiterHarness is L1Bridge {
    function use(uint256 limit, uint256 amount) external returns (bool) {
        return _useOutflow(bytes32(uint256(1)), limit, amount);
    }
}

/// Fuzz tests on amounts, signer sets and orderings, thresholds, digest
/// binding and the rolling daily limit.
contract FuzzTest is BridgeFixture {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + (x % (hi - lo + 1));
    }

    /// Any amount in range goes L1 -> sidechain -> L1 and comes back whole;
    /// what is minted never exceeds what is locked.
    function testFuzz_roundTrip_ERC20(uint256 amount, uint256 back) public {
        amount = _bound(amount, 1, LARGE - 1);
        back = _bound(back, 1, amount);
        _bridgeToSide(usdc, amount);
        BridgedToken t = BridgedToken(side.bridgedToken(address(usdc), true));
        vm.assertEq(t.balanceOf(alice), amount, "minted what was locked");
        vm.prank(alice);
        uint256 nonce = side.withdraw(address(t), bob, back);
        WithdrawalMessage memory w = _withdrawal(nonce, address(usdc), true, bob, back);
        l1.finalizeWithdrawal(w, _sigs(side.withdrawalDigest(nonce), 3));
        vm.assertEq(usdc.balanceOf(bob), back, "released");
        vm.assertEq(usdc.balanceOf(address(l1)), t.totalSupply(), "locked == minted");
    }

    function testFuzz_roundTrip_feeOnTransfer(uint256 amount) public {
        amount = _bound(amount, 1, LARGE - 1);
        feeToken.mint(alice, amount);
        vm.startPrank(alice);
        feeToken.approve(address(l1), amount);
        uint256 nonce = l1.depositERC20(address(feeToken), alice, amount);
        vm.stopPrank();
        uint256 received = feeToken.balanceOf(address(l1));
        vm.assertEq(received, amount - amount / 100, "bridge counts what arrived");
        _confirm(_deposit(nonce, address(feeToken), true, alice, received), 3);
        BridgedToken t = BridgedToken(side.bridgedToken(address(feeToken), true));
        vm.assertEq(t.totalSupply(), received, "minted what arrived, not what was asked");
    }

    function testFuzz_depositETH_amountBounds(uint256 amount) public {
        amount = _bound(amount, 0, 2 * MAX);
        vm.deal(alice, amount);
        vm.prank(alice);
        if (amount == 0) {
            vm.expectRevert(BridgeCore.ZeroAmount.selector);
        } else if (amount > MAX) {
            vm.expectRevert(abi.encodeWithSelector(BridgeCore.AmountOutOfRange.selector, amount, 1, MAX));
        }
        l1.depositETH{value: amount}(bob);
    }

    /// A signer subset in an order: finalization succeeds exactly when the
    /// subset reaches the threshold and the order is strictly increasing.
    function testFuzz_signerSetsAndOrderings(uint256 mask, uint256 shuffleSeed, bool shuffle) public {
        _deploy(7, 5);
        vm.deal(address(l1), 1 ether);
        mask = mask & 0x7f;
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes32 digest = l1.hashWithdrawal(w);
        uint256 count;
        for (uint256 i = 0; i < 7; i++) {
            if (mask & (1 << i) != 0) count++;
        }
        uint256[] memory keys = new uint256[](count);
        address[] memory signers = new address[](count);
        uint256 k;
        for (uint256 i = 0; i < 7; i++) {
            if (mask & (1 << i) != 0) {
                keys[k] = relayerKeys[i];
                signers[k] = relayerAddrs[i];
                k++;
            }
        }
        if (shuffle) {
            for (uint256 i = count; i > 1; i--) {
                uint256 j = uint256(keccak256(abi.encode(shuffleSeed, i))) % i;
                (keys[i - 1], keys[j]) = (keys[j], keys[i - 1]);
                (signers[i - 1], signers[j]) = (signers[j], signers[i - 1]);
            }
        }
        bool sorted = true;
        for (uint256 i = 1; i < count; i++) {
            if (signers[i] <= signers[i - 1]) sorted = false;
        }
        bytes[] memory sigs = _sigsOf(digest, keys);
        try l1.finalizeWithdrawal(w, sigs) {
            vm.assertTrue(count >= 5 && sorted, "accepted only with a sorted threshold");
            vm.assertEq(bob.balance, 1 ether, "paid");
        } catch {
            vm.assertFalse(count >= 5 && sorted, "a sorted threshold must be accepted");
            vm.assertEq(bob.balance, 0, "not paid");
        }
    }

    /// Signing keys outside the relayer set never count, whatever their place.
    function testFuzz_strangerSignatureRejected(uint256 strangerKey, uint256 position) public {
        strangerKey = _bound(strangerKey, 1, SECP256K1_N - 1);
        address stranger = vm.addr(strangerKey);
        for (uint256 i = 0; i < relayerAddrs.length; i++) {
            vm.assume(stranger != relayerAddrs[i]);
        }
        vm.deal(address(l1), 1 ether);
        WithdrawalMessage memory w = _withdrawal(1, address(0), true, bob, 1 ether);
        bytes32 digest = l1.hashWithdrawal(w);
        // three relayers plus the stranger, sorted, so that only membership fails
        uint256[] memory keys = new uint256[](4);
        address[] memory addrs = new address[](4);
        uint256 p = position % 4;
        uint256 r;
        for (uint256 i = 0; i < 4; i++) {
            if (i == p) {
                keys[i] = strangerKey;
                addrs[i] = stranger;
            } else {
                keys[i] = relayerKeys[r];
                addrs[i] = relayerAddrs[r];
                r++;
            }
        }
        for (uint256 i = 1; i < 4; i++) {
            for (uint256 j = i; j > 0 && addrs[j - 1] > addrs[j]; j--) {
                (addrs[j - 1], addrs[j]) = (addrs[j], addrs[j - 1]);
                (keys[j - 1], keys[j]) = (keys[j], keys[j - 1]);
            }
        }
        bytes[] memory sigs = _sigsOf(digest, keys);
        vm.expectRevert(abi.encodeWithSelector(BridgeCore.NotRelayer.selector, stranger));
        l1.finalizeWithdrawal(w, sigs);
    }

    /// Every signature has a high-s twin recovering the same signer; it is
    /// always refused.
    function testFuzz_highSRejected(uint256 key, bytes32 digest) public {
        key = _bound(key, 1, SECP256K1_N - 1);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        vm.assertEq(ecrecover(digest, v == 27 ? 28 : 27, r, highS), vm.addr(key), "the twin is valid for ecrecover");
        vm.deal(alice, 1 ether);
        vm.prank(alice);
        side.withdraw{value: 1 ether}(address(0), bob, 1 ether);
        bytes memory twin = abi.encodePacked(r, highS, v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(BridgeCore.HighS.selector);
        side.submitSignature(1, twin);
    }

    /// Thresholds: accepted exactly in [ceil(2n/3), n] for 3 <= n <= 64.
    function testFuzz_thresholdRule(uint256 n, uint256 t) public {
        n = _bound(n, 3, 64);
        t = _bound(t, 0, 70);
        _makeRelayers(n, 0x6000);
        L1Bridge b = new L1Bridge();
        bool ok = 3 * t >= 2 * n && t <= n;
        if (!ok) vm.expectRevert(abi.encodeWithSelector(BridgeCore.BadThreshold.selector, t, n));
        b.initialize(_params(1, address(side), relayerAddrs, t));
    }

    /// Changing any field, chain id or bridge address changes the digest, so
    /// signatures made for one never verify for another.
    function testFuzz_digestBinding(uint8 field, uint256 delta) public {
        vm.assume(delta != 0);
        WithdrawalMessage memory w = _withdrawal(7, address(usdc), true, bob, 1000);
        bytes32 original = l1.hashWithdrawal(w);
        vm.assertEq(original, side.hashWithdrawal(w), "both bridges compute the same digest");
        field = field % 9;
        if (field == 0) w.nonce += 1 + delta % 1000;
        if (field == 1) w.token = address(uint160(w.token) ^ uint160(delta));
        if (field == 2) w.homeL1 = !w.homeL1;
        if (field == 3) w.from = address(uint160(w.from) ^ uint160(delta));
        if (field == 4) w.to = address(uint160(w.to) ^ uint160(delta));
        if (field == 5) w.amount += 1 + delta % 1e30;
        if (field <= 5) {
            vm.assume(keccak256(abi.encode(w)) != keccak256(abi.encode(_withdrawal(7, address(usdc), true, bob, 1000))));
            vm.assertTrue(l1.hashWithdrawal(w) != original, "message field bound");
            return;
        }
        // the same message on a bridge pair that differs in one binding
        uint256 chain = block.chainid;
        address sideAddr = address(side);
        address l1Addr = address(l1);
        L1Bridge other = new L1Bridge();
        if (field == 6) {
            chain = _bound(delta, 1, type(uint64).max);
            vm.assume(chain != block.chainid);
            other.initialize(_params(chain, sideAddr, relayerAddrs, 3)); // other sidechain id
        } else if (field == 7) {
            other.initialize(_params(block.chainid, address(uint160(delta)), relayerAddrs, 3)); // other sidechain bridge
            vm.assume(address(uint160(delta)) != sideAddr);
        } else {
            other.initialize(_params(block.chainid, sideAddr, relayerAddrs, 3)); // other L1 bridge address
        }
        vm.assertTrue(other.hashWithdrawal(w) != original, "bridge pair bound");
        // and the L1 chain id: the same bridge after a fork to another chain id
        uint256 newChain = _bound(delta, 1, type(uint64).max);
        vm.assume(newChain != block.chainid);
        vm.chainId(newChain);
        vm.assertTrue(L1Bridge(l1Addr).hashWithdrawal(w) != original, "L1 chain id bound");
    }

    /// The rolling limit: whatever the sequence of times and amounts, the
    /// accepted amounts inside any 24 h window never exceed the limit, and an
    /// amount that fits in an empty window is accepted when the window is empty.
    function testFuzz_rollingDailyLimit(uint256 seed) public {
        LimiterHarness h = new LimiterHarness();
        uint256 limit = 1000;
        uint256[] memory times = new uint256[](40);
        uint256[] memory amounts = new uint256[](40);
        uint256 accepted;
        uint256 t = 1_700_000_000 + seed % 1 days;
        for (uint256 i = 0; i < 40; i++) {
            t += uint256(keccak256(abi.encode(seed, i, "dt"))) % 5 hours;
            uint256 amount = 1 + uint256(keccak256(abi.encode(seed, i, "amount"))) % 400;
            vm.warp(t);
            bool emptyWindow = true;
            for (uint256 j = 0; j < accepted; j++) {
                if (times[j] + 30 hours > t) emptyWindow = false;
            }
            bool ok = h.use(limit, amount);
            if (emptyWindow) vm.assertTrue(ok, "an empty window admits any amount up to the limit");
            if (ok) {
                times[accepted] = t;
                amounts[accepted] = amount;
                accepted++;
            }
        }
        for (uint256 i = 0; i < accepted; i++) {
            uint256 sum;
            for (uint256 j = 0; j < accepted; j++) {
                if (times[j] >= times[i] && times[j] < times[i] + 24 hours) sum += amounts[j];
            }
            vm.assertLe(sum, limit, "outflow in a 24 h window");
        }
    }
}
