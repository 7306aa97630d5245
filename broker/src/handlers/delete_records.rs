//! DeleteRecords: move partitions' log start offsets forward, so older records are no longer
//! readable and their segments can go.
//!
//! An offset of -1 means "up to the high watermark". Offsets above the high watermark are
//! refused with OFFSET_OUT_OF_RANGE, as are topics whose cleanup policy does not include
//! `delete` (POLICY_VIOLATION), as in Kafka.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::delete_records_request::DeleteRecordsPartition;
use fjord_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use fjord_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use tracing::info;

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::delete_error_code;
use crate::topics::Topic;

/// The request's stand-in for the high watermark.
const HIGH_WATERMARK: i64 = -1;

/// The low watermark reported with an error.
const INVALID_LOW_WATERMARK: i64 = -1;

/// Answers DeleteRecords.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics.get(&t.name);
            DeleteRecordsTopicResult {
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| delete_one(topic.as_deref(), p))
                    .collect(),
                name: t.name,
                ..Default::default()
            }
        })
        .collect();
    DeleteRecordsResponse {
        topics,
        ..Default::default()
    }
}

fn delete_one(
    topic: Option<&Topic>,
    request: &DeleteRecordsPartition,
) -> DeleteRecordsPartitionResult {
    let answer = |low_watermark: i64, code: ErrorCode| DeleteRecordsPartitionResult {
        partition_index: request.partition_index,
        low_watermark,
        error_code: code.code(),
        ..Default::default()
    };
    let Some((topic, partition)) =
        topic.and_then(|t| t.partition(request.partition_index).map(|p| (t, p)))
    else {
        return answer(INVALID_LOW_WATERMARK, ErrorCode::UnknownTopicOrPartition);
    };
    if !topic.config().deletes() {
        return answer(INVALID_LOW_WATERMARK, ErrorCode::PolicyViolation);
    }
    let high_watermark = partition.high_watermark();
    let offset = if request.offset == HIGH_WATERMARK {
        high_watermark
    } else {
        request.offset
    };
    if offset < 0 || offset > high_watermark {
        return answer(INVALID_LOW_WATERMARK, ErrorCode::OffsetOutOfRange);
    }
    match partition.log.delete_records_before(offset) {
        Ok(low_watermark) => {
            info!(topic = %topic.name, partition = partition.index, low_watermark, "deleted records");
            answer(low_watermark, ErrorCode::None)
        }
        Err(e) => answer(INVALID_LOW_WATERMARK, delete_error_code(&e)),
    }
}
