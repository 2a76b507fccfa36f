//! The validator-set system contract and the precompiles it relies on.
//!
//! A chain with a validator set in its genesis has one system contract at
//! [`VALIDATORS_CONTRACT`]: `PoAValidators` (the validators vote members in
//! and out) or `PoSStaking` (stake-weighted, with slashing), chosen by the
//! genesis' consensus mode. Its runtime code is placed there in the genesis
//! state and its `initialize` runs as a system call while the genesis state
//! is built, so every node derives the same block 0.
//!
//! At the end of the last block of every epoch the executor calls
//! `epochEnd(epoch)` as [`SYSTEM_ADDRESS`]; the set it returns, checked
//! here, is the validator set of the next epoch and is stored with the
//! block. A failed call or an unusable set keeps the current set (the chain
//! must not halt on a contract bug), said in the log.
//!
//! Two precompiles, present on every chain, let contracts check consensus
//! signatures: [`ED25519_VERIFY`] (registration's proof of possession) and
//! [`EVIDENCE_VERIFY`] (equivocation evidence in the consensus core's
//! portable encoding, under this chain's id).

use std::collections::BTreeMap;

use alloy_evm::{
    EthEvm, EthEvmFactory, Evm, EvmEnv, EvmFactory,
    eth::EthEvmContext,
    precompiles::{DynPrecompile, PrecompileInput, PrecompilesMap},
};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use alloy_sol_types::{SolCall as _, SolValue as _};
use outrigger_consensus_core::{ChainId, validator_set::TOTAL_POWER_MAX};
use revm::{
    DatabaseCommit as _, Inspector,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{EVMError, ExecutionResult, HaltReason},
    database::{CacheDB, EmptyDB},
    inspector::NoOpInspector,
    precompile::{PrecompileHalt, PrecompileId, PrecompileOutput, PrecompileResult},
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
};

use crate::genesis::{ConsensusMode, GenesisError, OutriggerGenesis};

/// Where the validator-set system contract lives.
pub const VALIDATORS_CONTRACT: Address = address!("0x0000000000000000000000000000000000001000");
/// The caller of system calls (EIP-4788's system address).
pub const SYSTEM_ADDRESS: Address = address!("0xfffffffffffffffffffffffffffffffffffffffe");
/// `key [32] | signature [64] | message` → 32 bytes, 1 if the signature
/// verifies strictly, else 0.
pub const ED25519_VERIFY: Address = address!("0x0000000000000000000000000000000000000f01");
/// Portable equivocation evidence → `abi.encode(bytes32 key, uint64 height,
/// uint32 round)`; the call fails on evidence that does not verify.
pub const EVIDENCE_VERIFY: Address = address!("0x0000000000000000000000000000000000000f02");

/// Longest message [`ED25519_VERIFY`] takes.
const ED25519_MESSAGE_MAX: usize = 1024;
/// Gas of one ed25519 verification (ecrecover costs 3,000).
const ED25519_GAS: u64 = 3_000;
/// Gas per 32-byte word of message hashed.
const ED25519_WORD_GAS: u64 = 12;
/// Gas of checking evidence: two verifications and the decoding.
const EVIDENCE_GAS: u64 = 7_000;
/// Gas a system call gets (as the EIP-4788 calls do).
const SYSTEM_CALL_GAS: u64 = 30_000_000;

/// Bindings of the two system contracts, from their committed artifacts.
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod contracts {
    alloy_sol_types::sol!(
        #[derive(Debug)]
        PoAValidators,
        "../contracts/artifacts/PoAValidators.json"
    );
    alloy_sol_types::sol!(
        #[derive(Debug)]
        PoSStaking,
        "../contracts/artifacts/PoSStaking.json"
    );
}

/// One member of an epoch's validator set, as the system contract names it.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct ValidatorEntry {
    /// The ed25519 consensus key.
    pub key: B256,
    /// Its voting power.
    pub power: u64,
}

/// The validator set of one epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochSet {
    /// The epoch it is the set of.
    pub epoch: u64,
    /// The members, sorted by key.
    pub validators: Vec<ValidatorEntry>,
}

