//! The crate-wide [`Error`]: `?` lifts each operation's error into it, and the original error
//! stays reachable both by matching and through `source()`.

use std::error::Error as _;

use bytes::{Bytes, BytesMut};
use fjord_protocol::messages::{ApiVersionsRequest, FetchRequest};
use fjord_protocol::records::header::verify_crc;
use fjord_protocol::records::RecordError;
use fjord_protocol::{Decode, DecodeError, DecodeErrorKind, Encode, EncodeError, Error};

/// Mixes a decode, an encode and a batch check, as a caller of several operations would.
fn decode_then_encode(frame: &[u8], version: i16, batch: &[u8]) -> Result<BytesMut, Error> {
    let request = FetchRequest::decode(&mut Bytes::copy_from_slice(frame), version)?;
    verify_crc(batch)?;
    let mut out = BytesMut::new();
    request.encode(&mut out, version)?;
    Ok(out)
}

#[test]
fn question_mark_lifts_a_decode_error_and_keeps_it_as_source() {
    let err = decode_then_encode(&[0, 0, 0], 12, &[]).unwrap_err();
    let Error::Decode(inner) = &err else {
        panic!("expected a decode error, got {err:?}");
    };
    assert!(matches!(inner.kind, DecodeErrorKind::Truncated { .. }));
    let source = err.source().and_then(|s| s.downcast_ref::<DecodeError>());
    assert_eq!(source, Some(inner));
    assert_eq!(err.to_string(), "decoding failed");
}

#[test]
fn question_mark_lifts_a_record_error() {
    let mut frame = BytesMut::new();
    FetchRequest::default().encode(&mut frame, 12).unwrap();
    let err = decode_then_encode(&frame, 12, &[0; 10]).unwrap_err();
    assert_eq!(
        err,
        Error::Record(RecordError::Truncated {
            needed: 61,
            available: 10
        })
    );
    assert!(err.source().unwrap().is::<RecordError>());
}

#[test]
fn question_mark_lifts_an_encode_error() {
    let encode = || -> Result<(), Error> {
        ApiVersionsRequest::default().encode(&mut BytesMut::new(), i16::MAX)?;
        Ok(())
    };
    let err = encode().unwrap_err();
    assert!(matches!(
        err,
        Error::Encode(EncodeError::UnsupportedVersion { .. })
    ));
    assert!(err.source().unwrap().is::<EncodeError>());
}

#[test]
fn the_chain_reads_from_outer_to_inner() {
    let inner = RecordError::InvalidRecord {
        index: 3,
        source: DecodeError::new(DecodeErrorKind::VarintTooLong, 0),
    };
    let err = Error::from(inner);
    let mut chain = Vec::new();
    let mut next: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = next {
        chain.push(e.to_string());
        next = e.source();
    }
    assert_eq!(
        chain,
        [
            "record batch rejected",
            "record 3 is invalid",
            "varint too long"
        ]
    );
}
