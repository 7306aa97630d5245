//! `fjordctl topic ...`: create, list, describe, alter, delete.

use std::io::Write as _;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use fjord_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use fjord_protocol::messages::delete_topics_request::DeleteTopicState;
use fjord_protocol::messages::describe_configs_request::DescribeConfigsResource;
use fjord_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use fjord_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use fjord_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest,
};
use fjord_tools::client::error::check_with_message;
use fjord_tools::client::offsets::log_bounds;
use fjord_tools::client::{Client, ClientError};
use fjord_tools::parse::key_value;
use serde_json::json;

use super::table::print_table;

/// The resource type of a topic in the config APIs.
const RESOURCE_TOPIC: i8 = 2;
/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
/// Removes a topic override, so the broker default applies again.
const OP_DELETE: i8 = 1;
/// How long the broker may take to create or delete a topic.
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// Topic commands.
#[derive(Debug, Subcommand)]
pub(crate) enum TopicCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// List topics.
    List(ListArgs),
    /// Show a topic's partitions, leaders, offsets and configs.
    Describe(DescribeArgs),
    /// Change a topic's configs (needs IncrementalAlterConfigs on the broker).
    Alter(AlterArgs),
    /// Delete a topic.
    Delete(DeleteArgs),
}

/// `topic create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Topic name.
    name: String,
    /// Number of partitions.
    #[arg(long, short = 'p', default_value_t = 1)]
    partitions: i32,
    /// Replication factor (the broker's default when omitted).
    #[arg(long, short = 'r')]
    replication_factor: Option<i16>,
    /// A topic config, KEY=VALUE (repeatable).
    #[arg(long = "config", short = 'c', value_parser = key_value)]
    configs: Vec<(String, String)>,
}

/// `topic list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Include internal topics.
    #[arg(long)]
    internal: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `topic describe`.
#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    /// Topic name.
    name: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// `topic alter`.
#[derive(Debug, Args)]
pub(crate) struct AlterArgs {
    /// Topic name.
    name: String,
    /// Set a config, KEY=VALUE (repeatable).
    #[arg(long = "config", short = 'c', value_parser = key_value)]
    set: Vec<(String, String)>,
    /// Remove a config override, so the default applies again (repeatable).
    #[arg(long = "delete-config")]
    delete: Vec<String>,
}

/// `topic delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Topic name.
    name: String,
}

/// Runs a topic command.
pub(crate) async fn run(client: &mut Client, command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create(args) => create(client, args).await,
        TopicCommand::List(args) => list(client, &args).await,
        TopicCommand::Describe(args) => describe(client, &args).await,
        TopicCommand::Alter(args) => alter(client, args).await,
        TopicCommand::Delete(args) => delete(client, &args).await,
    }
}

async fn create(client: &mut Client, args: CreateArgs) -> anyhow::Result<()> {
    if args.partitions < 1 {
        bail!("--partitions must be at least 1, got {}", args.partitions);
    }
    let conn = client.controller().await?;
    let version = conn.version(ApiKey::CreateTopics)?;
    // Before v4 the broker cannot pick its default replication factor.
    let default_rf = if version >= 4 { -1 } else { 1 };
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: args.name.clone(),
            num_partitions: args.partitions,
            replication_factor: args.replication_factor.unwrap_or(default_rf),
            configs: args
                .configs
                .into_iter()
                .map(|(name, value)| CreatableTopicConfig {
                    name,
                    value: Some(value),
                    ..CreatableTopicConfig::default()
                })
                .collect(),
            ..CreatableTopic::default()
        }],
        timeout_ms: ADMIN_TIMEOUT_MS,
        ..CreateTopicsRequest::default()
    };
    let response = conn
        .send_at(&request, version, std::time::Duration::ZERO)
        .await?;
    let result = response
        .topics
        .iter()
        .find(|t| t.name == args.name)
        .with_context(|| format!("the broker did not answer for topic {}", args.name))?;
    check_with_message(result.error_code, result.error_message.as_deref(), || {
        format!("create topic {}", args.name)
    })?;
    eprintln!(
        "created topic {} with {} partition{}",
        args.name,
        args.partitions,
        if args.partitions == 1 { "" } else { "s" }
    );
    Ok(())
}

