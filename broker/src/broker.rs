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

impl Broker {
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
