//! Round trips of records and batches for every codec, and the ways a batch can be broken:
//! bad CRCs, truncation, lying lengths and compression bombs.

// Tests may unwrap; clippy's test exemption does not reach helper functions.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use bytes::{Bytes, BytesMut};
use fjord_protocol::primitives::finish;
use fjord_protocol::records::batch::retain_records;
use fjord_protocol::records::compression::{decompress, XERIAL_MAGIC};
use fjord_protocol::records::{
    Compression, Header, Record, RecordBatch, RecordBatchBuilder, RecordError,
};
use proptest::prelude::*;

fn opt_bytes(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from))
}

fn header() -> impl Strategy<Value = Header> {
    ("[a-z\u{e9}]{0,8}", opt_bytes(16)).prop_map(|(key, value)| Header { key, value })
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<i64>(),
        any::<i32>(),
        opt_bytes(32),
        opt_bytes(200),
        proptest::collection::vec(header(), 0..4),
    )
        .prop_map(
            |(timestamp_delta, offset_delta, key, value, headers)| Record {
                timestamp_delta,
                offset_delta,
                key,
                value,
                headers,
            },
        )
}

fn codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(Compression::ALL.to_vec())
}

proptest! {
    #[test]
    fn record_round_trips(record in record()) {
        let mut buf = BytesMut::new();
        record.encode(&mut buf).unwrap();
        prop_assert_eq!(buf.len(), record.encoded_len());
        let source = buf.freeze();
        let (used, back) = finish(Record::parse(&source, &source), source.len()).unwrap();
        prop_assert_eq!(used, source.len());
        prop_assert_eq!(back, record);
    }

    #[test]
    fn batch_round_trips(
        codec in codec(),
        records in proptest::collection::vec(record(), 0..20),
        base_offset in any::<i64>(),
        producer in (any::<i64>(), any::<i16>(), any::<i32>()),
        transactional in any::<bool>(),
        control in any::<bool>(),
    ) {
        let mut builder = RecordBatchBuilder::new()
            .compression(codec)
            .base_offset(base_offset)
            .producer(producer.0, producer.1, producer.2)
            .transactional(transactional)
            .control(control)
            .base_timestamp(1_000);
        for r in &records {
            builder.push_record(r.clone());
        }
        let bytes = builder.build().unwrap();
        let batch = RecordBatch::decode(&bytes, 1 << 20).unwrap();
        prop_assert_eq!(batch.compression(), Ok(codec));
        prop_assert_eq!(batch.header.base_offset, base_offset);
        prop_assert_eq!(batch.header.producer_id, producer.0);
        prop_assert_eq!(batch.header.producer_epoch, producer.1);
        prop_assert_eq!(batch.header.base_sequence, producer.2);
        prop_assert_eq!(batch.header.is_transactional(), transactional);
        prop_assert_eq!(batch.header.is_control(), control);
        prop_assert_eq!(batch.header.record_count as usize, records.len());
        prop_assert_eq!(batch.records, records);
    }

    #[test]
    fn a_flipped_bit_after_the_crc_field_is_caught(
        codec in codec(),
        records in proptest::collection::vec(record(), 1..5),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut builder = RecordBatchBuilder::new().compression(codec);
        for r in records {
            builder.push_record(r);
        }
        let mut bytes = builder.build().unwrap().to_vec();
        // The CRC covers byte 21 onwards.
        let at = 21 + position.index(bytes.len() - 21);
        bytes[at] ^= 1 << bit;
        let err = RecordBatch::decode(&Bytes::from(bytes), 1 << 20).unwrap_err();
        prop_assert!(matches!(err, RecordError::CorruptCrc { .. }), "{err:?}");
    }
}

proptest! {
    #[test]
    fn retained_records_keep_every_header_field_but_count_length_and_crc(
        codec in codec(),
        records in proptest::collection::vec(record(), 1..12),
        keep in proptest::collection::vec(any::<bool>(), 12),
        producer in (any::<i64>(), any::<i16>(), any::<i32>()),
    ) {
        let mut builder = RecordBatchBuilder::new()
            .compression(codec)
            .base_offset(500)
            .producer(producer.0, producer.1, producer.2)
            .base_timestamp(1_000);
        for r in &records {
            builder.push_record(r.clone());
        }
        let original = RecordBatch::decode(&builder.build().unwrap(), 1 << 20).unwrap();
        let kept: Vec<Record> = records
            .iter()
            .zip(&keep)
            .filter(|(_, keep)| **keep)
            .map(|(r, _)| r.clone())
            .collect();
        let rebuilt = retain_records(&builder.build().unwrap(), &kept).unwrap();
        // Decoding checks the CRC and that the length and count match the records.
        let back = RecordBatch::decode(&rebuilt, 1 << 20).unwrap();
        prop_assert_eq!(&back.records, &kept);
        let (h, o) = (back.header, original.header);
        prop_assert_eq!(h.record_count as usize, kept.len());
        prop_assert_eq!(h.attributes, o.attributes);
        prop_assert_eq!(h.last_offset_delta, o.last_offset_delta);
        prop_assert_eq!(h.base_timestamp, o.base_timestamp);
        prop_assert_eq!(h.max_timestamp, o.max_timestamp);
        prop_assert_eq!(
            (h.base_offset, h.producer_id, h.producer_epoch, h.base_sequence),
            (o.base_offset, o.producer_id, o.producer_epoch, o.base_sequence)
        );
    }
}

