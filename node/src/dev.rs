//! The development chain: the ten accounts of the well-known test mnemonic
//! (the same as anvil's and hardhat's), funded in a genesis with every fork
//! active from block 0.

use alloy_primitives::{Address, U256};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use outrigger_execution::genesis::dev_genesis;

/// The public test mnemonic. Its keys are known to everyone: never use
/// them on a real network.
pub const TEST_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Chain id of the development chain (geth's `--dev` uses the same).
pub const DEV_CHAIN_ID: u64 = 1337;
/// Accounts funded on the development chain.
pub const DEV_ACCOUNTS: u32 = 10;
/// Balance of each, in ether.
pub const DEV_BALANCE_ETH: u64 = 10_000;
/// Block gas limit of the development chain.
pub const DEV_GAS_LIMIT: u64 = 30_000_000;

/// The first `count` accounts of [`TEST_MNEMONIC`] (`m/44'/60'/0'/0/i`).
pub fn dev_accounts(count: u32) -> eyre::Result<Vec<PrivateKeySigner>> {
    (0..count)
        .map(|index| {
            Ok(MnemonicBuilder::<English>::default()
                .phrase(TEST_MNEMONIC)
                .index(index)?
                .build()?)
        })
        .collect()
}

/// The development genesis as JSON, with the test accounts funded.
pub fn dev_genesis_json(accounts: &[PrivateKeySigner]) -> eyre::Result<String> {
    let balance = U256::from(DEV_BALANCE_ETH) * U256::from(10u64).pow(U256::from(18u64));
    let funded: Vec<(Address, U256)> = accounts.iter().map(|a| (a.address(), balance)).collect();
    let file = dev_genesis(DEV_CHAIN_ID, DEV_GAS_LIMIT, &funded);
    let mut json = serde_json::to_value(&file.genesis)?;
    if let Some(object) = json.as_object_mut() {
        object.insert("outrigger".into(), serde_json::to_value(&file.outrigger)?);
    }
    Ok(serde_json::to_string_pretty(&json)?)
}

/// The banner `node --dev` prints, as anvil does: accounts, then keys.
pub fn banner(accounts: &[PrivateKeySigner], rpc: std::net::SocketAddr) -> String {
    let mut out = String::from("\nAvailable Accounts\n==================\n");
    for (i, account) in accounts.iter().enumerate() {
        out.push_str(&format!(
            "({i}) {} ({DEV_BALANCE_ETH} ETH)\n",
            account.address()
        ));
    }
    out.push_str("\nPrivate Keys\n==================\n");
    for (i, account) in accounts.iter().enumerate() {
        out.push_str(&format!(
            "({i}) 0x{}\n",
            alloy_primitives::hex::encode(account.to_bytes())
        ));
    }
    out.push_str(&format!(
        "\nWallet\n==================\nMnemonic:          {TEST_MNEMONIC}\nDerivation path:   m/44'/60'/0'/0/\n\nChain ID\n==================\n{DEV_CHAIN_ID}\n\nListening on {rpc}\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_accounts() {
        let accounts = dev_accounts(DEV_ACCOUNTS).unwrap();
        assert_eq!(accounts.len(), 10);
        // The first and last addresses every Ethereum tool prints for this mnemonic.
        assert_eq!(
            accounts[0].address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(
            accounts[9].address().to_string(),
            "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
        );
        let genesis = outrigger_execution::genesis::GenesisFile::from_json(
            &dev_genesis_json(&accounts).unwrap(),
        )
        .unwrap();
        assert_eq!(genesis.genesis.config.chain_id, DEV_CHAIN_ID);
        assert_eq!(genesis.genesis.alloc.len(), 10);
    }
}
