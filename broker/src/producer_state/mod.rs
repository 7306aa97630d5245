//! Idempotent and transactional producer state of one partition.
//!
//! For each producer id the partition remembers its epoch, the sequence ranges and offsets of
//! its last five batches (a producer has at most five requests in flight, so a retry is always
//! among them), and the first offset of its open transaction. With that the produce path
//! answers as Kafka does: a retried batch gets the offsets it got the first time and is not
//! written again, a gap in the sequence is refused, and a fenced epoch is refused.
//!
//! - this module: [`ProducerStates`], the pure state and its rules (no I/O, time passed in).
//! - [`manager`]: the state of one partition behind its lock, with snapshots and the rebuild
//!   from the log at start.
//! - [`snapshot`]: the snapshot file format.
//! - [`rebuild`]: replaying batch headers from the log.

pub mod manager;
pub mod rebuild;
pub mod snapshot;

use std::collections::{BTreeMap, HashMap, VecDeque};

use fjord_protocol::records::header::BatchHeader;
use fjord_protocol::records::BatchSummary;

pub use manager::ProducerStateManager;

/// Batches remembered per producer: the most a producer has in flight to one partition.
pub const BATCHES_TO_RETAIN: usize = 5;

/// What the producer state needs to know about a batch of an idempotent producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// Sequence of the first record.
    pub base_sequence: i32,
    /// Records in the batch.
    pub record_count: i32,
    /// Whether the batch is part of a transaction.
    pub transactional: bool,
    /// Largest timestamp in the batch (the producer's last activity).
    pub max_timestamp: i64,
}

impl ProducerBatch {
    /// The producer facts of a data batch; `None` for batches without a producer id.
    pub fn from_header(header: &BatchHeader) -> Option<Self> {
        (header.producer_id >= 0 && !header.is_control()).then_some(Self {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            record_count: header.record_count,
            transactional: header.is_transactional(),
            max_timestamp: header.max_timestamp,
        })
    }

    /// The producer facts of a validated client batch; `None` without a producer id.
    pub fn from_summary(summary: &BatchSummary) -> Option<Self> {
        (summary.producer_id >= 0 && !summary.control).then_some(Self {
            producer_id: summary.producer_id,
            producer_epoch: summary.producer_epoch,
            base_sequence: summary.base_sequence,
            record_count: summary.record_count,
            transactional: summary.transactional,
            max_timestamp: summary.max_timestamp,
        })
    }

    /// Sequence of the last record; sequences wrap to 0 after `i32::MAX`.
    pub fn last_sequence(&self) -> i32 {
        wrapping_add_sequence(self.base_sequence, self.record_count.saturating_sub(1))
    }
}

/// `sequence + delta` in Kafka's sequence space, which wraps to 0 after `i32::MAX`.
fn wrapping_add_sequence(sequence: i32, delta: i32) -> i32 {
    let sum = i64::from(sequence) + i64::from(delta);
    // The remainder of a non-negative sum by 2^31 fits in an i32.
    i32::try_from(sum.rem_euclid(i64::from(i32::MAX) + 1)).unwrap_or(0)
}

/// Whether `next` directly follows `last`.
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// Where one appended batch of a producer landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence of its first record.
    pub first_sequence: i32,
    /// Sequence of its last record.
    pub last_sequence: i32,
    /// Offset of its first record.
    pub first_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// Its max timestamp as stored (the append time on `LogAppendTime` topics).
    pub timestamp: i64,
}

/// What the partition knows about one producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    /// The newest epoch seen.
    pub epoch: i16,
    /// The last batches of that epoch, oldest first.
    pub batches: VecDeque<BatchMetadata>,
    /// Timestamp of its last write, for expiry and DescribeProducers.
    pub last_timestamp: i64,
    /// Epoch of the transaction coordinator that wrote its last marker, or -1.
    pub coordinator_epoch: i32,
    /// First offset of its open transaction on this partition.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    fn new(epoch: i16) -> Self {
        Self {
            epoch,
            batches: VecDeque::with_capacity(BATCHES_TO_RETAIN),
            last_timestamp: -1,
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }

    /// Sequence of the last record written, or -1 when none in this epoch.
    pub fn last_sequence(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_sequence)
    }

    /// A new epoch forgets the old epoch's sequences.
    fn bump_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
    }

    fn find_duplicate(&self, batch: &ProducerBatch) -> Option<BatchMetadata> {
        if batch.producer_epoch != self.epoch {
            return None;
        }
        let last = batch.last_sequence();
        self.batches
            .iter()
            .find(|b| b.first_sequence == batch.base_sequence && b.last_sequence == last)
            .copied()
    }
}

