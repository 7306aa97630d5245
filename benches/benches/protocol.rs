//! Codec micro-benchmarks: decoding a Produce request that carries a 1 MiB batch, checking
//! that batch's CRC, and validating it as the produce path does: headers and CRC, then the
//! record walk (in place when uncompressed, a capped decompression stream for lz4 and zstd),
//! compared with decoding the records into values.
//!
//! Run: `cargo bench -p fjord-benches --bench protocol`.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fjord_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use fjord_protocol::messages::ProduceRequest;
use fjord_protocol::records::compression::{decompress, MAX_DECOMPRESSED_BYTES};
use fjord_protocol::records::header::verify_crc;
use fjord_protocol::records::header::HEADER_LEN;
use fjord_protocol::records::validate::{
    check_record_contents, validate_batches, ContentRules, ValidationLimits,
};
use fjord_protocol::records::{Compression, Record, RecordBatch, RecordBatchBuilder};
use fjord_protocol::{Decode, Encode};

/// The records of a 1 MiB batch of 1 KiB records, as a producer with `batch.size=1048576`
/// collects them.
fn one_mib_builder() -> RecordBatchBuilder {
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
    builder
}

/// That batch, encoded.
fn one_mib_batch() -> Bytes {
    one_mib_builder().build().expect("a valid batch")
}

/// About 1 MiB of 1 KiB records compressed with `codec`. Values are words drawn from a small
/// vocabulary, so they compress about as well as text or JSON (3-4x), not as well as a repeated
/// byte would: decompression speed depends on it.
fn one_mib_compressed(codec: Compression) -> Bytes {
    const WORDS: [&str; 16] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut state = 0x9e37_79b9_u32;
    let mut builder = RecordBatchBuilder::new().compression(codec);
    while builder.len() < 1000 {
        let mut value = Vec::with_capacity(1024);
        while value.len() < 1024 - 40 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            value.extend_from_slice(WORDS[(state % 16) as usize].as_bytes());
            value.push(b' ');
        }
        builder.push(
            1_700_000_000_000,
            Some(Bytes::from(format!("key-{:04}", builder.len()))),
            Some(Bytes::from(value)),
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
    // The producer's side (`fjordctl bench produce`): encoding the records and the CRC.
    let builder = one_mib_builder();
    group.bench_function("build_batch", |b| {
        b.iter(|| builder.build().expect("a valid batch"));
    });
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
    let rules = ContentRules {
        max_decompressed: MAX_DECOMPRESSED_BYTES,
        require_keys: false,
    };
    group.bench_function("check_record_contents_none", |b| {
        b.iter(|| check_record_contents(&batch, &rules).expect("valid"));
    });
    group.finish();

    // Compressed: throughput counts the decompressed records (about 1 MiB), so the figures
    // compare with the uncompressed ones above.
    for codec in [Compression::Lz4, Compression::Zstd] {
        let batch = one_mib_compressed(codec);
        let records = RecordBatch::decode(&batch, MAX_DECOMPRESSED_BYTES)
            .expect("decodes")
            .records;
        let plain: usize = records.iter().map(Record::encoded_len).sum();
        let mut group = c.benchmark_group(format!("produce_1mib_{codec}"));
        group.throughput(Throughput::Bytes(plain as u64));
        group.bench_function("validate_and_walk", |b| {
            b.iter(|| {
                validate_batches(&batch, &limits).expect("valid");
                check_record_contents(&batch, &rules).expect("valid")
            });
        });
        group.bench_function("walk_records", |b| {
            b.iter(|| check_record_contents(&batch, &rules).expect("valid"));
        });
        // The codec alone, into one buffer: the floor under any check that reads the records.
        let payload = &batch[HEADER_LEN..];
        group.bench_function("decompress_only", |b| {
            b.iter(|| decompress(codec, payload, MAX_DECOMPRESSED_BYTES).expect("unpacks"));
        });
        group.bench_function("decode_with_crc", |b| {
            b.iter(|| RecordBatch::decode(&batch, MAX_DECOMPRESSED_BYTES).expect("decodes"));
        });
        group.finish();
        eprintln!(
            "{codec}: {} compressed bytes, {plain} record bytes",
            batch.len()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
