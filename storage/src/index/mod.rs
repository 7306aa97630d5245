//! Sparse, memory-mapped, rebuildable indexes of one segment.
//!
//! - [`file`]: fixed-size entries in a mapped file, preallocated and trimmed.
//! - [`offset`]: offset to file position.
//! - [`time`]: timestamp to offset.

pub(crate) mod file;
pub(crate) mod offset;
pub(crate) mod time;

/// An offset minus its segment's base offset, as stored in index entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RelativeOffset(pub(crate) u32);

impl RelativeOffset {
    /// `offset - base`; callers roll segments before the difference leaves the i32 range.
    pub(crate) fn new(base: i64, offset: i64) -> Self {
        Self(u32::try_from(offset - base).unwrap_or(u32::MAX))
    }

    /// Back to an absolute offset.
    pub(crate) fn absolute(self, base: i64) -> i64 {
        base + i64::from(self.0)
    }
}

/// A byte position inside a segment's log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FilePosition(pub(crate) u32);
