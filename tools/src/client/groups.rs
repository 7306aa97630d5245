//! Consumer group requests shared by `group` and `consume --group`: describe, committed
//! offsets, commits, and the embedded consumer protocol (subscriptions and assignments).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::consumer_protocol_assignment::TopicPartition;
use fjord_protocol::messages::describe_groups_response::DescribedGroup;
use fjord_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use fjord_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use fjord_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, DescribeGroupsRequest,
    OffsetCommitRequest, OffsetFetchRequest,
};
use fjord_protocol::{DecodeError, EncodeError, Message};

use super::cluster::Client;
use super::error::{check, ClientError};

/// A committed offset's key: topic and partition.
pub type TopicPartitionKey = (String, i32);

/// The version of the embedded consumer protocol we write (v0: topics and user data only, which
/// every assignor and broker reads).
const CONSUMER_PROTOCOL_VERSION: i16 = 0;

/// Describes one group through its coordinator.
pub async fn describe_group(
    client: &mut Client,
    group: &str,
) -> Result<DescribedGroup, ClientError> {
    let conn = client.coordinator(group).await?;
    let request = DescribeGroupsRequest {
        groups: vec![group.to_owned()],
        ..DescribeGroupsRequest::default()
    };
    let response = conn.send(&request).await?;
    let described = response
        .groups
        .into_iter()
        .find(|g| g.group_id == group)
        .ok_or_else(|| ClientError::Kafka {
            context: format!("describe group {group}"),
            code: fjord_protocol::ErrorCode::GroupIdNotFound,
            message: Some(String::from("the coordinator did not describe it")),
        })?;
    check(described.error_code, || format!("describe group {group}"))?;
    Ok(described)
}

/// The group's committed offsets; for all topics when `topics` is `None`. Partitions without
/// a committed offset are left out.
pub async fn committed_offsets(
    client: &mut Client,
    group: &str,
    topics: Option<&BTreeMap<String, Vec<i32>>>,
) -> Result<BTreeMap<TopicPartitionKey, i64>, ClientError> {
    let conn = client.coordinator(group).await?;
    let version = conn.version(ApiKey::OffsetFetch)?;
    let context = || format!("fetch committed offsets of group {group}");
    let mut committed = BTreeMap::new();
    let mut keep = |topic: &str, partition: i32, offset: i64, code: i16| {
        check(code, context)?;
        if offset >= 0 {
            committed.insert((topic.to_owned(), partition), offset);
        }
        Ok::<(), ClientError>(())
    };
    if version >= 8 {
        let request = OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.to_owned(),
                topics: topics.map(|t| {
                    t.iter()
                        .map(|(name, partitions)| {
                            fjord_protocol::messages::offset_fetch_request::OffsetFetchRequestTopics {
                                name: name.clone(),
                                partition_indexes: partitions.clone(),
                                ..Default::default()
                            }
                        })
                        .collect()
                }),
                ..OffsetFetchRequestGroup::default()
            }],
            ..OffsetFetchRequest::default()
        };
        let response = conn.send_at(&request, version, Duration::ZERO).await?;
        for g in &response.groups {
            check(g.error_code, context)?;
            for t in &g.topics {
                for p in &t.partitions {
                    keep(&t.name, p.partition_index, p.committed_offset, p.error_code)?;
                }
            }
        }
    } else {
        if version < 2 && topics.is_none() {
            return Err(ClientError::Unsupported {
                api: ApiKey::OffsetFetch,
                addr: conn.addr().to_owned(),
                broker: conn.versions().broker_range(ApiKey::OffsetFetch),
            });
        }
        let request = OffsetFetchRequest {
            group_id: group.to_owned(),
            topics: topics.map(|t| {
                t.iter()
                    .map(|(name, partitions)| {
                        fjord_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic {
                            name: name.clone(),
                            partition_indexes: partitions.clone(),
                            ..Default::default()
                        }
                    })
                    .collect()
            }),
            ..OffsetFetchRequest::default()
        };
        let response = conn.send_at(&request, version, Duration::ZERO).await?;
        if version >= 2 {
            check(response.error_code, context)?;
        }
        for t in &response.topics {
            for p in &t.partitions {
                keep(&t.name, p.partition_index, p.committed_offset, p.error_code)?;
            }
        }
    }
    Ok(committed)
}

/// Who commits: a member of a generation, or nobody (an admin commit to an empty group).
#[derive(Debug, Clone)]
pub struct Committer {
    /// The generation id, -1 for an admin commit.
    pub generation: i32,
    /// The member id, empty for an admin commit.
    pub member_id: String,
}

impl Committer {
    /// A commit from outside the group, allowed while the group has no members.
    pub fn admin() -> Self {
        Self {
            generation: -1,
            member_id: String::new(),
        }
    }
}

