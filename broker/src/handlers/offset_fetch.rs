//! OffsetFetch (v1-v9): one group before v8, several after. Partitions without a committed
//! offset answer -1.

use fjord_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use fjord_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::group_code;
use crate::group::types::{CommittedOffset, FetchResult, OffsetFetch, TopicPartition};

/// One partition's answer: offset, leader epoch, metadata.
fn answer(offset: Option<&CommittedOffset>) -> (i64, i32, Option<String>) {
    match offset {
        Some(o) => (o.offset, o.leader_epoch, Some(o.metadata.clone())),
        None => (-1, -1, Some(String::new())),
    }
}

/// A topic with its partitions and their committed offsets.
type TopicOffsets<'a> = (String, Vec<(i32, Option<&'a CommittedOffset>)>);

/// The fetched offsets grouped by topic, in first-seen order.
fn by_topic(result: &FetchResult) -> Vec<TopicOffsets<'_>> {
    let mut topics: Vec<TopicOffsets<'_>> = Vec::new();
    for (tp, offset) in &result.offsets {
        let entry = (tp.partition, offset.as_ref());
        match topics.iter_mut().find(|(name, _)| *name == tp.topic) {
            Some((_, partitions)) => partitions.push(entry),
            None => topics.push((tp.topic.clone(), vec![entry])),
        }
    }
    topics
}

fn wanted(topics: Option<Vec<(String, Vec<i32>)>>) -> Option<Vec<TopicPartition>> {
    topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|(name, partitions)| {
                partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(name.clone(), p))
            })
            .collect()
    })
}

/// Fetches committed offsets.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if ctx.api_version < 8 {
        let partitions = wanted(request.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name, t.partition_indexes))
                .collect()
        }));
        let result = broker
            .groups
            .fetch(OffsetFetch {
                group_id: request.group_id,
                partitions,
            })
            .await;
        return OffsetFetchResponse {
            error_code: group_code(result.error),
            topics: by_topic(&result)
                .into_iter()
                .map(|(name, partitions)| OffsetFetchResponseTopic {
                    name,
                    partitions: partitions
                        .into_iter()
                        .map(|(index, offset)| {
                            let (committed_offset, committed_leader_epoch, metadata) =
                                answer(offset);
                            OffsetFetchResponsePartition {
                                partition_index: index,
                                committed_offset,
                                committed_leader_epoch,
                                metadata,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    let mut groups = Vec::with_capacity(request.groups.len());
    for group in request.groups {
        let partitions = wanted(group.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name, t.partition_indexes))
                .collect()
        }));
        let result = broker
            .groups
            .fetch(OffsetFetch {
                group_id: group.group_id.clone(),
                partitions,
            })
            .await;
        groups.push(OffsetFetchResponseGroup {
            group_id: group.group_id,
            error_code: group_code(result.error),
            topics: by_topic(&result)
                .into_iter()
                .map(|(name, partitions)| OffsetFetchResponseTopics {
                    name,
                    partitions: partitions
                        .into_iter()
                        .map(|(index, offset)| {
                            let (committed_offset, committed_leader_epoch, metadata) =
                                answer(offset);
                            OffsetFetchResponsePartitions {
                                partition_index: index,
                                committed_offset,
                                committed_leader_epoch,
                                metadata,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
    OffsetFetchResponse {
        groups,
        ..Default::default()
    }
}
