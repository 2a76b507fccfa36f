// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {SystemFixture} from "./SystemMocks.sol";
import {console} from "../utils/Vm.sol";
import {SystemContract} from "../../src/system/SystemContract.sol";
import {PoAValidators} from "../../src/system/PoAValidators.sol";

/// A PoAValidators at 0x…1000 and helpers acting as its validators.
abstract contract PoAFixture is SystemFixture {
    PoAValidators internal poa;

    function setUp() public virtual {
        poa = PoAValidators(_predeploy(address(new PoAValidators())));
    }

    // ---------------------------------------------------------------- helpers

    function _init(uint64[] memory powers) internal {
        _init(powers, 100, 4);
    }

    function _init(uint64[] memory powers, uint64 maxValidators, uint64 proposalEpochs) internal {
        uint256 n = powers.length;
        bytes32[] memory keys = new bytes32[](n);
        address[] memory ops = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            keys[i] = _key(i);
            ops[i] = _operator(i);
        }
        vm.prank(SYSTEM);
        poa.initialize(keys, powers, ops, PoAValidators.PoAParams(maxValidators, proposalEpochs));
    }

    function _ones(uint256 n) internal pure returns (uint64[] memory powers) {
        powers = new uint64[](n);
        for (uint256 i = 0; i < n; i++) {
            powers[i] = 1;
        }
    }

    function _powers3(uint64 a, uint64 b, uint64 c) internal pure returns (uint64[] memory p) {
        p = new uint64[](3);
        (p[0], p[1], p[2]) = (a, b, c);
    }

    function _endEpoch() internal returns (bytes32[] memory keys, uint64[] memory powers) {
        uint64 e = poa.epoch();
        vm.prank(SYSTEM);
        return poa.epochEnd(e);
    }

    function _propose(uint256 by, bytes32 key, address op, uint64 power, bool add) internal returns (uint256) {
        vm.prank(_operator(by));
        return poa.propose(key, op, power, add);
    }

    function _vote(uint256 by, uint256 id) internal {
        vm.prank(_operator(by));
        poa.vote(id);
    }

    /// Proposes with validator 0 and has validators 1..voters-1 vote.
    function _pass(bytes32 key, address op, uint64 power, bool add, uint256 voters) internal returns (uint256 id) {
        id = _propose(0, key, op, power, add);
        for (uint256 i = 1; i < voters; i++) {
            _vote(i, id);
        }
    }

    function _applied(uint256 id) internal view returns (bool applied) {
        (,,,,, applied,) = poa.proposal(id);
    }

    function _yes(uint256 id) internal view returns (uint64 yes) {
        (,,,,,, yes) = poa.proposal(id);
    }

    function _contains(bytes32[] memory keys, bytes32 key) internal pure returns (bool) {
        for (uint256 i = 0; i < keys.length; i++) {
            if (keys[i] == key) return true;
        }
        return false;
    }
}