/// Commits `offsets` for `group`.
pub async fn commit_offsets(
    client: &mut Client,
    group: &str,
    committer: &Committer,
    offsets: &BTreeMap<TopicPartitionKey, i64>,
) -> Result<(), ClientError> {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for ((topic, partition), offset) in offsets {
        topics
            .entry(topic.as_str())
            .or_default()
            .push(OffsetCommitRequestPartition {
                partition_index: *partition,
                committed_offset: *offset,
                ..OffsetCommitRequestPartition::default()
            });
    }
    let request = OffsetCommitRequest {
        group_id: group.to_owned(),
        generation_id_or_member_epoch: committer.generation,
        member_id: committer.member_id.clone(),
        topics: topics
            .into_iter()
            .map(|(name, partitions)| OffsetCommitRequestTopic {
                name: name.to_owned(),
                partitions,
                ..OffsetCommitRequestTopic::default()
            })
            .collect(),
        ..OffsetCommitRequest::default()
    };
    let conn = client.coordinator(group).await?;
    let response = conn.send(&request).await?;
    for t in &response.topics {
        for p in &t.partitions {
            check(p.error_code, || {
                format!(
                    "commit offsets of group {group} for {}-{}",
                    t.name, p.partition_index
                )
            })?;
        }
    }
    Ok(())
}

/// Decodes a member's assignment (a version prefix, then the message); `None` for an empty one.
pub fn decode_assignment(bytes: &Bytes) -> Result<Option<ConsumerProtocolAssignment>, DecodeError> {
    decode_embedded(bytes)
}

/// Decodes a member's subscription metadata.
pub fn decode_subscription(
    bytes: &Bytes,
) -> Result<Option<ConsumerProtocolSubscription>, DecodeError> {
    decode_embedded(bytes)
}

/// Newer writers may use a version past ours; the fields we read come first in every version,
/// so we read such data as our newest version (as Kafka's own clients do).
fn decode_embedded<M: Message>(bytes: &Bytes) -> Result<Option<M>, DecodeError> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let version = i16::from_be_bytes([bytes[0], bytes[1]]).clamp(M::VERSIONS.min, M::VERSIONS.max);
    let mut body = bytes.slice(2..);
    M::decode(&mut body, version).map(Some)
}

/// Encodes a subscription to `topics`.
pub fn encode_subscription(topics: &[String]) -> Result<Bytes, EncodeError> {
    let subscription = ConsumerProtocolSubscription {
        topics: topics.to_vec(),
        ..ConsumerProtocolSubscription::default()
    };
    encode_embedded(&subscription)
}

/// Encodes an assignment of `partitions` (topic → partitions).
pub fn encode_assignment(partitions: &BTreeMap<String, Vec<i32>>) -> Result<Bytes, EncodeError> {
    let assignment = ConsumerProtocolAssignment {
        assigned_partitions: partitions
            .iter()
            .map(|(topic, partitions)| TopicPartition {
                topic: topic.clone(),
                partitions: partitions.clone(),
                ..TopicPartition::default()
            })
            .collect(),
        ..ConsumerProtocolAssignment::default()
    };
    encode_embedded(&assignment)
}

fn encode_embedded<M: Message>(message: &M) -> Result<Bytes, EncodeError> {
    let len = message.encoded_len(CONSUMER_PROTOCOL_VERSION)?;
    let mut buf = BytesMut::with_capacity(len + 2);
    buf.put_i16(CONSUMER_PROTOCOL_VERSION);
    message.encode(&mut buf, CONSUMER_PROTOCOL_VERSION)?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_round_trip_with_their_version_prefix() {
        let mut partitions = BTreeMap::new();
        partitions.insert("orders".to_owned(), vec![0, 2]);
        let bytes = encode_assignment(&partitions).unwrap();
        assert_eq!(&bytes[..2], &[0, 0]);
        let decoded = decode_assignment(&bytes).unwrap().unwrap();
        assert_eq!(decoded.assigned_partitions.len(), 1);
        assert_eq!(decoded.assigned_partitions[0].topic, "orders");
        assert_eq!(decoded.assigned_partitions[0].partitions, vec![0, 2]);
    }

    #[test]
    fn subscriptions_round_trip_and_empty_bytes_decode_to_none() {
        let bytes = encode_subscription(&["a".to_owned(), "b".to_owned()]).unwrap();
        let decoded = decode_subscription(&bytes).unwrap().unwrap();
        assert_eq!(decoded.topics, vec!["a".to_owned(), "b".to_owned()]);
        assert!(decode_assignment(&Bytes::new()).unwrap().is_none());
    }
}
