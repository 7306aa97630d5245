//! Legacy message sets (magic 0 and 1): parsing, validation and conversion to v2.

// Tests may unwrap; clippy's test exemption does not reach helper functions.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use fjord_protocol::records::compression::compress;
use fjord_protocol::records::legacy::{
    magic_of, parse_message_set, to_v2_batch, validate_message_set,
};
use fjord_protocol::records::{Compression, RecordBatch, RecordError};

/// One message set entry, laid out as the format says, with its CRC-32.
fn entry(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = vec![magic as u8, attributes as u8];
    if magic == 1 {
        body.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                body.extend_from_slice(&(b.len() as i32).to_be_bytes());
                body.extend_from_slice(b);
            }
        }
    }
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[rustfmt::skip]
const GOLDEN_V0: [u8; 28] = [
    0, 0, 0, 0, 0, 0, 0, 0,     // offset
    0, 0, 0, 16,                // message size
    0x1f, 0xec, 0xd7, 0x0a,     // CRC-32 of the rest (computed independently)
    0, 0,                       // magic 0, attributes
    0, 0, 0, 1, b'k',           // key
    0, 0, 0, 1, b'v',           // value
];

#[rustfmt::skip]
const GOLDEN_V1: [u8; 39] = [
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 27,
    0x8e, 0xe3, 0x0b, 0xba,
    1, 0,                       // magic 1, attributes
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // timestamp 1_700_000_000_000
    0xff, 0xff, 0xff, 0xff,     // null key
    0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o',
];

#[test]
fn golden_messages_match_the_helper_and_parse() {
    assert_eq!(entry(0, 0, 0, 0, Some(b"k"), Some(b"v")), GOLDEN_V0);
    assert_eq!(
        entry(0, 1, 0, 1_700_000_000_000, None, Some(b"hello")),
        GOLDEN_V1
    );
    let v0 = parse_message_set(&Bytes::from_static(&GOLDEN_V0), 1024).unwrap();
    assert_eq!(v0.len(), 1);
    assert_eq!((v0[0].magic, v0[0].timestamp), (0, None));
    assert_eq!(v0[0].key.as_deref(), Some(&b"k"[..]));
    let v1 = parse_message_set(&Bytes::from_static(&GOLDEN_V1), 1024).unwrap();
    assert_eq!(v1[0].timestamp, Some(1_700_000_000_000));
    assert_eq!(v1[0].key, None);
    assert_eq!(v1[0].value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(magic_of(&GOLDEN_V0), Some(0));
    assert_eq!(magic_of(&GOLDEN_V1), Some(1));
}

#[test]
fn uncompressed_sets_validate_and_count() {
    let mut set = Vec::new();
    for i in 0..3 {
        set.extend(entry(i, 1, 0, 100 + i, Some(b"k"), Some(b"v")));
    }
    let summary = validate_message_set(&Bytes::from(set), 1024).unwrap();
    assert_eq!(summary.magic, 1);
    assert_eq!(summary.message_count, 3);
    assert!(!summary.compressed);
    assert_eq!(summary.max_timestamp, 102);
}

fn wrapper(codec: Compression, magic: i8, wrapper_offset: i64, inner: &[Vec<u8>]) -> Vec<u8> {
    let plain: Vec<u8> = inner.concat();
    let packed = compress(codec, &plain).unwrap();
    entry(
        wrapper_offset,
        magic,
        codec.id() as i8,
        500,
        None,
        Some(&packed),
    )
}

#[test]
fn compressed_v1_wrappers_unpack_with_relative_offsets() {
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        let inner: Vec<Vec<u8>> = (0..3)
            .map(|i| entry(i, 1, 0, 10 + i, None, Some(format!("m{i}").as_bytes())))
            .collect();
        let set = Bytes::from(wrapper(codec, 1, 102, &inner));
        let messages = parse_message_set(&set, 1 << 20).unwrap();
        let offsets: Vec<i64> = messages.iter().map(|m| m.offset).collect();
        assert_eq!(offsets, vec![100, 101, 102], "{codec}");
        assert_eq!(messages[2].value.as_deref(), Some(&b"m2"[..]));
        let summary = validate_message_set(&set, 1 << 20).unwrap();
        assert_eq!(summary.message_count, 3);
        assert!(summary.compressed);
    }
}

#[test]
fn compressed_v0_wrappers_keep_absolute_offsets() {
    let inner: Vec<Vec<u8>> = (0..2)
        .map(|i| entry(40 + i, 0, 0, 0, None, Some(b"x")))
        .collect();
    let set = Bytes::from(wrapper(Compression::Gzip, 0, 41, &inner));
    let offsets: Vec<i64> = parse_message_set(&set, 1 << 20)
        .unwrap()
        .iter()
        .map(|m| m.offset)
        .collect();
    assert_eq!(offsets, vec![40, 41]);
}

