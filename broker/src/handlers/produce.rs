//! Produce: validate each partition's batch by its header and CRC, walk its records, then append
//! the client's own bytes. Uncompressed records are walked in place; compressed ones through a
//! capped streaming decompressor. No record is copied or materialised.

use std::sync::Arc;

use bytes::Bytes;
use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use fjord_protocol::messages::{ProduceRequest, ProduceResponse};
use fjord_protocol::records::compression::MAX_DECOMPRESSED_BYTES;
use fjord_protocol::records::validate::{
    check_record_contents, validate_batches, BatchSummary, ContentRules, ValidationLimits,
};
use fjord_protocol::records::RecordBatch;
use fjord_storage::AppendOptions;
use tracing::warn;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::{Outcome, RequestContext};
use crate::error::produce_append_error_code;
use crate::partition::{Partition, LEADER_EPOCH};
use crate::topic_config::TopicConfig;
use crate::topic_name::is_internal_topic;
use crate::topics::Topic;

/// Replicas in sync for every partition: a single node holds the one replica.
const IN_SYNC_REPLICAS: i64 = 1;

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
        // Everything that refuses a whole topic is settled once, before its partitions.
        let target = match refuse {
            Some(code) => Err(code),
            None => writable_topic(broker, &topic_data.name, request.acks),
        };
        // Partitions are independent: appends that wait for an fsync wait side by side.
        let appends = topic_data.partition_data.iter().map(|data| {
            let target = &target;
            async move {
                let (topic, config) = target.as_ref().map_err(|code| *code)?;
                let partition = topic
                    .partition(data.index)
                    .ok_or(ErrorCode::UnknownTopicOrPartition)?;
                append_off_worker(partition, config.clone(), data.records.clone()).await
            }
        });
        let results = futures::future::join_all(appends).await;
        let mut partition_responses = Vec::with_capacity(results.len());
        for (data, result) in topic_data.partition_data.iter().zip(results) {
            match &result {
                Ok(_) => crate::metrics::produce_accepted(&topic_data.name, data.records.as_ref()),
                Err(code) => crate::metrics::produce_rejected(*code),
            }
            partition_responses.push(match result {
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
            });
        }
        responses.push(TopicProduceResponse {
            name: topic_data.name,
            partition_responses,
            ..Default::default()
        });
    }
    if request.acks == 0 {
        return Outcome::NoResponse;
    }
    let appended = responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .any(|p| p.error_code == ErrorCode::None.code());
    if appended && crate::test_faults::drop_produce_answer() {
        return Outcome::Disconnect;
    }
    ProduceResponse {
        responses,
        ..Default::default()
    }
    .into()
}

/// The topic a produce may write to, with its settings as of this request, or why none of its
/// partitions may be written.
fn writable_topic(
    broker: &Broker,
    name: &str,
    acks: i16,
) -> Result<(Arc<Topic>, Arc<TopicConfig>), ErrorCode> {
    let topic = broker
        .topics
        .get(name)
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    // Only the coordinators write internal topics.
    if is_internal_topic(name) {
        return Err(ErrorCode::InvalidTopicException);
    }
    let config = topic.config();
    // acks=all needs min.insync.replicas copies; this node holds the only one.
    if acks == -1 && config.long("min.insync.replicas") > IN_SYNC_REPLICAS {
        return Err(ErrorCode::NotEnoughReplicas);
    }
    Ok((topic, config))
}

/// What an append reports back to the producer.
struct Appended {
    base_offset: i64,
    log_append_time: Option<i64>,
    log_start_offset: i64,
}

/// Appends on the blocking pool when the append may wait for an fsync, so the connection's
/// worker thread goes on serving other producers meanwhile; without that, concurrent producers
/// could never share an fsync (group commit) on a broker with one worker. Appends that only
/// write to the page cache stay inline: handing them off would cost more than it saves.
async fn append_off_worker(
    partition: Arc<Partition>,
    config: Arc<TopicConfig>,
    records: Option<Bytes>,
) -> Result<Appended, ErrorCode> {
    if !partition.log.config().flush.may_sync_on_append() {
        return append(&partition, &config, records.as_ref());
    }
    let index = partition.index;
    tokio::task::spawn_blocking(move || append(&partition, &config, records.as_ref()))
        .await
        .unwrap_or_else(|e| {
            warn!(partition = index, error = %e, "append task failed");
            Err(ErrorCode::UnknownServerError)
        })
}

