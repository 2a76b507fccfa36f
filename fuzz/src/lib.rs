//! A small fuzzing loop that runs under `cargo test` on stable Rust, and
//! the seed corpus of Outrigger's fuzz targets (`corpus/<target>/`).
//!
//! libFuzzer (`cargo fuzz`) needs nightly; this crate needs nothing. It has
//! no coverage instrumentation: instead each target returns an *outcome*, a
//! coarse fingerprint of what the input reached (decoded or not, which
//! error, which message type, how far a consensus run got), and inputs that
//! produce an outcome not seen before join the pool that later inputs are
//! mutated from. Targets that build structured inputs read the bytes through
//! [`arbitrary::Unstructured`], so byte mutations become structure mutations.
//!
//! A run replays every corpus file first (the committed seeds and fixed
//! crashes are regression tests), then mutates until its budget is spent:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OUTRIGGER_FUZZ_SECONDS` | time per target | 3 |
//! | `OUTRIGGER_FUZZ_RUNS` | executions per target, at most | none |
//! | `OUTRIGGER_FUZZ_SEED` | the mutation RNG's seed (printed by each run) | the clock |
//! | `OUTRIGGER_FUZZ_KEEP` | a folder to write inputs with new outcomes to | none |
//!
//! An input that panics (or runs longer than the target's slow limit) is
//! written to `crashes/<target>/` and fails the test with its path; replay
//! it by copying it into `corpus/<target>/`.

use std::{
    collections::HashSet,
    hash::{Hash, Hasher},
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

pub use arbitrary;

/// Inputs kept for new outcomes, at most: past it, new ones replace old ones.
const POOL_MAX: usize = 4096;

/// The fingerprint of anything hashable, for a target's outcome.
pub fn outcome(value: impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Folder of a target's committed seeds.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Target name.
    pub target: &'static str,
    /// Inputs executed, corpus replay included.
    pub executions: u64,
    /// Corpus files replayed.
    pub corpus: usize,
    /// Distinct outcomes seen.
    pub outcomes: usize,
    /// Inputs kept in the pool for new outcomes (not counting the corpus).
    pub kept: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// The slowest input's time.
    pub slowest: Duration,
    /// The RNG seed (`OUTRIGGER_FUZZ_SEED` replays the same mutations).
    pub seed: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "fuzz {}: {} executions in {secs:.1}s ({:.0}/s), {} corpus files, {} outcomes, \
             {} inputs kept, slowest {} ms, seed {}",
            self.target,
            self.executions,
            self.executions as f64 / secs.max(1e-9),
            self.corpus,
            self.outcomes,
            self.kept,
            self.slowest.as_millis(),
            self.seed
        )
    }
}

/// One fuzz target's settings; [`Fuzzer::run`] runs it.
#[derive(Debug)]
pub struct Fuzzer {
    target: &'static str,
    seeds: Vec<Vec<u8>>,
    dictionary: Vec<Vec<u8>>,
    max_len: usize,
    slow: Duration,
}

impl Fuzzer {
    /// A target whose seeds are the files of `corpus/<target>/`.
    pub fn new(target: &'static str) -> Self {
        let mut seeds = Vec::new();
        if let Ok(entries) = std::fs::read_dir(corpus_dir(target)) {
            let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
            paths.sort();
            for path in paths {
                if path.is_file() {
                    let bytes = std::fs::read(&path)
                        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                    seeds.push(bytes);
                }
            }
        }
        Self {
            target,
            seeds,
            dictionary: Vec::new(),
            max_len: 4096,
            slow: Duration::from_secs(5),
        }
    }

    /// Seeds made in code, besides the corpus files.
    pub fn seeds(mut self, seeds: impl IntoIterator<Item = Vec<u8>>) -> Self {
        self.seeds.extend(seeds);
        self
    }

    /// Tokens that mutations insert (JSON keys, method names, magic values).
    pub fn dictionary<T: AsRef<[u8]>>(mut self, tokens: impl IntoIterator<Item = T>) -> Self {
        self.dictionary
            .extend(tokens.into_iter().map(|t| t.as_ref().to_vec()));
        self
    }

    /// Longest input mutations make (corpus files may be longer).
    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// An input taking longer than this fails the run (a hang or a
    /// super-linear path a hostile peer could use).
    pub fn slow(mut self, limit: Duration) -> Self {
        self.slow = limit;
        self
    }

