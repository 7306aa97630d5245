//! The broker's settings as DescribeConfigs shows them: every `fjord` setting under Kafka's
//! name, and the broker-level defaults of topic settings (`log.segment.bytes` for
//! `segment.bytes`, `log.retention.hours` for `retention.ms`, and so on).
//!
//! [`BROKER_CONFIGS`] is the one table of that mapping. A setting reads as `DEFAULT_CONFIG`
//! when its value is its default and `STATIC_BROKER_CONFIG` otherwise: [`Config`] keeps only
//! resolved values, so a flag given with its default value reads as a default, which is the
//! value in force either way. Settings Kafka has no name for carry a `fjord.` prefix.

use crate::config::Config;
use crate::topic_config::{topic_config_def, ConfigType};

/// Kafka's `Long.MAX_VALUE` default, as it prints it.
const LONG_MAX: &str = "9223372036854775807";

/// Where a broker setting's value comes from.
#[derive(Debug)]
pub enum Origin {
    /// A `fjord` setting (flag, environment or config file).
    Setting {
        /// Its type.
        kind: ConfigType,
        /// The value in force; `None` where Kafka shows null (unset, with no fixed default).
        value: fn(&Config) -> Option<String>,
        /// The value when nothing sets it; `None` for a null default.
        default: Option<&'static str>,
        /// What it does, in a line, and the `fjord` flag that sets it.
        doc: &'static str,
    },
    /// The broker-wide default of a topic setting ([`BrokerConfigDef::topic_config`]): Fjord
    /// has no flag for these, so they are always Kafka's defaults, taken from the topic table
    /// so the two cannot disagree.
    TopicDefault,
    /// A broker-wide form of a topic setting in other units (`log.retention.hours` for
    /// `retention.ms`), or one that Kafka leaves null so that a coarser form decides
    /// (`log.retention.ms`). Never set either, so always this default.
    TopicUnit {
        /// Its type.
        kind: ConfigType,
        /// Its default; `None` for null.
        default: Option<&'static str>,
    },
}

/// One broker setting: Kafka's name for it and where its value comes from.
#[derive(Debug)]
pub struct BrokerConfigDef {
    /// Kafka's name.
    pub name: &'static str,
    /// The topic setting this is a broker-wide form of, if any (`segment.bytes` for
    /// `log.segment.bytes`, `retention.ms` for `log.retention.hours`).
    pub topic_config: Option<&'static str>,
    /// Where the value comes from.
    pub origin: Origin,
}

/// One setting as described: its value, whether that is the default, and what DescribeConfigs
/// reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedSetting {
    /// Kafka's name.
    pub name: &'static str,
    /// The topic setting this is the broker-wide form of, if any.
    pub topic_config: Option<&'static str>,
    /// The value in force (`None` for null).
    pub value: Option<String>,
    /// The value when nothing sets it (`None` for null).
    pub default: Option<&'static str>,
    /// Whether the value in force is the default.
    pub is_default: bool,
    /// Its type.
    pub kind: ConfigType,
    /// What it does, in a line.
    pub doc: &'static str,
}

const fn setting(
    name: &'static str,
    kind: ConfigType,
    value: fn(&Config) -> Option<String>,
    default: Option<&'static str>,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        topic_config: None,
        origin: Origin::Setting {
            kind,
            value,
            default,
            doc,
        },
    }
}

/// A setting that a `fjord` flag sets and that is also the broker-wide form of a topic setting.
const fn topic_setting(topic_config: &'static str, setting: BrokerConfigDef) -> BrokerConfigDef {
    BrokerConfigDef {
        topic_config: Some(topic_config),
        ..setting
    }
}

const fn topic_unit(
    name: &'static str,
    topic_config: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        topic_config: Some(topic_config),
        origin: Origin::TopicUnit { kind, default },
    }
}

const fn topic_default(name: &'static str, topic_config: &'static str) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        topic_config: Some(topic_config),
        origin: Origin::TopicDefault,
    }
}