/// What the executor needs to know about epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epochs {
    /// Blocks per epoch; epoch `e` is blocks `e * blocks ..= (e + 1) * blocks - 1`.
    pub blocks: u64,
    /// Wei credited to every block's beneficiary.
    pub block_reward: U256,
}

impl Epochs {
    /// The epoch of block `number`.
    pub fn epoch_of(&self, number: u64) -> u64 {
        number / self.blocks
    }

    /// The epoch that block `number` closes, if it is an epoch's last block.
    pub fn closes(&self, number: u64) -> Option<u64> {
        (number.checked_add(1)? % self.blocks == 0).then(|| self.epoch_of(number))
    }
}

/// Builds EVMs with Ethereum's precompiles plus Outrigger's two.
#[derive(Clone, Copy, Debug)]
pub struct OutriggerEvmFactory {
    chain_id: u64,
}

impl OutriggerEvmFactory {
    /// A factory for the chain `chain_id` (the evidence precompile checks
    /// signatures under it).
    pub fn new(chain_id: u64) -> Self {
        Self { chain_id }
    }

    fn install(&self, precompiles: &mut PrecompilesMap) {
        let chain_id = ChainId(self.chain_id);
        precompiles.extend_precompiles([
            (
                ED25519_VERIFY,
                DynPrecompile::new(
                    PrecompileId::Custom("ED25519_VERIFY".into()),
                    ed25519_verify,
                ),
            ),
            (
                EVIDENCE_VERIFY,
                DynPrecompile::new(
                    PrecompileId::Custom("EVIDENCE_VERIFY".into()),
                    move |input: PrecompileInput<'_>| evidence_verify(chain_id, input),
                ),
            ),
        ]);
    }
}

impl EvmFactory for OutriggerEvmFactory {
    type Evm<DB: alloy_evm::Database, I: Inspector<EthEvmContext<DB>>> =
        EthEvm<DB, I, PrecompilesMap>;
    type Context<DB: alloy_evm::Database> = EthEvmContext<DB>;
    type Tx = TxEnv;
    type Error<DBError: revm::database_interface::DBErrorMarker> = EVMError<DBError>;
    type HaltReason = HaltReason;
    type Spec = SpecId;
    type BlockEnv = BlockEnv;
    type Precompiles = PrecompilesMap;

    fn create_evm<DB: alloy_evm::Database>(
        &self,
        db: DB,
        env: EvmEnv,
    ) -> Self::Evm<DB, NoOpInspector> {
        let mut evm = EthEvmFactory::default().create_evm(db, env);
        self.install(evm.precompiles_mut());
        evm
    }

    fn create_evm_with_inspector<DB: alloy_evm::Database, I: Inspector<Self::Context<DB>>>(
        &self,
        db: DB,
        env: EvmEnv,
        inspector: I,
    ) -> Self::Evm<DB, I> {
        let mut evm = EthEvmFactory::default().create_evm_with_inspector(db, env, inspector);
        self.install(evm.precompiles_mut());
        evm
    }
}

fn halt(reason: &'static str, reservoir: u64) -> PrecompileResult {
    Ok(PrecompileOutput::halt(
        PrecompileHalt::Other(reason.into()),
        reservoir,
    ))
}

fn ed25519_verify(input: PrecompileInput<'_>) -> PrecompileResult {
    let data = input.data;
    let words = (data.len() as u64).div_ceil(32);
    let gas = ED25519_GAS + ED25519_WORD_GAS * words;
    if gas > input.gas {
        return halt("out of gas", input.reservoir);
    }
    if data.len() < 96 || data.len() - 96 > ED25519_MESSAGE_MAX {
        return halt(
            "ED25519_VERIFY: key, signature and message up to 1024 bytes",
            input.reservoir,
        );
    }
    let key: [u8; 32] = data[..32].try_into().expect("32 bytes");
    let signature: [u8; 64] = data[32..96].try_into().expect("64 bytes");
    let valid = ed25519_dalek::VerifyingKey::from_bytes(&key).is_ok_and(|key| {
        !key.is_weak()
            && key
                .verify_strict(
                    &data[96..],
                    &ed25519_dalek::Signature::from_bytes(&signature),
                )
                .is_ok()
    });
    let output = U256::from(u8::from(valid)).to_be_bytes::<32>();
    Ok(PrecompileOutput::new(
        gas,
        Bytes::from(output.to_vec()),
        input.reservoir,
    ))
}

