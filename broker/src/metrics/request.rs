//! Per-request and per-connection accounting: counts, error codes, phase latencies, the bytes
//! of request frames held, and the slow-request log line.

use std::time::{Duration, Instant};

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::ApiKey;
use metrics::{counter, gauge, histogram};
use tracing::{warn, Span};

use super::errors::error_codes;
use super::names;
use crate::dispatch::Outcome;

/// Label value for a request whose API key we do not know.
const UNKNOWN_API: &str = "unknown";

/// Label value of `error` for a request that closed its connection instead of being answered
/// (malformed, unsupported, refused by a limit, or the response could not be written).
pub const CONNECTION_CLOSED: &str = "CONNECTION_CLOSED";

/// Version labels without an allocation per request; versions past the table are `other`.
const VERSIONS: [&str; 24] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "23",
];

fn version_label(version: i16) -> &'static str {
    usize::try_from(version)
        .ok()
        .and_then(|v| VERSIONS.get(v))
        .copied()
        .unwrap_or("other")
}

fn api_label(key: i16) -> &'static str {
    ApiKey::ALL
        .iter()
        .find(|k| **k as i16 == key)
        .map_or(UNKNOWN_API, |k| k.name())
}

/// Times one request from the moment its frame is complete to the moment its response is
/// written, and counts it when it is dropped; also accounts the frame's bytes as held until
/// then. Created by the connection's reader as each frame comes off the socket, so the time a
/// pipelined frame waits behind the request before it is measured too (the `queue` phase).
#[derive(Debug)]
pub struct RequestTimer {
    api: &'static str,
    version: &'static str,
    correlation_id: i32,
    frame_len: usize,
    /// The frame was complete in the read buffer.
    received: Instant,
    /// Its handling began (the connection answers one request at a time).
    started: Option<Instant>,
    decoded: Option<Instant>,
    processed: Option<Instant>,
    answered: bool,
    /// The request's span, so the slow-request line carries its peer, client id and
    /// correlation id even though it is written after the span was left.
    span: Option<Span>,
    slow_after: Duration,
}