/// Every broker setting DescribeConfigs lists, sorted by name.
pub const BROKER_CONFIGS: &[BrokerConfigDef] = &[
    setting(
        "advertised.listeners",
        ConfigType::String,
        |c| {
            c.advertise.as_ref().map(|(host, port)| {
                // An IPv6 literal needs brackets to be read back as HOST:PORT.
                if host.contains(':') {
                    format!("PLAINTEXT://[{host}]:{port}")
                } else {
                    format!("PLAINTEXT://{host}:{port}")
                }
            })
        },
        None,
        "Address given to clients in Metadata; null means the bound listener (--advertise).",
    ),
    setting(
        "auto.create.topics.enable",
        ConfigType::Boolean,
        |c| Some(c.auto_create_topics.to_string()),
        Some("true"),
        "Create topics on first use by Metadata or Produce (--auto-create-topics).",
    ),
    setting(
        "broker.id",
        ConfigType::Int,
        |c| Some(c.node_id.to_string()),
        Some("1"),
        "This broker's id, the same as node.id (--node-id).",
    ),
    topic_default("compression.type", "compression.type"),
    setting(
        "connections.max.idle.ms",
        ConfigType::Long,
        |c| Some(c.limits.connections_max_idle_ms.to_string()),
        Some("600000"),
        "Idle connections are closed after this many milliseconds (--connections-max-idle-ms).",
    ),
    setting(
        "default.replication.factor",
        ConfigType::Int,
        |_| Some("1".into()),
        Some("1"),
        "Replication factor of auto-created topics; one node holds the one replica.",
    ),
    setting(
        "fetch.max.bytes",
        ConfigType::Int,
        |c| Some(c.fetch_max_bytes.to_string()),
        Some("57671680"),
        "Most record bytes in one fetch response, whatever the client asks; the first batch always goes (--fetch-max-bytes).",
    ),
    setting(
        "fjord.cluster.id",
        ConfigType::String,
        |c| c.cluster_id.clone(),
        None,
        "Cluster id given on the command line; null when generated and kept in the data directory (--cluster-id).",
    ),
    setting(
        "fjord.log.json",
        ConfigType::Boolean,
        |c| Some(c.log_json.to_string()),
        Some("false"),
        "Write logs as JSON lines (--log-json).",
    ),
    setting(
        "fjord.log.level",
        ConfigType::String,
        |c| Some(c.log_level.clone()),
        Some("info"),
        "Log filter (--log-level).",
    ),
    setting(
        "fjord.max.partitions.per.request",
        ConfigType::Int,
        |c| Some(c.limits.max_partitions_per_request.to_string()),
        Some("100000"),
        "Most partition entries one request may name (--max-partitions-per-request).",
    ),
    setting(
        "fjord.metrics.listen",
        ConfigType::String,
        |c| c.metrics.map(|a| a.to_string()),
        None,
        "Address of the Prometheus /metrics and /health endpoints; null when off (--metrics).",
    ),
    setting(
        "fjord.page.cache.bytes",
        ConfigType::Long,
        |c| Some(c.page_cache_bytes.to_string()),
        Some("1073741824"),
        "Bytes of written data kept in the page cache once on disk, shared by the partitions (1 to 64 MiB each); 0 leaves eviction to the kernel (--page-cache-bytes).",
    ),
    setting(
        "fjord.slow.request.ms",
        ConfigType::Long,
        |c| Some(c.slow_request_ms.to_string()),
        Some("1000"),
        "Requests slower than this many milliseconds are logged at WARN (--slow-request-ms).",
    ),
    setting(
        "group.initial.rebalance.delay.ms",
        ConfigType::Int,
        |c| Some(c.groups.initial_rebalance_delay_ms.to_string()),
        Some("3000"),
        "How long a new group's first rebalance waits for more members (--group-initial-rebalance-delay-ms).",
    ),
    setting(
        "group.max.session.timeout.ms",
        ConfigType::Int,
        |c| Some(c.groups.max_session_timeout_ms.to_string()),
        Some("1800000"),
        "Longest session timeout a consumer may ask for.",
    ),
    setting(
        "group.min.session.timeout.ms",
        ConfigType::Int,
        |c| Some(c.groups.min_session_timeout_ms.to_string()),
        Some("6000"),
        "Shortest session timeout a consumer may ask for (--group-min-session-timeout-ms).",
    ),
    setting(
        "listeners",
        ConfigType::String,
        |c| Some(format!("PLAINTEXT://{}", c.listen)),
        Some("PLAINTEXT://127.0.0.1:9092"),
        "Address Kafka clients connect to (--listen).",
    ),
    topic_default("log.cleaner.delete.retention.ms", "delete.retention.ms"),
    topic_default("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
    topic_default("log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio"),
    topic_default("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
    topic_default("log.cleanup.policy", "cleanup.policy"),
    setting(
        "log.dirs",
        ConfigType::String,
        |c| Some(c.data_dir.display().to_string()),
        Some("data"),
        "Directory holding the logs and metadata (--data-dir).",
    ),
    // The broker-wide form of flush.messages: fsync before acknowledging is flushing every
    // message, so this reads 1 under --fsync-before-ack.
    topic_setting(
        "flush.messages",
        setting(
            "log.flush.interval.messages",
            ConfigType::Long,
            |c| Some(if c.fsync_before_ack { "1" } else { LONG_MAX }.into()),
            Some(LONG_MAX),
            "Messages appended between fsyncs; 1 fsyncs every append before acknowledging it (--fsync-before-ack).",
        ),
    ),
    topic_default("log.flush.interval.ms", "flush.ms"),
    topic_default("log.index.interval.bytes", "index.interval.bytes"),
    topic_default("log.index.size.max.bytes", "segment.index.bytes"),
    topic_default("log.local.retention.bytes", "local.retention.bytes"),
    topic_default("log.local.retention.ms", "local.retention.ms"),
    topic_default(
        "log.message.timestamp.after.max.ms",
        "message.timestamp.after.max.ms",
    ),
    topic_default(
        "log.message.timestamp.before.max.ms",
        "message.timestamp.before.max.ms",
    ),
    topic_default("log.message.timestamp.type", "message.timestamp.type"),
    topic_default("log.preallocate", "preallocate"),
    topic_default("log.retention.bytes", "retention.bytes"),
    setting(
        "log.retention.check.interval.ms",
        ConfigType::Long,
        |c| Some(c.log_retention_check_interval_ms.to_string()),
        Some("300000"),
        "Milliseconds between retention, age-roll and compaction rounds (--log-retention-check-interval-ms).",
    ),
    // Kafka's time settings come in several units: the finest one set decides, and only the
    // coarsest has a default.
    topic_unit(
        "log.retention.hours",
        "retention.ms",
        ConfigType::Int,
        Some("168"),
    ),
    topic_unit("log.retention.minutes", "retention.ms", ConfigType::Int, None),
    topic_unit("log.retention.ms", "retention.ms", ConfigType::Long, None),
    topic_unit("log.roll.hours", "segment.ms", ConfigType::Int, Some("168")),
    topic_unit(
        "log.roll.jitter.hours",
        "segment.jitter.ms",
        ConfigType::Int,
        Some("0"),
    ),
    topic_unit("log.roll.jitter.ms", "segment.jitter.ms", ConfigType::Long, None),
    topic_unit("log.roll.ms", "segment.ms", ConfigType::Long, None),
    topic_default("log.segment.bytes", "segment.bytes"),
    topic_default("log.segment.delete.delay.ms", "file.delete.delay.ms"),
    setting(
        "max.connections",
        ConfigType::Int,
        |c| Some(c.limits.max_connections.to_string()),
        Some("10000"),
        "Most connections served at once (--max-connections).",
    ),
    setting(
        "max.connections.per.ip",
        ConfigType::Int,
        |c| Some(c.limits.max_connections_per_ip.to_string()),
        Some("10000"),
        "Most connections from one IP address (--max-connections-per-ip).",
    ),
    topic_default("message.max.bytes", "max.message.bytes"),
    topic_default("min.insync.replicas", "min.insync.replicas"),
    setting(
        "node.id",
        ConfigType::Int,
        |c| Some(c.node_id.to_string()),
        Some("1"),
        "This broker's id (--node-id).",
    ),
    setting(
        "num.partitions",
        ConfigType::Int,
        |c| Some(c.default_partitions.to_string()),
        Some("1"),
        "Partitions of an auto-created topic and of a created one that does not say (--default-partitions).",
    ),
    setting(
        "offsets.retention.minutes",
        ConfigType::Int,
        |c| Some((c.groups.offsets_retention_ms / 60_000).to_string()),
        Some("10080"),
        "How long an empty group's committed offsets are kept (--offsets-retention-minutes).",
    ),
    setting(
        "socket.request.max.bytes",
        ConfigType::Int,
        |c| Some(c.max_request_bytes.to_string()),
        Some("104857600"),
        "Largest request frame accepted (--max-request-bytes).",
    ),
    topic_default(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
    ),
];

impl BrokerConfigDef {
    /// This setting's value under `config`, with its default, type and description; `None`
    /// for a row naming an unknown topic setting (a test keeps the table free of those).
    pub fn describe(&self, config: &Config) -> Option<DescribedSetting> {
        match &self.origin {
            Origin::Setting {
                kind,
                value,
                default,
                doc,
            } => {
                let value = value(config);
                Some(DescribedSetting {
                    name: self.name,
                    topic_config: self.topic_config,
                    is_default: value.as_deref() == *default,
                    value,
                    default: *default,
                    kind: *kind,
                    doc,
                })
            }
            Origin::TopicDefault | Origin::TopicUnit { .. } => {
                let def = topic_config_def(self.topic_config?)?;
                let (kind, default) = match &self.origin {
                    Origin::TopicUnit { kind, default } => (*kind, *default),
                    _ => (def.kind, Some(def.default)),
                };
                Some(DescribedSetting {
                    name: self.name,
                    topic_config: self.topic_config,
                    value: default.map(str::to_string),
                    default,
                    is_default: true,
                    kind,
                    doc: def.doc,
                })
            }
        }
    }
}

/// Every broker setting under `config`, in table order.
pub fn describe_all(config: &Config) -> Vec<DescribedSetting> {
    BROKER_CONFIGS
        .iter()
        .filter_map(|d| d.describe(config))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic_config::TOPIC_CONFIGS;

    #[test]
    fn names_are_sorted_and_unique() {
        for pair in BROKER_CONFIGS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} then {}",
                pair[0].name,
                pair[1].name
            );
        }
    }

    #[test]
    fn every_topic_setting_with_a_broker_default_is_listed() {
        // remote.storage.enable has no broker-wide form in Kafka.
        let without = ["remote.storage.enable"];
        for def in TOPIC_CONFIGS.iter().filter(|d| !without.contains(&d.name)) {
            let listed = BROKER_CONFIGS
                .iter()
                .any(|b| b.topic_config == Some(def.name));
            assert!(
                listed,
                "no broker default row for topic setting {}",
                def.name
            );
        }
        let config = Config::for_tests(std::path::Path::new("data"));
        for b in BROKER_CONFIGS {
            assert!(
                b.describe(&config).is_some(),
                "{} names no topic setting",
                b.name
            );
        }
    }

    #[test]
    fn defaults_of_the_table_are_the_configs_defaults() {
        let mut config = Config::for_tests(std::path::Path::new("data"));
        // for_tests listens on port 0; the real default is 9092.
        config.listen = "127.0.0.1:9092".parse().unwrap();
        for d in describe_all(&config) {
            assert!(
                d.is_default,
                "{} = {:?}, default {:?}",
                d.name, d.value, d.default
            );
        }
    }

    #[test]
    fn set_values_are_not_defaults() {
        let mut config = Config::for_tests(std::path::Path::new("/var/lib/fjord"));
        config.default_partitions = 3;
        config.fsync_before_ack = true;
        config.advertise = Some(("::1".into(), 9093));
        let described = describe_all(&config);
        let get = |name: &str| described.iter().find(|d| d.name == name).unwrap();
        assert_eq!(get("num.partitions").value.as_deref(), Some("3"));
        assert!(!get("num.partitions").is_default);
        assert_eq!(get("log.dirs").value.as_deref(), Some("/var/lib/fjord"));
        assert!(!get("log.dirs").is_default);
        assert_eq!(
            get("log.flush.interval.messages").value.as_deref(),
            Some("1")
        );
        assert_eq!(
            get("advertised.listeners").value.as_deref(),
            Some("PLAINTEXT://[::1]:9093")
        );
        assert!(get("log.segment.bytes").is_default);
        assert_eq!(
            get("log.segment.bytes").value.as_deref(),
            Some("1073741824")
        );
        // Kafka's retention in three units: only the hours have a default.
        assert_eq!(get("log.retention.hours").value.as_deref(), Some("168"));
        assert_eq!(get("log.retention.minutes").value, None);
        assert_eq!(get("log.retention.ms").value, None);
        assert!(get("log.retention.ms").is_default);
    }
}
