//! The transaction coordinator: producer ids for idempotent producers and, for transactional
//! ones, the state of each transactional id, kept in `__transaction_state`.
//!
//! A transaction's life: InitProducerId fences older instances by bumping the epoch;
//! AddPartitionsToTxn / AddOffsetsToTxn open it; TxnOffsetCommit parks consumer offsets in
//! it; EndTxn writes PrepareCommit/PrepareAbort, then a commit or abort marker to every
//! partition in it, then (on commit) hands the parked offsets to the group coordinator, then
//! writes CompleteCommit/CompleteAbort. On one node the markers are local appends, so EndTxn
//! finishes before it answers. A crash between prepare and complete leaves the prepare state
//! in the log; the coordinator's background task finishes it after the restart, aborts
//! open transactions past their timeout (bumping the epoch, which fences the zombie), and
//! forgets transactional ids idle past `transactional.id.expiration.ms` with a tombstone.
//!
//! - [`state`]: one transactional id's metadata and its transition rules (pure).
//! - [`store`]: the `__transaction_state` records.
//! - [`crate::producer_ids`]: the durable producer id allocator.

pub mod state;
pub mod store;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::group::types::{OffsetToCommit, TopicPartition as GroupTp};
use crate::partition::{MarkerError, Partition};
use crate::producer_ids::{ProducerIdAllocator, ProducerIdError};
use crate::producer_state::{TxnMarker, TxnOutcome};
use crate::topic_config::{ConfigValueError, TopicConfig};
use crate::topics::{TopicError, Topics};
use state::{PendingOffset, TopicPartition, TxnError, TxnMetadata, TxnState};
use store::{TxnStoreError, TXN_TOPIC};

/// Kafka's default `transaction.max.timeout.ms`.
pub const MAX_TIMEOUT_MS: i32 = 15 * 60 * 1000;
/// How often timeouts and unfinished completions are looked for (Kafka's
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s; we look more often
/// so an expired transaction stops holding back `read_committed` readers soon).
const CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// The coordinator epoch written into markers: one coordinator, never moved.
const COORDINATOR_EPOCH: i32 = 0;
/// Longest time between looks for expired transactional ids (Kafka's
/// `transaction.remove.expired.transaction.cleanup.interval.ms`); a shorter expiration is
/// looked for as often as it lasts.
const EXPIRY_CHECK_INTERVAL_MS: i64 = 60 * 60 * 1000;

/// Transaction coordinator settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// How long a transactional id with no transaction open is kept without activity
    /// (`transactional.id.expiration.ms`).
    pub transactional_id_expiration_ms: i64,
}

impl TxnConfig {
    /// Kafka's `transactional.id.expiration.ms` default: seven days.
    pub const DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
}

impl Default for TxnConfig {
    fn default() -> Self {
        Self {
            transactional_id_expiration_ms: Self::DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS,
        }
    }
}

