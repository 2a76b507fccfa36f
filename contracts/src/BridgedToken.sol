// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice What a bridge answers while it deploys a `BridgedToken`.
interface IBridgedTokenDeployer {
    function bridgedTokenParameters()
        external
        view
        returns (string memory name, string memory symbol, uint8 decimals, address originToken, bool homeL1);
}

/// @notice The ERC20 a bridge mints for an asset whose home is the other chain.
/// Deployed by the bridge with CREATE2 (salt = the asset's key) and no
/// constructor arguments, so its address depends only on the bridge and the
/// asset: it reads its metadata back from the deploying bridge.
/// Only the bridge mints and burns.
contract BridgedToken {
    address public immutable bridge;
    /// The asset's address on its home chain.
    address public immutable originToken;
    /// True when the asset's home is L1.
    bool public immutable homeL1;
    uint8 public immutable decimals;
    string public name;
    string public symbol;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error OnlyBridge(address caller);
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address owner, address spender, uint256 allowance, uint256 needed);
    error ZeroAddress();

    constructor() {
        bridge = msg.sender;
        (string memory name_, string memory symbol_, uint8 decimals_, address origin_, bool homeL1_) =
            IBridgedTokenDeployer(msg.sender).bridgedTokenParameters();
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        originToken = origin_;
        homeL1 = homeL1_;
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert OnlyBridge(msg.sender);
        _;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < amount) revert InsufficientAllowance(from, msg.sender, allowed, amount);
            allowance[from][msg.sender] = allowed - amount;
        }
        _transfer(from, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function mint(address to, uint256 amount) external onlyBridge {
        if (to == address(0)) revert ZeroAddress();
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Burns a user's tokens when the user withdraws through the bridge
    /// (the user called the bridge; no allowance needed).
    function burn(address from, uint256 amount) external onlyBridge {
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        balanceOf[from] = balance - amount;
        totalSupply -= amount;
        emit Transfer(from, address(0), amount);
    }

    function _transfer(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        balanceOf[from] = balance - amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
