//! CreateTopics: validate names, partition counts, replication factors and configs, then
//! create (or, with `validate_only`, only check).

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::create_topics_request::CreatableTopic;
use fjord_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use fjord_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use uuid::Uuid;

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::{config_error_code, topic_error_code};
use crate::handlers::create_partitions::MAX_NEW_PARTITIONS;
use crate::handlers::describe_configs::topic_values;
use crate::topic_config::TopicConfig;

/// Answers CreateTopics.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut seen = std::collections::HashSet::new();
    let duplicates: std::collections::HashSet<String> = request
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.clone()))
        .map(|t| t.name.clone())
        .collect();
    // Kafka refuses the whole request when it would create more partitions than one batch
    // may (`MAX_PARTITIONS_PER_BATCH`).
    let requested: i64 = request
        .topics
        .iter()
        .map(|t| match (t.assignments.len(), t.num_partitions) {
            (0, -1) => i64::from(broker.config.default_partitions),
            (0, n) => i64::from(n.max(0)),
            (n, _) => i64::try_from(n).unwrap_or(i64::MAX),
        })
        .sum();
    let too_many = requested > i64::from(MAX_NEW_PARTITIONS);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            if too_many {
                return failed(
                    topic.name,
                    ErrorCode::PolicyViolation,
                    format!("excessively large number of partitions per request: {requested}"),
                );
            }
            if duplicates.contains(&topic.name) {
                return failed(
                    topic.name,
                    ErrorCode::InvalidRequest,
                    "duplicate topic in request".into(),
                );
            }
            create_one(broker, topic, request.validate_only)
        })
        .collect();
    CreateTopicsResponse {
        topics,
        ..Default::default()
    }
}

fn failed(name: String, code: ErrorCode, message: String) -> CreatableTopicResult {
    CreatableTopicResult {
        name,
        error_code: code.code(),
        error_message: Some(message),
        num_partitions: -1,
        replication_factor: -1,
        configs: None,
        ..Default::default()
    }
}

fn create_one(broker: &Broker, topic: CreatableTopic, validate_only: bool) -> CreatableTopicResult {
    let name = topic.name;
    let has_assignments = !topic.assignments.is_empty();
    if has_assignments && (topic.num_partitions != -1 || topic.replication_factor != -1) {
        return failed(
            name,
            ErrorCode::InvalidRequest,
            "both partition assignments and counts were given".into(),
        );
    }
    let partitions = if has_assignments {
        i32::try_from(topic.assignments.len()).unwrap_or(i32::MAX)
    } else if topic.num_partitions == -1 {
        broker.config.default_partitions
    } else {
        topic.num_partitions
    };
    if partitions < 1 {
        return failed(
            name,
            ErrorCode::InvalidPartitions,
            "number of partitions must be larger than 0".into(),
        );
    }
    if topic
        .assignments
        .iter()
        .any(|a| a.broker_ids.iter().any(|&id| id != broker.node_id()))
    {
        return failed(
            name,
            ErrorCode::InvalidReplicaAssignment,
            "assignment names an unknown broker".into(),
        );
    }
    // One broker holds one replica of each partition.
    if topic.replication_factor != -1 && topic.replication_factor != 1 {
        return failed(
            name,
            ErrorCode::InvalidReplicationFactor,
            format!(
                "replication factor {} is larger than the 1 available broker",
                topic.replication_factor
            ),
        );
    }
    let mut pairs = Vec::with_capacity(topic.configs.len());
    for c in &topic.configs {
        match &c.value {
            Some(value) => pairs.push((c.name.as_str(), value.as_str())),
            None => {
                return failed(
                    name,
                    ErrorCode::InvalidConfig,
                    format!("null value for config {}", c.name),
                );
            }
        }
    }
    let config = match TopicConfig::from_overrides(pairs) {
        Ok(config) => config,
        Err(e) => return failed(name, config_error_code(&e), e.to_string()),
    };
    let id = if validate_only {
        match broker.topics.check_new(&name, partitions) {
            Ok(()) => Uuid::nil(),
            Err(e) => return failed(name, topic_error_code(&e), e.to_string()),
        }
    } else {
        match broker.topics.create(&name, partitions, config.clone()) {
            Ok(created) => created.id,
            Err(e) => return failed(name, topic_error_code(&e), e.to_string()),
        }
    };
    CreatableTopicResult {
        name,
        topic_id: id,
        error_code: ErrorCode::None.code(),
        error_message: None,
        num_partitions: partitions,
        replication_factor: 1,
        configs: Some(
            topic_values(&config, &broker.config)
                .into_iter()
                .map(|(name, value, source)| CreatableTopicConfigs {
                    name: name.to_string(),
                    value,
                    read_only: false,
                    config_source: source,
                    is_sensitive: false,
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}
