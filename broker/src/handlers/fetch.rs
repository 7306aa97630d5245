//! Fetch: serve stored batches as they are, waiting up to `max_wait_ms` for `min_bytes`.
//!
//! Reads start at the batch that holds the fetch offset and stop at the high watermark (or the
//! last stable offset for `read_committed`). The bytes come from the log unchanged.
//!
//! From v7 a fetch may belong to an incremental fetch session; [`crate::fetch_session`] decides
//! which partitions to read and which of them the response includes. This module only reads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use fjord_protocol::messages::{FetchRequest, FetchResponse};
use fjord_storage::ReadOptions;
use uuid::Uuid;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::dispatch::RequestContext;
use crate::error::read_error_code;
use crate::fetch_session::{
    FetchParams, FetchPlan, Observed, PartitionKey, Reported, SessionRequest, TopicRef,
};
use crate::partition::{check_leader_epoch, Partition};

/// Fetch v7 added sessions.
const SESSIONS_FROM: i16 = 7;

/// Fetch v13 replaced topic names with topic ids.
const TOPIC_IDS_FROM: i16 = 13;

/// A partition of the plan, resolved against our topics.
struct Wanted {
    partition_index: i32,
    params: FetchParams,
    partition: Result<Arc<Partition>, ErrorCode>,
}

/// Answers Fetch.
pub async fn handle(broker: &Broker, ctx: &RequestContext, request: FetchRequest) -> FetchResponse {
    let by_id = ctx.api_version >= TOPIC_IDS_FROM;
    let read_committed = request.isolation_level == 1;
    let session_request = session_request(&request, ctx.api_version, by_id);
    let plan = match broker.fetch_sessions.plan(session_request, now_ms()) {
        Ok(plan) => plan,
        Err(code) => {
            return FetchResponse {
                error_code: code.code(),
                session_id: 0,
                ..Default::default()
            }
        }
    };
    let wanted: Vec<Wanted> = plan
        .partitions
        .iter()
        .map(|(key, params)| Wanted {
            partition_index: key.partition,
            params: *params,
            partition: resolve(broker, key),
        })
        .collect();
    // Kafka's broker cap: a client may ask for up to 2 GiB per response, which the broker would
    // hold in memory; `fetch.max.bytes` bounds it. The first batch still goes whatever its size
    // (KIP-74, in `read_one`), so a large batch cannot stall a consumer.
    let max_bytes = usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(broker.config.fetch_max_bytes);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0));
    let answers = loop {
        // Register for wake-ups before reading, so an append in between is not missed.
        let mut wakeups: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = Vec::new();
        for partition in wanted.iter().filter_map(|w| w.partition.as_ref().ok()) {
            let mut appended = Box::pin(partition.appended());
            appended.as_mut().enable();
            wakeups.push(appended);
        }
        let (answers, total, any_error) = read_all(&wanted, max_bytes, read_committed);
        let expired = tokio::time::Instant::now() >= deadline;
        if total >= min_bytes || any_error || expired || wakeups.is_empty() {
            break answers;
        }
        tokio::select! {
            _ = futures::future::select_all(wakeups) => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    };
    crate::metrics::fetched(&broker.topics, &plan, &answers);
    let observed: Vec<Observed> = answers.iter().map(observe).collect();
    let completion = broker.fetch_sessions.complete(&plan, &observed, now_ms());
    FetchResponse {
        error_code: ErrorCode::None.code(),
        session_id: completion.session_id,
        responses: group_by_topic(&plan, answers, &completion.include),
        ..Default::default()
    }
}

/// The request as the session cache sees it. Before v7 there are no sessions: every fetch is
/// a full one without a session.
fn session_request(request: &FetchRequest, version: i16, by_id: bool) -> SessionRequest {
    let topic_ref = |name: &str, id: Uuid| {
        if by_id {
            TopicRef::Id(id)
        } else {
            TopicRef::Name(name.to_string())
        }
    };
    let partitions = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    PartitionKey {
                        topic: topic_ref(&t.topic, t.topic_id),
                        partition: p.partition,
                    },
                    FetchParams {
                        fetch_offset: p.fetch_offset,
                        partition_max_bytes: p.partition_max_bytes,
                        current_leader_epoch: p.current_leader_epoch,
                    },
                )
            })
        })
        .collect();
    let forgotten = request
        .forgotten_topics_data
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |&partition| PartitionKey {
                topic: topic_ref(&t.topic, t.topic_id),
                partition,
            })
        })
        .collect();
    let sessions = version >= SESSIONS_FROM;
    SessionRequest {
        session_id: if sessions { request.session_id } else { 0 },
        epoch: if sessions { request.session_epoch } else { -1 },
        uses_topic_ids: by_id,
        partitions,
        forgotten,
    }
}

