//! The validator's write-ahead log: the last signed (height, round, step)
//! with the lock, and the messages it signed at that height. It is written
//! and fsynced **before** a signature leaves the node, so that a validator
//! that crashes and restarts never signs a conflicting vote (the core refuses
//! to sign at or below the record) and resumes the height it was in (its own
//! messages are replayed into the core and re-broadcast).
//!
//! One small file, replaced atomically (write a temporary file, fsync it,
//! rename it over the old one, fsync the directory): a crash leaves either
//! the old record or the new one, never a torn one. A checksum catches a
//! file damaged on disk; the node then refuses to start rather than risk a
//! double sign.

use std::{
    fs::{self, File},
    io::Write as _,
    path::{Path, PathBuf},
};

use alloy_primitives::keccak256;
use outrigger_consensus_core::{BlockHash, Height, LastSigned, Round, SignStep};

/// File name of the WAL inside the consensus directory.
pub const WAL_FILE: &str = "consensus.wal";
const MAGIC: &[u8; 8] = b"ORWAL001";
/// Own messages kept for the current height; older rounds' are dropped
/// first (a restart only needs the recent rounds to resume).
pub const MESSAGES_MAX: usize = 64;
/// Largest message kept (a proposal carries its block).
const MESSAGE_BYTES_MAX: usize = 16 << 20;

/// Why the WAL could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// Reading or writing the file failed.
    #[error("consensus WAL {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file is damaged.
    #[error(
        "consensus WAL {path} is damaged ({detail}); refusing to start: signing without it could double-sign"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// What the WAL holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalRecord {
    /// The last thing this validator signed, with its lock.
    pub last_signed: Option<LastSigned>,
    /// Encoded gossip messages this validator signed at
    /// `last_signed.height`, oldest first.
    pub messages: Vec<Vec<u8>>,
}

/// The WAL file and what it holds now.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    record: WalRecord,
}

