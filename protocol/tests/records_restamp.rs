//! In-place re-stamping of a v2 batch header (`records::header::restamp`): only the broker-owned
//! header fields change, the records are left byte for byte, and the CRC moves exactly when a
//! field it covers does.

// Tests may unwrap; clippy's test exemption does not reach helper functions.
#![allow(clippy::unwrap_used)]

use std::ops::Range;

use bytes::Bytes;
use fjord_protocol::records::header::{
    compute_crc, restamp, restamp_header, verify_crc, BatchHeader, HEADER_LEN,
};
use fjord_protocol::records::{
    validate_batches, Compression, RecordBatch, RecordBatchBuilder, RecordError, ValidationLimits,
};

/// Header bytes `restamp` may write: base offset and leader epoch.
const OFFSET_AND_EPOCH: [Range<usize>; 2] = [0..8, 12..16];
/// Header bytes it may also write for `LogAppendTime`: CRC, attributes and max timestamp.
const APPEND_TIME: [Range<usize>; 3] = [17..21, 21..23, 35..43];

fn batch(codec: Compression) -> Vec<u8> {
    let mut builder = RecordBatchBuilder::new()
        .compression(codec)
        .producer(7, 1, 40)
        .partition_leader_epoch(3);
    for i in 0..5u8 {
        builder.push(
            5_000 + i64::from(i),
            Some(Bytes::from(vec![i; 4])),
            Some(Bytes::from(vec![i; 40])),
            vec![],
        );
    }
    builder.build().unwrap().to_vec()
}

/// Indexes where `a` and `b` differ.
fn changed(a: &[u8], b: &[u8]) -> Vec<usize> {
    assert_eq!(a.len(), b.len(), "restamp changed the batch length");
    (0..a.len()).filter(|&i| a[i] != b[i]).collect()
}

fn assert_within(changed: &[usize], allowed: &[Range<usize>]) {
    for i in changed {
        assert!(
            allowed.iter().any(|r| r.contains(i)),
            "byte {i} changed outside {allowed:?}"
        );
    }
}

#[test]
fn offset_and_epoch_touch_only_their_bytes_and_keep_the_crc() {
    for codec in Compression::ALL {
        let before = batch(codec);
        let mut after = before.clone();
        restamp(&mut after, 1_234_567, 42, None).unwrap();

        let diff = changed(&before, &after);
        assert!(!diff.is_empty());
        assert_within(&diff, &OFFSET_AND_EPOCH);
        // Neither field is CRC-covered, so the CRC bytes and everything after them stay put.
        assert_eq!(&after[17..], &before[17..], "{codec}");
        verify_crc(&after).unwrap();

        let header = BatchHeader::parse(&after).unwrap();
        assert_eq!(header.base_offset, 1_234_567);
        assert_eq!(header.partition_leader_epoch, 42);
        assert!(!header.is_log_append_time());
        assert_eq!(header.max_timestamp, 5_004);
    }
}

#[test]
fn leader_epoch_alone_leaves_the_crc() {
    let before = batch(Compression::None);
    let base = BatchHeader::parse(&before).unwrap().base_offset;
    let mut after = before.clone();
    // Every byte of the new epoch differs from the old one (3).
    restamp(&mut after, base, 0x0102_0304, None).unwrap();
    assert_eq!(changed(&before, &after), vec![12, 13, 14, 15]);
    assert_eq!(
        BatchHeader::parse(&after).unwrap().crc,
        BatchHeader::parse(&before).unwrap().crc
    );
    verify_crc(&after).unwrap();
}

