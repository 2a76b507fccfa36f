//! The validator's ed25519 signing key on disk, in a file only its owner can
//! read (mode 0600): one hex line, or, encrypted at rest with a passphrase,
//! a web3 secret-storage (v3) document (scrypt and AES-128-CTR, as geth's
//! keystores). The secret never reaches a log line: the key type prints only
//! its public half.
//!
//! The passphrase comes from a file (`consensus.key_password_file`,
//! `--password-file`) or the `OUTRIGGER_KEY_PASSWORD` environment variable,
//! never from a flag (flags show in `ps`).

use std::{fmt, fs, io::Write as _, os::unix::fs::OpenOptionsExt as _, path::Path};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// File name of the validator key inside a data dir.
pub const VALIDATOR_KEY_FILE: &str = "validator.key";
/// File name of the p2p identity key in a data dir (same format, separate key).
pub const P2P_KEY_FILE: &str = "p2p.key";
/// The environment variable a key passphrase may come from.
pub const PASSWORD_ENV: &str = "OUTRIGGER_KEY_PASSWORD";

/// The passphrase of encrypted key files: the first line of `file` if one is
/// named (a file others can read is refused), else `OUTRIGGER_KEY_PASSWORD`,
/// else none (keys must then be plain).
pub fn passphrase(file: Option<&Path>) -> Result<Option<String>, KeyError> {
    if let Some(file) = file {
        check_private(file)?;
        let text = fs::read_to_string(file).map_err(|source| KeyError::Io {
            path: file.display().to_string(),
            source,
        })?;
        let line = text.lines().next().unwrap_or_default().to_string();
        if line.is_empty() {
            return Err(KeyError::Malformed {
                path: file.display().to_string(),
                problem: "the password file is empty".into(),
            });
        }
        return Ok(Some(line));
    }
    Ok(std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()))
}

/// Refuses a secret file that its group or others can read.
fn check_private(path: &Path) -> Result<(), KeyError> {
    let metadata = fs::metadata(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mode = std::os::unix::fs::PermissionsExt::mode(&metadata.permissions());
    if mode & 0o077 != 0 {
        return Err(KeyError::Malformed {
            path: path.display().to_string(),
            problem: format!(
                "mode {:o} lets other users read it; run chmod 600",
                mode & 0o777
            ),
        });
    }
    Ok(())
}

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

    /// Writes the key to a new file `path` with mode 0600: plain hex, or
    /// encrypted with `passphrase`. The file appears whole or not at all:
    /// the key goes to a temporary file, is synced, and is then linked into
    /// place (which fails if `path` exists).
    pub fn write_new_with(&self, path: &Path, passphrase: Option<&str>) -> Result<(), KeyError> {
        let contents = match passphrase {
            None => format!("{}\n", alloy_primitives::hex::encode(self.0.to_bytes())).into_bytes(),
            Some(passphrase) => self.encrypted(path, passphrase)?,
        };
        write_private(path, &contents)
    }

    /// Writes the key to a new file `path` as one hex line, mode 0600.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        self.write_new_with(path, None)
    }

    /// The key as a secret-storage v3 document. eth-keystore writes only to
    /// a file, so it writes into a private temporary folder next to `path`.
    fn encrypted(&self, path: &Path, passphrase: &str) -> Result<Vec<u8>, KeyError> {
        let failed = |problem: String| KeyError::Malformed {
            path: path.display().to_string(),
            problem,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|source| KeyError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let scratch = tempfile::Builder::new()
            .prefix(".outrigger-key-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir_in(dir)
            .map_err(|source| KeyError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        eth_keystore::encrypt_key(
            scratch.path(),
            &mut rand08::thread_rng(),
            self.0.to_bytes(),
            passphrase,
            Some("key"),
        )
        .map_err(|e| failed(format!("encrypting: {e}")))?;
        fs::read(scratch.path().join("key")).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

/// Replaces the plain key file `path` by the same key encrypted with
/// `passphrase`: written whole beside it, then renamed over it.
pub fn encrypt_in_place(path: &Path, passphrase: &str) -> Result<(), KeyError> {
    let key = ValidatorKey::read(path)?;
    let encrypted = path.with_extension(format!("encrypting.{}", std::process::id()));
    key.write_new_with(&encrypted, Some(passphrase))?;
    let renamed = fs::rename(&encrypted, path);
    if renamed.is_err() {
        let _ = fs::remove_file(&encrypted);
    }
    renamed.map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| KeyError::Io {
            path: dir.display().to_string(),
            source,
        })
}

/// Writes `contents` to a new file `path`, mode 0600, atomically; never
/// overwrites a file.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
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
        file.write_all(contents)?;
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

impl ValidatorKey {
    /// Reads a plain key written by [`ValidatorKey::write_new`]. A file
    /// that others can read is refused: the key may have leaked.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        Self::read_with(path, None)
    }

    /// Reads a key file, plain or encrypted (then with `passphrase`). A
    /// file that others can read is refused: the key may have leaked.
    pub fn read_with(path: &Path, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let malformed = |problem: String| KeyError::Malformed {
            path: path.display().to_string(),
            problem,
        };
        check_private(path)?;
        let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let bytes = if text.trim_start().starts_with('{') {
            let Some(passphrase) = passphrase else {
                return Err(malformed(format!(
                    "the key is encrypted; give its passphrase in a file \
                     (consensus.key_password_file, --password-file) or in {PASSWORD_ENV}"
                )));
            };
            eth_keystore::decrypt_key(path, passphrase).map_err(|e| match e {
                eth_keystore::KeystoreError::MacMismatch => malformed("wrong passphrase".into()),
                other => malformed(format!("not a readable encrypted key: {other}")),
            })?
        } else {
            alloy_primitives::hex::decode(text.trim())
                .map_err(|_| malformed("not a hex-encoded key".into()))?
        };
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
    fn encrypted_at_rest_with_a_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("validator.key");
        let key = ValidatorKey::generate();
        key.write_new_with(&path, Some("sea anchor")).unwrap();
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        let secret = alloy_primitives::hex::encode(key.0.to_bytes());
        assert!(!text.contains(&secret), "the file holds no plain secret");
        assert!(text.contains("\"scrypt\""), "{text}");
        let read = ValidatorKey::read_with(&path, Some("sea anchor")).unwrap();
        assert_eq!(read.public(), key.public());
        let wrong = ValidatorKey::read_with(&path, Some("sea anchors")).unwrap_err();
        assert!(wrong.to_string().contains("wrong passphrase"), "{wrong}");
        let none = ValidatorKey::read(&path).unwrap_err();
        assert!(none.to_string().contains(PASSWORD_ENV), "{none}");
        // Nothing is left behind but the key.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // The passphrase file must be private too, and not empty.
        let pass = dir.path().join("pass");
        fs::write(&pass, "sea anchor\n").unwrap();
        fs::set_permissions(&pass, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        assert!(
            passphrase(Some(&pass))
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
        fs::set_permissions(&pass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        assert_eq!(
            passphrase(Some(&pass)).unwrap().as_deref(),
            Some("sea anchor")
        );
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
