//! The partition log: an ordered set of segments, the last one active.
//!
//! - [`open`]: creating or recovering a log directory.
//! - [`append`]: offset assignment, rolling, durability.
//! - [`read`]: fetches and timestamp lookups.
//! - [`retention`]: rolling by age, retention, `DeleteRecords`, truncation.
//!
//! Concurrency: every method takes `&self`. Appends (and anything that changes the active
//! segment) hold the writer lock; the segment list is an `Arc` snapshot swapped under a short
//! lock, so readers take a snapshot and never wait for a write or an fsync. Maintenance
//! (retention, truncation, compaction swaps, `DeleteRecords`) is serialised by its own lock.

mod append;
mod open;
mod open_files;
mod read;
mod retention;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::checkpoint::{self, CleanShutdown};
use crate::config::LogConfig;
use crate::durability::GroupCommit;
use crate::error::FlushError;
use crate::flusher::SealedSync;
use crate::page_cache::{PageCacheBudget, Share};
use crate::segment::{IndexSettings, Segment};
use open_files::OpenFiles;

/// Per-append settings from the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOptions {
    /// Leader epoch stamped into each batch.
    pub leader_epoch: i32,
    /// `Some(now)` for `LogAppendTime` topics: stamped as each batch's max timestamp.
    pub log_append_time: Option<i64>,
    /// Current time, for time-based rolling and `flush.ms`.
    pub now_ms: i64,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended.
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The append time stamped, for `LogAppendTime` topics.
    pub log_append_time: Option<i64>,
    /// Log start offset after the append.
    pub log_start_offset: i64,
    /// Largest batch max timestamp appended.
    pub max_timestamp: i64,
}

/// Bounds of a read besides `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Exclusive upper bound (high watermark or last stable offset); `None` is the log end.
    pub max_offset: Option<i64>,
    /// Return the first batch even if it is larger than `max_bytes` (KIP-74).
    pub min_one_batch: bool,
}

/// Whole batches read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// The batches, as stored; empty when nothing is available.
    pub bytes: Bytes,
    /// Base offset of the first batch returned (may be below the offset asked for), or the
    /// offset asked for when empty.
    pub first_offset: i64,
    /// Offset after the last batch returned; the offset asked for when empty.
    pub next_offset: i64,
    /// Log start offset when the read began.
    pub log_start_offset: i64,
    /// Log end offset when the read began.
    pub log_end_offset: i64,
}

/// A record found by timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp.
    pub timestamp: i64,
}

/// What `maintain` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaintenanceReport {
    /// Whether the active segment was rolled.
    pub rolled: bool,
    /// Segments deleted by retention or the log start offset.
    pub deleted_segments: usize,
    /// Bytes those segments held.
    pub deleted_bytes: u64,
    /// Log start offset afterwards.
    pub log_start_offset: i64,
    /// Whether `flush.ms` caused an fsync.
    pub flushed: bool,
    /// Idle sealed segments whose index maps were released.
    pub released_indexes: usize,
}

/// The mutable state of the writer.
#[derive(Debug)]
struct Writer {
    active: Arc<Segment>,
    messages_since_flush: u64,
    last_flush_ms: Option<i64>,
    /// Bytes appended to the active segment since its data was last handed to the flusher
    /// for writeback.
    unwritten_back: u64,
}

/// A partition log stored as a directory of segments. `Send + Sync`; see the module note.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    config: RwLock<Arc<LogConfig>>,
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    writer: Mutex<Writer>,
    log_start: AtomicI64,
    log_end: AtomicI64,
    commit: GroupCommit,
    /// Sealed segments awaiting their background fsync, and the recovery point.
    sealed: Arc<SealedSync>,
    maintenance: Mutex<()>,
    /// Counts `maintain` calls; segments remember when their indexes were last used.
    epoch: AtomicU64,
    /// Sealed segments keeping their files open, bounded by `max_open_sealed_segments`.
    open_files: OpenFiles,
    /// This log's membership of its config's page-cache budget.
    cache_share: Mutex<Option<Share>>,
}

