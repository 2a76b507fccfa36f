//! The chain specification: chain id, fork schedule and fee parameters,
//! read from a geth-style genesis `config` section.

use alloy_eips::{eip1559::BaseFeeParams, eip7840::BlobParams};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_genesis::ChainConfig;
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::Address;
use revm::primitives::hardfork::SpecId;

/// What a chain is: its id and which rules apply at each block.
#[derive(Clone, Debug)]
pub struct ChainSpec {
    /// The EIP-155 chain id.
    pub chain_id: u64,
    hardforks: EthereumChainHardforks,
    /// Blob fee parameters per fork, from `config.blobSchedule` or the
    /// mainnet defaults.
    blob_params: alloy_eips::eip7892::BlobScheduleBlobParams,
    /// Whether blob (EIP-4844) transactions are accepted at all. Outrigger
    /// chains have no blob data layer, so they are off unless the genesis
    /// says otherwise; Ethereum conformance tests turn them on.
    pub blobs_enabled: bool,
    deposit_contract: Option<Address>,
    /// Epochs of a chain with a validator-set system contract: the executor
    /// calls it at every epoch's end and credits block rewards.
    pub epochs: Option<crate::system::Epochs>,
}

impl ChainSpec {
    /// Builds the spec from a genesis `config` section. Forks missing from
    /// it are never activated, as in geth.
    pub fn from_chain_config(config: &ChainConfig, blobs_enabled: bool) -> Self {
        use EthereumHardfork as F;
        let mut forks = vec![(F::Frontier, ForkCondition::Block(0))];
        let blocks = [
            (F::Homestead, config.homestead_block),
            (
                F::Dao,
                config.dao_fork_block.filter(|_| config.dao_fork_support),
            ),
            (F::Tangerine, config.eip150_block),
            (
                F::SpuriousDragon,
                config.eip158_block.or(config.eip155_block),
            ),
            (F::Byzantium, config.byzantium_block),
            (F::Constantinople, config.constantinople_block),
            (F::Petersburg, config.petersburg_block),
            (F::Istanbul, config.istanbul_block),
            (F::MuirGlacier, config.muir_glacier_block),
            (F::Berlin, config.berlin_block),
            (F::London, config.london_block),
            (F::ArrowGlacier, config.arrow_glacier_block),
            (F::GrayGlacier, config.gray_glacier_block),
        ];
        forks.extend(
            blocks
                .into_iter()
                .filter_map(|(f, b)| Some((f, ForkCondition::Block(b?)))),
        );
        let merged_at_genesis = config.terminal_total_difficulty_passed
            || config
                .terminal_total_difficulty
                .is_some_and(|ttd| ttd.is_zero());
        if let Some(block) = config
            .merge_netsplit_block
            .or(merged_at_genesis.then_some(0))
        {
            forks.push((F::Paris, ForkCondition::Block(block)));
        }
        let times = [
            (F::Shanghai, config.shanghai_time),
            (F::Cancun, config.cancun_time),
            (F::Prague, config.prague_time),
            (F::Osaka, config.osaka_time),
        ];
        forks.extend(
            times
                .into_iter()
                .filter_map(|(f, t)| Some((f, ForkCondition::Timestamp(t?)))),
        );
        Self {
            chain_id: config.chain_id,
            hardforks: EthereumChainHardforks::new(forks),
            blob_params: config.blob_schedule_blob_params(),
            blobs_enabled,
            deposit_contract: config.deposit_contract_address,
            epochs: None,
        }
    }

    /// The EVM rules at a block.
    pub fn spec_at(&self, number: u64, timestamp: u64) -> SpecId {
        let spec = alloy_evm::spec_by_timestamp_and_block_number(self, timestamp, number);
        // alloy-evm goes from Byzantium straight to Petersburg. Constantinople
        // without Petersburg differs only by EIP-1283, which never went live
        // and which revm does not implement: run Petersburg's rules.
        if spec == SpecId::BYZANTIUM
            && self.is_ethereum_fork_active_at_block(EthereumHardfork::Constantinople, number)
        {
            return SpecId::PETERSBURG;
        }
        spec
    }

    /// Blob fee parameters at a timestamp (Cancun and later).
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        if self.is_osaka_active_at_timestamp(timestamp) {
            Some(self.blob_params.osaka)
        } else if self.is_prague_active_at_timestamp(timestamp) {
            Some(self.blob_params.prague)
        } else if self.is_cancun_active_at_timestamp(timestamp) {
            Some(self.blob_params.cancun)
        } else {
            None
        }
    }

    /// EIP-1559 parameters (mainnet's: elasticity 2, denominator 8).
    pub fn base_fee_params(&self) -> BaseFeeParams {
        BaseFeeParams::ethereum()
    }
}

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.hardforks.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for ChainSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.deposit_contract
    }
}
