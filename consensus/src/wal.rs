//! The validator's write-ahead log: the last signed (height, round, step)
//! with the lock, and the messages it signed at that height. It is written
//! and fsynced **before** a signature leaves the node, so that a validator
//! that crashes and restarts never signs a conflicting vote (the core refuses
//! to sign at or below the record) and resumes the height it was in (its own
//! messages are replayed into the core and re-broadcast).
//!
//! One file of frames, appended to: each signature adds one frame (the new
//! record and the message signed) and one `fdatasync`. Reading the file
//! replays the frames in order; a frame of a new height drops the messages
//! of the heights before. When the file passes [`COMPACT_BYTES`] it is
//! replaced atomically by one holding only the current record (write a
//! temporary file, fsync it, rename it over the old one, fsync the
//! directory).
//!
//! A frame is `length (u32) | check of the length (4 bytes) | keccak of the
//! body (32 bytes) | body`. A crash during an append leaves at most a prefix
//! of the frame being written, possibly followed by zeros: that tail is cut
//! off at the next open. It is safe to drop, because the signature it
//! preceded had not left the node (the append had not returned). Any other
//! damage (a frame whose checksum fails with its bytes all present, a record
//! that goes backwards, an unknown version) refuses to start the node rather
//! than risk a double sign.

use std::{
    fs::{self, File, OpenOptions},
    io::{Seek as _, SeekFrom, Write as _},
    path::{Path, PathBuf},
};

use alloy_primitives::keccak256;
use outrigger_consensus_core::{BlockHash, Height, LastSigned, Round, SignStep};
use tracing::warn;

/// File name of the WAL inside the consensus directory.
pub const WAL_FILE: &str = "consensus.wal";
/// The file's first bytes: its format and version.
const MAGIC: &[u8; 8] = b"ORWAL002";
/// The format before frames: one record replaced whole on every signature.
/// Read once and rewritten in the current format.
const MAGIC_V1: &[u8; 8] = b"ORWAL001";
/// Own messages kept for the current height; older rounds' are dropped
/// first (a restart only needs the recent rounds to resume).
pub const MESSAGES_MAX: usize = 64;
/// Largest message kept (a proposal carries its block).
const MESSAGE_BYTES_MAX: usize = 16 << 20;
/// The file is rewritten with only the current record once it grows past
/// this (about a few hundred heights of proposals at full blocks).
pub const COMPACT_BYTES: u64 = 64 << 20;
/// Length, its check, and the body's keccak.
const FRAME_HEADER: usize = 4 + 4 + 32;

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

impl WalRecord {
    /// The record after signing `message` at `signed`. `Err` if `signed`
    /// is not after the record (the core never signs backwards, so a file
    /// that says so is damaged).
    fn then(&mut self, signed: LastSigned, message: Option<Vec<u8>>) -> Result<(), String> {
        if let Some(last) = self.last_signed {
            let position = |l: &LastSigned| (l.height, l.round, l.step);
            if position(&signed) < position(&last) {
                return Err(format!(
                    "a record at {:?} follows one at {:?}",
                    position(&signed),
                    position(&last)
                ));
            }
            if last.height != signed.height {
                self.messages.clear();
            }
        }
        self.last_signed = Some(signed);
        self.messages.extend(message);
        if self.messages.len() > MESSAGES_MAX {
            let excess = self.messages.len() - MESSAGES_MAX;
            self.messages.drain(..excess);
        }
        Ok(())
    }
}

/// The WAL file and what it holds now.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    file: File,
    /// Bytes of whole frames in the file; the next frame goes here.
    len: u64,
    record: WalRecord,
    /// A write or fsync failed; appending is refused.
    failed: bool,
    /// File size past which an append rewrites the file.
    compact_at: u64,
}