#[test]
fn magic_0_lz4_with_the_old_broken_descriptor_checksum_decodes() {
    let inner = [entry(0, 0, 0, 0, None, Some(b"old lz4"))];
    let mut packed = compress(Compression::Lz4, &inner.concat()).unwrap();
    // Old clients hashed the wrong bytes; any wrong HC byte stands in for theirs.
    packed[6] ^= 0xa5;
    let v0 = entry(0, 0, Compression::Lz4.id() as i8, 0, None, Some(&packed));
    let messages = parse_message_set(&Bytes::from(v0), 1 << 20).unwrap();
    assert_eq!(messages[0].value.as_deref(), Some(&b"old lz4"[..]));

    let v1 = entry(0, 1, Compression::Lz4.id() as i8, 0, None, Some(&packed));
    let err = parse_message_set(&Bytes::from(v1), 1 << 20).unwrap_err();
    assert!(matches!(err, RecordError::Decompress { .. }), "{err:?}");
}

#[test]
fn log_append_time_wrappers_give_their_timestamp_to_inner_messages() {
    let inner = [entry(0, 1, 0, 7, None, Some(b"a"))];
    let packed = compress(Compression::Gzip, &inner.concat()).unwrap();
    let set = entry(0, 1, 0x08 | 1, 999, None, Some(&packed));
    let messages = parse_message_set(&Bytes::from(set), 1 << 20).unwrap();
    assert_eq!(messages[0].timestamp, Some(999));
}

#[test]
fn nested_compression_is_rejected() {
    let innermost = vec![entry(0, 1, 0, 0, None, Some(b"deep"))];
    let middle = vec![wrapper(Compression::Gzip, 1, 0, &innermost)];
    let set = Bytes::from(wrapper(Compression::Gzip, 1, 0, &middle));
    assert_eq!(
        parse_message_set(&set, 1 << 20).unwrap_err(),
        RecordError::NestedCompression { offset: 0 }
    );
}

#[test]
fn zstd_is_not_a_legacy_codec() {
    let set = Bytes::from(entry(0, 1, 4, 0, None, Some(b"zz")));
    assert_eq!(
        parse_message_set(&set, 1024).unwrap_err(),
        RecordError::UnsupportedCompression(4)
    );
}

#[test]
fn bad_crc_is_rejected_with_its_place() {
    let mut set = GOLDEN_V0.to_vec();
    set.extend_from_slice(&GOLDEN_V1);
    let last = set.len() - 1;
    set[last] ^= 1;
    let err = parse_message_set(&Bytes::from(set), 1024).unwrap_err();
    let RecordError::InvalidLegacyMessage(source) = err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(source.path(), "[1].crc");
    assert_eq!(source.offset(), Some(GOLDEN_V0.len() + 12));
}

#[test]
fn every_truncated_prefix_fails() {
    let mut set = GOLDEN_V0.to_vec();
    set.extend_from_slice(&GOLDEN_V1);
    for len in 1..set.len() {
        if len == GOLDEN_V0.len() {
            continue; // A complete first message on its own is a valid set.
        }
        let prefix = Bytes::copy_from_slice(&set[..len]);
        assert!(
            matches!(
                parse_message_set(&prefix, 1024),
                Err(RecordError::InvalidLegacyMessage(_))
            ),
            "prefix {len}"
        );
    }
}

#[test]
fn wrapper_bombs_are_capped() {
    let inner = vec![entry(0, 1, 0, 0, None, Some(&vec![0u8; 1 << 20]))];
    let set = Bytes::from(wrapper(Compression::Gzip, 1, 0, &inner));
    assert!(set.len() < 10_000);
    assert!(matches!(
        parse_message_set(&set, 64 * 1024),
        Err(RecordError::DecompressedTooLarge { .. })
    ));
}

#[test]
fn conversion_to_v2_keeps_keys_values_and_timestamps() {
    let mut set = Vec::new();
    set.extend(entry(0, 1, 0, 1000, Some(b"a"), Some(b"1")));
    set.extend(entry(1, 1, 0, 990, None, Some(b"2")));
    let messages = parse_message_set(&Bytes::from(set), 1024).unwrap();
    let batch = to_v2_batch(&messages, Compression::Zstd).unwrap();
    let decoded = RecordBatch::decode(&batch, 1 << 20).unwrap();
    let seen: Vec<(i64, i64, Option<Bytes>, Option<Bytes>)> = decoded
        .iter_absolute()
        .map(|(o, t, r)| (o, t, r.key.clone(), r.value.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                0,
                1000,
                Some(Bytes::from_static(b"a")),
                Some(Bytes::from_static(b"1"))
            ),
            (1, 990, None, Some(Bytes::from_static(b"2"))),
        ]
    );
    assert_eq!(decoded.header.max_timestamp, 1000);

    let v0 = parse_message_set(&Bytes::from_static(&GOLDEN_V0), 1024).unwrap();
    let decoded = RecordBatch::decode(&to_v2_batch(&v0, Compression::None).unwrap(), 1024).unwrap();
    assert_eq!(decoded.header.max_timestamp, -1);
}
