//! The state of one transactional id and the rules for moving it, without I/O.
//!
//! States and what each request gets (TV1, the protocol of EndTxn v0-v4):
//!
//! | state          | InitProducerId            | AddPartitions/AddOffsets | EndTxn same / other   |
//! |----------------|---------------------------|--------------------------|-----------------------|
//! | Empty          | bump epoch                | -> Ongoing               | INVALID_TXN_STATE     |
//! | Ongoing        | abort (epoch bump), bump  | add                      | -> Prepare*           |
//! | PrepareCommit  | CONCURRENT_TRANSACTIONS   | CONCURRENT_TRANSACTIONS  | CONCURRENT / INVALID  |
//! | PrepareAbort   | CONCURRENT_TRANSACTIONS   | CONCURRENT_TRANSACTIONS  | CONCURRENT / INVALID  |
//! | CompleteCommit | bump epoch                | -> Ongoing               | NONE (retry) / INVALID|
//! | CompleteAbort  | bump epoch                | -> Ongoing               | NONE (retry) / INVALID|
//!
//! Every request first checks the producer id (INVALID_PRODUCER_ID_MAPPING) and the epoch
//! (PRODUCER_FENCED); the prepare states exist only while markers are being written, or after
//! a crash until the coordinator finishes them at start.

use std::collections::BTreeSet;

/// Where a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction since the producer was initialised.
    Empty,
    /// Partitions were added; data may be written.
    Ongoing,
    /// Committing: markers are being written.
    PrepareCommit,
    /// Aborting: markers are being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

impl TxnState {
    /// The state's number in `__transaction_state` and its name in DescribeTransactions.
    pub fn id(self) -> i8 {
        match self {
            Self::Empty => 0,
            Self::Ongoing => 1,
            Self::PrepareCommit => 2,
            Self::PrepareAbort => 3,
            Self::CompleteCommit => 4,
            Self::CompleteAbort => 5,
        }
    }

    /// The state with number `id`.
    pub fn from_id(id: i8) -> Option<Self> {
        Some(match id {
            0 => Self::Empty,
            1 => Self::Ongoing,
            2 => Self::PrepareCommit,
            3 => Self::PrepareAbort,
            4 => Self::CompleteCommit,
            5 => Self::CompleteAbort,
            _ => return None,
        })
    }

    /// Kafka's name of the state (DescribeTransactions, ListTransactions filters).
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
        }
    }
}

/// A partition by topic name and index.
pub type TopicPartition = (String, i32);

/// An offset committed inside a transaction, visible to the group only on commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOffset {
    /// The consumer group.
    pub group_id: String,
    /// The partition.
    pub partition: TopicPartition,
    /// The next offset to consume.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
}

/// Everything the coordinator keeps about one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The producer id.
    pub producer_id: i64,
    /// The producer id before the last change, so a retried InitProducerId is recognised.
    pub last_producer_id: i64,
    /// The current epoch.
    pub epoch: i16,
    /// The epoch before the last bump, for the same reason.
    pub last_epoch: i16,
    /// Transaction timeout.
    pub timeout_ms: i32,
    /// Where the transaction is.
    pub state: TxnState,
    /// Partitions in the current transaction.
    pub partitions: BTreeSet<TopicPartition>,
    /// Groups added with AddOffsetsToTxn.
    pub groups: BTreeSet<String>,
    /// Offsets to commit when the transaction commits.
    pub pending_offsets: Vec<PendingOffset>,
    /// When the current transaction started (first partition added), or -1.
    pub txn_start_ms: i64,
    /// When the state last changed.
    pub last_update_ms: i64,
}

