//! The registry of topics and their partitions: create, look up by name or id, alter, delete,
//! and reload everything from the data directory at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use fjord_storage::{CleanupPolicy, FlushPolicy, LogConfig, PageCacheBudget};
use tracing::{info, warn};
use uuid::Uuid;

use crate::partition::Partition;
use crate::topic_config::TopicConfig;
use crate::topic_name::{collision_key, validate_topic_name, InvalidTopicName};
use crate::topic_store::{TopicRecord, TopicStore, TopicStoreError};

/// Why a topic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// A topic of that name exists.
    #[error("topic {0} already exists")]
    AlreadyExists(String),
    /// The name breaks Kafka's rules or collides with another through `.`/`_`.
    #[error(transparent)]
    InvalidName(#[from] InvalidTopicName),
    /// The name differs from an existing topic's only by `.` versus `_`.
    #[error("topic {name} collides with existing topic {existing}")]
    Collides {
        /// The new name.
        name: String,
        /// The existing one.
        existing: String,
    },
    /// No such topic.
    #[error("unknown topic {0}")]
    Unknown(String),
    /// A partition count below one, or a decrease.
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    /// The topic metadata could not be written.
    #[error(transparent)]
    Store(#[from] TopicStoreError),
    /// A partition log could not be opened.
    #[error("opening partition {partition} of {topic}: {source}")]
    Log {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The storage error.
        #[source]
        source: crate::partition::PartitionOpenError,
    },
}

/// A topic: its identity, settings and partitions.
#[derive(Debug)]
pub struct Topic {
    /// The topic's name.
    pub name: String,
    /// Its id, stable across restarts.
    pub id: Uuid,
    config: RwLock<Arc<TopicConfig>>,
    partitions: RwLock<Arc<[Arc<Partition>]>>,
}

impl Topic {
    /// Its settings as of now.
    pub fn config(&self) -> Arc<TopicConfig> {
        self.config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Its partitions as of now.
    pub fn partitions(&self) -> Arc<[Arc<Partition>]> {
        self.partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// One partition by index.
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions().get(i).cloned())
    }

    fn record(&self) -> TopicRecord {
        TopicRecord {
            name: self.name.clone(),
            id: self.id,
            partitions: i32::try_from(self.partitions().len()).unwrap_or(i32::MAX),
            config: (*self.config()).clone(),
        }
    }
}

/// Translates topic settings into the log's.
pub fn log_config(config: &TopicConfig) -> LogConfig {
    let policy = match (config.is_compacted(), config.deletes()) {
        (true, true) => CleanupPolicy::CompactDelete,
        (true, false) => CleanupPolicy::Compact,
        _ => CleanupPolicy::Delete,
    };
    LogConfig {
        segment_bytes: u64::try_from(config.long("segment.bytes")).unwrap_or(1 << 30),
        segment_ms: config.long("segment.ms"),
        retention_ms: config.long("retention.ms"),
        retention_bytes: config.long("retention.bytes"),
        cleanup_policy: policy,
        delete_retention_ms: config.long("delete.retention.ms"),
        index_interval_bytes: u32::try_from(config.long("index.interval.bytes")).unwrap_or(4096),
        segment_index_bytes: u32::try_from(config.long("segment.index.bytes")).unwrap_or(10 << 20),
        max_message_bytes: u32::try_from(config.max_message_bytes()).unwrap_or(u32::MAX),
        flush: FlushPolicy {
            // Kafka's default of Long.MAX_VALUE for both means "never forced".
            messages: u64::try_from(config.long("flush.messages"))
                .ok()
                .filter(|&n| n < i64::MAX as u64),
            interval_ms: Some(config.long("flush.ms")).filter(|&ms| ms < i64::MAX),
            ..FlushPolicy::default()
        },
        ..LogConfig::default()
    }
}

/// Broker-wide settings that every partition log takes on top of its topic's configs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogDefaults {
    /// `--fsync-before-ack`: every append is fsynced (concurrent appends share one fsync)
    /// before it is acknowledged.
    pub sync_before_ack: bool,
    /// `--page-cache-bytes`, shared by every log; `None` leaves eviction to the kernel.
    pub page_cache: Option<Arc<PageCacheBudget>>,
}

