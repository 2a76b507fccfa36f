//! Wire formats of what validators exchange: votes, proposals with their
//! block, commit certificates, and synced blocks. Fixed-width big-endian
//! fields, blocks as RLP. Decoding never trusts a length before checking it
//! against what is left of the input, so a hostile peer cannot make a node
//! allocate more than it sent.
//!
//! | message | layout |
//! |---|---|
//! | vote | kind (1) ‖ height (8) ‖ round (4) ‖ has value (1) ‖ value (32) ‖ validator (4) ‖ signature (64) |
//! | proposal | height (8) ‖ round (4) ‖ value (32) ‖ has valid round (1) ‖ valid round (4) ‖ proposer (4) ‖ signature (64) ‖ block RLP |
//! | certificate | height (8) ‖ round (4) ‖ value (32) ‖ signers (2) ‖ signers × (index (4) ‖ signature (64)) |
//! | synced block | certificate ‖ block RLP |
//!
//! Gossip messages start with a version byte and an 8-byte nonce: the nonce
//! makes a re-broadcast of the same vote a new gossip message (gossipsub
//! drops repeats of content it has seen), and is not signed.

use alloy_rlp::{Decodable as _, Encodable as _};
use outrigger_consensus_core::{
    BlockHash, CommitCertificate, Height, Proposal, Round, Signature, SignedProposal, SignedVote,
    ValidatorIndex, Vote, VoteKind,
};
use outrigger_execution::block::Block;

/// The gossip envelope version this node speaks.
pub const WIRE_VERSION: u8 = 1;
/// Encoded length of a signed vote.
pub const VOTE_LEN: usize = 1 + 8 + 4 + 1 + 32 + 4 + 64;
/// Encoded length of a signed proposal without its block.
const PROPOSAL_LEN: usize = 8 + 4 + 32 + 1 + 4 + 4 + 64;
/// Length of the gossip envelope's header (version and nonce).
const ENVELOPE_LEN: usize = 1 + 8;
/// Most signers a certificate may carry (the validator set's bound).
pub const CERTIFICATE_SIGNERS_MAX: usize = 1024;

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended early.
    #[error("{what}: {len} bytes, expected at least {expected}")]
    Short {
        /// What was being decoded.
        what: &'static str,
        /// The bytes there were.
        len: usize,
        /// The bytes needed.
        expected: usize,
    },
    /// Bytes were left after the message.
    #[error("{what}: {extra} trailing bytes")]
    Trailing {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// A field holds a value no encoder writes.
    #[error("{what}: {detail}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// A proposal with the block it proposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalMessage {
    /// The signed proposal.
    pub proposal: SignedProposal,
    /// The block whose hash `proposal.value` is.
    pub block: Block,
}

/// A block as block sync serves it: with the certificate that finalized it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncedBlock {
    /// The certificate (its value is the block's hash).
    pub certificate: CommitCertificate,
    /// The block.
    pub block: Block,
}

/// Reads fixed-width fields off the front of a byte slice.
struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, bytes }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Short {
                what: self.what,
                len: self.bytes.len(),
                expected: n,
            });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.invalid(format!("flag byte {other}"))),
        }
    }

    fn signature(&mut self) -> Result<Signature, DecodeError> {
        Ok(Signature::from_bytes(&self.array()?))
    }

    fn invalid(&self, detail: String) -> DecodeError {
        DecodeError::Invalid {
            what: self.what,
            detail,
        }
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    fn finish(self) -> Result<(), DecodeError> {
        match self.bytes.len() {
            0 => Ok(()),
            extra => Err(DecodeError::Trailing {
                what: self.what,
                extra,
            }),
        }
    }
}

fn put_vote(out: &mut Vec<u8>, vote: &SignedVote) {
    let v = &vote.vote;
    out.push(match v.kind {
        VoteKind::Prevote => 1,
        VoteKind::Precommit => 2,
    });
    out.extend_from_slice(&v.height.0.to_be_bytes());
    out.extend_from_slice(&v.round.0.to_be_bytes());
    out.push(u8::from(v.value.is_some()));
    out.extend_from_slice(&v.value.unwrap_or_default().0);
    out.extend_from_slice(&v.validator.0.to_be_bytes());
    out.extend_from_slice(&vote.signature.to_bytes());
}

