//! Producer id allocation that never repeats, across restarts and crashes.
//!
//! Ids are handed out from blocks of [`BLOCK_SIZE`]. Before the first id of a block is used,
//! the block's end (the high mark) is written to `producer-ids` in the data directory and
//! fsynced; a restart continues from the stored high mark, so at most the rest of one block
//! is skipped, and no id is handed out twice. The file holds one line: the high mark in
//! decimal.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Ids reserved per durable write.
pub const BLOCK_SIZE: i64 = 1000;
/// The file in the data directory.
const FILE_NAME: &str = "producer-ids";

/// Why producer ids could not be reserved.
#[derive(Debug, thiserror::Error)]
pub enum ProducerIdError {
    /// The high mark file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a non-negative number.
    #[error("{path} holds {content:?}, not a producer id high mark")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it holds.
        content: String,
    },
    /// Every id up to `i64::MAX` was used.
    #[error("producer ids exhausted")]
    Exhausted,
}

/// The ids of the current block.
#[derive(Debug)]
struct Block {
    /// The next id to hand out.
    next: i64,
    /// One past the last id reserved durably.
    end: i64,
}

/// Hands out producer ids.
#[derive(Debug)]
pub struct ProducerIdAllocator {
    /// The high mark file.
    path: PathBuf,
    /// The current block.
    block: Mutex<Block>,
}

impl ProducerIdAllocator {
    /// Opens the allocator of the data directory `data_dir`; the next id is the stored high
    /// mark (0 for a new directory).
    pub fn open(data_dir: &Path) -> Result<Self, ProducerIdError> {
        let path = data_dir.join(FILE_NAME);
        let high_mark = match fs::read_to_string(&path) {
            Ok(content) => match content.trim().parse::<i64>() {
                Ok(n) if n >= 0 => n,
                _ => return Err(ProducerIdError::Malformed { path, content }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => {
                return Err(ProducerIdError::Io {
                    op: "read",
                    path,
                    source,
                })
            }
        };
        Ok(Self {
            path,
            block: Mutex::new(Block {
                next: high_mark,
                end: high_mark,
            }),
        })
    }

    /// A producer id never handed out before by this data directory.
    pub fn allocate(&self) -> Result<i64, ProducerIdError> {
        let mut block = self.block.lock().unwrap_or_else(PoisonError::into_inner);
        if block.next >= block.end {
            let end = block
                .end
                .checked_add(BLOCK_SIZE)
                .ok_or(ProducerIdError::Exhausted)?;
            self.store(end)?;
            block.end = end;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }

    /// Writes the high mark durably: a temporary file, fsynced, renamed over the old one, and
    /// the directory fsynced.
    fn store(&self, high_mark: i64) -> Result<(), ProducerIdError> {
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| ProducerIdError::Io { op, path, source }
        };
        let tmp = self.path.with_extension("tmp");
        let mut file = fs::File::create(&tmp).map_err(io("create", &tmp))?;
        file.write_all(format!("{high_mark}\n").as_bytes())
            .map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("fsync", &tmp))?;
        fs::rename(&tmp, &self.path).map_err(io("rename", &tmp))?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io("fsync directory", dir))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_within_and_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<i64> = {
            let ids = ProducerIdAllocator::open(dir.path()).unwrap();
            (0..3).map(|_| ids.allocate().unwrap()).collect()
        };
        assert_eq!(first, vec![0, 1, 2]);
        // A restart (or crash) skips the rest of the reserved block.
        let ids = ProducerIdAllocator::open(dir.path()).unwrap();
        let next = ids.allocate().unwrap();
        assert_eq!(next, BLOCK_SIZE);
        let more: Vec<i64> = (0..BLOCK_SIZE).map(|_| ids.allocate().unwrap()).collect();
        assert_eq!(more.last(), Some(&(2 * BLOCK_SIZE)));
        let again = ProducerIdAllocator::open(dir.path()).unwrap();
        assert_eq!(again.allocate().unwrap(), 3 * BLOCK_SIZE);
    }

    #[test]
    fn a_damaged_high_mark_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "garbage").unwrap();
        assert!(matches!(
            ProducerIdAllocator::open(dir.path()),
            Err(ProducerIdError::Malformed { .. })
        ));
    }
}
