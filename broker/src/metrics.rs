//! Prometheus metrics: what operators watch (throughput, latency, backlog, failures).
//!
//! Events on the request path are recorded through the `metrics` facade: a counter bump or a
//! histogram sample, nothing else. Without `--metrics` no recorder is installed and every call
//! is a no-op; with it, [`install`] puts the Prometheus recorder in place and [`http`] serves
//! `/metrics` and `/health`. State that already lives elsewhere (log offsets and sizes, group
//! states, consumer lag) is not mirrored into gauges: [`scrape`] reads it when scraped, so it is
//! always current and deleted topics or groups simply stop appearing.
//!
//! - [`request`]: per-request counts, error codes and phase latencies; open connections.
//! - [`errors`](self::errors): the error codes inside a response.
//! - [`scrape`]: the gauges computed at scrape time.
//! - [`http`]: the small HTTP/1.1 responder.
//!
//! Every metric name is in [`names`]; `docs/observability/README.md` describes each.

mod errors;
pub mod http;
pub mod request;
pub mod scrape;

use bytes::Bytes;
use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::fetch_response::PartitionData;
use fjord_protocol::records::Batches;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

pub use request::{OpenConnection, RequestTimer};

use crate::fetch_session::{FetchPlan, TopicRef};
use crate::topics::Topics;

/// Metric names, all prefixed `fjord_`.
pub mod names {
    /// Requests received, by `api` and `version`.
    pub const REQUESTS: &str = "fjord_requests_total";
    /// Error codes answered (one per distinct code per response) and requests that closed
    /// their connection, by `api`, `version` and `error`.
    pub const REQUEST_ERRORS: &str = "fjord_request_errors_total";
    /// Time from a complete request frame to its response written, by `api`.
    pub const REQUEST_SECONDS: &str = "fjord_request_duration_seconds";
    /// The same split into `phase` = `queue`, `decode`, `process`, `send`, by `api`.
    pub const REQUEST_PHASE_SECONDS: &str = "fjord_request_phase_seconds";
    /// Bytes of requests currently held by the broker: complete frames not yet answered and
    /// partly received ones in read buffers.
    pub const REQUEST_BUFFER_BYTES: &str = "fjord_request_buffer_bytes";
    /// Client connections open now.
    pub const CONNECTIONS_ACTIVE: &str = "fjord_connections_active";
    /// Client connections accepted since start.
    pub const CONNECTIONS_OPENED: &str = "fjord_connections_opened_total";
    /// Record batch bytes accepted by Produce, by `topic`.
    pub const PRODUCE_BYTES: &str = "fjord_produce_bytes_total";
    /// Records accepted by Produce, by `topic`.
    pub const PRODUCE_RECORDS: &str = "fjord_produce_records_total";
    /// Batches Produce refused, by `reason`.
    pub const PRODUCE_REJECTED: &str = "fjord_produce_rejected_batches_total";
    /// Record batch bytes sent by Fetch, by `topic`.
    pub const FETCH_BYTES: &str = "fjord_fetch_bytes_total";
    /// Records (control records excluded) sent by Fetch, by `topic`.
    pub const FETCH_RECORDS: &str = "fjord_fetch_records_total";
    /// Time one fsync of a partition log took.
    pub const FSYNC_SECONDS: &str = "fjord_log_fsync_seconds";
    /// Panics caught while handling a request (read at scrape time).
    pub const PANICS_CAUGHT: &str = "fjord_panics_caught_total";
}

/// Histogram buckets for request phases and fsyncs, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Builds the Prometheus recorder and makes it the process's recorder; from then on every
/// event above is recorded. Fails if a recorder is already installed.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    describe();
    Ok(handle)
}

/// The HELP lines.
fn describe() {
    use names::*;
    describe_counter!(REQUESTS, "Requests received, by API and version.");
    describe_counter!(
        REQUEST_ERRORS,
        "Error codes in responses (one per distinct code per response) and requests that \
         closed their connection (error=CONNECTION_CLOSED), by API, version and error."
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time from a complete request frame to its response written, by API."
    );
    describe_histogram!(
        REQUEST_PHASE_SECONDS,
        Unit::Seconds,
        "Request time by phase: queue (frame complete to handling started), decode, process \
         (the handler, including a fetch's wait), send."
    );
    describe_gauge!(
        REQUEST_BUFFER_BYTES,
        Unit::Bytes,
        "Bytes of requests held: complete frames not yet answered and partly received ones."
    );
    describe_gauge!(CONNECTIONS_ACTIVE, "Client connections open now.");
    describe_counter!(CONNECTIONS_OPENED, "Client connections accepted.");
    describe_counter!(
        PRODUCE_BYTES,
        Unit::Bytes,
        "Record batch bytes accepted by Produce."
    );
    describe_counter!(PRODUCE_RECORDS, "Records accepted by Produce.");
    describe_counter!(
        PRODUCE_REJECTED,
        "Record batches refused by Produce, by reason."
    );
    describe_counter!(
        FETCH_BYTES,
        Unit::Bytes,
        "Record batch bytes sent by Fetch."
    );
    describe_counter!(
        FETCH_RECORDS,
        "Records sent by Fetch (control records excluded)."
    );
    describe_histogram!(
        FSYNC_SECONDS,
        Unit::Seconds,
        "Duration of each fsync of a partition log."
    );
}