/// PoAValidators: genesis, proposals and votes, the 2/3 rule, expiry, epochs.
contract PoAValidatorsTest is PoAFixture {
    // ------------------------------------------------------------- initialize

    function test_initialize_setsGenesisSet() public {
        _init(_powers3(5, 6, 7));
        (bytes32[] memory keys, uint64[] memory powers) = poa.validators();
        vm.assertEq(keys.length, 3, "three validators");
        vm.assertEq(keys[1], _key(1), "in genesis order");
        vm.assertEq(powers[2], 7, "powers");
        vm.assertEq(poa.totalPower(), 18, "total");
        vm.assertEq(poa.epoch(), 0, "epoch 0");
        vm.assertEq(poa.operatorOf(_key(2)), _operator(2), "operatorOf");
        vm.assertEq(poa.keyOf(_operator(2)), _key(2), "keyOf");
        (uint64 maxValidators, uint64 proposalEpochs) = poa.params();
        vm.assertEq(maxValidators, 100, "maxValidators");
        vm.assertEq(proposalEpochs, 4, "proposalEpochs");
    }

    function test_initialize_onlySystemOnce() public {
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = _key(0);
        address[] memory ops = new address[](1);
        ops[0] = _operator(0);
        PoAValidators.PoAParams memory p = PoAValidators.PoAParams(10, 2);
        vm.expectRevert(abi.encodeWithSelector(SystemContract.NotSystem.selector, address(this)));
        poa.initialize(keys, _ones(1), ops, p);
        vm.prank(SYSTEM);
        poa.initialize(keys, _ones(1), ops, p);
        vm.prank(SYSTEM);
        vm.expectRevert(SystemContract.AlreadyInitialized.selector);
        poa.initialize(keys, _ones(1), ops, p);
    }

    function test_initialize_rejectsBadInput() public {
        bytes32[] memory keys = new bytes32[](2);
        address[] memory ops = new address[](2);
        (keys[0], keys[1]) = (_key(0), _key(1));
        (ops[0], ops[1]) = (_operator(0), _operator(1));
        uint64[] memory powers = _ones(2);
        PoAValidators.PoAParams memory p = PoAValidators.PoAParams(10, 2);

        _expectInitRevert(keys, _ones(1), ops, p, abi.encodeWithSelector(SystemContract.LengthMismatch.selector));
        _expectInitRevert(
            new bytes32[](0),
            new uint64[](0),
            new address[](0),
            p,
            abi.encodeWithSelector(SystemContract.EmptySet.selector)
        );
        _expectInitRevert(
            keys,
            powers,
            ops,
            PoAValidators.PoAParams(1, 2),
            abi.encodeWithSelector(SystemContract.TooManyValidators.selector, 2, 1)
        );
        _expectInitRevert(
            keys,
            powers,
            ops,
            PoAValidators.PoAParams(0, 2),
            abi.encodeWithSelector(SystemContract.BadParams.selector, "maxValidators")
        );
        _expectInitRevert(
            keys,
            powers,
            ops,
            PoAValidators.PoAParams(129, 2),
            abi.encodeWithSelector(SystemContract.BadParams.selector, "maxValidators")
        );
        _expectInitRevert(
            keys,
            powers,
            ops,
            PoAValidators.PoAParams(10, 0),
            abi.encodeWithSelector(SystemContract.BadParams.selector, "proposalEpochs")
        );

        bytes32[] memory dupKeys = new bytes32[](2);
        (dupKeys[0], dupKeys[1]) = (_key(0), _key(0));
        _expectInitRevert(
            dupKeys, powers, ops, p, abi.encodeWithSelector(SystemContract.DuplicateKey.selector, _key(0))
        );
        bytes32[] memory zeroKey = new bytes32[](2);
        zeroKey[0] = _key(0);
        _expectInitRevert(zeroKey, powers, ops, p, abi.encodeWithSelector(SystemContract.ZeroKey.selector));
        uint64[] memory zeroPower = new uint64[](2);
        zeroPower[0] = 1;
        _expectInitRevert(keys, zeroPower, ops, p, abi.encodeWithSelector(SystemContract.ZeroPower.selector, _key(1)));
        address[] memory dupOps = new address[](2);
        (dupOps[0], dupOps[1]) = (_operator(0), _operator(0));
        _expectInitRevert(
            keys, powers, dupOps, p, abi.encodeWithSelector(SystemContract.DuplicateOperator.selector, _operator(0))
        );
        address[] memory zeroOp = new address[](2);
        zeroOp[0] = _operator(0);
        _expectInitRevert(keys, powers, zeroOp, p, abi.encodeWithSelector(PoAValidators.ZeroOperator.selector));
        uint64[] memory huge = new uint64[](2);
        (huge[0], huge[1]) = (uint64(poa.TOTAL_POWER_MAX()), 1);
        _expectInitRevert(
            keys,
            huge,
            ops,
            p,
            abi.encodeWithSelector(SystemContract.TotalPowerTooLarge.selector, poa.TOTAL_POWER_MAX() + 1)
        );
        // exactly the bound is fine
        huge[0] = uint64(poa.TOTAL_POWER_MAX() - 1);
        vm.prank(SYSTEM);
        poa.initialize(keys, huge, ops, p);
    }

    function _expectInitRevert(
        bytes32[] memory keys,
        uint64[] memory powers,
        address[] memory ops,
        PoAValidators.PoAParams memory p,
        bytes memory err
    ) internal {
        vm.prank(SYSTEM);
        vm.expectRevert(err);
        poa.initialize(keys, powers, ops, p);
    }

    function test_beforeInitialize_nothingWorks() public {
        vm.expectRevert(SystemContract.NotInitialized.selector);
        poa.propose(_key(9), _operator(9), 1, true);
        vm.prank(SYSTEM);
        vm.expectRevert(SystemContract.NotInitialized.selector);
        poa.epochEnd(0);
    }

    // ---------------------------------------------------------------- propose

    function test_propose_onlyCurrentValidatorOperators() public {
        _init(_ones(3));
        vm.prank(_operator(7));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.NotValidatorOperator.selector, _operator(7)));
        poa.propose(_key(9), _operator(9), 1, true);
    }

    function test_propose_recordsProposalAndCountsAsVote() public {
        _init(_ones(4));
        uint256 id = _propose(2, _key(9), _operator(9), 3, true);
        vm.assertEq(id, 1, "ids from 1");
        (bytes32 key, address op, uint64 power, bool add, uint64 expires, bool applied, uint64 yes) = poa.proposal(id);
        vm.assertEq(key, _key(9), "key");
        vm.assertEq(op, _operator(9), "operator");
        vm.assertEq(power, 3, "power");
        vm.assertTrue(add, "add");
        vm.assertEq(expires, 4, "epoch 0 + 4");
        vm.assertFalse(applied, "not yet");
        vm.assertEq(yes, 1, "the proposer's vote");
        vm.prank(_operator(2));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.AlreadyVoted.selector, id, _key(2)));
        poa.vote(id);
    }

    function test_propose_addRejections() public {
        _init(_ones(3), 4, 4);
        vm.startPrank(_operator(0));
        vm.expectRevert(abi.encodeWithSelector(SystemContract.ZeroKey.selector));
        poa.propose(bytes32(0), _operator(9), 1, true);
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.AlreadyMember.selector, _key(1)));
        poa.propose(_key(1), _operator(9), 1, true);
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.ZeroOperator.selector));
        poa.propose(_key(9), address(0), 1, true);
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.OperatorInUse.selector, _operator(1)));
        poa.propose(_key(9), _operator(1), 1, true);
        vm.expectRevert(abi.encodeWithSelector(SystemContract.ZeroPower.selector, _key(9)));
        poa.propose(_key(9), _operator(9), 0, true);
        uint256 maxPower = poa.TOTAL_POWER_MAX();
        vm.expectRevert(abi.encodeWithSelector(SystemContract.TotalPowerTooLarge.selector, maxPower + 3));
        poa.propose(_key(9), _operator(9), uint64(maxPower), true);
        vm.stopPrank();
        // a pending member counts too, and so does the size limit
        _pass(_key(9), _operator(9), 1, true, 3);
        vm.prank(_operator(0));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.AlreadyMember.selector, _key(9)));
        poa.propose(_key(9), _operator(8), 1, true);
        vm.prank(_operator(0));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.OperatorInUse.selector, _operator(9)));
        poa.propose(_key(8), _operator(9), 1, true);
        vm.prank(_operator(0));
        vm.expectRevert(abi.encodeWithSelector(SystemContract.TooManyValidators.selector, 5, 4));
        poa.propose(_key(8), _operator(8), 1, true);
    }

    function test_propose_removeRejections() public {
        _init(_ones(2));
        vm.prank(_operator(0));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.NotMember.selector, _key(9)));
        poa.propose(_key(9), address(0), 0, false);
        // remove 1 passes (2 of 2), then removing 0 would empty the pending set
        _pass(_key(1), address(0), 0, false, 2);
        vm.prank(_operator(0));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.LastValidator.selector, _key(0)));
        poa.propose(_key(0), address(0), 0, false);
    }

    function test_propose_removeIgnoresOperatorAndPower() public {
        _init(_ones(3));
        uint256 id = _propose(0, _key(1), _operator(5), 9, false);
        (, address op, uint64 power, bool add,,,) = poa.proposal(id);
        vm.assertEq(op, address(0), "operator stored as 0");
        vm.assertEq(power, 0, "power stored as 0");
        vm.assertFalse(add, "removal");
    }

    function test_propose_openProposalsAreBounded() public {
        _init(_ones(4), 100, 2);
        for (uint256 i = 0; i < 64; i++) {
            _propose(0, _key(100 + i), _operator(100 + i), 1, true);
        }
        vm.prank(_operator(0));
        vm.expectRevert(PoAValidators.TooManyOpenProposals.selector);
        poa.propose(_key(999), _operator(999), 1, true);
        // once they expire there is room again
        _endEpoch();
        _endEpoch();
        uint256 id = _propose(0, _key(999), _operator(999), 1, true);
        vm.assertEq(id, 65, "next id");
        vm.assertEq(poa.openProposals().length, 1, "expired ones pruned");
    }

    // ------------------------------------------------------------- threshold

    function test_threshold_exactlyTwoThirdsDoesNotPass() public {
        _init(_ones(3)); // total 3: 2 votes are exactly 2/3
        uint256 id = _propose(0, _key(9), _operator(9), 1, true);
        _vote(1, id);
        vm.assertFalse(_applied(id), "2 of 3 is exactly 2/3: not enough");
        _vote(2, id);
        vm.assertTrue(_applied(id), "3 of 3 passes");
    }

    function test_threshold_weightedByPower() public {
        _init(_powers3(2, 1, 3)); // total 6; passing needs yes >= 5
        uint256 id = _propose(2, _key(9), _operator(9), 1, true); // 3
        _vote(1, id); // 4 = exactly 2/3
        vm.assertFalse(_applied(id), "4 of 6 does not pass");
        vm.assertEq(_yes(id), 4, "yes power");
        _vote(0, id); // 6
        vm.assertTrue(_applied(id), "6 of 6 passes");

        uint256 id2 = _propose(2, _key(8), _operator(8), 1, true); // 3
        _vote(0, id2); // 5: 15 > 12
        vm.assertTrue(_applied(id2), "5 of 6 passes without the smallest");
    }

    function test_threshold_justAboveTwoThirds() public {
        _init(_ones(4)); // 3 of 4: 9 > 8
        uint256 id = _pass(_key(9), _operator(9), 1, true, 2);
        vm.assertFalse(_applied(id), "2 of 4");
        _vote(2, id);
        vm.assertTrue(_applied(id), "3 of 4");
        vm.prank(_operator(3));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.ProposalAlreadyApplied.selector, id));
        poa.vote(id);
    }

    function test_stalevotesOfRemovedValidatorsDoNotCount() public {
        _init(_ones(4)); // keys 0..3
        uint256 add = _propose(3, _key(9), _operator(9), 1, true); // validator 3 votes, then leaves
        _vote(2, add);
        _pass(_key(3), address(0), 0, false, 3); // 0, 1, 2 remove 3
        vm.assertEq(_yes(add), 2, "3 still current this epoch");
        _endEpoch(); // set {0,1,2}, total 3
        vm.assertEq(_yes(add), 1, "3's vote no longer counts");
        _vote(1, add); // 2 of 3: exactly 2/3
        vm.assertFalse(_applied(add), "the stale vote would have made it pass");
        _vote(0, add);
        vm.assertTrue(_applied(add), "3 current votes");
        // the removed validator can no longer vote or propose
        vm.prank(_operator(3));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.NotValidatorOperator.selector, _operator(3)));
        poa.propose(_key(10), _operator(10), 1, true);
    }

    // ----------------------------------------------------------------- expiry

    function test_vote_expiredAndUnknown() public {
        _init(_ones(4), 100, 2);
        uint256 id = _propose(0, _key(9), _operator(9), 1, true);
        _endEpoch();
        _vote(1, id); // epoch 1 < 2: still open
        _endEpoch();
        vm.prank(_operator(2));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.ProposalExpired.selector, id, 2));
        poa.vote(id);
        vm.prank(_operator(2));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.UnknownProposal.selector, 7));
        poa.vote(7);
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.UnknownProposal.selector, 7));
        poa.proposal(7);
    }

    function test_vote_nonMember() public {
        _init(_ones(4));
        uint256 id = _propose(0, _key(9), _operator(9), 1, true);
        vm.prank(_operator(9));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.NotValidatorOperator.selector, _operator(9)));
        poa.vote(id);
    }

    function test_vote_revalidatesWhenPassing() public {
        _init(_ones(3));
        uint256 a = _propose(0, _key(9), _operator(9), 1, true);
        uint256 b = _propose(0, _key(9), _operator(8), 1, true); // same key, another operator
        _vote(1, a);
        _vote(2, a);
        _vote(1, b);
        vm.prank(_operator(2));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.AlreadyMember.selector, _key(9)));
        poa.vote(b);
    }

    // ------------------------------------------------------------------ epochs

    function test_epochEnd_appliesPendingSetAtTheBoundary() public {
        _init(_ones(4));
        _pass(_key(9), _operator(9), 5, true, 3);
        (bytes32[] memory cur,) = poa.validators();
        vm.assertEq(cur.length, 4, "unchanged until the epoch ends");
        vm.assertEq(poa.operatorOf(_key(9)), _operator(9), "operator reserved");
        vm.prank(_operator(9));
        vm.expectRevert(abi.encodeWithSelector(PoAValidators.NotValidatorOperator.selector, _operator(9)));
        poa.propose(_key(10), _operator(10), 1, true);

        (bytes32[] memory keys, uint64[] memory powers) = _endEpoch();
        vm.assertEq(keys.length, 5, "added");
        vm.assertEq(keys[4], _key(9), "new key");
        vm.assertEq(powers[4], 5, "its power");
        vm.assertEq(poa.epoch(), 1, "epoch 1");
        vm.assertEq(poa.totalPower(), 9, "total");
        (bytes32[] memory stored, uint64[] memory storedPowers) = poa.validators();
        vm.assertEq(
            keccak256(abi.encode(stored, storedPowers)), keccak256(abi.encode(keys, powers)), "stored = returned"
        );
        // now a member: can propose
        _propose(9, _key(10), _operator(10), 1, true);
    }

    function test_epochEnd_removalFreesTheOperator() public {
        _init(_ones(4));
        _pass(_key(3), address(0), 0, false, 3);
        vm.assertEq(poa.operatorOf(_key(3)), _operator(3), "still current this epoch");
        _propose(3, _key(9), _operator(9), 1, true); // ...and can still vote
        (bytes32[] memory keys,) = _endEpoch();
        vm.assertEq(keys.length, 3, "removed");
        vm.assertFalse(_contains(keys, _key(3)), "key 3 gone");
        vm.assertEq(poa.operatorOf(_key(3)), address(0), "released");
        vm.assertEq(poa.keyOf(_operator(3)), bytes32(0), "released");
        // the operator can come back with a new key
        _pass(_key(33), _operator(3), 1, true, 3);
        (keys,) = _endEpoch();
        vm.assertTrue(_contains(keys, _key(33)), "back");
    }

    function test_epochEnd_addThenRemoveInOneEpoch() public {
        _init(_ones(3));
        _pass(_key(9), _operator(9), 1, true, 3);
        _pass(_key(9), address(0), 0, false, 3);
        vm.assertEq(poa.keyOf(_operator(9)), bytes32(0), "never current: released at once");
        (bytes32[] memory keys,) = _endEpoch();
        vm.assertEq(keys.length, 3, "no change");
    }

    function test_epochEnd_unchangedSetAndErrors() public {
        _init(_ones(2));
        vm.expectRevert(abi.encodeWithSelector(SystemContract.NotSystem.selector, address(this)));
        poa.epochEnd(0);
        vm.prank(SYSTEM);
        vm.expectRevert(abi.encodeWithSelector(SystemContract.WrongEpoch.selector, 1, 0));
        poa.epochEnd(1);
        (bytes32[] memory keys, uint64[] memory powers) = _endEpoch();
        vm.assertEq(keys.length, 2, "same set");
        vm.assertEq(powers[1], 1, "same powers");
        vm.assertEq(poa.epoch(), 1, "epoch moves anyway");
    }
}

