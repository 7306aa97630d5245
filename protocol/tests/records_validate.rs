//! The produce-path validator (headers only) and the content check (decodes).

// Tests may unwrap; clippy's test exemption does not reach helper functions.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use fjord_protocol::records::header::compute_crc;
use fjord_protocol::records::{
    check_record_contents, validate_batches, Compression, ContentRules, ControlRecordType,
    RecordBatchBuilder, RecordError, ValidationLimits,
};
use fjord_protocol::ErrorCode;

fn batch(codec: Compression, count: u8) -> Bytes {
    let mut builder = RecordBatchBuilder::new()
        .compression(codec)
        .producer(11, 2, 100);
    for i in 0..count {
        builder.push(
            1000 + i64::from(i) * 3,
            Some(Bytes::from(vec![i])),
            Some(Bytes::from(vec![i; 30])),
            vec![],
        );
    }
    builder.build().unwrap()
}

fn fix_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let crc = compute_crc(&bytes);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[test]
fn summaries_come_from_headers() {
    for codec in Compression::ALL {
        let bytes = batch(codec, 4);
        let validated = validate_batches(&bytes, &ValidationLimits::default()).unwrap();
        assert_eq!(validated.record_count, 4);
        let summary = &validated.batches[0];
        assert_eq!(summary.range, 0..bytes.len());
        assert_eq!(summary.compression, codec);
        assert_eq!(summary.max_timestamp, 1009);
        assert_eq!(summary.base_timestamp, 1000);
        assert_eq!(
            (
                summary.producer_id,
                summary.producer_epoch,
                summary.base_sequence
            ),
            (11, 2, 100)
        );
        assert_eq!(summary.last_sequence(), 103);
        assert!(!summary.transactional && !summary.control);
    }
}

#[test]
fn sequences_wrap_past_i32_max() {
    let mut builder = RecordBatchBuilder::new().producer(1, 0, i32::MAX);
    builder.push(0, None, None, vec![]);
    builder.push(0, None, None, vec![]);
    let bytes = builder.build().unwrap();
    let validated = validate_batches(&bytes, &ValidationLimits::default()).unwrap();
    assert_eq!(validated.batches[0].last_sequence(), 0);
}

#[test]
fn several_batches_when_allowed() {
    let mut bytes = batch(Compression::None, 2).to_vec();
    let first_len = bytes.len();
    bytes.extend_from_slice(&batch(Compression::Gzip, 3));
    let limits = ValidationLimits {
        max_batches: 2,
        ..ValidationLimits::default()
    };
    let validated = validate_batches(&bytes, &limits).unwrap();
    assert_eq!(validated.record_count, 5);
    assert_eq!(validated.batches[1].range, first_len..bytes.len());

    let err = validate_batches(&bytes, &ValidationLimits::default()).unwrap_err();
    assert_eq!(err, RecordError::TooManyBatches { count: 2, max: 1 });
    assert_eq!(err.error_code(), ErrorCode::InvalidRecord);
}

#[test]
fn empty_records_are_rejected() {
    assert_eq!(
        validate_batches(&[], &ValidationLimits::default()),
        Err(RecordError::Empty)
    );
}

#[test]
fn oversized_batches_are_rejected_before_the_crc() {
    let mut bytes = batch(Compression::None, 4).to_vec();
    bytes[30] ^= 1; // The CRC no longer matches, but size is checked first.
    let limits = ValidationLimits {
        max_batch_bytes: 100,
        ..ValidationLimits::default()
    };
    let err = validate_batches(&bytes, &limits).unwrap_err();
    assert_eq!(
        err,
        RecordError::BatchTooLarge {
            size: bytes.len(),
            max: 100
        }
    );
    assert_eq!(err.error_code(), ErrorCode::MessageTooLarge);
}

#[test]
fn crc_mismatch_is_corrupt_message() {
    let mut bytes = batch(Compression::Lz4, 4).to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    let err = validate_batches(&bytes, &ValidationLimits::default()).unwrap_err();
    assert!(matches!(err, RecordError::CorruptCrc { .. }), "{err:?}");
    assert_eq!(err.error_code(), ErrorCode::CorruptMessage);
}

#[test]
fn last_offset_delta_must_match_the_count() {
    let mut bytes = batch(Compression::None, 3).to_vec();
    bytes[23..27].copy_from_slice(&5i32.to_be_bytes());
    let err = validate_batches(&fix_crc(bytes), &ValidationLimits::default()).unwrap_err();
    assert_eq!(
        err,
        RecordError::LastOffsetDeltaMismatch {
            last_offset_delta: 5,
            record_count: 3
        }
    );
}

