//! `consume --group`: consuming as a member of a classic consumer group.
//!
//! Joins with the `range` assignor (computing the assignment when elected leader), starts each
//! assigned partition at the group's committed offset (else where the flags say), commits the
//! position after every batch of printed records, heartbeats between fetches, rejoins on a
//! rebalance, and leaves the group on exit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use fjord_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use fjord_protocol::messages::join_group_response::JoinGroupResponseMember;
use fjord_protocol::messages::leave_group_request::MemberIdentity;
use fjord_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use fjord_protocol::messages::{
    ApiKey, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use fjord_protocol::ErrorCode;
use fjord_tools::client::groups::{
    commit_offsets, committed_offsets, decode_assignment, decode_subscription, encode_assignment,
    encode_subscription, Committer,
};
use fjord_tools::client::offsets::log_bounds;
use fjord_tools::client::Client;

use super::consume::{resolve_starts, ConsumeArgs, Printer};
use super::fetcher::Fetcher;

/// The one assignor we offer.
const ASSIGNOR: &str = "range";
/// How long the coordinator waits without a heartbeat before dropping us.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// How long a rebalance may take (the JoinGroup may block this long).
const REBALANCE_TIMEOUT_MS: i32 = 30_000;
/// How often to heartbeat: a third of the session timeout, as Kafka's clients do.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(3_000);
/// JoinGroup attempts before giving up (MEMBER_ID_REQUIRED and rebalances take a few).
const JOIN_ATTEMPTS: u32 = 10;

/// Our membership in one generation.
#[derive(Debug, Clone)]
struct Membership {
    member_id: String,
    generation: i32,
    /// Our partitions of the topic.
    partitions: Vec<i32>,
}

/// Runs `consume --group`.
pub(crate) async fn run(
    client: &mut Client,
    args: &ConsumeArgs,
    group: &str,
) -> anyhow::Result<()> {
    if args.partition.is_some() {
        bail!("--partition cannot be combined with --group: the group assigns partitions");
    }
    {
        let conn = client.coordinator(group).await?;
        for api in [
            ApiKey::JoinGroup,
            ApiKey::SyncGroup,
            ApiKey::Heartbeat,
            ApiKey::OffsetCommit,
        ] {
            conn.version(api).with_context(|| {
                format!("--group needs the consumer group APIs ({})", api.name())
            })?;
        }
    }
    let mut info = client.topic(&args.topic).await?;
    let mut printer = Printer::new(&args.topic, &args.format, args.count, None);
    let mut member_id = String::new();
    'generations: loop {
        let membership = join(client, group, &args.topic, &member_id).await?;
        member_id.clone_from(&membership.member_id);
        let committer = Committer {
            generation: membership.generation,
            member_id: membership.member_id.clone(),
        };
        let bounds = log_bounds(client, &args.topic, &membership.partitions).await?;
        let mut starts = resolve_starts(client, &args.topic, &bounds, args.start()).await?;
        let mut wanted = BTreeMap::new();
        wanted.insert(args.topic.clone(), membership.partitions.clone());
        for ((_, p), offset) in committed_offsets(client, group, Some(&wanted)).await? {
            starts.insert(p, offset);
        }
        let ends = bounds.iter().map(|(p, (_, end))| (*p, *end)).collect();
        info = client.cached_topic(&args.topic).cloned().unwrap_or(info);
        let mut fetcher = Fetcher::new(info.clone(), &starts, &ends, args.max_wait);
        let mut last_heartbeat = Instant::now();
        loop {
            if printer.finished() || (args.exit && fetcher.at_end()) {
                if !commit(client, group, &committer, &args.topic, &starts, &printer).await? {
                    bail!(
                        "group {group} rebalanced before the final offsets could be committed; \
                         the records printed last may be delivered again"
                    );
                }
                leave(client, group, &membership.member_id).await?;
                return Ok(());
            }
            let records = fetcher.poll(client, args.exit).await?;
            if printer.print(&records)? > 0
                && !commit(client, group, &committer, &args.topic, &starts, &printer).await?
            {
                continue 'generations;
            }
            if last_heartbeat.elapsed() >= HEARTBEAT_INTERVAL {
                last_heartbeat = Instant::now();
                match heartbeat(client, group, &membership).await? {
                    ErrorCode::None => {}
                    ErrorCode::RebalanceInProgress => {
                        // Best effort: a refused commit only means records are seen again.
                        commit(client, group, &committer, &args.topic, &starts, &printer).await?;
                        continue 'generations;
                    }
                    ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => {
                        member_id.clear();
                        continue 'generations;
                    }
                    other => bail!("heartbeat to group {group}: {}", other.name()),
                }
            }
        }
    }
}

