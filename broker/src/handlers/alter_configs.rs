//! AlterConfigs (the original, non-incremental form): replace a resource's whole set of
//! overrides with the one in the request.
//!
//! The checks shared with IncrementalAlterConfigs live here too: a resource named twice,
//! duplicate keys, the resource's type and name. Topics are changed through
//! [`crate::topics::Topics::alter_config`], which persists the overrides and hands the new
//! settings to the logs. Broker settings are static on this broker, so any change to them is
//! refused the way Kafka refuses a change to a non-dynamic setting.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use fjord_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::{config_error_code, topic_error_code};
use crate::handlers::describe_configs::resource;
use crate::topic_config::TopicConfig;
use crate::topic_name::validate_topic_name;
use crate::topics::Topic;

/// A refusal: the code and Kafka's kind of message.
pub(crate) type Refusal = (ErrorCode, String);

/// What a config change applies to, once the resource checked out.
pub(crate) enum Target {
    /// An existing topic.
    Topic(Arc<Topic>),
    /// This broker (or the cluster-wide broker defaults, for an empty name).
    Broker,
}

/// Marks every resource that appears more than once in a request.
pub(crate) fn duplicated_resources<'a>(
    keys: impl Iterator<Item = (i8, &'a str)> + Clone,
) -> Vec<bool> {
    let mut counts: HashMap<(i8, &str), usize> = HashMap::new();
    for key in keys.clone() {
        *counts.entry(key).or_default() += 1;
    }
    keys.map(|k| counts.get(&k).copied().unwrap_or(0) > 1)
        .collect()
}

/// The refusal of a resource named twice in one request.
pub(crate) fn duplicate_resource() -> Refusal {
    (
        ErrorCode::InvalidRequest,
        "Each resource must appear at most once.".into(),
    )
}

/// Refuses a resource whose config keys repeat.
pub(crate) fn check_unique_keys<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), Refusal> {
    let mut seen = HashSet::new();
    if names.into_iter().all(|n| seen.insert(n)) {
        Ok(())
    } else {
        Err((
            ErrorCode::InvalidRequest,
            "Error due to duplicate config keys".into(),
        ))
    }
}

/// Refuses null values for the named settings.
pub(crate) fn check_no_nulls(null_names: &[&str]) -> Result<(), Refusal> {
    if null_names.is_empty() {
        Ok(())
    } else {
        Err((
            ErrorCode::InvalidRequest,
            format!("Null value not supported for : {}", null_names.join(", ")),
        ))
    }
}

/// Resolves the resource a change is for.
pub(crate) fn resolve(broker: &Broker, kind: i8, name: &str) -> Result<Target, Refusal> {
    match kind {
        resource::TOPIC => {
            if name.is_empty() {
                return Err((
                    ErrorCode::InvalidRequest,
                    "Default topic resources are not allowed.".into(),
                ));
            }
            validate_topic_name(name)
                .map_err(|e| (ErrorCode::InvalidTopicException, e.to_string()))?;
            broker.topics.get(name).map(Target::Topic).ok_or_else(|| {
                (
                    ErrorCode::UnknownTopicOrPartition,
                    format!("The topic '{name}' does not exist."),
                )
            })
        }
        resource::BROKER => {
            if !name.is_empty() {
                let id: i32 = name.parse().map_err(|_parse: std::num::ParseIntError| {
                    (
                        ErrorCode::InvalidRequest,
                        format!("Node id must be an integer, but it is: {name}"),
                    )
                })?;
                if id != broker.node_id() {
                    return Err((
                        ErrorCode::InvalidRequest,
                        format!(
                            "Unexpected broker id, expected {}, but received {name}",
                            broker.node_id()
                        ),
                    ));
                }
            }
            Ok(Target::Broker)
        }
        other => Err((
            ErrorCode::InvalidRequest,
            format!("Unknown resource type {other}"),
        )),
    }
}

/// Broker settings cannot change at run time here: refuse any change, naming the settings,
/// with the code Kafka uses for a change to a static setting.
pub(crate) fn refuse_broker_changes(names: &[&str]) -> Result<(), Refusal> {
    if names.is_empty() {
        return Ok(());
    }
    let mut sorted = names.to_vec();
    sorted.sort_unstable();
    Err((
        ErrorCode::InvalidRequest,
        format!(
            "Cannot update these configs dynamically: Set({})",
            sorted.join(", ")
        ),
    ))
}

/// Stores new overrides for a topic unless only validating.
pub(crate) fn apply(
    broker: &Broker,
    topic: &Topic,
    config: TopicConfig,
    validate_only: bool,
) -> Result<(), Refusal> {
    if validate_only {
        return Ok(());
    }
    broker
        .topics
        .alter_config(&topic.name, config)
        .map_err(|e| (topic_error_code(&e), e.to_string()))
}

/// Answers AlterConfigs.
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let duplicated = duplicated_resources(
        request
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let responses = request
        .resources
        .into_iter()
        .zip(duplicated)
        .map(|(r, duplicate)| {
            let outcome = if duplicate {
                Err(duplicate_resource())
            } else {
                let pairs: Vec<(&str, Option<&str>)> = r
                    .configs
                    .iter()
                    .map(|c| (c.name.as_str(), c.value.as_deref()))
                    .collect();
                alter(
                    broker,
                    r.resource_type,
                    &r.resource_name,
                    &pairs,
                    request.validate_only,
                )
            };
            let (code, message) = match outcome {
                Ok(()) => (ErrorCode::None, None),
                Err((code, message)) => (code, Some(message)),
            };
            AlterConfigsResourceResponse {
                error_code: code.code(),
                error_message: message,
                resource_type: r.resource_type,
                resource_name: r.resource_name,
                ..Default::default()
            }
        })
        .collect();
    AlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

fn alter(
    broker: &Broker,
    kind: i8,
    name: &str,
    pairs: &[(&str, Option<&str>)],
    validate_only: bool,
) -> Result<(), Refusal> {
    check_unique_keys(pairs.iter().map(|(n, _)| *n))?;
    let nulls: Vec<&str> = pairs
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    check_no_nulls(&nulls)?;
    match resolve(broker, kind, name)? {
        Target::Broker => refuse_broker_changes(&pairs.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
        Target::Topic(topic) => {
            let config =
                TopicConfig::from_overrides(pairs.iter().filter_map(|(n, v)| v.map(|v| (*n, v))))
                    .map_err(|e| (config_error_code(&e), e.to_string()))?;
            apply(broker, &topic, config, validate_only)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_resources_are_all_marked() {
        let marks = duplicated_resources([(2, "a"), (2, "b"), (2, "a"), (4, "a")].into_iter());
        assert_eq!(marks, vec![true, false, true, false]);
    }

    #[test]
    fn repeated_keys_and_nulls_are_invalid_requests() {
        assert!(check_unique_keys(["a", "b"].into_iter()).is_ok());
        assert_eq!(
            check_unique_keys(["a", "b", "a"].into_iter()).map_err(|e| e.0),
            Err(ErrorCode::InvalidRequest)
        );
        assert_eq!(
            check_no_nulls(&["retention.ms"]).map_err(|e| e.0),
            Err(ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn broker_changes_are_refused_by_name() {
        assert!(refuse_broker_changes(&[]).is_ok());
        let (code, message) = refuse_broker_changes(&["num.partitions", "log.dirs"]).unwrap_err();
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(message.contains("log.dirs, num.partitions"), "{message}");
    }
}
