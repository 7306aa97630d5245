//! Server configuration: command-line flags, `FJORD_*` environment variables and an optional
//! TOML file, in that order of precedence, over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

use crate::group::GroupConfig;
use crate::txn::TxnConfig;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for our settings.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: toml::de::Error,
    },
    /// A value is out of its range.
    #[error("invalid setting {name} = {value}: {why}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Command-line flags. Every flag is optional so that the config file can supply it. A bool
/// flag given bare (`--log-json`) means `true`; `--log-json false` and the environment
/// variable still take a value.
#[derive(Debug, Parser)]
#[command(
    name = "fjord",
    version,
    about = "An event streaming server that speaks the Kafka protocol"
)]
struct Cli {
    /// Address to listen on for Kafka clients (port 0 picks a free port).
    #[arg(long, env = "FJORD_LISTEN")]
    listen: Option<String>,
    /// Address given to clients in Metadata (defaults to the listen address).
    #[arg(long, env = "FJORD_ADVERTISE")]
    advertise: Option<String>,
    /// Directory holding the logs and metadata.
    #[arg(long, env = "FJORD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address for the Prometheus `/metrics` and `/health` endpoints.
    #[arg(long, env = "FJORD_METRICS")]
    metrics: Option<String>,
    /// This broker's node id.
    #[arg(long, env = "FJORD_NODE_ID")]
    node_id: Option<i32>,
    /// Cluster id (generated and stored in the data directory when absent).
    #[arg(long, env = "FJORD_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// Create topics on first use by Metadata or Produce, as Kafka does by default.
    #[arg(long, env = "FJORD_AUTO_CREATE_TOPICS", num_args = 0..=1, default_missing_value = "true")]
    auto_create_topics: Option<bool>,
    /// Partitions of an auto-created topic, and of a created one that does not say.
    #[arg(long, env = "FJORD_DEFAULT_PARTITIONS")]
    default_partitions: Option<i32>,
    /// Largest request frame accepted, in bytes (`socket.request.max.bytes`).
    #[arg(long, env = "FJORD_MAX_REQUEST_BYTES")]
    max_request_bytes: Option<usize>,
    /// Most record bytes one fetch response carries, whatever the client asks
    /// (`fetch.max.bytes`); the first batch is always returned, so consumers progress.
    #[arg(long, env = "FJORD_FETCH_MAX_BYTES")]
    fetch_max_bytes: Option<usize>,
    /// Most connections served at once (`max.connections`).
    #[arg(long, env = "FJORD_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most connections from one IP address (`max.connections.per.ip`).
    #[arg(long, env = "FJORD_MAX_CONNECTIONS_PER_IP")]
    max_connections_per_ip: Option<usize>,
    /// Close a connection idle this long, in milliseconds (`connections.max.idle.ms`).
    #[arg(long, env = "FJORD_CONNECTIONS_MAX_IDLE_MS")]
    connections_max_idle_ms: Option<u64>,
    /// Most partition entries one request may name; a larger request closes its connection.
    #[arg(long, env = "FJORD_MAX_PARTITIONS_PER_REQUEST")]
    max_partitions_per_request: Option<usize>,
    /// How long the first rebalance of a new group waits for more members
    /// (`group.initial.rebalance.delay.ms`).
    #[arg(long, env = "FJORD_GROUP_INITIAL_REBALANCE_DELAY_MS")]
    group_initial_rebalance_delay_ms: Option<i64>,
    /// Shortest session timeout a consumer may ask for (`group.min.session.timeout.ms`).
    #[arg(long, env = "FJORD_GROUP_MIN_SESSION_TIMEOUT_MS")]
    group_min_session_timeout_ms: Option<i32>,
    /// How long an empty group's committed offsets are kept (`offsets.retention.minutes`).
    #[arg(long, env = "FJORD_OFFSETS_RETENTION_MINUTES")]
    offsets_retention_minutes: Option<i64>,
    /// Milliseconds between log maintenance rounds: retention, age-based rolls, compaction
    /// (`log.retention.check.interval.ms`).
    #[arg(long, env = "FJORD_LOG_RETENTION_CHECK_INTERVAL_MS")]
    log_retention_check_interval_ms: Option<u64>,
    /// Forget a partition's idempotent producer after this many milliseconds without a write
    /// from it (`producer.id.expiration.ms`).
    #[arg(long, env = "FJORD_PRODUCER_ID_EXPIRATION_MS")]
    producer_id_expiration_ms: Option<i64>,
    /// Forget a transactional id whose last transaction ended this many milliseconds ago
    /// (`transactional.id.expiration.ms`).
    #[arg(long, env = "FJORD_TRANSACTIONAL_ID_EXPIRATION_MS")]
    transactional_id_expiration_ms: Option<i64>,
    /// Fsync every append before acknowledging it (concurrent appends share one fsync), so
    /// acknowledged data also survives a machine crash, not only a killed process.
    #[arg(long, env = "FJORD_FSYNC_BEFORE_ACK", num_args = 0..=1, default_missing_value = "true")]
    fsync_before_ack: Option<bool>,
    /// Bytes of written data kept in the OS page cache once on disk, shared evenly by the
    /// partitions (1 to 64 MiB each); older pages are dropped instead of left for the kernel to
    /// evict. 0 keeps everything cached until the kernel needs the memory, as Kafka does.
    #[arg(long, env = "FJORD_PAGE_CACHE_BYTES")]
    page_cache_bytes: Option<u64>,
    /// Log filter, like `info` or `fjord_broker=debug`.
    #[arg(long, env = "FJORD_LOG_LEVEL")]
    log_level: Option<String>,
    /// Write logs as JSON lines.
    #[arg(long, env = "FJORD_LOG_JSON", num_args = 0..=1, default_missing_value = "true")]
    log_json: Option<bool>,
    /// Requests taking longer than this many milliseconds are logged at WARN.
    #[arg(long, env = "FJORD_SLOW_REQUEST_MS")]
    slow_request_ms: Option<u64>,
    /// A TOML file with any of the settings above (flags and environment win over it).
    #[arg(long, env = "FJORD_CONFIG")]
    config: Option<PathBuf>,
}

