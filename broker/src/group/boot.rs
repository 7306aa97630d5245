//! Starting the coordinator at broker start: find (or create) `__consumer_offsets`, replay
//! it, and start the runtime on its partition.

use super::runtime::GroupCoordinator;
use super::store::{replay, StoreError, OFFSETS_TOPIC};
use super::GroupConfig;
use crate::topic_config::{ConfigValueError, TopicConfig};
use crate::topics::{TopicError, Topics};

/// Why the coordinator could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The internal topic's settings were refused.
    #[error("configuring {OFFSETS_TOPIC}: {0}")]
    Config(#[source] ConfigValueError),
    /// The internal topic could not be created.
    #[error("creating {OFFSETS_TOPIC}: {0}")]
    Topic(#[source] TopicError),
    /// The topic exists without partition 0.
    #[error("{OFFSETS_TOPIC} has no partition 0")]
    NoPartition,
    /// The log could not be replayed.
    #[error(transparent)]
    Replay(#[from] StoreError),
}

/// Opens `__consumer_offsets` (one compacted partition on a single node), replays it and
/// starts the coordinator. Call after topics are loaded, inside the tokio runtime.
pub fn start(
    topics: &Topics,
    config: GroupConfig,
    now_ms: i64,
) -> Result<GroupCoordinator, BootError> {
    let topic = match topics.get(OFFSETS_TOPIC) {
        Some(topic) => topic,
        None => {
            let settings = TopicConfig::from_overrides([("cleanup.policy", "compact")])
                .map_err(BootError::Config)?;
            topics
                .create(OFFSETS_TOPIC, 1, settings)
                .map_err(BootError::Topic)?
        }
    };
    let partition = topic.partition(0).ok_or(BootError::NoPartition)?;
    let replayed = replay(&partition.log)?;
    Ok(GroupCoordinator::start(config, partition, replayed, now_ms))
}
