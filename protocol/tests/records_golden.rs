//! Golden bytes for v2 batches, written out by hand from the format, and interoperability with
//! an independent encoder/decoder (the `kafka-protocol` crate) for every codec.

// Tests may unwrap; clippy's test exemption does not reach helper functions.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use fjord_protocol::records::{
    BatchHeader, Compression, ControlRecord, ControlRecordType, EndTxnMarker, Header, RecordBatch,
    RecordBatchBuilder,
};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;

fn headers_map(pairs: &[(&str, Option<&[u8]>)]) -> IndexMap<StrBytes, Option<Bytes>> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                StrBytes::from_string((*k).to_owned()),
                v.map(Bytes::copy_from_slice),
            )
        })
        .collect()
}

const TS: i64 = 1_700_000_000_000;

#[rustfmt::skip]
const ONE_RECORD_BATCH: [u8; 70] = [
    0, 0, 0, 0, 0, 0, 0, 0,                 // base offset 0
    0, 0, 0, 58,                            // batch length: 70 - 12
    0xff, 0xff, 0xff, 0xff,                 // partition leader epoch -1
    2,                                      // magic
    0xe9, 0x9b, 0x8d, 0xd8,                 // CRC-32C of bytes 21.. (computed independently)
    0, 0,                                   // attributes: none
    0, 0, 0, 0,                             // last offset delta
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // base timestamp 1_700_000_000_000
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // max timestamp
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producer id -1
    0xff, 0xff,                             // producer epoch -1
    0xff, 0xff, 0xff, 0xff,                 // base sequence -1
    0, 0, 0, 1,                             // record count
    // record: length 8 (zigzag 0x10), attributes, ts delta 0, offset delta 0,
    // key "k" (zigzag 1 = 2), value "v", no headers
    0x10, 0, 0, 0, 2, b'k', 2, b'v', 0,
];

#[test]
fn builder_writes_the_hand_computed_bytes() {
    let mut builder = RecordBatchBuilder::new();
    builder.push(
        TS,
        Some(Bytes::from_static(b"k")),
        Some(Bytes::from_static(b"v")),
        vec![],
    );
    let batch = builder.build().unwrap();
    assert_eq!(&batch[..], &ONE_RECORD_BATCH[..]);
}

#[test]
fn hand_computed_bytes_decode() {
    let batch = RecordBatch::decode(&Bytes::from_static(&ONE_RECORD_BATCH), 1024).unwrap();
    assert_eq!(batch.header.crc, 0xe99b_8dd8);
    assert_eq!(batch.header.max_timestamp, TS);
    assert_eq!(batch.records.len(), 1);
    assert_eq!(batch.records[0].key.as_deref(), Some(&b"k"[..]));
    assert_eq!(batch.records[0].value.as_deref(), Some(&b"v"[..]));
}

#[test]
fn idempotent_transactional_header_fields_land_where_kafka_puts_them() {
    let mut builder = RecordBatchBuilder::new()
        .producer(42, 3, 7)
        .transactional(true)
        .partition_leader_epoch(1);
    builder.push(
        1000,
        Some(Bytes::from_static(b"a")),
        Some(Bytes::from_static(b"1")),
        vec![],
    );
    builder.push(
        1005,
        Some(Bytes::from_static(b"b")),
        Some(Bytes::from_static(b"2")),
        vec![],
    );
    let batch = builder.build().unwrap();
    #[rustfmt::skip]
    let expected_header: [u8; 61] = [
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 67,                // 61 + 2 * 9 - 12
        0, 0, 0, 1,                 // leader epoch 1
        2,
        0x72, 0xfd, 0xa2, 0x71,     // CRC-32C (computed independently)
        0, 0x10,                    // attributes: transactional
        0, 0, 0, 1,                 // last offset delta 1
        0, 0, 0, 0, 0, 0, 0x03, 0xe8, // base timestamp 1000
        0, 0, 0, 0, 0, 0, 0x03, 0xed, // max timestamp 1005
        0, 0, 0, 0, 0, 0, 0, 42,    // producer id
        0, 3,                       // producer epoch
        0, 0, 0, 7,                 // base sequence
        0, 0, 0, 2,                 // record count
    ];
    assert_eq!(&batch[..61], &expected_header[..]);
    // Second record: ts delta 5 (zigzag 10), offset delta 1 (zigzag 2).
    assert_eq!(&batch[61 + 9..], &[0x10, 0, 0x0a, 2, 2, b'b', 2, b'2', 0]);
}

