//! Values built on the `kafka-protocol` side, for the reverse direction of the differential
//! tests: their encode → our decode → our encode must give their bytes.
//!
//! Every message is tested with their `Default`; the main messages also get one value per
//! version with non-default fields, nested structs and arrays filled in. A field is only set in
//! the versions that have it, because `kafka-protocol` refuses to encode a non-ignorable field
//! outside its versions; the version gates follow the schemas.

use bytes::Bytes;
use kafka_protocol::messages::{
    api_versions_response, create_topics_request, create_topics_response, fetch_request,
    fetch_response, join_group_request, join_group_response, list_offsets_request,
    list_offsets_response, metadata_request, metadata_response, offset_commit_request,
    offset_commit_response, offset_fetch_request, offset_fetch_response, produce_request,
    produce_response, sync_group_request, BrokerId, GroupId, ProducerId, TopicName,
    TransactionalId,
};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    FetchRequest, FetchResponse, JoinGroupRequest, JoinGroupResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

/// Bytes standing in for a record batch: both codecs carry `records` as opaque bytes.
const RECORDS: &[u8] = b"\0\0\0\0\0\0\0\x05opaque record batch bytes";
const TOPIC_ID: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);

fn s(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

fn topic(name: &'static str) -> TopicName {
    TopicName(s(name))
}

/// No populated value: the message is tested with `Default` alone.
pub(crate) fn none<K>(_version: i16) -> Vec<K> {
    Vec::new()
}

pub(crate) fn produce_request(v: i16) -> Vec<ProduceRequest> {
    let partition = produce_request::PartitionProduceData::default()
        .with_index(3)
        .with_records(Some(Bytes::from_static(RECORDS)));
    let mut topic_data = produce_request::TopicProduceData::default()
        .with_partition_data(vec![partition.clone(), partition.with_records(None)]);
    topic_data = if v >= 13 {
        topic_data.with_topic_id(TOPIC_ID)
    } else {
        topic_data.with_name(topic("orders"))
    };
    vec![ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s("txn-1"))))
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![topic_data])]
}

pub(crate) fn produce_response(v: i16) -> Vec<ProduceResponse> {
    let mut partition = produce_response::PartitionProduceResponse::default()
        .with_index(1)
        .with_error_code(6)
        .with_base_offset(1_000)
        .with_log_append_time_ms(1_700_000_000_000);
    if v >= 5 {
        partition = partition.with_log_start_offset(10);
    }
    if v >= 8 {
        partition = partition
            .with_record_errors(vec![produce_response::BatchIndexAndErrorMessage::default()
                .with_batch_index(2)
                .with_batch_index_error_message(Some(s("bad record")))])
            .with_error_message(Some(s("not leader")));
    }
    if v >= 10 {
        partition = partition.with_current_leader(
            produce_response::LeaderIdAndEpoch::default()
                .with_leader_id(BrokerId(4))
                .with_leader_epoch(9),
        );
    }
    let mut topic_response =
        produce_response::TopicProduceResponse::default().with_partition_responses(vec![partition]);
    topic_response = if v >= 13 {
        topic_response.with_topic_id(TOPIC_ID)
    } else {
        topic_response.with_name(topic("orders"))
    };
    let mut response = ProduceResponse::default()
        .with_responses(vec![topic_response])
        .with_throttle_time_ms(5);
    if v >= 10 {
        response = response.with_node_endpoints(vec![produce_response::NodeEndpoint::default()
            .with_node_id(BrokerId(4))
            .with_host(s("broker-4"))
            .with_port(9092)
            .with_rack(Some(s("rack-a")))]);
    }
    vec![response]
}