#[test]
fn log_append_time_rewrites_covered_fields_and_recomputes_the_crc() {
    for codec in Compression::ALL {
        let before = batch(codec);
        let old = BatchHeader::parse(&before).unwrap();
        let mut after = before.clone();
        restamp(&mut after, 300, 8, Some(1_700_000_000_000)).unwrap();

        let diff = changed(&before, &after);
        let allowed: Vec<Range<usize>> = OFFSET_AND_EPOCH.into_iter().chain(APPEND_TIME).collect();
        assert_within(&diff, &allowed);
        // The records, compressed or not, are the client's bytes untouched.
        assert_eq!(&after[HEADER_LEN..], &before[HEADER_LEN..], "{codec}");

        let new = BatchHeader::parse(&after).unwrap();
        assert_ne!(new.crc, old.crc, "{codec}: CRC-covered fields changed");
        assert_eq!(new.crc, compute_crc(&after));
        verify_crc(&after).unwrap();
        assert!(new.is_log_append_time());
        assert_eq!(new.max_timestamp, 1_700_000_000_000);
        assert_eq!((new.base_offset, new.partition_leader_epoch), (300, 8));
        // Everything the client owns is as it sent it.
        assert_eq!(new.base_timestamp, old.base_timestamp);
        assert_eq!(new.compression(), old.compression());
        assert_eq!(
            (new.producer_id, new.producer_epoch, new.base_sequence),
            (old.producer_id, old.producer_epoch, old.base_sequence)
        );
        assert_eq!(
            (new.record_count, new.last_offset_delta),
            (old.record_count, old.last_offset_delta)
        );

        // The re-stamped batch still validates and decodes, and readers see the append time.
        validate_batches(&after, &ValidationLimits::default()).unwrap();
        let decoded = RecordBatch::decode(&Bytes::from(after), 1 << 20).unwrap();
        let stamps: Vec<(i64, i64)> = decoded
            .iter_absolute()
            .map(|(offset, timestamp, _)| (offset, timestamp))
            .collect();
        assert_eq!(
            stamps,
            (300..305)
                .map(|o| (o, 1_700_000_000_000))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn restamping_a_header_copy_gives_the_in_place_result() {
    for codec in Compression::ALL {
        for append_time in [None, Some(1_700_000_000_000)] {
            let before = batch(codec);
            let mut in_place = before.clone();
            restamp(&mut in_place, 300, 8, append_time).unwrap();
            let mut header: [u8; HEADER_LEN] = before[..HEADER_LEN].try_into().unwrap();
            restamp_header(&mut header, &before[HEADER_LEN..], 300, 8, append_time);
            assert_eq!(
                &header[..],
                &in_place[..HEADER_LEN],
                "{codec} {append_time:?}"
            );
        }
    }
}

#[test]
fn restamping_is_idempotent() {
    let mut once = batch(Compression::Lz4);
    restamp(&mut once, 10, 2, Some(77)).unwrap();
    let mut twice = once.clone();
    restamp(&mut twice, 10, 2, Some(77)).unwrap();
    assert_eq!(once, twice);
}

#[test]
fn a_corrupt_batch_stays_corrupt_without_append_time() {
    // Re-stamping without LogAppendTime must not launder a bad CRC: the client's CRC is kept.
    let mut bytes = batch(Compression::None);
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    restamp(&mut bytes, 5, 5, None).unwrap();
    assert!(matches!(
        verify_crc(&bytes),
        Err(RecordError::CorruptCrc { .. })
    ));
}

#[test]
fn short_or_bad_input_is_rejected_before_restamp() {
    // `restamp` trusts its input (it runs after validation on the append path); these are the
    // checks that stand in front of it, and each must refuse with an error, never panic.
    let good = batch(Compression::Gzip);
    for len in 0..good.len() {
        let prefix = &good[..len];
        assert!(
            BatchHeader::parse(prefix).is_err() || len >= HEADER_LEN,
            "len {len}"
        );
        assert!(verify_crc(prefix).is_err(), "prefix of {len} bytes");
        assert!(
            validate_batches(prefix, &ValidationLimits::default()).is_err(),
            "prefix of {len} bytes"
        );
    }

    // restamp itself refuses bytes that cannot hold a header, and leaves them as they were.
    for len in 0..HEADER_LEN {
        let mut short = good[..len].to_vec();
        assert!(matches!(
            restamp(&mut short, 1, 1, Some(2)),
            Err(RecordError::Truncated { available, .. }) if available == len
        ));
        assert_eq!(short, &good[..len]);
    }

    let mut bad_magic = good.clone();
    bad_magic[16] = 1;
    assert!(matches!(
        verify_crc(&bad_magic),
        Err(RecordError::UnsupportedMagic(1))
    ));

    let mut bad_length = good.clone();
    bad_length[8..12].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        verify_crc(&bad_length),
        Err(RecordError::InvalidBatchLength(-1))
    ));
}