fn sample_batch(codec: Compression) -> Bytes {
    let mut builder = RecordBatchBuilder::new().compression(codec);
    for i in 0..5u8 {
        builder.push(
            i64::from(i),
            Some(Bytes::from(vec![i; 4])),
            Some(Bytes::from(vec![i; 40])),
            vec![Header {
                key: "k".into(),
                value: None,
            }],
        );
    }
    builder.build().unwrap()
}

#[test]
fn every_truncated_prefix_fails_cleanly() {
    for codec in Compression::ALL {
        let batch = sample_batch(codec);
        for len in 0..batch.len() {
            let prefix = batch.slice(..len);
            let err = RecordBatch::decode(&prefix, 1 << 20).unwrap_err();
            assert!(
                matches!(err, RecordError::Truncated { .. }),
                "{codec} prefix {len}: {err:?}"
            );
        }
    }
}

/// Re-stamps the CRC so that a deliberately broken payload gets past the CRC check.
fn with_fixed_crc(mut bytes: Vec<u8>) -> Bytes {
    let crc = fjord_protocol::records::header::compute_crc(&bytes);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(bytes)
}

#[test]
fn record_count_that_lies_is_rejected() {
    let batch = sample_batch(Compression::None).to_vec();
    let mut more = batch.clone();
    more[57..61].copy_from_slice(&6i32.to_be_bytes());
    let err = RecordBatch::decode(&with_fixed_crc(more), 1 << 20).unwrap_err();
    assert!(
        matches!(err, RecordError::InvalidRecord { index: 5, .. }),
        "{err:?}"
    );

    let mut fewer = batch.clone();
    fewer[57..61].copy_from_slice(&4i32.to_be_bytes());
    let err = RecordBatch::decode(&with_fixed_crc(fewer), 1 << 20).unwrap_err();
    assert!(
        matches!(err, RecordError::TrailingRecordBytes { count: 4, .. }),
        "{err:?}"
    );

    let mut negative = batch;
    negative[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    let err = RecordBatch::decode(&with_fixed_crc(negative), 1 << 20).unwrap_err();
    assert_eq!(err, RecordError::InvalidRecordCount(-1));
}

#[test]
fn record_length_that_lies_is_rejected_with_its_path() {
    let mut batch = sample_batch(Compression::None).to_vec();
    // The first record's length varint sits right after the header; shrink it by one.
    let len = batch[61];
    batch[61] = len - 2;
    let err = RecordBatch::decode(&with_fixed_crc(batch), 1 << 20).unwrap_err();
    let RecordError::InvalidRecord { index, source } = err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(index, 0);
    assert_eq!(source.path(), "length");
    assert_eq!(source.offset(), Some(0));
}

#[test]
fn unknown_codec_is_rejected() {
    let mut batch = sample_batch(Compression::None).to_vec();
    batch[22] |= 0x07;
    let err = RecordBatch::decode(&with_fixed_crc(batch), 1 << 20).unwrap_err();
    assert_eq!(err, RecordError::UnsupportedCompression(7));
}

#[test]
fn compression_bombs_are_rejected_at_the_limit() {
    // 64 MiB of zeros compress to a few kilobytes in every codec.
    let zeros = vec![0u8; 64 << 20];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bomb = fjord_protocol::records::compression::compress(codec, &zeros).unwrap();
        assert!(bomb.len() < 4 << 20, "{codec}: {}", bomb.len());
        let err = decompress(codec, &bomb, 1 << 20).unwrap_err();
        assert_eq!(
            err,
            RecordError::DecompressedTooLarge {
                codec,
                limit: 1 << 20
            }
        );
    }
}

#[test]
fn a_batch_whose_records_decompress_past_the_limit_is_rejected() {
    let mut builder = RecordBatchBuilder::new().compression(Compression::Zstd);
    builder.push(0, None, Some(Bytes::from(vec![0u8; 100_000])), vec![]);
    let batch = builder.build().unwrap();
    assert!(batch.len() < 1000);
    let err = RecordBatch::decode(&batch, 10_000).unwrap_err();
    assert_eq!(
        err,
        RecordError::DecompressedTooLarge {
            codec: Compression::Zstd,
            limit: 10_000
        }
    );
    assert!(RecordBatch::decode(&batch, 200_000).is_ok());
}