fn evidence_verify(chain_id: ChainId, input: PrecompileInput<'_>) -> PrecompileResult {
    if EVIDENCE_GAS > input.gas {
        return halt("out of gas", input.reservoir);
    }
    match outrigger_consensus_core::verify_portable(chain_id, input.data) {
        Ok(proven) => {
            let output = (
                B256::from(*proven.key.as_bytes()),
                proven.height.0,
                proven.round.0,
            )
                .abi_encode();
            Ok(PrecompileOutput::new(
                EVIDENCE_GAS,
                output.into(),
                input.reservoir,
            ))
        }
        Err(_) => halt("EVIDENCE_VERIFY: evidence does not verify", input.reservoir),
    }
}

/// What a validator's consensus key signs to register under proof of
/// stake (`PoSStaking.register`): it binds the key to the operator account
/// on this chain, so nobody can register a key they do not hold.
pub fn registration_message(chain_id: u64, operator: Address) -> Vec<u8> {
    [
        &b"outrigger/validator-registration/v1"[..],
        &U256::from(chain_id).to_be_bytes::<32>(),
        VALIDATORS_CONTRACT.as_slice(),
        operator.as_slice(),
    ]
    .concat()
}

/// The contract's runtime code for a consensus mode.
fn runtime_code(mode: ConsensusMode) -> &'static [u8] {
    match mode {
        ConsensusMode::Poa => &contracts::PoAValidators::DEPLOYED_BYTECODE,
        ConsensusMode::Pos => &contracts::PoSStaking::DEPLOYED_BYTECODE,
    }
}

/// The `initialize` call for the genesis validators.
fn initialize_call(outrigger: &OutriggerGenesis) -> Vec<u8> {
    let keys = outrigger
        .validators
        .iter()
        .map(|v| B256::from_slice(&v.public_key))
        .collect::<Vec<_>>();
    let powers = outrigger.validators.iter().map(|v| v.power).collect();
    let operators = outrigger.validators.iter().map(|v| v.operator).collect();
    match outrigger.consensus {
        ConsensusMode::Poa => contracts::PoAValidators::initializeCall {
            keys,
            powers,
            operators,
            p: contracts::PoAValidators::PoAParams {
                maxValidators: outrigger.poa.max_validators,
                proposalEpochs: outrigger.poa.proposal_epochs,
            },
        }
        .abi_encode(),
        ConsensusMode::Pos => contracts::PoSStaking::initializeCall {
            keys,
            powers,
            operators,
            p: contracts::PoSStaking::PoSParams {
                minStake: outrigger.pos.min_stake,
                powerUnit: outrigger.pos.power_unit,
                maxValidators: outrigger.pos.max_validators,
                maxCandidates: outrigger.pos.max_candidates,
                unbondingEpochs: outrigger.pos.unbonding_epochs,
                epochBlocks: outrigger.epoch_blocks,
                slashBps: outrigger.pos.slash_bps,
                reporterRewardBps: outrigger.pos.reporter_reward_bps,
            },
        }
        .abi_encode(),
    }
}

