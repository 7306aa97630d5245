//! DescribeConfigs: every topic and broker setting with its value, source and default.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::messages::describe_configs_request::DescribeConfigsResource;
use fjord_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use fjord_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::broker::Broker;
use crate::broker_config::{describe_all, DescribedSetting};
use crate::config::Config;
use crate::dispatch::RequestContext;
use crate::topic_config::{ConfigType, TopicConfig, TOPIC_CONFIGS};

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

/// One described setting, before it is put into the response.
struct Entry {
    name: &'static str,
    value: Option<String>,
    source: i8,
    read_only: bool,
    kind: ConfigType,
    doc: &'static str,
    synonyms: Vec<Synonym>,
}

/// One place a setting's value may come from, as DescribeConfigs lists them: the one in force
/// first, then those it overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Synonym {
    name: &'static str,
    value: Option<String>,
    source: i8,
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
            Some(topic) => topic_entries(&topic.config(), &describe_all(&broker.config)),
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
            synonyms: if synonyms {
                e.synonyms
                    .into_iter()
                    .map(|s| DescribeConfigsSynonym {
                        name: s.name.to_string(),
                        value: s.value,
                        source: s.source,
                        ..Default::default()
                    })
                    .collect()
            } else {
                vec![]
            },
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

/// Where the value in force comes from: its first synonym, or nowhere but Kafka's default.
fn source_of(synonyms: &[Synonym]) -> i8 {
    synonyms
        .first()
        .map_or(source::DEFAULT_CONFIG, |s| s.source)
}

/// A broker setting's synonyms: its value in force, then the default that value overrides.
fn broker_synonyms(setting: &DescribedSetting) -> Vec<Synonym> {
    if setting.is_default {
        return vec![Synonym {
            name: setting.name,
            value: setting.value.clone(),
            source: source::DEFAULT_CONFIG,
        }];
    }
    let mut out = vec![Synonym {
        name: setting.name,
        value: setting.value.clone(),
        source: source::STATIC_BROKER_CONFIG,
    }];
    out.extend(setting.default.map(|d| Synonym {
        name: setting.name,
        value: Some(d.to_string()),
        source: source::DEFAULT_CONFIG,
    }));
    out
}

/// A topic's settings. As in Kafka, one the topic does not set takes its broker-wide form
/// (`log.flush.interval.messages` for `flush.messages`), and the synonyms name the forms that
/// have a value: the topic's own value first, then the broker's, finest unit first
/// (`log.retention.ms`, `.minutes`, `.hours`), each set value before its default. The source
/// is the first synonym's.
fn topic_entries(config: &TopicConfig, broker: &[DescribedSetting]) -> Vec<Entry> {
    TOPIC_CONFIGS
        .iter()
        .filter_map(|def| {
            let (value, overridden) = config.get(def.name)?;
            let mut forms: Vec<&DescribedSetting> = broker
                .iter()
                .filter(|b| b.topic_config == Some(def.name))
                .collect();
            forms.sort_by_key(|b| unit_rank(b.name));
            let mut synonyms: Vec<Synonym> = overridden
                .then(|| Synonym {
                    name: def.name,
                    value: Some(value.to_string()),
                    source: source::TOPIC_CONFIG,
                })
                .into_iter()
                .collect();
            synonyms.extend(
                forms
                    .iter()
                    .flat_map(|b| broker_synonyms(b))
                    .filter(|s| s.value.is_some()),
            );
            // Only forms in the topic setting's own unit are ever set (by a flag).
            let value = match forms.iter().find(|b| !b.is_default) {
                Some(b) if !overridden => b.value.clone(),
                _ => Some(value.to_string()),
            };
            Some(Entry {
                name: def.name,
                value,
                source: source_of(&synonyms),
                read_only: false,
                kind: def.kind,
                doc: def.doc,
                synonyms,
            })
        })
        .collect()
}

/// Where a broker-wide form stands among the forms of one topic setting: Kafka takes the finest
/// unit that is set.
fn unit_rank(name: &str) -> u8 {
    if name.ends_with(".hours") {
        2
    } else if name.ends_with(".minutes") {
        1
    } else {
        0
    }
}

