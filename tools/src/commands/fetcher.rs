//! Reads partitions from given positions, exactly: records before a partition's position inside
//! a fetched batch are skipped, control batches are passed over, and the position moves past
//! every batch seen (so compacted gaps and transaction markers never stall it).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::bail;
use bytes::Bytes;
use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use fjord_protocol::messages::fetch_response::PartitionData;
use fjord_protocol::messages::{ApiKey, FetchRequest};
use fjord_protocol::records::header::batch_len;
use fjord_protocol::records::{Record, RecordBatch};
use fjord_protocol::ErrorCode;
use fjord_tools::client::error::check;
use fjord_tools::client::offsets::log_bounds;
use fjord_tools::client::{Client, ClientError, TopicInfo};

/// The most a batch may decompress to.
const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;
/// The most one fetch response may carry.
const FETCH_MAX_BYTES: i32 = 50 * 1024 * 1024;
/// The most one partition may add to a response (a larger first batch still comes whole).
const PARTITION_MAX_BYTES: i32 = 8 * 1024 * 1024;
/// Offset of the magic byte in a record batch or legacy message.
const MAGIC_AT: usize = 16;
/// Rounds in a row a partition may answer with a retriable error before we give up.
const MAX_RETRIES: u32 = 10;
/// Pause before fresh metadata after a retriable error.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// The highest Fetch version that names topics; later ones use topic ids.
const LAST_FETCH_BY_NAME: i16 = 12;

/// One record read from a partition.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The partition.
    pub(crate) partition: i32,
    /// The record's offset.
    pub(crate) offset: i64,
    /// The record's timestamp (epoch ms).
    pub(crate) timestamp: i64,
    /// The record.
    pub(crate) record: Record,
}

/// Where one partition stands.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The next offset to read.
    position: i64,
    /// The high watermark last seen.
    high_watermark: i64,
    /// Retriable errors in a row.
    retries: u32,
}

/// Reads a set of partitions of one topic.
#[derive(Debug)]
pub(crate) struct Fetcher {
    topic: TopicInfo,
    cursors: BTreeMap<i32, Cursor>,
    /// How long the broker may wait for new data.
    max_wait: Duration,
}

impl Fetcher {
    /// A fetcher starting each partition at its given position; `ends` are the log end offsets
    /// known at the start.
    pub(crate) fn new(
        topic: TopicInfo,
        starts: &BTreeMap<i32, i64>,
        ends: &BTreeMap<i32, i64>,
        max_wait: Duration,
    ) -> Self {
        let cursors = starts
            .iter()
            .map(|(&p, &position)| {
                let high_watermark = ends.get(&p).copied().unwrap_or(-1);
                (
                    p,
                    Cursor {
                        position,
                        high_watermark,
                        retries: 0,
                    },
                )
            })
            .collect();
        Self {
            topic,
            cursors,
            max_wait,
        }
    }

    /// Whether every partition has been read up to its high watermark.
    pub(crate) fn at_end(&self) -> bool {
        self.cursors
            .values()
            .all(|c| c.position >= c.high_watermark)
    }

    /// One fetch from each leader. With `skip_done`, partitions already at their high
    /// watermark are left out (for `--exit`, so a long poll does not wait on them).
    pub(crate) async fn poll(
        &mut self,
        client: &mut Client,
        skip_done: bool,
    ) -> anyhow::Result<Vec<Fetched>> {
        let mut by_leader: HashMap<i32, Vec<i32>> = HashMap::new();
        for (&p, cursor) in &self.cursors {
            if skip_done && cursor.position >= cursor.high_watermark {
                continue;
            }
            by_leader.entry(self.topic.leader(p)?).or_default().push(p);
        }
        let mut out = Vec::new();
        let mut stale = false;
        for (leader, partitions) in by_leader {
            stale |= self
                .fetch_from(client, leader, &partitions, &mut out)
                .await?;
        }
        if stale {
            tokio::time::sleep(RETRY_BACKOFF).await;
            self.topic = client.topic(&self.topic.name).await?;
        }
        Ok(out)
    }

    /// Fetches `partitions` from `leader`; returns whether a partition asked for fresh metadata.
    async fn fetch_from(
        &mut self,
        client: &mut Client,
        leader: i32,
        partitions: &[i32],
        out: &mut Vec<Fetched>,
    ) -> anyhow::Result<bool> {
        let conn = client.node(leader).await?;
        let mut version = conn.version(ApiKey::Fetch)?;
        if self.topic.id.is_nil() {
            version = version.min(LAST_FETCH_BY_NAME);
        }
        let by_id = version > LAST_FETCH_BY_NAME;
        let request = FetchRequest {
            max_wait_ms: i32::try_from(self.max_wait.as_millis()).unwrap_or(i32::MAX),
            min_bytes: 1,
            max_bytes: FETCH_MAX_BYTES,
            topics: vec![FetchTopic {
                topic: if by_id {
                    String::new()
                } else {
                    self.topic.name.clone()
                },
                topic_id: if by_id {
                    self.topic.id
                } else {
                    uuid::Uuid::nil()
                },
                partitions: partitions
                    .iter()
                    .map(|p| FetchPartition {
                        partition: *p,
                        fetch_offset: self.cursors.get(p).map_or(0, |c| c.position),
                        partition_max_bytes: PARTITION_MAX_BYTES,
                        ..FetchPartition::default()
                    })
                    .collect(),
                ..FetchTopic::default()
            }],
            ..FetchRequest::default()
        };
        let response = conn.send_at(&request, version, self.max_wait).await?;
        check(response.error_code, || {
            format!("fetch from {}", self.topic.name)
        })?;
        let mut stale = false;
        for topic in &response.responses {
            let ours = if by_id {
                topic.topic_id == self.topic.id
            } else {
                topic.topic == self.topic.name
            };
            if !ours {
                continue;
            }
            for data in &topic.partitions {
                stale |= self.absorb(client, data, out).await?;
            }
        }
        Ok(stale)
    }

