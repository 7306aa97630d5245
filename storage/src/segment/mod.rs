//! One segment: a `.log` file of v2 batches plus its offset and time indexes.
//!
//! - [`scan`]: walking the batches of a log file (recovery, index rebuilds).
//! - [`read`]: finding batches by offset and timestamp, reading byte ranges.
//! - [`file`]: the `.log` descriptor, which sealed segments close while idle.
//!
//! Appends come from one writer at a time (the log's writer lock); reads run concurrently and see
//! only the bytes below `size`, which the writer publishes after the data and index entries are
//! written. Reads use positional reads of the file, so truncating or deleting a segment can never
//! fault a reader that still holds it (a memory map would raise SIGBUS on a truncated page).

mod file;
mod read;
mod scan;

pub(crate) use scan::Check;

use std::fs::File;
use std::io::IoSlice;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::error::{io_err, IoError, ReadError};
use crate::index::offset::OffsetIndex;
use crate::index::time::TimeIndex;
use crate::index::FilePosition;
use file::{open_log_file, Hold, LogFile};

/// File name stem of a segment: its base offset padded to 20 digits.
pub(crate) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// Paths of a segment's three files.
#[derive(Debug, Clone)]
pub(crate) struct SegmentPaths {
    /// The `.log` file.
    pub(crate) log: PathBuf,
    /// The `.index` file.
    pub(crate) index: PathBuf,
    /// The `.timeindex` file.
    pub(crate) time_index: PathBuf,
}

impl SegmentPaths {
    /// Paths of the segment with this base offset in `dir`.
    pub(crate) fn new(dir: &Path, base_offset: i64) -> Self {
        let stem = file_stem(base_offset);
        Self {
            log: dir.join(format!("{stem}.log")),
            index: dir.join(format!("{stem}.index")),
            time_index: dir.join(format!("{stem}.timeindex")),
        }
    }

    /// Whether both index files exist.
    pub(crate) fn indexes_exist(&self) -> bool {
        self.index.exists() && self.time_index.exists()
    }

