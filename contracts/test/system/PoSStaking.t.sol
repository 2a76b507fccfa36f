// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {SystemFixture, MockSigner} from "./SystemMocks.sol";
import {console} from "../utils/Vm.sol";
import {SystemContract} from "../../src/system/SystemContract.sol";
import {PoSStaking} from "../../src/system/PoSStaking.sol";

/// A PoSStaking at 0x…1000 with the precompile stand-ins, and helpers acting
/// as operators.
abstract contract PoSFixture is SystemFixture {
    PoSStaking internal pos;
    uint256 internal constant UNIT = 1 ether;
    uint256 internal constant MIN = 2 ether;

    function setUp() public virtual {
        _installPrecompiles();
        pos = PoSStaking(payable(_predeploy(address(new PoSStaking()))));
        vm.roll(1);
    }

    /// Reporter rewards come here.
    receive() external payable {}

    function _params(uint64 maxValidators, uint64 maxCandidates) internal pure returns (PoSStaking.PoSParams memory) {
        return PoSStaking.PoSParams({
            minStake: MIN,
            powerUnit: UNIT,
            maxValidators: maxValidators,
            maxCandidates: maxCandidates,
            unbondingEpochs: 2,
            epochBlocks: 100,
            slashBps: 500,
            reporterRewardBps: 1000
        });
    }

    /// Genesis: validators 0..n-1 with power 2 (bonded 2 ether), operators set.
    function _init(uint256 n, PoSStaking.PoSParams memory p) internal {
        bytes32[] memory keys = new bytes32[](n);
        uint64[] memory powers = new uint64[](n);
        address[] memory ops = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            keys[i] = _key(i);
            powers[i] = 2;
            ops[i] = _operator(i);
        }
        vm.deal(address(pos), n * 2 * p.powerUnit); // what the genesis alloc credits
        vm.prank(SYSTEM);
        pos.initialize(keys, powers, ops, p);
    }

    function _register(uint256 i) internal {
        vm.prank(_operator(i));
        pos.register(_key(i), MockSigner.registration(_key(i), block.chainid, address(pos), _operator(i)));
    }

    function _stake(uint256 i, uint256 amount) internal {
        vm.deal(_operator(i), _operator(i).balance + amount);
        vm.prank(_operator(i));
        pos.stake{value: amount}();
    }

    function _join(uint256 i, uint256 amount) internal {
        _register(i);
        _stake(i, amount);
    }

    function _endEpoch() internal returns (bytes32[] memory keys, uint64[] memory powers) {
        uint64 e = pos.epoch();
        vm.prank(SYSTEM);
        return pos.epochEnd(e);
    }

    function _bonded(uint256 i) internal view returns (uint256 bonded) {
        (bonded,,) = pos.stakeOf(_key(i));
    }

    function _unbonding(uint256 i) internal view returns (uint256 unbonding) {
        (, unbonding,) = pos.stakeOf(_key(i));
    }

    function _jailed(uint256 i) internal view returns (bool jailed) {
        (,, jailed) = pos.stakeOf(_key(i));
    }
}

