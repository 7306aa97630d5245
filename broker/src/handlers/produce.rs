//! Produce: validate each partition's batch by its header and CRC, then append the client's
//! own bytes. Records are never decoded on this path.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use fjord_protocol::messages::{ProduceRequest, ProduceResponse};
use fjord_protocol::records::header::{verify_crc, BatchHeader};
use fjord_storage::AppendOptions;
use tracing::warn;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::{Outcome, RequestContext};
use crate::error::{append_error_code, record_error_code};
use crate::partition::{Partition, LEADER_EPOCH};
use crate::topic_config::TopicConfig;

/// Oldest Produce version we accept; older ones are advertised but refused, as Kafka 4 does.
const MIN_ACCEPTED_VERSION: i16 = 3;

/// Answers Produce (nothing at all for acks=0).
pub async fn handle(broker: &Broker, ctx: &RequestContext, request: ProduceRequest) -> Outcome {
    let refuse = if ctx.api_version < MIN_ACCEPTED_VERSION {
        Some(ErrorCode::UnsupportedVersion)
    } else if !(-1..=1).contains(&request.acks) {
        Some(ErrorCode::InvalidRequiredAcks)
    } else {
        None
    };
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let topic = broker.topics.get(&topic_data.name);
        let partition_responses = topic_data
            .partition_data
            .into_iter()
            .map(|data| {
                let result = match (refuse, &topic) {
                    (Some(code), _) => Err(code),
                    (None, None) => Err(ErrorCode::UnknownTopicOrPartition),
                    (None, Some(topic)) => match topic.partition(data.index) {
                        None => Err(ErrorCode::UnknownTopicOrPartition),
                        Some(partition) => {
                            append(&partition, &topic.config(), data.records.as_ref())
                        }
                    },
                };
                match result {
                    Ok(done) => PartitionProduceResponse {
                        index: data.index,
                        error_code: ErrorCode::None.code(),
                        base_offset: done.base_offset,
                        log_append_time_ms: done.log_append_time.unwrap_or(-1),
                        log_start_offset: done.log_start_offset,
                        ..Default::default()
                    },
                    Err(code) => PartitionProduceResponse {
                        index: data.index,
                        error_code: code.code(),
                        base_offset: -1,
                        log_append_time_ms: -1,
                        log_start_offset: -1,
                        ..Default::default()
                    },
                }
            })
            .collect();
        responses.push(TopicProduceResponse {
            name: topic_data.name,
            partition_responses,
            ..Default::default()
        });
    }
    if request.acks == 0 {
        return Outcome::NoResponse;
    }
    ProduceResponse {
        responses,
        ..Default::default()
    }
    .into()
}

/// What an append reports back to the producer.
struct Appended {
    base_offset: i64,
    log_append_time: Option<i64>,
    log_start_offset: i64,
}

fn append(
    partition: &Arc<Partition>,
    config: &TopicConfig,
    records: Option<&Bytes>,
) -> Result<Appended, ErrorCode> {
    let records = records.ok_or(ErrorCode::CorruptMessage)?;
    validate(records, config)?;
    let now = now_ms();
    let log_append_time = config.log_append_time().then_some(now);
    // The request frame is shared with the other partitions' slices, so the batch is copied
    // once here to be re-stamped in place.
    let mut batch = BytesMut::from(&records[..]);
    let options = AppendOptions {
        leader_epoch: LEADER_EPOCH,
        log_append_time,
        now_ms: now,
    };
    let info = partition.log.append(&mut batch, &options).map_err(|e| {
        warn!(partition = partition.index, error = %e, "append failed");
        append_error_code(&e)
    })?;
    partition.notify_appended();
    Ok(Appended {
        base_offset: info.base_offset,
        log_append_time,
        log_start_offset: info.log_start_offset,
    })
}

/// Checks what the broker must check before appending a batch as is: v3+ produce carries
/// exactly one v2 batch, intact (CRC), within the topic's size limit, with a consistent count.
fn validate(records: &[u8], config: &TopicConfig) -> Result<(), ErrorCode> {
    let header = BatchHeader::parse(records).map_err(|e| record_error_code(&e))?;
    if header.total_len() != records.len() {
        return Err(if header.total_len() > records.len() {
            ErrorCode::CorruptMessage
        } else {
            // More than one batch, or trailing bytes.
            ErrorCode::InvalidRecord
        });
    }
    if records.len() > config.max_message_bytes() {
        return Err(ErrorCode::MessageTooLarge);
    }
    verify_crc(records).map_err(|e| record_error_code(&e))?;
    if header.record_count < 1 || header.last_offset_delta != header.record_count - 1 {
        return Err(ErrorCode::InvalidRecord);
    }
    if header.is_control() {
        // Only transaction coordinators write control batches.
        return Err(ErrorCode::InvalidRecord);
    }
    Ok(())
}
