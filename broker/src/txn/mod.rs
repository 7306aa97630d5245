//! The transaction coordinator: producer ids for idempotent producers and, for transactional
//! ones, the state of each transactional id.
//!
//! - [`crate::producer_ids`]: the durable producer id allocator it hands ids out from.

use std::path::Path;

use crate::producer_ids::{ProducerIdAllocator, ProducerIdError};

/// Why the coordinator could not start.
#[derive(Debug, thiserror::Error)]
pub enum TxnBootError {
    /// The producer id allocator could not be opened.
    #[error("opening the producer id allocator: {0}")]
    ProducerIds(#[from] ProducerIdError),
}

/// Why InitProducerId was refused.
#[derive(Debug, thiserror::Error)]
pub enum InitProducerIdError {
    /// An empty transactional id (null means "not transactional").
    #[error("empty transactional id")]
    EmptyTransactionalId,
    /// Transactions are not served yet.
    #[error("transactional id {0:?}: transactions are not supported")]
    TransactionsUnsupported(String),
    /// No producer id could be reserved.
    #[error(transparent)]
    ProducerIds(#[from] ProducerIdError),
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

/// The transaction coordinator of this broker.
#[derive(Debug)]
pub struct TransactionCoordinator {
    /// Source of producer ids.
    producer_ids: ProducerIdAllocator,
}

impl TransactionCoordinator {
    /// Starts the coordinator on the data directory `data_dir`.
    pub fn start(data_dir: &Path) -> Result<Self, TxnBootError> {
        Ok(Self {
            producer_ids: ProducerIdAllocator::open(data_dir)?,
        })
    }

    /// Gives a producer its id and epoch. An idempotent producer always gets a fresh id with
    /// epoch 0, as Kafka does, even when it names the id it had (it then starts its
    /// sequences over with no risk of colliding with its old batches).
    pub fn init_producer_id(
        &self,
        request: &InitProducer,
    ) -> Result<ProducerIdAndEpoch, InitProducerIdError> {
        match request.transactional_id.as_deref() {
            None => Ok(ProducerIdAndEpoch {
                producer_id: self.producer_ids.allocate()?,
                epoch: 0,
            }),
            Some("") => Err(InitProducerIdError::EmptyTransactionalId),
            Some(id) => Err(InitProducerIdError::TransactionsUnsupported(id.to_string())),
        }
    }
}