/// Commits, for each assigned partition, the offset after the last record printed (the next
/// one to read, as Kafka's clients commit), or the start position if none was printed yet.
/// Returns `false` when the group has moved to another generation and we must rejoin.
async fn commit(
    client: &mut Client,
    group: &str,
    committer: &Committer,
    topic: &str,
    starts: &BTreeMap<i32, i64>,
    printer: &Printer,
) -> anyhow::Result<bool> {
    let offsets = starts
        .iter()
        .map(|(&p, &start)| {
            let next = printer.next_offset(p).map_or(start, |n| n.max(start));
            ((topic.to_owned(), p), next)
        })
        .collect();
    match commit_offsets(client, group, committer, &offsets).await {
        Ok(()) => Ok(true),
        Err(err) => match err.kafka_code() {
            Some(
                ErrorCode::RebalanceInProgress
                | ErrorCode::IllegalGeneration
                | ErrorCode::UnknownMemberId,
            ) => Ok(false),
            _ => Err(err.into()),
        },
    }
}

/// Joins the group and syncs; returns our membership in the new generation.
async fn join(
    client: &mut Client,
    group: &str,
    topic: &str,
    member_id: &str,
) -> anyhow::Result<Membership> {
    let mut member_id = member_id.to_owned();
    for _ in 0..JOIN_ATTEMPTS {
        let conn = client.coordinator(group).await?;
        let version = conn.version(ApiKey::JoinGroup)?;
        let request = JoinGroupRequest {
            group_id: group.to_owned(),
            session_timeout_ms: SESSION_TIMEOUT_MS,
            rebalance_timeout_ms: if version >= 1 {
                REBALANCE_TIMEOUT_MS
            } else {
                -1
            },
            member_id: member_id.clone(),
            protocol_type: String::from("consumer"),
            protocols: vec![JoinGroupRequestProtocol {
                name: ASSIGNOR.to_owned(),
                metadata: encode_subscription(&[topic.to_owned()])?,
                ..JoinGroupRequestProtocol::default()
            }],
            ..JoinGroupRequest::default()
        };
        let rebalance = Duration::from_millis(u64::try_from(REBALANCE_TIMEOUT_MS).unwrap_or(0));
        let response = conn.send_at(&request, version, rebalance).await?;
        match ErrorCode::from(response.error_code) {
            ErrorCode::None => {}
            // v4+: the first join only hands out a member id.
            ErrorCode::MemberIdRequired => {
                member_id = response.member_id;
                continue;
            }
            ErrorCode::UnknownMemberId => {
                member_id.clear();
                continue;
            }
            ErrorCode::RebalanceInProgress => continue,
            code => bail!("join group {group}: {} ({})", code.name(), code.code()),
        }
        member_id.clone_from(&response.member_id);
        let assignments = if response.leader == response.member_id {
            assign(client, &response.members).await?
        } else {
            Vec::new()
        };
        let conn = client.coordinator(group).await?;
        let version = conn.version(ApiKey::SyncGroup)?;
        let request = SyncGroupRequest {
            group_id: group.to_owned(),
            generation_id: response.generation_id,
            member_id: member_id.clone(),
            protocol_type: (version >= 5).then(|| String::from("consumer")),
            protocol_name: (version >= 5).then(|| ASSIGNOR.to_owned()),
            assignments,
            ..SyncGroupRequest::default()
        };
        let rebalance = Duration::from_millis(u64::try_from(REBALANCE_TIMEOUT_MS).unwrap_or(0));
        let synced = conn.send_at(&request, version, rebalance).await?;
        match ErrorCode::from(synced.error_code) {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress => continue,
            ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => {
                member_id.clear();
                continue;
            }
            code => bail!("sync group {group}: {} ({})", code.name(), code.code()),
        }
        let assignment = decode_assignment(&synced.assignment)
            .with_context(|| format!("decoding our assignment in group {group}"))?;
        let mut partitions: Vec<i32> = assignment
            .iter()
            .flat_map(|a| &a.assigned_partitions)
            .filter(|tp| tp.topic == topic)
            .flat_map(|tp| tp.partitions.iter().copied())
            .collect();
        partitions.sort_unstable();
        return Ok(Membership {
            member_id,
            generation: response.generation_id,
            partitions,
        });
    }
    bail!("could not join group {group} after {JOIN_ATTEMPTS} attempts")
}