/// PoSStaking: genesis, registration, stake, unbonding, slashing, selection.
contract PoSStakingTest is PoSFixture {
    address internal reporter = address(0xBEEF);

    // ------------------------------------------------------------- initialize

    function test_initialize_genesisStake() public {
        _init(3, _params(100, 1000));
        (bytes32[] memory keys, uint64[] memory powers) = pos.validators();
        vm.assertEq(keys.length, 3, "genesis set");
        vm.assertEq(powers[0], 2, "power");
        vm.assertEq(_bonded(1), 2 ether, "bonded = power * powerUnit");
        vm.assertEq(pos.operatorOf(_key(1)), _operator(1), "operator");
        vm.assertEq(pos.keyOf(_operator(1)), _key(1), "key");
        vm.assertEq(pos.candidates().length, 3, "candidates");
        vm.assertTrue(pos.isRegistered(_key(2)), "registered");
    }

    function test_initialize_zeroOperatorsAllowed() public {
        bytes32[] memory keys = new bytes32[](2);
        (keys[0], keys[1]) = (_key(0), _key(1));
        uint64[] memory powers = new uint64[](2);
        (powers[0], powers[1]) = (2, 3);
        vm.prank(SYSTEM);
        pos.initialize(keys, powers, new address[](2), _params(100, 1000));
        vm.assertEq(pos.operatorOf(_key(0)), address(0), "no operator");
        vm.assertEq(pos.keyOf(address(0)), bytes32(0), "zero address maps to nothing");
        vm.assertEq(_bonded(1), 3 ether, "bonded");
    }

    function test_initialize_rejections() public {
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = _key(0);
        uint64[] memory powers = new uint64[](1);
        powers[0] = 2;
        address[] memory ops = new address[](1);
        PoSStaking.PoSParams memory p = _params(100, 1000);

        vm.expectRevert(abi.encodeWithSelector(SystemContract.NotSystem.selector, address(this)));
        pos.initialize(keys, powers, ops, p);

        p.powerUnit = 0;
        _expectInit(
            keys, powers, ops, p, abi.encodeWithSelector(SystemContract.BadParams.selector, "minStake/powerUnit")
        );
        p = _params(100, 1000);
        p.minStake = UNIT - 1;
        _expectInit(
            keys, powers, ops, p, abi.encodeWithSelector(SystemContract.BadParams.selector, "minStake/powerUnit")
        );
        _expectInit(
            keys,
            powers,
            ops,
            _params(0, 1000),
            abi.encodeWithSelector(SystemContract.BadParams.selector, "maxValidators")
        );
        _expectInit(
            keys,
            powers,
            ops,
            _params(129, 1000),
            abi.encodeWithSelector(SystemContract.BadParams.selector, "maxValidators")
        );
        _expectInit(
            keys,
            powers,
            ops,
            _params(10, 9),
            abi.encodeWithSelector(SystemContract.BadParams.selector, "maxCandidates")
        );
        _expectInit(
            keys,
            powers,
            ops,
            _params(10, 1025),
            abi.encodeWithSelector(SystemContract.BadParams.selector, "maxCandidates")
        );
        p = _params(100, 1000);
        p.unbondingEpochs = 0;
        _expectInit(keys, powers, ops, p, abi.encodeWithSelector(SystemContract.BadParams.selector, "unbondingEpochs"));
        p = _params(100, 1000);
        p.epochBlocks = 0;
        _expectInit(keys, powers, ops, p, abi.encodeWithSelector(SystemContract.BadParams.selector, "epochBlocks"));
        p = _params(100, 1000);
        p.slashBps = 10_001;
        _expectInit(keys, powers, ops, p, abi.encodeWithSelector(SystemContract.BadParams.selector, "bps"));
        p = _params(100, 1000);
        p.reporterRewardBps = 10_001;
        _expectInit(keys, powers, ops, p, abi.encodeWithSelector(SystemContract.BadParams.selector, "bps"));

        powers[0] = 1; // 1 ether < minStake 2 ether
        _expectInit(
            keys,
            powers,
            ops,
            _params(100, 1000),
            abi.encodeWithSelector(PoSStaking.GenesisStakeBelowMinimum.selector, _key(0), 1 ether)
        );

        bytes32[] memory two = new bytes32[](2);
        (two[0], two[1]) = (_key(0), _key(1));
        uint64[] memory twoPowers = new uint64[](2);
        (twoPowers[0], twoPowers[1]) = (2, 2);
        address[] memory dupOps = new address[](2);
        (dupOps[0], dupOps[1]) = (_operator(0), _operator(0));
        _expectInit(
            two,
            twoPowers,
            dupOps,
            _params(100, 1000),
            abi.encodeWithSelector(SystemContract.DuplicateOperator.selector, _operator(0))
        );
        two[1] = _key(0);
        _expectInit(
            two,
            twoPowers,
            new address[](2),
            _params(100, 1000),
            abi.encodeWithSelector(SystemContract.DuplicateKey.selector, _key(0))
        );
        twoPowers[0] = 0;
        two[1] = _key(1);
        _expectInit(
            two,
            twoPowers,
            new address[](2),
            _params(100, 1000),
            abi.encodeWithSelector(SystemContract.ZeroPower.selector, _key(0))
        );
    }

    function _expectInit(
        bytes32[] memory keys,
        uint64[] memory powers,
        address[] memory ops,
        PoSStaking.PoSParams memory p,
        bytes memory err
    ) internal {
        vm.prank(SYSTEM);
        vm.expectRevert(err);
        pos.initialize(keys, powers, ops, p);
    }

    function test_initialize_totalPowerBound() public {
        PoSStaking.PoSParams memory p = _params(100, 1000);
        (p.minStake, p.powerUnit) = (1, 1);
        bytes32[] memory keys = new bytes32[](2);
        (keys[0], keys[1]) = (_key(0), _key(1));
        uint64[] memory powers = new uint64[](2);
        (powers[0], powers[1]) = (uint64(pos.TOTAL_POWER_MAX()), 1);
        _expectInit(
            keys,
            powers,
            new address[](2),
            p,
            abi.encodeWithSelector(SystemContract.TotalPowerTooLarge.selector, pos.TOTAL_POWER_MAX() + 1)
        );
    }

    // --------------------------------------------------------------- register

    function test_register_withProofOfPossession() public {
        _init(1, _params(100, 1000));
        _register(5);
        vm.assertEq(pos.operatorOf(_key(5)), _operator(5), "operator");
        vm.assertEq(pos.keyOf(_operator(5)), _key(5), "key");
        vm.assertTrue(pos.isRegistered(_key(5)), "registered");
        vm.assertEq(pos.candidates().length, 1, "no stake yet: not a candidate");
    }

    function test_register_signatureBindsChainContractAndOperator() public {
        _init(1, _params(100, 1000));
        bytes32 key = _key(5);
        bytes[3] memory wrong = [
            MockSigner.registration(key, block.chainid + 1, address(pos), _operator(5)),
            MockSigner.registration(key, block.chainid, address(0x1001), _operator(5)),
            MockSigner.registration(key, block.chainid, address(pos), _operator(6))
        ];
        for (uint256 i = 0; i < 3; i++) {
            vm.prank(_operator(5));
            vm.expectRevert(abi.encodeWithSelector(PoSStaking.InvalidProofOfPossession.selector, key));
            pos.register(key, wrong[i]);
        }
        // someone else's valid proof for the same key cannot be replayed
        bytes memory sig = MockSigner.registration(key, block.chainid, address(pos), _operator(5));
        vm.prank(_operator(6));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.InvalidProofOfPossession.selector, key));
        pos.register(key, sig);
    }

    function test_register_rejections() public {
        _init(1, _params(100, 1000));
        bytes memory sig = MockSigner.registration(_key(5), block.chainid, address(pos), _operator(5));
        vm.startPrank(_operator(5));
        vm.expectRevert(SystemContract.ZeroKey.selector);
        pos.register(bytes32(0), sig);
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.BadSignatureLength.selector, 63));
        pos.register(_key(5), new bytes(63));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.KeyAlreadyRegistered.selector, _key(0)));
        pos.register(_key(0), sig);
        pos.register(_key(5), sig);
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.KeyAlreadyRegistered.selector, _key(5)));
        pos.register(_key(5), sig);
        bytes memory sig6 = MockSigner.registration(_key(6), block.chainid, address(pos), _operator(5));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.OperatorAlreadyRegistered.selector, _operator(5), _key(5)));
        pos.register(_key(6), sig6);
        vm.stopPrank();
    }

    function test_register_beforeInitialize() public {
        vm.expectRevert(SystemContract.NotInitialized.selector);
        pos.register(_key(5), new bytes(64));
    }

    // ------------------------------------------------------------------ stake

    function test_stake_bondsAndBecomesCandidateAtMinStake() public {
        _init(1, _params(100, 1000));
        _register(5);
        _stake(5, 1 ether);
        vm.assertEq(_bonded(5), 1 ether, "bonded");
        vm.assertEq(pos.candidates().length, 1, "below minStake");
        _stake(5, 1 ether);
        vm.assertEq(pos.candidates().length, 2, "at minStake");
        vm.assertEq(address(pos).balance, 4 ether, "coin held");
    }

    function test_stake_rejections() public {
        _init(1, _params(1, 2));
        vm.deal(_operator(5), 10 ether);
        vm.prank(_operator(5));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.NotRegistered.selector, _operator(5)));
        pos.stake{value: 1 ether}();
        _register(5);
        vm.prank(_operator(5));
        vm.expectRevert(PoSStaking.ZeroAmount.selector);
        pos.stake{value: 0}();
        _join(6, 2 ether); // candidates: 0 and 6, the maximum
        vm.prank(_operator(5));
        pos.stake{value: 1 ether}(); // below minStake: fine, not a candidate
        vm.prank(_operator(5));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.CandidatesFull.selector, 2));
        pos.stake{value: 1 ether}();
        // room again once a candidate leaves
        vm.prank(_operator(6));
        pos.unstake(1);
        vm.prank(_operator(5));
        pos.stake{value: 1 ether}();
        vm.assertEq(pos.candidates().length, 2, "5 took 6's place");
    }

    // ---------------------------------------------------------------- unstake

    function test_unstake_timingAndWithdraw() public {
        _init(2, _params(100, 1000)); // unbondingEpochs 2
        vm.prank(_operator(0));
        pos.unstake(0.5 ether);
        vm.prank(_operator(0));
        pos.unstake(0.25 ether); // same epoch: same entry
        PoSStaking.Unbonding[] memory entries = pos.unbondingsOf(_key(0));
        vm.assertEq(entries.length, 1, "merged");
        vm.assertEq(entries[0].amount, 0.75 ether, "amount");
        vm.assertEq(entries[0].releaseEpoch, 3, "epoch 0 + 2 + 1");
        vm.assertEq(_bonded(0), 1.25 ether, "bonded");
        vm.assertEq(_unbonding(0), 0.75 ether, "unbonding");
        vm.assertEq(pos.candidates().length, 1, "below minStake: not a candidate");

        _endEpoch();
        vm.prank(_operator(0));
        pos.unstake(1 ether); // epoch 1: released at 4
        _endEpoch();
        vm.prank(_operator(0));
        vm.expectRevert(PoSStaking.NothingToWithdraw.selector);
        pos.withdraw(); // epoch 2: nothing released
        _endEpoch();
        vm.prank(_operator(0));
        uint256 paid = pos.withdraw(); // epoch 3
        vm.assertEq(paid, 0.75 ether, "first entry");
        vm.assertEq(_operator(0).balance, 0.75 ether, "paid to the operator");
        vm.assertEq(pos.unbondingsOf(_key(0)).length, 1, "second entry kept");
        vm.assertEq(_unbonding(0), 1 ether, "unbonding left");
        _endEpoch();
        vm.prank(_operator(0));
        vm.assertEq(pos.withdraw(), 1 ether, "second entry");
        vm.assertEq(_unbonding(0), 0, "all out");
        vm.assertEq(address(pos).balance, 2.25 ether, "the rest: 0.25 bonded + validator 1");
    }

    function test_unstake_rejections() public {
        _init(1, _params(100, 1000));
        vm.prank(_operator(9));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.NotRegistered.selector, _operator(9)));
        pos.unstake(1);
        vm.startPrank(_operator(0));
        vm.expectRevert(PoSStaking.ZeroAmount.selector);
        pos.unstake(0);
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.InsufficientBonded.selector, 2 ether + 1, 2 ether));
        pos.unstake(2 ether + 1);
        vm.stopPrank();
        vm.prank(_operator(9));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.NotRegistered.selector, _operator(9)));
        pos.withdraw();
    }

    function test_unstake_atMost16OpenEntries() public {
        _init(1, _params(100, 1000));
        for (uint256 i = 0; i < 16; i++) {
            vm.prank(_operator(0));
            pos.unstake(1);
            _endEpoch();
        }
        vm.prank(_operator(0));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.TooManyUnbondings.selector, _key(0)));
        pos.unstake(1);
        // withdrawing released entries frees room
        vm.prank(_operator(0));
        vm.assertEq(pos.withdraw(), 14, "entries of epochs 0..13 released by epoch 16");
        vm.prank(_operator(0));
        pos.unstake(1);
    }

    function test_withdraw_reentrancyRefused() public {
        _init(1, _params(100, 1000));
        Reenterer attacker = new Reenterer(pos);
        vm.prank(address(attacker));
        pos.register(_key(7), MockSigner.registration(_key(7), block.chainid, address(pos), address(attacker)));
        vm.deal(address(attacker), 3 ether);
        attacker.stakeAndUnstake(3 ether);
        for (uint256 i = 0; i < 3; i++) {
            _endEpoch();
        }
        uint256 before = address(pos).balance;
        // the reentrant withdraw reverts, so the payout fails and so does the call
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.TransferFailed.selector, address(attacker), 3 ether));
        attacker.withdraw();
        vm.assertEq(address(pos).balance, before, "nothing left the contract");
        vm.assertEq(_unbonding(7), 3 ether, "entry intact");
        // without the reentry it is paid once
        attacker.setReenter(false);
        attacker.withdraw();
        vm.assertEq(address(attacker).balance, 3 ether, "paid once");
        vm.assertEq(address(pos).balance, before - 3 ether, "once");
    }

    // --------------------------------------------------------------- slashing

    function test_report_slashesBondedAndTombstones() public {
        _init(4, _params(100, 1000)); // slash 5%, reward 10% of it
        vm.roll(50);
        vm.prank(reporter);
        pos.reportEquivocation(MockSigner.evidence(_key(1), 40, 2, true));
        // 2 ether * 5% = 0.1 ether; reward 0.01 ether
        vm.assertEq(_bonded(1), 1.9 ether, "bonded slashed");
        vm.assertTrue(_jailed(1), "tombstoned");
        vm.assertEq(reporter.balance, 0.01 ether, "reporter reward");
        vm.assertEq(pos.totalSlashed(), 0.09 ether, "locked");
        vm.assertTrue(pos.reported(_key(1), 40), "recorded");
        vm.assertEq(pos.candidates().length, 3, "no longer a candidate");
        (bytes32[] memory keys,) = _endEpoch();
        vm.assertEq(keys.length, 3, "excluded from the next set");
        for (uint256 i = 0; i < keys.length; i++) {
            vm.assertTrue(keys[i] != _key(1), "jailed key absent");
        }
        // jailed: cannot stake, can unstake and withdraw
        vm.deal(_operator(1), 1 ether);
        vm.prank(_operator(1));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.Jailed.selector, _key(1)));
        pos.stake{value: 1 ether}();
        vm.prank(_operator(1));
        pos.unstake(1.9 ether);
        for (uint256 i = 0; i < 3; i++) {
            _endEpoch();
        }
        vm.prank(_operator(1));
        vm.assertEq(pos.withdraw(), 1.9 ether, "the rest withdrawn");
        _assertAccounting(4);
    }

    function test_report_slashSpillsIntoUnbondingEntries() public {
        PoSStaking.PoSParams memory p = _params(100, 1000);
        p.slashBps = 6000; // 60%
        p.reporterRewardBps = 0;
        _init(2, p);
        vm.prank(_operator(0));
        pos.unstake(1 ether); // entry A (release 3)
        _endEpoch();
        vm.prank(_operator(0));
        pos.unstake(0.6 ether); // entry B (release 4); bonded 0.4
        vm.prank(reporter);
        pos.reportEquivocation(MockSigner.evidence(_key(0), 1, 0, true));
        // stake 2 ether, slash 1.2: 0.4 from bonded, then 0.8 from entry A
        vm.assertEq(_bonded(0), 0, "bonded first");
        vm.assertEq(_unbonding(0), 0.8 ether, "then unbonding");
        PoSStaking.Unbonding[] memory entries = pos.unbondingsOf(_key(0));
        vm.assertEq(entries[0].amount, 0.2 ether, "oldest entry first");
        vm.assertEq(entries[1].amount, 0.6 ether, "second untouched");
        vm.assertEq(reporter.balance, 0, "no reward configured");
        vm.assertEq(pos.totalSlashed(), 1.2 ether, "all locked");
        for (uint256 i = 0; i < 3; i++) {
            _endEpoch();
        }
        vm.prank(_operator(0));
        vm.assertEq(pos.withdraw(), 0.8 ether, "what is left");
        _assertAccounting(2);
    }

    function test_report_onceperKeyAndHeight() public {
        _init(2, _params(100, 1000));
        bytes memory ev = MockSigner.evidence(_key(0), 1, 0, true);
        pos.reportEquivocation(ev);
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.AlreadyReported.selector, _key(0), 1));
        pos.reportEquivocation(ev);
        // another round at the same height: still the same (key, height)
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.AlreadyReported.selector, _key(0), 1));
        pos.reportEquivocation(MockSigner.evidence(_key(0), 1, 5, true));
        // another height is another offence
        pos.reportEquivocation(MockSigner.evidence(_key(0), 2, 0, true));
        vm.assertEq(_bonded(0), 2 ether - 0.1 ether - 0.095 ether, "slashed twice");
    }

    function test_report_tooOldEvidenceRefused() public {
        _init(2, _params(100, 1000)); // window = 2 epochs * 100 blocks
        vm.roll(210);
        pos.reportEquivocation(MockSigner.evidence(_key(0), 10, 0, true)); // 10 + 200 = 210: just in time
        vm.roll(211);
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.EvidenceTooOld.selector, 10, 211));
        pos.reportEquivocation(MockSigner.evidence(_key(1), 10, 0, true));
    }

    function test_report_rejections() public {
        _init(2, _params(100, 1000));
        vm.expectRevert(PoSStaking.InvalidEvidence.selector);
        pos.reportEquivocation(MockSigner.evidence(_key(0), 1, 0, false));
        vm.expectRevert(PoSStaking.InvalidEvidence.selector);
        pos.reportEquivocation(new bytes(10));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.NoStake.selector, _key(9)));
        pos.reportEquivocation(MockSigner.evidence(_key(9), 1, 0, true));
        // a registered key without stake
        _register(9);
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.NoStake.selector, _key(9)));
        pos.reportEquivocation(MockSigner.evidence(_key(9), 1, 0, true));
    }

    function test_report_reporterRefusingPaymentCannotReport() public {
        _init(2, _params(100, 1000));
        Refuser r = new Refuser();
        vm.prank(address(r));
        vm.expectRevert(abi.encodeWithSelector(PoSStaking.TransferFailed.selector, address(r), 0.01 ether));
        pos.reportEquivocation(MockSigner.evidence(_key(0), 1, 0, true));
        vm.assertFalse(_jailed(0), "nothing happened");
    }

    function _assertAccounting(uint256 keys) internal view {
        uint256 sum = pos.totalSlashed();
        for (uint256 i = 0; i < keys; i++) {
            sum += _bonded(i) + _unbonding(i);
        }
        vm.assertEq(address(pos).balance, sum, "balance = bonded + unbonding + slashed");
    }

    // ---------------------------------------------------------------- epochEnd

    function test_epochEnd_topStakesTiesAndMaxValidators() public {
        _init(1, _params(3, 1000)); // validator 0: 2 ether
        _join(1, 5 ether);
        _join(2, 3 ether);
        _join(3, 3 ether);
        _join(4, 1.5 ether); // below minStake
        (bytes32[] memory keys, uint64[] memory powers) = _endEpoch();
        vm.assertEq(keys.length, 3, "maxValidators");
        vm.assertEq(keys[0], _key(1), "largest first");
        vm.assertEq(powers[0], 5, "5 ether / 1 ether");
        (bytes32 lo, bytes32 hi) = _key(2) < _key(3) ? (_key(2), _key(3)) : (_key(3), _key(2));
        vm.assertEq(keys[1], lo, "tie: smaller key first");
        vm.assertEq(keys[2], hi, "then the larger");
        vm.assertEq(pos.epoch(), 1, "epoch 1");
        (bytes32[] memory stored,) = pos.validators();
        vm.assertEq(keccak256(abi.encode(stored)), keccak256(abi.encode(keys)), "stored");
    }

    function test_epochEnd_powerRoundsDown() public {
        _init(1, _params(100, 1000));
        _join(1, 2.99 ether);
        (, uint64[] memory powers) = _endEpoch();
        vm.assertEq(powers[1], 2, "floor(2.99)");
    }

    function test_epochEnd_noneEligibleKeepsTheSet() public {
        _init(2, _params(100, 1000));
        vm.prank(_operator(0));
        pos.unstake(1 ether);
        pos.reportEquivocation(MockSigner.evidence(_key(1), 1, 0, true));
        vm.assertEq(pos.candidates().length, 0, "nobody eligible");
        (bytes32[] memory keys, uint64[] memory powers) = _endEpoch();
        vm.assertEq(keys.length, 2, "the current set stays");
        vm.assertEq(powers[0], 2, "unchanged powers");
        vm.assertEq(pos.epoch(), 1, "the epoch still moves");
    }

    function test_epochEnd_powerCappedSoTotalStaysBounded() public {
        PoSStaking.PoSParams memory p = _params(128, 1000);
        (p.minStake, p.powerUnit) = (1, 1);
        _init(1, p);
        uint256 huge = pos.TOTAL_POWER_MAX(); // far above POWER_MAX
        for (uint256 i = 1; i < 128; i++) {
            _join(i, huge);
        }
        (, uint64[] memory powers) = _endEpoch();
        uint256 total = 0;
        for (uint256 i = 0; i < powers.length; i++) {
            total += powers[i];
        }
        vm.assertEq(powers[0], pos.POWER_MAX(), "capped");
        vm.assertLe(total, pos.TOTAL_POWER_MAX(), "total within the consensus bound");
    }

    function test_epochEnd_errors() public {
        _init(1, _params(100, 1000));
        vm.expectRevert(abi.encodeWithSelector(SystemContract.NotSystem.selector, address(this)));
        pos.epochEnd(0);
        vm.prank(SYSTEM);
        vm.expectRevert(abi.encodeWithSelector(SystemContract.WrongEpoch.selector, 3, 0));
        pos.epochEnd(3);
    }

    /// Any stakes: the set is the exact top-k of the eligible, sorted, each
    /// power = floor(bonded / unit) >= 1, total within the bound.
    function testFuzz_epochEnd_selectsTopStakes(uint256 seed, uint8 count, uint8 maxValidators) public {
        uint256 n = bound(count, 1, 40);
        uint64 k = uint64(bound(maxValidators, 1, 20));
        _init(1, _params(k, 64));
        for (uint256 i = 1; i <= n; i++) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // few distinct amounts so that ties happen; some below minStake
            uint256 amount = (r % 8) * 0.5 ether + (r >> 128) % 2;
            _register(i);
            if (amount > 0) _stake(i, amount);
            if (amount > 0 && r % 7 == 0) pos.reportEquivocation(MockSigner.evidence(_key(i), 1, 0, true));
        }
        (bytes32[] memory keys, uint64[] memory powers) = _endEpoch();

        uint256 eligible = pos.candidates().length;
        vm.assertEq(keys.length, eligible < k ? eligible : k, "min(eligible, maxValidators)");
        uint256 total = 0;
        for (uint256 i = 0; i < keys.length; i++) {
            (uint256 b,, bool jailed) = pos.stakeOf(keys[i]);
            vm.assertFalse(jailed, "not jailed");
            vm.assertGe(b, MIN, "at least minStake");
            vm.assertEq(powers[i], b / UNIT, "power");
            vm.assertGe(powers[i], 1, "power > 0");
            total += powers[i];
            if (i > 0) {
                (uint256 prev,,) = pos.stakeOf(keys[i - 1]);
                vm.assertTrue(prev > b || (prev == b && keys[i - 1] < keys[i]), "sorted, ties by key");
            }
        }
        vm.assertLe(total, pos.TOTAL_POWER_MAX(), "bounded");
        // nobody left out ranks before the last one chosen
        bytes32[] memory cands = pos.candidates();
        (uint256 lastB,,) = pos.stakeOf(keys[keys.length - 1]);
        for (uint256 c = 0; c < cands.length; c++) {
            bool chosen = false;
            for (uint256 i = 0; i < keys.length; i++) {
                if (keys[i] == cands[c]) chosen = true;
            }
            if (chosen) continue;
            (uint256 b,,) = pos.stakeOf(cands[c]);
            vm.assertTrue(b < lastB || (b == lastB && cands[c] > keys[keys.length - 1]), "top k");
        }
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}

