//! Topic-level request rules checked through dispatch, as a client's bytes would reach them:
//! DeleteTopics by topic id (v6+), keyless records refused on a compacted topic, and
//! ListOffsets' max-timestamp look-up (v7+).

mod support;

use fjord_broker::broker::Broker;
use fjord_broker::topic_config::TopicConfig;
use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::delete_topics_request::DeleteTopicState;
use fjord_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use fjord_protocol::messages::list_offsets_response::ListOffsetsPartitionResponse;
use fjord_protocol::messages::{DeleteTopicsRequest, ListOffsetsRequest, ResponseBody};
use fjord_storage::testing::{BatchSpec, RecordSpec};
use uuid::Uuid;

/// DeleteTopics v6 added deletion by topic id.
const DELETE_BY_ID_VERSION: i16 = 6;

/// ListOffsets v7 added the max-timestamp spec.
const MAX_TIMESTAMP_VERSION: i16 = 7;

/// The spec ListOffsets uses for "the record with the largest timestamp".
const MAX_TIMESTAMP_SPEC: i64 = -3;

async fn delete_by_id(broker: &Broker, id: Uuid) -> (Option<String>, Uuid, i16) {
    let request = DeleteTopicsRequest {
        topics: vec![DeleteTopicState {
            name: None,
            topic_id: id,
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    match support::call(broker, DELETE_BY_ID_VERSION, request).await {
        ResponseBody::DeleteTopics(r) => {
            let [t] = &r.responses[..] else {
                panic!("one result expected: {r:?}");
            };
            (t.name.clone(), t.topic_id, t.error_code)
        }
        other => panic!("not a DeleteTopics response: {other:?}"),
    }
}

#[tokio::test]
async fn delete_topics_by_id_deletes_that_topic() {
    let test = support::start();
    let broker = &*test.broker;
    let id = broker
        .topics
        .create("doomed", 2, TopicConfig::default())
        .unwrap()
        .id;
    broker
        .topics
        .create("kept", 1, TopicConfig::default())
        .unwrap();

    let (name, answered_id, code) = delete_by_id(broker, id).await;
    assert_eq!(code, ErrorCode::None.code(), "deleting {id}");
    assert_eq!(
        name.as_deref(),
        Some("doomed"),
        "the answer names the topic"
    );
    assert_eq!(answered_id, id);
    assert!(broker.topics.get("doomed").is_none(), "topic still listed");
    assert!(broker.topics.get_by_id(&id).is_none(), "id still resolves");
    assert!(
        broker.topics.get("kept").is_some(),
        "another topic went too"
    );

    // The id is gone now: a second delete by it is an unknown id, not a success.
    let (_, _, again) = delete_by_id(broker, id).await;
    assert_eq!(again, ErrorCode::UnknownTopicId.code());
}

#[tokio::test]
async fn delete_topics_by_unknown_id_is_unknown_topic_id() {
    let test = support::start();
    let broker = &*test.broker;
    broker
        .topics
        .create("kept", 1, TopicConfig::default())
        .unwrap();
    let stranger = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
    let (name, id, code) = delete_by_id(broker, stranger).await;
    assert_eq!(code, ErrorCode::UnknownTopicId.code());
    assert_eq!((name, id), (None, stranger));
    assert!(broker.topics.get("kept").is_some());
}

#[tokio::test]
async fn keyless_record_on_a_compacted_topic_is_invalid_record_and_not_stored() {
    let test = support::start();
    let broker = &*test.broker;
    let compacted = TopicConfig::from_overrides([("cleanup.policy", "compact")]).unwrap();
    broker.topics.create("latest", 1, compacted).unwrap();

    // One keyed and one keyless record in the same batch: the whole batch is refused.
    let batch = BatchSpec::new(1_700_000_000_000)
        .record(RecordSpec::new(Some(b"k"), Some(b"v")))
        .record(RecordSpec::new(None, Some(b"no key")))
        .build();
    let refused = support::produce(broker, "latest", 0, batch).await;
    assert_eq!(
        refused.error_code,
        ErrorCode::InvalidRecord.code(),
        "{refused:?}"
    );
    assert_eq!(refused.base_offset, -1);
    let partition = broker.topics.get("latest").unwrap().partition(0).unwrap();
    assert_eq!(
        partition.high_watermark(),
        0,
        "the refused batch was stored"
    );

    // A keyed batch is still accepted, at offset 0: the refusal took no offsets.
    let keyed = BatchSpec::new(1_700_000_000_000)
        .record(RecordSpec::new(Some(b"k"), Some(b"v")))
        .build();
    let accepted = support::produce(broker, "latest", 0, keyed).await;
    assert_eq!(
        (accepted.error_code, accepted.base_offset),
        (0, 0),
        "{accepted:?}"
    );
    assert_eq!(partition.high_watermark(), 1);
}

async fn list_offset(
    broker: &Broker,
    version: i16,
    topic: &str,
    spec: i64,
) -> ListOffsetsPartitionResponse {
    let request = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                current_leader_epoch: -1,
                timestamp: spec,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match support::call(broker, version, request).await {
        ResponseBody::ListOffsets(mut r) => r.topics.remove(0).partitions.remove(0),
        other => panic!("not a ListOffsets response: {other:?}"),
    }
}

#[tokio::test]
async fn list_offsets_max_timestamp_finds_the_record_with_the_largest_timestamp() {
    let test = support::start();
    let broker = &*test.broker;
    broker
        .topics
        .create("clock", 1, TopicConfig::default())
        .unwrap();
    let base = 1_700_000_000_000;

    let empty = list_offset(broker, MAX_TIMESTAMP_VERSION, "clock", MAX_TIMESTAMP_SPEC).await;
    assert_eq!(
        (empty.error_code, empty.offset, empty.timestamp),
        (0, -1, -1),
        "an empty partition has no max-timestamp record"
    );

    // Timestamps out of order across and within batches: the largest is at offset 3, inside
    // the second batch, and a later batch has a smaller one.
    let batches = [
        BatchSpec::new(base)
            .record(RecordSpec::new(None, Some(b"0")).timestamp(base + 10))
            .record(RecordSpec::new(None, Some(b"1")).timestamp(base + 50)),
        BatchSpec::new(base)
            .record(RecordSpec::new(None, Some(b"2")).timestamp(base + 20))
            .record(RecordSpec::new(None, Some(b"3")).timestamp(base + 90))
            .record(RecordSpec::new(None, Some(b"4")).timestamp(base + 30)),
        BatchSpec::new(base).record(RecordSpec::new(None, Some(b"5")).timestamp(base + 40)),
    ];
    for batch in &batches {
        let r = support::produce(broker, "clock", 0, batch.build()).await;
        assert_eq!(r.error_code, 0, "{r:?}");
    }

    for version in MAX_TIMESTAMP_VERSION..=9 {
        let max = list_offset(broker, version, "clock", MAX_TIMESTAMP_SPEC).await;
        assert_eq!(
            (max.error_code, max.offset, max.timestamp),
            (0, 3, base + 90),
            "ListOffsets v{version} max-timestamp"
        );
    }
    // Before v7 the spec is not a special value: a negative timestamp is refused.
    let old = list_offset(broker, 6, "clock", MAX_TIMESTAMP_SPEC).await;
    assert_eq!(old.error_code, ErrorCode::InvalidRequest.code(), "{old:?}");
}
