//! Buffers records per partition and sends them to the partition leaders as produce requests.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bytes::Bytes;
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::{ApiKey, ProduceRequest};
use fjord_protocol::records::{Compression, Header, RecordBatchBuilder};
use fjord_protocol::ErrorCode;
use fjord_tools::client::error::check_with_message;
use fjord_tools::client::Client;

/// How long the broker may take to replicate a produce (the request's `timeout_ms`).
const PRODUCE_TIMEOUT_MS: i32 = 30_000;
/// Attempts for a batch whose partition answers with a retriable error (a leader change).
const ATTEMPTS: u32 = 5;
/// Pause before asking for fresh metadata after a retriable error.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// Per-record bytes beyond key, value and headers, to estimate request sizes.
const RECORD_OVERHEAD: u64 = 20;

/// Which acknowledgement a producer waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acks {
    /// acks=0: no response at all.
    None,
    /// acks=1: the leader has the records.
    Leader,
    /// acks=all (-1): every in-sync replica has them.
    All,
}

impl Acks {
    /// Parses `0`, `1`, `all` or `-1`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        match text {
            "0" => Ok(Self::None),
            "1" => Ok(Self::Leader),
            "all" | "-1" => Ok(Self::All),
            other => Err(format!("acks must be 0, 1 or all, got {other:?}")),
        }
    }

    /// The wire value.
    pub(crate) fn wire(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Leader => 1,
            Self::All => -1,
        }
    }
}

/// What one partition's append answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionAppend {
    /// The partition.
    pub(crate) partition: i32,
    /// Records appended.
    pub(crate) count: u64,
    /// The offset of the first, when the broker answered (not with acks=0).
    pub(crate) base_offset: Option<i64>,
}

/// Records waiting to be sent, one batch per partition.
#[derive(Debug)]
pub(crate) struct Sender {
    topic: String,
    compression: Compression,
    acks: Acks,
    pending: BTreeMap<i32, RecordBatchBuilder>,
    count: usize,
    bytes: u64,
}

/// The current time in epoch milliseconds (the CreateTime of new records).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Sender {
    /// A sender for `topic`.
    pub(crate) fn new(topic: &str, compression: Compression, acks: Acks) -> Self {
        Self {
            topic: topic.to_owned(),
            compression,
            acks,
            pending: BTreeMap::new(),
            count: 0,
            bytes: 0,
        }
    }

    /// Adds a record for `partition`, stamped with the current time.
    pub(crate) fn push(
        &mut self,
        partition: i32,
        key: Option<Bytes>,
        value: Option<Bytes>,
        headers: Vec<Header>,
    ) {
        let size = key.as_ref().map_or(0, Bytes::len)
            + value.as_ref().map_or(0, Bytes::len)
            + headers
                .iter()
                .map(|h| h.key.len() + h.value.as_ref().map_or(0, Bytes::len))
                .sum::<usize>();
        self.bytes += u64::try_from(size).unwrap_or(u64::MAX) + RECORD_OVERHEAD;
        self.count += 1;
        let compression = self.compression;
        self.pending
            .entry(partition)
            .or_insert_with(|| RecordBatchBuilder::new().compression(compression))
            .push(now_ms(), key, value, headers);
    }

    /// Records waiting.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Estimated bytes waiting.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sends everything waiting, one request per leader, retrying partitions whose leader moved.
    pub(crate) async fn flush(
        &mut self,
        client: &mut Client,
    ) -> anyhow::Result<Vec<PartitionAppend>> {
        let pending = std::mem::take(&mut self.pending);
        self.count = 0;
        self.bytes = 0;
        let mut batches: BTreeMap<i32, (Bytes, u64)> = BTreeMap::new();
        for (partition, builder) in pending {
            let batch = builder
                .build()
                .with_context(|| format!("encoding a batch for {}-{partition}", self.topic))?;
            batches.insert(
                partition,
                (batch, u64::try_from(builder.len()).unwrap_or(0)),
            );
        }
        let mut done = Vec::new();
        let mut attempt = 1;
        while !batches.is_empty() {
            let outcome = self.send_once(client, &batches).await?;
            for append in &outcome.appended {
                batches.remove(&append.partition);
            }
            done.extend(outcome.appended);
            let Some((partition, code)) = outcome.retriable.first().copied() else {
                if let Some(partition) = batches.keys().next() {
                    anyhow::bail!(
                        "the broker did not answer for partition {}-{partition}; its records may \
                         or may not have been written",
                        self.topic
                    );
                }
                break;
            };
            if attempt >= ATTEMPTS {
                check_with_message(code.code(), None, || {
                    format!(
                        "produce to {}-{partition} after {ATTEMPTS} attempts",
                        self.topic
                    )
                })?;
            }
            attempt += 1;
            tokio::time::sleep(RETRY_BACKOFF).await;
            client.topic(&self.topic).await?;
        }
        Ok(done)
    }

    /// One round: a request per leader. Retriable partition errors come back for another round;
    /// others fail the flush.
    async fn send_once(
        &self,
        client: &mut Client,
        batches: &BTreeMap<i32, (Bytes, u64)>,
    ) -> anyhow::Result<Round> {
        let info = match client.cached_topic(&self.topic) {
            Some(info) => info.clone(),
            None => client.topic(&self.topic).await?,
        };
        let mut by_leader: HashMap<i32, Vec<i32>> = HashMap::new();
        for partition in batches.keys() {
            by_leader
                .entry(info.leader(*partition)?)
                .or_default()
                .push(*partition);
        }
        let mut round = Round::default();
        for (leader, partitions) in by_leader {
            let request = ProduceRequest {
                acks: self.acks.wire(),
                timeout_ms: PRODUCE_TIMEOUT_MS,
                topic_data: vec![TopicProduceData {
                    name: self.topic.clone(),
                    partition_data: partitions
                        .iter()
                        .filter_map(|p| {
                            batches.get(p).map(|(batch, _)| PartitionProduceData {
                                index: *p,
                                records: Some(batch.clone()),
                                ..PartitionProduceData::default()
                            })
                        })
                        .collect(),
                    ..TopicProduceData::default()
                }],
                ..ProduceRequest::default()
            };
            let conn = client.node(leader).await?;
            let version = conn.version(ApiKey::Produce)?;
            if self.acks == Acks::None {
                conn.send_no_response(&request, version).await?;
                round
                    .appended
                    .extend(partitions.iter().map(|p| PartitionAppend {
                        partition: *p,
                        count: batches.get(p).map_or(0, |(_, n)| *n),
                        base_offset: None,
                    }));
                continue;
            }
            let response = conn.send_at(&request, version, Duration::ZERO).await?;
            for topic in &response.responses {
                for p in &topic.partition_responses {
                    let code = ErrorCode::from(p.error_code);
                    if code.is_ok() {
                        round.appended.push(PartitionAppend {
                            partition: p.index,
                            count: batches.get(&p.index).map_or(0, |(_, n)| *n),
                            base_offset: Some(p.base_offset),
                        });
                    } else if code.is_retriable() {
                        round.retriable.push((p.index, code));
                    } else {
                        check_with_message(p.error_code, p.error_message.as_deref(), || {
                            format!("produce to {}-{}", self.topic, p.index)
                        })?;
                    }
                }
            }
        }
        Ok(round)
    }
}

/// The outcome of one send round.
#[derive(Debug, Default)]
struct Round {
    /// Partitions whose batch was appended.
    appended: Vec<PartitionAppend>,
    /// Partitions to try again, with the error they got.
    retriable: Vec<(i32, ErrorCode)>,
}
