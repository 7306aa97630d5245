//! Golden bytes for the share-group APIs (keys 76-79, version 0), written field by field from
//! Kafka's JSON definitions. `kafka-protocol` 0.18 only has these at v1, so the differential
//! tests skip them; these frames are their independent check. Each must encode from the value
//! and decode back to it.
//!
//! All four are flexible from v0: strings, bytes and arrays carry an unsigned-varint length plus
//! one (0 for null), and every struct ends with its tagged-field count (here always 0).

use std::fmt::Debug;

use bytes::Bytes;
use fjord_protocol::messages::{
    share_acknowledge_request as ack_req, share_acknowledge_response as ack_resp,
    share_fetch_request as fetch_req, share_fetch_response as fetch_resp,
    share_group_describe_response as describe_resp, share_group_heartbeat_response as hb_resp,
    ShareAcknowledgeRequest, ShareAcknowledgeResponse, ShareFetchRequest, ShareFetchResponse,
    ShareGroupDescribeRequest, ShareGroupDescribeResponse, ShareGroupHeartbeatRequest,
    ShareGroupHeartbeatResponse,
};
use fjord_protocol::Message;
use uuid::Uuid;

const TOPIC: Uuid = Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);

/// Writes the wire form by hand; independent of the codec under test on purpose.
#[derive(Default)]
struct Wire(Vec<u8>);

impl Wire {
    fn i8(mut self, v: i8) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn uuid(mut self, v: Uuid) -> Self {
        self.0.extend(v.as_bytes());
        self
    }
    /// A compact length (n + 1), one byte for the small values used here.
    fn len(mut self, n: usize) -> Self {
        let n = u8::try_from(n + 1)
            .ok()
            .filter(|n| *n < 0x80)
            .expect("one-byte varint");
        self.0.push(n);
        self
    }
    fn null(mut self) -> Self {
        self.0.push(0);
        self
    }
    fn str(self, s: &str) -> Self {
        let mut w = self.len(s.len());
        w.0.extend(s.as_bytes());
        w
    }
    fn bytes(self, b: &[u8]) -> Self {
        let mut w = self.len(b.len());
        w.0.extend(b);
        w
    }
    /// End of a struct: a tagged-field count of zero.
    fn tags(mut self) -> Self {
        self.0.push(0);
        self
    }
}

/// `value` encodes to exactly `golden`, and `golden` decodes to exactly `value`.
fn check<M: Message + PartialEq + Debug>(value: &M, golden: Wire) {
    let golden = Bytes::from(golden.0);
    let mut out = bytes::BytesMut::new();
    value.encode(&mut out, 0).expect("encodes");
    assert_eq!(&out[..], &golden[..], "{}: encoded bytes", M::NAME);
    assert_eq!(
        value.encoded_len(0).expect("sized"),
        golden.len(),
        "{}",
        M::NAME
    );
    let mut input = golden.clone();
    let back = M::decode(&mut input, 0).expect("decodes");
    assert!(input.is_empty(), "{}: bytes left over", M::NAME);
    assert_eq!(&back, value, "{}: decoded value", M::NAME);
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(ToString::to_string).collect()
}

#[test]
fn share_group_heartbeat_request_v0() {
    let value = ShareGroupHeartbeatRequest {
        group_id: "g".into(),
        member_id: "m1".into(),
        member_epoch: 5,
        rack_id: None,
        subscribed_topic_names: Some(strings(&["a", "bc"])),
        ..Default::default()
    };
    let golden = Wire::default()
        .str("g") // GroupId
        .str("m1") // MemberId
        .i32(5) // MemberEpoch
        .null() // RackId: null
        .len(2) // SubscribedTopicNames
        .str("a")
        .str("bc")
        .tags();
    check(&value, golden);
}

