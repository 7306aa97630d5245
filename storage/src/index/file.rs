//! A memory-mapped file of fixed-size entries, preallocated while written and trimmed when done.

use std::path::Path;

use crate::error::IoError;
use crate::mmap::MappedFile;

/// An array of `N`-byte entries in a mapped file; the file may be longer than the entries
/// (preallocated space) while the segment is active.
#[derive(Debug)]
pub(crate) struct EntryFile<const N: usize> {
    file: MappedFile,
    entries: usize,
    /// Bytes from the start known to be allocated on disk, so writing entries below it through
    /// the map cannot fault on a full disk (see [`EntryFile::reserve`]).
    allocated: usize,
}

/// Bytes allocated ahead at a time by [`EntryFile::reserve`].
const ALLOCATE_STEP: usize = 64 * 1024;

impl<const N: usize> EntryFile<N> {
    /// Creates `path` empty, preallocated to `capacity_bytes`.
    pub(crate) fn create(path: &Path, capacity_bytes: u32) -> Result<Self, IoError> {
        let file = MappedFile::open(path, Some(0))?;
        let mut this = Self {
            file,
            entries: 0,
            allocated: 0,
        };
        this.expand(capacity_bytes)?;
        Ok(this)
    }

    /// Opens an existing trimmed file: every whole entry in it counts. Returns `None` when the
    /// length is not a multiple of the entry size (the file was not trimmed, so must be rebuilt).
    pub(crate) fn open_trimmed(path: &Path) -> Result<Option<Self>, IoError> {
        let file = MappedFile::open(path, None)?;
        if file.len() % N != 0 {
            return Ok(None);
        }
        let entries = file.len() / N;
        Ok(Some(Self {
            file,
            entries,
            allocated: entries * N,
        }))
    }

    /// Number of entries written.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// Number of entries that still fit.
    pub(crate) fn free(&self) -> usize {
        (self.file.len() / N).saturating_sub(self.entries)
    }

    /// Entry `i`, if written.
    pub(crate) fn get(&self, i: usize) -> Option<[u8; N]> {
        if i >= self.entries {
            return None;
        }
        let raw = self.file.bytes().get(i * N..(i + 1) * N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(raw);
        Some(out)
    }

    /// The last entry, if any.
    pub(crate) fn last(&self) -> Option<[u8; N]> {
        self.entries.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Makes sure the next `extra` entries (as far as the file has room) land on allocated
    /// bytes, allocating ahead in steps. Fails, writing no entry, when the disk is full.
    pub(crate) fn reserve(&mut self, extra: usize) -> Result<(), IoError> {
        let len = self.file.len();
        let need = self
            .entries
            .saturating_add(extra)
            .saturating_mul(N)
            .min(len);
        if need <= self.allocated {
            return Ok(());
        }
        let from = self.allocated.max(self.entries * N);
        let to = need
            .div_ceil(ALLOCATE_STEP)
            .saturating_mul(ALLOCATE_STEP)
            .min(len);
        self.file.allocate(from as u64, to as u64)?;
        self.allocated = to;
        Ok(())
    }

    /// Appends an entry; returns false (and writes nothing) when the file is full, or when its
    /// bytes cannot be allocated (a full disk: the index loses precision, never the process).
    pub(crate) fn push(&mut self, entry: [u8; N]) -> bool {
        let at = self.entries * N;
        if at + N > self.allocated && self.reserve(1).is_err() {
            return false;
        }
        match self.file.bytes_mut().get_mut(at..at + N) {
            Some(slot) => {
                slot.copy_from_slice(&entry);
                self.entries += 1;
                true
            }
            None => false,
        }
    }

    /// Number of leading entries for which `pred` holds (entries must be partitioned by it).
    pub(crate) fn partition_point(&self, mut pred: impl FnMut(&[u8; N]) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.entries);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(e) if pred(&e) => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }

    /// Forgets entries from `n` on.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.entries = self.entries.min(n);
    }

    /// Shrinks the file to exactly its entries.
    pub(crate) fn trim(&mut self) -> Result<(), IoError> {
        self.file.resize((self.entries * N) as u64)?;
        self.allocated = self.allocated.min(self.entries * N);
        Ok(())
    }

    /// Grows the file to `capacity_bytes` (rounded down to whole entries) for further appends.
    pub(crate) fn expand(&mut self, capacity_bytes: u32) -> Result<(), IoError> {
        let cap = (capacity_bytes as usize / N).max(self.entries) * N;
        self.file.resize(cap as u64)
    }

    /// Writes dirty pages to the file.
    pub(crate) fn flush(&self) -> Result<(), IoError> {
        self.file.flush()
    }
}