    /// Deletes the files that exist.
    pub(crate) fn delete(&self) -> Result<(), IoError> {
        for path in [&self.log, &self.index, &self.time_index] {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(IoError::new("delete", path, e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Index settings a segment is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexSettings {
    /// `index.interval.bytes`.
    pub(crate) interval_bytes: u32,
    /// `segment.index.bytes`: preallocated size of each index file.
    pub(crate) capacity: u32,
}

#[derive(Debug)]
struct Indexes {
    offset: OffsetIndex,
    time: TimeIndex,
}

/// Running facts about a segment's contents, kept in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentStats {
    /// Largest batch max timestamp, -1 when unknown or empty.
    pub(crate) max_timestamp: i64,
    /// Base offset of the batch holding `max_timestamp`.
    pub(crate) offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch, which `segment.ms` counts from.
    pub(crate) first_batch_timestamp: Option<i64>,
    /// Offset after the last batch (the base offset when empty). Exact for the active segment.
    pub(crate) next_offset: i64,
    /// Bytes appended since the last offset-index entry.
    bytes_since_index: u64,
}

impl SegmentStats {
    fn empty(base_offset: i64) -> Self {
        Self {
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: None,
            next_offset: base_offset,
            bytes_since_index: 0,
        }
    }
}

/// Facts about one batch, as the writer and the scanner see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchInfo {
    /// Byte position in the segment.
    pub(crate) position: u64,
    /// Whole batch length.
    pub(crate) len: u64,
    /// First offset.
    pub(crate) base_offset: i64,
    /// Last offset.
    pub(crate) last_offset: i64,
    /// Batch max timestamp (the append time for `LogAppendTime`).
    pub(crate) max_timestamp: i64,
}

/// One segment of a partition log.
#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    paths: SegmentPaths,
    /// The `.log` descriptor; sealed segments close it while idle.
    file: LogFile,
    /// Bytes readers may see: everything below was completely written.
    size: AtomicU64,
    /// `None` while not loaded: sealed segments map their indexes on first use and drop them
    /// when idle.
    indexes: RwLock<Option<Indexes>>,
    stats: Mutex<SegmentStats>,
    settings: IndexSettings,
    sealed: AtomicBool,
    /// Maintenance epoch in which the indexes were last used.
    last_used: AtomicU64,
    /// Log file bytes below this were already handed to `start_write_back`.
    write_back_started: AtomicU64,
}

/// Most buffers one `pwritev` takes (Linux's `IOV_MAX`).
const MAX_IOVECS: usize = 1024;

/// Writes all of `parts`, concatenated, at `offset`, as few system calls as the kernel allows.
fn write_all_vectored_at(
    file: &File,
    mut parts: &mut [IoSlice<'_>],
    mut offset: u64,
) -> std::io::Result<()> {
    while !parts.is_empty() {
        let batch = parts.len().min(MAX_IOVECS);
        let written = match rustix::io::pwritev(file, &parts[..batch], offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        offset += written as u64;
        IoSlice::advance_slices(&mut parts, written);
    }
    Ok(())
}

/// The page size `uncache_below` rounds to: the kernel drops only whole pages of the range.
const PAGE_BYTES: u64 = 4096;
/// The largest folio the page cache may hold a file's bytes in (a PMD, 2 MiB on x86-64);
/// every folio is aligned to its size.
const MAX_FOLIO_BYTES: u64 = 2 << 20;

impl Segment {
    fn with_parts(
        base_offset: i64,
        paths: SegmentPaths,
        file: LogFile,
        size: u64,
        settings: IndexSettings,
    ) -> Self {
        Self {
            base_offset,
            paths,
            file,
            size: AtomicU64::new(size),
            indexes: RwLock::new(None),
            stats: Mutex::new(SegmentStats::empty(base_offset)),
            settings,
            sealed: AtomicBool::new(false),
            last_used: AtomicU64::new(0),
            write_back_started: AtomicU64::new(0),
        }
    }

    /// Creates a new, empty active segment (replacing any files of the same name).
    pub(crate) fn create(
        dir: &Path,
        base_offset: i64,
        settings: IndexSettings,
    ) -> Result<Self, IoError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = open_log_file(&paths.log, true)?;
        file.set_len(0)
            .map_err(io_err("truncate segment", &paths.log))?;
        let indexes = Indexes {
            offset: OffsetIndex::create(&paths.index, base_offset, settings.capacity)?,
            time: TimeIndex::create(&paths.time_index, base_offset, settings.capacity)?,
        };
        let file = LogFile::open(paths.log.clone(), file, Hold::Active);
        let seg = Self::with_parts(base_offset, paths, file, 0, settings);
        *seg.indexes.write() = Some(indexes);
        Ok(seg)
    }

    /// Opens a sealed (no longer appended) segment cheaply: neither its file nor its indexes
    /// stay open; the max timestamp comes from the time index's last entry.
    pub(crate) fn open_sealed(
        dir: &Path,
        base_offset: i64,
        settings: IndexSettings,
    ) -> Result<Self, IoError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let size = std::fs::metadata(&paths.log)
            .map_err(io_err("stat segment", &paths.log))?
            .len();
        let file = LogFile::closed(paths.log.clone());
        let seg = Self::with_parts(base_offset, paths, file, size, settings);
        seg.sealed.store(true, Ordering::Release);
        match read_last_time_entry(&seg.paths.time_index, base_offset)? {
            Some(Some((ts, offset))) => {
                let mut stats = seg.stats.lock();
                stats.max_timestamp = ts;
                stats.offset_of_max_timestamp = offset;
            }
            // Empty time index: either an empty segment or one without timestamps.
            Some(None) => {}
            // Missing or torn: rebuilding the indexes recomputes the stats.
            None => {
                seg.load_indexes()?;
                *seg.indexes.write() = None;
            }
        }
        Ok(seg)
    }

    /// Opens the active segment after a clean shutdown: trusts the trimmed indexes when they
    /// check out, scans only the tail after the last index entry. Returns `None` when something
    /// does not add up and the caller should run [`Segment::recover`] instead.
    pub(crate) fn open_active_clean(
        dir: &Path,
        base_offset: i64,
        settings: IndexSettings,
    ) -> Result<Option<Self>, IoError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = open_log_file(&paths.log, false)?;
        let size = file
            .metadata()
            .map_err(io_err("stat segment", &paths.log))?
            .len();
        if !paths.indexes_exist() {
            return Ok(None);
        }
        let Some(mut offset) = OffsetIndex::open_checked(&paths.index, base_offset, size.max(1))?
        else {
            return Ok(None);
        };
        let Some(mut time) = TimeIndex::open_checked(&paths.time_index, base_offset)? else {
            return Ok(None);
        };
        offset.expand(settings.capacity)?;
        time.expand(settings.capacity)?;
        let file = LogFile::open(paths.log.clone(), file, Hold::Active);
        let seg = Self::with_parts(base_offset, paths, file, size, settings);
        let from = offset.last().map_or(0, |(_, p)| u64::from(p.0));
        let mut stats = SegmentStats::empty(base_offset);
        if let Some((ts, o)) = time.last() {
            stats.max_timestamp = ts;
            stats.offset_of_max_timestamp = o;
        }
        let mut indexes = Indexes { offset, time };
        let tail = scan::scan(
            &*seg.file.get()?,
            &seg.paths.log,
            from,
            size,
            base_offset,
            scan::Check::Headers,
            |b| {
                // The indexes already cover these batches up to `from`; only the stats need them.
                update_stats(&mut stats, None, settings.interval_bytes, b);
            },
        )?;
        if tail.valid_len != size {
            return Ok(None);
        }
        stats.first_batch_timestamp = seg.first_batch_max_timestamp()?;
        // Index entries past what the scan re-walked are in place already; re-arm the interval.
        stats.bytes_since_index = size - from;
        let _ = &mut indexes;
        *seg.indexes.write() = Some(indexes);
        *seg.stats.lock() = stats;
        Ok(Some(seg))
    }

    /// Recovers a segment after an unclean shutdown: checks every batch as `check` says
    /// (length, magic, CRC, offsets), truncates the file at the first bad byte, and rebuilds
    /// both indexes. Returns the segment, unsealed, and the number of bytes cut off.
    pub(crate) fn recover(
        dir: &Path,
        base_offset: i64,
        settings: IndexSettings,
        check: scan::Check,
    ) -> Result<(Self, u64), IoError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = open_log_file(&paths.log, false)?;
        let size = file
            .metadata()
            .map_err(io_err("stat segment", &paths.log))?
            .len();
        let mut indexes = Indexes {
            offset: OffsetIndex::create(&paths.index, base_offset, settings.capacity)?,
            time: TimeIndex::create(&paths.time_index, base_offset, settings.capacity)?,
        };
        let mut stats = SegmentStats::empty(base_offset);
        let outcome = scan::scan(&file, &paths.log, 0, size, base_offset, check, |b| {
            update_stats(&mut stats, Some(&mut indexes), settings.interval_bytes, b);
        })?;
        let cut = size - outcome.valid_len;
        if cut > 0 {
            tracing::warn!(
                segment = %paths.log.display(),
                valid = outcome.valid_len,
                size,
                reason = %outcome.stop_reason,
                "truncating damaged tail of segment"
            );
            file.set_len(outcome.valid_len)
                .map_err(io_err("truncate segment", &paths.log))?;
            file.sync_all()
                .map_err(io_err("fsync segment", &paths.log))?;
        }
        let file = LogFile::open(paths.log.clone(), file, Hold::Active);
        let seg = Self::with_parts(base_offset, paths, file, outcome.valid_len, settings);
        stats.first_batch_timestamp = seg.first_batch_max_timestamp()?;
        *seg.indexes.write() = Some(indexes);
        *seg.stats.lock() = stats;
        Ok((seg, cut))
    }