#[test]
fn raw_snappy_claiming_a_huge_size_allocates_nothing() {
    // A raw snappy block starts with its uncompressed length as a varint: claim 4 GiB - 1.
    let lie = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    let err = decompress(Compression::Snappy, &lie, 1 << 20).unwrap_err();
    assert!(
        matches!(err, RecordError::DecompressedTooLarge { .. }),
        "{err:?}"
    );
}

/// Xerial framing, built by hand: magic, version 1, compatible version 1, then blocks of
/// [length i32 BE][raw snappy].
fn xerial_frame(blocks: &[&[u8]]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.write_all(&XERIAL_MAGIC).unwrap();
    frame.write_all(&1i32.to_be_bytes()).unwrap();
    frame.write_all(&1i32.to_be_bytes()).unwrap();
    for block in blocks {
        let raw = snap::raw::Encoder::new().compress_vec(block).unwrap();
        frame.write_all(&(raw.len() as i32).to_be_bytes()).unwrap();
        frame.write_all(&raw).unwrap();
    }
    frame
}

#[test]
fn hand_built_xerial_frame_decodes() {
    let frame = xerial_frame(&[b"hello, ", b"xerial ", b"world"]);
    assert_eq!(frame[..8], *b"\x82SNAPPY\0");
    let plain = decompress(Compression::Snappy, &frame, 100).unwrap();
    assert_eq!(plain, b"hello, xerial world");
}

#[test]
fn xerial_frame_limit_counts_all_blocks() {
    let block = vec![1u8; 1000];
    let frame = xerial_frame(&[&block, &block, &block]);
    assert!(decompress(Compression::Snappy, &frame, 3000).is_ok());
    assert_eq!(
        decompress(Compression::Snappy, &frame, 2999).unwrap_err(),
        RecordError::DecompressedTooLarge {
            codec: Compression::Snappy,
            limit: 2999
        }
    );
}

#[test]
fn broken_xerial_frames_fail() {
    let frame = xerial_frame(&[b"some data here"]);
    for len in 8..frame.len() {
        if len == 16 {
            // A header with no blocks is an empty payload.
            continue;
        }
        let err = decompress(Compression::Snappy, &frame[..len], 100).unwrap_err();
        assert!(
            matches!(err, RecordError::Decompress { .. }),
            "prefix {len}: {err:?}"
        );
    }
    let mut negative = frame.clone();
    negative[16..20].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(decompress(Compression::Snappy, &negative, 100).is_err());
}

#[test]
fn garbage_payloads_fail_for_every_codec() {
    let garbage = [0x13u8; 64];
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let err = decompress(codec, &garbage, 1 << 20).unwrap_err();
        assert!(
            matches!(err, RecordError::Decompress { .. }),
            "{codec}: {err:?}"
        );
    }
}

#[test]
fn records_share_the_batch_buffer() {
    let batch = sample_batch(Compression::None);
    let decoded = RecordBatch::decode(&batch, 1 << 20).unwrap();
    let value = decoded.records[0].value.as_ref().unwrap();
    let range = batch.as_ptr_range();
    assert!(range.contains(&value.as_ptr()));
}

#[test]
fn log_append_time_batches_report_the_append_time() {
    let mut builder = RecordBatchBuilder::new().log_append_time(99);
    builder.push(5, None, None, vec![]);
    builder.push(7, None, None, vec![]);
    let batch = RecordBatch::decode(&builder.build().unwrap(), 1024).unwrap();
    let timestamps: Vec<i64> = batch.iter_absolute().map(|(_, t, _)| t).collect();
    assert_eq!(timestamps, vec![99, 99]);
}

#[test]
fn recompress_changes_only_the_codec() {
    use fjord_protocol::records::{Compression, RecordBatch, RecordBatchBuilder};
    let mut builder = RecordBatchBuilder::new()
        .producer(7, 2, 40)
        .transactional(true)
        .compression(Compression::None);
    for i in 0..20 {
        builder.push(
            1_700_000_000_000 + i,
            Some(Bytes::from(format!("k{i}"))),
            Some(Bytes::from(vec![b'v'; 200])),
            vec![],
        );
    }
    let plain = builder.build().unwrap();
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let packed = RecordBatch::recompress(&plain, codec, 1 << 20).unwrap();
        let before = RecordBatch::decode(&plain, 1 << 20).unwrap();
        let after = RecordBatch::decode(&packed, 1 << 20).unwrap();
        assert_eq!(after.compression().unwrap(), codec);
        assert_eq!(after.records, before.records);
        let (b, a) = (before.header, after.header);
        assert_eq!(
            (
                a.last_offset_delta,
                a.base_timestamp,
                a.max_timestamp,
                a.record_count
            ),
            (
                b.last_offset_delta,
                b.base_timestamp,
                b.max_timestamp,
                b.record_count
            )
        );
        assert_eq!(
            (a.producer_id, a.producer_epoch, a.base_sequence),
            (7, 2, 40)
        );
        assert!(a.is_transactional());
        assert!(
            packed.len() < plain.len(),
            "{codec:?} should shrink repetitive values"
        );
    }
}
