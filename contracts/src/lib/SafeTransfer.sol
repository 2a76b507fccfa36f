// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice ERC20 calls that tolerate tokens returning nothing (USDT-style) and
/// revert on tokens returning `false`, reverting, or having no code at all.
library SafeTransfer {
    error TokenCallFailed(address token, bytes4 selector);
    error NotAContract(address token);

    function safeTransfer(address token, address to, uint256 amount) internal {
        _call(token, abi.encodeWithSelector(0xa9059cbb, to, amount)); // transfer(address,uint256)
    }

    function safeTransferFrom(address token, address from, address to, uint256 amount) internal {
        _call(token, abi.encodeWithSelector(0x23b872dd, from, to, amount)); // transferFrom(address,address,uint256)
    }

    function balanceOf(address token, address account) internal view returns (uint256) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSelector(0x70a08231, account));
        if (!ok || ret.length < 32) revert TokenCallFailed(token, 0x70a08231);
        return abi.decode(ret, (uint256));
    }

    function _call(address token, bytes memory data) private {
        // A call to an address without code succeeds and returns nothing, which
        // would read as a successful USDT-style transfer.
        if (token.code.length == 0) revert NotAContract(token);
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && (ret.length < 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TokenCallFailed(token, bytes4(data));
        }
    }
}
