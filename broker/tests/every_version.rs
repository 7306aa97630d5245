//! Every API we advertise, in every version we advertise: random valid requests go through
//! dispatch against a real broker, must not panic, and must get a response that encodes in
//! the request's version. This catches a handler setting a field its version lacks, which
//! would otherwise close the client's connection.

mod support;

use bytes::BytesMut;
use fjord_broker::dispatch::{DispatchError, Outcome, SUPPORTED_APIS};
use fjord_protocol::codec::arbitrary::Arbitrary;
use fjord_protocol::messages::*;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};

/// Random requests per API version (about 200 versions are advertised).
const CASES: usize = 32;

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
    let mut limited = 0usize;
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
                    Ok(Outcome::Disconnect) => failures.push(format!(
                        "{:?} v{version}: disconnected without an injected fault",
                        api.key
                    )),
                    // A random count of partitions past the request limit closes the
                    // connection by design (see `fjord_broker::limits`).
                    Err(DispatchError::Limit(_)) => limited += 1,
                    Err(e) => {
                        failures.push(format!("{:?} v{version}: dispatch failed: {e}", api.key));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        answered > limited,
        "{answered} answered, {limited} over the limits"
    );
}

/// Requests that succeed against topic "a" (2 partitions, one record), for the APIs whose
/// random requests almost never name an existing topic.
fn succeeding(key: ApiKey, version: i16, step: i32) -> Option<RequestBody> {
    use fjord_protocol::messages::{
        alter_configs_request as ac, create_partitions_request as cp, delete_records_request as dr,
        describe_topic_partitions_request as dtp, incremental_alter_configs_request as iac,
        offset_for_leader_epoch_request as ofle,
    };
    Some(match key {
        ApiKey::CreatePartitions => CreatePartitionsRequest {
            topics: vec![cp::CreatePartitionsTopic {
                name: "b".into(),
                // Grows by one at each version, so every request is an increase.
                count: 3 + step,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: 1000,
            validate_only: false,
            ..Default::default()
        }
        .into(),
        ApiKey::DeleteRecords => DeleteRecordsRequest {
            topics: vec![dr::DeleteRecordsTopic {
                name: "a".into(),
                partitions: vec![dr::DeleteRecordsPartition {
                    partition_index: 0,
                    offset: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 1000,
            ..Default::default()
        }
        .into(),
        ApiKey::AlterConfigs => AlterConfigsRequest {
            resources: vec![ac::AlterConfigsResource {
                resource_type: 2,
                resource_name: "a".into(),
                configs: vec![ac::AlterableConfig {
                    name: "retention.ms".into(),
                    value: Some("60000".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        }
        .into(),
        ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest {
            resources: vec![iac::AlterConfigsResource {
                resource_type: 2,
                resource_name: "a".into(),
                configs: vec![iac::AlterableConfig {
                    name: "cleanup.policy".into(),
                    config_operation: 2,
                    value: Some("compact".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            validate_only: true,
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeCluster => DescribeClusterRequest {
            include_cluster_authorized_operations: true,
            ..Default::default()
        }
        .into(),
        ApiKey::DescribeTopicPartitions => DescribeTopicPartitionsRequest {
            topics: vec![],
            response_partition_limit: 1,
            cursor: Some(dtp::Cursor {
                topic_name: "a".into(),
                partition_index: 1,
                ..Default::default()
            }),
            ..Default::default()
        }
        .into(),
        ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest {
            replica_id: if version >= 3 { -1 } else { -2 },
            topics: vec![ofle::OffsetForLeaderTopic {
                topic: "a".into(),
                partitions: vec![ofle::OffsetForLeaderPartition {
                    partition: 1,
                    current_leader_epoch: 0,
                    leader_epoch: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
        .into(),
        _ => return None,
    })
}

/// The error codes in a response of the APIs [`succeeding`] covers.
fn error_codes(body: &ResponseBody) -> Vec<i16> {
    match body {
        ResponseBody::CreatePartitions(r) => r.results.iter().map(|t| t.error_code).collect(),
        ResponseBody::DeleteRecords(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        ResponseBody::AlterConfigs(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseBody::IncrementalAlterConfigs(r) => {
            r.responses.iter().map(|t| t.error_code).collect()
        }
        ResponseBody::DescribeCluster(r) => vec![r.error_code],
        ResponseBody::DescribeTopicPartitions(r) => r.topics.iter().map(|t| t.error_code).collect(),
        ResponseBody::OffsetForLeaderEpoch(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        _ => vec![],
    }
}

#[tokio::test]
async fn admin_apis_succeed_in_every_version() {
    let test = support::start();
    let broker = &test.broker;
    for name in ["a", "b"] {
        broker
            .topics
            .create(name, 2, fjord_broker::topic_config::TopicConfig::default())
            .unwrap();
    }
    let mut step = 0;
    for api in SUPPORTED_APIS {
        for version in api.min..=api.max {
            let Some(request) = succeeding(api.key, version, step) else {
                continue;
            };
            step += 1;
            // `call` checks that the response encodes in `version`.
            let body = support::call(broker, version, request).await;
            let codes = error_codes(&body);
            assert!(
                !codes.is_empty() && codes.iter().all(|&c| c == 0),
                "{:?} v{version}: {body:?}",
                api.key
            );
        }
    }
    assert!(step >= 7, "only {step} requests sent");
}
