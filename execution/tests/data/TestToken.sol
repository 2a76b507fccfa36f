// SPDX-License-Identifier: MIT
// A minimal ERC20 and a contract that reverts or self-destructs, for the
// execution layer's tests. Compiled with solc 0.8.28 (npm solc), optimizer
// on, 200 runs, EVM version cancun; bytecode in TestToken.json.
pragma solidity 0.8.28;

contract TestToken {
    event Transfer(address indexed from, address indexed to, uint256 value);

    mapping(address => uint256) public balanceOf;
    uint256 public totalSupply;

    constructor(uint256 supply) {
        balanceOf[msg.sender] = supply;
        totalSupply = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "insufficient balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}

contract Ephemeral {
    uint256 public stored = 1;

    function fail() external pure {
        revert("always fails");
    }

    function destroy(address payable to) external {
        selfdestruct(to);
    }
}