pub(crate) fn fetch_request(v: i16) -> Vec<FetchRequest> {
    let mut partition = fetch_request::FetchPartition::default()
        .with_partition(2)
        .with_fetch_offset(500)
        .with_partition_max_bytes(1 << 20);
    if v >= 5 {
        partition = partition.with_log_start_offset(7);
    }
    if v >= 9 {
        partition = partition.with_current_leader_epoch(3);
    }
    if v >= 12 {
        partition = partition.with_last_fetched_epoch(2);
    }
    if v >= 17 {
        partition = partition.with_replica_directory_id(TOPIC_ID);
    }
    let mut topic_entry = fetch_request::FetchTopic::default().with_partitions(vec![partition]);
    topic_entry = if v >= 13 {
        topic_entry.with_topic_id(TOPIC_ID)
    } else {
        topic_entry.with_topic(topic("orders"))
    };
    let mut request = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_isolation_level(1)
        .with_topics(vec![topic_entry]);
    if v <= 14 {
        request = request.with_replica_id(BrokerId(-1));
    } else {
        request = request.with_replica_state(
            fetch_request::ReplicaState::default()
                .with_replica_id(BrokerId(3))
                .with_replica_epoch(8),
        );
    }
    if v >= 7 {
        let mut forgotten = fetch_request::ForgottenTopic::default().with_partitions(vec![0, 1]);
        forgotten = if v >= 13 {
            forgotten.with_topic_id(TOPIC_ID)
        } else {
            forgotten.with_topic(topic("gone"))
        };
        request = request
            .with_session_id(77)
            .with_session_epoch(4)
            .with_forgotten_topics_data(vec![forgotten]);
    }
    if v >= 11 {
        request = request.with_rack_id(s("rack-b"));
    }
    if v >= 12 {
        request = request.with_cluster_id(Some(s("cluster-1")));
    }
    vec![request]
}

pub(crate) fn fetch_response(v: i16) -> Vec<FetchResponse> {
    let mut partition = fetch_response::PartitionData::default()
        .with_partition_index(2)
        .with_high_watermark(900)
        .with_last_stable_offset(850)
        .with_aborted_transactions(Some(vec![fetch_response::AbortedTransaction::default()
            .with_producer_id(ProducerId(12))
            .with_first_offset(800)]))
        .with_records(Some(Bytes::from_static(RECORDS)));
    if v >= 5 {
        partition = partition.with_log_start_offset(100);
    }
    if v >= 11 {
        partition = partition.with_preferred_read_replica(BrokerId(2));
    }
    if v >= 12 {
        // A tagged field holding a struct.
        partition = partition.with_current_leader(
            fetch_response::LeaderIdAndEpoch::default()
                .with_leader_id(BrokerId(1))
                .with_leader_epoch(2),
        );
    }
    let mut topic_entry =
        fetch_response::FetchableTopicResponse::default().with_partitions(vec![partition]);
    topic_entry = if v >= 13 {
        topic_entry.with_topic_id(TOPIC_ID)
    } else {
        topic_entry.with_topic(topic("orders"))
    };
    let mut response = FetchResponse::default()
        .with_throttle_time_ms(3)
        .with_responses(vec![topic_entry]);
    if v >= 7 {
        response = response.with_error_code(0).with_session_id(77);
    }
    if v >= 16 {
        response = response.with_node_endpoints(vec![fetch_response::NodeEndpoint::default()
            .with_node_id(BrokerId(1))
            .with_host(s("broker-1"))
            .with_port(9092)
            .with_rack(None)]);
    }
    vec![response]
}

pub(crate) fn metadata_request(v: i16) -> Vec<MetadataRequest> {
    let mut entry =
        metadata_request::MetadataRequestTopic::default().with_name(Some(topic("orders")));
    if v >= 10 {
        entry = entry.with_topic_id(TOPIC_ID);
    }
    let mut request = MetadataRequest::default().with_topics(Some(vec![entry]));
    if v >= 4 {
        request = request.with_allow_auto_topic_creation(false);
    }
    if (8..=10).contains(&v) {
        request = request.with_include_cluster_authorized_operations(true);
    }
    if v >= 8 {
        request = request.with_include_topic_authorized_operations(true);
    }
    // Null topics means "all topics" from v1 on.
    let all = (v >= 1).then(|| MetadataRequest::default().with_topics(None));
    std::iter::once(request).chain(all).collect()
}