/// The same settings as they may appear in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    listen: Option<String>,
    advertise: Option<String>,
    data_dir: Option<PathBuf>,
    metrics: Option<String>,
    node_id: Option<i32>,
    cluster_id: Option<String>,
    auto_create_topics: Option<bool>,
    default_partitions: Option<i32>,
    max_request_bytes: Option<usize>,
    fetch_max_bytes: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    connections_max_idle_ms: Option<u64>,
    max_partitions_per_request: Option<usize>,
    group_initial_rebalance_delay_ms: Option<i64>,
    group_min_session_timeout_ms: Option<i32>,
    offsets_retention_minutes: Option<i64>,
    log_retention_check_interval_ms: Option<u64>,
    producer_id_expiration_ms: Option<i64>,
    transactional_id_expiration_ms: Option<i64>,
    fsync_before_ack: Option<bool>,
    page_cache_bytes: Option<u64>,
    log_level: Option<String>,
    log_json: Option<bool>,
    slow_request_ms: Option<u64>,
}

/// The resolved server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where clients connect.
    pub listen: SocketAddr,
    /// What Metadata tells clients to connect to; `None` means the bound listen address.
    pub advertise: Option<(String, u16)>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Metrics endpoint address, when enabled.
    pub metrics: Option<SocketAddr>,
    /// Node id of this broker.
    pub node_id: i32,
    /// Cluster id given on the command line; otherwise the stored or a generated one.
    pub cluster_id: Option<String>,
    /// Whether unknown topics are created on first use.
    pub auto_create_topics: bool,
    /// Default partition count.
    pub default_partitions: i32,
    /// Largest request frame accepted.
    pub max_request_bytes: usize,
    /// Most record bytes in one fetch response; a client's larger `max_bytes` is cut to it.
    pub fetch_max_bytes: usize,
    /// Connection and request limits.
    pub limits: crate::limits::Limits,
    /// Group coordinator settings.
    pub groups: GroupConfig,
    /// Milliseconds between log maintenance rounds.
    pub log_retention_check_interval_ms: u64,
    /// How long a partition keeps an idle producer's state (`producer.id.expiration.ms`).
    pub producer_id_expiration_ms: i64,
    /// Transaction coordinator settings.
    pub transactions: TxnConfig,
    /// Whether appends are fsynced before they are acknowledged.
    pub fsync_before_ack: bool,
    /// Bytes of written data kept in the page cache once on disk, shared by the partitions; 0
    /// leaves eviction to the kernel.
    pub page_cache_bytes: u64,
    /// Log filter.
    pub log_level: String,
    /// JSON log lines.
    pub log_json: bool,
    /// Requests slower than this (milliseconds, from frame received to response written) are
    /// logged at WARN.
    pub slow_request_ms: u64,
}

