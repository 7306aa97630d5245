//! Hand-made frames and the rules the generated codec must follow: versions, nulls, absent
//! fields, hostile lengths and error paths.

use bytes::{BufMut, Bytes, BytesMut};
use fjord_protocol::messages::api_versions_request::ApiVersionsRequest;
use fjord_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use fjord_protocol::messages::produce_request::{ProduceRequest, TopicProduceData};
use fjord_protocol::{
    ApiKey, Decode, DecodeErrorKind, Encode, EncodeError, RequestBody, RequestHeader,
};
use uuid::Uuid;

fn encode<M: Encode>(value: &M, version: i16) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    value.encode(&mut buf, version)?;
    Ok(buf.freeze())
}

/// An `ApiVersions` v3 request as librdkafka sends it: request header v2 whose client id stays
/// a classic (int16-length) string, then a flexible body with compact strings.
#[test]
fn decodes_librdkafka_api_versions_v3_request() {
    #[rustfmt::skip]
    let frame: &[u8] = &[
        0x00, 0x12,                         // api key 18
        0x00, 0x03,                         // api version 3
        0x00, 0x00, 0x00, 0x01,             // correlation id 1
        0x00, 0x07, b'r', b'd', b'k', b'a', b'f', b'k', b'a', // client id, int16 length
        0x00,                               // header tagged fields: none
        0x0b, b'l', b'i', b'b', b'r', b'd', b'k', b'a', b'f', b'k', b'a', // compact, len+1 = 11
        0x06, b'2', b'.', b'3', b'.', b'0', // compact, len+1 = 6
        0x00,                               // body tagged fields: none
    ];
    let mut buf = Bytes::from_static(frame);

    let key = ApiKey::try_from(0x12).unwrap();
    assert_eq!(key, ApiKey::ApiVersions);
    assert_eq!(key.request_header_version(3), 2);
    let header = RequestHeader::decode(&mut buf, key.request_header_version(3)).unwrap();
    assert_eq!(header.request_api_key, 18);
    assert_eq!(header.request_api_version, 3);
    assert_eq!(header.correlation_id, 1);
    assert_eq!(header.client_id.as_deref(), Some("rdkafka"));
    assert!(header.unknown_tagged_fields.is_empty());

    let body = RequestBody::decode(key, 3, &mut buf).unwrap();
    assert!(buf.is_empty(), "the body consumes the rest of the frame");
    let RequestBody::ApiVersions(request) = &body else {
        panic!("decoded {body:?}");
    };
    assert_eq!(request.client_software_name, "librdkafka");
    assert_eq!(request.client_software_version, "2.3.0");

    let mut again = BytesMut::new();
    header.encode(&mut again, 2).unwrap();
    body.encode(&mut again, 3).unwrap();
    assert_eq!(&again[..], frame);
}

#[test]
fn api_versions_responses_always_use_header_v0() {
    assert_eq!(ApiKey::ApiVersions.response_header_version(3), 0);
    assert_eq!(ApiKey::Metadata.response_header_version(9), 1);
    assert_eq!(ApiKey::Metadata.response_header_version(8), 0);
    assert_eq!(ApiKey::Produce.request_header_version(8), 1);
}

#[test]
fn versions_outside_the_range_are_refused_both_ways() {
    let mut buf = Bytes::from_static(&[0; 16]);
    let err = ProduceRequest::decode(&mut buf, 12).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::UnsupportedVersion(12));
    assert!(matches!(
        ProduceRequest::default().encode(&mut BytesMut::new(), -1),
        Err(EncodeError::UnsupportedVersion { version: -1, .. })
    ));
}

#[test]
fn non_default_value_in_an_absent_field_is_refused() {
    let request = ProduceRequest {
        transactional_id: Some("tx".to_owned()),
        ..ProduceRequest::default()
    };
    assert!(matches!(
        encode(&request, 2),
        Err(EncodeError::UnsupportedField {
            field: "transactional_id",
            version: 2,
            ..
        })
    ));
    assert!(encode(&request, 3).is_ok());

    // Not ignorable, default true: false cannot be said before v4, true can.
    let mut metadata = MetadataRequest {
        allow_auto_topic_creation: false,
        ..MetadataRequest::default()
    };
    assert!(matches!(
        encode(&metadata, 3),
        Err(EncodeError::UnsupportedField {
            field: "allow_auto_topic_creation",
            ..
        })
    ));
    metadata.allow_auto_topic_creation = true;
    assert!(encode(&metadata, 3).is_ok());
}