/// How a batch that passed the checks is to be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A new batch: append it.
    Append,
    /// A retry of a batch already in the log: answer with its offsets, write nothing.
    Duplicate(BatchMetadata),
}

/// Why a producer's batch is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProduceRefusal {
    /// The batch's epoch is older than the producer's current one: a zombie.
    #[error("producer {producer_id} epoch {epoch} is older than its current epoch {current}")]
    StaleEpoch {
        /// The producer.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The epoch the partition knows.
        current: i16,
    },
    /// The batch does not follow the last one written.
    #[error(
        "out of order sequence from producer {producer_id} epoch {epoch}: batch starts at \
         {sequence}, last written is {last_sequence}"
    )]
    OutOfOrder {
        /// The producer.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The batch's first sequence.
        sequence: i32,
        /// The last sequence written (-1 when none in this epoch).
        last_sequence: i32,
    },
    /// A non-transactional batch from a producer with an open transaction here.
    #[error(
        "producer {producer_id} sent a non-transactional batch while its transaction from \
         offset {txn_first_offset} is open"
    )]
    NotTransactional {
        /// The producer.
        producer_id: i64,
        /// Where its open transaction starts.
        txn_first_offset: i64,
    },
}

/// Whether a transaction ended in a commit or an abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnOutcome {
    /// Committed: its records become visible to `read_committed` consumers.
    Commit,
    /// Aborted: `read_committed` consumers skip its records.
    Abort,
}

/// A commit or abort marker as written to this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// The producer whose transaction ends.
    pub producer_id: i64,
    /// The producer epoch the marker carries.
    pub producer_epoch: i16,
    /// Commit or abort.
    pub outcome: TxnOutcome,
    /// Epoch of the coordinator that wrote it.
    pub coordinator_epoch: i32,
    /// The marker batch's timestamp.
    pub timestamp: i64,
}

/// An aborted transaction's span on this partition: `read_committed` consumers drop the
/// producer's batches between the two offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: i64,
    /// Offset of the transaction's first batch here.
    pub first_offset: i64,
    /// Offset of its abort marker.
    pub last_offset: i64,
}

/// The producer state of one partition, without I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions by first offset.
    ongoing: BTreeMap<i64, i64>,
    /// Aborted transactions, by marker offset (ascending, as written).
    aborted: Vec<AbortedTxn>,
}

impl ProducerStates {
    /// Checks a batch against the producer's state, as Kafka's broker does for client
    /// appends: duplicates of the last five batches first, then the epoch, then the sequence.
    /// An unknown producer may start at any sequence (KIP-360: its state may have expired).
    pub fn check(&self, batch: &ProducerBatch) -> Result<Admission, ProduceRefusal> {
        let Some(entry) = self.producers.get(&batch.producer_id) else {
            return Ok(Admission::Append);
        };
        if let Some(duplicate) = entry.find_duplicate(batch) {
            return Ok(Admission::Duplicate(duplicate));
        }
        if batch.producer_epoch < entry.epoch {
            return Err(ProduceRefusal::StaleEpoch {
                producer_id: batch.producer_id,
                epoch: batch.producer_epoch,
                current: entry.epoch,
            });
        }
        let out_of_order = || ProduceRefusal::OutOfOrder {
            producer_id: batch.producer_id,
            epoch: batch.producer_epoch,
            sequence: batch.base_sequence,
            last_sequence: entry.last_sequence(),
        };
        if batch.producer_epoch != entry.epoch {
            // A new epoch starts its sequences over.
            if batch.base_sequence != 0 {
                return Err(out_of_order());
            }
        } else if entry.batches.is_empty() {
            // The epoch is known from a marker only: its first batch starts at 0.
            if batch.base_sequence != 0 {
                return Err(out_of_order());
            }
        } else if !in_sequence(entry.last_sequence(), batch.base_sequence) {
            return Err(out_of_order());
        }
        if let (false, Some(first)) = (batch.transactional, entry.current_txn_first_offset) {
            return Err(ProduceRefusal::NotTransactional {
                producer_id: batch.producer_id,
                txn_first_offset: first,
            });
        }
        Ok(Admission::Append)
    }

