//! The validator's ed25519 signing key on disk: one hex line in a file only
//! its owner can read (mode 0600). The secret never reaches a log line: the
//! key type prints only its public half.

use std::{fmt, fs, io::Write as _, os::unix::fs::OpenOptionsExt as _, path::Path};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// File name of the validator key inside a data dir.
pub const VALIDATOR_KEY_FILE: &str = "validator.key";
/// File name of the p2p identity key in a data dir (same format, separate key).
pub const P2P_KEY_FILE: &str = "p2p.key";

/// Why a key file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file exists; keys are never overwritten.
    #[error("key file {0} already exists; refusing to overwrite a key")]
    Exists(String),
    /// Reading or writing failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("key file {path}: {problem}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

/// A validator signing key. `Debug` shows the public key only.
pub struct ValidatorKey(SigningKey);

impl fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidatorKey({})", self.public_hex())
    }
}

impl ValidatorKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand::rng()))
    }

    /// The signing key itself (for the consensus engine, or to derive the
    /// p2p identity from a p2p key file of the same format).
    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// The public key as `0x`-prefixed hex.
    pub fn public_hex(&self) -> String {
        format!(
            "0x{}",
            alloy_primitives::hex::encode(self.public().as_bytes())
        )
    }

    /// Writes the key to a new file `path` with mode 0600. The file appears
    /// whole or not at all: the key goes to a temporary file, is synced, and
    /// is then linked into place (which fails if `path` exists).
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        if path.exists() {
            return Err(KeyError::Exists(path.display().to_string()));
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io)?;
        let temporary = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map_or("key".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            let line = format!("{}\n", alloy_primitives::hex::encode(self.0.to_bytes()));
            file.write_all(line.as_bytes())?;
            file.sync_all()
        };
        let written = write().and_then(|()| fs::hard_link(&temporary, path));
        let _ = fs::remove_file(&temporary);
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(KeyError::Exists(path.display().to_string()));
            }
            Err(e) => return Err(io(e)),
        }
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
    }

    /// Reads a key written by [`ValidatorKey::write_new`]. A file that others
    /// can read is refused: the key may have leaked.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let malformed = |problem: String| KeyError::Malformed {
            path: path.display().to_string(),
            problem,
        };
        let metadata = fs::metadata(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions());
        if mode & 0o077 != 0 {
            return Err(malformed(format!(
                "mode {:o} lets other users read it; run chmod 600",
                mode & 0o777
            )));
        }
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let bytes = alloy_primitives::hex::decode(text.trim())
            .map_err(|_| malformed("not a hex-encoded key".into()))?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| malformed(format!("{} bytes, expected 32", b.len())))?;
        Ok(Self(SigningKey::from_bytes(&secret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/validator.key");
        let key = ValidatorKey::generate();
        key.write_new(&path).unwrap();
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        let read = ValidatorKey::read(&path).unwrap();
        assert_eq!(read.public(), key.public());
        assert!(
            matches!(key.write_new(&path), Err(KeyError::Exists(_))),
            "never overwrites"
        );
        let debug = format!("{read:?}");
        let secret = alloy_primitives::hex::encode(read.0.to_bytes());
        assert!(!debug.contains(&secret), "Debug never shows the secret");
        assert!(debug.contains(&read.public_hex()));
    }

    #[test]
    fn refuses_readable_or_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator.key");
        ValidatorKey::generate().write_new(&path).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let error = ValidatorKey::read(&path).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
        let bad = dir.path().join("bad.key");
        fs::write(&bad, "zz\n").unwrap();
        fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        assert!(
            ValidatorKey::read(&bad)
                .unwrap_err()
                .to_string()
                .contains("not a hex")
        );
        fs::write(&bad, "abcd\n").unwrap();
        assert!(
            ValidatorKey::read(&bad)
                .unwrap_err()
                .to_string()
                .contains("2 bytes")
        );
    }
}
