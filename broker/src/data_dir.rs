//! The data directory: an exclusive lock so two servers never share it, and `meta.properties`
//! holding the cluster id and node id it belongs to.

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use base64::Engine;

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file operation failed.
    #[error("data directory {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another process holds the lock.
    #[error("data directory {0} is in use by another fjord process (lock held on {0}/.lock)")]
    Locked(PathBuf),
    /// The directory belongs to another cluster or node.
    #[error("data directory {path} belongs to {what} {stored}, but {given} was configured")]
    Mismatch {
        /// The directory.
        path: PathBuf,
        /// `cluster.id` or `node.id`.
        what: &'static str,
        /// The stored value.
        stored: String,
        /// The configured value.
        given: String,
    },
}

/// A locked data directory. The lock is held until this is dropped.
#[derive(Debug)]
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// The cluster this directory belongs to.
    pub cluster_id: String,
    _lock: File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl DataDir {
    /// Creates or opens `path`, takes the lock, and checks or writes `meta.properties`.
    pub fn open(path: &Path, node_id: i32, cluster_id: Option<&str>) -> Result<Self, DataDirError> {
        fs::create_dir_all(path).map_err(io(path))?;
        let lock_path = path.join(".lock");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(DataDirError::Locked(path.to_path_buf())),
            Err(TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        let meta_path = path.join("meta.properties");
        let cluster_id = match fs::read_to_string(&meta_path) {
            Ok(text) => {
                let stored = property(&text, "cluster.id")
                    .unwrap_or_default()
                    .to_string();
                check("cluster.id", path, &stored, cluster_id)?;
                let stored_node = property(&text, "node.id").unwrap_or_default();
                check("node.id", path, stored_node, Some(&node_id.to_string()))?;
                stored
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = cluster_id.map_or_else(new_cluster_id, str::to_string);
                let text = format!("version=1\ncluster.id={id}\nnode.id={node_id}\n");
                let tmp = meta_path.with_extension("tmp");
                fs::write(&tmp, text).map_err(io(&tmp))?;
                File::open(&tmp)
                    .and_then(|f| f.sync_all())
                    .map_err(io(&tmp))?;
                fs::rename(&tmp, &meta_path).map_err(io(&meta_path))?;
                id
            }
            Err(e) => return Err(io(&meta_path)(e)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            cluster_id,
            _lock: lock,
        })
    }
}

fn property<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

fn check(
    what: &'static str,
    path: &Path,
    stored: &str,
    given: Option<&str>,
) -> Result<(), DataDirError> {
    match given {
        Some(given) if given != stored => Err(DataDirError::Mismatch {
            path: path.to_path_buf(),
            what,
            stored: stored.to_string(),
            given: given.to_string(),
        }),
        _ => Ok(()),
    }
}

/// A cluster id in Kafka's form: a random UUID as 22 characters of URL-safe base64.
fn new_cluster_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_fails_fast_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path(), 1, None).unwrap();
        let err = DataDir::open(dir.path(), 1, None).unwrap_err();
        assert!(matches!(err, DataDirError::Locked(_)), "{err}");
        drop(first);
        DataDir::open(dir.path(), 1, None).unwrap();
    }

    #[test]
    fn cluster_id_is_kept_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let id = DataDir::open(dir.path(), 1, None).unwrap().cluster_id;
        assert_eq!(id.len(), 22);
        assert_eq!(DataDir::open(dir.path(), 1, None).unwrap().cluster_id, id);
        assert!(matches!(
            DataDir::open(dir.path(), 1, Some("other")),
            Err(DataDirError::Mismatch {
                what: "cluster.id",
                ..
            })
        ));
        assert!(matches!(
            DataDir::open(dir.path(), 2, None),
            Err(DataDirError::Mismatch {
                what: "node.id",
                ..
            })
        ));
    }
}
