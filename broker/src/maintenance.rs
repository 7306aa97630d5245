//! Background log maintenance: rolls segments by age, enforces retention and compacts
//! compacted topics, on a fixed interval (Kafka's `log.retention.check.interval.ms`).
//!
//! The work is file I/O, so each round runs on the blocking pool; appends and reads go on
//! meanwhile because the logs take `&self` for all of it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};

use crate::clock::now_ms;
use crate::topics::Topics;

/// Runs one maintenance round over every partition.
pub fn run_once(topics: &Topics, now: i64) {
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

/// Runs maintenance every `interval` until `shutdown` turns true.
pub async fn run(topics: Arc<Topics>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick fires at once; skip it so start-up is not slowed by a full round.
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => return,
        }
        let topics = topics.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || run_once(&topics, now_ms())).await {
            warn!(error = %e, "log maintenance round panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic_config::TopicConfig;
    use fjord_storage::testing::BatchSpec;

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
            let mut batch = BatchSpec::new(1_000).filler(16, 4096, b'x').build();
            partition.log.append(&mut batch, &options).unwrap();
        }
        let segments_before = partition.log.segment_count();
        assert!(segments_before > 1, "test needs several segments");
        run_once(&topics, 1_000_000);
        assert!(partition.log.segment_count() < segments_before);
        assert!(partition.log.log_start_offset() > 0);
    }
}
