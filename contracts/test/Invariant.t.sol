// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "./utils/Vm.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {BridgeCore} from "../src/BridgeCore.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {BridgedToken} from "../src/BridgedToken.sol";
import {DepositMessage, WithdrawalMessage, TokenConfig, TokenListing} from "../src/BridgeTypes.sol";
import {MockERC20} from "./mocks/Tokens.sol";

/// Drives both bridges as users, honest relayers and attackers would, in
/// random order, and keeps ghost totals for the invariants.
contract BridgeHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    L1Bridge internal l1;
    SidechainBridge internal side;
    MockERC20 internal usdc; // L1 asset
    MockERC20 internal sideToken; // sidechain asset
    uint256[] internal keys;
    address[] internal relayers;
    uint256 internal threshold;
    address internal guardian;

    DepositMessage[] internal deposits; // seen on L1, maybe not yet relayed
    WithdrawalMessage[] internal withdrawals; // requested on the sidechain

    // ghost totals per flow: 2 * asset + direction, asset 0 = ETH, 1 = usdc,
    // 2 = sideToken; direction 0 = L1 -> sidechain, 1 = sidechain -> L1
    uint256[6] public sentOut; // taken from users at the source
    uint256[6] public paidIn; // paid to users at the destination
    /// Native coin the handler holds on the sidechain (only what deposits
    /// released: the test EVM shares one balance between the two chains).
    uint256 public sideNativeHeld;
    uint256 public unauthorizedSuccesses;
    uint256 public replaySuccesses;
    mapping(uint256 => uint256) public depositRuns; // deposit nonce => payouts
    mapping(uint256 => uint256) public withdrawalRuns; // withdrawal nonce => payouts
    mapping(uint256 => bool) public depositCancelled;
    mapping(uint256 => bool) public withdrawalCancelled;
    uint256 public cancels;
    uint256 public calls;

    constructor(
        L1Bridge l1_,
        SidechainBridge side_,
        MockERC20 usdc_,
        MockERC20 sideToken_,
        uint256[] memory keys_,
        address[] memory relayers_,
        address guardian_
    ) {
        guardian = guardian_;
        l1 = l1_;
        side = side_;
        usdc = usdc_;
        sideToken = sideToken_;
        keys = keys_;
        relayers = relayers_;
        threshold = l1_.threshold();
    }

    receive() external payable {}

    // ------------------------------------------------------------- users

    function depositETH(uint256 amount) external {
        calls++;
        amount = 1 + amount % 150_000 ether; // some above the delay size
        vm.deal(address(this), address(this).balance + amount);
        uint256 nonce = l1.depositETH{value: amount}(address(this));
        deposits.push(DepositMessage(nonce, address(0), true, address(this), address(this), amount));
        sentOut[0] += amount;
    }

    function depositUSDC(uint256 amount) external {
        calls++;
        amount = 1 + amount % 150_000e18;
        usdc.mint(address(this), amount);
        usdc.approve(address(l1), amount);
        uint256 nonce = l1.depositERC20(address(usdc), address(this), amount);
        deposits.push(DepositMessage(nonce, address(usdc), true, address(this), address(this), amount));
        sentOut[2] += amount;
    }

    /// Sends the L1 bridged sideToken home (burn on L1, release on the sidechain).
    function depositSideTokenHome(uint256 amount) external {
        calls++;
        address t = l1.bridgedToken(address(sideToken), false);
        if (t == address(0)) return;
        uint256 balance = BridgedToken(t).balanceOf(address(this));
        if (balance == 0) return;
        amount = 1 + amount % balance;
        uint256 nonce = l1.depositERC20(t, address(this), amount);
        deposits.push(DepositMessage(nonce, address(sideToken), false, address(this), address(this), amount));
        sentOut[4] += amount;
    }

    function withdrawNative(uint256 amount) external {
        calls++;
        if (sideNativeHeld == 0) return;
        amount = 1 + amount % sideNativeHeld;
        sideNativeHeld -= amount;
        vm.deal(address(this), address(this).balance + amount);
        uint256 nonce = side.withdraw{value: amount}(address(0), address(this), amount);
        withdrawals.push(WithdrawalMessage(nonce, address(0), true, address(this), address(this), amount));
        sentOut[1] += amount;
    }

    function withdrawUSDC(uint256 amount) external {
        calls++;
        address t = side.bridgedToken(address(usdc), true);
        if (t == address(0)) return;
        uint256 balance = BridgedToken(t).balanceOf(address(this));
        if (balance == 0) return;
        amount = 1 + amount % balance;
        uint256 nonce = side.withdraw(t, address(this), amount);
        withdrawals.push(WithdrawalMessage(nonce, address(usdc), true, address(this), address(this), amount));
        sentOut[3] += amount;
    }

    function withdrawSideToken(uint256 amount) external {
        calls++;
        amount = 1 + amount % 150_000e18;
        sideToken.mint(address(this), amount);
        sideToken.approve(address(side), amount);
        uint256 nonce = side.withdraw(address(sideToken), address(this), amount);
        withdrawals.push(WithdrawalMessage(nonce, address(sideToken), false, address(this), address(this), amount));
        sentOut[5] += amount;
    }

    // ---------------------------------------------------- honest relayers

    /// Relayers confirm a deposit; `votes` of them, starting at `first`.
    /// Relayers vote on a deposit: with `pending`, the next one not yet
    /// processed at or after `index`; otherwise any (a replay if done).
    function relayDeposit(uint256 index, uint256 first, uint256 votes, bool pending) external {
        calls++;
        if (deposits.length == 0) return;
        index = index % deposits.length;
        if (pending) {
            for (uint256 k = 0; k < deposits.length && _status(side, deposits[index].nonce) != 0; k++) {
                index = (index + 1) % deposits.length;
            }
        }
        DepositMessage memory d = deposits[index];
        votes = votes % 4 == 0 ? threshold - 1 : threshold; // mostly enough, sometimes a vote short
        for (uint256 i = 0; i < votes; i++) {
            address r = relayers[(first % relayers.length + i) % relayers.length];
            uint256 before = _status(side, d.nonce);
            vm.prank(r);
            try side.confirmDeposit(d) {
                if (before != 0) replaySuccesses++;
                _countDeposit(d, before);
            } catch {}
        }
    }

    /// Anyone finalizes a withdrawal with relayer signatures: with `pending`,
    /// the next one not yet processed at or after `index`; otherwise any.
    function finalizeWithdrawal(uint256 index, uint256 extra, bool pending) external {
        calls++;
        if (withdrawals.length == 0) return;
        index = index % withdrawals.length;
        if (pending) {
            for (uint256 k = 0; k < withdrawals.length && _status(l1, withdrawals[index].nonce) != 0; k++) {
                index = (index + 1) % withdrawals.length;
            }
        }
        WithdrawalMessage memory w = withdrawals[index];
        uint256 n = threshold + extra % (relayers.length - threshold + 1);
        bytes[] memory sigs = _sign(side.withdrawalDigest(w.nonce), n);
        uint256 before = _status(l1, w.nonce);
        try l1.finalizeWithdrawal(w, sigs) {
            if (before != 0) replaySuccesses++;
            _countWithdrawal(w);
        } catch {}
    }

    function executeQueuedDeposit(uint256 index) external {
        calls++;
        if (deposits.length == 0) return;
        DepositMessage memory d = deposits[index % deposits.length];
        try side.executeQueuedDeposit(d) {
            _paid(d.token, d.homeL1, 0, d.amount);
            depositRuns[d.nonce]++;
        } catch {}
    }

    function executeQueuedWithdrawal(uint256 index) external {
        calls++;
        if (withdrawals.length == 0) return;
        WithdrawalMessage memory w = withdrawals[index % withdrawals.length];
        try l1.executeQueuedWithdrawal(w) {
            _paid(w.token, w.homeL1, 1, w.amount);
            withdrawalRuns[w.nonce]++;
        } catch {}
    }

    /// The guardian cancels whatever is queued at that index (large or over
    /// the daily limit), on either side.
    function guardianCancels(uint256 index, bool onL1) external {
        calls++;
        vm.startPrank(guardian);
        if (onL1 && withdrawals.length > 0) {
            uint256 nonce = withdrawals[index % withdrawals.length].nonce;
            try l1.cancelQueued(nonce) {
                withdrawalCancelled[nonce] = true;
                cancels++;
            } catch {}
        } else if (!onL1 && deposits.length > 0) {
            uint256 nonce = deposits[index % deposits.length].nonce;
            try side.cancelQueued(nonce) {
                depositCancelled[nonce] = true;
                cancels++;
            } catch {}
        }
        vm.stopPrank();
    }

    function warp(uint256 dt) external {
        calls++;
        vm.warp(block.timestamp + dt % 1 days);
    }

    // -------------------------------------------------------- attackers

    /// Below-threshold signatures over a made-up withdrawal paying the attacker.
    function forgeWithdrawal(uint256 nonce, uint256 amount, uint256 signers) external {
        calls++;
        WithdrawalMessage memory w =
            WithdrawalMessage(1 + nonce % 1000, address(0), true, address(0xBAD), address(0xBAD), 1 + amount % 1e24);
        bytes[] memory sigs = _sign(l1.hashWithdrawal(w), signers % threshold);
        try l1.finalizeWithdrawal(w, sigs) {
            unauthorizedSuccesses++;
        } catch {}
    }

    /// Threshold signatures from keys that are not relayers.
    function strangersSign(uint256 nonce, uint256 seed) external {
        calls++;
        WithdrawalMessage memory w =
            WithdrawalMessage(1 + nonce % 1000, address(0), true, address(0xBAD), address(0xBAD), 1 ether);
        bytes32 digest = l1.hashWithdrawal(w);
        uint256[] memory strangerKeys = new uint256[](threshold);
        address[] memory addrs = new address[](threshold);
        for (uint256 i = 0; i < threshold; i++) {
            strangerKeys[i] = uint256(keccak256(abi.encode(seed, i))) % 1e70 + 1;
            addrs[i] = vm.addr(strangerKeys[i]);
            for (uint256 j = i; j > 0 && addrs[j - 1] > addrs[j]; j--) {
                (addrs[j - 1], addrs[j]) = (addrs[j], addrs[j - 1]);
                (strangerKeys[j - 1], strangerKeys[j]) = (strangerKeys[j], strangerKeys[j - 1]);
            }
        }
        bytes[] memory sigs = new bytes[](threshold);
        for (uint256 i = 0; i < threshold; i++) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(strangerKeys[i], digest);
            sigs[i] = abi.encodePacked(r, s, v);
        }
        try l1.finalizeWithdrawal(w, sigs) {
            unauthorizedSuccesses++;
        } catch {}
    }

    /// A non-relayer confirms a made-up deposit, as often as it likes.
    function strangerConfirms(uint256 nonce, uint256 times) external {
        calls++;
        DepositMessage memory d =
            DepositMessage(1_000_000 + nonce % 1000, address(0), true, address(0xBAD), address(0xBAD), 1 ether);
        for (uint256 i = 0; i < 1 + times % 5; i++) {
            vm.prank(address(0xBAD));
            try side.confirmDeposit(d) {
                unauthorizedSuccesses++;
            } catch {}
        }
    }

    /// The same threshold - 1 compromised relayers confirm made-up deposits
    /// (the others are honest and never confirm them).
    function minorityConfirms(uint256 nonce) external {
        calls++;
        DepositMessage memory d =
            DepositMessage(2_000_000 + nonce % 1000, address(0), true, address(0xBAD), address(0xBAD), 1 ether);
        for (uint256 i = 0; i + 1 < threshold; i++) {
            vm.prank(relayers[i]);
            try side.confirmDeposit(d) {} catch {}
        }
    }

    // ----------------------------------------------------------- helpers

    function _sign(bytes32 digest, uint256 n) internal view returns (bytes[] memory sigs) {
        sigs = new bytes[](n);
        for (uint256 i = 0; i < n; i++) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs[i] = abi.encodePacked(r, s, v);
        }
    }

    function _status(BridgeCore b, uint256 nonce) internal view returns (uint256) {
        (,, BridgeCore.Status st) = b.incoming(nonce);
        return uint256(st);
    }

    function _countDeposit(DepositMessage memory d, uint256 before) internal {
        if (before == 0 && _status(side, d.nonce) == uint256(BridgeCore.Status.Executed)) {
            _paid(d.token, d.homeL1, 0, d.amount);
            depositRuns[d.nonce]++;
        }
    }

    function _countWithdrawal(WithdrawalMessage memory w) internal {
        if (_status(l1, w.nonce) == uint256(BridgeCore.Status.Executed)) {
            _paid(w.token, w.homeL1, 1, w.amount);
            withdrawalRuns[w.nonce]++;
        }
    }

    function _paid(address token, bool homeL1, uint256 direction, uint256 amount) internal {
        uint256 asset = token == address(0) ? 0 : homeL1 ? 1 : 2;
        paidIn[2 * asset + direction] += amount;
        if (asset == 0 && direction == 0) sideNativeHeld += amount;
    }

    function depositCount() external view returns (uint256) {
        return deposits.length;
    }

    function withdrawalCount() external view returns (uint256) {
        return withdrawals.length;
    }

    function depositNonceAt(uint256 i) external view returns (uint256) {
        return deposits[i].nonce;
    }

    function withdrawalNonceAt(uint256 i) external view returns (uint256) {
        return withdrawals[i].nonce;
    }
}

