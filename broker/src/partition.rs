//! One partition: its log and the state that hangs off it.
//!
//! This is where per-partition state lives as it arrives: producer sequences for idempotence,
//! and later per-record delivery state for share groups. Partitions are independent, so
//! appends to one never wait for another.

use std::cmp::Ordering;
use std::path::Path;

use fjord_protocol::error_code::ErrorCode;

use fjord_storage::{Log, LogConfig};
use tokio::sync::Notify;

/// Leader epoch of every partition: stable on a single node.
pub const LEADER_EPOCH: i32 = 0;

/// Checks the leader epoch a client believes current against ours; a negative epoch means the
/// client does not know one, and is not checked.
pub fn check_leader_epoch(current: i32) -> Result<(), ErrorCode> {
    if current < 0 {
        return Ok(());
    }
    match current.cmp(&LEADER_EPOCH) {
        Ordering::Greater => Err(ErrorCode::UnknownLeaderEpoch),
        Ordering::Less => Err(ErrorCode::FencedLeaderEpoch),
        Ordering::Equal => Ok(()),
    }
}

/// A partition of a topic.
#[derive(Debug)]
pub struct Partition {
    /// Partition index within the topic.
    pub index: i32,
    /// The partition's log.
    pub log: Log,
    /// Woken after each append, so long-polling fetches return as soon as data arrives.
    appended: Notify,
}

impl Partition {
    /// Opens (or creates) the partition's log in `dir`.
    pub fn open(
        index: i32,
        dir: &Path,
        config: LogConfig,
    ) -> Result<Self, fjord_storage::OpenError> {
        Ok(Self {
            index,
            log: Log::open(dir, config)?,
            appended: Notify::new(),
        })
    }

    /// The offset up to which consumers may read: on a single node every appended record is
    /// committed, so this is the log end offset.
    pub fn high_watermark(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// The offset up to which `read_committed` consumers may read. Without transactions yet,
    /// the high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.high_watermark()
    }

    /// Wakes fetches waiting for data on this partition.
    pub fn notify_appended(&self) {
        self.appended.notify_waiters();
    }

    /// A future that completes at the next append. Create it before checking for data, so an
    /// append in between is not missed.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }
}