/// A topic's settings as CreateTopics reports them: name, value in force and its source, the
/// same as DescribeConfigs gives.
pub(crate) fn topic_values(
    config: &TopicConfig,
    broker: &Config,
) -> Vec<(&'static str, Option<String>, i8)> {
    topic_entries(config, &describe_all(broker))
        .into_iter()
        .map(|e| (e.name, e.value, e.source))
        .collect()
}

/// Broker settings are static: they come from flags, the environment or the config file, and
/// AlterConfigs cannot change them.
fn broker_entries(broker: &Broker) -> Vec<Entry> {
    describe_all(&broker.config)
        .into_iter()
        .map(|d| {
            let synonyms = broker_synonyms(&d);
            Entry {
                name: d.name,
                source: source_of(&synonyms),
                value: d.value,
                read_only: true,
                kind: d.kind,
                doc: d.doc,
                synonyms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synonyms(entries: &[Entry], name: &str) -> (Option<String>, i8, Vec<Synonym>) {
        let e = entries.iter().find(|e| e.name == name).unwrap();
        (e.value.clone(), e.source, e.synonyms.clone())
    }

    fn synonym(name: &'static str, value: &str, source: i8) -> Synonym {
        Synonym {
            name,
            value: Some(value.to_string()),
            source,
        }
    }

    #[test]
    fn a_topic_setting_names_its_broker_wide_form_as_its_default() {
        let broker = describe_all(&Config::for_tests(std::path::Path::new("data")));
        let topic = TopicConfig::from_overrides([("retention.ms", "3600000")]).unwrap();
        let entries = topic_entries(&topic, &broker);
        assert_eq!(
            synonyms(&entries, "retention.ms"),
            (
                Some("3600000".into()),
                source::TOPIC_CONFIG,
                vec![
                    synonym("retention.ms", "3600000", source::TOPIC_CONFIG),
                    synonym("log.retention.hours", "168", source::DEFAULT_CONFIG),
                ]
            )
        );
        assert_eq!(
            synonyms(&entries, "segment.ms"),
            (
                Some("604800000".into()),
                source::DEFAULT_CONFIG,
                vec![synonym("log.roll.hours", "168", source::DEFAULT_CONFIG)]
            )
        );
        assert_eq!(
            synonyms(&entries, "max.message.bytes"),
            (
                Some("1048588".into()),
                source::DEFAULT_CONFIG,
                vec![synonym(
                    "message.max.bytes",
                    "1048588",
                    source::DEFAULT_CONFIG
                )]
            )
        );
    }

    #[test]
    fn a_topic_setting_left_unset_takes_the_brokers_flag() {
        let mut config = Config::for_tests(std::path::Path::new("data"));
        config.fsync_before_ack = true;
        let broker = describe_all(&config);
        let entries = topic_entries(&TopicConfig::default(), &broker);
        assert_eq!(
            synonyms(&entries, "flush.messages"),
            (
                Some("1".into()),
                source::STATIC_BROKER_CONFIG,
                vec![
                    synonym(
                        "log.flush.interval.messages",
                        "1",
                        source::STATIC_BROKER_CONFIG
                    ),
                    synonym(
                        "log.flush.interval.messages",
                        "9223372036854775807",
                        source::DEFAULT_CONFIG
                    ),
                ]
            )
        );
    }

    #[test]
    fn a_topic_setting_without_a_broker_wide_form_has_no_default_synonym() {
        let broker = describe_all(&Config::for_tests(std::path::Path::new("data")));
        let unset = topic_entries(&TopicConfig::default(), &broker);
        assert_eq!(
            synonyms(&unset, "remote.storage.enable"),
            (Some("false".into()), source::DEFAULT_CONFIG, vec![])
        );
        let set = TopicConfig::from_overrides([("remote.storage.enable", "false")]).unwrap();
        assert_eq!(
            synonyms(&topic_entries(&set, &broker), "remote.storage.enable"),
            (
                Some("false".into()),
                source::TOPIC_CONFIG,
                vec![synonym(
                    "remote.storage.enable",
                    "false",
                    source::TOPIC_CONFIG
                )]
            )
        );
    }
}