impl Config {
    /// Kafka's `socket.request.max.bytes` default: 100 MiB.
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

    /// Kafka's `fetch.max.bytes` default: 55 MiB.
    pub const DEFAULT_FETCH_MAX_BYTES: usize = 55 * 1024 * 1024;

    /// Kafka's `log.retention.check.interval.ms` default: 5 minutes.
    pub const DEFAULT_LOG_RETENTION_CHECK_INTERVAL_MS: u64 = 300_000;

    /// Kafka's `producer.id.expiration.ms` default: one day.
    pub const DEFAULT_PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;

    /// Default page-cache budget: 1 GiB, 64 MiB for each of 16 busy partitions (seconds of
    /// data for consumers that follow them), while a broker that writes for hours does not
    /// fill RAM with pages nobody reads (see `docs/benchmarks.md` for what that costs).
    pub const DEFAULT_PAGE_CACHE_BYTES: u64 = 1 << 30;

    /// Default slow-request threshold: one second.
    pub const DEFAULT_SLOW_REQUEST_MS: u64 = 1_000;

    /// Reads flags, environment and config file.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_cli(Cli::parse())
    }

    /// A configuration for tests: everything default but the given data directory and an
    /// ephemeral port.
    pub fn for_tests(data_dir: &Path) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise: None,
            data_dir: data_dir.to_path_buf(),
            metrics: None,
            node_id: 1,
            cluster_id: None,
            auto_create_topics: true,
            default_partitions: 1,
            max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
            fetch_max_bytes: Self::DEFAULT_FETCH_MAX_BYTES,
            limits: crate::limits::Limits::default(),
            groups: GroupConfig::default(),
            log_retention_check_interval_ms: Self::DEFAULT_LOG_RETENTION_CHECK_INTERVAL_MS,
            producer_id_expiration_ms: Self::DEFAULT_PRODUCER_ID_EXPIRATION_MS,
            transactions: TxnConfig::default(),
            fsync_before_ack: false,
            page_cache_bytes: Self::DEFAULT_PAGE_CACHE_BYTES,
            log_level: "info".into(),
            log_json: false,
            slow_request_ms: Self::DEFAULT_SLOW_REQUEST_MS,
        }
    }

    /// The broker-wide settings every partition log takes, with a new page-cache budget for
    /// the logs to share.
    pub fn log_defaults(&self) -> crate::topics::LogDefaults {
        crate::topics::LogDefaults {
            sync_before_ack: self.fsync_before_ack,
            page_cache: (self.page_cache_bytes > 0)
                .then(|| fjord_storage::PageCacheBudget::new(self.page_cache_bytes)),
        }
    }

    fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => FileConfig::default(),
        };
        let groups = group_config(&cli, &file)?;
        let limits = limits_config(&cli, &file)?;
        let producer_id_expiration_ms = positive_ms(
            "producer-id-expiration-ms",
            cli.producer_id_expiration_ms
                .or(file.producer_id_expiration_ms),
        )?
        .unwrap_or(Self::DEFAULT_PRODUCER_ID_EXPIRATION_MS);
        let mut transactions = TxnConfig::default();
        if let Some(ms) = positive_ms(
            "transactional-id-expiration-ms",
            cli.transactional_id_expiration_ms
                .or(file.transactional_id_expiration_ms),
        )? {
            transactions.transactional_id_expiration_ms = ms;
        }
        let listen = cli
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:9092".into());
        let listen = parse_addr("listen", &listen)?;
        let advertise = cli
            .advertise
            .or(file.advertise)
            .map(|a| parse_host_port("advertise", &a))
            .transpose()?;
        let metrics = cli
            .metrics
            .or(file.metrics)
            .map(|m| parse_addr("metrics", &m))
            .transpose()?;
        let default_partitions = cli
            .default_partitions
            .or(file.default_partitions)
            .unwrap_or(1);
        if default_partitions < 1 {
            return Err(ConfigError::Invalid {
                name: "default-partitions",
                value: default_partitions.to_string(),
                why: "must be at least 1",
            });
        }
        let max_request_bytes = cli
            .max_request_bytes
            .or(file.max_request_bytes)
            .unwrap_or(Self::DEFAULT_MAX_REQUEST_BYTES);
        if max_request_bytes < 64 || max_request_bytes > i32::MAX as usize {
            return Err(ConfigError::Invalid {
                name: "max-request-bytes",
                value: max_request_bytes.to_string(),
                why: "must be between 64 and 2147483647",
            });
        }
        Ok(Self {
            listen,
            advertise,
            data_dir: cli
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("data")),
            metrics,
            node_id: cli.node_id.or(file.node_id).unwrap_or(1),
            cluster_id: cli.cluster_id.or(file.cluster_id),
            auto_create_topics: cli
                .auto_create_topics
                .or(file.auto_create_topics)
                .unwrap_or(true),
            default_partitions,
            max_request_bytes,
            fetch_max_bytes: cli
                .fetch_max_bytes
                .or(file.fetch_max_bytes)
                .unwrap_or(Self::DEFAULT_FETCH_MAX_BYTES),
            limits,
            groups,
            log_retention_check_interval_ms: cli
                .log_retention_check_interval_ms
                .or(file.log_retention_check_interval_ms)
                .unwrap_or(Self::DEFAULT_LOG_RETENTION_CHECK_INTERVAL_MS)
                .max(1),
            producer_id_expiration_ms,
            transactions,
            fsync_before_ack: cli
                .fsync_before_ack
                .or(file.fsync_before_ack)
                .unwrap_or(false),
            page_cache_bytes: cli
                .page_cache_bytes
                .or(file.page_cache_bytes)
                .unwrap_or(Self::DEFAULT_PAGE_CACHE_BYTES),
            log_level: cli
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            log_json: cli.log_json.or(file.log_json).unwrap_or(false),
            slow_request_ms: cli
                .slow_request_ms
                .or(file.slow_request_ms)
                .unwrap_or(Self::DEFAULT_SLOW_REQUEST_MS),
        })
    }
}