fn read_vote(r: &mut Reader<'_>) -> Result<SignedVote, DecodeError> {
    let kind = match r.u8()? {
        1 => VoteKind::Prevote,
        2 => VoteKind::Precommit,
        other => return Err(r.invalid(format!("vote kind {other}"))),
    };
    let height = Height(r.u64()?);
    let round = Round(r.u32()?);
    let has_value = r.flag()?;
    let value = BlockHash(r.array()?);
    if !has_value && value != BlockHash::default() {
        return Err(r.invalid("nil vote with a value".into()));
    }
    let validator = ValidatorIndex(r.u32()?);
    let signature = r.signature()?;
    Ok(SignedVote {
        vote: Vote {
            kind,
            height,
            round,
            value: has_value.then_some(value),
            validator,
        },
        signature,
    })
}

fn put_proposal(out: &mut Vec<u8>, proposal: &SignedProposal) {
    let p = &proposal.proposal;
    out.extend_from_slice(&p.height.0.to_be_bytes());
    out.extend_from_slice(&p.round.0.to_be_bytes());
    out.extend_from_slice(&p.value.0);
    out.push(u8::from(p.valid_round.is_some()));
    out.extend_from_slice(&p.valid_round.unwrap_or_default().0.to_be_bytes());
    out.extend_from_slice(&p.proposer.0.to_be_bytes());
    out.extend_from_slice(&proposal.signature.to_bytes());
}

fn read_proposal(r: &mut Reader<'_>) -> Result<SignedProposal, DecodeError> {
    let height = Height(r.u64()?);
    let round = Round(r.u32()?);
    let value = BlockHash(r.array()?);
    let has_valid_round = r.flag()?;
    let valid_round = Round(r.u32()?);
    if !has_valid_round && valid_round != Round::default() {
        return Err(r.invalid("valid round set without its flag".into()));
    }
    let proposer = ValidatorIndex(r.u32()?);
    let signature = r.signature()?;
    Ok(SignedProposal {
        proposal: Proposal {
            height,
            round,
            value,
            valid_round: has_valid_round.then_some(valid_round),
            proposer,
        },
        signature,
    })
}

fn put_certificate(out: &mut Vec<u8>, certificate: &CommitCertificate) {
    assert!(
        certificate.signatures.len() <= CERTIFICATE_SIGNERS_MAX,
        "a certificate has at most one signature per validator"
    );
    out.extend_from_slice(&certificate.height.0.to_be_bytes());
    out.extend_from_slice(&certificate.round.0.to_be_bytes());
    out.extend_from_slice(&certificate.value.0);
    // Fits: checked against CERTIFICATE_SIGNERS_MAX above.
    out.extend_from_slice(&(certificate.signatures.len() as u16).to_be_bytes());
    for (index, signature) in &certificate.signatures {
        out.extend_from_slice(&index.0.to_be_bytes());
        out.extend_from_slice(&signature.to_bytes());
    }
}

fn read_certificate(r: &mut Reader<'_>) -> Result<CommitCertificate, DecodeError> {
    let height = Height(r.u64()?);
    let round = Round(r.u32()?);
    let value = BlockHash(r.array()?);
    let count = usize::from(r.u16()?);
    if count > CERTIFICATE_SIGNERS_MAX {
        return Err(r.invalid(format!(
            "{count} signers, at most {CERTIFICATE_SIGNERS_MAX}"
        )));
    }
    // The count is bounded and every entry is 68 bytes of input: reading
    // them one by one never allocates more than was sent.
    let mut signatures = Vec::with_capacity(count.min(r.bytes.len() / 68));
    for _ in 0..count {
        let index = ValidatorIndex(r.u32()?);
        signatures.push((index, r.signature()?));
    }
    Ok(CommitCertificate {
        height,
        round,
        value,
        signatures,
    })
}