    /// Replays the corpus, then mutates for the budget. Panics, with the
    /// saved input's path, if the target panics or is slow on an input.
    pub fn run(self, mut target: impl FnMut(&[u8]) -> u64) -> Report {
        let seconds: f64 = env_parse("OUTRIGGER_FUZZ_SECONDS").unwrap_or(3.0);
        let runs: Option<u64> = env_parse("OUTRIGGER_FUZZ_RUNS");
        let seed: u64 = env_parse("OUTRIGGER_FUZZ_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let keep_dir = std::env::var_os("OUTRIGGER_FUZZ_KEEP").map(PathBuf::from);
        let budget = Duration::from_secs_f64(seconds.max(0.0));
        let mut rng = Rng::new(seed);
        let mut outcomes = HashSet::new();
        let mut pool: Vec<Vec<u8>> = Vec::new();
        let started = Instant::now();
        let mut executions = 0u64;
        let mut slowest = Duration::ZERO;

        let mut execute = |input: &[u8], executions: &mut u64| -> u64 {
            let began = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| target(input)));
            let took = began.elapsed();
            *executions += 1;
            slowest = slowest.max(took);
            match result {
                Ok(_) if took > self.slow => self.fail(
                    input,
                    &format!(
                        "took {} ms (limit {} ms)",
                        took.as_millis(),
                        self.slow.as_millis()
                    ),
                ),
                Ok(outcome) => outcome,
                Err(payload) => {
                    let message = payload
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| payload.downcast_ref::<&str>().copied())
                        .unwrap_or("(non-string panic)");
                    self.fail(input, &format!("panicked: {message}"))
                }
            }
        };

        for seed_input in &self.seeds {
            outcomes.insert(execute(seed_input, &mut executions));
        }
        let corpus = self.seeds.len();
        // An empty corpus still needs something to mutate.
        let mut inputs: Vec<Vec<u8>> = if self.seeds.is_empty() {
            vec![Vec::new()]
        } else {
            self.seeds.clone()
        };
        while started.elapsed() < budget && runs.is_none_or(|r| executions < r) {
            let input = if rng.below(64) == 0 {
                let len = rng.below(self.max_len.min(1024) as u64 + 1) as usize;
                (0..len).map(|_| rng.byte()).collect()
            } else {
                let base = &inputs[rng.below(inputs.len() as u64) as usize];
                let mut input = base.clone();
                let stack = 1 << rng.below(5);
                for _ in 0..stack {
                    self.mutate(&mut input, &inputs, &mut rng);
                }
                input
            };
            let outcome = execute(&input, &mut executions);
            if outcomes.insert(outcome) {
                if let Some(dir) = &keep_dir {
                    let dir = dir.join(self.target);
                    let _ = std::fs::create_dir_all(&dir);
                    let _ = std::fs::write(dir.join(format!("{:016x}", fnv(&input))), &input);
                }
                if pool.len() < POOL_MAX {
                    pool.push(input.clone());
                    inputs.push(input);
                } else {
                    let slot = rng.below(POOL_MAX as u64) as usize;
                    pool[slot] = input.clone();
                    inputs[corpus.max(1) + slot] = input;
                }
            }
        }
        let report = Report {
            target: self.target,
            executions,
            corpus,
            outcomes: outcomes.len(),
            kept: pool.len(),
            elapsed: started.elapsed(),
            slowest,
            seed,
        };
        println!("{report}");
        report
    }

    fn fail(&self, input: &[u8], what: &str) -> ! {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crashes")
            .join(self.target);
        let path = dir.join(format!("crash-{:016x}", fnv(input)));
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, input))
            .map_or_else(
                |e| format!("not saved: {e}"),
                |()| path.display().to_string(),
            );
        let shown = &input[..input.len().min(512)];
        let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
        panic!(
            "fuzz {}: an input {what}\n  saved: {saved}\n  {} bytes: {hex}{}",
            self.target,
            input.len(),
            if shown.len() < input.len() { "…" } else { "" }
        );
    }

    fn mutate(&self, input: &mut Vec<u8>, inputs: &[Vec<u8>], rng: &mut Rng) {
        const INTERESTING: [u64; 10] = [
            0,
            1,
            0x7f,
            0x80,
            0xff,
            0x7fff,
            0xffff,
            0x7fff_ffff,
            0xffff_ffff,
            u64::MAX,
        ];
        let len = input.len() as u64;
        match rng.below(13) {
            0 if len > 0 => {
                let i = rng.below(len) as usize;
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len) as usize;
                input[i] = rng.byte();
            }
            2 if len > 0 => {
                let i = rng.below(len) as usize;
                let delta = rng.below(35) as u8;
                input[i] = if rng.below(2) == 0 {
                    input[i].wrapping_add(delta)
                } else {
                    input[i].wrapping_sub(delta)
                };
            }
            3 if len > 0 => {
                // An interesting integer, 1, 2, 4 or 8 bytes wide, either endian.
                let width = 1usize << rng.below(4);
                let value = INTERESTING[rng.below(INTERESTING.len() as u64) as usize];
                let bytes = if rng.below(2) == 0 {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                let bytes = &bytes[8 - width..];
                let at = rng.below(len) as usize;
                let end = (at + width).min(input.len());
                input[at..end].copy_from_slice(&bytes[..end - at]);
            }
            4 => {
                let at = rng.below(len + 1) as usize;
                let n = 1 + rng.below(16) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                input.splice(at..at, bytes);
            }
            5 if len > 0 => {
                let at = rng.below(len) as usize;
                let n = 1 + rng.below((len - at as u64).min(64)) as usize;
                input.drain(at..at + n);
            }
            6 if len > 0 => {
                // Repeat a chunk: lists that grow, nesting that deepens.
                let at = rng.below(len) as usize;
                let n = 1 + rng.below((len - at as u64).min(64)) as usize;
                let chunk = input[at..at + n].to_vec();
                let to = rng.below(input.len() as u64 + 1) as usize;
                for _ in 0..1 + rng.below(4) {
                    input.splice(to..to, chunk.iter().copied());
                }
            }
            7 if len > 1 => {
                let from = rng.below(len) as usize;
                let to = rng.below(len) as usize;
                let n = 1 + rng.below((len - from.max(to) as u64).max(1)) as usize;
                let n = n.min(input.len() - from.max(to));
                let chunk = input[from..from + n].to_vec();
                input[to..to + n].copy_from_slice(&chunk);
            }
            8 => {
                // Crossover: this input's head, another's tail.
                let other = &inputs[rng.below(inputs.len() as u64) as usize];
                let cut = rng.below(len + 1) as usize;
                let from = rng.below(other.len() as u64 + 1) as usize;
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            9 | 10 if !self.dictionary.is_empty() => {
                let token = &self.dictionary[rng.below(self.dictionary.len() as u64) as usize];
                let at = rng.below(len + 1) as usize;
                if rng.below(2) == 0 {
                    input.splice(at..at, token.iter().copied());
                } else {
                    let end = (at + token.len()).min(input.len());
                    input.splice(at..end, token.iter().copied());
                }
            }
            11 if len > 0 => input.truncate(rng.below(len) as usize),
            _ => {
                let n = 1 + rng.below(8) as usize;
                input.extend((0..n).map(|_| rng.byte()));
            }
        }
        input.truncate(self.max_len);
    }
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(parsed) => Some(parsed),
        Err(_) => panic!("{name}={value:?} does not parse"),
    }
}

