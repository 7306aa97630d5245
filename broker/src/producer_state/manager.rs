//! The producer state of one partition as the broker keeps it: loaded at open from the newest
//! usable snapshot plus a replay of the log after it, snapshotted as the log grows, and
//! pruned of idle producers when the maintenance task says so (it owns the
//! `producer.id.expiration.ms` setting, so every partition, idle or not, is pruned by it).

use std::path::{Path, PathBuf};

use fjord_storage::Log;
use tracing::{debug, warn};

use super::rebuild::{replay, RebuildError};
use super::snapshot::{self, SnapshotError};
use super::ProducerStates;

/// A snapshot is taken once the log grew this many offsets past the last one, bounding the
/// replay after a crash.
const SNAPSHOT_INTERVAL_OFFSETS: i64 = 50_000;
/// Snapshots kept; older ones are removed after a new one is written.
const SNAPSHOTS_KEPT: usize = 2;

/// Why the producer state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Snapshots could not be listed or cleaned up.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The log could not be replayed.
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
}

/// One partition's producer state and its snapshots.
#[derive(Debug)]
pub struct ProducerStateManager {
    /// The partition directory, where snapshots live next to the segments.
    dir: PathBuf,
    /// The state itself.
    state: ProducerStates,
    /// Offset of the newest snapshot (or the log start when there is none).
    last_snapshot_offset: i64,
}

impl ProducerStateManager {
    /// Loads the state of the partition whose log is `log`: the newest snapshot not past the
    /// log end, then the log after it. Snapshots past the log end (the log lost unflushed
    /// data in a crash) and unreadable ones are removed. Writes a fresh snapshot when the
    /// replay read anything, so the next start replays only what is new. Producers idle past
    /// their expiration are kept until the maintenance task's next pass, which runs at start.
    pub fn load(log: &Log) -> Result<Self, LoadError> {
        let dir = log.dir().to_path_buf();
        let end = log.log_end_offset();
        let mut loaded = None;
        for offset in snapshot::list(&dir)?.into_iter().rev() {
            if offset > end || loaded.is_some() {
                if offset > end {
                    snapshot::remove(&dir, offset)?;
                }
                continue;
            }
            match snapshot::read(&dir, offset) {
                Ok(state) => loaded = Some((offset, state)),
                Err(e) => {
                    warn!(dir = %dir.display(), offset, error = %e, "ignoring an unusable producer snapshot");
                    snapshot::remove(&dir, offset)?;
                }
            }
        }
        let (from, mut state) =
            loaded.unwrap_or((log.log_start_offset(), ProducerStates::default()));
        let report = replay(log, from, &mut state)?;
        state.truncate_head(log.log_start_offset());
        debug!(dir = %dir.display(), from, ?report, "loaded producer state");
        let mut manager = Self {
            dir,
            state,
            last_snapshot_offset: from,
        };
        if report.bytes > 0 {
            manager.snapshot(end);
        }
        Ok(manager)
    }

    /// The state.
    pub fn state(&self) -> &ProducerStates {
        &self.state
    }

    /// The state, to record an append.
    pub fn state_mut(&mut self) -> &mut ProducerStates {
        &mut self.state
    }

    /// Housekeeping after an append of a producer batch: a snapshot when the log grew enough
    /// since the last one.
    pub fn after_append(&mut self, log_end_offset: i64) {
        if log_end_offset - self.last_snapshot_offset >= SNAPSHOT_INTERVAL_OFFSETS {
            self.snapshot(log_end_offset);
        }
    }

    /// Forgets producers idle for `expiration_ms` (`producer.id.expiration.ms`) as of
    /// `now_ms`; returns how many (the maintenance task logs them, naming the partition).
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.state.expire(now_ms, expiration_ms)
    }

    /// Writes a snapshot as of `log_end_offset` (every producer batch below it is in the
    /// state) and removes the older ones beyond the kept count. A failure is logged, not
    /// returned: the state in memory is intact and the next start replays more of the log.
    pub fn snapshot(&mut self, log_end_offset: i64) {
        match self.try_snapshot(log_end_offset) {
            Ok(()) => self.last_snapshot_offset = log_end_offset,
            Err(e) => warn!(dir = %self.dir.display(), error = %e, "producer snapshot failed"),
        }
    }

    fn try_snapshot(&self, log_end_offset: i64) -> Result<(), SnapshotError> {
        snapshot::write(&self.dir, log_end_offset, &self.state)?;
        let offsets = snapshot::list(&self.dir)?;
        let stale = offsets.len().saturating_sub(SNAPSHOTS_KEPT);
        for offset in offsets.into_iter().take(stale) {
            snapshot::remove(&self.dir, offset)?;
        }
        debug!(dir = %self.dir.display(), offset = log_end_offset, "wrote producer snapshot");
        Ok(())
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