fn limits_config(cli: &Cli, file: &FileConfig) -> Result<crate::limits::Limits, ConfigError> {
    let mut limits = crate::limits::Limits::default();
    let at_least_one = |name: &'static str, value: Option<usize>| match value {
        Some(0) => Err(ConfigError::Invalid {
            name,
            value: "0".into(),
            why: "must be at least 1",
        }),
        other => Ok(other),
    };
    if let Some(n) = at_least_one(
        "max-connections",
        cli.max_connections.or(file.max_connections),
    )? {
        limits.max_connections = n;
        limits.max_connections_per_ip = limits.max_connections_per_ip.min(n);
    }
    if let Some(n) = at_least_one(
        "max-connections-per-ip",
        cli.max_connections_per_ip.or(file.max_connections_per_ip),
    )? {
        limits.max_connections_per_ip = n;
    }
    if let Some(n) = at_least_one(
        "max-partitions-per-request",
        cli.max_partitions_per_request
            .or(file.max_partitions_per_request),
    )? {
        limits.max_partitions_per_request = n;
    }
    if let Some(ms) = cli.connections_max_idle_ms.or(file.connections_max_idle_ms) {
        if ms == 0 {
            return Err(ConfigError::Invalid {
                name: "connections-max-idle-ms",
                value: ms.to_string(),
                why: "must be at least 1",
            });
        }
        limits.connections_max_idle_ms = ms;
    }
    Ok(limits)
}

