//! ListOffsets: earliest, latest, max-timestamp and by-timestamp offset look-ups.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::list_offsets_request::ListOffsetsPartition;
use fjord_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use fjord_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::read_error_code;
use crate::partition::{check_leader_epoch, Partition, LEADER_EPOCH};

/// The special timestamps a client may ask for instead of a time.
mod special {
    /// The log end (or last stable) offset.
    pub(super) const LATEST: i64 = -1;
    /// The log start offset.
    pub(super) const EARLIEST: i64 = -2;
    /// The record with the largest timestamp (v7+).
    pub(super) const MAX_TIMESTAMP: i64 = -3;
    /// The first offset still on local disk (v8+); the log start without tiered storage.
    pub(super) const EARLIEST_LOCAL: i64 = -4;
    /// The last offset in tiered storage (v9+); none without tiered storage.
    pub(super) const LATEST_TIERED: i64 = -5;
}

/// Answers ListOffsets.
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics.get(&t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    match topic
                        .as_ref()
                        .and_then(|topic| topic.partition(p.partition_index))
                    {
                        None => failed(p.partition_index, ErrorCode::UnknownTopicOrPartition),
                        Some(partition) => look_up(&partition, p, ctx.api_version, read_committed),
                    }
                })
                .collect();
            ListOffsetsTopicResponse {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

fn failed(partition_index: i32, code: ErrorCode) -> ListOffsetsPartitionResponse {
    ListOffsetsPartitionResponse {
        partition_index,
        error_code: code.code(),
        timestamp: -1,
        offset: -1,
        leader_epoch: -1,
        ..Default::default()
    }
}

/// ListOffsets v4 added the leader epoch to the response.
const LEADER_EPOCH_FROM: i16 = 4;

fn found(
    partition_index: i32,
    offset: i64,
    timestamp: i64,
    version: i16,
) -> ListOffsetsPartitionResponse {
    ListOffsetsPartitionResponse {
        partition_index,
        error_code: ErrorCode::None.code(),
        timestamp,
        offset,
        leader_epoch: if version >= LEADER_EPOCH_FROM {
            LEADER_EPOCH
        } else {
            -1
        },
        ..Default::default()
    }
}

fn look_up(
    partition: &Partition,
    request: &ListOffsetsPartition,
    version: i16,
    read_committed: bool,
) -> ListOffsetsPartitionResponse {
    let index = request.partition_index;
    if let Err(code) = check_leader_epoch(request.current_leader_epoch) {
        return failed(index, code);
    }
    let log = &partition.log;
    match request.timestamp {
        special::LATEST => {
            let end = if read_committed {
                partition.last_stable_offset()
            } else {
                partition.high_watermark()
            };
            found(index, end, -1, version)
        }
        special::EARLIEST => found(index, log.log_start_offset(), -1, version),
        special::EARLIEST_LOCAL if version >= 8 => {
            found(index, log.log_start_offset(), -1, version)
        }
        special::LATEST_TIERED if version >= 9 => found(index, -1, -1, version),
        special::MAX_TIMESTAMP if version >= 7 => match log.max_timestamp_offset() {
            Some(t) => found(index, t.offset, t.timestamp, version),
            None => found(index, -1, -1, version),
        },
        ts if ts < 0 => failed(index, ErrorCode::InvalidRequest),
        ts => match log.offset_for_timestamp(ts) {
            Ok(Some(t)) if t.offset < partition.high_watermark() => {
                found(index, t.offset, t.timestamp, version)
            }
            Ok(_) => found(index, -1, -1, version),
            Err(e) => failed(index, read_error_code(&e)),
        },
    }
}
