//! `fjordctl group ...`: list, describe, reset offsets, delete.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use fjord_protocol::messages::{ApiKey, DeleteGroupsRequest, ListGroupsRequest};
use fjord_tools::client::error::check;
use fjord_tools::client::groups::{
    commit_offsets, committed_offsets, decode_assignment, describe_group, Committer,
};
use fjord_tools::client::offsets::{list_offsets, log_bounds};
use fjord_tools::client::Client;
use fjord_tools::parse;
use serde_json::json;

use super::table::print_table;

/// Group states in which no member holds partitions, so offsets may be changed from outside.
const INACTIVE_STATES: &[&str] = &["Empty", "Dead"];

/// Group commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// List consumer groups.
    List(ListArgs),
    /// Show a group's members, assignments, committed offsets and lag.
    Describe(DescribeArgs),
    /// Move a group's committed offsets for a topic (the group must have no active members).
    ResetOffsets(ResetArgs),
    /// Delete a group (it must have no active members).
    Delete(DeleteArgs),
}

/// `group list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `group describe`.
#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    /// Group id.
    group: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// `group reset-offsets`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(
    ["to_earliest", "to_latest", "to_offset", "to_timestamp", "shift_by"]
)))]
pub(crate) struct ResetArgs {
    /// Group id.
    group: String,
    /// The topic whose offsets move.
    #[arg(long, short = 't')]
    topic: String,
    /// Only this partition (default: all of the topic's partitions).
    #[arg(long, short = 'p')]
    partition: Option<i32>,
    /// To the log start.
    #[arg(long)]
    to_earliest: bool,
    /// To the log end.
    #[arg(long)]
    to_latest: bool,
    /// To this offset (clamped to the log bounds).
    #[arg(long)]
    to_offset: Option<i64>,
    /// To the first record at or after this time (RFC 3339 or epoch milliseconds).
    #[arg(long, value_parser = parse::timestamp_ms)]
    to_timestamp: Option<i64>,
    /// Move the committed offset by N (negative: back), clamped to the log bounds.
    #[arg(long, allow_negative_numbers = true)]
    shift_by: Option<i64>,
    /// Show the new offsets without committing them.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `group delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Group id.
    group: String,
}

/// Runs a group command.
pub(crate) async fn run(client: &mut Client, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List(args) => list(client, &args).await,
        GroupCommand::Describe(args) => describe(client, &args).await,
        GroupCommand::ResetOffsets(args) => reset(client, &args).await,
        GroupCommand::Delete(args) => delete(client, &args).await,
    }
}