/// Max sizes, measured in their own transaction (setUp fills the state, so
/// storage reads are cold as on the node).
contract PoSStakingGasTest is PoSFixture {
    function setUp() public override {
        super.setUp();
        _init(1, _params(128, 1024));
        // 1023 more candidates with rising stakes: every one enters the
        // top 128 at its head, the worst case for the insertion.
        for (uint256 i = 1; i < 1024; i++) {
            _join(i, MIN + i);
        }
    }

    function test_gas_epochEndAtMaxSizes() public {
        uint256 before = gasleft();
        (bytes32[] memory keys,) = _endEpoch();
        uint256 used = before - gasleft();
        vm.assertEq(keys.length, 128, "128 of 1024");
        vm.assertEq(keys[0], _key(1023), "largest first");
        vm.assertLe(used, 15_000_000, "well under the 30M system-call limit");
        console.log("PoS epochEnd, 1024 candidates, 128 validators", used);
    }

    function test_gas_userCalls() public {
        bytes memory sig = MockSigner.registration(_key(5000), block.chainid, address(pos), _operator(5000));
        vm.prank(_operator(5000));
        uint256 before = gasleft();
        pos.register(_key(5000), sig);
        console.log("register (stand-in precompile)", before - gasleft());

        vm.deal(_operator(1), 1 ether);
        vm.prank(_operator(1));
        before = gasleft();
        pos.stake{value: 1 ether}();
        console.log("stake (existing candidate)", before - gasleft());

        vm.prank(_operator(1));
        before = gasleft();
        pos.unstake(1 ether);
        console.log("unstake", before - gasleft());

        bytes memory ev = MockSigner.evidence(_key(7), 1, 0, true);
        before = gasleft();
        pos.reportEquivocation(ev);
        uint256 used = before - gasleft();
        console.log("reportEquivocation (stand-in precompile)", used);
        vm.assertLe(used, 200_000, "report");
    }
}

/// An operator whose `receive` calls `withdraw` again.
contract Reenterer {
    PoSStaking internal pos;
    bool internal reenter = true;

    constructor(PoSStaking pos_) {
        pos = pos_;
    }

    function stakeAndUnstake(uint256 amount) external {
        pos.stake{value: amount}();
        pos.unstake(amount);
    }

    function withdraw() external {
        pos.withdraw();
    }

    function setReenter(bool on) external {
        reenter = on;
    }

    receive() external payable {
        if (reenter) pos.withdraw();
    }
}

contract Refuser {}
