//! The blob store: file contents (work-order attachments next) kept outside the database,
//! under keys the server chooses (a UUIDv7, so a client never names a path). `BlobStore` is
//! the trait an object store can implement later; `LocalBlobStore`, files under a directory
//! (`blob_dir` in the config, `./data/blobs` by default), is the default. Calls block: run
//! them in `web::block`. A database row that refers to a blob holds its key.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A blob's key: 32 lowercase hex digits (a UUIDv7 without dashes), chosen by `put`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    fn new() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }

    /// Reads a stored key back; anything but 32 lowercase hex digits is refused, so a key
    /// from a database row can never reach outside the store.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store: {0}")]
    Io(#[from] std::io::Error),
}

/// Where blobs live. Keys are the store's to choose; contents are opaque bytes.
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under a new key and answers it.
    fn put(&self, bytes: &[u8]) -> Result<BlobKey, BlobError>;
    /// The bytes under `key`, or `None` when there are none.
    fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError>;
    /// Deletes the blob under `key`; deleting one that is not there is no error.
    fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
}

/// Blobs as files under one directory, spread over 256 sub-directories by the key's last
/// two digits (a UUIDv7 starts with its time, so its end is the random part).
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// A store under `root` (created on the first `put`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        let shard = &key.0[30..];
        self.root.join(shard).join(&key.0)
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Written aside, flushed, then renamed: a reader never sees half a blob.
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}

impl BlobStore for LocalBlobStore {
    fn put(&self, bytes: &[u8]) -> Result<BlobKey, BlobError> {
        let key = BlobKey::new();
        write_new(&self.path(&key), bytes)?;
        Ok(key)
    }

    fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        match std::fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match std::fs::remove_file(self.path(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn store() -> (LocalBlobStore, PathBuf) {
        let root = std::env::temp_dir().join(format!("baoxiu-blobs-{}", uuid::Uuid::now_v7()));
        (LocalBlobStore::new(&root), root)
    }

    #[test]
    fn puts_gets_and_deletes_under_keys_it_chooses() {
        let (store, root) = store();
        let photo = store.put(b"\x89PNG a photo").unwrap();
        let empty = store.put(b"").unwrap();
        assert_ne!(photo, empty);
        assert_eq!(BlobKey::parse(photo.as_str()), Some(photo.clone()));
        assert_eq!(store.get(&photo).unwrap().unwrap(), b"\x89PNG a photo");
        assert_eq!(store.get(&empty).unwrap().unwrap(), b"");
        store.delete(&photo).unwrap();
        assert_eq!(store.get(&photo).unwrap(), None);
        store.delete(&photo).unwrap();
        assert_eq!(store.get(&empty).unwrap().unwrap(), b"");
        // Nothing half-written is left beside the blobs.
        let files: Vec<_> = walk(&root);
        assert_eq!(files.len(), 1, "{files:?}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn keys_that_are_not_the_stores_are_refused() {
        for text in [
            "",
            "../../etc/passwd",
            "0190ABCDEF0123456789abcdef012345",
            "0190abcdef0123456789abcdef01234/",
        ] {
            assert_eq!(BlobKey::parse(text), None, "{text}");
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
        found
    }
}