#[test]
fn share_group_heartbeat_response_v0() {
    let assigned = ShareGroupHeartbeatResponse {
        throttle_time_ms: 1,
        error_code: 0,
        error_message: None,
        member_id: Some("m1".into()),
        member_epoch: 6,
        heartbeat_interval_ms: 5_000,
        assignment: Some(hb_resp::Assignment {
            topic_partitions: vec![hb_resp::TopicPartitions {
                topic_id: TOPIC,
                partitions: vec![0, 2],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let golden = Wire::default()
        .i32(1) // ThrottleTimeMs
        .i16(0) // ErrorCode
        .null() // ErrorMessage: null
        .str("m1") // MemberId
        .i32(6) // MemberEpoch
        .i32(5_000) // HeartbeatIntervalMs
        .i8(1) // Assignment: present (a nullable struct is prefixed by 1, or -1 for null)
        .len(1) // Assignment.TopicPartitions
        .uuid(TOPIC)
        .len(2)
        .i32(0)
        .i32(2)
        .tags() // end of TopicPartitions
        .tags() // end of Assignment
        .tags();
    check(&assigned, golden);

    let unassigned = ShareGroupHeartbeatResponse {
        error_code: 25,
        error_message: Some("unknown member".into()),
        member_epoch: -1,
        assignment: None,
        ..Default::default()
    };
    let golden = Wire::default()
        .i32(0)
        .i16(25)
        .str("unknown member")
        .null() // MemberId: null
        .i32(-1)
        .i32(0)
        .i8(-1) // Assignment: null
        .tags();
    check(&unassigned, golden);
}

#[test]
fn share_group_describe_request_v0() {
    let value = ShareGroupDescribeRequest {
        group_ids: strings(&["g1", "g2"]),
        include_authorized_operations: true,
        ..Default::default()
    };
    let golden = Wire::default()
        .len(2) // GroupIds
        .str("g1")
        .str("g2")
        .i8(1) // IncludeAuthorizedOperations
        .tags();
    check(&value, golden);
}

#[test]
fn share_group_describe_response_v0() {
    let value = ShareGroupDescribeResponse {
        throttle_time_ms: 0,
        groups: vec![describe_resp::DescribedGroup {
            error_code: 0,
            error_message: None,
            group_id: "g1".into(),
            group_state: "Stable".into(),
            group_epoch: 3,
            assignment_epoch: 2,
            assignor_name: "simple".into(),
            members: vec![describe_resp::Member {
                member_id: "m1".into(),
                rack_id: Some("r".into()),
                member_epoch: 3,
                client_id: "c".into(),
                client_host: "/h".into(),
                subscribed_topic_names: strings(&["t"]),
                assignment: describe_resp::Assignment {
                    topic_partitions: vec![describe_resp::TopicPartitions {
                        topic_id: TOPIC,
                        topic_name: "t".into(),
                        partitions: vec![1],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ..Default::default()
            }],
            authorized_operations: i32::MIN,
            ..Default::default()
        }],
        ..Default::default()
    };
    let golden = Wire::default()
        .i32(0) // ThrottleTimeMs
        .len(1) // Groups
        .i16(0) // ErrorCode
        .null() // ErrorMessage
        .str("g1") // GroupId
        .str("Stable") // GroupState
        .i32(3) // GroupEpoch
        .i32(2) // AssignmentEpoch
        .str("simple") // AssignorName
        .len(1) // Members
        .str("m1") // MemberId
        .str("r") // RackId
        .i32(3) // MemberEpoch
        .str("c") // ClientId
        .str("/h") // ClientHost
        .len(1) // SubscribedTopicNames
        .str("t")
        .len(1) // Assignment (not nullable here): TopicPartitions
        .uuid(TOPIC)
        .str("t")
        .len(1)
        .i32(1)
        .tags() // end of TopicPartitions
        .tags() // end of Assignment
        .tags() // end of Member
        .i32(i32::MIN) // AuthorizedOperations
        .tags() // end of DescribedGroup
        .tags();
    check(&value, golden);
}

#[test]
fn share_fetch_request_v0() {
    let value = ShareFetchRequest {
        group_id: Some("g".into()),
        member_id: Some("m1".into()),
        share_session_epoch: 1,
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![fetch_req::FetchTopic {
            topic_id: TOPIC,
            partitions: vec![fetch_req::FetchPartition {
                partition_index: 4,
                partition_max_bytes: 65_536,
                acknowledgement_batches: vec![fetch_req::AcknowledgementBatch {
                    first_offset: 10,
                    last_offset: 12,
                    acknowledge_types: vec![1, 0, 2],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        forgotten_topics_data: vec![fetch_req::ForgottenTopic {
            topic_id: TOPIC,
            partitions: vec![7],
            ..Default::default()
        }],
        ..Default::default()
    };
    let golden = Wire::default()
        .str("g") // GroupId
        .str("m1") // MemberId
        .i32(1) // ShareSessionEpoch
        .i32(500) // MaxWaitMs
        .i32(1) // MinBytes
        .i32(1 << 20) // MaxBytes
        .len(1) // Topics
        .uuid(TOPIC)
        .len(1) // Partitions
        .i32(4) // PartitionIndex
        .i32(65_536) // PartitionMaxBytes
        .len(1) // AcknowledgementBatches
        .i64(10)
        .i64(12)
        .len(3) // AcknowledgeTypes
        .i8(1)
        .i8(0)
        .i8(2)
        .tags() // end of AcknowledgementBatch
        .tags() // end of FetchPartition
        .tags() // end of FetchTopic
        .len(1) // ForgottenTopicsData
        .uuid(TOPIC)
        .len(1)
        .i32(7)
        .tags() // end of ForgottenTopic
        .tags();
    check(&value, golden);
}

#[test]
fn share_fetch_response_v0() {
    const RECORDS: &[u8] = b"opaque batch";
    let value = ShareFetchResponse {
        throttle_time_ms: 2,
        error_code: 0,
        error_message: None,
        responses: vec![fetch_resp::ShareFetchableTopicResponse {
            topic_id: TOPIC,
            partitions: vec![fetch_resp::PartitionData {
                partition_index: 4,
                error_code: 0,
                error_message: None,
                acknowledge_error_code: 0,
                acknowledge_error_message: None,
                current_leader: fetch_resp::LeaderIdAndEpoch {
                    leader_id: 1,
                    leader_epoch: 9,
                    ..Default::default()
                },
                records: Some(Bytes::from_static(RECORDS)),
                acquired_records: vec![fetch_resp::AcquiredRecords {
                    first_offset: 10,
                    last_offset: 12,
                    delivery_count: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        node_endpoints: vec![fetch_resp::NodeEndpoint {
            node_id: 1,
            host: "b1".into(),
            port: 9092,
            rack: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let golden = Wire::default()
        .i32(2) // ThrottleTimeMs
        .i16(0) // ErrorCode
        .null() // ErrorMessage
        .len(1) // Responses
        .uuid(TOPIC)
        .len(1) // Partitions
        .i32(4) // PartitionIndex
        .i16(0) // ErrorCode
        .null() // ErrorMessage
        .i16(0) // AcknowledgeErrorCode
        .null() // AcknowledgeErrorMessage
        .i32(1) // CurrentLeader.LeaderId
        .i32(9) // CurrentLeader.LeaderEpoch
        .tags() // end of CurrentLeader
        .bytes(RECORDS) // Records
        .len(1) // AcquiredRecords
        .i64(10)
        .i64(12)
        .i16(1)
        .tags() // end of AcquiredRecords
        .tags() // end of PartitionData
        .tags() // end of ShareFetchableTopicResponse
        .len(1) // NodeEndpoints
        .i32(1)
        .str("b1")
        .i32(9092)
        .null() // Rack
        .tags() // end of NodeEndpoint
        .tags();
    check(&value, golden);
}

#[test]
fn share_acknowledge_request_v0() {
    let value = ShareAcknowledgeRequest {
        group_id: None,
        member_id: Some("m1".into()),
        share_session_epoch: 2,
        topics: vec![ack_req::AcknowledgeTopic {
            topic_id: TOPIC,
            partitions: vec![ack_req::AcknowledgePartition {
                partition_index: 4,
                acknowledgement_batches: vec![ack_req::AcknowledgementBatch {
                    first_offset: 10,
                    last_offset: 10,
                    acknowledge_types: vec![3],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let golden = Wire::default()
        .null() // GroupId: null
        .str("m1") // MemberId
        .i32(2) // ShareSessionEpoch
        .len(1) // Topics
        .uuid(TOPIC)
        .len(1) // Partitions
        .i32(4)
        .len(1) // AcknowledgementBatches
        .i64(10)
        .i64(10)
        .len(1)
        .i8(3)
        .tags() // end of AcknowledgementBatch
        .tags() // end of AcknowledgePartition
        .tags() // end of AcknowledgeTopic
        .tags();
    check(&value, golden);
}

#[test]
fn share_acknowledge_response_v0() {
    let value = ShareAcknowledgeResponse {
        throttle_time_ms: 0,
        error_code: 0,
        error_message: None,
        responses: vec![ack_resp::ShareAcknowledgeTopicResponse {
            topic_id: TOPIC,
            partitions: vec![ack_resp::PartitionData {
                partition_index: 4,
                error_code: 6,
                error_message: Some("not leader".into()),
                current_leader: ack_resp::LeaderIdAndEpoch {
                    leader_id: 2,
                    leader_epoch: 10,
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        }],
        node_endpoints: vec![ack_resp::NodeEndpoint {
            node_id: 2,
            host: "b2".into(),
            port: 9093,
            rack: Some("r".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let golden = Wire::default()
        .i32(0) // ThrottleTimeMs
        .i16(0) // ErrorCode
        .null() // ErrorMessage
        .len(1) // Responses
        .uuid(TOPIC)
        .len(1) // Partitions
        .i32(4) // PartitionIndex
        .i16(6) // ErrorCode
        .str("not leader") // ErrorMessage
        .i32(2) // CurrentLeader.LeaderId
        .i32(10) // CurrentLeader.LeaderEpoch
        .tags() // end of CurrentLeader
        .tags() // end of PartitionData
        .tags() // end of ShareAcknowledgeTopicResponse
        .len(1) // NodeEndpoints
        .i32(2)
        .str("b2")
        .i32(9093)
        .str("r")
        .tags() // end of NodeEndpoint
        .tags();
    check(&value, golden);
}
