// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "../test/utils/Vm.sol";
import {L1Bridge} from "../src/L1Bridge.sol";
import {SidechainBridge} from "../src/SidechainBridge.sol";
import {
    DepositMessage,
    WithdrawalMessage,
    InitParams,
    TokenConfig,
    TokenListing,
    TokenMetadata
} from "../src/BridgeTypes.sol";
import {MockERC20} from "../test/mocks/Tokens.sol";

/// Real transactions for the README's gas table: run against anvil with
/// `--broadcast` (scripts/contracts.sh --gas does it for 3-of-4, 5-of-7 and
/// 7-of-10), then read gasUsed from the receipts. Both bridges live on the
/// one anvil chain; what is measured does not depend on that.
///
/// Env: GAS_N relayers, GAS_T threshold, DEPLOYER_KEY (a funded anvil key).
contract GasReport {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256[] internal keys;
    address[] internal relayers;

    function run() external {
        uint256 n = vm.envUint("GAS_N");
        uint256 t = vm.envUint("GAS_T");
        uint256 deployerKey = vm.envUint("DEPLOYER_KEY");
        address user = vm.addr(deployerKey);
        _relayers(n);

        vm.startBroadcast(deployerKey);
        MockERC20 token = new MockERC20("USD Coin", "USDC");
        L1Bridge l1 = new L1Bridge();
        SidechainBridge side = new SidechainBridge();
        l1.initialize(_params(block.chainid, address(side), t, address(token)));
        side.initialize(_params(block.chainid, address(l1), t, address(token)));
        for (uint256 i = 0; i < n; i++) {
            (bool ok,) = relayers[i].call{value: 1 ether}("");
            require(ok, "fund relayer");
        }
        token.mint(user, 1000e18);
        token.approve(address(l1), type(uint256).max);
        l1.depositETH{value: 1 ether}(user); // deposit, ETH
        uint256 first = l1.depositERC20(address(token), user, 100e18); // deposit, ERC20 (first)
        uint256 second = l1.depositERC20(address(token), user, 100e18); // deposit, ERC20
        vm.stopBroadcast();

        // confirm: t votes each; the t-th executes (the first one also deploys the bridged token)
        _confirmAll(side, DepositMessage(first, address(token), true, user, user, 100e18), t);
        _confirmAll(side, DepositMessage(second, address(token), true, user, user, 100e18), t);

        vm.startBroadcast(deployerKey);
        address bridged = side.bridgedToken(address(token), true);
        uint256 nonce = side.withdraw(bridged, user, 50e18); // withdraw (burn)
        vm.stopBroadcast();

        bytes32 digest = side.withdrawalDigest(nonce);
        bytes[] memory sigs = new bytes[](t);
        for (uint256 i = 0; i < t; i++) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs[i] = abi.encodePacked(r, s, v);
            vm.startBroadcast(keys[i]);
            side.submitSignature(nonce, sigs[i]); // submitSignature
            vm.stopBroadcast();
        }

        vm.startBroadcast(deployerKey);
        l1.finalizeWithdrawal(WithdrawalMessage(nonce, address(token), true, user, user, 50e18), sigs); // finalize
        vm.stopBroadcast();
    }

    function _confirmAll(SidechainBridge side, DepositMessage memory d, uint256 t) internal {
        for (uint256 i = 0; i < t; i++) {
            vm.startBroadcast(keys[i]);
            side.confirmDeposit(d);
            vm.stopBroadcast();
        }
    }

    function _relayers(uint256 n) internal {
        for (uint256 i = 0; i < n; i++) {
            uint256 key = 0x1000 + i;
            address a = vm.addr(key);
            keys.push(key);
            relayers.push(a);
            uint256 j = relayers.length - 1;
            while (j > 0 && relayers[j - 1] > a) {
                relayers[j] = relayers[j - 1];
                keys[j] = keys[j - 1];
                j--;
            }
            relayers[j] = a;
            keys[j] = key;
        }
    }

    function _params(uint256 remoteChainId, address remoteBridge, uint256 t, address token)
        internal
        view
        returns (InitParams memory)
    {
        TokenListing[] memory tokens = new TokenListing[](2);
        TokenConfig memory c =
            TokenConfig({enabled: true, minAmount: 1, maxAmount: 1e24, dailyLimit: 1e25, delayThreshold: 1e24});
        tokens[0] = TokenListing(address(0), true, c, TokenMetadata("", "", 18));
        tokens[1] = TokenListing(token, true, c, TokenMetadata("Bridged USDC", "USDC.o", 18));
        return InitParams({
            governance: address(0x60F),
            guardian: address(0x6A4D),
            governanceDelay: 2 days,
            transferDelay: 1 days,
            remoteChainId: remoteChainId,
            remoteBridge: remoteBridge,
            relayers: relayers,
            threshold: t,
            tokens: tokens
        });
    }
}
