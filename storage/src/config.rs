//! Per-log settings, named and defaulted after Kafka's topic configs.

use std::sync::Arc;

use crate::page_cache::PageCacheBudget;

/// What happens to old data: whole-segment deletion, key compaction, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// `cleanup.policy=delete`: drop whole segments by age and size.
    #[default]
    Delete,
    /// `cleanup.policy=compact`: keep the latest record per key.
    Compact,
    /// `cleanup.policy=compact,delete`: both.
    CompactDelete,
}

impl CleanupPolicy {
    /// Whether retention by time and size applies.
    pub fn deletes(self) -> bool {
        matches!(self, Self::Delete | Self::CompactDelete)
    }

    /// Whether key compaction applies.
    pub fn compacts(self) -> bool {
        matches!(self, Self::Compact | Self::CompactDelete)
    }
}

/// When appended data is forced to stable storage with fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushPolicy {
    /// `flush.messages`: fsync once this many records were appended since the last fsync.
    pub messages: Option<u64>,
    /// `flush.ms`: fsync when the last fsync is at least this old (checked on append and
    /// maintenance).
    pub interval_ms: Option<i64>,
    /// Fsync before `append` returns (group commit: concurrent appenders share one fsync).
    pub sync_before_ack: bool,
}

impl FlushPolicy {
    /// Whether an `append` under this policy may wait for an fsync.
    pub fn may_sync_on_append(&self) -> bool {
        self.sync_before_ack || self.messages.is_some() || self.interval_ms.is_some()
    }
}

/// Settings of one partition log. `Default` gives Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll to a new segment once the active one would exceed this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll once the active segment's first batch is this old.
    pub segment_ms: i64,
    /// `retention.ms`: delete segments whose newest timestamp is older than this; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete the oldest segments while the log is larger; -1 means no limit.
    pub retention_bytes: i64,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long compaction keeps tombstones.
    pub delete_retention_ms: i64,
    /// `index.interval.bytes`: bytes of log between two offset-index entries.
    pub index_interval_bytes: u32,
    /// `segment.index.bytes`: preallocated size of each index file.
    pub segment_index_bytes: u32,
    /// `flush.messages`, `flush.ms` and whether appends wait for fsync.
    pub flush: FlushPolicy,
    /// `max.message.bytes`: largest batch accepted by `append`.
    pub max_message_bytes: u32,
    /// Sealed segments of this log that keep their files open (the `.log` and two index maps:
    /// three descriptors each), the most recently read ones; others reopen on use. Fjord's own.
    pub max_open_sealed_segments: usize,
    /// Most keys one compaction pass maps (about 32 bytes each); more keys take more passes.
    /// Kafka's `log.cleaner.dedupe.buffer.size`, counted in keys.
    pub compaction_map_entries: usize,
    /// The budget of written data this log shares with others: it keeps its share of newest
    /// bytes in the OS page cache and drops older pages once on disk. `None` leaves eviction to
    /// the kernel, as Kafka does. Fjord's own.
    pub page_cache: Option<Arc<PageCacheBudget>>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            flush: FlushPolicy::default(),
            max_message_bytes: 1_048_588,
            // Consumers read the active segment or a few lagging ones; 64 covers many lagging
            // groups per partition while bounding a log to 3 * 65 descriptors.
            max_open_sealed_segments: 64,
            // Kafka's 128 MiB dedupe buffer holds about as many.
            compaction_map_entries: 4 << 20,
            page_cache: None,
        }
    }
}

impl LogConfig {
    /// Segment size limit, clamped so file positions fit the indexes' 32-bit fields.
    pub(crate) fn segment_limit(&self) -> u64 {
        self.segment_bytes.clamp(1, i32::MAX as u64)
    }

    /// Index file size, at least one entry of each kind.
    pub(crate) fn index_bytes(&self) -> u32 {
        self.segment_index_bytes.max(24)
    }
}