fn index_settings(config: &LogConfig) -> IndexSettings {
    IndexSettings {
        interval_bytes: config.index_interval_bytes,
        capacity: config.index_bytes(),
    }
}

impl Log {
    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start.load(Ordering::Acquire)
    }

    /// The offset the next append gets.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end.load(Ordering::Acquire)
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<LogConfig> {
        self.config.read().clone()
    }

    /// Replaces the configuration; index sizes apply to segments created from now on.
    pub fn set_config(&self, config: LogConfig) {
        let mut current = self.config.write();
        if current.page_cache != config.page_cache {
            *self.cache_share.lock() = config.page_cache.as_ref().map(PageCacheBudget::join);
        }
        *current = Arc::new(config);
    }

    /// Total bytes of all segment log files.
    pub fn size_bytes(&self) -> u64 {
        self.segments().iter().map(|s| s.size()).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments().len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments().iter().map(|s| s.base_offset()).collect()
    }

    /// Fsyncs everything appended so far.
    pub fn flush(&self) -> Result<(), FlushError> {
        self.sync_through(self.log_end_offset())?;
        Ok(())
    }

    /// Flushes, trims the active segment's indexes and writes the clean-shutdown marker, so the
    /// next open skips the recovery scan.
    pub fn close(self) -> Result<(), FlushError> {
        let w = self.writer.lock();
        self.sealed.flush()?;
        w.active.seal()?;
        self.sealed.close(self.log_end_offset())?;
        let marker = CleanShutdown {
            active_base_offset: w.active.base_offset(),
            active_size: w.active.size(),
            log_end_offset: self.log_end_offset(),
        };
        checkpoint::write_clean_marker(&self.dir, &marker)?;
        Ok(())
    }

    fn segments(&self) -> Arc<Vec<Arc<Segment>>> {
        self.segments.read().clone()
    }

    /// Changes the segment list atomically with respect to other changes.
    fn update_segments(&self, f: impl FnOnce(&mut Vec<Arc<Segment>>)) {
        let mut guard = self.segments.write();
        let mut list = (**guard).clone();
        f(&mut list);
        *guard = Arc::new(list);
    }

    /// Serialises maintenance (retention, truncation, compaction swaps).
    pub(crate) fn maintenance_lock(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.maintenance.lock()
    }

    /// The current segment list.
    pub(crate) fn segment_snapshot(&self) -> Arc<Vec<Arc<Segment>>> {
        self.segments()
    }

    /// Index settings for segments created or rebuilt now.
    pub(crate) fn index_settings(&self) -> IndexSettings {
        index_settings(&self.config())
    }

    /// Puts `new` where `old` is in the segment list (if `old` is still there).
    pub(crate) fn replace_segment(&self, old: &Arc<Segment>, new: Arc<Segment>) {
        self.update_segments(|list| {
            if let Some(slot) = list.iter_mut().find(|s| Arc::ptr_eq(s, old)) {
                *slot = new;
            }
        });
    }

    /// Takes `seg` out of the segment list unless it is the first (or no longer listed);
    /// returns whether it did.
    pub(crate) fn remove_segment_unless_first(&self, seg: &Arc<Segment>) -> bool {
        let mut removed = false;
        self.update_segments(|list| {
            if let Some(i) = list
                .iter()
                .position(|s| Arc::ptr_eq(s, seg))
                .filter(|&i| i > 0)
            {
                list.remove(i);
                removed = true;
            }
        });
        removed
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Records a use of `seg` by a reader: maintenance epoch and open-file cache.
    fn used(&self, seg: &Arc<Segment>) {
        seg.touch(self.epoch());
        self.open_files
            .used(seg, self.config.read().max_open_sealed_segments);
    }
}

impl Drop for Log {
    /// A log dropped without `close` (a crash, as far as the files go) stops its background
    /// fsyncs from touching the directory again, so it can be reopened at once.
    fn drop(&mut self) {
        self.sealed.stop();
    }
}

#[cfg(test)]
mod durability_tests;
#[cfg(test)]
mod tests;
