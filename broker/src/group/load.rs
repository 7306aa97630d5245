//! Rebuilds the coordinator's groups and offsets by replaying the offsets log.

use std::collections::BTreeMap;

use super::classic::{Group, GroupState};
use super::machine::Coordinator;
use super::member::Member;
use super::record::{GroupSnapshot, LogRecord};
use super::types::{CommittedOffset, Protocol, TopicPartition};

/// The latest state of every key seen so far; later records (and tombstones) win, as
/// compaction would make them.
#[derive(Debug, Default)]
pub struct Replay {
    groups: BTreeMap<String, GroupSnapshot>,
    offsets: BTreeMap<(String, TopicPartition), CommittedOffset>,
}

impl Replay {
    /// Applies the next record of the log.
    pub fn apply(&mut self, record: LogRecord) {
        match record {
            LogRecord::Offset {
                group_id,
                partition,
                value: Some(v),
            } => {
                self.offsets.insert((group_id, partition), v);
            }
            LogRecord::Offset {
                group_id,
                partition,
                value: None,
            } => {
                self.offsets.remove(&(group_id, partition));
            }
            LogRecord::Group {
                group_id,
                value: Some(v),
            } => {
                self.groups.insert(group_id, v);
            }
            LogRecord::Group {
                group_id,
                value: None,
            } => {
                self.groups.remove(&group_id);
            }
        }
    }

    /// Installs the replayed state into `coordinator`: groups with members come back Stable
    /// (their sessions restart in [`Coordinator::start`]), others Empty; offsets without a
    /// group make a group that only stores offsets.
    pub fn install(self, coordinator: &mut Coordinator, now_ms: i64) {
        for (id, snapshot) in self.groups {
            let mut group = Group::new(&id, snapshot.state_timestamp_ms);
            group.generation = snapshot.generation;
            group.protocol_type = Some(snapshot.protocol_type.clone());
            group.protocol.clone_from(&snapshot.protocol);
            group.leader.clone_from(&snapshot.leader);
            let protocol = snapshot.protocol.clone().unwrap_or_default();
            for m in snapshot.members {
                if let Some(instance) = &m.group_instance_id {
                    group
                        .static_members
                        .insert(instance.clone(), m.member_id.clone());
                }
                group.members.push(Member {
                    id: m.member_id,
                    instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    protocol_type: snapshot.protocol_type.clone(),
                    protocols: vec![Protocol {
                        name: protocol.clone(),
                        metadata: m.subscription,
                    }],
                    assignment: m.assignment,
                    awaiting_join: None,
                    awaiting_sync: None,
                    is_new: false,
                    heartbeat_deadline_ms: now_ms + i64::from(m.session_timeout_ms),
                });
            }
            if !group.members.is_empty() {
                group.state = GroupState::Stable;
                group.previous_state = GroupState::Stable;
            }
            coordinator.groups.insert(id, group);
        }
        for ((group_id, partition), offset) in self.offsets {
            coordinator
                .groups
                .entry(group_id.clone())
                .or_insert_with(|| Group::new(&group_id, now_ms))
                .offsets
                .insert(partition, offset);
        }
    }
}