fn read_block(what: &'static str, received: &[u8]) -> Result<Block, DecodeError> {
    let mut bytes = received;
    let block = Block::decode(&mut bytes).map_err(|e| DecodeError::Invalid {
        what,
        detail: format!("block RLP: {e}"),
    })?;
    if !bytes.is_empty() {
        return Err(DecodeError::Trailing {
            what,
            extra: bytes.len(),
        });
    }
    // One encoding per block. alloy-eips 2.5 accepts a typed transaction
    // whose RLP string header declares the wrong length (its check reads the
    // type byte, not the header), so a peer could send the same block in
    // many encodings, each a new gossip message. Found by fuzzing.
    let mut canonical = Vec::with_capacity(received.len());
    block.encode(&mut canonical);
    if canonical != received {
        return Err(DecodeError::Invalid {
            what,
            detail: "block RLP is not in canonical form".into(),
        });
    }
    Ok(block)
}

fn envelope(nonce: u64, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_LEN + capacity);
    out.push(WIRE_VERSION);
    out.extend_from_slice(&nonce.to_be_bytes());
    out
}

fn open_envelope<'a>(what: &'static str, bytes: &'a [u8]) -> Result<Reader<'a>, DecodeError> {
    let mut r = Reader::new(what, bytes);
    let version = r.u8()?;
    if version != WIRE_VERSION {
        return Err(r.invalid(format!(
            "wire version {version}, this node speaks {WIRE_VERSION}"
        )));
    }
    r.u64()?;
    Ok(r)
}

/// Replaces the nonce of an encoded gossip message (to publish it again).
pub fn set_nonce(message: &mut [u8], nonce: u64) {
    if message.len() >= ENVELOPE_LEN {
        message[1..ENVELOPE_LEN].copy_from_slice(&nonce.to_be_bytes());
    }
}

/// A vote as gossiped; `nonce` tells re-broadcasts apart.
pub fn encode_vote(vote: &SignedVote, nonce: u64) -> Vec<u8> {
    let mut out = envelope(nonce, VOTE_LEN);
    put_vote(&mut out, vote);
    out
}

/// Decodes a gossiped vote.
pub fn decode_vote(bytes: &[u8]) -> Result<SignedVote, DecodeError> {
    let mut r = open_envelope("vote", bytes)?;
    let vote = read_vote(&mut r)?;
    r.finish()?;
    Ok(vote)
}

/// A proposal and its block as gossiped.
pub fn encode_proposal(message: &ProposalMessage, nonce: u64) -> Vec<u8> {
    let mut out = envelope(nonce, PROPOSAL_LEN + message.block.length());
    put_proposal(&mut out, &message.proposal);
    message.block.encode(&mut out);
    out
}

/// Decodes a gossiped proposal; checks that the block's hash is the
/// proposed value.
pub fn decode_proposal(bytes: &[u8]) -> Result<ProposalMessage, DecodeError> {
    let mut r = open_envelope("proposal", bytes)?;
    let proposal = read_proposal(&mut r)?;
    let block = read_block("proposal", r.rest())?;
    let hash = block.header.hash_slow();
    if hash.0 != proposal.proposal.value.0 {
        return Err(DecodeError::Invalid {
            what: "proposal",
            detail: format!(
                "block hash {hash} is not the proposed value {}",
                proposal.proposal.value
            ),
        });
    }
    Ok(ProposalMessage { proposal, block })
}

/// A commit certificate as gossiped on the decisions topic.
pub fn encode_decision(certificate: &CommitCertificate, nonce: u64) -> Vec<u8> {
    let mut out = envelope(nonce, 46 + 68 * certificate.signatures.len());
    put_certificate(&mut out, certificate);
    out
}

/// Decodes a gossiped commit certificate.
pub fn decode_decision(bytes: &[u8]) -> Result<CommitCertificate, DecodeError> {
    let mut r = open_envelope("decision", bytes)?;
    let certificate = read_certificate(&mut r)?;
    r.finish()?;
    Ok(certificate)
}

/// A certificate as the store keeps it beside its block.
pub fn encode_certificate(certificate: &CommitCertificate) -> Vec<u8> {
    let mut out = Vec::with_capacity(46 + 68 * certificate.signatures.len());
    put_certificate(&mut out, certificate);
    out
}