/// Why a request on a transaction is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// The producer id is not the one of this transactional id (or there is none).
    #[error("producer id {producer_id} is not the transactional id's (it has {current})")]
    InvalidProducerIdMapping {
        /// The id sent.
        producer_id: i64,
        /// The id held (-1 when the transactional id is unknown).
        current: i64,
    },
    /// A newer producer with the same transactional id exists.
    #[error("producer epoch {epoch} is fenced by epoch {current}")]
    ProducerFenced {
        /// The epoch sent.
        epoch: i16,
        /// The current epoch.
        current: i16,
    },
    /// Another operation on the transaction is under way; retry.
    #[error("a transition of the transaction is in progress")]
    ConcurrentTransactions,
    /// The request does not fit the transaction's state.
    #[error("operation not valid in state {0:?}")]
    InvalidTxnState(TxnState),
    /// The timeout is not within `1..=transaction.max.timeout.ms`.
    #[error("transaction timeout {0} ms is out of range")]
    InvalidTransactionTimeout(i32),
}

impl TxnMetadata {
    /// A new transactional id's metadata, at epoch 0.
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        Self {
            producer_id,
            last_producer_id: -1,
            epoch: 0,
            last_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            pending_offsets: Vec::new(),
            txn_start_ms: -1,
            last_update_ms: now_ms,
        }
    }

    /// Checks the producer id and epoch a request carries.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), TxnError> {
        if producer_id != self.producer_id {
            return Err(TxnError::InvalidProducerIdMapping {
                producer_id,
                current: self.producer_id,
            });
        }
        if epoch != self.epoch {
            return Err(TxnError::ProducerFenced {
                epoch,
                current: self.epoch,
            });
        }
        Ok(())
    }

    /// Whether an InitProducerId naming `(producer_id, epoch)` (KIP-360) may go on: it holds
    /// the current id and epoch, or it is a retry of the call that produced them.
    pub fn accepts_init_from(&self, producer_id: i64, epoch: i16) -> bool {
        (producer_id == self.producer_id && epoch == self.epoch)
            || (producer_id == self.last_producer_id && epoch == self.last_epoch)
    }

    /// Whether the transaction is being completed.
    pub fn is_preparing(&self) -> bool {
        matches!(self.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// Bumps the epoch, or moves to `new_producer_id` at epoch 0 when the epoch is exhausted.
    /// `new_producer_id` is only called then.
    pub fn bump_epoch(&mut self, new_producer_id: impl FnOnce() -> Option<i64>) -> Option<()> {
        self.last_producer_id = self.producer_id;
        self.last_epoch = self.epoch;
        if self.epoch >= i16::MAX - 1 {
            self.producer_id = new_producer_id()?;
            self.epoch = 0;
        } else {
            self.epoch += 1;
        }
        Some(())
    }

    /// Adds partitions (AddPartitionsToTxn) or a group (AddOffsetsToTxn) to the transaction,
    /// starting it if none is open.
    pub fn add(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        group: Option<String>,
        now_ms: i64,
    ) -> Result<(), TxnError> {
        if self.is_preparing() {
            return Err(TxnError::ConcurrentTransactions);
        }
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.txn_start_ms = now_ms;
            self.partitions.clear();
            self.groups.clear();
            self.pending_offsets.clear();
        }
        self.partitions.extend(partitions);
        self.groups.extend(group);
        self.last_update_ms = now_ms;
        Ok(())
    }

    /// What EndTxn does in this state: `Ok(true)` to write markers, `Ok(false)` for a retry
    /// of the completion that already happened.
    pub fn end(&self, commit: bool) -> Result<bool, TxnError> {
        match (self.state, commit) {
            (TxnState::Ongoing, _) => Ok(true),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(false),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(TxnError::ConcurrentTransactions)
            }
            (state, _) => Err(TxnError::InvalidTxnState(state)),
        }
    }

    /// Whether the transactional id may be forgotten at `now_ms` (Kafka's
    /// `transactional.id.expiration.ms`): no transaction is open or ending, and nothing
    /// happened to it for `expiration_ms`.
    pub fn expired(&self, now_ms: i64, expiration_ms: i64) -> bool {
        matches!(
            self.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        ) && now_ms.saturating_sub(self.last_update_ms) >= expiration_ms
    }

    /// Whether an open transaction ran past its timeout at `now_ms`.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && now_ms.saturating_sub(self.txn_start_ms) > i64::from(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> TxnMetadata {
        TxnMetadata::new(7, 60_000, 1_000)
    }

    #[test]
    fn requests_are_checked_against_id_and_epoch() {
        let m = meta();
        assert_eq!(m.check_producer(7, 0), Ok(()));
        assert!(matches!(
            m.check_producer(8, 0),
            Err(TxnError::InvalidProducerIdMapping { .. })
        ));
        assert_eq!(
            m.check_producer(7, 1),
            Err(TxnError::ProducerFenced {
                epoch: 1,
                current: 0
            })
        );
    }

    #[test]
    fn add_starts_a_transaction_and_end_completes_it() {
        let mut m = meta();
        assert_eq!(m.end(true), Err(TxnError::InvalidTxnState(TxnState::Empty)));
        m.add([("t".to_string(), 0)], None, 2_000).unwrap();
        assert_eq!((m.state, m.txn_start_ms), (TxnState::Ongoing, 2_000));
        m.add([("t".to_string(), 1)], Some("g".into()), 2_500)
            .unwrap();
        assert_eq!(m.partitions.len(), 2);
        assert_eq!(
            m.txn_start_ms, 2_000,
            "adding more does not restart the clock"
        );
        assert_eq!(m.end(true), Ok(true));
        m.state = TxnState::PrepareCommit;
        assert_eq!(
            m.add([], None, 3_000),
            Err(TxnError::ConcurrentTransactions)
        );
        assert_eq!(m.end(true), Err(TxnError::ConcurrentTransactions));
        assert_eq!(
            m.end(false),
            Err(TxnError::InvalidTxnState(TxnState::PrepareCommit))
        );
        m.state = TxnState::CompleteCommit;
        assert_eq!(m.end(true), Ok(false), "a retried commit succeeds");
        assert_eq!(
            m.end(false),
            Err(TxnError::InvalidTxnState(TxnState::CompleteCommit))
        );
    }

    #[test]
    fn timeouts_count_from_the_first_partition() {
        let mut m = meta();
        assert!(!m.timed_out(i64::MAX));
        m.add([("t".to_string(), 0)], None, 10_000).unwrap();
        assert!(!m.timed_out(70_000));
        assert!(m.timed_out(70_001));
    }

    #[test]
    fn only_ids_without_a_live_transaction_expire() {
        let mut m = meta();
        assert!(!m.expired(1_000 + 9_999, 10_000));
        assert!(m.expired(1_000 + 10_000, 10_000), "Empty and idle");
        m.add([("t".to_string(), 0)], None, 5_000).unwrap();
        assert!(
            !m.expired(i64::MAX, 10_000),
            "an open transaction is never expired"
        );
        for state in [TxnState::PrepareCommit, TxnState::PrepareAbort] {
            m.state = state;
            assert!(!m.expired(i64::MAX, 10_000), "{state:?}");
        }
        for state in [TxnState::CompleteCommit, TxnState::CompleteAbort] {
            m.state = state;
            assert!(!m.expired(5_000 + 9_999, 10_000), "{state:?}");
            assert!(m.expired(5_000 + 10_000, 10_000), "{state:?}");
        }
    }

    #[test]
    fn epochs_bump_and_roll_over_to_a_new_producer_id() {
        let mut m = meta();
        m.bump_epoch(|| None).unwrap();
        assert_eq!((m.producer_id, m.epoch, m.last_epoch), (7, 1, 0));
        assert!(m.accepts_init_from(7, 1));
        assert!(m.accepts_init_from(7, 0), "a retry of the bump");
        assert!(!m.accepts_init_from(7, 5));
        m.epoch = i16::MAX - 1;
        m.bump_epoch(|| Some(99)).unwrap();
        assert_eq!((m.producer_id, m.epoch, m.last_producer_id), (99, 0, 7));
    }
}