/// The leader's job: the range assignment of every subscribed topic over its subscribers.
async fn assign(
    client: &mut Client,
    members: &[JoinGroupResponseMember],
) -> anyhow::Result<Vec<SyncGroupRequestAssignment>> {
    let mut subscribers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in members {
        let subscription = decode_subscription(&m.metadata)
            .with_context(|| format!("decoding the subscription of member {}", m.member_id))?;
        for topic in subscription.map(|s| s.topics).unwrap_or_default() {
            subscribers
                .entry(topic)
                .or_default()
                .push(m.member_id.clone());
        }
    }
    let mut counts = BTreeMap::new();
    for topic in subscribers.keys() {
        // A subscribed topic that does not exist gets no partitions.
        if let Ok(info) = client.topic(topic).await {
            counts.insert(topic.clone(), info.partitions.len());
        }
    }
    let plan = range_assign(&subscribers, &counts);
    members
        .iter()
        .map(|m| {
            let empty = BTreeMap::new();
            let partitions = plan.get(&m.member_id).unwrap_or(&empty);
            Ok(SyncGroupRequestAssignment {
                member_id: m.member_id.clone(),
                assignment: encode_assignment(partitions)?,
                ..SyncGroupRequestAssignment::default()
            })
        })
        .collect()
}

/// Kafka's range assignor: for each topic, its subscribers in member-id order each take a
/// consecutive run of partitions, the first `partitions % members` taking one extra.
fn range_assign(
    subscribers: &BTreeMap<String, Vec<String>>,
    partition_counts: &BTreeMap<String, usize>,
) -> BTreeMap<String, BTreeMap<String, Vec<i32>>> {
    let mut plan: BTreeMap<String, BTreeMap<String, Vec<i32>>> = BTreeMap::new();
    for (topic, members) in subscribers {
        let Some(&count) = partition_counts.get(topic) else {
            continue;
        };
        let mut members = members.clone();
        members.sort();
        members.dedup();
        let per = count / members.len().max(1);
        let extra = count % members.len().max(1);
        let mut next = 0;
        for (i, member) in members.iter().enumerate() {
            let take = per + usize::from(i < extra);
            let partitions: Vec<i32> = (next..next + take)
                .filter_map(|p| i32::try_from(p).ok())
                .collect();
            next += take;
            plan.entry(member.clone())
                .or_default()
                .insert(topic.clone(), partitions);
        }
    }
    plan
}

async fn heartbeat(
    client: &mut Client,
    group: &str,
    membership: &Membership,
) -> anyhow::Result<ErrorCode> {
    let conn = client.coordinator(group).await?;
    let request = HeartbeatRequest {
        group_id: group.to_owned(),
        generation_id: membership.generation,
        member_id: membership.member_id.clone(),
        ..HeartbeatRequest::default()
    };
    let response = conn.send(&request).await?;
    Ok(ErrorCode::from(response.error_code))
}

/// Leaves the group so the others rebalance at once instead of after our session times out.
async fn leave(client: &mut Client, group: &str, member_id: &str) -> anyhow::Result<()> {
    let conn = client.coordinator(group).await?;
    let Ok(version) = conn.version(ApiKey::LeaveGroup) else {
        return Ok(());
    };
    let mut request = LeaveGroupRequest {
        group_id: group.to_owned(),
        ..LeaveGroupRequest::default()
    };
    if version >= 3 {
        request.members = vec![MemberIdentity {
            member_id: member_id.to_owned(),
            ..MemberIdentity::default()
        }];
    } else {
        request.member_id = member_id.to_owned();
    }
    let response = conn.send_at(&request, version, Duration::ZERO).await?;
    // Leaving is a courtesy; a group that already forgot us is fine.
    let code = ErrorCode::from(response.error_code);
    if !code.is_ok() && code != ErrorCode::UnknownMemberId {
        bail!("leave group {group}: {}", code.name());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_gives_the_first_members_one_extra_partition() {
        let mut subscribers = BTreeMap::new();
        subscribers.insert(
            "t".to_owned(),
            vec!["m-b".to_owned(), "m-a".to_owned(), "m-c".to_owned()],
        );
        let mut counts = BTreeMap::new();
        counts.insert("t".to_owned(), 7);
        let plan = range_assign(&subscribers, &counts);
        assert_eq!(plan["m-a"]["t"], vec![0, 1, 2]);
        assert_eq!(plan["m-b"]["t"], vec![3, 4]);
        assert_eq!(plan["m-c"]["t"], vec![5, 6]);
    }
}