async fn list(client: &mut Client, args: &ListArgs) -> anyhow::Result<()> {
    let response = client.refresh(None).await?;
    let mut topics: Vec<(String, usize, bool)> = response
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && (args.internal || !t.is_internal))
        .filter_map(|t| {
            t.name
                .clone()
                .map(|name| (name, t.partitions.len(), t.is_internal))
        })
        .collect();
    topics.sort();
    if args.json {
        let value: Vec<_> = topics
            .iter()
            .map(|(name, partitions, internal)| {
                json!({ "name": name, "partitions": partitions, "internal": internal })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = topics
        .iter()
        .map(|(name, partitions, _)| vec![name.clone(), partitions.to_string()])
        .collect();
    print_table(&["NAME", "PARTITIONS"], &rows)?;
    Ok(())
}

/// One row of `topic describe`.
struct PartitionRow {
    index: i32,
    leader: i32,
    leader_epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    start: i64,
    end: i64,
}

async fn describe(client: &mut Client, args: &DescribeArgs) -> anyhow::Result<()> {
    let info = client.topic(&args.name).await?;
    let indexes: Vec<i32> = info.partitions.iter().map(|p| p.index).collect();
    let bounds = log_bounds(client, &args.name, &indexes).await?;
    let rows: Vec<PartitionRow> = info
        .partitions
        .iter()
        .map(|p| {
            let (start, end) = bounds.get(&p.index).copied().unwrap_or((-1, -1));
            PartitionRow {
                index: p.index,
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                start,
                end,
            }
        })
        .collect();
    let configs = describe_configs(client, &args.name).await?;
    if args.json {
        let partitions: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "partition": r.index,
                    "leader": r.leader,
                    "leader_epoch": r.leader_epoch,
                    "replicas": r.replicas,
                    "isr": r.isr,
                    "log_start_offset": r.start,
                    "log_end_offset": r.end,
                })
            })
            .collect();
        let configs: Vec<_> = configs
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "value": c.value,
                    "source": source_name(c.config_source),
                    "read_only": c.read_only,
                    "sensitive": c.is_sensitive,
                })
            })
            .collect();
        let value = json!({
            "name": info.name,
            "id": info.id.to_string(),
            "internal": info.internal,
            "partitions": partitions,
            "configs": configs,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Topic: {}  id: {}  partitions: {}{}",
        info.name,
        info.id,
        info.partitions.len(),
        if info.internal { "  (internal)" } else { "" }
    )?;
    writeln!(out)?;
    drop(out);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.index.to_string(),
                r.leader.to_string(),
                r.leader_epoch.to_string(),
                join_ids(&r.replicas),
                join_ids(&r.isr),
                r.start.to_string(),
                r.end.to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "PARTITION",
            "LEADER",
            "EPOCH",
            "REPLICAS",
            "ISR",
            "LOG-START",
            "LOG-END",
        ],
        &table,
    )?;
    if !configs.is_empty() {
        println!();
        let table: Vec<Vec<String>> = configs
            .iter()
            .map(|c| {
                let value = if c.is_sensitive {
                    String::from("(sensitive)")
                } else {
                    c.value.clone().unwrap_or_else(|| String::from("(null)"))
                };
                vec![
                    c.name.clone(),
                    value,
                    source_name(c.config_source).to_owned(),
                ]
            })
            .collect();
        print_table(&["CONFIG", "VALUE", "SOURCE"], &table)?;
    }
    Ok(())
}