impl Wal {
    /// Opens the WAL in `dir` (creating the directory), reading the record
    /// a previous run left and cutting off a frame a crash left half
    /// written.
    pub fn open(dir: &Path) -> Result<Self, WalError> {
        let path = dir.join(WAL_FILE);
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        let corrupt = |detail| WalError::Corrupt {
            path: path.clone(),
            detail,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
            // A new WAL, or a crash before its first frame was written.
            return Self::replace(path, WalRecord::default());
        };
        if bytes.starts_with(MAGIC_V1) {
            let record = decode_v1(&bytes).map_err(corrupt)?;
            return Self::replace(path, record);
        }
        let Replayed {
            record,
            valid,
            torn,
        } = replay(&bytes).map_err(corrupt)?;
        if valid < MAGIC.len() {
            // A crash while a new file's first bytes were written.
            return Self::replace(path, record);
        }
        let mut file = OpenOptions::new().write(true).open(&path).map_err(io)?;
        if torn {
            warn!(
                target: "consensus",
                path = %path.display(),
                kept = valid,
                dropped = bytes.len() - valid,
                "consensus WAL ends in a frame a crash left half written; cutting it off"
            );
            file.set_len(valid as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::Start(valid as u64)).map_err(io)?;
        Ok(Self {
            path,
            file,
            len: valid as u64,
            record,
            failed: false,
            compact_at: COMPACT_BYTES,
        })
    }

    /// What the WAL holds.
    pub fn record(&self) -> &WalRecord {
        &self.record
    }

    /// Durably records that this validator is about to sign at `signed`,
    /// and the encoded `message` it will send. Returns only once the record
    /// is on disk.
    pub fn append(&mut self, signed: LastSigned, message: Vec<u8>) -> Result<(), WalError> {
        if self.failed {
            return Err(self.io_error(std::io::Error::other(
                "an earlier write failed; restart the node to reread the WAL",
            )));
        }
        let message = (message.len() <= MESSAGE_BYTES_MAX).then_some(message);
        let frame = encode_frame(&signed, message.as_deref());
        let mut record = self.record.clone();
        record
            .then(signed, message)
            .map_err(|detail| WalError::Corrupt {
                path: self.path.clone(),
                detail: format!("refusing to append: {detail}"),
            })?;
        // After a failed write or fsync the file's state is unknown (the
        // kernel may have dropped the dirty pages), so nothing more is
        // appended until a restart reads it again.
        self.failed = true;
        if self.len + frame.len() as u64 > self.compact_at {
            let compact_at = self.compact_at;
            *self = Self::replace(self.path.clone(), record)?;
            self.compact_at = compact_at;
            return Ok(());
        }
        self.file
            .write_all(&frame)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| self.io_error(e))?;
        self.failed = false;
        self.len += frame.len() as u64;
        self.record = record;
        Ok(())
    }

    fn io_error(&self, source: std::io::Error) -> WalError {
        WalError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Replaces the file at `path` atomically with one holding just
    /// `record`, and opens it for appending.
    fn replace(path: PathBuf, record: WalRecord) -> Result<Self, WalError> {
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        let mut bytes = MAGIC.to_vec();
        if let Some(signed) = &record.last_signed {
            if record.messages.is_empty() {
                bytes.extend(encode_frame(signed, None));
            }
            for message in &record.messages {
                bytes.extend(encode_frame(signed, Some(message)));
            }
        }
        let tmp = path.with_extension("wal.tmp");
        let mut file = File::create(&tmp).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io)?;
        if let Some(dir) = path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        let mut file = OpenOptions::new().write(true).open(&path).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(Self {
            path,
            file,
            len: bytes.len() as u64,
            record,
            failed: false,
            compact_at: COMPACT_BYTES,
        })
    }
}

/// What reading a WAL file found.
struct Replayed {
    record: WalRecord,
    /// Bytes of the magic and the whole frames.
    valid: usize,
    /// Whether a half-written frame follows them.
    torn: bool,
}