/// Adds the system contract, initialised with the genesis validators, to
/// `genesis.alloc`. The contract's storage is what `initialize` wrote when
/// run as a system call on an otherwise empty state; under proof of stake
/// its balance is the genesis stake (`power * powerUnit` per validator).
pub fn install(genesis: &mut Genesis, outrigger: &OutriggerGenesis) -> Result<(), GenesisError> {
    if genesis.alloc.contains_key(&VALIDATORS_CONTRACT) {
        return Err(GenesisError::Invalid(format!(
            "alloc must not hold {VALIDATORS_CONTRACT}: the validator-set system contract goes there"
        )));
    }
    let balance = match outrigger.consensus {
        ConsensusMode::Poa => U256::ZERO,
        ConsensusMode::Pos => outrigger
            .validators
            .iter()
            .try_fold(U256::ZERO, |sum, v| {
                outrigger
                    .pos
                    .power_unit
                    .checked_mul(U256::from(v.power))
                    .and_then(|stake| sum.checked_add(stake))
            })
            .ok_or_else(|| GenesisError::Invalid("genesis stake overflows".into()))?,
    };
    let code = Bytes::from_static(runtime_code(outrigger.consensus));
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(
        VALIDATORS_CONTRACT,
        AccountInfo {
            balance,
            nonce: 1,
            code_hash: keccak256(&code),
            code: Some(Bytecode::new_raw(code.clone())),
            ..Default::default()
        },
    );
    let spec = crate::chain_spec::ChainSpec::from_chain_config(&genesis.config, false)
        .spec_at(0, genesis.timestamp);
    if !spec.is_enabled_in(SpecId::CANCUN) {
        return Err(GenesisError::Invalid(format!(
            "a chain with validators needs Cancun or later active at genesis (the system contract uses MCOPY); this genesis starts at {spec:?}"
        )));
    }
    let mut env: EvmEnv = EvmEnv {
        cfg_env: CfgEnv::new_with_spec(spec).with_chain_id(genesis.config.chain_id),
        ..Default::default()
    };
    env.block_env.number = U256::ZERO;
    env.block_env.timestamp = U256::from(genesis.timestamp);
    env.block_env.gas_limit = SYSTEM_CALL_GAS;
    let mut evm = OutriggerEvmFactory::new(genesis.config.chain_id).create_evm(db, env);
    let outcome = evm
        .transact_system_call(
            SYSTEM_ADDRESS,
            VALIDATORS_CONTRACT,
            initialize_call(outrigger).into(),
        )
        .map_err(|e| GenesisError::Invalid(format!("system contract initialize: {e}")))?;
    if !outcome.result.is_success() {
        return Err(GenesisError::Invalid(format!(
            "the genesis validators were refused by the system contract: {}",
            describe(&outcome.result)
        )));
    }
    let storage: BTreeMap<B256, B256> = outcome
        .state
        .get(&VALIDATORS_CONTRACT)
        .map(|account| {
            account
                .storage
                .iter()
                .filter(|(_, slot)| !slot.present_value.is_zero())
                .map(|(slot, value)| (B256::from(*slot), B256::from(value.present_value)))
                .collect()
        })
        .unwrap_or_default();
    genesis.alloc.insert(
        VALIDATORS_CONTRACT,
        GenesisAccount {
            nonce: Some(1),
            balance,
            code: Some(code),
            storage: Some(storage),
            private_key: None,
        },
    );
    Ok(())
}

/// The genesis validators as epoch 0's set.
pub fn genesis_set(outrigger: &OutriggerGenesis) -> Option<EpochSet> {
    if outrigger.validators.is_empty() {
        return None;
    }
    let mut validators: Vec<ValidatorEntry> = outrigger
        .validators
        .iter()
        .map(|v| ValidatorEntry {
            key: B256::from_slice(&v.public_key),
            power: v.power,
        })
        .collect();
    validators.sort_by_key(|v| v.key);
    Some(EpochSet {
        epoch: 0,
        validators,
    })
}

/// Calls `epochEnd(epoch)` as the system and commits what it changed;
/// returns the next epoch's set, or `None` (keep the current set) when the
/// call failed or the set is unusable.
pub fn epoch_end<E>(evm: &mut E, epoch: u64) -> Result<Option<EpochSet>, E::Error>
where
    E: Evm<HaltReason = HaltReason>,
    E::DB: revm::DatabaseCommit,
{
    let data = contracts::PoSStaking::epochEndCall { epoch_: epoch }.abi_encode();
    let outcome = evm.transact_system_call(SYSTEM_ADDRESS, VALIDATORS_CONTRACT, data.into())?;
    let result = outcome.result;
    evm.db_mut().commit(outcome.state);
    let ExecutionResult::Success { output, .. } = &result else {
        tracing::error!(target: "executor", epoch, outcome = %describe(&result), "epochEnd failed: the validator set stays");
        return Ok(None);
    };
    let returned = match contracts::PoSStaking::epochEndCall::abi_decode_returns(output.data()) {
        Ok(returned) => returned,
        Err(error) => {
            tracing::error!(target: "executor", epoch, %error, "epochEnd returned undecodable data: the validator set stays");
            return Ok(None);
        }
    };
    match checked_set(returned.keys, returned.powers) {
        Ok(validators) => Ok(Some(EpochSet {
            epoch: epoch + 1,
            validators,
        })),
        Err(reason) => {
            tracing::error!(target: "executor", epoch, reason, "epochEnd returned an unusable set: the validator set stays");
            Ok(None)
        }
    }
}

