//! Every API we advertise, in every version we advertise: random valid requests go through
//! dispatch against a real broker, must not panic, and must get a response that encodes in
//! the request's version. This catches a handler setting a field its version lacks, which
//! would otherwise close the client's connection.

mod support;

use bytes::BytesMut;
use fjord_broker::dispatch::{Outcome, SUPPORTED_APIS};
use fjord_protocol::codec::arbitrary::Arbitrary;
use fjord_protocol::messages::*;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};

/// Random requests per API version (about 200 versions are advertised).
const CASES: usize = 12;

fn requests<R>(version: i16) -> BoxedStrategy<RequestBody>
where
    R: Arbitrary + Into<RequestBody> + 'static,
{
    R::arbitrary(version).prop_map(Into::into).boxed()
}

/// Random requests of API `key` valid in `version`.
fn strategy(key: ApiKey, version: i16) -> BoxedStrategy<RequestBody> {
    match key {
        ApiKey::Produce => requests::<ProduceRequest>(version),
        ApiKey::Fetch => requests::<FetchRequest>(version),
        ApiKey::ListOffsets => requests::<ListOffsetsRequest>(version),
        ApiKey::Metadata => requests::<MetadataRequest>(version),
        ApiKey::OffsetCommit => requests::<OffsetCommitRequest>(version),
        ApiKey::OffsetFetch => requests::<OffsetFetchRequest>(version),
        ApiKey::FindCoordinator => requests::<FindCoordinatorRequest>(version),
        ApiKey::JoinGroup => requests::<JoinGroupRequest>(version),
        ApiKey::Heartbeat => requests::<HeartbeatRequest>(version),
        ApiKey::LeaveGroup => requests::<LeaveGroupRequest>(version),
        ApiKey::SyncGroup => requests::<SyncGroupRequest>(version),
        ApiKey::DescribeGroups => requests::<DescribeGroupsRequest>(version),
        ApiKey::ListGroups => requests::<ListGroupsRequest>(version),
        ApiKey::SaslHandshake => requests::<SaslHandshakeRequest>(version),
        ApiKey::ApiVersions => requests::<ApiVersionsRequest>(version),
        ApiKey::CreateTopics => requests::<CreateTopicsRequest>(version),
        ApiKey::DeleteTopics => requests::<DeleteTopicsRequest>(version),
        ApiKey::DeleteRecords => requests::<DeleteRecordsRequest>(version),
        ApiKey::InitProducerId => requests::<InitProducerIdRequest>(version),
        ApiKey::OffsetForLeaderEpoch => requests::<OffsetForLeaderEpochRequest>(version),
        ApiKey::AddPartitionsToTxn => requests::<AddPartitionsToTxnRequest>(version),
        ApiKey::AddOffsetsToTxn => requests::<AddOffsetsToTxnRequest>(version),
        ApiKey::EndTxn => requests::<EndTxnRequest>(version),
        ApiKey::WriteTxnMarkers => requests::<WriteTxnMarkersRequest>(version),
        ApiKey::TxnOffsetCommit => requests::<TxnOffsetCommitRequest>(version),
        ApiKey::DescribeConfigs => requests::<DescribeConfigsRequest>(version),
        ApiKey::AlterConfigs => requests::<AlterConfigsRequest>(version),
        ApiKey::SaslAuthenticate => requests::<SaslAuthenticateRequest>(version),
        ApiKey::CreatePartitions => requests::<CreatePartitionsRequest>(version),
        ApiKey::DeleteGroups => requests::<DeleteGroupsRequest>(version),
        ApiKey::IncrementalAlterConfigs => requests::<IncrementalAlterConfigsRequest>(version),
        ApiKey::OffsetDelete => requests::<OffsetDeleteRequest>(version),
        ApiKey::DescribeCluster => requests::<DescribeClusterRequest>(version),
        ApiKey::DescribeProducers => requests::<DescribeProducersRequest>(version),
        ApiKey::DescribeTransactions => requests::<DescribeTransactionsRequest>(version),
        ApiKey::ListTransactions => requests::<ListTransactionsRequest>(version),
        ApiKey::ConsumerGroupHeartbeat => requests::<ConsumerGroupHeartbeatRequest>(version),
        ApiKey::ConsumerGroupDescribe => requests::<ConsumerGroupDescribeRequest>(version),
        ApiKey::DescribeTopicPartitions => requests::<DescribeTopicPartitionsRequest>(version),
        ApiKey::ShareGroupHeartbeat => requests::<ShareGroupHeartbeatRequest>(version),
        ApiKey::ShareGroupDescribe => requests::<ShareGroupDescribeRequest>(version),
        ApiKey::ShareFetch => requests::<ShareFetchRequest>(version),
        ApiKey::ShareAcknowledge => requests::<ShareAcknowledgeRequest>(version),
    }
}

/// Topics random requests may hit: random names are short, so some are one letter.
const SEEDED_TOPICS: &[&str] = &["a", "b", "c"];

// Paused time: long polls and rebalance waits in random requests finish at once.
#[tokio::test(start_paused = true)]
async fn every_supported_version_answers_in_its_own_version() {
    let test = support::start();
    let broker = &test.broker;
    for name in SEEDED_TOPICS {
        broker
            .topics
            .create(name, 2, fjord_broker::topic_config::TopicConfig::default())
            .unwrap();
    }
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let mut failures = Vec::new();
    let mut answered = 0usize;
    for api in SUPPORTED_APIS {
        for version in api.min..=api.max {
            let strategy = strategy(api.key, version);
            for _ in 0..CASES {
                let request = strategy.new_tree(&mut runner).unwrap().current();
                let outcome = support::dispatch_encoded(broker, version, &request).await;
                match outcome {
                    Ok(Outcome::Respond(body)) => {
                        if body.api_key() != api.key {
                            failures.push(format!(
                                "{:?} v{version}: answered with {:?}",
                                api.key,
                                body.api_key()
                            ));
                        }
                        let mut buf = BytesMut::new();
                        if let Err(e) = body.encode(&mut buf, version) {
                            failures.push(format!(
                                "{:?} v{version}: response does not encode: {e}\nrequest: {request:?}\nresponse: {body:?}",
                                api.key
                            ));
                        }
                        answered += 1;
                    }
                    // Produce with acks=0.
                    Ok(Outcome::NoResponse) => answered += 1,
                    Err(e) => failures.push(format!("{:?} v{version}: dispatch failed: {e}", api.key)),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
    assert!(answered > 0);
}