/// Why the coordinator could not start.
#[derive(Debug, thiserror::Error)]
pub enum TxnBootError {
    /// The producer id allocator could not be opened.
    #[error("opening the producer id allocator: {0}")]
    ProducerIds(#[from] ProducerIdError),
    /// The internal topic's settings were refused.
    #[error("configuring {TXN_TOPIC}: {0}")]
    Config(#[source] ConfigValueError),
    /// The internal topic could not be created.
    #[error("creating {TXN_TOPIC}: {0}")]
    Topic(#[source] Box<TopicError>),
    /// The topic exists without partition 0.
    #[error("{TXN_TOPIC} has no partition 0")]
    NoPartition,
    /// The state could not be replayed.
    #[error(transparent)]
    Replay(#[from] TxnStoreError),
}

/// Why InitProducerId was refused.
#[derive(Debug, thiserror::Error)]
pub enum InitProducerIdError {
    /// An empty transactional id (null means "not transactional").
    #[error("empty transactional id")]
    EmptyTransactionalId,
    /// The transaction state refuses the request.
    #[error(transparent)]
    Txn(#[from] TxnError),
    /// No producer id could be reserved.
    #[error(transparent)]
    ProducerIds(#[from] ProducerIdError),
    /// The state could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Why a transactional request other than InitProducerId was refused.
#[derive(Debug, thiserror::Error)]
pub enum TxnRequestError {
    /// The transaction state refuses the request.
    #[error(transparent)]
    Txn(#[from] TxnError),
    /// The state or a marker could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// A failed write of transaction state or markers.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing `__transaction_state` failed.
    #[error(transparent)]
    State(Box<TxnStoreError>),
    /// Writing a marker failed.
    #[error("writing a marker to {topic}-{partition}: {source}")]
    Marker {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What failed.
        #[source]
        source: Box<MarkerError>,
    },
    /// A new producer id was needed and could not be reserved.
    #[error(transparent)]
    ProducerIds(#[from] ProducerIdError),
}

impl From<TxnStoreError> for WriteError {
    fn from(e: TxnStoreError) -> Self {
        Self::State(Box::new(e))
    }
}

/// What InitProducerId asks for, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducer {
    /// The transactional id, `None` for an idempotent-only producer.
    pub transactional_id: Option<String>,
    /// The transaction timeout the producer wants.
    pub transaction_timeout_ms: i32,
    /// The producer id and epoch it holds (v3+, KIP-360), if any.
    pub current: Option<(i64, i16)>,
}

/// A producer id and epoch given to a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub epoch: i16,
}

/// A transactional producer's identity on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnProducer {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub epoch: i16,
}

/// One transactional id as DescribeTransactions and ListTransactions show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its metadata.
    pub metadata: TxnMetadata,
}

/// The transaction coordinator of this broker.
#[derive(Debug)]
pub struct TransactionCoordinator {
    /// Source of producer ids.
    producer_ids: ProducerIdAllocator,
    /// All topics, to write markers.
    topics: Arc<Topics>,
    /// Partition 0 of `__transaction_state`.
    log: Arc<Partition>,
    /// The state of every transactional id. Held across state writes and marker appends,
    /// which are local and short; never across an await.
    txns: Mutex<HashMap<String, TxnMetadata>>,
    /// Settings.
    config: TxnConfig,
    /// When expired transactional ids were last looked for (`i64::MIN`: never, so the
    /// first tick after start forgets those that expired while the broker was down).
    last_expiry_check_ms: AtomicI64,
}

impl TransactionCoordinator {
    /// Starts the coordinator: opens the producer id allocator in `data_dir`, finds or
    /// creates `__transaction_state` and replays it. Transactions left in a prepare state are
    /// finished by [`run`].
    pub fn start(
        data_dir: &std::path::Path,
        topics: &Arc<Topics>,
        config: TxnConfig,
    ) -> Result<Self, TxnBootError> {
        let topic = match topics.get(TXN_TOPIC) {
            Some(topic) => topic,
            None => {
                let settings = TopicConfig::from_overrides([("cleanup.policy", "compact")])
                    .map_err(TxnBootError::Config)?;
                topics
                    .create(TXN_TOPIC, 1, settings)
                    .map_err(|e| TxnBootError::Topic(Box::new(e)))?
            }
        };
        let log = topic.partition(0).ok_or(TxnBootError::NoPartition)?;
        let txns = store::replay(&log.log)?;
        if !txns.is_empty() {
            info!(transactional_ids = txns.len(), "loaded transaction state");
        }
        Ok(Self {
            producer_ids: ProducerIdAllocator::open(data_dir)?,
            topics: topics.clone(),
            log,
            txns: Mutex::new(txns),
            config,
            last_expiry_check_ms: AtomicI64::new(i64::MIN),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, TxnMetadata>> {
        self.txns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn persist(&self, id: &str, metadata: &TxnMetadata, now_ms: i64) -> Result<(), WriteError> {
        store::append(&self.log.log, id, Some(metadata), now_ms)?;
        Ok(())
    }

    /// Gives a producer its id and epoch. An idempotent producer always gets a fresh id with
    /// epoch 0, as Kafka does. A transactional one gets its id's next epoch, which fences
    /// older instances; an open transaction of theirs is aborted first.
    pub fn init_producer_id(
        &self,
        request: &InitProducer,
        now_ms: i64,
    ) -> Result<ProducerIdAndEpoch, InitProducerIdError> {
        let id = match request.transactional_id.as_deref() {
            None => {
                return Ok(ProducerIdAndEpoch {
                    producer_id: self.producer_ids.allocate()?,
                    epoch: 0,
                })
            }
            Some("") => return Err(InitProducerIdError::EmptyTransactionalId),
            Some(id) => id,
        };
        let timeout = request.transaction_timeout_ms;
        if timeout <= 0 || timeout > MAX_TIMEOUT_MS {
            return Err(TxnError::InvalidTransactionTimeout(timeout).into());
        }
        let mut txns = self.lock();
        let Some(current) = txns.get(id) else {
            let metadata = TxnMetadata::new(self.producer_ids.allocate()?, timeout, now_ms);
            self.persist(id, &metadata, now_ms)?;
            let given = ProducerIdAndEpoch {
                producer_id: metadata.producer_id,
                epoch: metadata.epoch,
            };
            txns.insert(id.to_string(), metadata);
            return Ok(given);
        };
        let mut metadata = current.clone();
        if let Some((producer_id, epoch)) = request.current {
            if !metadata.accepts_init_from(producer_id, epoch) {
                return Err(TxnError::ProducerFenced {
                    epoch,
                    current: metadata.epoch,
                }
                .into());
            }
            let is_retry = (producer_id, epoch) == (metadata.last_producer_id, metadata.last_epoch)
                && matches!(
                    metadata.state,
                    TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                );
            if is_retry {
                return Ok(ProducerIdAndEpoch {
                    producer_id: metadata.producer_id,
                    epoch: metadata.epoch,
                });
            }
        }
        if metadata.is_preparing() {
            return Err(TxnError::ConcurrentTransactions.into());
        }
        if metadata.state == TxnState::Ongoing {
            self.abort_fencing(id, &mut metadata, now_ms)?;
        }
        self.bump(&mut metadata)?;
        metadata.timeout_ms = timeout;
        metadata.state = TxnState::Empty;
        metadata.partitions.clear();
        metadata.groups.clear();
        metadata.pending_offsets.clear();
        metadata.txn_start_ms = -1;
        metadata.last_update_ms = now_ms;
        self.persist(id, &metadata, now_ms)?;
        let given = ProducerIdAndEpoch {
            producer_id: metadata.producer_id,
            epoch: metadata.epoch,
        };
        txns.insert(id.to_string(), metadata);
        Ok(given)
    }

    fn bump(&self, metadata: &mut TxnMetadata) -> Result<(), WriteError> {
        let mut failed = None;
        let bumped = metadata.bump_epoch(|| match self.producer_ids.allocate() {
            Ok(id) => Some(id),
            Err(e) => {
                failed = Some(e);
                None
            }
        });
        match (bumped, failed) {
            (Some(()), _) => Ok(()),
            (None, Some(e)) => Err(e.into()),
            (None, None) => Err(ProducerIdError::Exhausted.into()),
        }
    }

    /// Aborts an open transaction with a bumped epoch, so its producer can no longer write:
    /// a newer instance took over or it ran past its timeout.
    fn abort_fencing(
        &self,
        id: &str,
        metadata: &mut TxnMetadata,
        now_ms: i64,
    ) -> Result<(), WriteError> {
        self.bump(metadata)?;
        metadata.state = TxnState::PrepareAbort;
        metadata.last_update_ms = now_ms;
        self.persist(id, metadata, now_ms)?;
        self.write_markers(metadata, TxnOutcome::Abort, now_ms)?;
        self.complete(id, metadata, TxnOutcome::Abort, now_ms)
    }

    /// Writes the marker of `outcome` to every partition of the transaction.
    fn write_markers(
        &self,
        metadata: &TxnMetadata,
        outcome: TxnOutcome,
        now_ms: i64,
    ) -> Result<(), WriteError> {
        let marker = TxnMarker {
            producer_id: metadata.producer_id,
            producer_epoch: metadata.epoch,
            outcome,
            coordinator_epoch: COORDINATOR_EPOCH,
            timestamp: now_ms,
        };
        for (topic, index) in &metadata.partitions {
            // A topic deleted during the transaction has nothing left to mark.
            let Some(partition) = self.topics.get(topic).and_then(|t| t.partition(*index)) else {
                continue;
            };
            partition
                .append_marker(&marker, now_ms)
                .map_err(|source| WriteError::Marker {
                    topic: topic.clone(),
                    partition: *index,
                    source: Box::new(source),
                })?;
        }
        Ok(())
    }

    /// Records the completed state.
    fn complete(
        &self,
        id: &str,
        metadata: &mut TxnMetadata,
        outcome: TxnOutcome,
        now_ms: i64,
    ) -> Result<(), WriteError> {
        metadata.state = match outcome {
            TxnOutcome::Commit => TxnState::CompleteCommit,
            TxnOutcome::Abort => TxnState::CompleteAbort,
        };
        metadata.partitions.clear();
        metadata.groups.clear();
        metadata.pending_offsets.clear();
        metadata.txn_start_ms = -1;
        metadata.last_update_ms = now_ms;
        self.persist(id, metadata, now_ms)
    }

    /// Runs `change` on the checked metadata of `producer` and persists the result.
    fn update(
        &self,
        producer: &TxnProducer,
        now_ms: i64,
        change: impl FnOnce(&mut TxnMetadata) -> Result<(), TxnError>,
    ) -> Result<(), TxnRequestError> {
        let mut txns = self.lock();
        let current =
            txns.get(&producer.transactional_id)
                .ok_or(TxnError::InvalidProducerIdMapping {
                    producer_id: producer.producer_id,
                    current: -1,
                })?;
        current.check_producer(producer.producer_id, producer.epoch)?;
        let mut metadata = current.clone();
        change(&mut metadata)?;
        self.persist(&producer.transactional_id, &metadata, now_ms)?;
        txns.insert(producer.transactional_id.clone(), metadata);
        Ok(())
    }

    /// AddPartitionsToTxn: the partitions join the transaction, opening it if needed.
    pub fn add_partitions(
        &self,
        producer: &TxnProducer,
        partitions: Vec<TopicPartition>,
        now_ms: i64,
    ) -> Result<(), TxnRequestError> {
        self.update(producer, now_ms, |m| m.add(partitions, None, now_ms))
    }

    /// Whether the partitions are in the producer's open transaction (AddPartitionsToTxn v4
    /// `verify_only`).
    pub fn verify_partitions(
        &self,
        producer: &TxnProducer,
        partitions: &[TopicPartition],
    ) -> Result<Vec<bool>, TxnRequestError> {
        let txns = self.lock();
        let metadata =
            txns.get(&producer.transactional_id)
                .ok_or(TxnError::InvalidProducerIdMapping {
                    producer_id: producer.producer_id,
                    current: -1,
                })?;
        metadata.check_producer(producer.producer_id, producer.epoch)?;
        Ok(partitions
            .iter()
            .map(|p| metadata.state == TxnState::Ongoing && metadata.partitions.contains(p))
            .collect())
    }

    /// AddOffsetsToTxn: the group's offsets may be committed in the transaction.
    pub fn add_offsets(
        &self,
        producer: &TxnProducer,
        group_id: String,
        now_ms: i64,
    ) -> Result<(), TxnRequestError> {
        self.update(producer, now_ms, |m| m.add([], Some(group_id), now_ms))
    }

    /// TxnOffsetCommit: parks offsets in the transaction; the group sees them on commit.
    pub fn commit_offsets(
        &self,
        producer: &TxnProducer,
        offsets: Vec<PendingOffset>,
        now_ms: i64,
    ) -> Result<(), TxnRequestError> {
        self.update(producer, now_ms, |m| {
            if m.state != TxnState::Ongoing
                || offsets.iter().any(|o| !m.groups.contains(&o.group_id))
            {
                return Err(TxnError::InvalidTxnState(m.state));
            }
            for o in offsets {
                m.pending_offsets
                    .retain(|p| !(p.group_id == o.group_id && p.partition == o.partition));
                m.pending_offsets.push(o);
            }
            m.last_update_ms = now_ms;
            Ok(())
        })
    }

    /// EndTxn: commits or aborts the open transaction (a retry of the completion that
    /// happened succeeds again).
    pub async fn end(
        &self,
        groups: &crate::group::GroupCoordinator,
        producer: &TxnProducer,
        commit: bool,
        now_ms: i64,
    ) -> Result<(), TxnRequestError> {
        let outcome = if commit {
            TxnOutcome::Commit
        } else {
            TxnOutcome::Abort
        };
        let prepared = {
            let mut txns = self.lock();
            let current =
                txns.get(&producer.transactional_id)
                    .ok_or(TxnError::InvalidProducerIdMapping {
                        producer_id: producer.producer_id,
                        current: -1,
                    })?;
            current.check_producer(producer.producer_id, producer.epoch)?;
            if !current.end(commit)? {
                return Ok(());
            }
            let mut metadata = current.clone();
            metadata.state = if commit {
                TxnState::PrepareCommit
            } else {
                TxnState::PrepareAbort
            };
            metadata.last_update_ms = now_ms;
            self.persist(&producer.transactional_id, &metadata, now_ms)?;
            txns.insert(producer.transactional_id.clone(), metadata.clone());
            metadata
        };
        self.finish(
            groups,
            &producer.transactional_id,
            prepared,
            outcome,
            now_ms,
        )
        .await?;
        Ok(())
    }

    /// Finishes a prepared transaction: markers, offsets (on commit), complete state.
    async fn finish(
        &self,
        groups: &crate::group::GroupCoordinator,
        id: &str,
        mut metadata: TxnMetadata,
        outcome: TxnOutcome,
        now_ms: i64,
    ) -> Result<(), WriteError> {
        self.write_markers(&metadata, outcome, now_ms)?;
        if outcome == TxnOutcome::Commit {
            materialise_offsets(groups, &metadata.pending_offsets).await;
        }
        let mut txns = self.lock();
        // Only this task moves a prepared transaction on; anyone else got
        // CONCURRENT_TRANSACTIONS meanwhile.
        self.complete(id, &mut metadata, outcome, now_ms)?;
        txns.insert(id.to_string(), metadata);
        Ok(())
    }

    /// One pass of the background work: abort timed-out transactions and finish prepared
    /// ones (left by a crash or a failed marker write).
    pub async fn tick(&self, groups: &crate::group::GroupCoordinator, now_ms: i64) {
        let due: Vec<(String, TxnMetadata)> = self
            .lock()
            .iter()
            .filter(|(_, m)| m.timed_out(now_ms) || m.is_preparing())
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect();
        for (id, metadata) in due {
            let result = match metadata.state {
                TxnState::PrepareCommit => {
                    self.finish(groups, &id, metadata, TxnOutcome::Commit, now_ms)
                        .await
                }
                TxnState::PrepareAbort => {
                    self.finish(groups, &id, metadata, TxnOutcome::Abort, now_ms)
                        .await
                }
                _ => self.abort_timed_out(&id, now_ms),
            };
            if let Err(e) = result {
                warn!(transactional_id = %id, error = %e, "completing a transaction failed; will retry");
            }
        }
        let expiration = self.config.transactional_id_expiration_ms;
        let last_check = self.last_expiry_check_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last_check) >= expiration.min(EXPIRY_CHECK_INTERVAL_MS) {
            self.last_expiry_check_ms.store(now_ms, Ordering::Relaxed);
            if let Err(e) = self.expire_transactional_ids(now_ms) {
                warn!(error = %e, "expiring transactional ids failed; will retry");
            }
        }
    }

    /// Forgets the transactional ids that expired at `now_ms` (see [`TxnMetadata::expired`]),
    /// writing their tombstones to `__transaction_state` first so a restart does not bring
    /// them back. Returns the ids forgotten, sorted; on a failed write, none is forgotten.
    pub fn expire_transactional_ids(&self, now_ms: i64) -> Result<Vec<String>, WriteError> {
        let expiration = self.config.transactional_id_expiration_ms;
        let mut txns = self.lock();
        let mut expired: Vec<String> = txns
            .iter()
            .filter(|(_, m)| m.expired(now_ms, expiration))
            .map(|(id, _)| id.clone())
            .collect();
        if expired.is_empty() {
            return Ok(expired);
        }
        expired.sort();
        store::forget(&self.log.log, expired.iter().map(String::as_str), now_ms)?;
        for id in &expired {
            txns.remove(id);
        }
        info!(
            count = expired.len(),
            "forgot transactional ids idle past transactional.id.expiration.ms"
        );
        Ok(expired)
    }

    fn abort_timed_out(&self, id: &str, now_ms: i64) -> Result<(), WriteError> {
        let mut txns = self.lock();
        // Checked again under the lock: the producer may have ended it meanwhile.
        let Some(mut metadata) = txns.get(id).filter(|m| m.timed_out(now_ms)).cloned() else {
            return Ok(());
        };
        info!(transactional_id = %id, producer_id = metadata.producer_id, "aborting a timed-out transaction");
        let result = self.abort_fencing(id, &mut metadata, now_ms);
        txns.insert(id.to_string(), metadata);
        result
    }

    /// Every transactional id with its state (ListTransactions, DescribeTransactions).
    pub fn list(&self) -> Vec<TxnListing> {
        let mut all: Vec<TxnListing> = self
            .lock()
            .iter()
            .map(|(id, m)| TxnListing {
                transactional_id: id.clone(),
                metadata: m.clone(),
            })
            .collect();
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        all
    }

    /// One transactional id's state.
    pub fn describe(&self, transactional_id: &str) -> Option<TxnMetadata> {
        self.lock().get(transactional_id).cloned()
    }
}

/// Hands committed transactional offsets to the group coordinator, group by group.
async fn materialise_offsets(groups: &crate::group::GroupCoordinator, offsets: &[PendingOffset]) {
    let mut by_group: Vec<(&PendingOffset, Vec<OffsetToCommit>)> = Vec::new();
    for o in offsets {
        let commit = OffsetToCommit {
            partition: GroupTp {
                topic: o.partition.0.clone(),
                partition: o.partition.1,
            },
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata.clone(),
        };
        match by_group.iter_mut().find(|(g, _)| g.group_id == o.group_id) {
            Some((_, list)) => list.push(commit),
            None => by_group.push((o, vec![commit])),
        }
    }
    for (first, offsets) in by_group {
        let results = groups
            .commit_transactional(first.group_id.clone(), offsets)
            .await;
        for (partition, error) in results {
            if let Some(e) = error {
                warn!(group = %first.group_id, topic = %partition.topic, partition = partition.partition, error = ?e, "writing a committed transaction's offset failed");
            }
        }
    }
}

/// The coordinator's background task: every half second, aborts timed-out transactions and
/// finishes prepared ones, until `stopped` turns true.
pub async fn run(broker: Arc<crate::broker::Broker>, mut stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(CHECK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        broker
            .transactions
            .tick(&broker.groups, crate::clock::now_ms())
            .await;
    }
}

#[cfg(test)]
mod tests;