/// A duration in milliseconds that must be at least 1, as Kafka requires of its expirations.
fn positive_ms(name: &'static str, value: Option<i64>) -> Result<Option<i64>, ConfigError> {
    match value {
        Some(ms) if ms < 1 => Err(ConfigError::Invalid {
            name,
            value: ms.to_string(),
            why: "must be at least 1",
        }),
        other => Ok(other),
    }
}

fn group_config(cli: &Cli, file: &FileConfig) -> Result<GroupConfig, ConfigError> {
    let mut groups = GroupConfig::default();
    if let Some(ms) = cli
        .group_initial_rebalance_delay_ms
        .or(file.group_initial_rebalance_delay_ms)
    {
        if ms < 0 {
            return Err(ConfigError::Invalid {
                name: "group-initial-rebalance-delay-ms",
                value: ms.to_string(),
                why: "must not be negative",
            });
        }
        groups.initial_rebalance_delay_ms = ms;
    }
    if let Some(ms) = cli
        .group_min_session_timeout_ms
        .or(file.group_min_session_timeout_ms)
    {
        if ms < 0 || ms > groups.max_session_timeout_ms {
            return Err(ConfigError::Invalid {
                name: "group-min-session-timeout-ms",
                value: ms.to_string(),
                why: "must be between 0 and group.max.session.timeout.ms",
            });
        }
        groups.min_session_timeout_ms = ms;
    }
    if let Some(minutes) = cli
        .offsets_retention_minutes
        .or(file.offsets_retention_minutes)
    {
        if minutes < 1 {
            return Err(ConfigError::Invalid {
                name: "offsets-retention-minutes",
                value: minutes.to_string(),
                why: "must be at least 1",
            });
        }
        groups.offsets_retention_ms = minutes.saturating_mul(60_000);
    }
    Ok(groups)
}

fn parse_addr(name: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| ConfigError::Invalid {
        name,
        value: value.to_string(),
        why: "expected IP:PORT",
    })
}

