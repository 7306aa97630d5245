//! Codec micro-benchmarks: decoding a Produce request that carries a 1 MiB batch, checking
//! that batch's CRC, and validating it as the produce path does.
//!
//! Run: `cargo bench -p fjord-benches --bench protocol`.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::ProduceRequest;
use fjord_protocol::records::header::verify_crc;
use fjord_protocol::records::validate::{validate_batches, ValidationLimits};
use fjord_protocol::records::RecordBatchBuilder;
use fjord_protocol::{Decode, Encode};

/// A 1 MiB batch of 1 KiB records, as a producer with `batch.size=1048576` sends it.
fn one_mib_batch() -> Bytes {
    let mut builder = RecordBatchBuilder::new();
    let value = Bytes::from(vec![b'v'; 1024 - 40]);
    while builder.len() < 1000 {
        builder.push(
            1_700_000_000_000,
            Some(Bytes::from_static(b"key-0001")),
            Some(value.clone()),
            vec![],
        );
    }
    builder.build().expect("a valid batch")
}

fn produce_request(batch: Bytes, version: i16) -> Bytes {
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "bench".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    request.encode(&mut buf, version).expect("encodable");
    buf.freeze()
}

fn bench(c: &mut Criterion) {
    let batch = one_mib_batch();
    let mut group = c.benchmark_group("produce_1mib");
    group.throughput(Throughput::Bytes(batch.len() as u64));
    for version in [3i16, 9, 11] {
        let frame = produce_request(batch.clone(), version);
        group.bench_function(format!("decode_request_v{version}"), |b| {
            b.iter(|| {
                let mut input = frame.clone();
                ProduceRequest::decode(&mut input, version).expect("decodes")
            });
        });
    }
    group.bench_function("crc32c_check", |b| {
        b.iter(|| verify_crc(&batch).expect("intact"));
    });
    let limits = ValidationLimits {
        max_batch_bytes: 2 << 20,
        max_batches: 1,
        allow_control: false,
    };
    group.bench_function("validate_batches", |b| {
        b.iter(|| validate_batches(&batch, &limits).expect("valid"));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
