//! Fetch: serve stored batches as they are, waiting up to `max_wait_ms` for `min_bytes`.
//!
//! Reads start at the batch that holds the fetch offset and stop at the high watermark (or the
//! last stable offset for `read_committed`). The bytes come from the log unchanged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::fetch_request::FetchTopic;
use fjord_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use fjord_protocol::messages::{FetchRequest, FetchResponse};
use fjord_storage::ReadOptions;

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::read_error_code;
use crate::partition::{check_leader_epoch, Partition};
use crate::topics::Topic;

/// Fetch v13 replaced topic names with topic ids.
const TOPIC_IDS_FROM: i16 = 13;

/// A partition of the request, resolved against our topics.
struct Wanted {
    topic_index: usize,
    partition_index: i32,
    fetch_offset: i64,
    partition_max_bytes: usize,
    current_leader_epoch: i32,
    partition: Result<Arc<Partition>, ErrorCode>,
}

/// Answers Fetch.
pub async fn handle(broker: &Broker, ctx: &RequestContext, request: FetchRequest) -> FetchResponse {
    // Fetch sessions (KIP-227) are declined: we answer every fetch in full with session id 0,
    // which clients treat as "no session".
    if request.session_id != 0 {
        return FetchResponse {
            error_code: ErrorCode::FetchSessionIdNotFound.code(),
            ..Default::default()
        };
    }
    let by_id = ctx.api_version >= TOPIC_IDS_FROM;
    let read_committed = request.isolation_level == 1;
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut wanted = Vec::new();
    for (topic_index, fetch_topic) in request.topics.iter().enumerate() {
        let (topic, missing) = resolve(broker, fetch_topic, by_id);
        topics.push(FetchableTopicResponse {
            topic: fetch_topic.topic.clone(),
            topic_id: fetch_topic.topic_id,
            partitions: Vec::with_capacity(fetch_topic.partitions.len()),
            ..Default::default()
        });
        for p in &fetch_topic.partitions {
            let partition = topic
                .as_ref()
                .and_then(|t| t.partition(p.partition))
                .ok_or(missing);
            wanted.push(Wanted {
                topic_index,
                partition_index: p.partition,
                fetch_offset: p.fetch_offset,
                partition_max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                current_leader_epoch: p.current_leader_epoch,
                partition,
            });
        }
    }
    let max_bytes = usize::try_from(request.max_bytes).unwrap_or(0);
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
    for (w, data) in wanted.iter().zip(answers) {
        topics[w.topic_index].partitions.push(data);
    }
    FetchResponse {
        error_code: ErrorCode::None.code(),
        session_id: 0,
        responses: topics,
        ..Default::default()
    }
}

fn resolve(
    broker: &Broker,
    fetch_topic: &FetchTopic,
    by_id: bool,
) -> (Option<Arc<Topic>>, ErrorCode) {
    if by_id {
        (
            broker.topics.get_by_id(&fetch_topic.topic_id),
            ErrorCode::UnknownTopicId,
        )
    } else {
        (
            broker.topics.get(&fetch_topic.topic),
            ErrorCode::UnknownTopicOrPartition,
        )
    }
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
    if let Err(code) = check_leader_epoch(w.current_leader_epoch) {
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
    let budget = budget.min(w.partition_max_bytes);
    if budget == 0 && !first {
        data.records = Some(bytes::Bytes::new());
        return data;
    }
    match partition.log.read(w.fetch_offset, budget, options) {
        Ok(read) => data.records = Some(read.bytes),
        Err(e) => {
            data.error_code = read_error_code(&e).code();
            data.records = None;
        }
    }
    data
}
