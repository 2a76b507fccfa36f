// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "../utils/Vm.sol";

/// Stands in for the node's ED25519_VERIFY precompile (0x…0f01): the same
/// input/output shape and failure cases, but a "signature" of `message` by
/// `key` is `keccak256(key ‖ message) ‖ keccak256(message)` (see `MockSigner`).
contract MockEd25519 {
    fallback(bytes calldata input) external returns (bytes memory) {
        require(input.length >= 96 && input.length - 96 <= 1024, "malformed");
        bytes32 key = bytes32(input[0:32]);
        bytes calldata message = input[96:];
        bool valid = bytes32(input[32:64]) == keccak256(abi.encodePacked(key, message))
            && bytes32(input[64:96]) == keccak256(message);
        return abi.encode(valid ? uint256(1) : uint256(0));
    }
}

/// Stands in for the EVIDENCE_VERIFY precompile (0x…0f02): "evidence" is 239
/// bytes whose first 96 are `abi.encode(key, height, round)` and whose last
/// byte is 1 when valid; anything else fails the call.
contract MockEvidence {
    fallback(bytes calldata input) external returns (bytes memory) {
        require(input.length == 239 && input[238] == 0x01, "invalid evidence");
        return input[0:96];
    }
}

library MockSigner {
    function sign(bytes32 key, bytes memory message) internal pure returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encodePacked(key, message)), keccak256(message));
    }

    /// The registration proof of possession of `key` for `operator`.
    function registration(bytes32 key, uint256 chainId, address staking, address operator)
        internal
        pure
        returns (bytes memory)
    {
        return sign(key, abi.encodePacked("outrigger/validator-registration/v1", chainId, staking, operator));
    }

    function evidence(bytes32 key, uint64 height, uint32 round, bool valid) internal pure returns (bytes memory ev) {
        ev = new bytes(239);
        bytes memory head = abi.encode(key, height, round);
        for (uint256 i = 0; i < 96; i++) {
            ev[i] = head[i];
        }
        ev[238] = valid ? bytes1(0x01) : bytes1(0x00);
    }
}

/// Installs the precompile stand-ins and a system contract at 0x…1000.
abstract contract SystemFixture {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    address internal constant SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
    address internal constant VALIDATORS_CONTRACT = 0x0000000000000000000000000000000000001000;

    function _installPrecompiles() internal {
        vm.etch(0x0000000000000000000000000000000000000F01, address(new MockEd25519()).code);
        vm.etch(0x0000000000000000000000000000000000000f02, address(new MockEvidence()).code);
    }

    /// Places `impl`'s runtime code at 0x…1000, as the genesis state does.
    function _predeploy(address impl) internal returns (address) {
        vm.etch(VALIDATORS_CONTRACT, impl.code);
        return VALIDATORS_CONTRACT;
    }

    function _key(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("validator key", i));
    }

    function _operator(uint256 i) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("operator", i)))));
    }
}