/// The topic's configs, or none if the broker does not serve DescribeConfigs.
async fn describe_configs(
    client: &mut Client,
    topic: &str,
) -> anyhow::Result<Vec<DescribeConfigsResourceResult>> {
    let conn = client.any().await?;
    let Ok(version) = conn.version(ApiKey::DescribeConfigs) else {
        return Ok(Vec::new());
    };
    let request = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: RESOURCE_TOPIC,
            resource_name: topic.to_owned(),
            configuration_keys: None,
            ..DescribeConfigsResource::default()
        }],
        ..DescribeConfigsRequest::default()
    };
    let response = conn
        .send_at(&request, version, std::time::Duration::ZERO)
        .await?;
    let mut configs = Vec::new();
    for result in response.results {
        check_with_message(result.error_code, result.error_message.as_deref(), || {
            format!("describe configs of topic {topic}")
        })?;
        configs.extend(result.configs);
    }
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(configs)
}

/// Kafka's name for a config source.
fn source_name(source: i8) -> &'static str {
    match source {
        1 => "topic",
        2 => "dynamic-broker",
        3 => "dynamic-default-broker",
        4 => "static-broker",
        5 => "default",
        6 => "dynamic-broker-logger",
        _ => "unknown",
    }
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

async fn alter(client: &mut Client, args: AlterArgs) -> anyhow::Result<()> {
    if args.set.is_empty() && args.delete.is_empty() {
        bail!("nothing to change: give --config KEY=VALUE or --delete-config KEY");
    }
    // Fail on an unknown topic before asking about configs, with the clearer error.
    client.topic(&args.name).await?;
    let conn = client.controller().await?;
    let version = match conn.version(ApiKey::IncrementalAlterConfigs) {
        Ok(version) => version,
        Err(ClientError::Unsupported { addr, .. }) => bail!(
            "the broker at {addr} does not advertise IncrementalAlterConfigs, so topic configs \
             cannot be changed through it"
        ),
        Err(other) => return Err(other.into()),
    };
    let mut configs: Vec<AlterableConfig> = args
        .set
        .iter()
        .map(|(name, value)| AlterableConfig {
            name: name.clone(),
            config_operation: OP_SET,
            value: Some(value.clone()),
            ..AlterableConfig::default()
        })
        .collect();
    configs.extend(args.delete.iter().map(|name| AlterableConfig {
        name: name.clone(),
        config_operation: OP_DELETE,
        value: None,
        ..AlterableConfig::default()
    }));
    let request = IncrementalAlterConfigsRequest {
        resources: vec![AlterConfigsResource {
            resource_type: RESOURCE_TOPIC,
            resource_name: args.name.clone(),
            configs,
            ..AlterConfigsResource::default()
        }],
        ..IncrementalAlterConfigsRequest::default()
    };
    let response = conn
        .send_at(&request, version, std::time::Duration::ZERO)
        .await?;
    for result in &response.responses {
        check_with_message(result.error_code, result.error_message.as_deref(), || {
            format!("alter configs of topic {}", args.name)
        })?;
    }
    eprintln!("altered topic {}", args.name);
    Ok(())
}

async fn delete(client: &mut Client, args: &DeleteArgs) -> anyhow::Result<()> {
    let conn = client.controller().await?;
    let version = conn.version(ApiKey::DeleteTopics)?;
    let mut request = DeleteTopicsRequest {
        timeout_ms: ADMIN_TIMEOUT_MS,
        ..DeleteTopicsRequest::default()
    };
    if version >= 6 {
        request.topics = vec![DeleteTopicState {
            name: Some(args.name.clone()),
            ..DeleteTopicState::default()
        }];
    } else {
        request.topic_names = vec![args.name.clone()];
    }
    let response = conn
        .send_at(&request, version, std::time::Duration::ZERO)
        .await?;
    let result = response
        .responses
        .iter()
        .find(|r| r.name.as_deref() == Some(args.name.as_str()))
        .or_else(|| response.responses.first())
        .with_context(|| format!("the broker did not answer for topic {}", args.name))?;
    if result.error_code == fjord_protocol::ErrorCode::UnknownTopicOrPartition.code() {
        return Err(ClientError::UnknownTopic {
            topic: args.name.clone(),
        }
        .into());
    }
    check_with_message(result.error_code, result.error_message.as_deref(), || {
        format!("delete topic {}", args.name)
    })?;
    eprintln!("deleted topic {}", args.name);
    Ok(())
}