pub(crate) fn metadata_response(v: i16) -> Vec<MetadataResponse> {
    let mut broker = metadata_response::MetadataResponseBroker::default()
        .with_node_id(BrokerId(1))
        .with_host(s("broker-1"))
        .with_port(9092);
    if v >= 1 {
        broker = broker.with_rack(Some(s("rack-a")));
    }
    let mut partition = metadata_response::MetadataResponsePartition::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(1))
        .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
        .with_isr_nodes(vec![BrokerId(1)]);
    if v >= 5 {
        partition = partition.with_offline_replicas(vec![BrokerId(2)]);
    }
    if v >= 7 {
        partition = partition.with_leader_epoch(6);
    }
    let mut topic_entry = metadata_response::MetadataResponseTopic::default()
        .with_name(Some(topic("orders")))
        .with_partitions(vec![partition]);
    if v >= 1 {
        topic_entry = topic_entry.with_is_internal(true);
    }
    if v >= 8 {
        topic_entry = topic_entry.with_topic_authorized_operations(0x0ff8);
    }
    if v >= 10 {
        topic_entry = topic_entry.with_topic_id(TOPIC_ID);
    }
    let mut response = MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_topics(vec![topic_entry]);
    if v >= 1 {
        response = response.with_controller_id(BrokerId(1));
    }
    if v >= 2 {
        response = response.with_cluster_id(Some(s("cluster-1")));
    }
    if v >= 3 {
        response = response.with_throttle_time_ms(8);
    }
    if (8..=10).contains(&v) {
        response = response.with_cluster_authorized_operations(0x0ff8);
    }
    vec![response]
}

pub(crate) fn list_offsets_request(v: i16) -> Vec<ListOffsetsRequest> {
    let mut partition = list_offsets_request::ListOffsetsPartition::default()
        .with_partition_index(1)
        .with_timestamp(-2);
    if v >= 4 {
        partition = partition.with_current_leader_epoch(5);
    }
    let mut request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![partition])]);
    if v >= 2 {
        request = request.with_isolation_level(1);
    }
    if v >= 10 {
        request = request.with_timeout_ms(1_500);
    }
    vec![request]
}

pub(crate) fn list_offsets_response(v: i16) -> Vec<ListOffsetsResponse> {
    let mut partition = list_offsets_response::ListOffsetsPartitionResponse::default()
        .with_partition_index(1)
        .with_timestamp(1_700_000_000_000)
        .with_offset(42);
    if v >= 4 {
        partition = partition.with_leader_epoch(5);
    }
    let mut response = ListOffsetsResponse::default().with_topics(vec![
        list_offsets_response::ListOffsetsTopicResponse::default()
            .with_name(topic("orders"))
            .with_partitions(vec![partition]),
    ]);
    if v >= 2 {
        response = response.with_throttle_time_ms(1);
    }
    vec![response]
}

pub(crate) fn join_group_request(v: i16) -> Vec<JoinGroupRequest> {
    let mut request = JoinGroupRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_session_timeout_ms(45_000)
        .with_member_id(s("member-1"))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
        )
        .with_name(s("range"))
        .with_metadata(Bytes::from_static(b"\0\x03subscription"))]);
    if v >= 1 {
        request = request.with_rebalance_timeout_ms(300_000);
    }
    if v >= 5 {
        request = request.with_group_instance_id(Some(s("instance-1")));
    }
    if v >= 8 {
        request = request.with_reason(Some(s("rejoin")));
    }
    vec![request]
}

pub(crate) fn join_group_response(v: i16) -> Vec<JoinGroupResponse> {
    let mut member = join_group_response::JoinGroupResponseMember::default()
        .with_member_id(s("member-1"))
        .with_metadata(Bytes::from_static(b"meta"));
    if v >= 5 {
        member = member.with_group_instance_id(Some(s("instance-1")));
    }
    let mut response = JoinGroupResponse::default()
        .with_generation_id(3)
        .with_protocol_name(Some(s("range")))
        .with_leader(s("member-1"))
        .with_member_id(s("member-1"))
        .with_members(vec![member]);
    if v >= 2 {
        response = response.with_throttle_time_ms(2);
    }
    if v >= 7 {
        response = response.with_protocol_type(Some(s("consumer")));
    }
    if v >= 9 {
        response = response.with_skip_assignment(true);
    }
    vec![response]
}

