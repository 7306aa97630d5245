//! Partition logs for Fjord: segmented files of Kafka v2 record batches with sparse,
//! memory-mapped offset and time indexes, modelled on Kafka's log layer.
//!
//! A [`Log`] is a directory of segments named by base offset. Batches are stored exactly as the
//! producer sent them after the broker re-stamped their headers, so a fetch hands stored bytes
//! straight back. Indexes are rebuildable: after a crash the active segment is scanned and
//! truncated at the first damaged batch. The byte layouts, recovery procedure and durability
//! guarantees are in `docs/storage-format.md`.
//!
//! Module map:
//! - [`config`]: [`LogConfig`] and its Kafka-named settings.
//! - [`error`]: one error enum per operation.
//! - `log`: the [`Log`] type: open, append, read, retention, truncation.
//! - `segment`: one `.log` file and its indexes; scanning and reading.
//! - `index`: the offset and time indexes.
//! - `mmap`: the only module with `unsafe` (memory maps of index files).
//! - `compaction`: key-based cleaning of sealed segments, in passes bounded by its key map.
//! - `records`: decoding the records inside a stored batch.
//! - `durability`: group commit of fsyncs.
//! - `flusher`: the background fsync of sealed segments and the recovery point, and the
//!   write-back of active segments.
//! - `page_cache`: [`PageCacheBudget`], how much written data stays cached.
//! - `checkpoint`: the log start offset and recovery point checkpoints, the clean-shutdown
//!   marker.
//! - [`testing`]: builders of valid batches for tests and benchmarks.

mod checkpoint;
mod compaction;
pub mod config;
mod durability;
pub mod error;
mod flusher;
mod index;
mod log;
mod mmap;
mod page_cache;
mod records;
mod segment;
pub mod testing;

pub use compaction::CompactionReport;
pub use config::{CleanupPolicy, FlushPolicy, LogConfig};
pub use durability::set_fsync_observer;
pub use error::{
    AppendError, CompactError, DeleteError, FlushError, IoError, MaintainError, OpenError,
    ReadError,
};
pub use log::{
    AppendInfo, AppendOptions, Log, MaintenanceReport, ReadOptions, ReadResult, TimestampOffset,
};
pub use page_cache::PageCacheBudget;
