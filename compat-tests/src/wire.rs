//! Raw Kafka frames over `std::net::TcpStream`: what a broken or hostile client sends, and
//! requests no stock client sends on demand (a sequence gap, a bad CRC, pipelined frames).
//! Shared by the adversarial and rdkafka suites. Failures to talk to the broker panic: these
//! are test helpers.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::Broker;
use bytes::{Bytes, BytesMut};
use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::{FetchRequest, ProduceRequest};
use fjord_protocol::{
    ApiKey, Decode, Encode, RequestBody, RequestHeader, ResponseBody, ResponseHeader,
};

/// How long a test waits for the broker to answer or to close a connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw connection to the broker, with read and write timeouts so a test never hangs.
pub fn connect(broker: &Broker) -> TcpStream {
    let stream = TcpStream::connect(broker.bootstrap())
        .unwrap_or_else(|e| panic!("connect to {}: {e}", broker.bootstrap()));
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
}

/// The bytes of a request (header and body, no size prefix).
pub fn request_bytes(version: i16, correlation_id: i32, body: &RequestBody) -> Vec<u8> {
    let api = body.api_key();
    let header = RequestHeader {
        request_api_key: api as i16,
        request_api_version: version,
        correlation_id,
        client_id: Some("fjord-adversarial".into()),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap_or_else(|e| panic!("encoding a {api:?} v{version} header: {e}"));
    body.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encoding a {api:?} v{version} body: {e}"));
    buf.to_vec()
}

/// `payload` with its 4-byte size prefix.
pub fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Sends one request frame.
pub fn send(stream: &mut TcpStream, version: i16, correlation_id: i32, body: &RequestBody) {
    stream
        .write_all(&framed(&request_bytes(version, correlation_id, body)))
        .unwrap_or_else(|e| panic!("sending a request: {e}"));
}

/// Reads one response frame's payload; `None` when the broker closed the connection.
pub fn read_frame(stream: &mut TcpStream) -> Option<Bytes> {
    let mut size = [0u8; 4];
    match stream.read_exact(&mut size) {
        Ok(()) => {}
        Err(e) if closed_kind(e.kind()) => return None,
        Err(e) => panic!("reading a response size: {e}"),
    }
    let mut payload = vec![0u8; i32::from_be_bytes(size) as usize];
    stream
        .read_exact(&mut payload)
        .unwrap_or_else(|e| panic!("reading a response of {} bytes: {e}", payload.len()));
    Some(Bytes::from(payload))
}

/// Sends a request and decodes its response, checking the correlation id.
pub fn call(stream: &mut TcpStream, version: i16, body: impl Into<RequestBody>) -> ResponseBody {
    let body = body.into();
    let api = body.api_key();
    send(stream, version, 42, &body);
    let mut frame = read_frame(stream)
        .unwrap_or_else(|| panic!("{api:?} v{version}: connection closed instead of an answer"));
    decode_response(api, version, &mut frame, 42)
}

/// Decodes a response frame's header and body.
pub fn decode_response(
    api: ApiKey,
    version: i16,
    frame: &mut Bytes,
    correlation_id: i32,
) -> ResponseBody {
    let header = ResponseHeader::decode(frame, api.response_header_version(version))
        .unwrap_or_else(|e| panic!("{api:?} v{version} response header: {e}"));
    assert_eq!(
        header.correlation_id, correlation_id,
        "{api:?} correlation id"
    );
    ResponseBody::decode(api, version, frame)
        .unwrap_or_else(|e| panic!("{api:?} v{version} response body: {e}"))
}

/// Produces `records` (raw batch bytes) to `topic`/0 with acks=all on a new connection and
/// returns the partition's error code.
pub fn produce(broker: &Broker, topic: &str, records: Bytes) -> i16 {
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match call(&mut connect(broker), 9, request) {
        ResponseBody::Produce(r) => r
            .responses
            .first()
            .and_then(|t| t.partition_responses.first())
            .map(|p| p.error_code)
            .unwrap_or_else(|| panic!("a Produce answer without a partition: {r:?}")),
        other => panic!("unexpected response {other:?}"),
    }
}

fn closed_kind(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
    )
}

/// Asserts the broker closes `stream` (EOF or reset) without sending anything, within
/// [`IO_TIMEOUT`].
pub fn expect_closed(stream: &mut TcpStream, what: &str) {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!(
            "{what}: expected the broker to close, got {n} bytes: {:?}",
            &buf[..n]
        ),
        Err(e) if closed_kind(e.kind()) => {}
        Err(e) => panic!(
            "{what}: expected the broker to close the connection; after {:?}: {e}",
            started.elapsed()
        ),
    }
}

/// Sends raw bytes and closes our sending side (a client that stops mid-frame).
pub fn send_raw_and_half_close(stream: &mut TcpStream, bytes: &[u8]) {
    // The broker may already have closed on a bad prefix; that is what the test wants.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
}

/// Asserts that nothing arrives on `stream` for `quiet` and that it stays open: the broker has
/// not served it (yet). Absence can only be shown by waiting; the wait is bounded and short.
pub fn expect_unanswered(stream: &mut TcpStream, quiet: Duration, what: &str) {
    stream.set_read_timeout(Some(quiet)).expect("read timeout");
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Ok(0) => panic!("{what}: the broker closed the connection"),
        Ok(n) => panic!("{what}: expected no answer, got {n} bytes"),
        Err(e) => panic!("{what}: expected no answer; {e}"),
    }
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
}

/// A consumer's Fetch of `topic` partition 0 from offset 0: waits up to `max_wait_ms` for
/// `min_bytes`, and asks for at most `max_bytes` in all and for the partition.
pub fn fetch_from_start(
    topic: &str,
    max_wait_ms: i32,
    min_bytes: i32,
    max_bytes: i32,
) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes,
        max_bytes,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: max_bytes,
                current_leader_epoch: -1,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}