#[test]
fn end_txn_marker_batch_has_control_layout() {
    let batch = RecordBatchBuilder::end_txn_marker(9, 1, ControlRecordType::Commit, 5, TS)
        .build()
        .unwrap();
    let header = BatchHeader::parse(&batch).unwrap();
    assert!(header.is_control());
    assert!(header.is_transactional());
    assert_eq!(header.producer_id, 9);
    let decoded = RecordBatch::decode(&batch, 1024).unwrap();
    assert_eq!(
        decoded.control_record(),
        Some(Ok(ControlRecord::new(ControlRecordType::Commit)))
    );
    let value = decoded.records[0].value.as_deref().unwrap();
    assert_eq!(EndTxnMarker::parse(value), Ok(EndTxnMarker::new(5)));
}

fn kp_codec(codec: Compression) -> kafka_protocol::records::Compression {
    use kafka_protocol::records::Compression as K;
    match codec {
        Compression::None => K::None,
        Compression::Gzip => K::Gzip,
        Compression::Snappy => K::Snappy,
        Compression::Lz4 => K::Lz4,
        Compression::Zstd => K::Zstd,
    }
}

#[test]
fn our_batches_decode_with_kafka_protocol() {
    for codec in Compression::ALL {
        let mut builder = RecordBatchBuilder::new()
            .compression(codec)
            .producer(5, 0, 10);
        for i in 0..50u8 {
            builder.push(
                TS + i64::from(i),
                Some(Bytes::from(vec![i; 3])),
                (i % 7 != 0).then(|| Bytes::from(vec![i; 200])),
                vec![Header {
                    key: format!("h{i}"),
                    value: Some(Bytes::from_static(b"x")),
                }],
            );
        }
        let mut batch = builder.build().unwrap();
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut batch).unwrap();
        assert_eq!(set.records.len(), 50, "{codec}");
        for (i, record) in set.records.iter().enumerate() {
            assert_eq!(record.offset, i as i64, "{codec}");
            assert_eq!(record.timestamp, TS + i as i64, "{codec}");
            assert_eq!(record.sequence, 10 + i as i32, "{codec}");
            assert_eq!(record.key.as_deref(), Some(&[i as u8; 3][..]), "{codec}");
            assert_eq!(record.headers.len(), 1, "{codec}");
        }
    }
}

#[test]
fn kafka_protocol_batches_decode_with_ours() {
    for codec in Compression::ALL {
        let records: Vec<kafka_protocol::records::Record> = (0..40i64)
            .map(|i| kafka_protocol::records::Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: 7,
                producer_epoch: 0,
                timestamp_type: kafka_protocol::records::TimestampType::Creation,
                offset: i,
                // The encoder starts a new batch whenever offset - sequence changes.
                sequence: i as i32,
                timestamp: TS + i * 10,
                key: Some(Bytes::from(format!("key-{i}"))),
                value: Some(Bytes::from(vec![b'v'; 300])),
                headers: headers_map(&[("trace", Some(b"abc")), ("empty", None)]),
            })
            .collect();
        let mut buf = BytesMut::new();
        kafka_protocol::records::RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &kafka_protocol::records::RecordEncodeOptions {
                version: 2,
                compression: kp_codec(codec),
            },
        )
        .unwrap();
        let batches = RecordBatch::decode_all(&buf.freeze(), 1 << 20).unwrap();
        assert_eq!(batches.len(), 1, "{codec}");
        let batch = &batches[0];
        assert_eq!(batch.compression(), Ok(codec));
        let absolute: Vec<(i64, i64)> = batch.iter_absolute().map(|(o, t, _)| (o, t)).collect();
        let expected: Vec<(i64, i64)> = (0..40).map(|i| (i, TS + i * 10)).collect();
        assert_eq!(absolute, expected, "{codec}");
        let headers = &batch.records[3].headers;
        assert_eq!(headers[0].key, "trace");
        assert_eq!(headers[0].value.as_deref(), Some(&b"abc"[..]));
        assert_eq!(headers[1].value, None);
    }
}
