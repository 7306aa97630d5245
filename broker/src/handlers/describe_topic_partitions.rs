//! DescribeTopicPartitions (KIP-966): topics and their partitions, page by page.
//!
//! Topics are described in name order from the cursor on, until `response_partition_limit`
//! partitions (at most [`MAX_PARTITIONS_PER_RESPONSE`]) are in the answer; `next_cursor` then
//! says where the next page starts. An empty topic list means every topic. Named topics that
//! do not exist are reported as such; this API never creates topics.

use std::collections::BTreeSet;

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use fjord_protocol::messages::{DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse};
use uuid::Uuid;

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::partition::LEADER_EPOCH;
use crate::topic_name::{is_internal_topic, validate_topic_name};
use crate::topics::Topic;

/// Kafka's `max.request.partition.size.limit` default: the most partitions one answer holds.
pub const MAX_PARTITIONS_PER_RESPONSE: i32 = 2000;

/// Answers DescribeTopicPartitions.
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: &DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let all = request.topics.is_empty();
    let names: BTreeSet<String> = if all {
        broker
            .topics
            .list()
            .iter()
            .map(|t| t.name.clone())
            .collect()
    } else {
        request.topics.iter().map(|t| t.name.clone()).collect()
    };
    if let Some(cursor) = &request.cursor {
        let refusal = if cursor.partition_index < 0 {
            Some(format!(
                "The partition index in the cursor is negative: {}",
                cursor.partition_index
            ))
        } else if !all && !names.contains(&cursor.topic_name) {
            Some(format!(
                "The cursor topic {} is not among the requested topics",
                cursor.topic_name
            ))
        } else {
            None
        };
        if let Some(message) = refusal {
            tracing::debug!(%message, "refusing DescribeTopicPartitions");
            return refuse_all(request, ErrorCode::InvalidRequest);
        }
    }
    let (start_topic, start_partition) = request.cursor.as_ref().map_or((None, 0), |c| {
        (Some(c.topic_name.as_str()), c.partition_index)
    });
    let mut remaining = request
        .response_partition_limit
        .min(MAX_PARTITIONS_PER_RESPONSE);
    let mut response = DescribeTopicPartitionsResponse::default();
    for name in names
        .iter()
        .filter(|n| start_topic.is_none_or(|start| n.as_str() >= start))
    {
        if remaining == 0 {
            response.next_cursor = Some(cursor(name, 0));
            break;
        }
        if remaining < 0 {
            break;
        }
        let Some(topic) = broker.topics.get(name) else {
            if !all {
                response.topics.push(missing(name));
            }
            continue;
        };
        let first = if Some(name.as_str()) == start_topic {
            start_partition
        } else {
            0
        };
        let (partitions, next) = page(&topic, broker.node_id(), first, remaining);
        remaining -= i32::try_from(partitions.len()).unwrap_or(i32::MAX);
        response.topics.push(DescribeTopicPartitionsResponseTopic {
            error_code: ErrorCode::None.code(),
            name: Some(topic.name.clone()),
            topic_id: topic.id,
            is_internal: is_internal_topic(&topic.name),
            partitions,
            ..Default::default()
        });
        if let Some(next) = next {
            response.next_cursor = Some(cursor(name, next));
            break;
        }
    }
    response
}

fn cursor(topic: &str, partition: i32) -> Cursor {
    Cursor {
        topic_name: topic.to_string(),
        partition_index: partition,
        ..Default::default()
    }
}

fn missing(name: &str) -> DescribeTopicPartitionsResponseTopic {
    let code = if validate_topic_name(name).is_ok() {
        ErrorCode::UnknownTopicOrPartition
    } else {
        ErrorCode::InvalidTopicException
    };
    DescribeTopicPartitionsResponseTopic {
        error_code: code.code(),
        name: Some(name.to_string()),
        topic_id: Uuid::nil(),
        is_internal: is_internal_topic(name),
        ..Default::default()
    }
}

/// Up to `limit` partitions from index `first`, and the index to continue from if more remain.
fn page(
    topic: &Topic,
    node_id: i32,
    first: i32,
    limit: i32,
) -> (Vec<DescribeTopicPartitionsResponsePartition>, Option<i32>) {
    let all = topic.partitions();
    let start = usize::try_from(first).unwrap_or(0).min(all.len());
    let take = usize::try_from(limit).unwrap_or(0);
    let end = start.saturating_add(take).min(all.len());
    let partitions = all
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|p| DescribeTopicPartitionsResponsePartition {
            error_code: ErrorCode::None.code(),
            partition_index: p.index,
            leader_id: node_id,
            leader_epoch: LEADER_EPOCH,
            replica_nodes: vec![node_id],
            isr_nodes: vec![node_id],
            eligible_leader_replicas: Some(vec![]),
            last_known_elr: Some(vec![]),
            offline_replicas: vec![],
            ..Default::default()
        })
        .collect();
    let next = (end < all.len()).then(|| i32::try_from(end).unwrap_or(i32::MAX));
    (partitions, next)
}

/// Kafka's answer to a request it refuses as a whole: every requested topic with the error.
fn refuse_all(
    request: &DescribeTopicPartitionsRequest,
    code: ErrorCode,
) -> DescribeTopicPartitionsResponse {
    DescribeTopicPartitionsResponse {
        topics: request
            .topics
            .iter()
            .map(|t| DescribeTopicPartitionsResponseTopic {
                error_code: code.code(),
                name: Some(t.name.clone()),
                topic_id: Uuid::nil(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