#[test]
fn zero_and_absurd_counts_are_rejected() {
    let mut zero = batch(Compression::None, 1).to_vec();
    zero[57..61].copy_from_slice(&0i32.to_be_bytes());
    zero[23..27].copy_from_slice(&(-1i32).to_be_bytes());
    let err = validate_batches(&fix_crc(zero), &ValidationLimits::default()).unwrap_err();
    assert_eq!(err, RecordError::NoRecords { base_offset: 0 });

    // 1000 records cannot fit in the payload of an uncompressed 2-record batch.
    let mut absurd = batch(Compression::None, 2).to_vec();
    absurd[57..61].copy_from_slice(&1000i32.to_be_bytes());
    absurd[23..27].copy_from_slice(&999i32.to_be_bytes());
    let err = validate_batches(&fix_crc(absurd), &ValidationLimits::default()).unwrap_err();
    assert_eq!(err, RecordError::InvalidRecordCount(1000));
}

#[test]
fn legacy_magic_is_reported() {
    let mut bytes = batch(Compression::None, 1).to_vec();
    bytes[16] = 1;
    let err = validate_batches(&bytes, &ValidationLimits::default()).unwrap_err();
    assert_eq!(err, RecordError::UnsupportedMagic(1));
    assert_eq!(err.error_code(), ErrorCode::InvalidRecord);
}

#[test]
fn control_batches_only_when_allowed() {
    let marker = RecordBatchBuilder::end_txn_marker(3, 0, ControlRecordType::Abort, 1, 0)
        .build()
        .unwrap();
    let err = validate_batches(&marker, &ValidationLimits::default()).unwrap_err();
    assert_eq!(err, RecordError::ControlBatchNotAllowed { base_offset: 0 });
    let limits = ValidationLimits {
        allow_control: true,
        ..ValidationLimits::default()
    };
    let validated = validate_batches(&marker, &limits).unwrap();
    assert!(validated.batches[0].control && validated.batches[0].transactional);
}

#[test]
fn transactional_batches_need_a_producer_id() {
    let mut builder = RecordBatchBuilder::new().transactional(true);
    builder.push(0, None, None, vec![]);
    let err =
        validate_batches(&builder.build().unwrap(), &ValidationLimits::default()).unwrap_err();
    assert_eq!(
        err,
        RecordError::TransactionalWithoutProducerId { producer_id: -1 }
    );
}

#[test]
fn every_truncated_prefix_is_rejected() {
    let bytes = batch(Compression::Snappy, 3);
    for len in 1..bytes.len() {
        let err = validate_batches(&bytes[..len], &ValidationLimits::default()).unwrap_err();
        assert!(
            matches!(err, RecordError::Truncated { .. }),
            "prefix {len}: {err:?}"
        );
    }
}

#[test]
fn content_check_finds_missing_keys_and_max_timestamp() {
    let rules = ContentRules {
        max_decompressed: 1 << 20,
        require_keys: true,
    };
    for codec in Compression::ALL {
        let summary = check_record_contents(&batch(codec, 4), &rules).unwrap();
        assert_eq!(summary.record_count, 4);
        assert_eq!(summary.max_timestamp, 1009);
        assert_eq!(summary.offset_delta_of_max_timestamp, 3);

        let mut keyless = RecordBatchBuilder::new().compression(codec);
        keyless.push(0, Some(Bytes::from_static(b"k")), None, vec![]);
        keyless.push(0, None, Some(Bytes::from_static(b"v")), vec![]);
        let err = check_record_contents(&keyless.build().unwrap(), &rules).unwrap_err();
        assert_eq!(err, RecordError::MissingKey { index: 1 });
    }
}

#[test]
fn content_check_wants_consecutive_offset_deltas() {
    let mut builder = RecordBatchBuilder::new().compression(Compression::Gzip);
    builder.push(0, None, None, vec![]);
    builder.push_record(fjord_protocol::records::Record {
        offset_delta: 5,
        ..Default::default()
    });
    let rules = ContentRules {
        max_decompressed: 1 << 20,
        require_keys: false,
    };
    let err = check_record_contents(&builder.build().unwrap(), &rules).unwrap_err();
    assert_eq!(
        err,
        RecordError::OffsetDeltaOutOfOrder {
            index: 1,
            offset_delta: 5
        }
    );
}

proptest::proptest! {
    #[test]
    fn every_built_data_batch_validates(
        codec in proptest::sample::select(Compression::ALL.to_vec()),
        count in 1u8..30,
        producer in (0i64..i64::MAX, 0i16..i16::MAX, 0i32..i32::MAX),
        transactional in proptest::bool::ANY,
    ) {
        let mut builder = RecordBatchBuilder::new()
            .compression(codec)
            .producer(producer.0, producer.1, producer.2)
            .transactional(transactional);
        for i in 0..count {
            builder.push(i64::from(i), None, Some(Bytes::from(vec![i; usize::from(i)])), vec![]);
        }
        let bytes = builder.build().unwrap();
        let validated = validate_batches(&bytes, &ValidationLimits::default()).unwrap();
        let summary = &validated.batches[0];
        proptest::prop_assert_eq!(summary.record_count, i32::from(count));
        proptest::prop_assert_eq!(summary.compression, codec);
        proptest::prop_assert_eq!(summary.transactional, transactional);
        proptest::prop_assert_eq!(summary.producer_id, producer.0);
        proptest::prop_assert_eq!(summary.max_timestamp, i64::from(count) - 1);
    }
}