fn replay(bytes: &[u8]) -> Result<Replayed, String> {
    if bytes.len() < MAGIC.len() {
        // A crash while the first bytes of a new file were written.
        return if MAGIC.starts_with(bytes) {
            Ok(Replayed {
                record: WalRecord::default(),
                valid: 0,
                torn: true,
            })
        } else {
            Err("not a WAL file of this version".into())
        };
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a WAL file of this version".into());
    }
    let mut record = WalRecord::default();
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let rest = &bytes[at..];
        let frame = match split_frame(rest) {
            Frame::Whole(body, len) => {
                let (signed, message) =
                    decode_body(body).map_err(|detail| format!("frame at byte {at}: {detail}"))?;
                record
                    .then(signed, message)
                    .map_err(|detail| format!("frame at byte {at}: {detail}"))?;
                len
            }
            Frame::Torn => {
                return Ok(Replayed {
                    record,
                    valid: at,
                    torn: true,
                });
            }
            Frame::Damaged(detail) => return Err(format!("frame at byte {at}: {detail}")),
        };
        at += frame;
    }
    Ok(Replayed {
        record,
        valid: at,
        torn: false,
    })
}

enum Frame<'a> {
    /// A frame whose checks pass: its body and its length with the header.
    Whole(&'a [u8], usize),
    /// What a crash during the append leaves: a prefix of a frame,
    /// possibly followed by zeros, up to the end of the file.
    Torn,
    /// Anything else.
    Damaged(String),
}

fn split_frame(rest: &[u8]) -> Frame<'_> {
    if rest.len() < 8 || rest.iter().all(|&b| b == 0) {
        return Frame::Torn;
    }
    let len_bytes = [rest[0], rest[1], rest[2], rest[3]];
    if rest[4..8] != length_check(len_bytes) {
        return Frame::Damaged("length check fails".into());
    }
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > MESSAGE_BYTES_MAX + 64 {
        return Frame::Damaged(format!("frame of {len} bytes"));
    }
    let Some(body) = rest.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Frame::Torn;
    };
    if keccak256(body).as_slice() != &rest[8..FRAME_HEADER] {
        return Frame::Damaged("checksum mismatch".into());
    }
    Frame::Whole(body, FRAME_HEADER + len)
}

fn length_check(len: [u8; 4]) -> [u8; 4] {
    let hash = keccak256(len);
    [hash[0], hash[1], hash[2], hash[3]]
}

fn encode_frame(signed: &LastSigned, message: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + message.map_or(0, <[u8]>::len));
    encode_last_signed(&mut body, signed);
    match message {
        None => body.push(0),
        Some(message) => {
            body.push(1);
            body.extend_from_slice(message);
        }
    }
    let len = (body.len() as u32).to_be_bytes();
    let mut frame = Vec::with_capacity(FRAME_HEADER + body.len());
    frame.extend_from_slice(&len);
    frame.extend_from_slice(&length_check(len));
    frame.extend_from_slice(keccak256(&body).as_slice());
    frame.extend_from_slice(&body);
    frame
}

fn decode_body(body: &[u8]) -> Result<(LastSigned, Option<Vec<u8>>), String> {
    let mut r = Reader(body);
    let signed = read_last_signed(&mut r)?;
    let message = match r.take(1)?[0] {
        0 if r.0.is_empty() => None,
        0 => return Err("bytes after a frame without a message".into()),
        1 => Some(r.0.to_vec()),
        other => return Err(format!("message flag {other}")),
    };
    Ok((signed, message))
}

fn sign_step_byte(step: SignStep) -> u8 {
    match step {
        SignStep::Propose => 1,
        SignStep::Prevote => 2,
        SignStep::Precommit => 3,
    }
}

