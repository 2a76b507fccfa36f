// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "../test/utils/Vm.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {InitParams, TokenConfig, TokenListing, TokenMetadata} from "../src/BridgeTypes.sol";

/// Deploys and initializes one bridge, listing ETH (the sidechain's native
/// coin) with the given limits. The two bridges reference each other, so
/// compute the other's address first (e.g. `cast compute-address <deployer>
/// --nonce <n>`) and deploy each from its own chain:
///
///   BRIDGE=l1|sidechain DEPLOYER_KEY=0x.. REMOTE_CHAIN_ID=.. REMOTE_BRIDGE=0x..
///   GOVERNANCE=0x.. GUARDIAN=0x.. RELAYERS=0xa,0xb,0xc THRESHOLD=3
///   [GOVERNANCE_DELAY=3600] [TRANSFER_DELAY=600]
///   [ETH_MIN=1e15 ETH_MAX=1e21 ETH_DAILY=1e22 ETH_LARGE=1e20]  (wei)
///   forge script script/Deploy.s.sol --rpc-url <url> --broadcast
///
/// RELAYERS must be sorted ascending. Other tokens are listed later through
/// governance (`schedule` + `setToken`).
contract Deploy {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external returns (address bridge) {
        uint256 key = vm.envUint("DEPLOYER_KEY");
        bool isL1 = keccak256(bytes(_envString("BRIDGE"))) == keccak256("l1");
        TokenListing[] memory tokens = new TokenListing[](1);
        tokens[0] = TokenListing(
            address(0),
            true,
            TokenConfig({
                enabled: true,
                minAmount: vm.envOr("ETH_MIN", uint256(1e15)),
                maxAmount: vm.envOr("ETH_MAX", uint256(1e21)),
                dailyLimit: vm.envOr("ETH_DAILY", uint256(1e22)),
                delayThreshold: vm.envOr("ETH_LARGE", uint256(1e20))
            }),
            TokenMetadata("", "", 18)
        );
        InitParams memory p = InitParams({
            governance: vm.envAddress("GOVERNANCE"),
            guardian: vm.envAddress("GUARDIAN"),
            governanceDelay: vm.envOr("GOVERNANCE_DELAY", uint256(1 hours)),
            transferDelay: vm.envOr("TRANSFER_DELAY", uint256(10 minutes)),
            remoteChainId: vm.envUint("REMOTE_CHAIN_ID"),
            remoteBridge: vm.envAddress("REMOTE_BRIDGE"),
            relayers: vm.envAddress("RELAYERS", ","),
            threshold: vm.envUint("THRESHOLD"),
            tokens: tokens
        });
        vm.startBroadcast(key);
        if (isL1) {
            L1Bridge b = new L1Bridge();
            b.initialize(p);
            bridge = address(b);
        } else {
            SidechainBridge b = new SidechainBridge();
            b.initialize(p);
            bridge = address(b);
        }
        vm.stopBroadcast();
    }

    function _envString(string memory name) internal view returns (string memory) {
        return vm.envString(name);
    }
}