fn resolve(broker: &Broker, key: &PartitionKey) -> Result<Arc<Partition>, ErrorCode> {
    let (topic, missing) = match &key.topic {
        TopicRef::Id(id) => (broker.topics.get_by_id(id), ErrorCode::UnknownTopicId),
        TopicRef::Name(name) => (broker.topics.get(name), ErrorCode::UnknownTopicOrPartition),
    };
    topic
        .and_then(|t| t.partition(key.partition))
        .ok_or(missing)
}

fn observe(data: &PartitionData) -> Observed {
    Observed {
        reported: Reported {
            high_watermark: data.high_watermark,
            last_stable_offset: data.last_stable_offset,
            log_start_offset: data.log_start_offset,
        },
        has_records: data.records.as_ref().is_some_and(|r| !r.is_empty()),
        has_error: data.error_code != ErrorCode::None.code(),
    }
}

/// Puts the included answers under their topics, one topic entry per run of partitions of the
/// same topic.
fn group_by_topic(
    plan: &FetchPlan,
    answers: Vec<PartitionData>,
    include: &[bool],
) -> Vec<FetchableTopicResponse> {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut last: Option<&TopicRef> = None;
    for (((key, _), data), included) in plan.partitions.iter().zip(answers).zip(include) {
        if !included {
            continue;
        }
        match topics.last_mut() {
            Some(current) if last == Some(&key.topic) => current.partitions.push(data),
            _ => {
                let (topic, topic_id) = match &key.topic {
                    TopicRef::Name(name) => (name.clone(), Uuid::nil()),
                    TopicRef::Id(id) => (String::new(), *id),
                };
                topics.push(FetchableTopicResponse {
                    topic,
                    topic_id,
                    partitions: vec![data],
                    ..Default::default()
                });
                last = Some(&key.topic);
            }
        }
    }
    topics
}

/// Reads every wanted partition once, within the request's byte budget.
fn read_all(
    wanted: &[Wanted],
    max_bytes: usize,
    read_committed: bool,
) -> (Vec<PartitionData>, usize, bool) {
    let mut total = 0usize;
    let mut any_error = false;
    let answers = wanted
        .iter()
        .map(|w| {
            let data = read_one(
                w,
                max_bytes.saturating_sub(total),
                total == 0,
                read_committed,
            );
            total += data.records.as_ref().map_or(0, bytes::Bytes::len);
            any_error |= data.error_code != ErrorCode::None.code();
            data
        })
        .collect();
    (answers, total, any_error)
}

fn read_one(w: &Wanted, budget: usize, first: bool, read_committed: bool) -> PartitionData {
    let failed = |code: ErrorCode| PartitionData {
        partition_index: w.partition_index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        records: None,
        ..Default::default()
    };
    let partition = match &w.partition {
        Ok(p) => p,
        Err(code) => return failed(*code),
    };
    if let Err(code) = check_leader_epoch(w.params.current_leader_epoch) {
        return failed(code);
    }
    let high_watermark = partition.high_watermark();
    let last_stable_offset = partition.last_stable_offset();
    let limit = if read_committed {
        last_stable_offset
    } else {
        high_watermark
    };
    let options = ReadOptions {
        max_offset: Some(limit),
        // KIP-74: the first partition with data returns at least one batch, however large,
        // so a consumer can always make progress.
        min_one_batch: first,
    };
    let mut data = PartitionData {
        partition_index: w.partition_index,
        error_code: ErrorCode::None.code(),
        high_watermark,
        last_stable_offset,
        log_start_offset: partition.log.log_start_offset(),
        aborted_transactions: None,
        preferred_read_replica: -1,
        ..Default::default()
    };
    let budget = budget.min(usize::try_from(w.params.partition_max_bytes).unwrap_or(0));
    if budget == 0 && !first {
        data.records = Some(bytes::Bytes::new());
        return data;
    }
    match partition.log.read(w.params.fetch_offset, budget, options) {
        Ok(read) => {
            if read_committed {
                // The consumer drops these producers' batches between the offsets given and
                // their abort markers.
                data.aborted_transactions = Some(
                    partition
                        .aborted_transactions(w.params.fetch_offset, read.next_offset)
                        .into_iter()
                        .map(|a| AbortedTransaction {
                            producer_id: a.producer_id,
                            first_offset: a.first_offset,
                            ..Default::default()
                        })
                        .collect(),
                );
            }
            data.records = Some(read.bytes);
        }
        Err(e) => {
            data.error_code = read_error_code(&e).code();
            data.records = None;
        }
    }
    data
}