/// Decodes a stored certificate.
pub fn decode_certificate(bytes: &[u8]) -> Result<CommitCertificate, DecodeError> {
    let mut r = Reader::new("certificate", bytes);
    let certificate = read_certificate(&mut r)?;
    r.finish()?;
    Ok(certificate)
}

/// A block with its certificate as block sync serves it, from the stored
/// certificate bytes and block.
pub fn encode_synced_block(certificate: &[u8], block: &Block) -> Vec<u8> {
    let mut out = Vec::with_capacity(certificate.len() + block.length());
    out.extend_from_slice(certificate);
    block.encode(&mut out);
    out
}

/// Decodes a synced block; checks that the certificate is for that block.
pub fn decode_synced_block(bytes: &[u8]) -> Result<SyncedBlock, DecodeError> {
    let mut r = Reader::new("synced block", bytes);
    let certificate = read_certificate(&mut r)?;
    let block = read_block("synced block", r.rest())?;
    let hash = block.header.hash_slow();
    if hash.0 != certificate.value.0 || block.header.number != certificate.height.0 {
        return Err(DecodeError::Invalid {
            what: "synced block",
            detail: format!(
                "block #{} {hash} does not match its certificate (#{} {})",
                block.header.number, certificate.height, certificate.value
            ),
        });
    }
    Ok(SyncedBlock { certificate, block })
}

#[cfg(test)]
mod tests {
    use alloy_consensus::{BlockBody, Header};
    use ed25519_dalek::Signer as _;
    use outrigger_consensus_core::{ChainId, SigningKey};

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn block(number: u64) -> Block {
        Block {
            header: Header {
                number,
                gas_limit: 30_000_000,
                ..Default::default()
            },
            body: BlockBody::default(),
        }
    }

    fn hash(block: &Block) -> BlockHash {
        BlockHash(block.header.hash_slow().0)
    }

