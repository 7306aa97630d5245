//! ListOffsets: log start and end offsets, and the offset for a timestamp.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use fjord_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use fjord_protocol::messages::{ApiKey, ListOffsetsRequest};

use super::cluster::Client;
use super::error::{check, ClientError};

/// The special timestamp that asks for the log end offset.
pub const LATEST: i64 = -1;
/// The special timestamp that asks for the log start offset.
pub const EARLIEST: i64 = -2;

/// How long the broker may spend finding an offset (ListOffsets v10+).
const LIST_OFFSETS_TIMEOUT_MS: i32 = 30_000;

/// What ListOffsets answered for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; -1 when no record has a timestamp at or after the one asked for.
    pub offset: i64,
    /// The timestamp of the record found (-1 for the special timestamps).
    pub timestamp: i64,
}

/// Looks up an offset for each `(partition, timestamp)` of `topic`, asking each partition's
/// leader. `timestamp` is epoch milliseconds, or [`LATEST`] / [`EARLIEST`].
pub async fn list_offsets(
    client: &mut Client,
    topic: &str,
    queries: &[(i32, i64)],
) -> Result<BTreeMap<i32, ListedOffset>, ClientError> {
    let info = match client.cached_topic(topic) {
        Some(info) => info.clone(),
        None => client.topic(topic).await?,
    };
    let mut by_leader: HashMap<i32, Vec<(i32, i64)>> = HashMap::new();
    for &(partition, timestamp) in queries {
        let leader = info.leader(partition)?;
        by_leader
            .entry(leader)
            .or_default()
            .push((partition, timestamp));
    }
    let mut found = BTreeMap::new();
    for (leader, queries) in by_leader {
        let conn = client.node(leader).await?;
        let version = conn.version(ApiKey::ListOffsets)?;
        let request = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.to_owned(),
                partitions: queries
                    .iter()
                    .map(|&(partition, timestamp)| ListOffsetsPartition {
                        partition_index: partition,
                        current_leader_epoch: if version >= 4 {
                            info.partition(partition).map_or(-1, |p| p.leader_epoch)
                        } else {
                            -1
                        },
                        timestamp,
                        ..ListOffsetsPartition::default()
                    })
                    .collect(),
                ..ListOffsetsTopic::default()
            }],
            timeout_ms: if version >= 10 {
                LIST_OFFSETS_TIMEOUT_MS
            } else {
                0
            },
            ..ListOffsetsRequest::default()
        };
        let response = conn.send_at(&request, version, Duration::ZERO).await?;
        for t in &response.topics {
            for p in &t.partitions {
                check(p.error_code, || {
                    format!("list offsets of {topic}-{}", p.partition_index)
                })?;
                found.insert(
                    p.partition_index,
                    ListedOffset {
                        offset: p.offset,
                        timestamp: p.timestamp,
                    },
                );
            }
        }
    }
    Ok(found)
}

/// The log start and end offsets of each partition in `partitions`.
pub async fn log_bounds(
    client: &mut Client,
    topic: &str,
    partitions: &[i32],
) -> Result<BTreeMap<i32, (i64, i64)>, ClientError> {
    let starts: Vec<(i32, i64)> = partitions.iter().map(|&p| (p, EARLIEST)).collect();
    let ends: Vec<(i32, i64)> = partitions.iter().map(|&p| (p, LATEST)).collect();
    let starts = list_offsets(client, topic, &starts).await?;
    let ends = list_offsets(client, topic, &ends).await?;
    Ok(partitions
        .iter()
        .map(|p| {
            let start = starts.get(p).map_or(-1, |o| o.offset);
            let end = ends.get(p).map_or(-1, |o| o.offset);
            (*p, (start, end))
        })
        .collect())
}
