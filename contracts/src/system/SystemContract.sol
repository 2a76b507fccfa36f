// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice What both validator-set system contracts share: the system caller,
/// the protocol limits, the current set and the epoch counter.
///
/// The node places one of them (by the genesis consensus mode) as runtime
/// code at `0x…1000`: no constructor runs and there are no immutables, so all
/// setup happens in `initialize`, called once by `SYSTEM` while the genesis
/// state is built. At the end of the last block of each epoch the node calls
/// `epochEnd(epoch)` (a system call, 30M gas) and takes the returned set for
/// the next epoch. `epochEnd` must not revert for any reachable state: a
/// revert makes the node keep the old set.
abstract contract SystemContract {
    // ---------------------------------------------------------------- limits

    /// EIP-4788's system address: the sender of the node's system calls.
    address public constant SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
    /// The consensus core's bound on a set's total voting power (i64::MAX / 8).
    uint256 public constant TOTAL_POWER_MAX = 1152921504606846975;
    /// Largest validator set either contract builds: bounds every loop over
    /// the set (the consensus core itself accepts up to 10,000).
    uint256 public constant VALIDATORS_MAX = 128;

    // ------------------------------------------------------------------ state

    /// The epoch the current set belongs to: 0 after `initialize`, `e + 1`
    /// after `epochEnd(e)`.
    uint64 public epoch;
    bool internal _initialized;
    /// Operator (the account that acts for a validator) of each key, and back.
    mapping(bytes32 key => address) public operatorOf;
    mapping(address operator => bytes32) public keyOf;
    bytes32[] internal _setKeys;
    uint64[] internal _setPowers;

    // ----------------------------------------------------------------- events

    event Initialized(uint256 validators, uint256 totalPower);
    /// The set of `epoch` (the one just started), as `epochEnd` returned it.
    event EpochStarted(uint64 indexed epoch, bytes32[] keys, uint64[] powers, bool changed);

    // ----------------------------------------------------------------- errors

    error NotSystem(address caller);
    error AlreadyInitialized();
    error NotInitialized();
    error LengthMismatch();
    error EmptySet();
    error TooManyValidators(uint256 count, uint256 max);
    error ZeroKey();
    error DuplicateKey(bytes32 key);
    error ZeroPower(bytes32 key);
    error TotalPowerTooLarge(uint256 total);
    error DuplicateOperator(address operator);
    error BadParams(string what);
    /// `epochEnd(e)` must name the current epoch.
    error WrongEpoch(uint64 given, uint64 current);

    modifier onlySystem() {
        if (msg.sender != SYSTEM) revert NotSystem(msg.sender);
        _;
    }

    modifier initialized() {
        if (!_initialized) revert NotInitialized();
        _;
    }

    // ------------------------------------------------------------------ views

    /// @notice The current epoch's validator set (as of the last `epochEnd` or
    /// `initialize`): ed25519 keys and their voting powers.
    function validators() external view returns (bytes32[] memory keys, uint64[] memory powers) {
        return (_setKeys, _setPowers);
    }

    // --------------------------------------------------------------- internal

    /// Marks the contract initialized and checks the genesis arrays' shape.
    function _initialize(uint256 keys, uint256 powers, uint256 operators, uint256 maxValidators) internal {
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        if (keys != powers || keys != operators) revert LengthMismatch();
        if (keys == 0) revert EmptySet();
        if (keys > maxValidators) revert TooManyValidators(keys, maxValidators);
    }

    /// Replaces the stored current set and emits its event.
    function _storeSet(uint64 newEpoch, bytes32[] memory keys, uint64[] memory powers, bool changed) internal {
        if (changed) {
            uint256 n = keys.length;
            uint256 old = _setKeys.length;
            for (uint256 i = 0; i < n; i++) {
                if (i < old) {
                    _setKeys[i] = keys[i];
                    _setPowers[i] = powers[i];
                } else {
                    _setKeys.push(keys[i]);
                    _setPowers.push(powers[i]);
                }
            }
            for (uint256 i = n; i < old; i++) {
                _setKeys.pop();
                _setPowers.pop();
            }
        }
        epoch = newEpoch;
        emit EpochStarted(newEpoch, keys, powers, changed);
    }
}