pub(crate) fn sync_group_request(v: i16) -> Vec<SyncGroupRequest> {
    let mut request = SyncGroupRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_generation_id(3)
        .with_member_id(s("member-1"))
        .with_assignments(vec![
            sync_group_request::SyncGroupRequestAssignment::default()
                .with_member_id(s("member-1"))
                .with_assignment(Bytes::from_static(b"assignment")),
        ]);
    if v >= 3 {
        request = request.with_group_instance_id(Some(s("instance-1")));
    }
    if v >= 5 {
        request = request
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")));
    }
    vec![request]
}

pub(crate) fn sync_group_response(v: i16) -> Vec<SyncGroupResponse> {
    let mut response = SyncGroupResponse::default()
        .with_error_code(27)
        .with_assignment(Bytes::from_static(b"assignment"));
    if v >= 1 {
        response = response.with_throttle_time_ms(4);
    }
    if v >= 5 {
        response = response
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")));
    }
    vec![response]
}

pub(crate) fn offset_commit_request(v: i16) -> Vec<OffsetCommitRequest> {
    let mut partition = offset_commit_request::OffsetCommitRequestPartition::default()
        .with_partition_index(0)
        .with_committed_offset(1_234)
        .with_committed_metadata(Some(s("meta")));
    if v >= 6 {
        partition = partition.with_committed_leader_epoch(2);
    }
    let mut request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("group-1")))
        .with_generation_id_or_member_epoch(3)
        .with_member_id(s("member-1"))
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![partition]),
        ]);
    if v <= 4 {
        request = request.with_retention_time_ms(86_400_000);
    }
    if v >= 7 {
        request = request.with_group_instance_id(Some(s("instance-1")));
    }
    vec![request]
}

pub(crate) fn offset_commit_response(v: i16) -> Vec<OffsetCommitResponse> {
    let mut topic_entry = offset_commit_response::OffsetCommitResponseTopic::default()
        .with_partitions(vec![
            offset_commit_response::OffsetCommitResponsePartition::default()
                .with_partition_index(0)
                .with_error_code(25),
        ]);
    topic_entry = if v >= 10 {
        topic_entry.with_topic_id(TOPIC_ID)
    } else {
        topic_entry.with_name(topic("orders"))
    };
    let mut response = OffsetCommitResponse::default().with_topics(vec![topic_entry]);
    if v >= 3 {
        response = response.with_throttle_time_ms(6);
    }
    vec![response]
}

pub(crate) fn offset_fetch_request(v: i16) -> Vec<OffsetFetchRequest> {
    let mut request = OffsetFetchRequest::default();
    if v <= 7 {
        request = request
            .with_group_id(GroupId(s("group-1")))
            .with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(topic("orders"))
                    .with_partition_indexes(vec![0, 1]),
            ]));
    } else {
        let mut group = offset_fetch_request::OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s("group-1")))
            .with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopics::default()
                    .with_name(topic("orders"))
                    .with_partition_indexes(vec![0, 1]),
            ]));
        if v >= 9 {
            group = group
                .with_member_id(Some(s("member-1")))
                .with_member_epoch(5);
        }
        request = request.with_groups(vec![group]);
    }
    if v >= 7 {
        request = request.with_require_stable(true);
    }
    vec![request]
}

pub(crate) fn offset_fetch_response(v: i16) -> Vec<OffsetFetchResponse> {
    let mut response = OffsetFetchResponse::default();
    if v <= 7 {
        let mut partition = offset_fetch_response::OffsetFetchResponsePartition::default()
            .with_partition_index(0)
            .with_committed_offset(1_234)
            .with_metadata(Some(s("meta")));
        if v >= 5 {
            partition = partition.with_committed_leader_epoch(2);
        }
        response = response.with_topics(vec![
            offset_fetch_response::OffsetFetchResponseTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![partition]),
        ]);
        if v >= 2 {
            response = response.with_error_code(0);
        }
    } else {
        let mut topic_entry = offset_fetch_response::OffsetFetchResponseTopics::default()
            .with_partitions(vec![
                offset_fetch_response::OffsetFetchResponsePartitions::default()
                    .with_partition_index(0)
                    .with_committed_offset(1_234)
                    .with_committed_leader_epoch(2)
                    .with_metadata(Some(s("meta"))),
            ]);
        topic_entry = if v >= 10 {
            topic_entry.with_topic_id(TOPIC_ID)
        } else {
            topic_entry.with_name(topic("orders"))
        };
        response = response.with_groups(vec![
            offset_fetch_response::OffsetFetchResponseGroup::default()
                .with_group_id(GroupId(s("group-1")))
                .with_topics(vec![topic_entry]),
        ]);
    }
    if v >= 3 {
        response = response.with_throttle_time_ms(9);
    }
    vec![response]
}

