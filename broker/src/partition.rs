//! One partition: its log and the state that hangs off it.
//!
//! This is where per-partition state lives as it arrives: producer sequences for idempotence
//! and transactions ([`crate::producer_state`]), and later per-record delivery state for share
//! groups. Partitions are independent, so appends to one never wait for another.
//!
//! Appends of idempotent producers check and update the producer state under the partition's
//! producer lock, around the log append, so a retry racing its original cannot be written
//! twice. Appends without a producer id skip that lock.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::records::{BatchSummary, ControlRecordType, RecordBatchBuilder, RecordError};
use fjord_storage::{AppendError, AppendOptions, Log, LogConfig};
use tokio::sync::Notify;

use crate::producer_state::manager::LoadError;
use crate::producer_state::{
    AbortedTxn, Admission, ProduceRefusal, ProducerBatch, ProducerEntry, ProducerStateManager,
    TxnMarker, TxnOutcome,
};

/// Leader epoch of every partition: stable on a single node.
pub const LEADER_EPOCH: i32 = 0;

/// No open transaction: the last stable offset is the high watermark.
const NO_UNSTABLE_OFFSET: i64 = i64::MAX;

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

/// Why a partition could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PartitionOpenError {
    /// The log could not be opened.
    #[error(transparent)]
    Log(#[from] fjord_storage::OpenError),
    /// The producer state could not be loaded.
    #[error("loading producer state: {0}")]
    ProducerState(#[source] Box<LoadError>),
}

/// Why a produced batch was not appended.
#[derive(Debug, thiserror::Error)]
pub enum ProduceAppendError {
    /// The producer state refuses the batch.
    #[error(transparent)]
    Refused(#[from] ProduceRefusal),
    /// The log refused or failed the append.
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// Why a transaction marker was not written.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    /// The marker batch could not be built.
    #[error("building a transaction marker: {0}")]
    Build(#[source] RecordError),
    /// The log refused or failed the append.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// The marker's producer epoch is older than the producer's current one.
    #[error("marker epoch {epoch} of producer {producer_id} is older than its epoch {current}")]
    StaleEpoch {
        /// The producer.
        producer_id: i64,
        /// The marker's epoch.
        epoch: i16,
        /// The producer's epoch here.
        current: i16,
    },
    /// The marker comes from an older coordinator than the producer's last marker.
    #[error("coordinator epoch {epoch} is older than {current}")]
    CoordinatorFenced {
        /// The marker's coordinator epoch.
        epoch: i32,
        /// The coordinator epoch of the producer's last marker.
        current: i32,
    },
}

/// Where a produced batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// Offset of its first record.
    pub base_offset: i64,
    /// The append time stamped on `LogAppendTime` topics.
    pub log_append_time: Option<i64>,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// Whether this was a retry of a batch already in the log, answered without writing.
    pub duplicate: bool,
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
    /// Idempotent and transactional producer state; held across check and append.
    producers: Mutex<ProducerStateManager>,
    /// First offset of the oldest open transaction (or [`NO_UNSTABLE_OFFSET`]), mirrored out
    /// of the producer state so fetches read the last stable offset without the lock. It is
    /// lowered before a transaction's first batch becomes readable.
    first_unstable: AtomicI64,
}

impl Partition {
    /// Opens (or creates) the partition's log in `dir` and loads its producer state.
    pub fn open(index: i32, dir: &Path, config: LogConfig) -> Result<Self, PartitionOpenError> {
        let log = Log::open(dir, config)?;
        let producers = ProducerStateManager::load(&log)
            .map_err(|e| PartitionOpenError::ProducerState(Box::new(e)))?;
        let first_unstable = producers
            .state()
            .first_unstable_offset()
            .unwrap_or(NO_UNSTABLE_OFFSET);
        Ok(Self {
            index,
            log,
            appended: Notify::new(),
            producers: Mutex::new(producers),
            first_unstable: AtomicI64::new(first_unstable),
        })
    }

    /// The offset up to which consumers may read: on a single node every appended record is
    /// committed, so this is the log end offset.
    pub fn high_watermark(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// The offset up to which `read_committed` consumers may read: the first offset of the
    /// oldest open transaction, or the high watermark when none is open.
    pub fn last_stable_offset(&self) -> i64 {
        // The high watermark first: a transactional batch it already covers lowered
        // `first_unstable` before it was appended.
        let high_watermark = self.high_watermark();
        high_watermark.min(self.first_unstable.load(AtomicOrdering::Acquire))
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

    fn lock_producers(&self) -> MutexGuard<'_, ProducerStateManager> {
        self.producers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Mirrors the state's first unstable offset for lock-free readers.
    fn publish_first_unstable(&self, producers: &ProducerStateManager) {
        let first = producers
            .state()
            .first_unstable_offset()
            .unwrap_or(NO_UNSTABLE_OFFSET);
        self.first_unstable.store(first, AtomicOrdering::Release);
    }

    /// Appends one validated client batch, summarised by `summary`. A batch of an idempotent
    /// producer is checked against the producer's state first: a retry of one of its last five
    /// batches is answered with the original offsets and not written again.
    pub fn append_produced(
        &self,
        batch: &[u8],
        summary: &BatchSummary,
        options: &AppendOptions,
    ) -> Result<Produced, ProduceAppendError> {
        let Some(producer) = ProducerBatch::from_summary(summary) else {
            let info = self.log.append(batch, options)?;
            self.notify_appended();
            return Ok(Produced {
                base_offset: info.base_offset,
                log_append_time: info.log_append_time,
                log_start_offset: info.log_start_offset,
                duplicate: false,
            });
        };
        let mut producers = self.lock_producers();
        if let Admission::Duplicate(original) = producers.state().check(&producer)? {
            return Ok(Produced {
                base_offset: original.first_offset,
                log_append_time: options.log_append_time.map(|_| original.timestamp),
                log_start_offset: self.log.log_start_offset(),
                duplicate: true,
            });
        }
        let opens_txn = producer.transactional
            && producers
                .state()
                .current_txn_first_offset(producer.producer_id)
                .is_none();
        if opens_txn {
            // The batch lands at or after the current log end: fence read_committed readers
            // there before it becomes readable.
            self.first_unstable
                .fetch_min(self.log.log_end_offset(), AtomicOrdering::AcqRel);
        }
        let info = match self.log.append(batch, options) {
            Ok(info) => info,
            Err(e) => {
                self.publish_first_unstable(&producers);
                return Err(e.into());
            }
        };
        let stored_timestamp = options.log_append_time.unwrap_or(summary.max_timestamp);
        producers.state_mut().record_batch(
            &producer,
            info.base_offset,
            info.last_offset,
            stored_timestamp,
        );
        self.publish_first_unstable(&producers);
        producers.after_append(self.log.log_end_offset());
        drop(producers);
        self.notify_appended();
        Ok(Produced {
            base_offset: info.base_offset,
            log_append_time: info.log_append_time,
            log_start_offset: info.log_start_offset,
            duplicate: false,
        })
    }

    /// Writes a commit or abort marker for `marker.producer_id`'s transaction, closing it on
    /// this partition. Returns the marker's offset.
    pub fn append_marker(&self, marker: &TxnMarker, now_ms: i64) -> Result<i64, MarkerError> {
        let kind = match marker.outcome {
            TxnOutcome::Commit => ControlRecordType::Commit,
            TxnOutcome::Abort => ControlRecordType::Abort,
        };
        let built = RecordBatchBuilder::end_txn_marker(
            marker.producer_id,
            marker.producer_epoch,
            kind,
            marker.coordinator_epoch,
            marker.timestamp,
        )
        .build()
        .map_err(MarkerError::Build)?;
        let options = AppendOptions {
            leader_epoch: LEADER_EPOCH,
            log_append_time: None,
            now_ms,
        };
        let mut producers = self.lock_producers();
        let state = producers.state();
        if let Some(current) = state
            .epoch(marker.producer_id)
            .filter(|e| marker.producer_epoch < *e)
        {
            return Err(MarkerError::StaleEpoch {
                producer_id: marker.producer_id,
                epoch: marker.producer_epoch,
                current,
            });
        }
        if let Some(current) = state
            .coordinator_epoch(marker.producer_id)
            .filter(|e| marker.coordinator_epoch < *e)
        {
            return Err(MarkerError::CoordinatorFenced {
                epoch: marker.coordinator_epoch,
                current,
            });
        }
        let info = self.log.append(&built, &options)?;
        producers
            .state_mut()
            .record_marker(marker, info.base_offset);
        self.publish_first_unstable(&producers);
        producers.after_append(self.log.log_end_offset());
        drop(producers);
        self.notify_appended();
        Ok(info.base_offset)
    }

    /// Aborted transactions overlapping `[from, to)`, for a `read_committed` fetch.
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.lock_producers().state().aborted_between(from, to)
    }

    /// The producers this partition knows, for DescribeProducers.
    pub fn producers(&self) -> Vec<(i64, ProducerEntry)> {
        self.lock_producers()
            .state()
            .producers()
            .map(|(id, e)| (id, e.clone()))
            .collect()
    }

    /// Forgets producers idle for `expiration_ms` (`producer.id.expiration.ms`) as of
    /// `now_ms` that have no open transaction here; returns how many.
    pub fn expire_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        self.lock_producers().expire(now_ms, expiration_ms)
    }

    /// Flushes the log and snapshots the producer state at its end, so the next start
    /// replays nothing (at shutdown).
    pub fn flush(&self) -> Result<(), fjord_storage::FlushError> {
        let mut producers = self.lock_producers();
        self.log.flush()?;
        producers.snapshot(self.log.log_end_offset());
        Ok(())
    }
}