async fn list(client: &mut Client, args: &ListArgs) -> anyhow::Result<()> {
    client.refresh(Some(&[])).await?;
    let nodes: Vec<i32> = client.nodes().map(|(id, _)| id).collect();
    let mut groups = BTreeMap::new();
    for node in nodes {
        let conn = client.node(node).await?;
        let response = conn.send(&ListGroupsRequest::default()).await?;
        check(response.error_code, || {
            format!("list groups on node {node}")
        })?;
        for g in response.groups {
            groups.insert(g.group_id.clone(), (g, node));
        }
    }
    if args.json {
        let value: Vec<_> = groups
            .values()
            .map(|(g, node)| {
                json!({
                    "group": g.group_id,
                    "protocol_type": g.protocol_type,
                    "state": g.group_state,
                    "coordinator": node,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = groups
        .values()
        .map(|(g, node)| {
            vec![
                g.group_id.clone(),
                g.protocol_type.clone(),
                if g.group_state.is_empty() {
                    String::from("-")
                } else {
                    g.group_state.clone()
                },
                node.to_string(),
            ]
        })
        .collect();
    print_table(&["GROUP", "PROTOCOL-TYPE", "STATE", "COORDINATOR"], &rows)?;
    Ok(())
}

/// One partition in `group describe`.
struct LagRow {
    topic: String,
    partition: i32,
    committed: Option<i64>,
    end: i64,
    member: Option<(String, String, String)>,
}

impl LagRow {
    fn lag(&self) -> Option<i64> {
        self.committed
            .map(|c| fjord_protocol::lag::consumer_lag(self.end, c))
    }
}

async fn describe(client: &mut Client, args: &DescribeArgs) -> anyhow::Result<()> {
    let group = describe_group(client, &args.group).await?;
    let committed = committed_offsets(client, &args.group, None).await?;
    // Who owns what, from the members' assignments.
    let mut owners: BTreeMap<(String, i32), (String, String, String)> = BTreeMap::new();
    if group.protocol_type == "consumer" {
        for m in &group.members {
            let assignment = decode_assignment(&m.member_assignment)
                .with_context(|| format!("decoding the assignment of member {}", m.member_id))?;
            for tp in assignment.iter().flat_map(|a| &a.assigned_partitions) {
                for &p in &tp.partitions {
                    owners.insert(
                        (tp.topic.clone(), p),
                        (
                            m.member_id.clone(),
                            m.client_id.clone(),
                            m.client_host.clone(),
                        ),
                    );
                }
            }
        }
    }
    let keys: BTreeSet<(String, i32)> = committed.keys().chain(owners.keys()).cloned().collect();
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, p) in &keys {
        by_topic.entry(topic.clone()).or_default().push(*p);
    }
    let mut rows = Vec::new();
    for (topic, partitions) in &by_topic {
        let bounds = match log_bounds(client, topic, partitions).await {
            Ok(bounds) => bounds,
            // A committed offset may outlive its topic; show it without an end offset.
            Err(fjord_tools::client::ClientError::UnknownTopic { .. }) => BTreeMap::new(),
            Err(other) => return Err(other.into()),
        };
        for &p in partitions {
            let key = (topic.clone(), p);
            rows.push(LagRow {
                topic: topic.clone(),
                partition: p,
                committed: committed.get(&key).copied(),
                end: bounds.get(&p).map_or(-1, |(_, end)| *end),
                member: owners.get(&key).cloned(),
            });
        }
    }
    if args.json {
        let members: Vec<_> = group
            .members
            .iter()
            .map(|m| {
                json!({
                    "member_id": m.member_id,
                    "instance_id": m.group_instance_id,
                    "client_id": m.client_id,
                    "host": m.client_host,
                })
            })
            .collect();
        let offsets: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "topic": r.topic,
                    "partition": r.partition,
                    "committed_offset": r.committed,
                    "log_end_offset": r.end,
                    "lag": r.lag(),
                    "member_id": r.member.as_ref().map(|m| &m.0),
                })
            })
            .collect();
        let value = json!({
            "group": group.group_id,
            "state": group.group_state,
            "protocol_type": group.protocol_type,
            "protocol": group.protocol_data,
            "members": members,
            "offsets": offsets,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!(
        "Group: {}  state: {}  protocol: {} {}  members: {}",
        group.group_id,
        group.group_state,
        group.protocol_type,
        group.protocol_data,
        group.members.len()
    );
    println!();
    let dash = || String::from("-");
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (member, client_id, host) =
                r.member.clone().unwrap_or_else(|| (dash(), dash(), dash()));
            vec![
                r.topic.clone(),
                r.partition.to_string(),
                r.committed.map_or_else(dash, |c| c.to_string()),
                r.end.to_string(),
                r.lag().map_or_else(dash, |l| l.to_string()),
                member,
                client_id,
                host,
            ]
        })
        .collect();
    print_table(
        &[
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "LOG-END",
            "LAG",
            "MEMBER",
            "CLIENT-ID",
            "HOST",
        ],
        &table,
    )?;
    Ok(())
}

async fn reset(client: &mut Client, args: &ResetArgs) -> anyhow::Result<()> {
    let info = client.topic(&args.topic).await?;
    let partitions: Vec<i32> = match args.partition {
        Some(p) => vec![info.partition(p)?.index],
        None => info.partitions.iter().map(|p| p.index).collect(),
    };
    if !args.dry_run {
        let group = describe_group(client, &args.group).await?;
        if !INACTIVE_STATES.contains(&group.group_state.as_str()) {
            bail!(
                "group {} is {} with {} member(s); stop its consumers before resetting offsets",
                args.group,
                group.group_state,
                group.members.len()
            );
        }
    }
    let bounds = log_bounds(client, &args.topic, &partitions).await?;
    let mut wanted = BTreeMap::new();
    wanted.insert(args.topic.clone(), partitions.clone());
    let committed = committed_offsets(client, &args.group, Some(&wanted)).await?;
    let by_time = match args.to_timestamp {
        Some(ts) => {
            let queries: Vec<(i32, i64)> = partitions.iter().map(|p| (*p, ts)).collect();
            list_offsets(client, &args.topic, &queries).await?
        }
        None => BTreeMap::new(),
    };
    let mut plan = BTreeMap::new();
    let mut rows = Vec::new();
    for &p in &partitions {
        let (start, end) = bounds.get(&p).copied().unwrap_or((0, 0));
        let current = committed.get(&(args.topic.clone(), p)).copied();
        let target = if args.to_earliest {
            start
        } else if args.to_latest {
            end
        } else if let Some(offset) = args.to_offset {
            offset
        } else if args.to_timestamp.is_some() {
            // No record at or after the time: the end, as Kafka's tool does.
            by_time
                .get(&p)
                .map(|o| o.offset)
                .filter(|o| *o >= 0)
                .unwrap_or(end)
        } else {
            let shift = args.shift_by.unwrap_or(0);
            // Without a committed offset there is nothing to shift from; Kafka's tool starts
            // from the log end in that case too.
            current.unwrap_or(end).saturating_add(shift)
        };
        let target = target.clamp(start, end);
        plan.insert((args.topic.clone(), p), target);
        rows.push((p, current, target));
    }
    if !args.dry_run {
        commit_offsets(client, &args.group, &Committer::admin(), &plan).await?;
    }
    if args.json {
        let value: Vec<_> = rows
            .iter()
            .map(|(p, current, target)| {
                json!({
                    "topic": args.topic,
                    "partition": p,
                    "previous_offset": current,
                    "new_offset": target,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(p, current, target)| {
                vec![
                    args.topic.clone(),
                    p.to_string(),
                    current.map_or_else(|| String::from("-"), |c| c.to_string()),
                    target.to_string(),
                ]
            })
            .collect();
        print_table(&["TOPIC", "PARTITION", "PREVIOUS", "NEW"], &table)?;
    }
    if args.dry_run {
        eprintln!("dry run: nothing committed");
    } else {
        eprintln!(
            "reset offsets of group {} for {} partition(s) of {}",
            args.group,
            rows.len(),
            args.topic
        );
    }
    Ok(())
}

async fn delete(client: &mut Client, args: &DeleteArgs) -> anyhow::Result<()> {
    let conn = client.coordinator(&args.group).await?;
    conn.version(ApiKey::DeleteGroups)?;
    let request = DeleteGroupsRequest {
        groups_names: vec![args.group.clone()],
        ..DeleteGroupsRequest::default()
    };
    let response = conn.send(&request).await?;
    for r in &response.results {
        check(r.error_code, || format!("delete group {}", r.group_id))?;
    }
    eprintln!("deleted group {}", args.group);
    Ok(())
}