pub(crate) fn create_topics_request(_v: i16) -> Vec<CreateTopicsRequest> {
    let assigned = create_topics_request::CreatableTopic::default()
        .with_name(topic("assigned"))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![
            create_topics_request::CreatableReplicaAssignment::default()
                .with_partition_index(0)
                .with_broker_ids(vec![BrokerId(1), BrokerId(2)]),
        ]);
    let configured = create_topics_request::CreatableTopic::default()
        .with_name(topic("orders"))
        .with_num_partitions(6)
        .with_replication_factor(3)
        .with_configs(vec![
            create_topics_request::CreatableTopicConfig::default()
                .with_name(s("cleanup.policy"))
                .with_value(Some(s("compact"))),
            create_topics_request::CreatableTopicConfig::default()
                .with_name(s("retention.ms"))
                .with_value(None),
        ]);
    vec![CreateTopicsRequest::default()
        .with_topics(vec![assigned, configured])
        .with_timeout_ms(60_000)
        .with_validate_only(true)]
}

pub(crate) fn create_topics_response(v: i16) -> Vec<CreateTopicsResponse> {
    let mut result = create_topics_response::CreatableTopicResult::default()
        .with_name(topic("orders"))
        .with_error_code(36)
        .with_error_message(Some(s("topic exists")));
    if v >= 5 {
        result = result
            .with_topic_config_error_code(29)
            .with_num_partitions(6)
            .with_replication_factor(3)
            .with_configs(Some(vec![
                create_topics_response::CreatableTopicConfigs::default()
                    .with_name(s("cleanup.policy"))
                    .with_value(Some(s("compact")))
                    .with_read_only(false)
                    .with_config_source(5)
                    .with_is_sensitive(true),
            ]));
    }
    if v >= 7 {
        result = result.with_topic_id(TOPIC_ID);
    }
    vec![CreateTopicsResponse::default()
        .with_throttle_time_ms(2)
        .with_topics(vec![result])]
}

pub(crate) fn api_versions_request(v: i16) -> Vec<ApiVersionsRequest> {
    let request = ApiVersionsRequest::default();
    vec![if v >= 3 {
        request
            .with_client_software_name(s("librdkafka"))
            .with_client_software_version(s("2.3.0"))
    } else {
        request
    }]
}

pub(crate) fn api_versions_response(v: i16) -> Vec<ApiVersionsResponse> {
    let mut response = ApiVersionsResponse::default().with_api_keys(vec![
        api_versions_response::ApiVersion::default()
            .with_api_key(0)
            .with_min_version(3)
            .with_max_version(11),
        api_versions_response::ApiVersion::default()
            .with_api_key(18)
            .with_min_version(0)
            .with_max_version(4),
    ]);
    if v >= 1 {
        response = response.with_throttle_time_ms(11);
    }
    if v >= 3 {
        response = response
            .with_supported_features(vec![api_versions_response::SupportedFeatureKey::default()
                .with_name(s("metadata.version"))
                .with_min_version(1)
                .with_max_version(20)])
            .with_finalized_features_epoch(4)
            .with_finalized_features(vec![api_versions_response::FinalizedFeatureKey::default()
                .with_name(s("metadata.version"))
                .with_max_version_level(20)
                .with_min_version_level(20)]);
    }
    // An unsupported-version answer is the one error Kafka still sends with a body.
    let error = ApiVersionsResponse::default().with_error_code(35);
    vec![response, error]
}