/// Counts a batch Produce appended to `topic`.
pub fn produce_accepted(topic: &str, batch: Option<&Bytes>) {
    let Some(batch) = batch else { return };
    let (records, _) = count_records(batch);
    counter!(names::PRODUCE_BYTES, "topic" => topic.to_owned()).increment(batch.len() as u64);
    counter!(names::PRODUCE_RECORDS, "topic" => topic.to_owned()).increment(records);
}

/// Counts a batch Produce refused with `code`.
pub fn produce_rejected(code: ErrorCode) {
    counter!(names::PRODUCE_REJECTED, "reason" => reject_reason(code)).increment(1);
}

/// The `reason` label of a refused batch.
fn reject_reason(code: ErrorCode) -> &'static str {
    match code {
        // Kafka answers a failed CRC with this code, and also a truncated or undecodable
        // batch; the handler reports only the code, so all of them count under `crc`.
        ErrorCode::CorruptMessage => "crc",
        ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge => "size",
        ErrorCode::OutOfOrderSequenceNumber | ErrorCode::DuplicateSequenceNumber => "sequence",
        ErrorCode::InvalidProducerEpoch | ErrorCode::ProducerFenced => "producer_epoch",
        ErrorCode::InvalidRecord => "invalid_record",
        ErrorCode::InvalidTimestamp => "timestamp",
        ErrorCode::InvalidTxnState => "transaction_state",
        ErrorCode::UnknownTopicOrPartition => "unknown_partition",
        ErrorCode::InvalidTopicException => "internal_topic",
        ErrorCode::UnsupportedVersion => "unsupported_version",
        ErrorCode::InvalidRequiredAcks => "invalid_acks",
        _ => "other",
    }
}

/// Counts what one Fetch sends: the bytes and records of every partition in `answers`, which
/// lines up with `plan`'s partitions.
pub fn fetched(topics: &Topics, plan: &FetchPlan, answers: &[PartitionData]) {
    for ((key, _), data) in plan.partitions.iter().zip(answers) {
        let Some(records) = data.records.as_ref().filter(|r| !r.is_empty()) else {
            continue;
        };
        let name = match &key.topic {
            TopicRef::Name(name) => name.clone(),
            TopicRef::Id(id) => match topics.get_by_id(id) {
                Some(topic) => topic.name.clone(),
                None => continue,
            },
        };
        let (count, bytes) = count_records(records);
        counter!(names::FETCH_BYTES, "topic" => name.clone()).increment(bytes);
        counter!(names::FETCH_RECORDS, "topic" => name).increment(count);
    }
}

/// Records one fsync's duration (the storage crate's fsync observer).
pub fn fsync_done(took: std::time::Duration) {
    histogram!(names::FSYNC_SECONDS).record(took.as_secs_f64());
}

/// Records (control records excluded) and bytes of the complete batches in `bytes`; a partial
/// batch at the end (a fetch cut at its byte limit) is not counted.
fn count_records(bytes: &[u8]) -> (u64, u64) {
    let mut records = 0u64;
    let mut len = 0u64;
    for (header, batch) in Batches::new(bytes).map_while(Result::ok) {
        if !header.is_control() {
            records += u64::try_from(header.record_count).unwrap_or(0);
        }
        len += batch.len() as u64;
    }
    (records, len)
}

#[cfg(test)]
mod tests {
    use fjord_storage::testing::BatchSpec;

    use super::*;

    fn batch_of(records: usize) -> Vec<u8> {
        BatchSpec::new(1_000).filler(records, 10, b'x').build()
    }

    #[test]
    fn records_are_counted_from_batch_headers() {
        let mut bytes = batch_of(3);
        bytes.extend_from_slice(&batch_of(2));
        let full = bytes.len() as u64;
        // A cut-off third batch, as a fetch at its byte limit may end.
        bytes.extend_from_slice(&batch_of(4)[..20]);
        assert_eq!(count_records(&bytes), (5, full));
    }

    #[test]
    fn produce_is_counted_per_topic() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let batch = Bytes::from(batch_of(3));
        metrics::with_local_recorder(&recorder, || {
            produce_accepted("orders", Some(&batch));
            produce_accepted("orders", Some(&batch));
            produce_rejected(ErrorCode::MessageTooLarge);
            produce_rejected(ErrorCode::CorruptMessage);
            produce_rejected(ErrorCode::MessageTooLarge);
        });
        let text = handle.render();
        let lines: Vec<&str> = text.lines().collect();
        let bytes = format!(
            "fjord_produce_bytes_total{{topic=\"orders\"}} {}",
            2 * batch.len()
        );
        for want in [
            "fjord_produce_records_total{topic=\"orders\"} 6",
            bytes.as_str(),
            "fjord_produce_rejected_batches_total{reason=\"size\"} 2",
            "fjord_produce_rejected_batches_total{reason=\"crc\"} 1",
        ] {
            assert!(lines.contains(&want), "{want} in {text}");
        }
    }
}