#[test]
fn ignorable_absent_field_is_skipped_silently() {
    let topic = MetadataRequestTopic {
        topic_id: Uuid::from_u128(7),
        name: Some("t".to_owned()),
        ..MetadataRequestTopic::default()
    };
    let request = MetadataRequest {
        topics: Some(vec![topic]),
        ..MetadataRequest::default()
    };
    let mut bytes = encode(&request, 9).unwrap();
    let back = MetadataRequest::decode(&mut bytes, 9).unwrap();
    let topics = back.topics.unwrap();
    assert_eq!(topics[0].topic_id, Uuid::nil());
    assert_eq!(topics[0].name.as_deref(), Some("t"));
}

#[test]
fn null_where_not_nullable_is_refused_both_ways() {
    // Metadata topics may be null from v1 on, not in v0.
    let request = MetadataRequest {
        topics: None,
        ..MetadataRequest::default()
    };
    assert!(encode(&request, 1).is_ok());
    assert!(matches!(
        encode(&request, 0),
        Err(EncodeError::UnexpectedNull {
            field: "topics",
            ..
        })
    ));
    let mut v0 = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
    let err = MetadataRequest::decode(&mut v0, 0).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::UnexpectedNull);
    assert_eq!(err.path(), "topics");
}

#[test]
fn errors_name_the_field_path_and_offset() {
    let mut buf = BytesMut::new();
    buf.put_i16(-1); // transactional id: null
    buf.put_i16(1); // acks
    buf.put_i32(1000); // timeout
    buf.put_i32(1); // one topic
    buf.put_i16(-1); // topic name: null, which names may not be
    let err = ProduceRequest::decode(&mut buf.freeze(), 3).unwrap_err();
    assert_eq!(err.kind, DecodeErrorKind::UnexpectedNull);
    assert_eq!(err.path(), "topic_data[0].name");
    assert_eq!(err.offset(), Some(12));
}

#[test]
fn lying_array_count_fails_before_allocating() {
    let mut buf = BytesMut::new();
    buf.put_i16(-1);
    buf.put_i16(1);
    buf.put_i32(1000);
    buf.put_i32(i32::MAX); // claims 2^31 topics in 4 bytes
    buf.put_i32(0);
    let err = ProduceRequest::decode(&mut buf.freeze(), 3).unwrap_err();
    assert_eq!(err.path(), "topic_data");
    assert!(matches!(err.kind, DecodeErrorKind::Truncated { .. }));
}

#[test]
fn records_are_shared_not_copied() {
    let request = ProduceRequest {
        topic_data: vec![TopicProduceData {
            name: "t".to_owned(),
            partition_data: vec![
                fjord_protocol::messages::produce_request::PartitionProduceData {
                    index: 0,
                    records: Some(Bytes::from_static(b"batch")),
                    ..Default::default()
                },
            ],
            ..TopicProduceData::default()
        }],
        ..ProduceRequest::default()
    };
    let frame = encode(&request, 9).unwrap();
    let range = frame.as_ptr_range();
    let back = ProduceRequest::decode(&mut frame.clone(), 9).unwrap();
    let records = back.topic_data[0].partition_data[0]
        .records
        .clone()
        .unwrap();
    assert_eq!(&records[..], b"batch");
    assert!(
        range.contains(&records.as_ptr()),
        "records point into the frame"
    );
}

#[test]
fn api_key_table_is_consistent() {
    for &key in ApiKey::ALL {
        assert_eq!(ApiKey::try_from(i16::from(key)), Ok(key));
        assert!(!key.versions().is_empty(), "{}", key.name());
    }
    assert!(ApiKey::try_from(-5).is_err());
    assert_eq!(ApiKey::ALL.len(), 43);
    let _ = ApiVersionsRequest::default();
}
