//! IncrementalAlterConfigs: change individual settings of a resource with SET, DELETE, APPEND
//! and SUBTRACT, leaving the rest as they are.
//!
//! The operations are applied in order to a copy of the topic's overrides; the result is
//! validated as a whole and stored only if every operation succeeded. APPEND and SUBTRACT work
//! on list settings only (`cleanup.policy`), starting from the default when the topic has no
//! override, as Kafka does.

use std::collections::BTreeMap;

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::incremental_alter_configs_request::AlterableConfig;
use fjord_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use fjord_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use crate::broker::Broker;
use crate::dispatch::RequestContext;
use crate::error::config_error_code;
use crate::handlers::alter_configs::{
    apply, check_no_nulls, check_unique_keys, duplicate_resource, duplicated_resources,
    refuse_broker_changes, resolve, Refusal, Target,
};
use crate::topic_config::{topic_config_def, ConfigType, TopicConfig};

/// One operation on one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Delete,
    Append,
    Subtract,
}

impl Op {
    fn from_wire(op: i8) -> Result<Self, Refusal> {
        match op {
            0 => Ok(Self::Set),
            1 => Ok(Self::Delete),
            2 => Ok(Self::Append),
            3 => Ok(Self::Subtract),
            other => Err((
                ErrorCode::InvalidRequest,
                format!("Unknown operations type {other}"),
            )),
        }
    }
}

/// Answers IncrementalAlterConfigs.
pub fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
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
                alter(
                    broker,
                    r.resource_type,
                    &r.resource_name,
                    &r.configs,
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
    IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

fn alter(
    broker: &Broker,
    kind: i8,
    name: &str,
    configs: &[AlterableConfig],
    validate_only: bool,
) -> Result<(), Refusal> {
    check_unique_keys(configs.iter().map(|c| c.name.as_str()))?;
    let nulls: Vec<&str> = configs
        .iter()
        .filter(|c| c.value.is_none() && Op::from_wire(c.config_operation) != Ok(Op::Delete))
        .map(|c| c.name.as_str())
        .collect();
    check_no_nulls(&nulls)?;
    let ops = configs
        .iter()
        .map(|c| Ok((Op::from_wire(c.config_operation)?, c)))
        .collect::<Result<Vec<_>, Refusal>>()?;
    match resolve(broker, kind, name)? {
        Target::Broker => {
            refuse_broker_changes(&configs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>())
        }
        Target::Topic(topic) => {
            let overrides = apply_ops(topic.config().overrides.clone(), &ops)?;
            let config = TopicConfig::from_overrides(
                overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .map_err(|e| (config_error_code(&e), e.to_string()))?;
            apply(broker, &topic, config, validate_only)
        }
    }
}

/// Applies the operations in order to a topic's overrides.
fn apply_ops(
    mut overrides: BTreeMap<String, String>,
    ops: &[(Op, &AlterableConfig)],
) -> Result<BTreeMap<String, String>, Refusal> {
    for (op, config) in ops {
        let name = config.name.as_str();
        let value = config.value.as_deref().unwrap_or_default();
        match op {
            Op::Set => {
                overrides.insert(name.to_string(), value.to_string());
            }
            Op::Delete => {
                overrides.remove(name);
            }
            Op::Append | Op::Subtract => {
                let def = topic_config_def(name).ok_or_else(|| {
                    (
                        ErrorCode::InvalidConfig,
                        format!("Unknown topic config name: {name}"),
                    )
                })?;
                if def.kind != ConfigType::List {
                    let verb = if *op == Op::Append {
                        "APPEND"
                    } else {
                        "SUBTRACT"
                    };
                    return Err((
                        ErrorCode::InvalidConfig,
                        format!("Can't {verb} to key {name} because its type is not LIST."),
                    ));
                }
                let current = overrides.get(name).map_or(def.default, String::as_str);
                let mut items: Vec<&str> = current.split(',').filter(|s| !s.is_empty()).collect();
                let given = value.split(',').filter(|s| !s.is_empty());
                if *op == Op::Append {
                    for item in given {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                } else {
                    let removed: Vec<&str> = given.collect();
                    items.retain(|i| !removed.contains(i));
                }
                let joined = items.join(",");
                overrides.insert(name.to_string(), joined);
            }
        }
    }
    Ok(overrides)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, op: i8, value: Option<&str>) -> AlterableConfig {
        AlterableConfig {
            name: name.into(),
            config_operation: op,
            value: value.map(str::to_string),
            ..Default::default()
        }
    }

    fn run(
        start: &[(&str, &str)],
        configs: &[AlterableConfig],
    ) -> Result<BTreeMap<String, String>, ErrorCode> {
        let overrides = start
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let ops: Vec<_> = configs
            .iter()
            .map(|c| (Op::from_wire(c.config_operation).unwrap(), c))
            .collect();
        apply_ops(overrides, &ops).map_err(|e| e.0)
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn set_and_delete_touch_only_their_keys() {
        let out = run(
            &[("retention.ms", "1"), ("segment.ms", "2")],
            &[op("retention.ms", 1, None), op("flush.ms", 0, Some("5"))],
        );
        assert_eq!(out, Ok(map(&[("flush.ms", "5"), ("segment.ms", "2")])));
    }

    #[test]
    fn append_starts_from_the_default_and_skips_present_items() {
        let out = run(&[], &[op("cleanup.policy", 2, Some("compact,delete"))]);
        assert_eq!(out, Ok(map(&[("cleanup.policy", "delete,compact")])));
    }

    #[test]
    fn subtract_removes_items() {
        let out = run(
            &[("cleanup.policy", "compact,delete")],
            &[op("cleanup.policy", 3, Some("delete"))],
        );
        assert_eq!(out, Ok(map(&[("cleanup.policy", "compact")])));
    }

    #[test]
    fn append_to_a_non_list_or_unknown_setting_is_invalid_config() {
        assert_eq!(
            run(&[], &[op("retention.ms", 2, Some("1"))]),
            Err(ErrorCode::InvalidConfig)
        );
        assert_eq!(
            run(&[], &[op("no.such", 3, Some("1"))]),
            Err(ErrorCode::InvalidConfig)
        );
    }

    #[test]
    fn unknown_operations_are_invalid_requests() {
        assert_eq!(
            Op::from_wire(4).map_err(|e| e.0),
            Err(ErrorCode::InvalidRequest)
        );
        assert_eq!(
            Op::from_wire(-1).map_err(|e| e.0),
            Err(ErrorCode::InvalidRequest)
        );
    }
}
