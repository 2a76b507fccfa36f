// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {SystemContract} from "./SystemContract.sol";

/// @notice Proof-of-stake validator set: operators register an ed25519 key
/// (with a proof of possession), bond native coin to it, and at each epoch end
/// the top `maxValidators` bonded stakes become the next set.
///
/// - A *candidate* is a registered key that is not jailed and has
///   `bonded >= minStake`; at most `maxCandidates` at once (a stake that would
///   make one more reverts `CandidatesFull`). Registration alone costs the
///   set selection nothing, so it is not bounded; filling the candidate list
///   costs `maxCandidates * minStake` of bonded coin.
/// - `epochEnd` picks the top `maxValidators` candidates by bonded stake (ties:
///   smaller key first), power = `min(bonded / powerUnit, POWER_MAX)`. With
///   `POWER_MAX = TOTAL_POWER_MAX / VALIDATORS_MAX` no set can exceed the
///   consensus core's total-power bound. If nobody is eligible the set stays.
/// - `unstake` moves bonded coin to an unbonding entry released (withdrawable)
///   at `epoch() + unbondingEpochs + 1`; until then it can still be slashed.
/// - `reportEquivocation` (anyone, with evidence the EVIDENCE_VERIFY precompile
///   accepts) slashes `slashBps` of bonded + unbonding, pays the reporter
///   `reporterRewardBps` of it, locks the rest for ever (`totalSlashed`) and
///   tombstones the key: never eligible again; it can still unstake and
///   withdraw what is left.
///
/// Accounting invariant: balance = sum(bonded) + sum(unbonding) + totalSlashed.
contract PoSStaking is SystemContract {
    // ---------------------------------------------------------------- limits

    /// Most candidates `maxCandidates` may allow: bounds `epochEnd`'s loop.
    uint256 public constant CANDIDATES_MAX = 1024;
    /// Open unbonding entries per key (operator).
    uint256 public constant UNBONDINGS_MAX = 16;
    /// Largest power of one validator: a set of `VALIDATORS_MAX` such powers
    /// stays within `TOTAL_POWER_MAX`.
    uint256 public constant POWER_MAX = TOTAL_POWER_MAX / VALIDATORS_MAX;
    uint256 public constant BPS = 10_000;

    address public constant ED25519_VERIFY = 0x0000000000000000000000000000000000000F01;
    address public constant EVIDENCE_VERIFY = 0x0000000000000000000000000000000000000f02;
    /// The proof of possession signs this prefix ‖ chain id (32 bytes) ‖ this
    /// contract (20 bytes) ‖ the operator (20 bytes).
    bytes public constant REGISTRATION_DOMAIN = "outrigger/validator-registration/v1";

    // ------------------------------------------------------------------ types

    struct PoSParams {
        uint256 minStake;
        uint256 powerUnit;
        uint64 maxValidators;
        uint64 maxCandidates;
        uint64 unbondingEpochs;
        uint64 epochBlocks;
        uint16 slashBps;
        uint16 reporterRewardBps;
    }

    struct Validator {
        bool registered;
        /// Tombstoned for equivocation: never eligible again.
        bool jailed;
        /// Index + 1 in `_candidates`; 0 when not a candidate.
        uint32 candidateSlot;
        uint256 bonded;
        /// Sum of the open unbonding entries.
        uint256 unbonding;
    }

    struct Unbonding {
        uint192 amount;
        /// Withdrawable once `epoch() >= releaseEpoch`.
        uint64 releaseEpoch;
    }

    // ------------------------------------------------------------------ state

    PoSParams public params;
    mapping(bytes32 key => Validator) internal _validators;
    mapping(bytes32 key => Unbonding[]) internal _unbondings;
    bytes32[] internal _candidates;
    /// Slashed coin kept by the contract (the reporters' rewards not counted).
    uint256 public totalSlashed;
    mapping(bytes32 key => mapping(uint64 height => bool)) public reported;
    bool internal transient _locked;

    // ----------------------------------------------------------------- events

    event Registered(bytes32 indexed key, address indexed operator);
    event Staked(bytes32 indexed key, address indexed operator, uint256 amount, uint256 bonded);
    event Unstaked(bytes32 indexed key, address indexed operator, uint256 amount, uint256 bonded, uint64 releaseEpoch);
    event Withdrawn(bytes32 indexed key, address indexed operator, uint256 amount);
    event Slashed(
        bytes32 indexed key,
        uint64 indexed height,
        uint32 round,
        address indexed reporter,
        uint256 amount,
        uint256 reward
    );
    event CandidateAdded(bytes32 indexed key);
    event CandidateRemoved(bytes32 indexed key);

    // ----------------------------------------------------------------- errors

    error GenesisStakeBelowMinimum(bytes32 key, uint256 stake);
    error KeyAlreadyRegistered(bytes32 key);
    error OperatorAlreadyRegistered(address operator, bytes32 key);
    error BadSignatureLength(uint256 length);
    error InvalidProofOfPossession(bytes32 key);
    error NotRegistered(address operator);
    error ZeroAmount();
    error Jailed(bytes32 key);
    error CandidatesFull(uint256 max);
    error AmountTooLarge(uint256 amount);
    error InsufficientBonded(uint256 amount, uint256 bonded);
    error TooManyUnbondings(bytes32 key);
    error NothingToWithdraw();
    error TransferFailed(address to, uint256 amount);
    error InvalidEvidence();
    error NoStake(bytes32 key);
    error AlreadyReported(bytes32 key, uint64 height);
    error EvidenceTooOld(uint64 height, uint256 blockNumber);
    error Reentrancy();

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }

    // ------------------------------------------------------------------ setup

    /// @notice Sets the genesis validators and parameters. Only the system,
    /// once, while the genesis state is built. Each genesis validator is
    /// registered with bonded stake `power * powerUnit` (the node credits the
    /// contract with the sum); its operator may be zero (then nobody can
    /// unstake that stake).
    /// @param keys ed25519 public keys, distinct and non-zero
    /// @param powers voting powers, each > 0, total <= TOTAL_POWER_MAX, `power * powerUnit >= minStake`
    /// @param operators distinct unless zero
    /// @param p `0 < powerUnit <= minStake`; `1 <= maxValidators <= VALIDATORS_MAX`;
    ///        `maxValidators <= maxCandidates <= CANDIDATES_MAX`; `unbondingEpochs, epochBlocks >= 1`;
    ///        `slashBps, reporterRewardBps <= 10000`
    function initialize(
        bytes32[] calldata keys,
        uint64[] calldata powers,
        address[] calldata operators,
        PoSParams calldata p
    ) external onlySystem {
        if (p.powerUnit == 0 || p.minStake < p.powerUnit) {
            revert BadParams("minStake/powerUnit");
        }
        if (p.maxValidators == 0 || p.maxValidators > VALIDATORS_MAX) revert BadParams("maxValidators");
        if (p.maxCandidates < p.maxValidators || p.maxCandidates > CANDIDATES_MAX) revert BadParams("maxCandidates");
        if (p.unbondingEpochs == 0) revert BadParams("unbondingEpochs");
        if (p.epochBlocks == 0) revert BadParams("epochBlocks");
        if (p.slashBps > BPS || p.reporterRewardBps > BPS) revert BadParams("bps");
        _initialize(keys.length, powers.length, operators.length, p.maxValidators);
        params = p;
        uint256 total = 0;
        for (uint256 i = 0; i < keys.length; i++) {
            bytes32 key = keys[i];
            address operator = operators[i];
            if (key == bytes32(0)) revert ZeroKey();
            Validator storage v = _validators[key];
            if (v.registered) revert DuplicateKey(key);
            if (powers[i] == 0) revert ZeroPower(key);
            uint256 bonded = uint256(powers[i]) * p.powerUnit;
            if (bonded < p.minStake) revert GenesisStakeBelowMinimum(key, bonded);
            total += powers[i];
            v.registered = true;
            v.bonded = bonded;
            if (operator != address(0)) {
                if (keyOf[operator] != bytes32(0)) revert DuplicateOperator(operator);
                operatorOf[key] = operator;
                keyOf[operator] = key;
            }
            _setKeys.push(key);
            _setPowers.push(powers[i]);
            emit Registered(key, operator);
            emit Staked(key, operator, bonded, bonded);
            _updateCandidacy(key, v);
        }
        if (total > TOTAL_POWER_MAX) revert TotalPowerTooLarge(total);
        emit Initialized(keys.length, total);
    }

    // -------------------------------------------------------------- operators

    /// @notice Registers `key` for the caller (its operator). One key per
    /// operator and one operator per key, for ever.
    /// @param key the ed25519 public key
    /// @param signature 64-byte ed25519 signature by `key` of
    ///        `REGISTRATION_DOMAIN ‖ uint256 chainid ‖ address(this) ‖ msg.sender`
    function register(bytes32 key, bytes calldata signature) external initialized {
        if (key == bytes32(0)) revert ZeroKey();
        Validator storage v = _validators[key];
        if (v.registered) revert KeyAlreadyRegistered(key);
        bytes32 existing = keyOf[msg.sender];
        if (existing != bytes32(0)) revert OperatorAlreadyRegistered(msg.sender, existing);
        if (signature.length != 64) revert BadSignatureLength(signature.length);
        bytes memory input =
            abi.encodePacked(key, signature, REGISTRATION_DOMAIN, block.chainid, address(this), msg.sender);
        (bool ok, bytes memory out) = ED25519_VERIFY.staticcall(input);
        if (!ok || out.length != 32 || abi.decode(out, (uint256)) != 1) revert InvalidProofOfPossession(key);
        v.registered = true;
        operatorOf[key] = msg.sender;
        keyOf[msg.sender] = key;
        emit Registered(key, msg.sender);
    }

    /// @notice Bonds `msg.value` (> 0) to the caller's key. Not when jailed;
    /// reverts `CandidatesFull` if this would make one candidate too many.
    function stake() external payable initialized {
        bytes32 key = _keyOfCaller();
        Validator storage v = _validators[key];
        if (msg.value == 0) revert ZeroAmount();
        if (v.jailed) revert Jailed(key);
        v.bonded += msg.value;
        emit Staked(key, msg.sender, msg.value, v.bonded);
        _updateCandidacy(key, v);
    }

    /// @notice Unbonds `amount` (> 0) of the caller's key's bonded stake: it
    /// stays slashable and becomes withdrawable at `epoch() + unbondingEpochs + 1`.
    /// At most `UNBONDINGS_MAX` open entries (unstaking twice in one epoch
    /// adds to the same entry).
    function unstake(uint256 amount) external initialized {
        bytes32 key = _keyOfCaller();
        Validator storage v = _validators[key];
        if (amount == 0) revert ZeroAmount();
        if (amount > v.bonded) revert InsufficientBonded(amount, v.bonded);
        if (amount > type(uint192).max) revert AmountTooLarge(amount);
        uint64 release = epoch + params.unbondingEpochs + 1;
        Unbonding[] storage entries = _unbondings[key];
        uint256 n = entries.length;
        if (n > 0 && entries[n - 1].releaseEpoch == release) {
            // Sums of entries stay below the total supply, far below 2^192.
            entries[n - 1].amount += uint192(amount);
        } else {
            if (n >= UNBONDINGS_MAX) revert TooManyUnbondings(key);
            entries.push(Unbonding({amount: uint192(amount), releaseEpoch: release}));
        }
        v.bonded -= amount;
        v.unbonding += amount;
        emit Unstaked(key, msg.sender, amount, v.bonded, release);
        _updateCandidacy(key, v);
    }

    /// @notice Pays the caller (the operator) every released unbonding entry.
    /// @return amount what was paid (reverts `NothingToWithdraw` if nothing)
    function withdraw() external initialized nonReentrant returns (uint256 amount) {
        bytes32 key = _keyOfCaller();
        Unbonding[] storage entries = _unbondings[key];
        uint256 n = entries.length;
        uint256 kept = 0;
        uint64 now_ = epoch;
        for (uint256 i = 0; i < n; i++) {
            Unbonding memory e = entries[i];
            if (e.releaseEpoch <= now_) {
                amount += e.amount;
            } else {
                if (kept != i) entries[kept] = e;
                kept++;
            }
        }
        if (n == kept) revert NothingToWithdraw();
        for (uint256 i = kept; i < n; i++) {
            entries.pop();
        }
        _validators[key].unbonding -= amount;
        emit Withdrawn(key, msg.sender, amount);
        _pay(msg.sender, amount);
    }

    // -------------------------------------------------------------- slashing

    /// @notice Slashes the validator that signed the equivocation `evidence`
    /// (239 bytes, checked by the EVIDENCE_VERIFY precompile) and tombstones
    /// it; pays the caller `reporterRewardBps` of the slash. Each (key, height)
    /// once; refused if the key has no stake or the evidence is older than
    /// `unbondingEpochs * epochBlocks` blocks (its stake could have left).
    function reportEquivocation(bytes calldata evidence) external initialized nonReentrant {
        (bool ok, bytes memory out) = EVIDENCE_VERIFY.staticcall(evidence);
        if (!ok || out.length != 96) revert InvalidEvidence();
        (bytes32 key, uint64 height, uint32 round) = abi.decode(out, (bytes32, uint64, uint32));
        Validator storage v = _validators[key];
        uint256 stakeTotal = v.bonded + v.unbonding;
        if (stakeTotal == 0) revert NoStake(key);
        if (reported[key][height]) revert AlreadyReported(key, height);
        PoSParams storage p = params;
        if (uint256(height) + uint256(p.unbondingEpochs) * p.epochBlocks < block.number) {
            revert EvidenceTooOld(height, block.number);
        }

        uint256 slash = stakeTotal * p.slashBps / BPS;
        uint256 reward = slash * p.reporterRewardBps / BPS;
        reported[key][height] = true;
        v.jailed = true;
        uint256 fromBonded = slash < v.bonded ? slash : v.bonded;
        v.bonded -= fromBonded;
        uint256 rest = slash - fromBonded;
        if (rest > 0) {
            v.unbonding -= rest;
            Unbonding[] storage entries = _unbondings[key];
            uint256 n = entries.length;
            for (uint256 i = 0; i < n && rest > 0; i++) {
                uint256 a = entries[i].amount;
                uint256 take = rest < a ? rest : a;
                entries[i].amount = uint192(a - take);
                rest -= take;
            }
        }
        totalSlashed += slash - reward;
        emit Slashed(key, height, round, msg.sender, slash, reward);
        _updateCandidacy(key, v);
        if (reward > 0) _pay(msg.sender, reward);
    }

    // ------------------------------------------------------------------ views

    /// @notice `key`'s bonded and unbonding stake and whether it is jailed.
    function stakeOf(bytes32 key) external view returns (uint256 bonded, uint256 unbonding, bool jailed) {
        Validator storage v = _validators[key];
        return (v.bonded, v.unbonding, v.jailed);
    }

    /// @notice `key`'s open unbonding entries (amount, release epoch).
    function unbondingsOf(bytes32 key) external view returns (Unbonding[] memory) {
        return _unbondings[key];
    }

    /// @notice Whether `key` is registered.
    function isRegistered(bytes32 key) external view returns (bool) {
        return _validators[key].registered;
    }

    /// @notice The candidates (registered, not jailed, bonded >= minStake), in
    /// no particular order.
    function candidates() external view returns (bytes32[] memory) {
        return _candidates;
    }

    // ------------------------------------------------------------------ epoch

    /// @notice Ends epoch `epoch_`: selects, stores and returns the set of
    /// `epoch_ + 1` (sorted by bonded stake descending, then key ascending).
    /// Only the system, at the end of the last block of each epoch. Never
    /// reverts once initialized (given the right epoch); if no candidate is
    /// eligible the current set stays.
    function epochEnd(uint64 epoch_)
        external
        onlySystem
        initialized
        returns (bytes32[] memory keys, uint64[] memory powers)
    {
        if (epoch_ != epoch) revert WrongEpoch(epoch_, epoch);
        uint256 unit = params.powerUnit;
        uint256 k = params.maxValidators;
        bytes32[] memory topKeys = new bytes32[](k);
        uint256[] memory topBonded = new uint256[](k);
        uint256 count = 0;
        uint256 n = _candidates.length;
        // Insertion into a sorted top-k: a binary search for the place, then
        // one MCOPY per array to make room. O(n log k) comparisons.
        for (uint256 i = 0; i < n; i++) {
            bytes32 key = _candidates[i];
            uint256 bonded = _validators[key].bonded;
            if (count == k && !_ranksBefore(bonded, key, topBonded[k - 1], topKeys[k - 1])) continue;
            uint256 lo = 0;
            uint256 hi = count;
            while (lo < hi) {
                uint256 mid = (lo + hi) >> 1;
                if (_ranksBefore(bonded, key, topBonded[mid], topKeys[mid])) hi = mid;
                else lo = mid + 1;
            }
            // Entries [lo, end) move one place down; the last falls off when full.
            uint256 end = count < k ? count++ : k - 1;
            assembly ("memory-safe") {
                let moved := mul(sub(end, lo), 0x20)
                let from := add(add(topKeys, 0x20), mul(lo, 0x20))
                mcopy(add(from, 0x20), from, moved)
                from := add(add(topBonded, 0x20), mul(lo, 0x20))
                mcopy(add(from, 0x20), from, moved)
            }
            topKeys[lo] = key;
            topBonded[lo] = bonded;
        }
        if (count == 0) {
            keys = _setKeys;
            powers = _setPowers;
            _storeSet(epoch_ + 1, keys, powers, false);
            return (keys, powers);
        }
        keys = new bytes32[](count);
        powers = new uint64[](count);
        for (uint256 i = 0; i < count; i++) {
            keys[i] = topKeys[i];
            // Candidates have bonded >= minStake >= powerUnit: power >= 1.
            uint256 power = topBonded[i] / unit;
            powers[i] = uint64(power < POWER_MAX ? power : POWER_MAX);
        }
        _storeSet(epoch_ + 1, keys, powers, true);
    }

    // --------------------------------------------------------------- internal

    function _keyOfCaller() internal view returns (bytes32 key) {
        key = keyOf[msg.sender];
        if (key == bytes32(0)) revert NotRegistered(msg.sender);
    }

    /// Higher bonded first; on a tie the smaller key.
    function _ranksBefore(uint256 bonded, bytes32 key, uint256 otherBonded, bytes32 otherKey)
        internal
        pure
        returns (bool)
    {
        return bonded > otherBonded || (bonded == otherBonded && key < otherKey);
    }

    /// Keeps `_candidates` = registered, not jailed, bonded >= minStake.
    function _updateCandidacy(bytes32 key, Validator storage v) internal {
        bool eligible = !v.jailed && v.bonded >= params.minStake;
        uint256 slot = v.candidateSlot;
        if (eligible && slot == 0) {
            uint256 max = params.maxCandidates;
            if (_candidates.length >= max) revert CandidatesFull(max);
            _candidates.push(key);
            v.candidateSlot = uint32(_candidates.length);
            emit CandidateAdded(key);
        } else if (!eligible && slot != 0) {
            uint256 last = _candidates.length;
            if (slot != last) {
                bytes32 moved = _candidates[last - 1];
                _candidates[slot - 1] = moved;
                _validators[moved].candidateSlot = uint32(slot);
            }
            _candidates.pop();
            v.candidateSlot = 0;
            emit CandidateRemoved(key);
        }
    }

    function _pay(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
