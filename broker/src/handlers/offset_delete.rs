//! OffsetDelete (v0): removes a group's offsets for partitions it no longer consumes.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use fjord_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;
use crate::group::types::{DeleteOffsets, TopicPartition};

/// Deletes committed offsets.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let mut partitions = Vec::new();
    for topic in &request.topics {
        let known = broker.topics.get(&topic.name);
        for p in &topic.partitions {
            if known
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
                .is_some()
            {
                partitions.push(TopicPartition::new(topic.name.clone(), p.partition_index));
            }
        }
    }
    let result = broker
        .groups
        .delete_offsets(DeleteOffsets {
            group_id: request.group_id,
            partitions,
        })
        .await;
    if result.error.is_some() {
        return OffsetDeleteResponse {
            error_code: group_code(result.error),
            ..Default::default()
        };
    }
    let code = |tp: &TopicPartition| match result.partitions.iter().find(|(p, _)| p == tp) {
        Some((_, error)) => group_code(*error),
        None => ErrorCode::UnknownTopicOrPartition.code(),
    };
    OffsetDeleteResponse {
        topics: request
            .topics
            .iter()
            .map(|topic| OffsetDeleteResponseTopic {
                name: topic.name.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .map(|p| OffsetDeleteResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code(&TopicPartition::new(
                            topic.name.clone(),
                            p.partition_index,
                        )),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
