// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {BridgedToken, IBridgedTokenDeployer} from "./BridgedToken.sol";
import {InitParams, TokenConfig, TokenListing, TokenMetadata, WithdrawalMessage} from "./BridgeTypes.sol";
import {SafeTransfer} from "./lib/SafeTransfer.sol";

/// @notice What both bridges share: the relayer set and its threshold, the
/// guardian and pause, timelocked governance, the token list with its limits,
/// bridged-token deployment, incoming-transfer processing (rate limit, delay,
/// cancel) and the EIP-712 withdrawal digest.
///
/// Each asset is keyed by (address on its home chain, home is L1). On the
/// asset's home chain the bridge locks and releases it; on the other chain it
/// mints and burns a `BridgedToken` at a CREATE2 address fixed by that key.
/// The one exception is ETH: on L1 it is locked and released, on the sidechain
/// it is the native coin, which the sidechain bridge holds from genesis and
/// releases (there is no bridged token for it).
///
/// The rails, and the hack each one answers:
/// - threshold >= ceil(2N/3) of at least `MIN_RELAYERS` (Ronin 5/9, Harmony 2/5,
///   Multichain 1/1);
/// - signatures: strictly increasing signers (no duplicates), current relayers
///   only, low-s, v in {27, 28}, a nonzero recovered address; nonce 0 and
///   zero amounts/addresses never valid (Nomad's zero root);
/// - outflows: per-token rolling 24 h limit, and a delay with guardian cancel
///   above a per-token size (bounds the loss when the threshold is broken);
/// - no entry point makes a caller-chosen call: payouts only transfer listed
///   tokens, mint our own bridged tokens or send plain ETH with bounded gas,
///   held for a later claim if refused (Poly);
/// - relayer set, threshold, limits, token list, delays and roles change only
///   through governance and a timelock the guardian can veto; the guardian can
///   pause but only governance, through the timelock, can unpause.
abstract contract BridgeCore is IBridgedTokenDeployer {
    using SafeTransfer for address;

    // ---------------------------------------------------------------- limits

    uint256 public constant MIN_RELAYERS = 3;
    /// Relayer confirmations are a 64-bit bitmap over relayer indexes.
    uint256 public constant MAX_RELAYERS = 64;
    uint256 public constant MIN_GOVERNANCE_DELAY = 1 hours;
    uint256 public constant MIN_TRANSFER_DELAY = 10 minutes;
    uint256 public constant MAX_DELAY = 30 days;
    /// A scheduled governance operation expires this long after it is ready.
    uint256 public constant GRACE_PERIOD = 14 days;
    /// Outflow limits hold over any window of this length.
    uint256 public constant LIMIT_WINDOW = 24 hours;
    /// The window is tracked in buckets: one more than fit in the window, so
    /// that the buckets summed always cover the whole 24 h window ending now
    /// (and at most 6 h more: the limit errs on the safe side).
    uint256 internal constant BUCKET_SECONDS = 6 hours;
    uint256 internal constant BUCKETS = 5; // LIMIT_WINDOW / BUCKET_SECONDS + 1
    uint256 internal constant BUCKET_AMOUNT_MASK = (1 << 224) - 1;
    /// Gas a recipient's `receive` gets with a payout of ETH (native coin).
    /// If it reverts or needs more, the amount waits in `unclaimedETH`: a
    /// recipient can neither block a payout nor burn the payer's gas.
    uint256 public constant ETH_CALL_GAS = 100_000;
    /// secp256k1n / 2: signatures with a larger s are the malleated twin.
    uint256 internal constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    // --------------------------------------------------------------- EIP-712

    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant WITHDRAWAL_TYPEHASH = keccak256(
        "Withdrawal(uint256 sidechainChainId,address sidechainBridge,uint256 nonce,address token,bool homeL1,address from,address to,uint256 amount)"
    );
    bytes32 internal constant NAME_HASH = keccak256("Outrigger Bridge");
    bytes32 internal constant VERSION_HASH = keccak256("1");

    // ------------------------------------------------------------------ types

    enum Status {
        None,
        Queued,
        Executed,
        Cancelled
    }

    /// An incoming transfer (a deposit on the sidechain, a withdrawal on L1)
    /// once it has its threshold.
    struct Incoming {
        bytes32 hash;
        uint64 readyAt;
        Status status;
    }

    // ------------------------------------------------------------------ state

    /// True on L1Bridge, false on SidechainBridge.
    bool internal immutable IS_L1;

    address private _initializer;
    bool public initialized;
    bool public paused;
    address public governance;
    address public guardian;
    uint256 public governanceDelay;
    uint256 public transferDelay;
    uint256 public remoteChainId;
    address public remoteBridge;

    address[] internal _relayers;
    /// Index + 1 in `_relayers`; 0 for a non-relayer.
    mapping(address => uint256) internal _relayerIndex;
    uint256 public threshold;
    /// Bumped on every relayer-set change; confirmations of an older set lapse.
    uint64 public relayerSetVersion;

    /// Governance operation id (keccak256 of its calldata) => time it may run.
    mapping(bytes32 => uint256) public readyAt;

    mapping(bytes32 => TokenConfig) internal _tokenConfig;
    mapping(bytes32 => TokenMetadata) internal _tokenMetadata;
    /// Asset key => bridged token deployed here; and back.
    mapping(bytes32 => address) internal _bridgedToken;
    mapping(address => bytes32) internal _bridgedTokenKey;
    /// Asset key => outflow buckets, each `bucket index << 224 | amount`.
    mapping(bytes32 => uint256[BUCKETS]) internal _outflow;

    /// Incoming nonce => its state. Each nonce runs at most once.
    mapping(uint256 => Incoming) public incoming;

    /// ETH (native coin) paid out to a recipient that did not take it.
    mapping(address => uint256) public unclaimedETH;

    /// Set only while deploying a bridged token (see `bridgedTokenParameters`).
    bytes32 private _deployingKey;
    uint256 private _entered;

    // ----------------------------------------------------------------- events

    event Initialized(uint256 remoteChainId, address remoteBridge, address governance, address guardian);
    event RelayersChanged(uint64 indexed version, address[] relayers, uint256 threshold);
    event TokenConfigured(address indexed token, bool indexed homeL1, TokenConfig config);
    event BridgedTokenDeployed(address indexed token, bool indexed homeL1, address bridgedToken);
    event GovernanceChanged(address governance);
    event GuardianChanged(address guardian);
    event GovernanceDelayChanged(uint256 delay);
    event TransferDelayChanged(uint256 delay);
    event Paused(address indexed by);
    event Unpaused();
    event OperationScheduled(bytes32 indexed id, uint256 readyAt, bytes data);
    event OperationCancelled(bytes32 indexed id, address indexed by);
    event OperationExecuted(bytes32 indexed id);
    /// An incoming transfer waits: until `readyAt` when large, or for room
    /// under the daily limit. Anyone may then call `executeQueued*`.
    event TransferQueued(uint256 indexed nonce, bytes32 hash, uint256 readyAt, bool overDailyLimit);
    event TransferExecuted(
        uint256 indexed nonce, bytes32 hash, address indexed token, address indexed to, uint256 amount
    );
    event TransferCancelled(uint256 indexed nonce, address indexed by);
    /// A payout's ETH (native coin) was refused by `to`; `to` claims it with `claimETH`.
    event EthHeld(address indexed to, uint256 amount);
    event EthClaimed(address indexed by, address indexed recipient, uint256 amount);

    // ----------------------------------------------------------------- errors

    error AlreadyInitialized();
    error NotInitialized();
    error NotInitializer(address caller);
    error NotGovernance(address caller);
    error NotGuardian(address caller);
    error NotRelayer(address account);
    error IsPaused();
    error Reentrancy();
    error ZeroAddress();
    error ZeroAmount();
    error ZeroChainId();
    error ZeroNonce();
    error BadRelayerCount(uint256 count);
    error RelayersNotSorted(uint256 index);
    error BadThreshold(uint256 threshold, uint256 relayers);
    error BadDelay(uint256 delay);
    error BadTokenConfig(address token, bool homeL1);
    error TokenNotListed(address token, bool homeL1);
    error AmountOutOfRange(uint256 amount, uint256 min, uint256 max);
    error WrongValue(uint256 value, uint256 expected);
    error OperationNotScheduled(bytes32 id);
    error OperationAlreadyScheduled(bytes32 id);
    error OperationNotReady(bytes32 id, uint256 readyAt);
    error OperationExpired(bytes32 id);
    error AlreadyProcessed(uint256 nonce);
    error NotQueued(uint256 nonce);
    error HashMismatch(uint256 nonce);
    error TransferNotReady(uint256 nonce, uint256 readyAt);
    error DailyLimitExceeded(address token, bool homeL1, uint256 amount);
    error BadSignatureLength(uint256 length);
    error HighS();
    error BadV(uint8 v);
    error InvalidSignature();
    error SignersNotSorted(address signer);
    error NotEnoughSignatures(uint256 given, uint256 threshold);
    error EthTransferFailed(address to, uint256 amount);
    error BadRecipient(address to);
    error NotEnoughGas();
    error NotDeploying();

    // -------------------------------------------------------------- modifiers

    modifier onlyGovernance() {
        if (msg.sender != governance || governance == address(0)) revert NotGovernance(msg.sender);
        _;
    }

    /// Governance schedules `keccak256(calldata)` with `schedule`, waits
    /// `governanceDelay`, then sends exactly that calldata.
    modifier timelocked() {
        if (msg.sender != governance || governance == address(0)) revert NotGovernance(msg.sender);
        bytes32 id = keccak256(msg.data);
        uint256 at = readyAt[id];
        if (at == 0) revert OperationNotScheduled(id);
        if (block.timestamp < at) revert OperationNotReady(id, at);
        if (block.timestamp > at + GRACE_PERIOD) revert OperationExpired(id);
        delete readyAt[id];
        emit OperationExecuted(id);
        _;
    }

    modifier whenActive() {
        if (!initialized) revert NotInitialized();
        if (paused) revert IsPaused();
        _;
    }

    modifier nonReentrant() {
        if (_entered == 1) revert Reentrancy();
        _entered = 1;
        _;
        _entered = 0;
    }

    constructor(bool isL1) {
        IS_L1 = isL1;
        _initializer = msg.sender;
    }

    // ---------------------------------------------------------- initializing

    /// @notice Sets roles, delays, the other bridge, relayers and the initial
    /// token list. Once, and only by the deployer (no front-running).
    function initialize(InitParams calldata p) external {
        if (initialized) revert AlreadyInitialized();
        if (msg.sender != _initializer) revert NotInitializer(msg.sender);
        initialized = true;
        _initializer = address(0);
        if (p.governance == address(0) || p.guardian == address(0) || p.remoteBridge == address(0)) {
            revert ZeroAddress();
        }
        if (p.remoteChainId == 0) revert ZeroChainId();
        governance = p.governance;
        guardian = p.guardian;
        _setGovernanceDelay(p.governanceDelay);
        _setTransferDelay(p.transferDelay);
        remoteChainId = p.remoteChainId;
        remoteBridge = p.remoteBridge;
        _setRelayers(p.relayers, p.threshold);
        for (uint256 i = 0; i < p.tokens.length; i++) {
            TokenListing calldata t = p.tokens[i];
            _setToken(t.token, t.homeL1, t.config, t.metadata);
        }
        emit Initialized(p.remoteChainId, p.remoteBridge, p.governance, p.guardian);
    }

    // ---------------------------------------------------- guardian and pause

    /// @notice Stops deposits, withdrawals, confirmations and payouts.
    function pause() external {
        if (msg.sender != guardian && msg.sender != governance) revert NotGuardian(msg.sender);
        paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Only governance, through the timelock: a guardian key alone
    /// cannot resume a bridge it (or its thief) paused.
    function unpause() external timelocked {
        paused = false;
        emit Unpaused();
    }

    /// @notice Cancels a queued incoming transfer (large, or over the daily
    /// limit) before it executes. Its nonce stays consumed.
    function cancelQueued(uint256 nonce) external {
        if (msg.sender != guardian && msg.sender != governance) revert NotGuardian(msg.sender);
        Incoming storage t = incoming[nonce];
        if (t.status != Status.Queued) revert NotQueued(nonce);
        t.status = Status.Cancelled;
        emit TransferCancelled(nonce, msg.sender);
    }

    /// @notice Sends the caller's held ETH (native coin) to `recipient`.
    function claimETH(address recipient) external whenActive nonReentrant {
        if (recipient == address(0)) revert ZeroAddress();
        uint256 amount = unclaimedETH[msg.sender];
        if (amount == 0) revert ZeroAmount();
        unclaimedETH[msg.sender] = 0;
        (bool ok,) = recipient.call{value: amount}("");
        if (!ok) revert EthTransferFailed(recipient, amount);
        emit EthClaimed(msg.sender, recipient, amount);
    }

    // ------------------------------------------------------------ governance

    /// @notice Schedules a governance call: `data` is the exact calldata that
    /// governance will send after `governanceDelay`.
    function schedule(bytes calldata data) external onlyGovernance returns (bytes32 id) {
        id = keccak256(data);
        if (readyAt[id] != 0) revert OperationAlreadyScheduled(id);
        uint256 at = block.timestamp + governanceDelay;
        readyAt[id] = at;
        emit OperationScheduled(id, at, data);
    }

    /// @notice Cancels a scheduled governance call (`data` as scheduled): the
    /// guardian's veto. The guardian cannot veto its own replacement, or a
    /// stolen guardian key could block every change forever.
    function cancel(bytes calldata data) external {
        if (msg.sender != guardian && msg.sender != governance) revert NotGuardian(msg.sender);
        bytes32 id = keccak256(data);
        if (readyAt[id] == 0) revert OperationNotScheduled(id);
        if (msg.sender != governance && data.length >= 4 && bytes4(data[0:4]) == this.setGuardian.selector) {
            revert NotGovernance(msg.sender);
        }
        delete readyAt[id];
        emit OperationCancelled(id, msg.sender);
    }

    function setRelayers(address[] calldata newRelayers, uint256 newThreshold) external timelocked {
        _setRelayers(newRelayers, newThreshold);
    }

    function setToken(address token, bool homeL1, TokenConfig calldata config, TokenMetadata calldata metadata)
        external
        timelocked
    {
        _setToken(token, homeL1, config, metadata);
    }

    function setGovernance(address newGovernance) external timelocked {
        if (newGovernance == address(0)) revert ZeroAddress();
        governance = newGovernance;
        emit GovernanceChanged(newGovernance);
    }

    function setGuardian(address newGuardian) external timelocked {
        if (newGuardian == address(0)) revert ZeroAddress();
        guardian = newGuardian;
        emit GuardianChanged(newGuardian);
    }

    function setGovernanceDelay(uint256 delay) external timelocked {
        _setGovernanceDelay(delay);
    }

    function setTransferDelay(uint256 delay) external timelocked {
        _setTransferDelay(delay);
    }

    // ------------------------------------------------------------------ views

    function relayers() external view returns (address[] memory) {
        return _relayers;
    }

    function isRelayer(address account) public view returns (bool) {
        return _relayerIndex[account] != 0;
    }

    function tokenConfig(address token, bool homeL1) external view returns (TokenConfig memory) {
        return _tokenConfig[_key(token, homeL1)];
    }

    /// @notice The bridged token deployed here for an asset of the other
    /// chain, or address(0) before its first transfer.
    function bridgedToken(address token, bool homeL1) external view returns (address) {
        return _bridgedToken[_key(token, homeL1)];
    }

    /// @notice Where the bridged token for an asset is (or will be) deployed.
    function predictBridgedToken(address token, bool homeL1) external view returns (address) {
        bytes32 h = keccak256(
            abi.encodePacked(
                bytes1(0xff), address(this), _key(token, homeL1), keccak256(type(BridgedToken).creationCode)
            )
        );
        return address(uint160(uint256(h)));
    }

    /// @notice Amount of an asset that left the bridge in the current window
    /// (the last 24 to 30 hours); `dailyLimit` minus this is what may still go.
    function outflowInWindow(address token, bool homeL1) external view returns (uint256 used) {
        (used,) = _windowUsage(_key(token, homeL1));
    }

    /// @inheritdoc IBridgedTokenDeployer
    function bridgedTokenParameters() external view returns (string memory, string memory, uint8, address, bool) {
        bytes32 key = _deployingKey;
        if (key == 0) revert NotDeploying();
        TokenMetadata storage m = _tokenMetadata[key];
        (address token, bool homeL1) = _unkey(key);
        return (m.name, m.symbol, m.decimals, token, homeL1);
    }

    /// @notice The EIP-712 digest relayers sign for a withdrawal: domain
    /// (name "Outrigger Bridge", version "1", the L1 chain id, the L1 bridge)
    /// and a struct that adds the sidechain chain id and bridge.
    function hashWithdrawal(WithdrawalMessage calldata w) public view returns (bytes32) {
        return _hashWithdrawal(w.nonce, w.token, w.homeL1, w.from, w.to, w.amount);
    }

    /// @notice The EIP-712 domain separator of withdrawals: computed on each
    /// call, so it follows a chain-id change (fork).
    function domainSeparator() public view returns (bytes32) {
        (uint256 l1ChainId, address l1Bridge) = IS_L1 ? (block.chainid, address(this)) : (remoteChainId, remoteBridge);
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, l1ChainId, l1Bridge));
    }

    function _hashWithdrawal(uint256 nonce, address token, bool homeL1, address from, address to, uint256 amount)
        internal
        view
        returns (bytes32)
    {
        (uint256 sideChainId, address sideBridge) =
            IS_L1 ? (remoteChainId, remoteBridge) : (block.chainid, address(this));
        bytes32 structHash =
            keccak256(abi.encode(WITHDRAWAL_TYPEHASH, sideChainId, sideBridge, nonce, token, homeL1, from, to, amount));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    // ------------------------------------------------------ internal: config

    function _setRelayers(address[] calldata list, uint256 newThreshold) internal {
        uint256 n = list.length;
        if (n < MIN_RELAYERS || n > MAX_RELAYERS) revert BadRelayerCount(n);
        // ceil(2n/3) <= threshold <= n
        if (newThreshold * 3 < 2 * n || newThreshold > n) revert BadThreshold(newThreshold, n);
        address[] storage old = _relayers;
        for (uint256 i = 0; i < old.length; i++) {
            delete _relayerIndex[old[i]];
        }
        delete _relayers;
        address prev = address(0);
        for (uint256 i = 0; i < n; i++) {
            address r = list[i];
            if (r == address(0)) revert ZeroAddress();
            if (r <= prev) revert RelayersNotSorted(i);
            prev = r;
            _relayers.push(r);
            _relayerIndex[r] = i + 1;
        }
        threshold = newThreshold;
        relayerSetVersion += 1;
        emit RelayersChanged(relayerSetVersion, list, newThreshold);
    }

    function _setToken(address token, bool homeL1, TokenConfig calldata c, TokenMetadata calldata m) internal {
        // ETH is an L1 asset; there is no sidechain asset at address(0).
        if (token == address(0) && !homeL1) revert BadTokenConfig(token, homeL1);
        if (
            c.enabled
                && (c.minAmount == 0
                    || c.minAmount > c.maxAmount
                    || c.delayThreshold < c.minAmount
                    || c.delayThreshold > c.maxAmount
                    || c.dailyLimit < c.maxAmount
                    || c.dailyLimit > BUCKET_AMOUNT_MASK)
        ) revert BadTokenConfig(token, homeL1);
        bytes32 key = _key(token, homeL1);
        _tokenConfig[key] = c;
        if (_isMinted(token, homeL1) && _bridgedToken[key] == address(0)) {
            _tokenMetadata[key] = m;
        }
        emit TokenConfigured(token, homeL1, c);
    }

    function _setGovernanceDelay(uint256 delay) internal {
        if (delay < MIN_GOVERNANCE_DELAY || delay > MAX_DELAY) revert BadDelay(delay);
        governanceDelay = delay;
        emit GovernanceDelayChanged(delay);
    }

    function _setTransferDelay(uint256 delay) internal {
        if (delay < MIN_TRANSFER_DELAY || delay > MAX_DELAY) revert BadDelay(delay);
        transferDelay = delay;
        emit TransferDelayChanged(delay);
    }

    // ----------------------------------------------------- internal: assets

    /// Key of an asset: its home-chain address, with bit 160 set for L1 assets.
    function _key(address token, bool homeL1) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(token)) | (homeL1 ? 1 << 160 : 0));
    }

    function _unkey(bytes32 key) internal pure returns (address token, bool homeL1) {
        token = address(uint160(uint256(key)));
        homeL1 = uint256(key) >> 160 == 1;
    }

    /// True when this chain holds the asset as a `BridgedToken` (mint/burn).
    function _isMinted(address token, bool homeL1) internal view returns (bool) {
        return token != address(0) && homeL1 != IS_L1;
    }

    function _listed(address token, bool homeL1) internal view returns (bytes32 key, TokenConfig storage c) {
        key = _key(token, homeL1);
        c = _tokenConfig[key];
        if (!c.enabled) revert TokenNotListed(token, homeL1);
    }

    /// Takes an outgoing transfer from `from`: locks ETH/native coin or a home
    /// token (counting what arrived, for fee-on-transfer tokens), or burns a
    /// bridged token. Returns the amount the other side must pay out.
    function _take(address token, bool homeL1, address from, address to, uint256 amount)
        internal
        returns (uint256 received)
    {
        if (to == address(0)) revert ZeroAddress();
        // the other bridge would refuse the payout: the funds would stay locked here
        if (to == remoteBridge) revert BadRecipient(to);
        if (amount == 0) revert ZeroAmount();
        (bytes32 key, TokenConfig storage c) = _listed(token, homeL1);
        if (amount < c.minAmount || amount > c.maxAmount) revert AmountOutOfRange(amount, c.minAmount, c.maxAmount);
        if (token == address(0)) {
            if (msg.value != amount) revert WrongValue(msg.value, amount);
            return amount;
        }
        if (msg.value != 0) revert WrongValue(msg.value, 0);
        if (_isMinted(token, homeL1)) {
            BridgedToken(_bridgedToken[key]).burn(from, amount);
            return amount;
        }
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
    }

    /// An incoming transfer reached its threshold: pay it out now, or queue it
    /// when it is large (delay) or over the daily limit (wait for room).
    function _accept(uint256 nonce, bytes32 hash, address token, bool homeL1, address to, uint256 amount) internal {
        if (nonce == 0) revert ZeroNonce();
        if (to == address(0)) revert ZeroAddress();
        if (to == address(this)) revert BadRecipient(to);
        if (amount == 0) revert ZeroAmount();
        Incoming storage t = incoming[nonce];
        if (t.status != Status.None) revert AlreadyProcessed(nonce);
        (bytes32 key, TokenConfig storage c) = _listed(token, homeL1);
        t.hash = hash;
        if (amount >= c.delayThreshold) {
            uint256 at = block.timestamp + transferDelay;
            t.readyAt = uint64(at); // at < now + MAX_DELAY
            t.status = Status.Queued;
            emit TransferQueued(nonce, hash, at, false);
            return;
        }
        if (!_useOutflow(key, c.dailyLimit, amount)) {
            t.readyAt = uint64(block.timestamp);
            t.status = Status.Queued;
            emit TransferQueued(nonce, hash, block.timestamp, true);
            return;
        }
        t.status = Status.Executed;
        _pay(key, token, homeL1, to, amount);
        emit TransferExecuted(nonce, hash, token, to, amount);
    }

    /// Runs a queued incoming transfer once its delay has passed and the
    /// daily limit has room.
    function _executeQueued(uint256 nonce, bytes32 hash, address token, bool homeL1, address to, uint256 amount)
        internal
    {
        Incoming storage t = incoming[nonce];
        if (t.status != Status.Queued) revert NotQueued(nonce);
        if (t.hash != hash) revert HashMismatch(nonce);
        if (block.timestamp < t.readyAt) revert TransferNotReady(nonce, t.readyAt);
        (bytes32 key, TokenConfig storage c) = _listed(token, homeL1);
        if (!_useOutflow(key, c.dailyLimit, amount)) revert DailyLimitExceeded(token, homeL1, amount);
        t.status = Status.Executed;
        _pay(key, token, homeL1, to, amount);
        emit TransferExecuted(nonce, hash, token, to, amount);
    }

    /// Releases ETH/native coin or a home token, or mints a bridged token.
    /// The only calls made: plain ETH to `to`, `transfer` on a listed token,
    /// `mint` on a bridged token this contract deployed.
    function _pay(bytes32 key, address token, bool homeL1, address to, uint256 amount) private {
        if (token == address(0)) {
            // The recipient must get its full ETH_CALL_GAS, or a caller could
            // make the payout fail on purpose: 64/63 of it (EIP-150), plus the
            // CALL's own cost (value transfer 9000, cold account 2600, setup).
            if (gasleft() < ETH_CALL_GAS * 64 / 63 + 15_000) revert NotEnoughGas();
            (bool ok,) = to.call{value: amount, gas: ETH_CALL_GAS}("");
            if (!ok) {
                unclaimedETH[to] += amount;
                emit EthHeld(to, amount);
            }
        } else if (_isMinted(token, homeL1)) {
            address bridged = _bridgedToken[key];
            if (bridged == address(0)) bridged = _deployBridgedToken(key, token, homeL1);
            BridgedToken(bridged).mint(to, amount);
        } else {
            token.safeTransfer(to, amount);
        }
    }

    function _deployBridgedToken(bytes32 key, address token, bool homeL1) private returns (address bridged) {
        _deployingKey = key;
        bridged = address(new BridgedToken{salt: key}());
        _deployingKey = 0;
        _bridgedToken[key] = bridged;
        _bridgedTokenKey[bridged] = key;
        emit BridgedTokenDeployed(token, homeL1, bridged);
    }

    // ------------------------------------------------ internal: daily limit

    /// Sum over the last BUCKETS buckets (current included): every 24 h window
    /// ending now lies inside them, so admitting `amount` only when this sum
    /// stays within the limit bounds the outflow of every 24 h window.
    function _windowUsage(bytes32 key) internal view returns (uint256 used, uint256 current) {
        uint256 bucket = block.timestamp / BUCKET_SECONDS;
        uint256[BUCKETS] storage b = _outflow[key];
        for (uint256 i = 0; i < BUCKETS && i <= bucket; i++) {
            uint256 slot = b[(bucket - i) % BUCKETS];
            if (slot >> 224 == bucket - i) {
                uint256 amount = slot & BUCKET_AMOUNT_MASK;
                used += amount;
                if (i == 0) current = amount;
            }
        }
    }

    function _useOutflow(bytes32 key, uint256 limit, uint256 amount) internal returns (bool) {
        (uint256 used, uint256 current) = _windowUsage(key);
        if (amount > limit || used + amount > limit) return false;
        uint256 bucket = block.timestamp / BUCKET_SECONDS;
        _outflow[key][bucket % BUCKETS] = (bucket << 224) | (current + amount);
        return true;
    }

    // -------------------------------------------------- internal: signatures

    /// Recovers a 65-byte (r, s, v) signature, rejecting malleable and
    /// malformed ones instead of returning address(0).
    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address signer) {
        if (sig.length != 65) revert BadSignatureLength(sig.length);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_ORDER) revert HighS();
        if (v != 27 && v != 28) revert BadV(v);
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
    }

    /// At least `threshold` signatures by distinct current relayers, in
    /// strictly increasing signer order (which rules out duplicates).
    function _verifySignatures(bytes32 digest, bytes[] calldata signatures) internal view {
        uint256 n = signatures.length;
        uint256 t = threshold;
        if (t == 0 || n < t) revert NotEnoughSignatures(n, t);
        address prev = address(0);
        for (uint256 i = 0; i < n; i++) {
            address signer = _recover(digest, signatures[i]);
            if (signer <= prev) revert SignersNotSorted(signer);
            if (_relayerIndex[signer] == 0) revert NotRelayer(signer);
            prev = signer;
        }
    }
}
