//! Background log maintenance: rolls segments by age, enforces retention, compacts
//! compacted topics and forgets idle producers, on a fixed interval (Kafka's
//! `log.retention.check.interval.ms`).
//!
//! The work is file I/O, so each round runs on the blocking pool; appends and reads go on
//! meanwhile because the logs take `&self` for all of it.
//!
//! Producer expiry lives here rather than on the append path so that a partition nobody
//! writes to any more is pruned too: that is exactly the partition whose producers are idle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};

use crate::clock::now_ms;
use crate::config::Config;
use crate::topics::Topics;

/// What the maintenance task takes from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceConfig {
    /// Time between rounds (`log.retention.check.interval.ms`).
    pub interval: Duration,
    /// How long a partition keeps an idle producer's state (`producer.id.expiration.ms`).
    pub producer_id_expiration_ms: i64,
}

impl MaintenanceConfig {
    /// The maintenance settings of the broker configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            interval: Duration::from_millis(config.log_retention_check_interval_ms),
            producer_id_expiration_ms: config.producer_id_expiration_ms,
        }
    }
}

/// Forgets, in every partition, producers idle past the expiration as of `now`. In memory
/// only: cheap enough to run at start as well as in every round.
pub fn expire_producers(topics: &Topics, config: &MaintenanceConfig, now: i64) {
    for topic in topics.list() {
        for partition in topic.partitions().iter() {
            let removed = partition.expire_producers(now, config.producer_id_expiration_ms);
            if removed > 0 {
                debug!(topic = %topic.name, partition = partition.index, removed, "expired idle producers");
            }
        }
    }
}

/// Runs one maintenance round over every partition.
pub fn run_once(topics: &Topics, config: &MaintenanceConfig, now: i64) {
    expire_producers(topics, config, now);
    for topic in topics.list() {
        let compacts = topic.config().is_compacted();
        for partition in topic.partitions().iter() {
            match partition.log.maintain(now) {
                Ok(report) => {
                    debug!(topic = %topic.name, partition = partition.index, ?report, "maintained");
                }
                Err(e) => {
                    warn!(topic = %topic.name, partition = partition.index, error = %e, "log maintenance failed");
                }
            }
            if compacts {
                if let Err(e) = partition.log.compact(now) {
                    warn!(topic = %topic.name, partition = partition.index, error = %e, "compaction failed");
                }
            }
        }
    }
}

/// Runs maintenance every `config.interval` until `shutdown` turns true.
pub async fn run(
    topics: Arc<Topics>,
    config: MaintenanceConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    // Producer state loaded from snapshots may hold producers that expired while the broker
    // was down; forget them now rather than a whole interval later.
    expire_producers(&topics, &config, now_ms());
    let mut ticks = tokio::time::interval(config.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick fires at once; skip it so start-up is not slowed by a full round.
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => return,
        }
        let topics = topics.clone();
        if let Err(e) =
            tokio::task::spawn_blocking(move || run_once(&topics, &config, now_ms())).await
        {
            warn!(error = %e, "log maintenance round panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic_config::TopicConfig;
    use fjord_protocol::records::validate::{validate_batches, ValidationLimits};
    use fjord_protocol::records::RecordBatchBuilder;
    use fjord_storage::testing::BatchSpec;

    use crate::partition::Partition;

    /// A day, as `producer.id.expiration.ms` defaults to.
    const DAY_MS: i64 = 86_400_000;

    fn config_for_tests() -> MaintenanceConfig {
        MaintenanceConfig {
            interval: Duration::from_secs(300),
            producer_id_expiration_ms: DAY_MS,
        }
    }

    /// Appends one record of idempotent producer `producer_id` at sequence `sequence`,
    /// stamped `timestamp` (the producer's last activity as the partition sees it).
    fn produce(partition: &Partition, producer_id: i64, sequence: i32, timestamp: i64) {
        let mut builder = RecordBatchBuilder::new().producer(producer_id, 0, sequence);
        builder.push(timestamp, None, Some(b"v".to_vec().into()), Vec::new());
        let bytes = builder.build().unwrap();
        let summary = validate_batches(&bytes, &ValidationLimits::default())
            .unwrap()
            .batches
            .remove(0);
        let options = fjord_storage::AppendOptions {
            leader_epoch: 0,
            log_append_time: None,
            now_ms: timestamp,
        };
        partition
            .append_produced(&bytes, &summary, &options)
            .unwrap();
    }

    fn producer_ids(partition: &Partition) -> Vec<i64> {
        let mut ids: Vec<i64> = partition
            .producers()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn idle_producers_expire_in_every_partition_and_active_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::load(dir.path()).unwrap();
        let topic = topics.create("idem", 2, TopicConfig::default()).unwrap();
        let busy = topic.partition(0).unwrap();
        // Nobody writes to this partition after t0: only the maintenance task can prune it.
        let idle = topic.partition(1).unwrap();
        let t0 = 1_000_000;
        produce(&busy, 1, 0, t0);
        produce(&busy, 2, 0, t0);
        produce(&idle, 3, 0, t0);
        produce(&busy, 2, 1, t0 + DAY_MS / 2);
        let config = config_for_tests();

        run_once(&topics, &config, t0 + DAY_MS - 1);
        assert_eq!(producer_ids(&busy), vec![1, 2], "nobody idle for a day yet");
        assert_eq!(producer_ids(&idle), vec![3]);

        run_once(&topics, &config, t0 + DAY_MS);
        assert_eq!(
            producer_ids(&busy),
            vec![2],
            "producer 2 wrote half a day ago"
        );
        assert!(
            producer_ids(&idle).is_empty(),
            "the idle partition is pruned too"
        );
        let kept = &busy.producers()[0].1;
        assert_eq!(
            kept.last_sequence(),
            1,
            "the active producer's state is intact"
        );

        run_once(&topics, &config, t0 + DAY_MS / 2 + DAY_MS);
        assert!(producer_ids(&busy).is_empty());
    }

    #[test]
    fn the_expiration_is_the_configured_one() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::load(dir.path()).unwrap();
        let topic = topics.create("idem", 1, TopicConfig::default()).unwrap();
        let partition = topic.partition(0).unwrap();
        produce(&partition, 1, 0, 5_000);
        let short = MaintenanceConfig {
            producer_id_expiration_ms: 1_000,
            ..config_for_tests()
        };
        expire_producers(&topics, &short, 5_999);
        assert_eq!(producer_ids(&partition), vec![1]);
        expire_producers(&topics, &short, 6_000);
        assert!(producer_ids(&partition).is_empty());
    }

    #[test]
    fn retention_by_time_deletes_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let topics = Topics::load(dir.path()).unwrap();
        let config =
            TopicConfig::from_overrides([("retention.ms", "1000"), ("segment.bytes", "1048576")])
                .unwrap();
        let topic = topics.create("old", 1, config).unwrap();
        let partition = topic.partition(0).unwrap();
        let options = fjord_storage::AppendOptions {
            leader_epoch: 0,
            log_append_time: None,
            now_ms: 1_000,
        };
        // Enough 64 KiB batches, stamped long ago, to fill more than one 1 MiB segment.
        for _ in 0..20 {
            let batch = BatchSpec::new(1_000).filler(16, 4096, b'x').build();
            partition.log.append(&batch, &options).unwrap();
        }
        let segments_before = partition.log.segment_count();
        assert!(segments_before > 1, "test needs several segments");
        run_once(&topics, &config_for_tests(), 1_000_000);
        assert!(partition.log.segment_count() < segments_before);
        assert!(partition.log.log_start_offset() > 0);
    }
}
