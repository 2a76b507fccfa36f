//! Bindings to the bridge contracts, generated from the committed artifacts,
//! and the EIP-712 message relayers sign for a withdrawal.

#![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{Eip712Domain, SolStruct as _, eip712_domain};

/// The L1 side: deposits lock, withdrawals release against relayer signatures.
pub mod l1 {
    alloy_sol_types::sol!(
        #[derive(Debug)]
        L1Bridge,
        "../contracts/artifacts/L1Bridge.json"
    );
}

/// The sidechain side: deposits mint at the relayer threshold, withdrawals burn.
pub mod sidechain {
    alloy_sol_types::sol!(
        #[derive(Debug)]
        SidechainBridge,
        "../contracts/artifacts/SidechainBridge.json"
    );
}

/// The token minted for an asset bridged from the other chain.
pub mod token {
    alloy_sol_types::sol!(
        #[derive(Debug)]
        BridgedToken,
        "../contracts/artifacts/BridgedToken.json"
    );
}

/// A plain ERC20 with a public mint (contracts/test/mocks/Tokens.sol): the
/// test token of `outrigger devnet` and of the bridge tests.
pub mod test_token {
    alloy_sol_types::sol!(
        #[derive(Debug)]
        MockERC20,
        "../contracts/artifacts/MockERC20.json"
    );
}

pub use l1::L1Bridge;
pub use sidechain::SidechainBridge;
pub use test_token::MockERC20;
pub use token::BridgedToken;

alloy_sol_types::sol! {
    /// The message relayers sign for a withdrawal (`L1Bridge.hashWithdrawal`).
    #[derive(Debug, PartialEq, Eq)]
    struct Withdrawal {
        uint256 sidechainChainId;
        address sidechainBridge;
        uint256 nonce;
        address token;
        bool homeL1;
        address from;
        address to;
        uint256 amount;
    }
}

/// The EIP-712 domain of withdrawals: the L1 bridge on the L1 chain.
pub fn withdrawal_domain(l1_chain_id: u64, l1_bridge: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Outrigger Bridge",
        version: "1",
        chain_id: l1_chain_id,
        verifying_contract: l1_bridge,
    }
}

/// The digest relayers sign for `withdrawal`.
pub fn withdrawal_digest(withdrawal: &Withdrawal, l1_chain_id: u64, l1_bridge: Address) -> B256 {
    withdrawal.eip712_signing_hash(&withdrawal_domain(l1_chain_id, l1_bridge))
}

/// A withdrawal's fields as the contracts' events carry them.
pub fn withdrawal(
    sidechain_chain_id: u64,
    sidechain_bridge: Address,
    nonce: U256,
    token: Address,
    home_l1: bool,
    from: Address,
    to: Address,
    amount: U256,
) -> Withdrawal {
    Withdrawal {
        sidechainChainId: U256::from(sidechain_chain_id),
        sidechainBridge: sidechain_bridge,
        nonce,
        token,
        homeL1: home_l1,
        from,
        to,
        amount,
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Signature, hex};
    use alloy_sol_types::SolEvent as _;

    use super::*;

    fn fixture() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../contracts/test/fixtures/eip712_withdrawal.json"
        ))
        .expect("fixture JSON")
    }

    fn address(value: &serde_json::Value) -> Address {
        value.as_str().unwrap().parse().unwrap()
    }

    fn u256(value: &serde_json::Value) -> U256 {
        match value {
            serde_json::Value::String(s) => s.parse().unwrap(),
            other => U256::from(other.as_u64().unwrap()),
        }
    }

    /// alloy's EIP-712 agrees with eth-account's (the fixture) and with the
    /// contracts (which assert the same fixture in forge), and the fixture's
    /// signatures recover to its relayers.
    #[test]
    fn withdrawal_digest_matches_eth_account_and_the_contracts() {
        let f = fixture();
        let l1_chain_id = f["l1ChainId"].as_u64().unwrap();
        let l1_bridge = address(&f["l1Bridge"]);
        let sidechain = f["sidechainChainId"].as_u64().unwrap();
        let sidechain_bridge = address(&f["sidechainBridge"]);
        for (key, digest) in [("withdrawal", "digest"), ("ethWithdrawal", "ethDigest")] {
            let w = &f[key];
            let message = withdrawal(
                sidechain,
                sidechain_bridge,
                u256(&w["nonce"]),
                address(&w["token"]),
                w["homeL1"].as_bool().unwrap(),
                address(&w["from"]),
                address(&w["to"]),
                u256(&w["amount"]),
            );
            let expected: B256 = f[digest].as_str().unwrap().parse().unwrap();
            assert_eq!(
                withdrawal_digest(&message, l1_chain_id, l1_bridge),
                expected,
                "{key}"
            );
        }
        assert_eq!(
            withdrawal_domain(l1_chain_id, l1_bridge).separator(),
            f["domainSeparator"]
                .as_str()
                .unwrap()
                .parse::<B256>()
                .unwrap()
        );
        assert_eq!(
            Withdrawal::eip712_encode_type(),
            f["typeString"].as_str().unwrap()
        );
        let digest: B256 = f["digest"].as_str().unwrap().parse().unwrap();
        for (signature, signer) in f["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .zip(f["signers"].as_array().unwrap())
        {
            let bytes = hex::decode(signature.as_str().unwrap()).unwrap();
            let signature = Signature::try_from(bytes.as_slice()).unwrap();
            assert_eq!(
                signature.recover_address_from_prehash(&digest).unwrap(),
                address(signer)
            );
        }
    }

    #[test]
    fn bindings_carry_the_artifacts() {
        for (name, bytecode) in [
            ("L1Bridge", &L1Bridge::BYTECODE),
            ("SidechainBridge", &SidechainBridge::BYTECODE),
            ("BridgedToken", &BridgedToken::BYTECODE),
        ] {
            let artifact: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(format!(
                    "{}/../contracts/artifacts/{name}.json",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap(),
            )
            .unwrap();
            let expected = hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap();
            assert_eq!(bytecode.as_ref(), expected.as_slice(), "{name}");
        }
        // The event relayers watch, by its signature.
        assert_eq!(
            L1Bridge::Deposit::SIGNATURE,
            "Deposit(uint256,address,bool,address,address,uint256)"
        );
    }
}
