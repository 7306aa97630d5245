//! The state every connection shares: configuration, identity and the topic registry.

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::topic_config::TopicConfig;
use crate::topics::{Topic, TopicError, Topics};
use std::sync::Arc;

/// The broker's shared state.
#[derive(Debug)]
pub struct Broker {
    /// Resolved configuration.
    pub config: Config,
    /// The locked data directory and the cluster id stored in it.
    pub data_dir: DataDir,
    /// Host and port given to clients in Metadata.
    pub advertised: (String, u16),
    /// All topics (shared with the background maintenance task).
    pub topics: Arc<Topics>,
    /// The consumer group coordinator.
    pub groups: crate::group::GroupCoordinator,
    /// The transaction coordinator (also the source of idempotent producers' ids).
    pub transactions: crate::txn::TransactionCoordinator,
    /// Open incremental fetch sessions (KIP-227).
    pub fetch_sessions: crate::fetch_session::FetchSessionCache,
}

/// Why the broker's state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory is unusable (locked, another cluster's, unreadable).
    #[error(transparent)]
    DataDir(#[from] crate::data_dir::DataDirError),
    /// A topic or its logs could not be loaded.
    #[error("loading topics: {0}")]
    Topics(#[source] TopicError),
    /// The group coordinator could not load its state.
    #[error("starting the group coordinator: {0}")]
    Groups(#[source] crate::group::boot::BootError),
    /// The transaction coordinator could not load its state.
    #[error("starting the transaction coordinator: {0}")]
    Transactions(#[source] crate::txn::TxnBootError),
}

impl Broker {
    /// Opens the data directory, loads every log and starts the coordinators: everything but
    /// the listener. Must run inside a tokio runtime (the coordinators spawn tasks).
    pub fn open(config: Config, advertised: (String, u16)) -> Result<Self, OpenError> {
        let data_dir = DataDir::open(
            &config.data_dir,
            config.node_id,
            config.cluster_id.as_deref(),
        )?;
        let topics = Arc::new(
            Topics::open(&data_dir.path, config.log_defaults()).map_err(OpenError::Topics)?,
        );
        let groups =
            crate::group::boot::start(&topics, config.groups.clone(), crate::clock::now_ms())
                .map_err(OpenError::Groups)?;
        let transactions = crate::txn::TransactionCoordinator::start(
            &data_dir.path,
            &topics,
            config.transactions.clone(),
        )
        .map_err(OpenError::Transactions)?;
        Ok(Self {
            config,
            data_dir,
            advertised,
            topics,
            groups,
            transactions,
            fetch_sessions: crate::fetch_session::FetchSessionCache::default(),
        })
    }

    /// This broker's node id.
    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.data_dir.cluster_id
    }

    /// A topic by name, created with the defaults if it does not exist and auto-creation is on
    /// (and the caller allows it). `Ok(None)` means unknown and not created.
    pub fn topic_or_create(
        &self,
        name: &str,
        allow_create: bool,
    ) -> Result<Option<Arc<Topic>>, TopicError> {
        if let Some(topic) = self.topics.get(name) {
            return Ok(Some(topic));
        }
        if !(allow_create && self.config.auto_create_topics) {
            return Ok(None);
        }
        match self
            .topics
            .create(name, self.config.default_partitions, TopicConfig::default())
        {
            Ok(topic) => Ok(Some(topic)),
            // Another request created it between our look-up and our create.
            Err(TopicError::AlreadyExists(_)) => Ok(self.topics.get(name)),
            Err(e) => Err(e),
        }
    }
}