impl Wal {
    /// Opens the WAL in `dir` (creating the directory), reading the record
    /// a previous run left.
    pub fn open(dir: &Path) -> Result<Self, WalError> {
        let path = dir.join(WAL_FILE);
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let record = match fs::read(&path) {
            Ok(bytes) => decode(&bytes).map_err(|detail| WalError::Corrupt {
                path: path.clone(),
                detail,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => WalRecord::default(),
            Err(e) => return Err(io(e)),
        };
        Ok(Self { path, record })
    }

    /// What the WAL holds.
    pub fn record(&self) -> &WalRecord {
        &self.record
    }

    /// Durably records that this validator is about to sign at `signed`,
    /// and the encoded `message` it will send. Returns only once the record
    /// is on disk.
    pub fn append(&mut self, signed: LastSigned, message: Vec<u8>) -> Result<(), WalError> {
        let mut record = self.record.clone();
        if record.last_signed.is_none_or(|l| l.height != signed.height) {
            record.messages.clear();
        }
        record.last_signed = Some(signed);
        if message.len() <= MESSAGE_BYTES_MAX {
            record.messages.push(message);
        }
        if record.messages.len() > MESSAGES_MAX {
            let excess = record.messages.len() - MESSAGES_MAX;
            record.messages.drain(..excess);
        }
        self.write(&record)?;
        self.record = record;
        Ok(())
    }

    fn write(&self, record: &WalRecord) -> Result<(), WalError> {
        let io = |source| WalError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("wal.tmp");
        let mut file = File::create(&tmp).map_err(io)?;
        file.write_all(&encode(record)).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

fn sign_step_byte(step: SignStep) -> u8 {
    match step {
        SignStep::Propose => 1,
        SignStep::Prevote => 2,
        SignStep::Precommit => 3,
    }
}

fn encode(record: &WalRecord) -> Vec<u8> {
    let mut body = Vec::new();
    match &record.last_signed {
        None => body.push(0),
        Some(l) => {
            body.push(1);
            body.extend_from_slice(&l.height.0.to_be_bytes());
            body.extend_from_slice(&l.round.0.to_be_bytes());
            body.push(sign_step_byte(l.step));
            match l.locked {
                None => body.push(0),
                Some((round, value)) => {
                    body.push(1);
                    body.extend_from_slice(&round.0.to_be_bytes());
                    body.extend_from_slice(&value.0);
                }
            }
        }
    }
    body.extend_from_slice(&(record.messages.len() as u32).to_be_bytes());
    for message in &record.messages {
        body.extend_from_slice(&(message.len() as u32).to_be_bytes());
        body.extend_from_slice(message);
    }
    let mut out = Vec::with_capacity(MAGIC.len() + 32 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(keccak256(&body).as_slice());
    out.extend_from_slice(&body);
    out
}

fn decode(bytes: &[u8]) -> Result<WalRecord, String> {
    let header = MAGIC.len() + 32;
    if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a WAL file of this version".into());
    }
    let body = &bytes[header..];
    if keccak256(body).as_slice() != &bytes[MAGIC.len()..header] {
        return Err("checksum mismatch".into());
    }
    let mut r = body;
    let mut take = |n: usize| -> Result<&[u8], String> {
        if r.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = r.split_at(n);
        r = rest;
        Ok(head)
    };
    let be_u32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let last_signed = match take(1)?[0] {
        0 => None,
        1 => {
            let height = Height(u64::from_be_bytes(
                take(8)?.try_into().map_err(|_| "height")?,
            ));
            let round = Round(be_u32(take(4)?));
            let step = match take(1)?[0] {
                1 => SignStep::Propose,
                2 => SignStep::Prevote,
                3 => SignStep::Precommit,
                other => return Err(format!("sign step {other}")),
            };
            let locked = match take(1)?[0] {
                0 => None,
                1 => {
                    let round = Round(be_u32(take(4)?));
                    let value: [u8; 32] = take(32)?.try_into().map_err(|_| "lock")?;
                    Some((round, BlockHash(value)))
                }
                other => return Err(format!("lock flag {other}")),
            };
            Some(LastSigned {
                height,
                round,
                step,
                locked,
            })
        }
        other => return Err(format!("record flag {other}")),
    };
    let count = be_u32(take(4)?) as usize;
    if count > MESSAGES_MAX {
        return Err(format!("{count} messages, at most {MESSAGES_MAX}"));
    }
    let mut messages = Vec::with_capacity(count);
    for _ in 0..count {
        let len = be_u32(take(4)?) as usize;
        messages.push(take(len)?.to_vec());
    }
    if !r.is_empty() {
        return Err(format!("{} trailing bytes", r.len()));
    }
    Ok(WalRecord {
        last_signed,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(height: u64, round: u32, step: SignStep) -> LastSigned {
        LastSigned {
            height: Height(height),
            round: Round(round),
            step,
            locked: (step == SignStep::Precommit).then_some((Round(round), BlockHash([9; 32]))),
        }
    }

    #[test]
    fn records_survive_reopening_and_reset_per_height() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap();
        assert_eq!(wal.record(), &WalRecord::default());
        wal.append(signed(5, 0, SignStep::Prevote), vec![1, 2])
            .unwrap();
        wal.append(signed(5, 0, SignStep::Precommit), vec![3])
            .unwrap();
        let reopened = Wal::open(dir.path()).unwrap();
        assert_eq!(
            reopened.record().last_signed,
            Some(signed(5, 0, SignStep::Precommit))
        );
        assert_eq!(reopened.record().messages, vec![vec![1, 2], vec![3]]);

        wal.append(signed(6, 1, SignStep::Propose), vec![4])
            .unwrap();
        let reopened = Wal::open(dir.path()).unwrap();
        assert_eq!(reopened.record().messages, vec![vec![4]]);
    }

    #[test]
    fn keeps_only_the_newest_messages() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap();
        for round in 0..(MESSAGES_MAX as u32 + 10) {
            wal.append(
                signed(1, round, SignStep::Prevote),
                round.to_be_bytes().to_vec(),
            )
            .unwrap();
        }
        let record = Wal::open(dir.path()).unwrap().record().clone();
        assert_eq!(record.messages.len(), MESSAGES_MAX);
        assert_eq!(record.messages[0], 10u32.to_be_bytes().to_vec());
    }

    #[test]
    fn a_damaged_file_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap();
        wal.append(signed(2, 0, SignStep::Prevote), vec![7; 10])
            .unwrap();
        let path = dir.path().join(WAL_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let err = Wal::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("checksum") && err.contains("double-sign"),
            "{err}"
        );
        fs::write(&path, &bytes[..20]).unwrap();
        assert!(Wal::open(dir.path()).is_err());
    }
}
