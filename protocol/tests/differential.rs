//! Differential tests against the independent `kafka-protocol` crate: for every message and
//! every version both codecs support, our random value → our encode → their decode → their
//! encode must give identical bytes, and those bytes must decode back to our value.
//!
//! Versions only one side supports are skipped: `kafka-protocol` 0.18 follows a newer Kafka
//! that dropped old versions (and renumbered the share-group APIs). Skipped, by message:
//! `CreateTopics` v0-1, `DeleteTopics` v0, `DescribeConfigs` v0, `Fetch` v0-3, `ListOffsets` v0,
//! `OffsetCommit` v0-1, `OffsetFetch` v0, `OffsetForLeaderEpoch` v0-1, `Produce` v0-2,
//! `WriteTxnMarkers` v0 (requests and responses each), `RequestHeader` v0, and all of
//! `ShareAcknowledge`, `ShareFetch`, `ShareGroupDescribe`, `ShareGroupHeartbeat` (we have v0,
//! they have v1 only). [`SKIPPED`] holds this list and every test checks that its message
//! skips exactly what the list says, so the list cannot drift.

use std::fmt::Debug;

use bytes::BytesMut;
use fjord_protocol::codec::arbitrary::Arbitrary;
use fjord_protocol::codec::Message;
use kafka_protocol::protocol::{Decodable, Encodable, Message as TheirMessage};
use proptest::prop_assert_eq;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

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

fn differential<M, K>()
where
    M: Message + Arbitrary + PartialEq + Debug,
    K: TheirMessage + Decodable + Encodable,
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
    }
}

macro_rules! differential_test {
    ($ty:ident, $module:ident) => {
        #[test]
        fn $module() {
            differential::<fjord_protocol::messages::$ty, kafka_protocol::messages::$ty>();
        }
    };
}

fjord_protocol::for_each_message!(differential_test);