impl LogDefaults {
    fn apply(&self, mut config: LogConfig) -> LogConfig {
        config.flush.sync_before_ack = self.sync_before_ack;
        config.page_cache.clone_from(&self.page_cache);
        config
    }
}

#[derive(Debug, Default)]
struct Index {
    by_name: HashMap<String, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
    by_collision_key: HashMap<String, String>,
}

impl Index {
    fn insert(&mut self, topic: Arc<Topic>) {
        self.by_collision_key
            .insert(collision_key(&topic.name), topic.name.clone());
        self.by_id.insert(topic.id, topic.clone());
        self.by_name.insert(topic.name.clone(), topic);
    }
}

/// All topics of this broker.
#[derive(Debug)]
pub struct Topics {
    data_dir: PathBuf,
    store: TopicStore,
    index: RwLock<Index>,
    /// Broker-wide log settings.
    log_defaults: LogDefaults,
}

fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{partition}"))
}

impl Topics {
    /// Loads every stored topic and opens (recovering) its partition logs, with Kafka's
    /// defaults (written to the OS before acknowledging, page cache left to the kernel).
    pub fn load(data_dir: &Path) -> Result<Self, TopicError> {
        Self::open(data_dir, LogDefaults::default())
    }

    /// Like [`Topics::load`], every log with the broker-wide `log_defaults`.
    pub fn open(data_dir: &Path, log_defaults: LogDefaults) -> Result<Self, TopicError> {
        let store = TopicStore::open(data_dir)?;
        let mut index = Index::default();
        for record in store.load_all()? {
            let config = log_defaults.apply(log_config(&record.config));
            let partitions = (0..record.partitions)
                .map(|p| open_partition(data_dir, &record.name, p, config.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            info!(topic = %record.name, partitions = record.partitions, "loaded topic");
            index.insert(Arc::new(Topic {
                name: record.name,
                id: record.id,
                config: RwLock::new(Arc::new(record.config)),
                partitions: RwLock::new(partitions.into()),
            }));
        }
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            store,
            index: RwLock::new(index),
            log_defaults,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A topic by name.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.read().by_name.get(name).cloned()
    }

    /// A topic by id.
    pub fn get_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.read().by_id.get(id).cloned()
    }

    /// Every topic, sorted by name.
    pub fn list(&self) -> Vec<Arc<Topic>> {
        let mut topics: Vec<_> = self.read().by_name.values().cloned().collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        topics
    }

    /// Checks that a topic could be created, without creating it (CreateTopics validate-only).
    pub fn check_new(&self, name: &str, partitions: i32) -> Result<(), TopicError> {
        validate_topic_name(name)?;
        if partitions < 1 {
            return Err(TopicError::InvalidPartitions(partitions));
        }
        let index = self.read();
        if index.by_name.contains_key(name) {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        if let Some(existing) = index.by_collision_key.get(&collision_key(name)) {
            return Err(TopicError::Collides {
                name: name.to_string(),
                existing: existing.clone(),
            });
        }
        Ok(())
    }

    /// Creates a topic with its partitions' logs and stores its metadata.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<Arc<Topic>, TopicError> {
        self.check_new(name, partitions)?;
        let mut index = self.write();
        // Checked again under the write lock: another request may have created it meanwhile.
        if let Some(existing) = index.by_collision_key.get(&collision_key(name)) {
            return Err(if existing == name {
                TopicError::AlreadyExists(name.to_string())
            } else {
                TopicError::Collides {
                    name: name.to_string(),
                    existing: existing.clone(),
                }
            });
        }
        let log_config = self.log_defaults.apply(log_config(&config));
        let opened = (0..partitions)
            .map(|p| open_partition(&self.data_dir, name, p, log_config.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id: Uuid::new_v4(),
            config: RwLock::new(Arc::new(config)),
            partitions: RwLock::new(opened.into()),
        });
        self.store.save(&topic.record())?;
        index.insert(topic.clone());
        info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Replaces a topic's settings and applies them to its logs.
    pub fn alter_config(&self, name: &str, config: TopicConfig) -> Result<(), TopicError> {
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        let log_config = self.log_defaults.apply(log_config(&config));
        let mut record = topic.record();
        record.config = config.clone();
        self.store.save(&record)?;
        *topic
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
        for partition in topic.partitions().iter() {
            partition.log.set_config(log_config.clone());
        }
        Ok(())
    }

    /// Grows a topic to `count` partitions: opens the new partitions' logs, stores the new
    /// count, then publishes the longer partition list. Shrinking or keeping the count is
    /// refused, as Kafka cannot move records between partitions.
    pub fn create_partitions(&self, name: &str, count: i32) -> Result<Arc<Topic>, TopicError> {
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
        // One writer at a time, so two requests cannot both add partition N.
        let _index = self.write();
        let current = topic.partitions();
        let have = i32::try_from(current.len()).unwrap_or(i32::MAX);
        if count <= have {
            return Err(TopicError::InvalidPartitions(count));
        }
        let log_config = self.log_defaults.apply(log_config(&topic.config()));
        let added = (have..count)
            .map(|p| open_partition(&self.data_dir, name, p, log_config.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut record = topic.record();
        record.partitions = count;
        self.store.save(&record)?;
        let grown: Vec<Arc<Partition>> = current.iter().cloned().chain(added).collect();
        *topic
            .partitions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = grown.into();
        info!(topic = name, from = have, to = count, "added partitions");
        Ok(topic)
    }

    /// Deletes a topic: forgets it, removes its metadata, then its partition directories.
    pub fn delete(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        let topic = {
            let mut index = self.write();
            let topic = index
                .by_name
                .remove(name)
                .ok_or_else(|| TopicError::Unknown(name.to_string()))?;
            index.by_id.remove(&topic.id);
            index.by_collision_key.remove(&collision_key(name));
            topic
        };
        self.store.remove(name)?;
        for p in 0..topic.partitions().len() {
            let dir = partition_dir(&self.data_dir, name, i32::try_from(p).unwrap_or(i32::MAX));
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                warn!(dir = %dir.display(), error = %e, "could not remove a deleted partition's directory");
            }
        }
        info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Flushes every partition log (at shutdown).
    pub fn flush_all(&self) {
        for topic in self.list() {
            for partition in topic.partitions().iter() {
                if let Err(e) = partition.flush() {
                    warn!(topic = %topic.name, partition = partition.index, error = %e, "flush failed");
                }
            }
        }
    }
}

fn open_partition(
    data_dir: &Path,
    topic: &str,
    partition: i32,
    config: LogConfig,
) -> Result<Arc<Partition>, TopicError> {
    Partition::open(
        partition,
        &partition_dir(data_dir, topic, partition),
        config,
    )
    .map(Arc::new)
    .map_err(|source| TopicError::Log {
        topic: topic.to_string(),
        partition,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_settings_reach_the_log_only_when_set() {
        assert_eq!(
            log_config(&TopicConfig::default()).flush,
            FlushPolicy::default()
        );
        let config =
            TopicConfig::from_overrides([("flush.messages", "1"), ("flush.ms", "250")]).unwrap();
        let flush = log_config(&config).flush;
        assert_eq!(flush.messages, Some(1));
        assert_eq!(flush.interval_ms, Some(250));
    }

    #[test]
    fn broker_log_defaults_reach_every_log() {
        let dir = tempfile::tempdir().unwrap();
        let defaults = LogDefaults {
            sync_before_ack: true,
            page_cache: Some(PageCacheBudget::new(1 << 30)),
        };
        let has = |topic: &Topic, expected: &LogDefaults| {
            topic.partitions().iter().all(|p| {
                let config = p.log.config();
                config.flush.sync_before_ack == expected.sync_before_ack
                    && config.page_cache == expected.page_cache
            })
        };
        {
            let topics = Topics::open(dir.path(), defaults.clone()).unwrap();
            let created = topics.create("durable", 2, TopicConfig::default()).unwrap();
            assert!(has(&created, &defaults));
            // The two partitions share the budget: 512 MiB each, capped at 64 MiB.
            assert_eq!(defaults.page_cache.as_ref().unwrap().window(), 64 << 20);
        }
        let reloaded = Topics::open(dir.path(), defaults.clone()).unwrap();
        let topic = reloaded.get("durable").unwrap();
        assert!(has(&topic, &defaults));
        drop((topic, reloaded));
        let default = Topics::load(dir.path()).unwrap();
        let topic = default.get("durable").unwrap();
        assert!(has(&topic, &LogDefaults::default()));
    }

    #[test]
    fn topics_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let topics = Topics::load(dir.path()).unwrap();
            let config = TopicConfig::from_overrides([("retention.ms", "1000")]).unwrap();
            topics.create("orders", 3, config).unwrap().id
        };
        let topics = Topics::load(dir.path()).unwrap();
        let topic = topics.get("orders").unwrap();
        assert_eq!(topic.id, id);
        assert_eq!(topic.partitions().len(), 3);
        assert_eq!(topic.config().get("retention.ms"), Some(("1000", true)));
        assert!(topics.get_by_id(&id).is_some());
    }

    #[test]
    fn create_refuses_duplicates_and_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::load(dir.path()).unwrap();
        topics.create("a.b", 1, TopicConfig::default()).unwrap();
        assert!(matches!(
            topics.create("a.b", 1, TopicConfig::default()),
            Err(TopicError::AlreadyExists(_))
        ));
        assert!(matches!(
            topics.create("a_b", 1, TopicConfig::default()),
            Err(TopicError::Collides { .. })
        ));
        assert!(matches!(
            topics.create("bad/name", 1, TopicConfig::default()),
            Err(TopicError::InvalidName(_))
        ));
        assert!(matches!(
            topics.create("zero", 0, TopicConfig::default()),
            Err(TopicError::InvalidPartitions(0))
        ));
    }

    #[test]
    fn create_partitions_grows_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::load(dir.path()).unwrap();
        topics.create("grow", 2, TopicConfig::default()).unwrap();
        assert!(matches!(
            topics.create_partitions("grow", 2),
            Err(TopicError::InvalidPartitions(2))
        ));
        assert!(matches!(
            topics.create_partitions("grow", 1),
            Err(TopicError::InvalidPartitions(1))
        ));
        assert!(matches!(
            topics.create_partitions("nope", 3),
            Err(TopicError::Unknown(_))
        ));
        let topic = topics.create_partitions("grow", 5).unwrap();
        assert_eq!(topic.partitions().len(), 5);
        assert_eq!(topic.partition(4).unwrap().index, 4);
        assert!(dir.path().join("grow-4").exists());
        let reloaded = Topics::load(dir.path()).unwrap();
        assert_eq!(reloaded.get("grow").unwrap().partitions().len(), 5);
    }

    #[test]
    fn delete_forgets_the_topic_and_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::load(dir.path()).unwrap();
        let id = topics.create("gone", 2, TopicConfig::default()).unwrap().id;
        topics.delete("gone").unwrap();
        assert!(topics.get("gone").is_none());
        assert!(topics.get_by_id(&id).is_none());
        assert!(!dir.path().join("gone-0").exists());
        assert!(Topics::load(dir.path()).unwrap().get("gone").is_none());
    }
}
