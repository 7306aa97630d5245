//! OffsetCommit (v2-v9): partitions of unknown topics are refused here; the rest go to the
//! coordinator in one write.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use fjord_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_error_code;
use crate::group::types::{GenerationId, OffsetCommit, OffsetToCommit, TopicPartition};
use crate::group::GroupError;

/// Commits offsets.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let mut offsets = Vec::new();
    for topic in &request.topics {
        let known = broker.topics.get(&topic.name);
        for p in &topic.partitions {
            if known
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
                .is_some()
            {
                offsets.push(OffsetToCommit {
                    partition: TopicPartition::new(topic.name.clone(), p.partition_index),
                    offset: p.committed_offset,
                    leader_epoch: if ctx.api_version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p.committed_metadata.clone().unwrap_or_default(),
                });
            }
        }
    }
    let outcome = if offsets.is_empty() {
        Vec::new()
    } else {
        broker
            .groups
            .commit(OffsetCommit {
                group_id: request.group_id.clone(),
                generation_id: GenerationId(request.generation_id_or_member_epoch),
                member_id: request.member_id.clone(),
                group_instance_id: request.group_instance_id.clone(),
                offsets,
            })
            .await
    };
    let code = |tp: &TopicPartition| -> i16 {
        let Some((_, error)) = outcome.iter().find(|(p, _)| p == tp) else {
            return ErrorCode::UnknownTopicOrPartition.code();
        };
        match error {
            None => ErrorCode::None.code(),
            // Before v9 a commit with a generation to an unknown group is a stale generation.
            Some(GroupError::GroupIdNotFound) if ctx.api_version < 9 => {
                ErrorCode::IllegalGeneration.code()
            }
            Some(e) => group_error_code(*e).code(),
        }
    };
    OffsetCommitResponse {
        topics: request
            .topics
            .iter()
            .map(|topic| OffsetCommitResponseTopic {
                name: topic.name.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .map(|p| OffsetCommitResponsePartition {
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