    #[test]
    fn votes_round_trip_with_and_without_value() {
        for value in [None, Some(BlockHash([7; 32]))] {
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: Height(9),
                round: Round(2),
                value,
                validator: ValidatorIndex(3),
            }
            .sign(ChainId(5), &key(1));
            let bytes = encode_vote(&vote, 42);
            assert_eq!(bytes.len(), ENVELOPE_LEN + VOTE_LEN);
            assert_eq!(decode_vote(&bytes), Ok(vote));
        }
    }

    #[test]
    fn proposals_round_trip_and_bind_the_block() {
        let block = block(4);
        let proposal = Proposal {
            height: Height(4),
            round: Round(1),
            value: hash(&block),
            valid_round: Some(Round(0)),
            proposer: ValidatorIndex(0),
        }
        .sign(ChainId(5), &key(2));
        let message = ProposalMessage {
            proposal,
            block: block.clone(),
        };
        let bytes = encode_proposal(&message, 1);
        assert_eq!(decode_proposal(&bytes), Ok(message.clone()));

        let other = ProposalMessage {
            block: self::block(5),
            ..message
        };
        let err = decode_proposal(&encode_proposal(&other, 1)).unwrap_err();
        assert!(
            err.to_string().contains("is not the proposed value"),
            "{err}"
        );
    }

    #[test]
    fn certificates_and_synced_blocks_round_trip() {
        let block = block(3);
        let certificate = CommitCertificate {
            height: Height(3),
            round: Round(0),
            value: hash(&block),
            signatures: vec![
                (ValidatorIndex(0), key(1).sign(b"x")),
                (ValidatorIndex(2), key(2).sign(b"y")),
            ],
        };
        let stored = encode_certificate(&certificate);
        assert_eq!(decode_certificate(&stored), Ok(certificate.clone()));
        assert_eq!(
            decode_decision(&encode_decision(&certificate, 9)),
            Ok(certificate.clone())
        );
        let synced = decode_synced_block(&encode_synced_block(&stored, &block)).unwrap();
        assert_eq!(synced.block, block);
        assert_eq!(synced.certificate, certificate);

        let mismatched = encode_synced_block(&stored, &self::block(4));
        assert!(decode_synced_block(&mismatched).is_err());
    }

    #[test]
    fn a_block_in_a_non_canonical_encoding_is_refused() {
        use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
        use alloy_primitives::{Signature as EcdsaSignature, U256};

        let tx = TxEip1559 {
            chain_id: 1,
            gas_limit: 21_000,
            ..Default::default()
        }
        // Full-width r and s make the transaction longer than 55 bytes, so
        // its RLP string header is the long form `0xb8 len`.
        .into_signed(EcdsaSignature::new(
            U256::from_be_bytes([0x11; 32]),
            U256::from_be_bytes([0x22; 32]),
            false,
        ));
        let mut block = block(5);
        block.body.transactions.push(TxEnvelope::from(tx));
        let mut canonical = Vec::new();
        block.encode(&mut canonical);
        assert_eq!(read_block("test", &canonical), Ok(block.clone()));

        // The typed transaction is an RLP string `0xb8 len 0x02 ...`: claim
        // one byte less. alloy decodes it to the same block; we refuse it.
        let at = canonical
            .windows(3)
            .position(|w| w[0] == 0xb8 && w[2] == 0x02)
            .expect("the transaction's string header");
        let mut malleated = canonical.clone();
        malleated[at + 1] -= 1;
        assert_eq!(
            Block::decode(&mut malleated.as_slice()).ok(),
            Some(block),
            "alloy still accepts the wrong length (if this fails, alloy fixed it)"
        );
        let err = read_block("test", &malleated).unwrap_err();
        assert!(err.to_string().contains("canonical"), "{err}");
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics_or_allocations() {
        // A certificate claiming the maximum of signers but carrying none.
        let mut bytes = vec![0u8; 44];
        bytes.extend_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(
            decode_certificate(&bytes),
            Err(DecodeError::Invalid { .. })
        ));
        let mut bytes = vec![0u8; 44];
        bytes.extend_from_slice(&1000u16.to_be_bytes());
        assert!(matches!(
            decode_certificate(&bytes),
            Err(DecodeError::Short { .. })
        ));
        // Every prefix of a valid vote and a wrong version.
        let vote = encode_vote(
            &Vote {
                kind: VoteKind::Prevote,
                height: Height(1),
                round: Round(0),
                value: None,
                validator: ValidatorIndex(0),
            }
            .sign(ChainId(1), &key(3)),
            0,
        );
        for n in 0..vote.len() {
            assert!(decode_vote(&vote[..n]).is_err());
        }
        let mut wrong = vote.clone();
        wrong[0] = 2;
        assert!(
            decode_vote(&wrong)
                .unwrap_err()
                .to_string()
                .contains("version")
        );
        let mut long = vote;
        long.push(0);
        assert!(matches!(
            decode_vote(&long),
            Err(DecodeError::Trailing { .. })
        ));
        assert!(decode_proposal(&[1; 200]).is_err());
    }
}

/// Fuzz targets (see `outrigger-fuzz`): `block_rlp`, blocks as proposals
/// and block sync carry them, and `p2p`, every gossip and stored message.
/// Decoding never panics, and whatever decodes encodes back to the same
/// bytes (one encoding per message: no malleability).
#[cfg(test)]
mod fuzz {
    use alloy_rlp::Encodable as _;
    use outrigger_fuzz::{Fuzzer, outcome};

    use super::*;

    fn kind(e: &DecodeError) -> (&'static str, u8) {
        match e {
            DecodeError::Short { what, .. } => (what, 0),
            DecodeError::Trailing { what, .. } => (what, 1),
            DecodeError::Invalid { what, .. } => (what, 2),
        }
    }

    fn block_rlp(bytes: &[u8]) -> u64 {
        match read_block("block", bytes) {
            Ok(block) => {
                let mut out = Vec::new();
                block.encode(&mut out);
                assert_eq!(out, bytes, "block re-encodes differently");
                assert_eq!(block.length(), bytes.len());
                block.header.hash_slow();
                outcome((
                    "ok",
                    block.body.transactions.len().min(4),
                    block.body.withdrawals.is_some(),
                ))
            }
            // The RLP error kind without its numbers.
            Err(DecodeError::Invalid { detail, .. }) => outcome(
                detail
                    .split(|c: char| c.is_ascii_digit())
                    .next()
                    .map(str::to_owned),
            ),
            Err(e) => outcome(kind(&e)),
        }
    }

