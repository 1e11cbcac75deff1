//! On-disk cache of frozen-encoder features, so the encoders run once per photo and per
//! phrase across training and evaluation runs.
//!
//! Entries are keyed by the encoder and the SHA-256 of the content (the photo file's bytes, or
//! the phrase's UTF-8), stored as raw little-endian f16 at `ROOT/SPACE/ab/abcdef....f16`,
//! and written atomically, so an interrupted extraction resumes where it stopped.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::files::write_atomic;

/// Bumped when the features an encoder produces change, so stale entries are not reused.
const CACHE_VERSION: &str = "v1";

/// The feature cache rooted at one folder.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    root: PathBuf,
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn content_key(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl FeatureCache {
    /// Opens a cache under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Returns the default location: `$XDG_CACHE_HOME/semground/features`, else
    /// `~/.cache/semground/features`, else `.semground-cache` in the working folder.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return Path::new(&dir).join("semground/features");
        }
        match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(".cache/semground/features"),
            None => PathBuf::from(".semground-cache"),
        }
    }

    fn path(&self, space: &str, key: &str) -> PathBuf {
        self.root
            .join(format!("{space}-{CACHE_VERSION}"))
            .join(&key[..2])
            .join(format!("{key}.f16"))
    }

    /// Reads the entry of `key` in `space` if it exists and has exactly `len` values; a
    /// damaged entry counts as missing and is recomputed.
    pub fn get(&self, space: &str, key: &str, len: usize) -> Option<Vec<f32>> {
        let bytes = std::fs::read(self.path(space, key)).ok()?;
        if bytes.len() != len * 2 {
            return None;
        }
        Some(
            bytes
                .chunks_exact(2)
                .map(|pair| half::f16::from_le_bytes([pair[0], pair[1]]).to_f32())
                .collect(),
        )
    }

    /// Stores `values` under `key` in `space`, rounded to f16.
    pub fn put(&self, space: &str, key: &str, values: &[f32]) -> Result<()> {
        let path = self.path(space, key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| crate::Error::io("failed to create", parent, source))?;
        }
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        write_atomic(&path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_f16() {
        let root =
            std::env::temp_dir().join(format!("semground-cache-test-{}", std::process::id()));
        let cache = FeatureCache::new(&root);
        let key = content_key(b"photo bytes");
        assert_eq!(cache.get("vgg16", &key, 3), None);
        cache.put("vgg16", &key, &[1.0, 0.5, 219.875]).unwrap();
        assert_eq!(cache.get("vgg16", &key, 3), Some(vec![1.0, 0.5, 219.875]));
        assert_eq!(
            cache.get("vgg16", &key, 4),
            None,
            "wrong length counts as missing"
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
