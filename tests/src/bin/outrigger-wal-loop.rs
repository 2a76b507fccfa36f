//! Test helper: signs its way through heights with the consensus WAL, as a
//! validator does (a proposal carrying a large block, a prevote, a
//! precommit), printing `signed H R S` after each append returns, until
//! killed. The crash tests `kill -9` it at random points and check what the
//! WAL reopens with.

use std::{io::Write as _, path::PathBuf};

use outrigger_consensus::wal::Wal;
use outrigger_consensus_core::{BlockHash, Height, LastSigned, Round, SignStep};

/// A proposal's size: large enough that the file is rewritten every few
/// dozen heights.
const PROPOSAL_BYTES: usize = 2 << 20;

/// The message signed at a position: the position, then filler.
fn message(height: u64, round: u32, step: SignStep, len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len.max(13));
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&round.to_be_bytes());
    bytes.push(step as u8);
    bytes.resize(len.max(13), (height % 251) as u8);
    bytes
}

fn main() -> eyre::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| eyre::eyre!("usage: outrigger-wal-loop WAL_DIR"))?,
    );
    let mut wal = Wal::open(&dir)?;
    let mut height = wal.record().last_signed.map_or(1, |l| l.height.0 + 1);
    let mut stdout = std::io::stdout().lock();
    loop {
        // Every third height takes a second round.
        for round in 0..=u32::from(height % 3 == 0) {
            for step in [SignStep::Propose, SignStep::Prevote, SignStep::Precommit] {
                let len = if step == SignStep::Propose {
                    PROPOSAL_BYTES
                } else {
                    150
                };
                let signed = LastSigned {
                    height: Height(height),
                    round: Round(round),
                    step,
                    locked: (step == SignStep::Precommit)
                        .then_some((Round(round), BlockHash([height as u8; 32]))),
                };
                wal.append(signed, message(height, round, step, len))?;
                writeln!(stdout, "signed {height} {round} {}", step as u8)?;
                stdout.flush()?;
            }
        }
        height += 1;
    }
}
