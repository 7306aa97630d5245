//! The sparse time index: largest timestamp so far to the base offset of the batch holding it.
//!
//! Entry: timestamp i64 BE, relative offset u32 BE. Timestamps strictly increase, so a lookup
//! for `ts` finds the last entry below `ts`; every batch before that entry's batch has only
//! smaller timestamps and the search for the first timestamp `>= ts` can start there.

use std::path::Path;

use super::file::EntryFile;
use super::RelativeOffset;
use crate::error::IoError;

const ENTRY: usize = 12;

/// Time index of one segment.
#[derive(Debug)]
pub(crate) struct TimeIndex {
    base_offset: i64,
    entries: EntryFile<ENTRY>,
}

fn decode(e: &[u8; ENTRY]) -> (i64, RelativeOffset) {
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&e[..8]);
    let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
    (i64::from_be_bytes(ts), RelativeOffset(rel))
}

impl TimeIndex {
    /// Creates an empty, preallocated index.
    pub(crate) fn create(path: &Path, base_offset: i64, capacity: u32) -> Result<Self, IoError> {
        Ok(Self {
            base_offset,
            entries: EntryFile::create(path, capacity)?,
        })
    }

    /// Opens a trimmed index and checks its entries; `None` if it must be rebuilt.
    pub(crate) fn open_checked(path: &Path, base_offset: i64) -> Result<Option<Self>, IoError> {
        let Some(entries) = EntryFile::open_trimmed(path)? else {
            return Ok(None);
        };
        let index = Self {
            base_offset,
            entries,
        };
        Ok(index.is_consistent().then_some(index))
    }

    fn is_consistent(&self) -> bool {
        let mut prev: Option<(i64, RelativeOffset)> = None;
        for i in 0..self.entries.len() {
            let Some(e) = self.entries.get(i) else {
                return false;
            };
            let (ts, rel) = decode(&e);
            if let Some((pts, prel)) = prev {
                if ts <= pts || rel < prel {
                    return false;
                }
            }
            prev = Some((ts, rel));
        }
        true
    }

    /// Allocates disk space for `extra` more entries (see [`EntryFile::reserve`]).
    pub(crate) fn reserve(&mut self, extra: usize) -> Result<(), IoError> {
        self.entries.reserve(extra)
    }

    /// Whether fewer than two more entries fit (one is kept for the final entry on roll).
    pub(crate) fn is_nearly_full(&self) -> bool {
        self.entries.free() < 2
    }

    /// The newest entry as (timestamp, absolute offset).
    pub(crate) fn last(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|e| decode(&e))
            .map(|(ts, rel)| (ts, rel.absolute(self.base_offset)))
    }

    /// Records that the batch at `offset` holds timestamp `ts`, if `ts` is a new maximum.
    pub(crate) fn maybe_append(&mut self, ts: i64, offset: i64) {
        if self.last().is_some_and(|(last, _)| ts <= last) {
            return;
        }
        let mut e = [0u8; ENTRY];
        e[..8].copy_from_slice(&ts.to_be_bytes());
        e[8..].copy_from_slice(
            &RelativeOffset::new(self.base_offset, offset)
                .0
                .to_be_bytes(),
        );
        // A full index only loses precision: lookups scan further.
        let _ = self.entries.push(e);
    }

    /// Offset to start scanning from when looking for the first timestamp `>= ts`.
    pub(crate) fn lookup(&self, ts: i64) -> i64 {
        let n = self.entries.partition_point(|e| decode(e).0 < ts);
        n.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .map_or(self.base_offset, |e| {
                decode(&e).1.absolute(self.base_offset)
            })
    }

    /// Drops entries for offsets at or after `offset`.
    pub(crate) fn truncate_to_offset(&mut self, offset: i64) {
        let base = self.base_offset;
        let n = self
            .entries
            .partition_point(|e| decode(e).1.absolute(base) < offset);
        self.entries.truncate(n);
    }

    /// Shrinks the file to its entries.
    pub(crate) fn trim(&mut self) -> Result<(), IoError> {
        self.entries.trim()
    }

    /// Grows the file again for appends.
    pub(crate) fn expand(&mut self, capacity: u32) -> Result<(), IoError> {
        self.entries.expand(capacity)
    }

    /// Writes dirty pages to the file.
    pub(crate) fn flush(&self) -> Result<(), IoError> {
        self.entries.flush()
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_starts_at_last_entry_below_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TimeIndex::create(&dir.path().join("x.timeindex"), 50, 120).unwrap();
        assert_eq!(idx.lookup(1000), 50);
        idx.maybe_append(1000, 60);
        idx.maybe_append(900, 70); // not a new maximum: ignored
        idx.maybe_append(2000, 80);
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lookup(999), 50);
        assert_eq!(idx.lookup(1000), 50);
        assert_eq!(idx.lookup(1001), 60);
        assert_eq!(idx.lookup(5000), 80);
        assert_eq!(idx.last(), Some((2000, 80)));
    }

    #[test]
    fn truncate_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.timeindex");
        let mut idx = TimeIndex::create(&path, 0, 120).unwrap();
        idx.maybe_append(10, 1);
        idx.maybe_append(20, 5);
        idx.truncate_to_offset(5);
        idx.trim().unwrap();
        drop(idx);
        let idx = TimeIndex::open_checked(&path, 0).unwrap().unwrap();
        assert_eq!(idx.last(), Some((10, 1)));
    }
}
