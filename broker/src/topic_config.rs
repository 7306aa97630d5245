//! Topic configuration: Kafka's topic-level settings with their defaults, validation and the
//! description DescribeConfigs gives of them.
//!
//! One table lists every setting we know. A topic keeps only its overrides; a lookup falls back
//! to the default, so a future broker-level default (`log.retention.ms` and friends) slots in
//! between.

use std::collections::BTreeMap;

use fjord_protocol::records::Compression;

/// The type of a setting, as DescribeConfigs v3+ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `true` or `false`.
    Boolean = 1,
    /// Free text or one of a set of values.
    String = 2,
    /// A 32-bit integer.
    Int = 3,
    /// A 64-bit integer.
    Long = 5,
    /// A floating point number.
    Double = 6,
    /// A comma-separated list.
    List = 7,
}

/// One known topic setting.
#[derive(Debug)]
pub struct ConfigDef {
    /// Kafka's name for it.
    pub name: &'static str,
    /// Its default, as Kafka writes it.
    pub default: &'static str,
    /// Its type.
    pub kind: ConfigType,
    /// Accepted values for enumerated settings (each list item for lists).
    pub allowed: &'static [&'static str],
    /// Smallest accepted number, for numeric settings.
    pub min: Option<i64>,
    /// What it does, in a line.
    pub doc: &'static str,
}

const LONG_MAX: &str = "9223372036854775807";

/// Every topic setting we accept, sorted by name.
pub const TOPIC_CONFIGS: &[ConfigDef] = &[
    def(
        "cleanup.policy",
        "delete",
        ConfigType::List,
        &["delete", "compact"],
        None,
        "Whether old segments are deleted, compacted by key, or both.",
    ),
    def(
        "compression.type",
        "producer",
        ConfigType::String,
        &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
        None,
        "Compression of stored batches; producer keeps what the producer sent.",
    ),
    def(
        "delete.retention.ms",
        "86400000",
        ConfigType::Long,
        &[],
        Some(0),
        "How long tombstones survive compaction.",
    ),
    def(
        "file.delete.delay.ms",
        "60000",
        ConfigType::Long,
        &[],
        Some(0),
        "Delay before a deleted segment's file is removed.",
    ),
    def(
        "flush.messages",
        LONG_MAX,
        ConfigType::Long,
        &[],
        Some(1),
        "Messages written between forced fsyncs.",
    ),
    def(
        "flush.ms",
        LONG_MAX,
        ConfigType::Long,
        &[],
        Some(0),
        "Milliseconds between forced fsyncs.",
    ),
    def(
        "index.interval.bytes",
        "4096",
        ConfigType::Int,
        &[],
        Some(0),
        "Bytes of log between offset index entries.",
    ),
    def(
        "local.retention.bytes",
        "-2",
        ConfigType::Long,
        &[],
        Some(-2),
        "Local retention by size with tiered storage (-2: as retention.bytes).",
    ),
    def(
        "local.retention.ms",
        "-2",
        ConfigType::Long,
        &[],
        Some(-2),
        "Local retention by time with tiered storage (-2: as retention.ms).",
    ),
    def(
        "max.compaction.lag.ms",
        LONG_MAX,
        ConfigType::Long,
        &[],
        Some(1),
        "Longest a record may stay uncompacted.",
    ),
    def(
        "max.message.bytes",
        "1048588",
        ConfigType::Int,
        &[],
        Some(0),
        "Largest record batch the topic accepts.",
    ),
    def(
        "message.timestamp.after.max.ms",
        "3600000",
        ConfigType::Long,
        &[],
        Some(0),
        "How far ahead of the broker clock a CreateTime timestamp may be.",
    ),
    def(
        "message.timestamp.before.max.ms",
        LONG_MAX,
        ConfigType::Long,
        &[],
        Some(0),
        "How far behind the broker clock a CreateTime timestamp may be.",
    ),
    def(
        "message.timestamp.type",
        "CreateTime",
        ConfigType::String,
        &["CreateTime", "LogAppendTime"],
        None,
        "Whether records keep the producer's timestamp or get the append time.",
    ),
    def(
        "min.cleanable.dirty.ratio",
        "0.5",
        ConfigType::Double,
        &[],
        None,
        "Share of uncompacted log that triggers compaction.",
    ),
    def(
        "min.compaction.lag.ms",
        "0",
        ConfigType::Long,
        &[],
        Some(0),
        "Shortest a record stays uncompacted.",
    ),
    def(
        "min.insync.replicas",
        "1",
        ConfigType::Int,
        &[],
        Some(1),
        "Replicas that must have a write for acks=all to succeed.",
    ),
    def(
        "preallocate",
        "false",
        ConfigType::Boolean,
        &[],
        None,
        "Preallocate segment files.",
    ),
    def(
        "remote.storage.enable",
        "false",
        ConfigType::Boolean,
        &[],
        None,
        "Tiered storage for this topic.",
    ),
    def(
        "retention.bytes",
        "-1",
        ConfigType::Long,
        &[],
        Some(-1),
        "Largest a partition may grow before old segments go (-1: no limit).",
    ),
    def(
        "retention.ms",
        "604800000",
        ConfigType::Long,
        &[],
        Some(-1),
        "How long records are kept (-1: forever).",
    ),
    def(
        "segment.bytes",
        "1073741824",
        ConfigType::Int,
        &[],
        Some(14),
        "Size at which a segment is rolled.",
    ),
    def(
        "segment.index.bytes",
        "10485760",
        ConfigType::Int,
        &[],
        Some(4),
        "Size of a segment's offset index.",
    ),
    def(
        "segment.jitter.ms",
        "0",
        ConfigType::Long,
        &[],
        Some(0),
        "Random jitter subtracted from segment.ms.",
    ),
    def(
        "segment.ms",
        "604800000",
        ConfigType::Long,
        &[],
        Some(1),
        "Age at which a segment is rolled.",
    ),
    def(
        "unclean.leader.election.enable",
        "false",
        ConfigType::Boolean,
        &[],
        None,
        "Allow an out-of-sync replica to become leader.",
    ),
];

