//! Differential tests against the independent `kafka-protocol` crate, in both directions, for
//! every message and every version both codecs support:
//! - ours first: our random value → our encode → their decode → their encode must give
//!   identical bytes, and those bytes must decode back to our value;
//! - theirs first: their value (their `Default` for every message, plus values with fields
//!   filled in for the main ones, see [`kafka_values`]) → their encode → our decode → our encode
//!   must give their bytes.
//!
//! Versions only one side supports are skipped: `kafka-protocol` 0.18 follows a newer Kafka
//! that dropped old versions (and renumbered the share-group APIs). Skipped, by message:
//! `CreateTopics` v0-1, `DeleteTopics` v0, `DescribeConfigs` v0, `Fetch` v0-3, `ListOffsets` v0,
//! `OffsetCommit` v0-1, `OffsetFetch` v0, `OffsetForLeaderEpoch` v0-1, `Produce` v0-2,
//! `WriteTxnMarkers` v0 (requests and responses each), `RequestHeader` v0, and all of
//! `ShareAcknowledge`, `ShareFetch`, `ShareGroupDescribe`, `ShareGroupHeartbeat` (we have v0,
//! they have v1 only; `share_groups_golden.rs` checks those against hand-written bytes).
//! [`SKIPPED`] holds this list and every test checks that its message skips exactly what the
//! list says, so the list cannot drift.

use std::fmt::Debug;

use bytes::BytesMut;
use fjord_protocol::codec::arbitrary::Arbitrary;
use fjord_protocol::codec::Message;
use kafka_protocol::protocol::{Decodable, Encodable, Message as TheirMessage};
use proptest::prop_assert_eq;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

mod kafka_values;

const CASES: u32 = 48;

/// Our versions `kafka-protocol` 0.18 does not have: (message, first, last).
const SKIPPED: &[(&str, i16, i16)] = &[
    ("CreateTopicsRequest", 0, 1),
    ("CreateTopicsResponse", 0, 1),
    ("DeleteTopicsRequest", 0, 0),
    ("DeleteTopicsResponse", 0, 0),
    ("DescribeConfigsRequest", 0, 0),
    ("DescribeConfigsResponse", 0, 0),
    ("FetchRequest", 0, 3),
    ("FetchResponse", 0, 3),
    ("ListOffsetsRequest", 0, 0),
    ("ListOffsetsResponse", 0, 0),
    ("OffsetCommitRequest", 0, 1),
    ("OffsetCommitResponse", 0, 1),
    ("OffsetFetchRequest", 0, 0),
    ("OffsetFetchResponse", 0, 0),
    ("OffsetForLeaderEpochRequest", 0, 1),
    ("OffsetForLeaderEpochResponse", 0, 1),
    ("ProduceRequest", 0, 2),
    ("ProduceResponse", 0, 2),
    ("RequestHeader", 0, 0),
    ("ShareAcknowledgeRequest", 0, 0),
    ("ShareAcknowledgeResponse", 0, 0),
    ("ShareFetchRequest", 0, 0),
    ("ShareFetchResponse", 0, 0),
    ("ShareGroupDescribeRequest", 0, 0),
    ("ShareGroupDescribeResponse", 0, 0),
    ("ShareGroupHeartbeatRequest", 0, 0),
    ("ShareGroupHeartbeatResponse", 0, 0),
    ("WriteTxnMarkersRequest", 0, 0),
    ("WriteTxnMarkersResponse", 0, 0),
];

