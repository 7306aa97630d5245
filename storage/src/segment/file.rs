//! A segment's `.log` descriptor, which a sealed segment closes while it is not in use.
//!
//! Every segment used to keep its `.log` open for its whole life, so a log's descriptors grew
//! with its segment count. Now only the active segment always holds its file; a sealed segment
//! holds it while it is among the log's most recently read (see `log::open_files`) and
//! otherwise opens it for the one operation that needs it (a background fsync, a compaction
//! scan) and closes it again.
//!
//! Reopening goes by path, so a segment whose file was replaced (compaction renames the cleaned
//! copy over it) or deleted must never reopen: it is retired first, which keeps its open file
//! for the readers still holding it. Opening and retiring take the same lock, so a reopen by
//! path always completes before the rename or unlink that follows a retirement.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::{io_err, IoError};

/// Opens a segment's `.log` for reading and writing.
pub(super) fn open_log_file(path: &Path, create: bool) -> Result<File, IoError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
        .map_err(io_err("open segment", path))
}

/// Whether, and why, the descriptor stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hold {
    /// Closed when idle: each use opens the file and closes it afterwards.
    Lazy,
    /// Kept open while among the log's recently read sealed segments.
    Cached,
    /// The active segment: always open.
    Active,
    /// Replaced or deleted on disk: the open file is the only way to the old bytes.
    Retired,
    /// Deleted while closed: nothing to read any more.
    Deleted,
}

#[derive(Debug)]
struct Slot {
    file: Option<Arc<File>>,
    hold: Hold,
}

/// The `.log` file of one segment.
#[derive(Debug)]
pub(super) struct LogFile {
    path: PathBuf,
    slot: RwLock<Slot>,
}

impl LogFile {
    /// A file already opened, held as `hold` says.
    pub(super) fn open(path: PathBuf, file: File, hold: Hold) -> Self {
        let file = (hold != Hold::Lazy).then(|| Arc::new(file));
        Self {
            path,
            slot: RwLock::new(Slot { file, hold }),
        }
    }

    /// A file not opened yet, opened on first use.
    pub(super) fn closed(path: PathBuf) -> Self {
        Self {
            path,
            slot: RwLock::new(Slot {
                file: None,
                hold: Hold::Lazy,
            }),
        }
    }

    /// The open file, opened again by path if it was closed.
    pub(super) fn get(&self) -> Result<Arc<File>, IoError> {
        if let Some(f) = &self.slot.read().file {
            return Ok(f.clone());
        }
        let mut slot = self.slot.write();
        if let Some(f) = &slot.file {
            return Ok(f.clone());
        }
        if slot.hold == Hold::Deleted {
            return Err(self.deleted());
        }
        let file = Arc::new(open_log_file(&self.path, false)?);
        if slot.hold != Hold::Lazy {
            slot.file = Some(file.clone());
        }
        Ok(file)
    }

    /// [`LogFile::get`], or `None` when the segment was deleted while closed.
    pub(super) fn get_unless_deleted(&self) -> Result<Option<Arc<File>>, IoError> {
        match self.get() {
            Err(_) if self.hold() == Hold::Deleted => Ok(None),
            other => other.map(Some),
        }
    }

    fn deleted(&self) -> IoError {
        IoError::new(
            "read deleted segment",
            &self.path,
            io::Error::from(io::ErrorKind::NotFound),
        )
    }

    /// Fails if the segment was deleted while closed.
    pub(super) fn check_live(&self) -> Result<(), IoError> {
        match self.slot.read().hold {
            Hold::Deleted => Err(self.deleted()),
            _ => Ok(()),
        }
    }

    /// How the descriptor is held now.
    pub(super) fn hold(&self) -> Hold {
        self.slot.read().hold
    }

    /// Keeps the file open from its next use on (an active or idle segment became recently
    /// used); retired and deleted files stay as they are.
    pub(super) fn keep_open(&self) {
        let mut slot = self.slot.write();
        if matches!(slot.hold, Hold::Lazy | Hold::Active) {
            slot.hold = Hold::Cached;
        }
    }

    /// Closes the file until its next use, unless it must stay open. Returns whether it did.
    pub(super) fn release(&self) -> bool {
        let mut slot = self.slot.write();
        if matches!(slot.hold, Hold::Retired | Hold::Deleted) {
            return false;
        }
        slot.hold = Hold::Lazy;
        slot.file.take().is_some()
    }

    /// Retires the segment before its file is replaced (`reopen`: opens it if closed, so
    /// readers keep the old bytes) or deleted (a closed file stays closed: reads then fail and
    /// the log reports the offsets gone).
    pub(super) fn retire(&self, reopen: bool) -> Result<(), IoError> {
        let mut slot = self.slot.write();
        if slot.file.is_none() && reopen {
            slot.file = Some(Arc::new(open_log_file(&self.path, false)?));
        }
        slot.hold = if slot.file.is_some() {
            Hold::Retired
        } else {
            Hold::Deleted
        };
        Ok(())
    }

    /// Whether the segment was deleted (or replaced) on disk.
    pub(super) fn is_retired(&self) -> bool {
        matches!(self.hold(), Hold::Retired | Hold::Deleted)
    }

    /// Whether the descriptor is open now.
    #[cfg(test)]
    pub(super) fn is_open(&self) -> bool {
        self.slot.read().file.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BatchInfo, IndexSettings, Segment};
    use crate::testing::BatchSpec;

    const SETTINGS: IndexSettings = IndexSettings {
        interval_bytes: 100,
        capacity: 240,
    };

    /// A sealed segment of one batch, reopened the way `Log::open` does (file closed).
    fn sealed(dir: &std::path::Path) -> Segment {
        let seg = Segment::create(dir, 0, SETTINGS).unwrap();
        let b = BatchSpec::new(5).filler(2, 10, 1).build();
        let info = BatchInfo {
            position: 0,
            len: b.len() as u64,
            base_offset: 0,
            last_offset: 1,
            max_timestamp: 5,
        };
        seg.append(&mut [std::io::IoSlice::new(&b)], &[info])
            .unwrap();
        seg.seal().unwrap();
        drop(seg);
        Segment::open_sealed(dir, 0, SETTINGS).unwrap()
    }

    #[test]
    fn a_retired_segment_keeps_reading_its_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let seg = sealed(dir.path());
        assert!(!seg.file_open());
        let before = seg.read(0, 1 << 20, i64::MAX, false).unwrap();
        assert!(!seg.file_open(), "a lazy segment closes after each use");
        seg.retire().unwrap();
        // Compaction's swap: the path now names another file.
        let other = dir.path().join("other");
        std::fs::write(&other, b"replaced").unwrap();
        std::fs::rename(&other, &seg.paths().log).unwrap();
        assert_eq!(seg.read(0, 1 << 20, i64::MAX, false).unwrap(), before);
        assert!(!seg.release_files(), "retired files stay open");
    }

    #[test]
    fn a_segment_deleted_while_closed_fails_reads_and_recreates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let seg = sealed(dir.path());
        seg.delete_files().unwrap();
        assert!(seg.is_deleted());
        assert!(seg.read(0, 1 << 20, i64::MAX, false).is_err());
        seg.sync().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
