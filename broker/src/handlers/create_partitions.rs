//! CreatePartitions: grow topics' partition counts (or, with `validate_only`, only check).
//!
//! Kafka's checks, in its order: a topic named twice in one request, unknown topic, a count that
//! is not an increase, then the manual assignments of the new partitions (one per new
//! partition, each naming this broker exactly once, as the existing partitions have one replica).

use std::collections::HashMap;

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use fjord_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use fjord_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::topic_error_code;

/// Most partitions one request may create (Kafka's `MAX_PARTITIONS_PER_BATCH`), here and in
/// CreateTopics. Each partition is a directory with open files, so a typo must not be able to
/// ask for millions.
pub const MAX_NEW_PARTITIONS: i32 = 10_000;

/// Answers CreatePartitions.
pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for topic in &request.topics {
        *seen.entry(topic.name.as_str()).or_default() += 1;
    }
    let duplicated: Vec<bool> = request
        .topics
        .iter()
        .map(|t| seen.get(t.name.as_str()).copied().unwrap_or(0) > 1)
        .collect();
    let results = request
        .topics
        .into_iter()
        .zip(duplicated)
        .map(|(topic, duplicate)| {
            if duplicate {
                return result(
                    topic.name,
                    ErrorCode::InvalidRequest,
                    Some("Duplicate topic name.".into()),
                );
            }
            grow(broker, &topic, request.validate_only)
        })
        .collect();
    CreatePartitionsResponse {
        results,
        ..Default::default()
    }
}

fn result(name: String, code: ErrorCode, message: Option<String>) -> CreatePartitionsTopicResult {
    CreatePartitionsTopicResult {
        name,
        error_code: code.code(),
        error_message: message,
        ..Default::default()
    }
}

fn grow(
    broker: &Broker,
    topic: &CreatePartitionsTopic,
    validate_only: bool,
) -> CreatePartitionsTopicResult {
    let name = topic.name.clone();
    let Some(existing) = broker.topics.get(&name) else {
        return result(name, ErrorCode::UnknownTopicOrPartition, None);
    };
    let have = i32::try_from(existing.partitions().len()).unwrap_or(i32::MAX);
    if let Err((code, message)) = check(broker.node_id(), have, &name, topic) {
        return result(name, code, Some(message));
    }
    if validate_only {
        return result(name, ErrorCode::None, None);
    }
    match broker.topics.create_partitions(&name, topic.count) {
        Ok(_) => result(name, ErrorCode::None, None),
        Err(e) => {
            let code = topic_error_code(&e);
            result(name, code, Some(e.to_string()))
        }
    }
}

/// Kafka's validation of the new count and the manual assignments.
fn check(
    node_id: i32,
    have: i32,
    name: &str,
    topic: &CreatePartitionsTopic,
) -> Result<(), (ErrorCode, String)> {
    if topic.count < have {
        return Err((
            ErrorCode::InvalidPartitions,
            format!(
                "The topic {name} currently has {have} partition(s); {} would not be an increase.",
                topic.count
            ),
        ));
    }
    if topic.count == have {
        return Err((
            ErrorCode::InvalidPartitions,
            format!("Topic already has {have} partition(s)."),
        ));
    }
    let adding = topic.count - have;
    if adding > MAX_NEW_PARTITIONS {
        return Err((
            ErrorCode::PolicyViolation,
            "Excessively large number of partitions per request.".into(),
        ));
    }
    let Some(assignments) = &topic.assignments else {
        return Ok(());
    };
    let given = i32::try_from(assignments.len()).unwrap_or(i32::MAX);
    if given != adding {
        let only = if given < adding { "only " } else { "" };
        return Err((
            ErrorCode::InvalidReplicaAssignment,
            format!(
                "Attempted to add {adding} additional partition(s), but {only}{given} assignment(s) were specified."
            ),
        ));
    }
    for assignment in assignments {
        let ids = &assignment.broker_ids;
        if ids.is_empty() {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                "The manual partition assignment includes an empty replica list.".into(),
            ));
        }
        if let Some(unknown) = ids.iter().find(|&&id| id != node_id) {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "The manual partition assignment includes broker {unknown}, but no such broker is registered."
                ),
            ));
        }
        if ids.len() > 1 {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "The manual partition assignment includes the broker {node_id} more than once."
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_protocol::messages::create_partitions_request::CreatePartitionsAssignment;

    fn topic(count: i32, assignments: Option<Vec<Vec<i32>>>) -> CreatePartitionsTopic {
        CreatePartitionsTopic {
            name: "t".into(),
            count,
            assignments: assignments.map(|a| {
                a.into_iter()
                    .map(|broker_ids| CreatePartitionsAssignment {
                        broker_ids,
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }
    }

    fn code(r: Result<(), (ErrorCode, String)>) -> ErrorCode {
        r.err().map_or(ErrorCode::None, |(c, _)| c)
    }

    #[test]
    fn counts_must_increase() {
        assert_eq!(
            code(check(1, 3, "t", &topic(2, None))),
            ErrorCode::InvalidPartitions
        );
        assert_eq!(
            code(check(1, 3, "t", &topic(3, None))),
            ErrorCode::InvalidPartitions
        );
        assert_eq!(code(check(1, 3, "t", &topic(4, None))), ErrorCode::None);
        assert_eq!(
            code(check(1, 1, "t", &topic(MAX_NEW_PARTITIONS + 2, None))),
            ErrorCode::PolicyViolation
        );
    }

    #[test]
    fn assignments_must_name_this_broker_once_per_new_partition() {
        let ok = topic(3, Some(vec![vec![1], vec![1]]));
        assert_eq!(code(check(1, 1, "t", &ok)), ErrorCode::None);
        for bad in [
            topic(3, Some(vec![vec![1]])),
            topic(3, Some(vec![vec![1], vec![1], vec![1]])),
            topic(2, Some(vec![vec![]])),
            topic(2, Some(vec![vec![2]])),
            topic(2, Some(vec![vec![1, 1]])),
        ] {
            assert_eq!(
                code(check(1, 1, "t", &bad)),
                ErrorCode::InvalidReplicaAssignment,
                "{bad:?}"
            );
        }
    }
}