fn encode_last_signed(out: &mut Vec<u8>, l: &LastSigned) {
    out.extend_from_slice(&l.height.0.to_be_bytes());
    out.extend_from_slice(&l.round.0.to_be_bytes());
    out.push(sign_step_byte(l.step));
    match l.locked {
        None => out.push(0),
        Some((round, value)) => {
            out.push(1);
            out.extend_from_slice(&round.0.to_be_bytes());
            out.extend_from_slice(&value.0);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }
}

fn read_last_signed(r: &mut Reader<'_>) -> Result<LastSigned, String> {
    let height = Height(u64::from_be_bytes(r.array()?));
    let round = Round(r.u32()?);
    let step = match r.take(1)?[0] {
        1 => SignStep::Propose,
        2 => SignStep::Prevote,
        3 => SignStep::Precommit,
        other => return Err(format!("sign step {other}")),
    };
    let locked = match r.take(1)?[0] {
        0 => None,
        1 => {
            let round = Round(r.u32()?);
            let value: [u8; 32] = r.array()?;
            Some((round, BlockHash(value)))
        }
        other => return Err(format!("lock flag {other}")),
    };
    Ok(LastSigned {
        height,
        round,
        step,
        locked,
    })
}

/// Reads a file of the format before frames: magic, keccak of the body,
/// body (flag and last signed, message count, length-prefixed messages).
fn decode_v1(bytes: &[u8]) -> Result<WalRecord, String> {
    let header = MAGIC_V1.len() + 32;
    if bytes.len() < header {
        return Err("truncated".into());
    }
    let body = &bytes[header..];
    if keccak256(body).as_slice() != &bytes[MAGIC_V1.len()..header] {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader(body);
    let last_signed = match r.take(1)?[0] {
        0 => None,
        1 => Some(read_last_signed(&mut r)?),
        other => return Err(format!("record flag {other}")),
    };
    let count = r.u32()? as usize;
    if count > MESSAGES_MAX {
        return Err(format!("{count} messages, at most {MESSAGES_MAX}"));
    }
    let mut messages = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.u32()? as usize;
        messages.push(r.take(len)?.to_vec());
    }
    if !r.0.is_empty() {
        return Err(format!("{} trailing bytes", r.0.len()));
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

    fn wal_bytes(dir: &Path) -> Vec<u8> {
        fs::read(dir.join(WAL_FILE)).unwrap()
    }

    fn open_err(dir: &Path) -> String {
        Wal::open(dir).unwrap_err().to_string()
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
        let mut reopened = Wal::open(dir.path()).unwrap();
        assert_eq!(reopened.record().messages, vec![vec![4]]);
        // The reopened WAL appends after what it read.
        reopened
            .append(signed(6, 1, SignStep::Prevote), vec![5])
            .unwrap();
        assert_eq!(
            Wal::open(dir.path()).unwrap().record().messages,
            vec![vec![4], vec![5]]
        );
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
        assert_eq!(&record, wal.record());
    }

    #[test]
    fn a_frame_cut_short_anywhere_reopens_at_the_record_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap();
        wal.append(signed(5, 0, SignStep::Prevote), vec![1; 30])
            .unwrap();
        wal.append(signed(5, 0, SignStep::Precommit), vec![2; 30])
            .unwrap();
        let before = wal.record().clone();
        let kept = wal_bytes(dir.path());
        wal.append(signed(6, 0, SignStep::Propose), vec![3; 200])
            .unwrap();
        let full = wal_bytes(dir.path());
        let path = dir.path().join(WAL_FILE);
        let zeros = |n: usize| vec![0; n];
        let cuts = (kept.len()..full.len()).map(|cut| [&full[..cut], &[][..]].concat());
        // A file that grew before the frame's bytes reached the disk.
        let zeroed = [
            [&kept[..], &zeros(full.len() - kept.len())].concat(),
            [&kept[..], &zeros(3)].concat(),
        ];
        for torn in cuts.chain(zeroed) {
            fs::write(&path, &torn).unwrap();
            let mut reopened = Wal::open(dir.path()).unwrap();
            assert_eq!(reopened.record(), &before, "cut at {}", torn.len());
            assert_eq!(wal_bytes(dir.path()), kept, "the torn tail is cut off");
            reopened
                .append(signed(6, 0, SignStep::Prevote), vec![4])
                .unwrap();
            let again = Wal::open(dir.path()).unwrap();
            assert_eq!(again.record().messages, vec![vec![4]]);
        }
        // A new file cut inside its magic is a new WAL.
        for cut in 0..MAGIC.len() {
            fs::write(&path, &full[..cut]).unwrap();
            assert_eq!(
                Wal::open(dir.path()).unwrap().record(),
                &WalRecord::default()
            );
            assert_eq!(wal_bytes(dir.path()), MAGIC);
        }
    }

    #[test]
    fn damage_to_a_whole_frame_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap();
        wal.append(signed(2, 0, SignStep::Prevote), vec![7; 10])
            .unwrap();
        let first_end = wal_bytes(dir.path()).len();
        wal.append(signed(2, 0, SignStep::Precommit), vec![8; 10])
            .unwrap();
        let good = wal_bytes(dir.path());
        let path = dir.path().join(WAL_FILE);
        let flipped = |at: usize| {
            let mut bytes = good.clone();
            bytes[at] ^= 1;
            bytes
        };
        // A body byte of the first frame, of the last frame, and a length.
        for (at, expected) in [
            (first_end - 1, "checksum mismatch"),
            (good.len() - 1, "checksum mismatch"),
            (first_end, "length check fails"),
            (0, "not a WAL file"),
        ] {
            fs::write(&path, flipped(at)).unwrap();
            let err = open_err(dir.path());
            assert!(
                err.contains(expected) && err.contains("double-sign"),
                "{err}"
            );
            // The damaged file is left as it was for the operator.
            assert_eq!(wal_bytes(dir.path()), flipped(at));
        }
    }

    #[test]
    fn a_record_that_goes_backwards_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = [
            &MAGIC[..],
            &encode_frame(&signed(3, 1, SignStep::Prevote), Some(&[1])),
            &encode_frame(&signed(3, 0, SignStep::Precommit), Some(&[2])),
        ]
        .concat();
        fs::write(dir.path().join(WAL_FILE), bytes).unwrap();
        let err = open_err(dir.path());
        assert!(err.contains("follows one at"), "{err}");
    }

    #[test]
    fn a_large_file_is_rewritten_with_only_the_current_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap();
        wal.compact_at = 4096;
        let mut largest = 0;
        for height in 1..=60 {
            wal.append(signed(height, 0, SignStep::Propose), vec![1; 300])
                .unwrap();
            wal.append(signed(height, 0, SignStep::Prevote), vec![2; 40])
                .unwrap();
            largest = largest.max(wal_bytes(dir.path()).len());
            assert_eq!(Wal::open(dir.path()).unwrap().record(), wal.record());
        }
        assert!(largest <= 4096, "file grew to {largest} bytes");
        assert_eq!(wal.record().messages, vec![vec![1; 300], vec![2; 40]]);
        assert!(!dir.path().join("consensus.wal.tmp").exists());
    }

    #[test]
    fn a_file_of_the_previous_format_is_read_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let record = WalRecord {
            last_signed: Some(signed(9, 2, SignStep::Precommit)),
            messages: vec![vec![5; 3], vec![6; 4]],
        };
        let mut body = vec![1];
        encode_last_signed(&mut body, record.last_signed.as_ref().unwrap());
        body.extend_from_slice(&2u32.to_be_bytes());
        for message in &record.messages {
            body.extend_from_slice(&(message.len() as u32).to_be_bytes());
            body.extend_from_slice(message);
        }
        let v1 = [&MAGIC_V1[..], keccak256(&body).as_slice(), &body].concat();
        fs::write(dir.path().join(WAL_FILE), &v1).unwrap();
        assert_eq!(Wal::open(dir.path()).unwrap().record(), &record);
        assert!(wal_bytes(dir.path()).starts_with(MAGIC));
        assert_eq!(Wal::open(dir.path()).unwrap().record(), &record);

        let mut damaged = v1;
        *damaged.last_mut().unwrap() ^= 1;
        fs::write(dir.path().join(WAL_FILE), &damaged).unwrap();
        assert!(open_err(dir.path()).contains("checksum mismatch"));
    }

    #[test]
    fn appending_below_the_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(dir.path()).unwrap();
        wal.append(signed(4, 1, SignStep::Prevote), vec![1])
            .unwrap();
        let err = wal
            .append(signed(4, 0, SignStep::Precommit), vec![2])
            .unwrap_err();
        assert!(err.to_string().contains("refusing to append"), "{err}");
        assert_eq!(Wal::open(dir.path()).unwrap().record(), wal.record());
    }
}