    fn first_batch_max_timestamp(&self) -> Result<Option<i64>, IoError> {
        match self.header_at(0, self.size()) {
            Ok(h) => Ok(h.map(|h| h.max_timestamp)),
            Err(ReadError::Io(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// First offset this segment may hold.
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// The segment's file paths.
    pub(crate) fn paths(&self) -> &SegmentPaths {
        &self.paths
    }

    /// Bytes of complete batches.
    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// A copy of the running stats.
    pub(crate) fn stats(&self) -> SegmentStats {
        *self.stats.lock()
    }

    /// Whether the segment is no longer appended to.
    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    /// Whether an index has no room for the entries another append may add.
    pub(crate) fn indexes_full(&self) -> bool {
        self.indexes
            .read()
            .as_ref()
            .is_some_and(|ix| ix.offset.is_full() || ix.time.is_nearly_full())
    }

    /// Writes `parts`, concatenated (the batches described by `batches`, positions relative to
    /// the concatenation), at the end of the segment, then indexes them and publishes the new
    /// size. Only the log's writer calls this.
    ///
    /// On failure (a full disk, an I/O error) nothing becomes visible: the index space is
    /// allocated before the data is written, and a partly written tail is cut off again.
    pub(crate) fn append(
        &self,
        parts: &mut [IoSlice<'_>],
        batches: &[BatchInfo],
    ) -> Result<(), IoError> {
        let start = self.size();
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        if let Some(ix) = self.indexes.write().as_mut() {
            // At most one entry per batch in each index.
            ix.offset.reserve(batches.len())?;
            ix.time.reserve(batches.len())?;
        }
        let file = self.file.get()?;
        if let Err(e) = write_all_vectored_at(&file, parts, start) {
            // Readers never see past `size`, and the next append writes at `start` again; the
            // cut also keeps a crash from leaving a torn batch for recovery to find.
            if let Err(cut) = file.set_len(start) {
                tracing::warn!(
                    segment = %self.paths.log.display(),
                    size = start,
                    error = %cut,
                    "cannot cut a partly written append"
                );
            }
            return Err(IoError::new("write segment", &self.paths.log, e));
        }
        {
            let mut guard = self.indexes.write();
            let mut stats = self.stats.lock();
            for b in batches {
                let b = BatchInfo {
                    position: start + b.position,
                    ..*b
                };
                update_stats(&mut stats, guard.as_mut(), self.settings.interval_bytes, &b);
            }
        }
        self.size.store(start + len, Ordering::Release);
        Ok(())
    }

    /// Forces the log file's data to disk.
    pub(crate) fn sync(&self) -> Result<(), IoError> {
        // Any descriptor will do: fsync writes back the file's dirty pages, whoever wrote them.
        let Some(file) = self.file.get_unless_deleted()? else {
            // Deleted while closed: there is nothing left to make durable.
            return Ok(());
        };
        file.sync_data()
            .map_err(io_err("fsync segment", &self.paths.log))
    }

    /// Lets the OS drop the log file's cached pages below `end`. Pages not yet written back
    /// stay (the kernel merely starts writing them), so each call covers everything below
    /// `end` again: it costs a walk of the pages still cached, and none is left behind for good.
    /// Bytes read again are cached again.
    pub(crate) fn uncache_below(&self, end: u64) -> Result<(), IoError> {
        self.advise_dont_need(0, end - end % PAGE_BYTES, "drop cached pages")
    }

    /// Starts writing the log file's bytes below `end` back to disk and returns without waiting.
    /// `POSIX_FADV_DONTNEED` on pages written since the last call does just that: Linux starts
    /// the write-back of the dirty pages in the range and, as they are dirty, drops none of them.
    ///
    /// It stops at a multiple of `step` (at most 2 MiB): the folios it locks while it starts
    /// their write-back are then, if `step` is 2 MiB, never the one holding `end`, where the
    /// next append writes (the tail is usually mid-folio), and appends on ext4 had waited up to
    /// 50 ms for that lock. With smaller steps (many logs sharing the page-cache budget) a large
    /// tail folio may be caught, but write-back keeps up with the budget: stopping at 2 MiB
    /// boundaries in each of 1,000 logs left up to 2 GB dirty and cost W6 15% of its
    /// throughput (1,353-1,423 MB/s against 1,635-1,659).
    pub(crate) fn start_write_back(&self, end: u64, step: u64) -> Result<(), IoError> {
        let end = end - end % step.clamp(PAGE_BYTES, MAX_FOLIO_BYTES);
        let from = self.write_back_started.fetch_max(end, Ordering::AcqRel);
        self.advise_dont_need(from, end, "start write-back")
    }

    /// Where the last write-back stopped.
    #[cfg(test)]
    pub(crate) fn write_back_started(&self) -> u64 {
        self.write_back_started.load(Ordering::Acquire)
    }

    fn advise_dont_need(&self, from: u64, to: u64, what: &'static str) -> Result<(), IoError> {
        let Some(len) = to.checked_sub(from).and_then(NonZeroU64::new) else {
            return Ok(());
        };
        let Some(file) = self.file.get_unless_deleted()? else {
            return Ok(());
        };
        rustix::fs::fadvise(&*file, from, Some(len), rustix::fs::Advice::DontNeed)
            .map_err(|e| IoError::new(what, &self.paths.log, e.into()))
    }

    /// Makes the segment read-only: fsyncs the log, then [`Self::seal_indexes`].
    pub(crate) fn seal(&self) -> Result<(), IoError> {
        self.sync()?;
        self.seal_indexes()
    }

    /// Makes the segment read-only without waiting for its data to reach the disk: writes the
    /// final time-index entry, trims both index files to their entries and flushes them.
    pub(crate) fn seal_indexes(&self) -> Result<(), IoError> {
        let stats = self.stats();
        let mut guard = self.indexes.write();
        if let Some(ix) = guard.as_mut() {
            if stats.max_timestamp >= 0 {
                ix.time
                    .maybe_append(stats.max_timestamp, stats.offset_of_max_timestamp);
            }
            ix.offset.trim()?;
            ix.time.trim()?;
            ix.offset.flush()?;
            ix.time.flush()?;
        }
        self.sealed.store(true, Ordering::Release);
        Ok(())
    }

    /// Maps the indexes if they are not mapped, rebuilding them from the log when they are
    /// missing or fail their checks.
    fn load_indexes(&self) -> Result<(), IoError> {
        if self.indexes.read().is_some() {
            return Ok(());
        }
        let mut guard = self.indexes.write();
        if guard.is_some() {
            return Ok(());
        }
        // A deleted segment must not recreate index files in the log directory.
        self.file.check_live()?;
        let size = self.size();
        // Opening maps creates a missing file, which would then pass as an empty index: a
        // compaction swap deletes both, and a segment's timestamps must come back.
        if !self.paths.indexes_exist() {
            *guard = Some(self.rebuild_indexes(size)?);
            return Ok(());
        }
        let offset = OffsetIndex::open_checked(&self.paths.index, self.base_offset, size.max(1))?;
        let time = TimeIndex::open_checked(&self.paths.time_index, self.base_offset)?;
        let indexes = match (offset, time) {
            (Some(offset), Some(time)) => Indexes { offset, time },
            _ => self.rebuild_indexes(size)?,
        };
        *guard = Some(indexes);
        Ok(())
    }

    fn rebuild_indexes(&self, size: u64) -> Result<Indexes, IoError> {
        tracing::info!(segment = %self.paths.log.display(), "rebuilding indexes");
        let mut indexes = Indexes {
            offset: OffsetIndex::create(
                &self.paths.index,
                self.base_offset,
                self.settings.capacity,
            )?,
            time: TimeIndex::create(
                &self.paths.time_index,
                self.base_offset,
                self.settings.capacity,
            )?,
        };
        let mut stats = SegmentStats::empty(self.base_offset);
        let interval = self.settings.interval_bytes;
        scan::scan(
            &*self.file.get()?,
            &self.paths.log,
            0,
            size,
            self.base_offset,
            scan::Check::Headers,
            |b| {
                update_stats(&mut stats, Some(&mut indexes), interval, b);
            },
        )?;
        if stats.max_timestamp >= 0 {
            indexes
                .time
                .maybe_append(stats.max_timestamp, stats.offset_of_max_timestamp);
        }
        if self.is_sealed() {
            indexes.offset.trim()?;
            indexes.time.trim()?;
        }
        let mut cur = self.stats.lock();
        cur.max_timestamp = stats.max_timestamp;
        cur.offset_of_max_timestamp = stats.offset_of_max_timestamp;
        Ok(indexes)
    }

    /// Runs `f` on the indexes, mapping them first if needed.
    fn with_indexes<R>(&self, f: impl FnOnce(&OffsetIndex, &TimeIndex) -> R) -> Result<R, IoError> {
        loop {
            {
                let guard = self.indexes.read();
                if let Some(ix) = guard.as_ref() {
                    return Ok(f(&ix.offset, &ix.time));
                }
            }
            self.load_indexes()?;
        }
    }

    /// Records use in maintenance epoch `epoch` (see [`Segment::release_idle_indexes`]).
    pub(crate) fn touch(&self, epoch: u64) {
        self.last_used.store(epoch, Ordering::Relaxed);
    }

    /// Unmaps a sealed segment's indexes if they were not used since epoch `since`.
    pub(crate) fn release_idle_indexes(&self, since: u64) -> Result<bool, IoError> {
        if !self.is_sealed() || self.last_used.load(Ordering::Relaxed) >= since {
            return Ok(false);
        }
        let mut guard = self.indexes.write();
        Ok(guard.take().is_some())
    }

    /// Whether the indexes are currently mapped.
    #[cfg(test)]
    pub(crate) fn indexes_loaded(&self) -> bool {
        self.indexes.read().is_some()
    }

    /// Cuts the segment so it ends before the batch holding `offset`; returns the new next
    /// offset (`offset`, or the base of a batch `offset` fell inside).
    pub(crate) fn truncate_to(&self, offset: i64) -> Result<i64, ReadError> {
        let located = self.locate(offset)?;
        let (cut, new_end) = match located {
            Some((pos, h)) => (pos, h.base_offset.min(offset)),
            None => (self.size(), offset),
        };
        self.load_indexes()?;
        let mut guard = self.indexes.write();
        let file = self.file.get()?;
        file.set_len(cut)
            .map_err(io_err("truncate segment", &self.paths.log))?;
        self.size.store(cut, Ordering::Release);
        // Bytes appended at the cut again are new pages, to be written back in turn.
        self.write_back_started.fetch_min(cut, Ordering::AcqRel);
        let mut stats = SegmentStats::empty(self.base_offset);
        if let Some(ix) = guard.as_mut() {
            ix.offset
                .truncate_to_position(FilePosition(u32::try_from(cut).unwrap_or(u32::MAX)));
            ix.time.truncate_to_offset(new_end);
            if let Some((ts, o)) = ix.time.last() {
                stats.max_timestamp = ts;
                stats.offset_of_max_timestamp = o;
            }
            let from = ix.offset.last().map_or(0, |(_, p)| u64::from(p.0));
            let interval = self.settings.interval_bytes;
            scan::scan(
                &file,
                &self.paths.log,
                from,
                cut,
                self.base_offset,
                scan::Check::Headers,
                |b| {
                    update_stats(&mut stats, None, interval, b);
                },
            )?;
            stats.bytes_since_index = cut - from;
        }
        drop(guard);
        stats.next_offset = new_end;
        stats.first_batch_timestamp = if cut == 0 {
            None
        } else {
            self.first_batch_max_timestamp()?
        };
        *self.stats.lock() = stats;
        Ok(new_end)
    }

    /// Calls `f` with the header and bytes of every batch, in order.
    pub(crate) fn for_each_batch<E: From<IoError>>(
        &self,
        f: impl FnMut(&fjord_protocol::records::BatchHeader, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        scan::for_each_batch(&*self.file.get()?, &self.paths.log, self.size(), f)
    }

    /// Before the segment's files are replaced on disk: keeps its `.log` open and its indexes
    /// mapped, so a reader still holding it never opens the new files.
    pub(crate) fn retire(&self) -> Result<(), IoError> {
        self.file.retire(true)?;
        self.load_indexes()
    }

    /// Deletes the segment's files. Readers holding the segment keep its file if it was open;
    /// otherwise their reads fail and [`Segment::is_deleted`] tells why.
    pub(crate) fn delete_files(&self) -> Result<(), IoError> {
        self.file.retire(false)?;
        self.paths.delete()
    }

    /// Whether the segment's files were deleted or replaced on disk.
    pub(crate) fn is_deleted(&self) -> bool {
        self.file.is_retired()
    }

    /// Keeps the `.log` open from now on (the log's cache of recently read segments took it).
    pub(crate) fn keep_file_open(&self) {
        self.file.keep_open();
    }

    /// Closes the `.log` and, for a sealed segment, unmaps the indexes, until next used.
    /// Returns whether a descriptor was closed. Retired segments keep theirs.
    pub(crate) fn release_files(&self) -> bool {
        if self.file.is_retired() {
            return false;
        }
        let closed = self.file.release();
        if self.is_sealed() {
            self.indexes.write().take();
        }
        closed
    }

    /// Whether the `.log` descriptor is open now.
    #[cfg(test)]
    pub(crate) fn file_open(&self) -> bool {
        self.file.is_open()
    }

    /// Reads into `buf` from `pos`, stopping early only at the end of the file.
    fn read_at_most(&self, pos: u64, buf: &mut [u8]) -> Result<usize, IoError> {
        let file = self.file.get()?;
        let mut done = 0;
        while done < buf.len() {
            let n = match file.read_at(&mut buf[done..], pos + done as u64) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(IoError::new("read segment", &self.paths.log, e)),
            };
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
}

/// Folds one batch into the stats and, when given, the indexes (Kafka's rule: an offset-index
/// entry once more than `interval` bytes were written since the last one).
fn update_stats(
    stats: &mut SegmentStats,
    indexes: Option<&mut Indexes>,
    interval: u32,
    b: &BatchInfo,
) {
    if b.max_timestamp > stats.max_timestamp {
        stats.max_timestamp = b.max_timestamp;
        stats.offset_of_max_timestamp = b.base_offset;
    }
    if stats.first_batch_timestamp.is_none() {
        stats.first_batch_timestamp = Some(b.max_timestamp);
    }
    if let Some(ix) = indexes {
        if stats.bytes_since_index > u64::from(interval) {
            let pos = FilePosition(u32::try_from(b.position).unwrap_or(u32::MAX));
            if ix.offset.append(b.base_offset, pos) {
                ix.time
                    .maybe_append(stats.max_timestamp, stats.offset_of_max_timestamp);
            }
            stats.bytes_since_index = 0;
        }
    }
    stats.bytes_since_index += b.len;
    stats.next_offset = b.last_offset + 1;
}

/// Reads the last entry of a time index file without mapping it. `None` when the file is
/// missing or not a whole number of entries; `Some(None)` when it is empty.
fn read_last_time_entry(
    path: &Path,
    base_offset: i64,
) -> Result<Option<Option<(i64, i64)>>, IoError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IoError::new("open index", path, e)),
    };
    let len = file.metadata().map_err(io_err("stat index", path))?.len();
    if len % 12 != 0 {
        return Ok(None);
    }
    if len == 0 {
        return Ok(Some(None));
    }
    let mut e = [0u8; 12];
    file.read_exact_at(&mut e, len - 12)
        .map_err(io_err("read index", path))?;
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&e[..8]);
    let rel = u32::from_be_bytes([e[8], e[9], e[10], e[11]]);
    Ok(Some(Some((
        i64::from_be_bytes(ts),
        base_offset + i64::from(rel),
    ))))
}
