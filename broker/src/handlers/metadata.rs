//! Metadata: brokers, cluster id, and each topic's partitions, creating requested topics when
//! auto-creation is on.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use fjord_protocol::messages::{MetadataRequest, MetadataResponse};
use tracing::warn;

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::topic_error_code;
use crate::partition::LEADER_EPOCH;
use crate::topic_name::is_internal_topic;
use crate::topics::Topic;

/// Kafka's value for "authorized operations not requested".
const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// Answers Metadata.
pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: MetadataRequest,
) -> MetadataResponse {
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let requested = match request.topics {
        None => None,
        Some(topics) if topics.is_empty() && ctx.api_version == 0 => None,
        Some(topics) => Some(topics),
    };
    let topics = match requested {
        None => broker
            .topics
            .list()
            .iter()
            .map(|t| describe(t, broker.node_id()))
            .collect(),
        Some(wanted) => wanted
            .into_iter()
            .map(|t| {
                match t.name {
                    Some(name) => describe_named(broker, name, request.allow_auto_topic_creation),
                    // v10+: look-up by id.
                    None => match broker.topics.get_by_id(&t.topic_id) {
                        Some(topic) => describe(&topic, broker.node_id()),
                        None => MetadataResponseTopic {
                            error_code: ErrorCode::UnknownTopicId.code(),
                            // The response's name is nullable only from v12.
                            name: (ctx.api_version < 12).then(String::new),
                            topic_id: t.topic_id,
                            ..Default::default()
                        },
                    },
                }
            })
            .collect(),
    };
    let (host, port) = broker.advertised.clone();
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: broker.node_id(),
            host,
            port: i32::from(port),
            rack: None,
            ..Default::default()
        }],
        cluster_id: Some(broker.cluster_id().to_string()),
        controller_id: broker.node_id(),
        topics,
        ..Default::default()
    }
}

fn describe_named(broker: &Broker, name: String, allow_create: bool) -> MetadataResponseTopic {
    match broker.topic_or_create(&name, allow_create) {
        Ok(Some(topic)) => describe(&topic, broker.node_id()),
        Ok(None) => unknown(name, ErrorCode::UnknownTopicOrPartition),
        Err(e) => {
            let code = topic_error_code(&e);
            if code != ErrorCode::InvalidTopicException {
                warn!(topic = %name, error = %e, "auto-creating topic failed");
            }
            unknown(name, code)
        }
    }
}

fn unknown(name: String, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name: Some(name),
        topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}

fn describe(topic: &Topic, node_id: i32) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(topic.name.clone()),
        topic_id: topic.id,
        is_internal: is_internal_topic(&topic.name),
        partitions: topic
            .partitions()
            .iter()
            .map(|p| MetadataResponsePartition {
                error_code: ErrorCode::None.code(),
                partition_index: p.index,
                leader_id: node_id,
                leader_epoch: LEADER_EPOCH,
                replica_nodes: vec![node_id],
                isr_nodes: vec![node_id],
                offline_replicas: vec![],
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: AUTHORIZED_OPERATIONS_OMITTED,
        ..Default::default()
    }
}