/// epochEnd and vote at the largest set, measured in their own transaction
/// (setUp fills the state, so storage reads are cold as on the node).
contract PoAValidatorsGasTest is PoAFixture {
    function setUp() public override {
        super.setUp();
        // 127 validators, then a passed add (the 128th), a removal and
        // another add: the largest set, rewritten.
        _init(_ones(127), 128, 4);
        _pass(_key(500), _operator(500), 1, true, 85); // 3 * 85 > 2 * 127
        _pass(_key(126), address(0), 0, false, 85);
        _pass(_key(501), _operator(501), 1, true, 85);
    }

    function test_gas_epochEndAtMaxSize() public {
        uint256 before = gasleft();
        (bytes32[] memory keys,) = _endEpoch();
        uint256 used = before - gasleft();
        vm.assertEq(keys.length, 128, "max size");
        vm.assertLe(used, 5_000_000, "epochEnd at 128 validators");
        console.log("PoA epochEnd, 128 validators, set rewritten", used);
    }

    function test_gas_passingVoteAtMaxSize() public {
        _endEpoch();
        uint256 id = _propose(0, _key(125), address(0), 0, false);
        for (uint256 i = 1; i < 85; i++) {
            _vote(i, id);
        }
        uint256 before = gasleft();
        _vote(85, id);
        uint256 voteGas = before - gasleft();
        vm.assertTrue(_applied(id), "86 of 128 passes");
        vm.assertLe(voteGas, 1_000_000, "a passing vote at 128 validators");
        console.log("PoA vote, 86th voter, passes", voteGas);
    }
}