/// The invariants the issue names, over random sequences of handler calls.
contract InvariantTest is BridgeFixture {
    BridgeHandler internal handler;

    function setUp() public override {
        _deploy(4, 3);
        handler = new BridgeHandler(l1, side, usdc, sideToken, relayerKeys, relayerAddrs, guardian);
    }

    /// Tighter limits than the unit tests' so that random amounts (up to
    /// 150k) hit both the delay (>= 100k) and the daily limit (200k).
    function _tokens() internal view override returns (TokenListing[] memory list) {
        TokenConfig memory c = _cfg(1, 150_000e18, 200_000e18, 100_000e18);
        list = new TokenListing[](3);
        list[0] = TokenListing(address(0), true, c, _meta("", "", 18));
        list[1] = TokenListing(address(usdc), true, c, _meta("Bridged USDC", "USDC.o", 18));
        list[2] = TokenListing(address(sideToken), false, c, _meta("Side on L1", "SIDE.l1", 18));
    }

    /// forge's invariant runner calls only these contracts.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// Locked on L1 >= minted (or released) on the sidechain, per asset, and
    /// the reverse for the sidechain's own token.
    function invariant_lockedCoversMinted() public view {
        uint256 circulating =
            SIDE_NATIVE_SUPPLY > address(side).balance ? SIDE_NATIVE_SUPPLY - address(side).balance : 0;
        vm.assertGe(address(l1).balance, circulating, "ETH locked on L1 >= native coin out on the sidechain");
        address sUsdc = side.bridgedToken(address(usdc), true);
        uint256 minted = sUsdc == address(0) ? 0 : BridgedToken(sUsdc).totalSupply();
        vm.assertGe(usdc.balanceOf(address(l1)), minted, "USDC locked on L1 >= minted on the sidechain");
        address lSide = l1.bridgedToken(address(sideToken), false);
        uint256 mintedL1 = lSide == address(0) ? 0 : BridgedToken(lSide).totalSupply();
        vm.assertGe(sideToken.balanceOf(address(side)), mintedL1, "SIDE locked on the sidechain >= minted on L1");
    }

    /// Nothing is paid out at a destination beyond what was taken at the source.
    function invariant_paidNeverExceedsSent() public view {
        for (uint256 i = 0; i < 6; i++) {
            vm.assertLe(handler.paidIn(i), handler.sentOut(i), "paid in <= sent out");
        }
    }

    /// No withdrawal nonce finalized twice; no deposit nonce executed twice.
    function invariant_eachNonceRunsOnce() public view {
        for (uint256 i = 0; i < handler.withdrawalCount(); i++) {
            vm.assertLe(handler.withdrawalRuns(handler.withdrawalNonceAt(i)), 1, "withdrawal finalized once");
        }
        for (uint256 i = 0; i < handler.depositCount(); i++) {
            vm.assertLe(handler.depositRuns(handler.depositNonceAt(i)), 1, "deposit executed once");
        }
        vm.assertEq(handler.replaySuccesses(), 0, "no replay accepted");
    }

    /// A cancelled transfer never pays.
    function invariant_cancelledNeverPaid() public view {
        for (uint256 i = 0; i < handler.withdrawalCount(); i++) {
            uint256 n = handler.withdrawalNonceAt(i);
            if (handler.withdrawalCancelled(n)) vm.assertEq(handler.withdrawalRuns(n), 0, "cancelled withdrawal paid");
        }
        for (uint256 i = 0; i < handler.depositCount(); i++) {
            uint256 n = handler.depositNonceAt(i);
            if (handler.depositCancelled(n)) vm.assertEq(handler.depositRuns(n), 0, "cancelled deposit paid");
        }
    }

    /// Without threshold signatures (or votes) nothing changes: forged,
    /// minority and stranger attempts never succeed and pay nobody.
    function invariant_noStateChangeWithoutThreshold() public view {
        vm.assertEq(handler.unauthorizedSuccesses(), 0, "unauthorized call succeeded");
        vm.assertEq(address(0xBAD).balance, 0, "attacker got nothing");
        vm.assertEq(l1.relayerSetVersion(), 1, "relayer set unchanged");
        vm.assertEq(l1.governance(), governance, "governance unchanged");
    }
}