fn parse_host_port(name: &'static str, value: &str) -> Result<(String, u16), ConfigError> {
    let invalid = || ConfigError::Invalid {
        name,
        value: value.to_string(),
        why: "expected HOST:PORT",
    };
    let (host, port) = value.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse().map_err(|_| invalid())?;
    if host.is_empty() {
        return Err(invalid());
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["fjord"];
        argv.extend_from_slice(args);
        Config::from_cli(Cli::try_parse_from(argv).unwrap())
    }

    #[test]
    fn defaults_match_the_quick_start() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9092".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert!(config.auto_create_topics);
        assert_eq!(config.default_partitions, 1);
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fjord.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:19092\"\ndefault-partitions = 3\n",
        )
        .unwrap();
        let config = parse(&[
            "--config",
            path.to_str().unwrap(),
            "--default-partitions",
            "5",
        ])
        .unwrap();
        assert_eq!(config.listen.port(), 19092);
        assert_eq!(config.default_partitions, 5);
    }

    #[test]
    fn group_settings_reach_the_coordinator_config() {
        let config = parse(&[
            "--group-initial-rebalance-delay-ms",
            "0",
            "--group-min-session-timeout-ms",
            "1000",
            "--offsets-retention-minutes",
            "2",
        ])
        .unwrap();
        assert_eq!(config.groups.initial_rebalance_delay_ms, 0);
        assert_eq!(config.groups.min_session_timeout_ms, 1000);
        assert_eq!(config.groups.offsets_retention_ms, 120_000);
        assert!(parse(&["--offsets-retention-minutes", "0"]).is_err());
    }

    #[test]
    fn metrics_and_slow_request_settings_are_read() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.metrics, None);
        assert_eq!(config.slow_request_ms, Config::DEFAULT_SLOW_REQUEST_MS);
        let config = parse(&["--metrics", "127.0.0.1:9464", "--slow-request-ms", "250"]).unwrap();
        assert_eq!(config.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(config.slow_request_ms, 250);
        let err = parse(&["--metrics", "nohost"]).unwrap_err();
        assert!(err.to_string().contains("metrics"), "{err}");
    }

    #[test]
    fn connection_limits_are_read() {
        let config = parse(&[
            "--max-connections",
            "50",
            "--max-connections-per-ip",
            "5",
            "--connections-max-idle-ms",
            "1500",
            "--max-partitions-per-request",
            "10",
        ])
        .unwrap();
        assert_eq!(config.limits.max_connections, 50);
        assert_eq!(config.limits.max_connections_per_ip, 5);
        assert_eq!(config.limits.connections_max_idle_ms, 1500);
        assert_eq!(config.limits.max_partitions_per_request, 10);
        let defaults = parse(&[]).unwrap().limits;
        assert_eq!(defaults.connections_max_idle_ms, 600_000);
        let err = parse(&["--max-connections-per-ip", "0"]).unwrap_err();
        assert!(err.to_string().contains("max-connections-per-ip"), "{err}");
    }

    #[test]
    fn bool_flags_work_bare_or_with_a_value() {
        let bare = parse(&["--log-json", "--fsync-before-ack", "--auto-create-topics"]).unwrap();
        assert!(bare.log_json && bare.fsync_before_ack && bare.auto_create_topics);
        // A bare flag followed by another flag does not swallow it.
        let config = parse(&["--log-json", "--slow-request-ms", "0"]).unwrap();
        assert!(config.log_json);
        assert_eq!(config.slow_request_ms, 0);
        let off = parse(&[
            "--log-json",
            "false",
            "--fsync-before-ack=false",
            "--auto-create-topics",
            "false",
        ])
        .unwrap();
        assert!(!off.log_json && !off.fsync_before_ack && !off.auto_create_topics);
        let defaults = parse(&[]).unwrap();
        assert!(!defaults.log_json && !defaults.fsync_before_ack && defaults.auto_create_topics);
        assert!(Cli::try_parse_from(["fjord", "--log-json", "maybe"]).is_err());
    }

    #[test]
    fn bool_settings_come_from_the_file_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fjord.toml");
        std::fs::write(&path, "log-json = true\nfsync-before-ack = true\n").unwrap();
        let config = parse(&["--config", path.to_str().unwrap()]).unwrap();
        assert!(config.log_json && config.fsync_before_ack);
        // A flag given with a value wins over the file.
        let config = parse(&["--config", path.to_str().unwrap(), "--log-json", "false"]).unwrap();
        assert!(!config.log_json);
    }

    #[test]
    fn expiration_settings_are_read_from_flags_and_file() {
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.producer_id_expiration_ms, 86_400_000);
        assert_eq!(
            defaults.transactions.transactional_id_expiration_ms,
            604_800_000
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fjord.toml");
        std::fs::write(&path, "transactional-id-expiration-ms = 5000\n").unwrap();
        let config = parse(&[
            "--config",
            path.to_str().unwrap(),
            "--producer-id-expiration-ms",
            "1000",
        ])
        .unwrap();
        assert_eq!(config.producer_id_expiration_ms, 1_000);
        assert_eq!(config.transactions.transactional_id_expiration_ms, 5_000);
        let err = parse(&["--producer-id-expiration-ms", "0"]).unwrap_err();
        assert!(
            err.to_string().contains("producer-id-expiration-ms"),
            "{err}"
        );
        let err = parse(&["--transactional-id-expiration-ms=-1"]).unwrap_err();
        assert!(
            err.to_string().contains("transactional-id-expiration-ms"),
            "{err}"
        );
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fjord.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let err = parse(&["--config", path.to_str().unwrap()]).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = parse(&["--default-partitions", "0"]).unwrap_err();
        assert!(err.to_string().contains("default-partitions"), "{err}");
        let err = parse(&["--advertise", "nohost"]).unwrap_err();
        assert!(err.to_string().contains("advertise"), "{err}");
    }
}
