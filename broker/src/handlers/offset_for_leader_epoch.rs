//! OffsetForLeaderEpoch: where a leader epoch ends in our log, so a consumer (or a follower)
//! can tell whether the log it read was truncated underneath it (KIP-101, KIP-320).
//!
//! One node never changes leader, so every partition has a single epoch,
//! [`LEADER_EPOCH`], which began at the log start. Kafka's answer for an epoch cache holding
//! that one entry: the current epoch ends at the log end; a later epoch is unknown
//! (UNDEFINED, -1/-1); an earlier one ends where ours starts; -1 asks for nothing (-1/-1).

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderPartition;
use fjord_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use fjord_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::partition::{check_leader_epoch, Partition, LEADER_EPOCH};
use crate::topics::Topic;

/// Kafka's "no epoch" and "no offset".
const UNDEFINED_EPOCH: i32 = -1;
const UNDEFINED_OFFSET: i64 = -1;

/// Answers OffsetForLeaderEpoch.
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics.get(&t.topic);
            OffsetForLeaderTopicResult {
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| answer(topic.as_deref(), p))
                    .collect(),
                topic: t.topic,
                ..Default::default()
            }
        })
        .collect();
    OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    }
}

fn answer(topic: Option<&Topic>, request: &OffsetForLeaderPartition) -> EpochEndOffset {
    let failed = |code: ErrorCode| EpochEndOffset {
        error_code: code.code(),
        partition: request.partition,
        leader_epoch: UNDEFINED_EPOCH,
        end_offset: UNDEFINED_OFFSET,
        ..Default::default()
    };
    let Some(partition) = topic.and_then(|t| t.partition(request.partition)) else {
        return failed(ErrorCode::UnknownTopicOrPartition);
    };
    if let Err(code) = check_leader_epoch(request.current_leader_epoch) {
        return failed(code);
    }
    let (leader_epoch, end_offset) = end_of_epoch(&partition, request.leader_epoch);
    EpochEndOffset {
        error_code: ErrorCode::None.code(),
        partition: request.partition,
        leader_epoch,
        end_offset,
        ..Default::default()
    }
}

/// The largest epoch at or below `requested` and the offset where it ends.
fn end_of_epoch(partition: &Partition, requested: i32) -> (i32, i64) {
    epoch_end(
        requested,
        partition.log.log_start_offset(),
        partition.log.log_end_offset(),
    )
}

/// [`end_of_epoch`] on plain numbers: one epoch, [`LEADER_EPOCH`], spanning the whole log.
fn epoch_end(requested: i32, log_start: i64, log_end: i64) -> (i32, i64) {
    if requested == UNDEFINED_EPOCH || requested > LEADER_EPOCH {
        (UNDEFINED_EPOCH, UNDEFINED_OFFSET)
    } else if requested == LEADER_EPOCH {
        (LEADER_EPOCH, log_end)
    } else {
        // Older than any epoch we know: it ended where our first epoch began.
        (requested, log_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_epoch_ends_at_the_log_end() {
        assert_eq!(epoch_end(LEADER_EPOCH, 3, 10), (LEADER_EPOCH, 10));
    }

    #[test]
    fn unknown_or_undefined_epochs_are_undefined() {
        assert_eq!(epoch_end(-1, 3, 10), (-1, -1));
        assert_eq!(epoch_end(LEADER_EPOCH + 1, 3, 10), (-1, -1));
    }

    #[test]
    fn older_epochs_end_where_ours_starts() {
        assert_eq!(epoch_end(-5, 3, 10), (-5, 3));
    }
}