/// The consensus core's rules for a set: members, sorted by key, each a
/// valid strong ed25519 key with power, no duplicates, bounded size and
/// total power.
fn checked_set(keys: Vec<B256>, powers: Vec<u64>) -> Result<Vec<ValidatorEntry>, &'static str> {
    if keys.len() != powers.len() {
        return Err("keys and powers differ in length");
    }
    if keys.is_empty() {
        return Err("empty set");
    }
    if keys.len() > outrigger_consensus_core::validator_set::VALIDATORS_MAX {
        return Err("too many validators");
    }
    let mut total: u64 = 0;
    let mut set = Vec::with_capacity(keys.len());
    for (key, power) in keys.into_iter().zip(powers) {
        if power == 0 {
            return Err("a validator has zero power");
        }
        total = total
            .checked_add(power)
            .filter(|t| *t <= TOTAL_POWER_MAX)
            .ok_or("total power too large")?;
        // A proof-of-authority vote can name any 32 bytes: a key nobody can
        // sign for is left out rather than freezing the set.
        match ed25519_dalek::VerifyingKey::from_bytes(&key.0) {
            Ok(k) if !k.is_weak() => set.push(ValidatorEntry { key, power }),
            _ => {
                tracing::error!(target: "executor", %key, "epochEnd named a key that is not a strong ed25519 key: left out of the set")
            }
        }
    }
    if set.is_empty() {
        return Err("no usable key in the set");
    }
    set.sort_by_key(|v| v.key);
    if set.windows(2).any(|w| w[0].key == w[1].key) {
        return Err("a key appears twice");
    }
    Ok(set)
}

fn describe(result: &ExecutionResult<HaltReason>) -> String {
    match result {
        ExecutionResult::Success { .. } => "success".into(),
        ExecutionResult::Revert { output, .. } => format!("reverted: {output}"),
        ExecutionResult::Halt { reason, .. } => format!("halted: {reason:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_close_on_their_last_block() {
        let epochs = Epochs {
            blocks: 10,
            block_reward: U256::ZERO,
        };
        assert_eq!(epochs.closes(9), Some(0));
        assert_eq!(epochs.closes(19), Some(1));
        assert_eq!(epochs.closes(10), None);
        assert_eq!(epochs.closes(0), None);
        assert_eq!(epochs.closes(u64::MAX), None);
        assert_eq!(epochs.epoch_of(10), 1);
    }

    #[test]
    fn unusable_sets_are_refused() {
        let key = B256::from(
            ed25519_dalek::SigningKey::from_bytes(&[1; 32])
                .verifying_key()
                .to_bytes(),
        );
        let other = B256::from(
            ed25519_dalek::SigningKey::from_bytes(&[2; 32])
                .verifying_key()
                .to_bytes(),
        );
        assert!(checked_set(vec![key, other], vec![1, 2]).is_ok());
        assert!(checked_set(vec![], vec![]).is_err());
        assert!(checked_set(vec![key], vec![0]).is_err());
        assert!(checked_set(vec![key, key], vec![1, 1]).is_err());
        assert!(checked_set(vec![key], vec![1, 2]).is_err());
        assert!(checked_set(vec![key, other], vec![TOTAL_POWER_MAX, 1]).is_err());
        assert!(
            checked_set(vec![B256::ZERO], vec![1]).is_err(),
            "only a weak key"
        );
        assert_eq!(
            checked_set(vec![key, B256::ZERO], vec![1, 1])
                .unwrap()
                .len(),
            1,
            "a weak key is left out"
        );
    }
}
