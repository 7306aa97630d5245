//! Random byte streams through the whole request path of one connection, in process (an
//! in-memory pipe instead of a socket): framing, header decoding, dispatch, handlers and
//! response encoding. Whatever arrives, the connection must end by itself once the client stops
//! sending, without a panic (caught or not), and every byte it sent back must be whole
//! response frames.

// Test set-up failures should panic.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fjord_broker::broker::Broker;
use fjord_broker::config::Config;
use fjord_broker::connection::Connection;
use fjord_broker::limits;
use fjord_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::{
    ApiVersionsRequest, FetchRequest, MetadataRequest, ProduceRequest, RequestBody, RequestHeader,
};
use fjord_protocol::records::RecordBatchBuilder;
use fjord_protocol::Encode;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// Streams tried per run.
const CASES: u32 = 1024;

/// A broker with a low partition limit, so a mutated request cannot ask for a huge topic.
fn broker(dir: &std::path::Path) -> Arc<Broker> {
    let mut config = Config::for_tests(dir);
    config.limits.max_partitions_per_request = 64;
    Arc::new(Broker::open(config, ("127.0.0.1".into(), 9092)).unwrap())
}

/// A complete request frame.
fn frame(version: i16, body: &RequestBody) -> Vec<u8> {
    let api = body.api_key();
    let header = RequestHeader {
        request_api_key: api as i16,
        request_api_version: version,
        correlation_id: 1,
        client_id: Some("fuzz".into()),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let mut out = (buf.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&buf);
    out
}

/// Valid frames of the APIs a client sends most, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let mut batch = RecordBatchBuilder::new();
    batch.push(
        1,
        Some(Bytes::from_static(b"k")),
        Some(Bytes::from_static(b"v")),
        Vec::new(),
    );
    let produce = ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "fuzz".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch.build().unwrap()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let fetch = FetchRequest {
        replica_id: -1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: "fuzz".into(),
            partitions: vec![FetchPartition {
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    vec![
        frame(3, &ApiVersionsRequest::default().into()),
        frame(12, &MetadataRequest::default().into()),
        frame(4, &MetadataRequest::default().into()),
        frame(9, &produce.into()),
        frame(12, &fetch.into()),
    ]
}

/// One piece of a stream: random bytes, or a seed frame with bytes changed and maybe cut.
fn piece(seeds: Arc<Vec<Vec<u8>>>) -> BoxedStrategy<Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (
            0..n,
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            prop::option::of(any::<prop::sample::Index>()),
        )
            .prop_map(move |(i, flips, cut)| {
                let mut bytes = seeds[i].clone();
                for (at, xor) in flips {
                    let at = at.index(bytes.len());
                    bytes[at] ^= xor;
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut.index(bytes.len() + 1));
                }
                bytes
            }),
    ]
    .boxed()
}

/// Sends `input`, closes the sending side, and reads everything until the broker closes.
async fn run(broker: Arc<Broker>, input: Vec<u8>) -> Result<Vec<u8>, String> {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let (_stop, stopped) = watch::channel(false);
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let serving = tokio::spawn(Connection::new(server, peer, broker).serve(stopped));
    let reading = async {
        // Write and read at once: the broker may answer before it has read everything.
        let (mut rx, mut tx) = tokio::io::split(&mut client);
        let write = async {
            // The broker may close early; the rest of the input is then irrelevant.
            let _ = tx.write_all(&input).await;
            let _ = tx.shutdown().await;
        };
        let mut out = Vec::new();
        let read = rx.read_to_end(&mut out);
        let (_, read) = tokio::join!(write, read);
        read.map(|_| out)
    };
    let out = tokio::time::timeout(Duration::from_secs(20), reading)
        .await
        .map_err(|_| "the connection did not end after the client stopped".to_string())?
        .map_err(|e| format!("reading responses: {e}"))?;
    serving
        .await
        .map_err(|e| format!("the connection task failed: {e}"))?;
    Ok(out)
}

/// Checks that `out` is a sequence of whole size-prefixed frames.
fn whole_frames(mut out: &[u8]) -> Result<usize, String> {
    let mut frames = 0;
    while !out.is_empty() {
        let Some((size, rest)) = out.split_first_chunk::<4>() else {
            return Err(format!("{} stray bytes after {frames} frames", out.len()));
        };
        let size = i32::from_be_bytes(*size) as usize;
        if rest.len() < size {
            return Err(format!(
                "frame {frames} claims {size} bytes, {} sent",
                rest.len()
            ));
        }
        out = &rest[size..];
        frames += 1;
    }
    Ok(frames)
}

#[test]
fn random_byte_streams_end_cleanly() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broker = runtime.block_on(async { broker(dir.path()) });
    let seeds = Arc::new(seeds());
    let panics_before = limits::panics_caught();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: CASES,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let streams =
        prop::collection::vec(piece(seeds.clone()), 1..5).prop_map(|pieces| pieces.concat());
    runner
        .run(&streams, |input| {
            let out = runtime
                .block_on(run(broker.clone(), input))
                .map_err(TestCaseError::fail)?;
            whole_frames(&out).map_err(TestCaseError::fail)?;
            prop_assert_eq!(limits::panics_caught(), panics_before, "a handler panicked");
            Ok(())
        })
        .unwrap();
    // The seeds themselves are served: each gets exactly one answer.
    for seed in seeds.iter() {
        let out = runtime.block_on(run(broker.clone(), seed.clone())).unwrap();
        assert_eq!(whole_frames(&out), Ok(1), "seed of {} bytes", seed.len());
    }
}
