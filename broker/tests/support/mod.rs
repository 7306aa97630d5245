//! A broker in this process on a temporary directory, and a way to send it requests through
//! dispatch exactly as a connection would (encoded bytes in, typed response out).

// Test support: each test binary uses a different part; a failed set-up should panic.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fjord_broker::broker::Broker;
use fjord_broker::config::Config;
use fjord_broker::dispatch::{self, DispatchError, Outcome, RequestContext};
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::produce_response::PartitionProduceResponse;
use fjord_protocol::messages::{ApiKey, ProduceRequest, RequestBody, ResponseBody};
use tempfile::TempDir;

/// A broker and the directory it lives in (removed on drop).
pub struct TestBroker {
    pub broker: Arc<Broker>,
    _dir: TempDir,
}

/// Builds the broker the way `main.rs` does, without a listener. Must run inside a runtime
/// (the group coordinator spawns its task).
pub fn start() -> TestBroker {
    start_with(|_| {})
}

/// Like [`start`], with settings changed by `configure` first.
pub fn start_with(configure: impl FnOnce(&mut Config)) -> TestBroker {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    configure(&mut config);
    let broker = Arc::new(Broker::open(config, ("127.0.0.1".into(), 9092)).unwrap());
    TestBroker { broker, _dir: dir }
}

/// The context of a request from a test client.
pub fn ctx(api: ApiKey, version: i16) -> RequestContext {
    RequestContext {
        api,
        api_version: version,
        correlation_id: 7,
        client_id: "fjord-test".into(),
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
    }
}

/// Encodes `request` at `version` and runs it through dispatch.
pub async fn dispatch_encoded(
    broker: &Broker,
    version: i16,
    request: &RequestBody,
) -> Result<Outcome, DispatchError> {
    let api = request.api_key();
    let mut buf = BytesMut::new();
    request
        .encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("{api:?} v{version}: test request does not encode: {e}"));
    dispatch::handle(broker, &ctx(api, version), buf.freeze()).await
}

/// Sends a request and returns its response, which must encode at `version`.
pub async fn call(broker: &Broker, version: i16, request: impl Into<RequestBody>) -> ResponseBody {
    let request = request.into();
    let api = request.api_key();
    match dispatch_encoded(broker, version, &request).await {
        Ok(Outcome::Respond(body)) => {
            let mut buf = BytesMut::new();
            body.encode(&mut buf, version)
                .unwrap_or_else(|e| panic!("{api:?} v{version}: response does not encode: {e}"));
            body
        }
        Ok(other) => panic!("{api:?} v{version}: no response: {other:?}"),
        Err(e) => panic!("{api:?} v{version}: dispatch failed: {e}"),
    }
}

/// Produces `batch` to one partition with acks=all (Produce v9) and returns that partition's
/// answer.
pub async fn produce(
    broker: &Broker,
    topic: &str,
    partition: i32,
    batch: Vec<u8>,
) -> PartitionProduceResponse {
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(Bytes::from(batch)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match call(broker, 9, request).await {
        ResponseBody::Produce(mut r) => r.responses.remove(0).partition_responses.remove(0),
        other => panic!("not a Produce response: {other:?}"),
    }
}