    /// Takes one partition's answer: its records past the position, its high watermark, or its
    /// error. Returns whether the error asks for fresh metadata.
    async fn absorb(
        &mut self,
        client: &mut Client,
        data: &PartitionData,
        out: &mut Vec<Fetched>,
    ) -> anyhow::Result<bool> {
        let partition = data.partition_index;
        let name = self.topic.name.clone();
        let Some(cursor) = self.cursors.get_mut(&partition) else {
            return Ok(false);
        };
        let code = ErrorCode::from(data.error_code);
        if code == ErrorCode::OffsetOutOfRange {
            let position = cursor.position;
            let bounds = log_bounds(client, &name, &[partition]).await?;
            let (start, end) = bounds.get(&partition).copied().unwrap_or((-1, -1));
            bail!(
                "offset {position} is out of range for {name}-{partition} \
                 (log start {start}, log end {end})"
            );
        }
        if code.is_retriable() {
            cursor.retries += 1;
            if cursor.retries > MAX_RETRIES {
                check(data.error_code, || format!("fetch {name}-{partition}"))?;
            }
            return Ok(true);
        }
        check(data.error_code, || format!("fetch {name}-{partition}"))?;
        cursor.retries = 0;
        cursor.high_watermark = data.high_watermark;
        if let Some(records) = &data.records {
            read_batches(&name, partition, records, &mut cursor.position, out)?;
        }
        Ok(false)
    }
}

/// Decodes the complete batches in `records` (a response may end in a partial batch), emits
/// the records at or past `position`, and moves `position` past every batch.
fn read_batches(
    topic: &str,
    partition: i32,
    records: &Bytes,
    position: &mut i64,
    out: &mut Vec<Fetched>,
) -> Result<(), ClientError> {
    let mut rest = records.clone();
    while let Some(len) = batch_len(&rest) {
        if rest.len() < len {
            break; // A partial batch at the end of the response: fetched again next time.
        }
        let raw = rest.split_to(len);
        let base_offset = raw
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map_or(-1, i64::from_be_bytes);
        let bad = |source| ClientError::Records {
            topic: topic.to_owned(),
            partition,
            offset: base_offset,
            source,
        };
        if raw.get(MAGIC_AT).is_some_and(|&magic| magic < 2) {
            let messages =
                fjord_protocol::records::legacy::parse_message_set(&raw, MAX_DECOMPRESSED)
                    .map_err(bad)?;
            for m in messages {
                if m.offset >= *position {
                    out.push(Fetched {
                        partition,
                        offset: m.offset,
                        timestamp: m.timestamp.unwrap_or(-1),
                        record: Record {
                            timestamp_delta: 0,
                            offset_delta: 0,
                            key: m.key,
                            value: m.value,
                            headers: Vec::new(),
                        },
                    });
                    *position = m.offset + 1;
                }
            }
            continue;
        }
        let batch = RecordBatch::decode(&raw, MAX_DECOMPRESSED).map_err(bad)?;
        let next = batch.header.last_offset() + 1;
        if !batch.header.is_control() {
            for (offset, timestamp, record) in batch.iter_absolute() {
                if offset >= *position {
                    out.push(Fetched {
                        partition,
                        offset,
                        timestamp,
                        record: record.clone(),
                    });
                }
            }
        }
        *position = (*position).max(next);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use fjord_protocol::records::RecordBatchBuilder;

    use super::*;

    fn batch(base: i64, count: usize) -> Bytes {
        let mut builder = RecordBatchBuilder::new().base_offset(base);
        for i in 0..count {
            let value = format!("v{}", base + i64::try_from(i).unwrap());
            builder.push(1000, None, Some(Bytes::from(value)), Vec::new());
        }
        builder.build().unwrap()
    }

    #[test]
    fn records_before_the_position_inside_a_batch_are_skipped() {
        let mut all = BytesMut::new();
        all.extend_from_slice(&batch(10, 10));
        all.extend_from_slice(&batch(20, 10));
        let mut position = 15;
        let mut out = Vec::new();
        read_batches("t", 0, &all.freeze(), &mut position, &mut out).unwrap();
        let offsets: Vec<i64> = out.iter().map(|f| f.offset).collect();
        assert_eq!(offsets, (15..30).collect::<Vec<_>>());
        assert_eq!(out[0].record.value.as_deref(), Some(&b"v15"[..]));
        assert_eq!(position, 30);
    }

    #[test]
    fn a_partial_trailing_batch_is_left_for_the_next_fetch() {
        let mut all = BytesMut::new();
        all.extend_from_slice(&batch(0, 3));
        let second = batch(3, 3);
        all.extend_from_slice(&second[..second.len() - 5]);
        let mut position = 0;
        let mut out = Vec::new();
        read_batches("t", 0, &all.freeze(), &mut position, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(position, 3);
    }

    #[test]
    fn control_batches_move_the_position_without_records() {
        let marker = RecordBatchBuilder::end_txn_marker(
            7,
            0,
            fjord_protocol::records::ControlRecordType::Commit,
            0,
            1000,
        )
        .base_offset(5)
        .build()
        .unwrap();
        let mut position = 5;
        let mut out = Vec::new();
        read_batches("t", 0, &marker, &mut position, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(position, 6);
    }
}