/// FNV-1a, for crash file names (stable across runs and platforms).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// xorshift64*: fast, seeded, and plenty for picking mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-enough in `0..n`; `n` must be positive.
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "empty range");
        self.next() % n
    }

    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_engine_finds_a_planted_panic_and_saves_the_input() {
        // The panics below are expected: keep their messages out of the log.
        std::panic::set_hook(Box::new(|_| {}));
        // Panics only on inputs starting with "BUG" and longer than 8 bytes:
        // outcomes guide the loop there from a seed "B".
        let result = catch_unwind(|| {
            Fuzzer::new("engine-self-test")
                .seeds([b"B".to_vec()])
                .dictionary(["U", "G"])
                .run(|input| {
                    if input.starts_with(b"BUG") && input.len() > 8 {
                        panic!("planted");
                    }
                    let prefix = input.iter().zip(b"BUG").take_while(|(a, b)| a == b).count();
                    outcome((prefix, input.len() > 8))
                })
        });
        let message = result
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .expect("the planted panic was found");
        assert!(message.contains("panicked: planted"), "{message}");
        let saved = message
            .lines()
            .find_map(|l| l.trim().strip_prefix("saved: "))
            .expect("the input was saved");
        let input = std::fs::read(saved).expect("saved file");
        assert!(input.starts_with(b"BUG") && input.len() > 8);
        std::fs::remove_file(saved).expect("removing the saved crash");
    }

    #[test]
    fn mutations_stay_within_max_len() {
        let fuzzer = Fuzzer::new("engine-self-test")
            .max_len(32)
            .dictionary(["tok"]);
        let mut rng = Rng::new(7);
        let inputs = vec![vec![0u8; 40], b"abc".to_vec()];
        let mut input = vec![1u8; 10];
        for _ in 0..10_000 {
            fuzzer.mutate(&mut input, &inputs, &mut rng);
            assert!(input.len() <= 32);
        }
    }
}