impl RequestTimer {
    /// Starts timing the request in `frame` (the bytes after the size prefix); requests slower
    /// than `slow_request_ms` are logged at WARN.
    pub fn start(frame: &[u8], slow_request_ms: u64) -> Self {
        let field = |at: usize| {
            frame
                .get(at..at + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
        };
        let correlation_id = frame
            .get(4..8)
            .map_or(-1, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        gauge!(names::REQUEST_BUFFER_BYTES).increment(frame.len() as f64);
        Self {
            api: field(0).map_or(UNKNOWN_API, api_label),
            version: field(2).map_or("other", version_label),
            correlation_id,
            frame_len: frame.len(),
            received: Instant::now(),
            started: None,
            decoded: None,
            processed: None,
            answered: false,
            span: None,
            slow_after: Duration::from_millis(slow_request_ms),
        }
    }

    /// Marks the start of the request's handling: the end of its wait in the queue.
    pub fn started(&mut self) {
        self.started = Some(Instant::now());
    }

    /// Marks the request decoded; call it inside the request's span.
    pub fn decoded(&mut self) {
        self.decoded = Some(Instant::now());
        self.span = Some(Span::current());
    }

    /// Marks the handler done and counts the error codes its response carries.
    pub fn processed(&mut self, outcome: &Outcome) {
        self.processed = Some(Instant::now());
        if let Outcome::Respond(body) = outcome {
            for &code in error_codes(body).as_slice() {
                counter!(
                    names::REQUEST_ERRORS,
                    "api" => self.api,
                    "version" => self.version,
                    "error" => ErrorCode::from(code).name()
                )
                .increment(1);
            }
        }
    }

    /// Marks the response written (or not needed): the request counts as answered.
    pub fn answered(&mut self) {
        self.answered = true;
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        let done = Instant::now();
        gauge!(names::REQUEST_BUFFER_BYTES).decrement(self.frame_len as f64);
        counter!(names::REQUESTS, "api" => self.api, "version" => self.version).increment(1);
        if !self.answered {
            counter!(
                names::REQUEST_ERRORS,
                "api" => self.api,
                "version" => self.version,
                "error" => CONNECTION_CLOSED
            )
            .increment(1);
            return;
        }
        let total = done.duration_since(self.received);
        histogram!(names::REQUEST_SECONDS, "api" => self.api).record(total.as_secs_f64());
        // Phases are only known for requests that got as far as a handler.
        if let (Some(started), Some(decoded), Some(processed)) =
            (self.started, self.decoded, self.processed)
        {
            let phases = [
                ("queue", started.duration_since(self.received)),
                ("decode", decoded.duration_since(started)),
                ("process", processed.duration_since(decoded)),
                ("send", done.duration_since(processed)),
            ];
            for (phase, took) in phases {
                histogram!(names::REQUEST_PHASE_SECONDS, "api" => self.api, "phase" => phase)
                    .record(took.as_secs_f64());
            }
        }
        if total >= self.slow_after {
            let span = self.span.take().unwrap_or_else(Span::none);
            span.in_scope(|| self.log_slow(total));
        }
    }
}

impl RequestTimer {
    fn log_slow(&self, total: Duration) {
        let ms = |d: Option<Duration>| d.map_or(-1.0, |d| d.as_secs_f64() * 1000.0);
        let queue = self.started.map(|s| s.duration_since(self.received));
        let decode = self
            .started
            .zip(self.decoded)
            .map(|(s, d)| d.duration_since(s));
        let process = self
            .decoded
            .zip(self.processed)
            .map(|(d, p)| p.duration_since(d));
        warn!(
            api = self.api,
            version = self.version,
            correlation_id = self.correlation_id,
            total_ms = total.as_secs_f64() * 1000.0,
            queue_ms = ms(queue),
            decode_ms = ms(decode),
            process_ms = ms(process),
            threshold_ms = self.slow_after.as_millis() as u64,
            "slow request"
        );
    }
}

/// Moves the gauge of request bytes held when the bytes of partly received frames in one
/// connection's read buffer go from `before` to `after`.
pub(crate) fn partial_bytes_changed(before: usize, after: usize) {
    if after > before {
        gauge!(names::REQUEST_BUFFER_BYTES).increment((after - before) as f64);
    } else if before > after {
        gauge!(names::REQUEST_BUFFER_BYTES).decrement((before - after) as f64);
    }
}

/// Counts a connection as open for as long as it lives.
#[derive(Debug)]
pub struct OpenConnection(());

impl OpenConnection {
    /// Counts one more open connection.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        gauge!(names::CONNECTIONS_ACTIVE).increment(1.0);
        counter!(names::CONNECTIONS_OPENED).increment(1);
        Self(())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        gauge!(names::CONNECTIONS_ACTIVE).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use fjord_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use fjord_protocol::messages::{ProduceResponse, ResponseBody};
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    /// A Produce v9 frame's first bytes: api key 0, version 9, correlation id 7.
    const PRODUCE_V9: [u8; 8] = [0, 0, 0, 9, 0, 0, 0, 7];

    fn rendered(work: impl FnOnce()) -> String {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, work);
        handle.render()
    }

    fn has_line(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    #[test]
    fn an_answered_request_is_counted_once_with_its_error_codes() {
        let text = rendered(|| {
            let mut timer = RequestTimer::start(&PRODUCE_V9, u64::MAX);
            timer.started();
            timer.decoded();
            let body = ResponseBody::Produce(ProduceResponse {
                responses: vec![TopicProduceResponse {
                    partition_responses: vec![PartitionProduceResponse {
                        error_code: ErrorCode::MessageTooLarge.code(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            });
            timer.processed(&Outcome::Respond(body));
            timer.answered();
        });
        assert!(
            has_line(
                &text,
                "fjord_requests_total{api=\"Produce\",version=\"9\"} 1"
            ),
            "{text}"
        );
        assert!(
            has_line(
                &text,
                "fjord_request_errors_total{api=\"Produce\",version=\"9\",error=\"MESSAGE_TOO_LARGE\"} 1"
            ),
            "{text}"
        );
        assert!(
            has_line(&text, "fjord_request_buffer_bytes 0"),
            "the frame is released: {text}"
        );
        for phase in ["queue", "decode", "process", "send"] {
            let count =
                format!("fjord_request_phase_seconds_count{{api=\"Produce\",phase=\"{phase}\"}} 1");
            assert!(has_line(&text, &count), "{count} in {text}");
        }
    }

    #[test]
    fn a_request_that_closes_the_connection_counts_as_an_error() {
        let text = rendered(|| {
            let timer = RequestTimer::start(&[0, 99, 0, 1, 0, 0, 0, 1], u64::MAX);
            drop(timer);
        });
        assert!(
            has_line(
                &text,
                "fjord_request_errors_total{api=\"unknown\",version=\"1\",error=\"CONNECTION_CLOSED\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn open_connections_go_up_and_down() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let still_open = metrics::with_local_recorder(&recorder, || {
            let first = OpenConnection::new();
            let second = OpenConnection::new();
            drop(first);
            second
        });
        let text = recorder.handle().render();
        drop(still_open);
        assert!(has_line(&text, "fjord_connections_active 1"), "{text}");
        assert!(
            has_line(&text, "fjord_connections_opened_total 2"),
            "{text}"
        );
    }

    #[test]
    fn labels_are_static_for_known_and_unknown_values() {
        assert_eq!(api_label(0), "Produce");
        assert_eq!(api_label(-3), UNKNOWN_API);
        assert_eq!(version_label(17), "17");
        assert_eq!(version_label(-1), "other");
        assert_eq!(version_label(400), "other");
    }
}
