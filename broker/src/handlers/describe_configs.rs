//! DescribeConfigs: every topic and broker setting with its value, source and default.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::describe_configs_request::DescribeConfigsResource;
use fjord_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use fjord_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::broker::Broker;
use crate::broker_config::describe_all;
use crate::dispatch::RequestContext;
use crate::topic_config::{ConfigType, TOPIC_CONFIGS};

/// Resource types of DescribeConfigs and AlterConfigs.
pub mod resource {
    /// A topic.
    pub const TOPIC: i8 = 2;
    /// A broker.
    pub const BROKER: i8 = 4;
}

/// Where a value comes from, as Kafka numbers it.
pub mod source {
    /// Set on the topic.
    pub const TOPIC_CONFIG: i8 = 1;
    /// Set in the broker's static configuration.
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    /// Nobody set it.
    pub const DEFAULT_CONFIG: i8 = 5;
}

/// The source reported for a topic setting left at its default.
pub const TOPIC_CONFIG_SOURCE_DEFAULT: i8 = source::DEFAULT_CONFIG;

/// One described setting, before it is put into the response.
struct Entry {
    name: &'static str,
    value: Option<String>,
    source: i8,
    read_only: bool,
    kind: ConfigType,
    doc: &'static str,
    default: Option<&'static str>,
}

/// Answers DescribeConfigs.
pub fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            describe(
                broker,
                ctx.api_version,
                resource,
                request.include_synonyms,
                request.include_documentation,
            )
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}

fn describe(
    broker: &Broker,
    version: i16,
    resource: DescribeConfigsResource,
    synonyms: bool,
    documentation: bool,
) -> DescribeConfigsResult {
    let error = |code: ErrorCode, message: String| DescribeConfigsResult {
        error_code: code.code(),
        error_message: Some(message),
        resource_type: resource.resource_type,
        resource_name: resource.resource_name.clone(),
        configs: vec![],
        ..Default::default()
    };
    let entries = match resource.resource_type {
        resource::TOPIC => match broker.topics.get(&resource.resource_name) {
            Some(topic) => topic_entries(&topic.config()),
            None => {
                return error(
                    ErrorCode::UnknownTopicOrPartition,
                    format!("topic {} does not exist", resource.resource_name),
                )
            }
        },
        resource::BROKER => {
            let name = &resource.resource_name;
            if !name.is_empty() && *name != broker.node_id().to_string() {
                return error(
                    ErrorCode::InvalidRequest,
                    format!(
                        "unexpected broker id {name}; this is broker {}",
                        broker.node_id()
                    ),
                );
            }
            broker_entries(broker)
        }
        other => {
            return error(
                ErrorCode::InvalidRequest,
                format!("unsupported resource type {other}"),
            )
        }
    };
    let configs = entries
        .into_iter()
        .filter(|e| {
            resource
                .configuration_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k == e.name))
        })
        .map(|e| DescribeConfigsResourceResult {
            name: e.name.to_string(),
            value: e.value.clone(),
            read_only: e.read_only,
            is_default: version == 0 && e.source == source::DEFAULT_CONFIG,
            config_source: if version >= 1 { e.source } else { -1 },
            is_sensitive: false,
            synonyms: if synonyms { synonyms_of(&e) } else { vec![] },
            config_type: if version >= 3 { e.kind as i8 } else { 0 },
            documentation: (documentation && version >= 3).then(|| e.doc.to_string()),
            ..Default::default()
        })
        .collect();
    DescribeConfigsResult {
        error_code: ErrorCode::None.code(),
        error_message: None,
        resource_type: resource.resource_type,
        resource_name: resource.resource_name,
        configs,
        ..Default::default()
    }
}

/// The value in force first, then the default it overrides.
fn synonyms_of(e: &Entry) -> Vec<DescribeConfigsSynonym> {
    let mut out = vec![DescribeConfigsSynonym {
        name: e.name.to_string(),
        value: e.value.clone(),
        source: e.source,
        ..Default::default()
    }];
    if let Some(default) = e.default.filter(|_| e.source != source::DEFAULT_CONFIG) {
        out.push(DescribeConfigsSynonym {
            name: e.name.to_string(),
            value: Some(default.to_string()),
            source: source::DEFAULT_CONFIG,
            ..Default::default()
        });
    }
    out
}

fn topic_entries(config: &crate::topic_config::TopicConfig) -> Vec<Entry> {
    TOPIC_CONFIGS
        .iter()
        .filter_map(|def| {
            let (value, overridden) = config.get(def.name)?;
            Some(Entry {
                name: def.name,
                value: Some(value.to_string()),
                source: if overridden {
                    source::TOPIC_CONFIG
                } else {
                    source::DEFAULT_CONFIG
                },
                read_only: false,
                kind: def.kind,
                doc: def.doc,
                default: Some(def.default),
            })
        })
        .collect()
}

/// Broker settings are static: they come from flags, the environment or the config file, and
/// AlterConfigs cannot change them.
fn broker_entries(broker: &Broker) -> Vec<Entry> {
    describe_all(&broker.config)
        .into_iter()
        .map(|d| Entry {
            name: d.name,
            source: if d.is_default {
                source::DEFAULT_CONFIG
            } else {
                source::STATIC_BROKER_CONFIG
            },
            value: d.value,
            read_only: true,
            kind: d.kind,
            doc: d.doc,
            default: d.default,
        })
        .collect()
}
