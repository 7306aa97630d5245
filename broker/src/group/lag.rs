//! Consumer lag: how far a group's committed position trails each partition's log end.

use super::types::{CommittedOffset, TopicPartition};

/// The lag of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The partition.
    pub partition: TopicPartition,
    /// The group's committed offset.
    pub committed: i64,
    /// The partition's log end offset.
    pub log_end_offset: i64,
    /// Records not yet consumed: `log_end_offset - committed`, never below zero.
    pub lag: i64,
}

/// The lag of every partition with a committed offset whose log end `log_end_offset` knows;
/// partitions of deleted topics (where it answers `None`) are left out.
pub fn consumer_lag(
    committed: &[(TopicPartition, Option<CommittedOffset>)],
    log_end_offset: impl Fn(&TopicPartition) -> Option<i64>,
) -> Vec<PartitionLag> {
    committed
        .iter()
        .filter_map(|(partition, offset)| {
            let committed = offset.as_ref()?.offset;
            let end = log_end_offset(partition)?;
            Some(PartitionLag {
                partition: partition.clone(),
                committed,
                log_end_offset: end,
                lag: fjord_protocol::lag::consumer_lag(end, committed),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> Option<CommittedOffset> {
        Some(CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 0,
        })
    }

    #[test]
    fn lag_is_log_end_minus_committed() {
        let committed = vec![
            (TopicPartition::new("t", 0), at(10)),
            (TopicPartition::new("t", 1), at(30)),
            (TopicPartition::new("t", 2), None),
            (TopicPartition::new("gone", 0), at(1)),
        ];
        let lag = consumer_lag(&committed, |p| (p.topic == "t").then_some(25));
        assert_eq!(
            lag.iter()
                .map(|l| (l.partition.partition, l.lag))
                .collect::<Vec<_>>(),
            vec![(0, 15), (1, 0)]
        );
        assert_eq!(lag[0].log_end_offset, 25);
    }
}