/// Runs both directions for `M` (ours) and `K` (theirs); `populated` gives their non-default
/// values for a version, tested alongside their `Default`.
fn differential<M, K>(populated: fn(i16) -> Vec<K>)
where
    M: Message + Arbitrary + PartialEq + Debug,
    K: TheirMessage + Decodable + Encodable + Default + Debug,
{
    let min = M::VERSIONS.min.max(K::VERSIONS.min);
    let max = M::VERSIONS.max.min(K::VERSIONS.max);
    let skipped: Vec<i16> = (M::VERSIONS.min..=M::VERSIONS.max)
        .filter(|v| !(min..=max).contains(v))
        .collect();
    let documented: Vec<i16> = SKIPPED
        .iter()
        .filter(|(name, _, _)| *name == M::NAME)
        .flat_map(|&(_, first, last)| first..=last)
        .collect();
    assert_eq!(skipped, documented, "{}: skipped versions", M::NAME);
    for version in min..=max {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&M::arbitrary(version), |value| {
                let mut buf = BytesMut::new();
                value
                    .encode(&mut buf, version)
                    .map_err(|e| TestCaseError::fail(format!("our encode: {e}")))?;
                let ours = buf.freeze();
                let mut input = ours.clone();
                let theirs = K::decode(&mut input, version)
                    .map_err(|e| TestCaseError::fail(format!("their decode: {e}")))?;
                prop_assert_eq!(input.len(), 0, "their decode left bytes over");
                let mut again = BytesMut::new();
                theirs
                    .encode(&mut again, version)
                    .map_err(|e| TestCaseError::fail(format!("their encode: {e}")))?;
                prop_assert_eq!(&again[..], &ours[..], "their bytes differ from ours");
                let mut again = again.freeze();
                let back = M::decode(&mut again, version)
                    .map_err(|e| TestCaseError::fail(format!("our decode: {e}")))?;
                prop_assert_eq!(back, value);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{} v{version}: {e}", M::NAME));
        for theirs in std::iter::once(K::default()).chain(populated(version)) {
            from_theirs::<M, K>(&theirs, version);
        }
    }
}

/// Their value → their encode → our decode → our encode must give their bytes back.
fn from_theirs<M: Message, K: Encodable + Debug>(value: &K, version: i16) {
    let name = M::NAME;
    let mut buf = BytesMut::new();
    value
        .encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("{name} v{version}: their encode of {value:?}: {e}"));
    let theirs = buf.freeze();
    let mut input = theirs.clone();
    let ours = M::decode(&mut input, version)
        .unwrap_or_else(|e| panic!("{name} v{version}: our decode of {value:?}: {e}"));
    assert!(
        input.is_empty(),
        "{name} v{version}: our decode left {} bytes of {value:?}",
        input.len()
    );
    let mut again = BytesMut::new();
    ours.encode(&mut again, version)
        .unwrap_or_else(|e| panic!("{name} v{version}: our encode of {value:?}: {e}"));
    assert_eq!(
        &again[..],
        &theirs[..],
        "{name} v{version}: our bytes differ from theirs for {value:?}"
    );
}

/// The function in [`kafka_values`] that fills in their value of a message, or
/// `kafka_values::none` for messages tested with `Default` alone.
macro_rules! populated {
    (api_versions_request) => {
        kafka_values::api_versions_request
    };
    (api_versions_response) => {
        kafka_values::api_versions_response
    };
    (create_topics_request) => {
        kafka_values::create_topics_request
    };
    (create_topics_response) => {
        kafka_values::create_topics_response
    };
    (fetch_request) => {
        kafka_values::fetch_request
    };
    (fetch_response) => {
        kafka_values::fetch_response
    };
    (join_group_request) => {
        kafka_values::join_group_request
    };
    (join_group_response) => {
        kafka_values::join_group_response
    };
    (list_offsets_request) => {
        kafka_values::list_offsets_request
    };
    (list_offsets_response) => {
        kafka_values::list_offsets_response
    };
    (metadata_request) => {
        kafka_values::metadata_request
    };
    (metadata_response) => {
        kafka_values::metadata_response
    };
    (offset_commit_request) => {
        kafka_values::offset_commit_request
    };
    (offset_commit_response) => {
        kafka_values::offset_commit_response
    };
    (offset_fetch_request) => {
        kafka_values::offset_fetch_request
    };
    (offset_fetch_response) => {
        kafka_values::offset_fetch_response
    };
    (produce_request) => {
        kafka_values::produce_request
    };
    (produce_response) => {
        kafka_values::produce_response
    };
    (sync_group_request) => {
        kafka_values::sync_group_request
    };
    (sync_group_response) => {
        kafka_values::sync_group_response
    };
    ($other:ident) => {
        kafka_values::none
    };
}

macro_rules! differential_test {
    ($ty:ident, $module:ident) => {
        #[test]
        fn $module() {
            differential::<fjord_protocol::messages::$ty, kafka_protocol::messages::$ty>(
                populated!($module),
            );
        }
    };
}

fjord_protocol::for_each_message!(differential_test);