fn append(
    partition: &Arc<Partition>,
    config: &TopicConfig,
    records: Option<&Bytes>,
) -> Result<Appended, ErrorCode> {
    let records = records.ok_or(ErrorCode::CorruptMessage)?;
    let now = now_ms();
    let summary = validate(records, config, now)?;
    let log_append_time = config.log_append_time().then_some(now);
    // A topic that names a codec stores every batch with it; `producer` (the default) keeps
    // the client's bytes as they came.
    let stored = match config.compression() {
        Some(codec) if codec != summary.compression => {
            RecordBatch::recompress(records, codec, MAX_DECOMPRESSED_BYTES)
                .map_err(|e| e.error_code())?
        }
        _ => records.clone(),
    };
    let options = AppendOptions {
        leader_epoch: LEADER_EPOCH,
        log_append_time,
        now_ms: now,
    };
    // Idempotence lives in the partition: a retried batch is answered with its original
    // offsets, a sequence gap or a fenced epoch is refused.
    let done = partition
        .append_produced(&stored, &summary, &options)
        .map_err(|e| {
            warn!(partition = partition.index, error = %e, "append refused");
            produce_append_error_code(&e)
        })?;
    Ok(Appended {
        base_offset: done.base_offset,
        log_append_time: done.log_append_time,
        log_start_offset: done.log_start_offset,
    })
}

/// Checks what the broker must check before appending a batch as is: produce v3+ carries
/// exactly one intact v2 batch within the topic's size limit, with a consistent count, keys on a
/// compacted topic, and (for `CreateTime`) a timestamp not too far ahead of the broker's clock.
/// The records of every batch are walked, compressed or not, as Kafka parses every record on
/// append: a batch whose CRC is right but whose records are not never reaches consumers, and
/// one that decompresses past [`MAX_DECOMPRESSED_BYTES`] is refused (MESSAGE_TOO_LARGE).
fn validate(records: &Bytes, config: &TopicConfig, now: i64) -> Result<BatchSummary, ErrorCode> {
    let limits = ValidationLimits {
        max_batch_bytes: config.max_message_bytes(),
        max_batches: 1,
        allow_control: false,
    };
    let mut validated = validate_batches(records, &limits).map_err(|e| e.error_code())?;
    let summary = validated.batches.pop().ok_or(ErrorCode::InvalidRecord)?;
    // Walking costs no copy for uncompressed records and one streaming pass (no allocation per
    // record) for compressed ones.
    let rules = ContentRules {
        max_decompressed: MAX_DECOMPRESSED_BYTES,
        require_keys: config.is_compacted(),
    };
    check_record_contents(records, &rules).map_err(|e| e.error_code())?;
    if !config.log_append_time()
        && summary.max_timestamp.saturating_sub(now) > config.long("message.timestamp.after.max.ms")
    {
        return Err(ErrorCode::InvalidTimestamp);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use fjord_protocol::records::header::compute_crc;
    use fjord_protocol::records::{Compression, RecordBatchBuilder};

    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn batch(codec: Compression, records: usize, value_len: usize) -> Bytes {
        let mut builder = RecordBatchBuilder::new().compression(codec);
        for i in 0..records {
            builder.push(
                NOW,
                Some(Bytes::from(format!("key-{i}"))),
                Some(Bytes::from(vec![0u8; value_len])),
                vec![],
            );
        }
        builder.build().expect("a valid batch")
    }

    /// `good` with its compressed payload replaced by `payload` compressed the same way, the
    /// header and CRC made consistent again: only the records are wrong.
    fn with_records(good: &Bytes, codec: Compression, plain: &[u8]) -> Bytes {
        let payload = fjord_protocol::records::compression::compress(codec, plain).expect("packs");
        let mut bytes = good[..61].to_vec();
        bytes.extend_from_slice(&payload);
        let length = i32::try_from(bytes.len() - 12).expect("small");
        bytes[8..12].copy_from_slice(&length.to_be_bytes());
        let crc = compute_crc(&bytes);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(bytes)
    }

    #[test]
    fn compressed_garbage_is_corrupt_on_a_plain_topic() {
        let config = TopicConfig::default();
        assert!(!config.is_compacted());
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let good = batch(codec, 3, 10);
            assert!(validate(&good, &config, NOW).is_ok(), "{codec}");
            let garbage = with_records(&good, codec, &[0xff; 200]);
            assert_eq!(
                validate(&garbage, &config, NOW).map(|_| ()),
                Err(ErrorCode::CorruptMessage),
                "{codec}"
            );
        }
    }

    #[test]
    fn a_compression_bomb_is_too_large_on_a_plain_topic() {
        // 80 records of 1 MiB: past the 64 MiB cap in a few hundred KiB of zstd.
        let bomb = batch(Compression::Zstd, 80, 1 << 20);
        assert!(bomb.len() < TopicConfig::default().max_message_bytes());
        assert_eq!(
            validate(&bomb, &TopicConfig::default(), NOW).map(|_| ()),
            Err(ErrorCode::MessageTooLarge)
        );
    }
}