    #[test]
    fn fuzz_block_rlp() {
        Fuzzer::new("block_rlp").max_len(8192).run(block_rlp);
    }

    /// The first byte picks the decoder; the rest is the message.
    fn p2p(input: &[u8]) -> u64 {
        let Some((&selector, bytes)) = input.split_first() else {
            return 0;
        };
        let nonce = || u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes"));
        let result = match selector % 5 {
            0 => decode_vote(bytes).map(|v| {
                assert_eq!(encode_vote(&v, nonce()), bytes);
                outcome((v.vote.kind, v.vote.value.is_some()))
            }),
            1 => decode_proposal(bytes).map(|m| {
                assert_eq!(encode_proposal(&m, nonce()), bytes);
                assert_eq!(m.block.header.hash_slow().0, m.proposal.proposal.value.0);
                outcome(("proposal", m.block.body.transactions.len().min(4)))
            }),
            2 => decode_decision(bytes).map(|c| {
                assert_eq!(encode_decision(&c, nonce()), bytes);
                outcome(("decision", c.signatures.len().min(4)))
            }),
            3 => decode_certificate(bytes).map(|c| {
                assert_eq!(encode_certificate(&c), bytes);
                outcome(("certificate", c.signatures.len().min(4)))
            }),
            _ => decode_synced_block(bytes).map(|s| {
                let certificate = encode_certificate(&s.certificate);
                assert_eq!(encode_synced_block(&certificate, &s.block), bytes);
                assert_eq!(s.block.header.number, s.certificate.height.0);
                outcome(("synced", s.block.body.transactions.len().min(4)))
            }),
        };
        result.unwrap_or_else(|e| outcome((selector % 5, kind(&e))))
    }

    #[test]
    fn fuzz_p2p() {
        Fuzzer::new("p2p").max_len(8192).run(p2p);
    }

    #[test]
    #[ignore = "a tool, not a test: rewrites the `p2p` seed corpus from the `block_rlp` seeds"]
    fn write_p2p_seeds() {
        use ed25519_dalek::Signer as _;
        use outrigger_consensus_core::{ChainId, SigningKey};

        let key = SigningKey::from_bytes(&[7; 32]);
        let dir = outrigger_fuzz::corpus_dir("p2p");
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, selector: u8, bytes: Vec<u8>| {
            let mut input = vec![selector];
            input.extend(bytes);
            std::fs::write(dir.join(name), input).unwrap();
        };
        for (name, value) in [("vote-nil", None), ("vote", Some(BlockHash([3; 32])))] {
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: Height(7),
                round: Round(1),
                value,
                validator: ValidatorIndex(2),
            }
            .sign(ChainId(1337), &key);
            write(name, 0, encode_vote(&vote, 99));
        }
        let raw = std::fs::read(outrigger_fuzz::corpus_dir("block_rlp").join("all-types")).unwrap();
        let block = read_block("seed", &raw).unwrap();
        let value = BlockHash(block.header.hash_slow().0);
        let proposal = Proposal {
            height: Height(block.header.number),
            round: Round(0),
            value,
            valid_round: Some(Round(0)),
            proposer: ValidatorIndex(1),
        }
        .sign(ChainId(1337), &key);
        write(
            "proposal",
            1,
            encode_proposal(
                &ProposalMessage {
                    proposal,
                    block: block.clone(),
                },
                5,
            ),
        );
        let certificate = CommitCertificate {
            height: Height(block.header.number),
            round: Round(0),
            value,
            signatures: (0..3)
                .map(|i| (ValidatorIndex(i), key.sign(&[i as u8])))
                .collect(),
        };
        write("decision", 2, encode_decision(&certificate, 3));
        write("certificate", 3, encode_certificate(&certificate));
        write(
            "synced",
            4,
            encode_synced_block(&encode_certificate(&certificate), &block),
        );
    }
}