    /// Records a batch appended at `first_offset..=last_offset`, with its stored timestamp.
    pub fn record_batch(
        &mut self,
        batch: &ProducerBatch,
        first_offset: i64,
        last_offset: i64,
        timestamp: i64,
    ) {
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry::new(batch.producer_epoch));
        entry.bump_epoch(batch.producer_epoch);
        if entry.batches.len() == BATCHES_TO_RETAIN {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMetadata {
            first_sequence: batch.base_sequence,
            last_sequence: batch.last_sequence(),
            first_offset,
            last_offset,
            timestamp,
        });
        entry.last_timestamp = timestamp;
        if batch.transactional && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(first_offset);
            self.ongoing.insert(first_offset, batch.producer_id);
        }
    }

    /// Records a commit or abort marker written at `offset`, closing the producer's open
    /// transaction here. Returns the aborted span, if this aborted one.
    pub fn record_marker(&mut self, marker: &TxnMarker, offset: i64) -> Option<AbortedTxn> {
        let entry = self
            .producers
            .entry(marker.producer_id)
            .or_insert_with(|| ProducerEntry::new(marker.producer_epoch));
        entry.bump_epoch(marker.producer_epoch);
        entry.coordinator_epoch = marker.coordinator_epoch;
        entry.last_timestamp = marker.timestamp;
        let first_offset = entry.current_txn_first_offset.take()?;
        self.ongoing.remove(&first_offset);
        (marker.outcome == TxnOutcome::Abort).then(|| {
            let aborted = AbortedTxn {
                producer_id: marker.producer_id,
                first_offset,
                last_offset: offset,
            };
            self.aborted.push(aborted);
            aborted
        })
    }

    /// The coordinator epoch of the producer's last marker here, if the producer is known.
    pub fn coordinator_epoch(&self, producer_id: i64) -> Option<i32> {
        self.producers
            .get(&producer_id)
            .map(|e| e.coordinator_epoch)
    }

    /// First offset of the producer's open transaction here, if one is open.
    pub fn current_txn_first_offset(&self, producer_id: i64) -> Option<i64> {
        self.producers
            .get(&producer_id)
            .and_then(|e| e.current_txn_first_offset)
    }

    /// The producer's current epoch here, if it is known.
    pub fn epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// First offset of the oldest open transaction: `read_committed` reads stop there.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Aborted transactions overlapping `[from, to)`, as a `read_committed` fetch needs them.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// Forgets producers idle for `expiration_ms` (Kafka's `producer.id.expiration.ms`) that
    /// have no open transaction. Returns how many were removed.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Forgets what lies wholly before the log start offset (after retention or
    /// DeleteRecords): aborted spans and the offsets of producers' batches.
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start_offset);
    }

    /// Every known producer, for DescribeProducers and snapshots.
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Every aborted span still kept, oldest first.
    pub fn aborted(&self) -> &[AbortedTxn] {
        &self.aborted
    }

    /// Rebuilds the state from a snapshot's contents.
    pub fn from_parts(producers: HashMap<i64, ProducerEntry>, aborted: Vec<AbortedTxn>) -> Self {
        let ongoing = producers
            .iter()
            .filter_map(|(id, e)| e.current_txn_first_offset.map(|first| (first, *id)))
            .collect();
        Self {
            producers,
            ongoing,
            aborted,
        }
    }
}

#[cfg(test)]
mod tests;
