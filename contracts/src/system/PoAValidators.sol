// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {SystemContract} from "./SystemContract.sol";

/// @notice Proof-of-authority validator set: the validators themselves vote
/// members in and out. No owner, no admin, no emergency path.
///
/// - Any current validator's operator `propose`s adding (key, operator, power)
///   or removing a key; proposing counts as its vote. Other current
///   validators' operators `vote`.
/// - A proposal passes when the current voting power of its voters that are
///   still current members is more than 2/3 of the current set's total power
///   (`3 * yes > 2 * total`). It then changes the pending set, which becomes
///   the current set at the next `epochEnd`: the set only changes at epoch
///   boundaries.
/// - Proposals expire `proposalEpochs` epochs after the one they were made in;
///   at most `OPEN_PROPOSALS_MAX` are open at once.
contract PoAValidators is SystemContract {
    // ---------------------------------------------------------------- limits

    /// Open (not passed, not expired) proposals at once.
    uint256 public constant OPEN_PROPOSALS_MAX = 64;
    /// Longest proposal lifetime, in epochs.
    uint64 public constant PROPOSAL_EPOCHS_MAX = 1024;

    // ------------------------------------------------------------------ types

    struct PoAParams {
        uint64 maxValidators;
        uint64 proposalEpochs;
    }

    struct Member {
        uint64 power;
        /// In the current set.
        bool current;
        /// In the pending set (the next epoch's, as votes have left it).
        bool pending;
    }

    struct Proposal {
        bytes32 key;
        address operator;
        uint64 power;
        bool add;
        uint64 expiresEpoch;
        bool applied;
        /// Keys of the validators that voted, in vote order.
        bytes32[] voters;
        mapping(bytes32 key => bool) voted;
    }

    // ------------------------------------------------------------------ state

    PoAParams public params;
    /// Sum of the current set's powers.
    uint256 public totalPower;
    mapping(bytes32 key => Member) internal _members;
    /// The pending set: the current one with the passed proposals applied.
    bytes32[] internal _pendingKeys;
    uint256 public pendingTotalPower;
    /// The pending set differs from the current one.
    bool internal _pendingChanged;
    uint256 public proposalCount;
    mapping(uint256 id => Proposal) internal _proposals;
    /// Ids of proposals that were open when last looked at (expired ones are
    /// pruned on the next `propose`).
    uint256[] internal _openIds;

    // ----------------------------------------------------------------- events

    event ValidatorRegistered(bytes32 indexed key, address indexed operator, uint64 power);
    event Proposed(
        uint256 indexed id,
        address indexed proposer,
        bytes32 indexed key,
        address operator,
        uint64 power,
        bool add,
        uint64 expiresEpoch
    );
    event Voted(uint256 indexed id, bytes32 indexed voter, uint256 yesPower, uint256 totalPower);
    /// A proposal passed: the pending set changed; it takes effect at `epoch`.
    event ChangeQueued(uint256 indexed id, bytes32 indexed key, bool add, uint64 epoch);
    /// At `epochEnd`: `key` is in (or out of) the set of `epoch`.
    event ValidatorAdded(bytes32 indexed key, address indexed operator, uint64 power, uint64 epoch);
    event ValidatorRemoved(bytes32 indexed key, address indexed operator, uint64 epoch);

    // ----------------------------------------------------------------- errors

    error NotValidatorOperator(address caller);
    error ZeroOperator();
    error OperatorInUse(address operator);
    error AlreadyMember(bytes32 key);
    error NotMember(bytes32 key);
    error LastValidator(bytes32 key);
    error UnknownProposal(uint256 id);
    error ProposalExpired(uint256 id, uint64 expiresEpoch);
    error ProposalAlreadyApplied(uint256 id);
    error AlreadyVoted(uint256 id, bytes32 voter);
    error TooManyOpenProposals();

    // ------------------------------------------------------------------ setup

    /// @notice Sets the genesis validators and parameters. Only the system,
    /// once, while the genesis state is built.
    /// @param keys ed25519 public keys, distinct and non-zero
    /// @param powers voting powers, each > 0, total <= TOTAL_POWER_MAX
    /// @param operators the accounts that vote for each key: non-zero, distinct
    /// @param p maxValidators in 1..VALIDATORS_MAX, proposalEpochs in 1..PROPOSAL_EPOCHS_MAX
    function initialize(
        bytes32[] calldata keys,
        uint64[] calldata powers,
        address[] calldata operators,
        PoAParams calldata p
    ) external onlySystem {
        if (p.maxValidators == 0 || p.maxValidators > VALIDATORS_MAX) {
            revert BadParams("maxValidators");
        }
        if (p.proposalEpochs == 0 || p.proposalEpochs > PROPOSAL_EPOCHS_MAX) revert BadParams("proposalEpochs");
        _initialize(keys.length, powers.length, operators.length, p.maxValidators);
        params = p;
        uint256 total = 0;
        for (uint256 i = 0; i < keys.length; i++) {
            bytes32 key = keys[i];
            address operator = operators[i];
            if (key == bytes32(0)) revert ZeroKey();
            if (_members[key].current) revert DuplicateKey(key);
            if (powers[i] == 0) revert ZeroPower(key);
            if (operator == address(0)) revert ZeroOperator();
            if (keyOf[operator] != bytes32(0)) revert DuplicateOperator(operator);
            total += powers[i];
            _members[key] = Member({power: powers[i], current: true, pending: true});
            operatorOf[key] = operator;
            keyOf[operator] = key;
            _setKeys.push(key);
            _setPowers.push(powers[i]);
            _pendingKeys.push(key);
            emit ValidatorRegistered(key, operator, powers[i]);
        }
        if (total > TOTAL_POWER_MAX) revert TotalPowerTooLarge(total);
        totalPower = total;
        pendingTotalPower = total;
        emit Initialized(keys.length, total);
    }

    // -------------------------------------------------------------- proposals

    /// @notice Proposes adding `key` (voting for `operator`, with `power`) or
    /// removing it; counts as the caller's vote. Only the operator of a current
    /// validator.
    /// @param key the validator's ed25519 key
    /// @param operator for an add: its operator, non-zero and unused; ignored (stored as 0) for a removal
    /// @param power for an add: its voting power, > 0; ignored (stored as 0) for a removal
    /// @param add true to add, false to remove
    /// @return id the proposal's id (from 1)
    function propose(bytes32 key, address operator, uint64 power, bool add) external initialized returns (uint256 id) {
        bytes32 voter = _currentVoter();
        if (!add) {
            operator = address(0);
            power = 0;
        }
        _checkChange(key, operator, power, add);
        _pruneExpired();
        if (_openIds.length >= OPEN_PROPOSALS_MAX) revert TooManyOpenProposals();

        id = ++proposalCount;
        Proposal storage prop = _proposals[id];
        prop.key = key;
        prop.operator = operator;
        prop.power = power;
        prop.add = add;
        prop.expiresEpoch = epoch + params.proposalEpochs;
        _openIds.push(id);
        emit Proposed(id, msg.sender, key, operator, power, add, prop.expiresEpoch);
        _vote(id, prop, voter);
    }

    /// @notice Votes for proposal `id`. Only the operator of a current
    /// validator, once per proposal, before the proposal expires; the vote
    /// that brings it over 2/3 of the current power queues the change.
    function vote(uint256 id) external initialized {
        bytes32 voter = _currentVoter();
        Proposal storage prop = _proposals[id];
        if (prop.expiresEpoch == 0) revert UnknownProposal(id);
        if (prop.applied) revert ProposalAlreadyApplied(id);
        if (epoch >= prop.expiresEpoch) revert ProposalExpired(id, prop.expiresEpoch);
        if (prop.voted[voter]) revert AlreadyVoted(id, voter);
        _vote(id, prop, voter);
    }

    /// @notice Proposal `id`. `yesPower` is the current power of its voters that
    /// are still current validators; `applied` means it passed and changed
    /// the pending set.
    function proposal(uint256 id)
        external
        view
        returns (
            bytes32 key,
            address operator,
            uint64 power,
            bool add,
            uint64 expiresEpoch,
            bool applied,
            uint64 yesPower
        )
    {
        Proposal storage prop = _proposals[id];
        if (prop.expiresEpoch == 0) revert UnknownProposal(id);
        return (prop.key, prop.operator, prop.power, prop.add, prop.expiresEpoch, prop.applied, uint64(_yesPower(prop)));
    }

    /// @notice Whether `key` is in the current set, and in the pending set
    /// (the next epoch's as passed proposals left it), and its power.
    function member(bytes32 key) external view returns (bool current, bool pending, uint64 power) {
        Member storage m = _members[key];
        return (m.current, m.pending, m.power);
    }

    /// @notice The pending set's keys (the next epoch's set as passed proposals
    /// left it; powers via `member`).
    function pendingKeys() external view returns (bytes32[] memory) {
        return _pendingKeys;
    }

    /// @notice Ids of open proposals (some may have expired since the last
    /// `propose`).
    function openProposals() external view returns (uint256[] memory) {
        return _openIds;
    }

    // ------------------------------------------------------------------ epoch

    /// @notice Ends epoch `epoch_`: the pending set becomes the current set of
    /// `epoch_ + 1` and is returned. Only the system, at the end of the last
    /// block of each epoch. Never reverts once initialized (given the right
    /// epoch) and never returns an empty set.
    function epochEnd(uint64 epoch_)
        external
        onlySystem
        initialized
        returns (bytes32[] memory keys, uint64[] memory powers)
    {
        if (epoch_ != epoch) revert WrongEpoch(epoch_, epoch);
        uint64 next = epoch_ + 1;
        bool changed = _pendingChanged;
        if (changed) {
            // Members leaving: the old set minus the pending one.
            uint256 old = _setKeys.length;
            for (uint256 i = 0; i < old; i++) {
                bytes32 key = _setKeys[i];
                if (!_members[key].pending) {
                    emit ValidatorRemoved(key, operatorOf[key], next);
                    _release(key);
                }
            }
            uint256 n = _pendingKeys.length;
            keys = new bytes32[](n);
            powers = new uint64[](n);
            for (uint256 i = 0; i < n; i++) {
                bytes32 key = _pendingKeys[i];
                Member storage m = _members[key];
                keys[i] = key;
                powers[i] = m.power;
                if (!m.current) {
                    m.current = true;
                    emit ValidatorAdded(key, operatorOf[key], m.power, next);
                }
            }
            totalPower = pendingTotalPower;
            _pendingChanged = false;
        } else {
            keys = _setKeys;
            powers = _setPowers;
        }
        _storeSet(next, keys, powers, changed);
    }

    // --------------------------------------------------------------- internal

    /// The caller's validator key; reverts unless it operates a current one.
    function _currentVoter() internal view returns (bytes32 key) {
        key = keyOf[msg.sender];
        if (key == bytes32(0) || !_members[key].current) revert NotValidatorOperator(msg.sender);
    }

    /// Whether the change can be applied to the pending set now.
    function _checkChange(bytes32 key, address operator, uint64 power, bool add) internal view {
        if (key == bytes32(0)) revert ZeroKey();
        Member storage m = _members[key];
        if (add) {
            if (m.current || m.pending) revert AlreadyMember(key);
            if (operator == address(0)) revert ZeroOperator();
            if (keyOf[operator] != bytes32(0)) revert OperatorInUse(operator);
            if (power == 0) revert ZeroPower(key);
            if (_pendingKeys.length >= params.maxValidators) {
                revert TooManyValidators(_pendingKeys.length + 1, params.maxValidators);
            }
            if (pendingTotalPower + power > TOTAL_POWER_MAX) revert TotalPowerTooLarge(pendingTotalPower + power);
        } else {
            if (!m.pending) revert NotMember(key);
            if (_pendingKeys.length == 1) revert LastValidator(key);
        }
    }

    function _vote(uint256 id, Proposal storage prop, bytes32 voter) internal {
        prop.voted[voter] = true;
        prop.voters.push(voter);
        uint256 yes = _yesPower(prop);
        emit Voted(id, voter, yes, totalPower);
        if (3 * yes > 2 * totalPower) _apply(id, prop);
    }

    /// Current power of the proposal's voters that are current members.
    function _yesPower(Proposal storage prop) internal view returns (uint256 yes) {
        uint256 n = prop.voters.length; // <= voters ever current: bounded by the set changes in its lifetime
        for (uint256 i = 0; i < n; i++) {
            Member storage m = _members[prop.voters[i]];
            if (m.current) yes += m.power;
        }
    }

    /// Applies a passed proposal to the pending set.
    function _apply(uint256 id, Proposal storage prop) internal {
        bytes32 key = prop.key;
        // The pending set may have moved since the proposal was made.
        _checkChange(key, prop.operator, prop.power, prop.add);
        prop.applied = true;
        _closeOpen(id);
        Member storage m = _members[key];
        if (prop.add) {
            m.power = prop.power;
            m.pending = true;
            operatorOf[key] = prop.operator;
            keyOf[prop.operator] = key;
            _pendingKeys.push(key);
            pendingTotalPower += prop.power;
        } else {
            m.pending = false;
            pendingTotalPower -= m.power;
            uint256 n = _pendingKeys.length;
            for (uint256 i = 0; i < n; i++) {
                if (_pendingKeys[i] == key) {
                    _pendingKeys[i] = _pendingKeys[n - 1];
                    _pendingKeys.pop();
                    break;
                }
            }
            // Added and removed within one epoch: never current, free it now.
            if (!m.current) _release(key);
        }
        _pendingChanged = true;
        emit ChangeQueued(id, key, prop.add, epoch + 1);
    }

    /// Forgets a key that is in neither the current nor the pending set, so
    /// that its operator can be used again.
    function _release(bytes32 key) internal {
        address operator = operatorOf[key];
        delete keyOf[operator];
        delete operatorOf[key];
        delete _members[key];
    }

    function _closeOpen(uint256 id) internal {
        uint256 n = _openIds.length;
        for (uint256 i = 0; i < n; i++) {
            if (_openIds[i] == id) {
                _openIds[i] = _openIds[n - 1];
                _openIds.pop();
                return;
            }
        }
    }

    function _pruneExpired() internal {
        uint256 i = 0;
        while (i < _openIds.length) {
            if (epoch >= _proposals[_openIds[i]].expiresEpoch) {
                _openIds[i] = _openIds[_openIds.length - 1];
                _openIds.pop();
            } else {
                i++;
            }
        }
    }
}
