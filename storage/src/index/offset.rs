//! The sparse offset index: batch base offset (relative to the segment) to file position.
//!
//! Entry: relative offset u32 BE, position u32 BE. One entry at most every
//! `index.interval.bytes` of log; a lookup gives a position at or before the wanted batch and the
//! reader scans forward from there.

use std::path::Path;

use super::file::EntryFile;
use super::{FilePosition, RelativeOffset};
use crate::error::IoError;

const ENTRY: usize = 8;

/// Offset index of one segment.
#[derive(Debug)]
pub(crate) struct OffsetIndex {
    base_offset: i64,
    entries: EntryFile<ENTRY>,
}

fn decode(e: &[u8; ENTRY]) -> (RelativeOffset, FilePosition) {
    let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
    let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
    (RelativeOffset(rel), FilePosition(pos))
}

impl OffsetIndex {
    /// Creates an empty, preallocated index.
    pub(crate) fn create(path: &Path, base_offset: i64, capacity: u32) -> Result<Self, IoError> {
        Ok(Self {
            base_offset,
            entries: EntryFile::create(path, capacity)?,
        })
    }

    /// Opens a trimmed index and checks it against the log it indexes; `None` if it must be
    /// rebuilt.
    pub(crate) fn open_checked(
        path: &Path,
        base_offset: i64,
        log_size: u64,
    ) -> Result<Option<Self>, IoError> {
        let Some(entries) = EntryFile::open_trimmed(path)? else {
            return Ok(None);
        };
        let index = Self {
            base_offset,
            entries,
        };
        Ok(index.is_consistent(log_size).then_some(index))
    }

    /// Entries strictly increase in offset and position, and point inside the log.
    fn is_consistent(&self, log_size: u64) -> bool {
        let mut prev: Option<(RelativeOffset, FilePosition)> = None;
        for i in 0..self.entries.len() {
            let Some(e) = self.entries.get(i) else {
                return false;
            };
            let (rel, pos) = decode(&e);
            if u64::from(pos.0) >= log_size {
                return false;
            }
            if let Some((prel, ppos)) = prev {
                if rel <= prel || pos <= ppos {
                    return false;
                }
            }
            prev = Some((rel, pos));
        }
        true
    }

    /// Allocates disk space for `extra` more entries (see [`EntryFile::reserve`]).
    pub(crate) fn reserve(&mut self, extra: usize) -> Result<(), IoError> {
        self.entries.reserve(extra)
    }

    /// Whether another entry would not fit.
    pub(crate) fn is_full(&self) -> bool {
        self.entries.free() == 0
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Records that the batch with base offset `offset` starts at `position`.
    pub(crate) fn append(&mut self, offset: i64, position: FilePosition) -> bool {
        let rel = RelativeOffset::new(self.base_offset, offset);
        let mut e = [0u8; ENTRY];
        e[..4].copy_from_slice(&rel.0.to_be_bytes());
        e[4..].copy_from_slice(&position.0.to_be_bytes());
        self.entries.push(e)
    }

    /// Position of the last indexed batch whose base offset is at most `offset` (0 if none):
    /// scanning from there finds the batch holding `offset`.
    pub(crate) fn lookup(&self, offset: i64) -> FilePosition {
        let target = offset - self.base_offset;
        let n = self
            .entries
            .partition_point(|e| i64::from(decode(e).0 .0) <= target);
        n.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .map_or(FilePosition(0), |e| decode(&e).1)
    }

    /// The last entry as (absolute offset, position).
    pub(crate) fn last(&self) -> Option<(i64, FilePosition)> {
        self.entries.last().map(|e| {
            let (rel, pos) = decode(&e);
            (rel.absolute(self.base_offset), pos)
        })
    }

    /// Drops entries for batches at or after `position`.
    pub(crate) fn truncate_to_position(&mut self, position: FilePosition) {
        let n = self.entries.partition_point(|e| decode(e).1 < position);
        self.entries.truncate(n);
    }

    /// Shrinks the file to its entries (segment no longer written).
    pub(crate) fn trim(&mut self) -> Result<(), IoError> {
        self.entries.trim()
    }

    /// Grows the file again so the segment can be appended to.
    pub(crate) fn expand(&mut self, capacity: u32) -> Result<(), IoError> {
        self.entries.expand(capacity)
    }

    /// Writes dirty pages to the file.
    pub(crate) fn flush(&self) -> Result<(), IoError> {
        self.entries.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_last_entry_at_or_below_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = OffsetIndex::create(&dir.path().join("x.index"), 100, 80).unwrap();
        assert_eq!(
            idx.lookup(150),
            FilePosition(0),
            "empty index scans from the start"
        );
        assert!(idx.append(110, FilePosition(4000)));
        assert!(idx.append(130, FilePosition(9000)));
        assert_eq!(idx.lookup(100), FilePosition(0));
        assert_eq!(idx.lookup(109), FilePosition(0));
        assert_eq!(idx.lookup(110), FilePosition(4000));
        assert_eq!(idx.lookup(129), FilePosition(4000));
        assert_eq!(idx.lookup(130), FilePosition(9000));
        assert_eq!(idx.lookup(10_000), FilePosition(9000));
    }

    #[test]
    fn fills_up_at_capacity_and_trims_to_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let mut idx = OffsetIndex::create(&path, 0, 20).unwrap();
        assert!(idx.append(1, FilePosition(10)));
        assert!(idx.append(2, FilePosition(20)));
        assert!(idx.is_full());
        assert!(!idx.append(3, FilePosition(30)));
        idx.trim().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        drop(idx);
        let idx = OffsetIndex::open_checked(&path, 0, 100).unwrap().unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.last(), Some((2, FilePosition(20))));
    }

    #[test]
    fn rejects_untrimmed_or_inconsistent_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let mut idx = OffsetIndex::create(&path, 0, 80).unwrap();
        assert!(idx.append(5, FilePosition(100)));
        drop(idx);
        // Preallocated zeros after a real entry go backwards.
        assert!(OffsetIndex::open_checked(&path, 0, 1000).unwrap().is_none());
        let mut idx = OffsetIndex::create(&path, 0, 80).unwrap();
        assert!(idx.append(5, FilePosition(100)));
        idx.trim().unwrap();
        drop(idx);
        // Points past the end of the log.
        assert!(OffsetIndex::open_checked(&path, 0, 50).unwrap().is_none());
        std::fs::write(&path, [0u8; 7]).unwrap();
        assert!(OffsetIndex::open_checked(&path, 0, 1000).unwrap().is_none());
    }

    #[test]
    fn truncate_drops_entries_at_or_after_position() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = OffsetIndex::create(&dir.path().join("x.index"), 0, 80).unwrap();
        for (o, p) in [(10, 100), (20, 200), (30, 300)] {
            assert!(idx.append(o, FilePosition(p)));
        }
        idx.truncate_to_position(FilePosition(200));
        assert_eq!(idx.len(), 1);
        assert_eq!(idx.lookup(25), FilePosition(100));
    }
}
