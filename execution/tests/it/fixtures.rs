//! Unpacking the external conformance fixtures of `../shared/fixtures`.

use std::path::{Path, PathBuf};

/// The shared fixtures directory: `$OUTRIGGER_FIXTURES`, or `../shared/fixtures`
/// beside the workspace root.
pub(crate) fn fixtures_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OUTRIGGER_FIXTURES") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// Unpacks `archive` (relative to the fixtures dir) into a fresh temp dir.
pub(crate) fn unpack(archive: &str) -> tempfile::TempDir {
    let path = fixtures_dir().join(archive);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("fixture {} not readable: {e}", path.display()));
    let dir = tempfile::tempdir().expect("temp dir");
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(dir.path())
        .unwrap_or_else(|e| panic!("unpacking {}: {e}", path.display()));
    dir
}

/// Every `*.json` file below `dir`, sorted.
pub(crate) fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