const fn def(
    name: &'static str,
    default: &'static str,
    kind: ConfigType,
    allowed: &'static [&'static str],
    min: Option<i64>,
    doc: &'static str,
) -> ConfigDef {
    ConfigDef {
        name,
        default,
        kind,
        allowed,
        min,
        doc,
    }
}

/// Looks up a topic setting by name.
pub fn topic_config_def(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &TOPIC_CONFIGS[i])
}

/// Why a setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigValueError {
    /// Not a topic setting we know.
    #[error("unknown topic config {0}")]
    Unknown(String),
    /// The value does not parse or is out of range.
    #[error("invalid value {value} for configuration {name}: {why}")]
    Invalid {
        /// The setting.
        name: String,
        /// The value given.
        value: String,
        /// What is wrong.
        why: String,
    },
}

/// Checks `value` against the setting's type, range and allowed values.
pub fn validate(name: &str, value: &str) -> Result<(), ConfigValueError> {
    let def = topic_config_def(name).ok_or_else(|| ConfigValueError::Unknown(name.to_string()))?;
    let invalid = |why: String| ConfigValueError::Invalid {
        name: name.to_string(),
        value: value.to_string(),
        why,
    };
    match def.kind {
        ConfigType::Boolean => {
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                return Err(invalid("expected true or false".into()));
            }
        }
        ConfigType::Int | ConfigType::Long => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|e: std::num::ParseIntError| invalid(e.to_string()))?;
            if def.kind == ConfigType::Int && i32::try_from(n).is_err() {
                return Err(invalid("out of range for an int".into()));
            }
            if let Some(min) = def.min {
                if n < min {
                    return Err(invalid(format!("value must be at least {min}")));
                }
            }
        }
        ConfigType::Double => {
            let x: f64 = value
                .trim()
                .parse()
                .map_err(|e: std::num::ParseFloatError| invalid(e.to_string()))?;
            if !(0.0..=1.0).contains(&x) {
                return Err(invalid("value must be between 0 and 1".into()));
            }
        }
        ConfigType::String => {
            if !def.allowed.is_empty() && !def.allowed.contains(&value) {
                return Err(invalid(format!(
                    "expected one of {}",
                    def.allowed.join(", ")
                )));
            }
        }
        ConfigType::List => {
            for item in value.split(',').map(str::trim) {
                if !def.allowed.is_empty() && !def.allowed.contains(&item) {
                    return Err(invalid(format!(
                        "expected a list of {}",
                        def.allowed.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The settings of one topic: its overrides over the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicConfig {
    /// Settings set on the topic, by name.
    pub overrides: BTreeMap<String, String>,
}

impl TopicConfig {
    /// Builds a config from overrides, validating each.
    pub fn from_overrides<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigValueError> {
        let mut overrides = BTreeMap::new();
        for (name, value) in pairs {
            validate(name, value)?;
            overrides.insert(name.to_string(), value.to_string());
        }
        Ok(Self { overrides })
    }

    /// The value in force for a known setting, and whether it is an override.
    pub fn get(&self, name: &str) -> Option<(&str, bool)> {
        if let Some(v) = self.overrides.get(name) {
            return Some((v.as_str(), true));
        }
        topic_config_def(name).map(|d| (d.default, false))
    }

    fn number(&self, name: &str) -> i64 {
        self.get(name)
            .and_then(|(v, _)| v.trim().parse().ok())
            .or_else(|| topic_config_def(name).and_then(|d| d.default.parse().ok()))
            .unwrap_or_default()
    }

    /// `max.message.bytes`.
    pub fn max_message_bytes(&self) -> usize {
        usize::try_from(self.number("max.message.bytes")).unwrap_or(0)
    }

    /// Whether `message.timestamp.type` is `LogAppendTime`.
    pub fn log_append_time(&self) -> bool {
        self.get("message.timestamp.type")
            .is_some_and(|(v, _)| v == "LogAppendTime")
    }

    /// Whether `cleanup.policy` includes `compact`.
    pub fn is_compacted(&self) -> bool {
        self.get("cleanup.policy")
            .is_some_and(|(v, _)| v.split(',').any(|p| p.trim() == "compact"))
    }

    /// Whether `cleanup.policy` includes `delete`.
    pub fn deletes(&self) -> bool {
        self.get("cleanup.policy")
            .is_some_and(|(v, _)| v.split(',').any(|p| p.trim() == "delete"))
    }

    /// The codec `compression.type` asks batches to be stored with; `None` for `producer`,
    /// which keeps whatever the producer sent.
    pub fn compression(&self) -> Option<Compression> {
        match self.get("compression.type").map(|(v, _)| v) {
            Some("uncompressed") => Some(Compression::None),
            Some("gzip") => Some(Compression::Gzip),
            Some("snappy") => Some(Compression::Snappy),
            Some("lz4") => Some(Compression::Lz4),
            Some("zstd") => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// A numeric setting by name, for translation into storage settings.
    pub fn long(&self, name: &str) -> i64 {
        self.number(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_lookup() {
        assert!(TOPIC_CONFIGS.windows(2).all(|w| w[0].name < w[1].name));
        for d in TOPIC_CONFIGS {
            validate(d.name, d.default).unwrap();
        }
    }

    #[test]
    fn defaults_are_kafkas() {
        let config = TopicConfig::default();
        assert_eq!(config.get("retention.ms"), Some(("604800000", false)));
        assert_eq!(config.get("cleanup.policy"), Some(("delete", false)));
        assert_eq!(config.max_message_bytes(), 1_048_588);
        assert!(!config.log_append_time());
        assert_eq!(config.compression(), None);
        let gzip = TopicConfig::from_overrides([("compression.type", "gzip")]).unwrap();
        assert_eq!(gzip.compression(), Some(Compression::Gzip));
    }

    #[test]
    fn overrides_win_and_are_validated() {
        let config = TopicConfig::from_overrides([("cleanup.policy", "compact,delete")]).unwrap();
        assert!(config.is_compacted() && config.deletes());
        assert_eq!(config.get("cleanup.policy"), Some(("compact,delete", true)));
        assert!(matches!(
            TopicConfig::from_overrides([("retention.ms", "soon")]),
            Err(ConfigValueError::Invalid { .. })
        ));
        assert!(matches!(
            TopicConfig::from_overrides([("segment.bytes", "1")]),
            Err(ConfigValueError::Invalid { .. })
        ));
        assert!(matches!(
            TopicConfig::from_overrides([("no.such.thing", "1")]),
            Err(ConfigValueError::Unknown(_))
        ));
        assert!(matches!(
            TopicConfig::from_overrides([("message.timestamp.type", "Whenever")]),
            Err(ConfigValueError::Invalid { .. })
        ));
    }
}
