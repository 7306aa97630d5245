//! ListGroups, DescribeGroups and DeleteGroups.

use super::classic::GroupState;
use super::error::GroupError;
use super::machine::{Coordinator, Effect, PendingWrite, Reply};
use super::record::LogRecord;
use super::types::{GroupDescription, GroupOverview, ListGroups, MemberDescription, RequestId};

/// The type every group here has (ListGroups v5).
pub const CLASSIC_GROUP_TYPE: &str = "classic";

impl Coordinator {
    pub(crate) fn list(&self, request: &ListGroups) -> Vec<GroupOverview> {
        let wanted = |filter: &[String], value: &str| {
            filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
        };
        if !wanted(&request.types, CLASSIC_GROUP_TYPE) {
            return Vec::new();
        }
        self.groups
            .values()
            .filter(|g| g.state != GroupState::Dead && wanted(&request.states, g.state.name()))
            .map(|g| GroupOverview {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name(),
            })
            .collect()
    }

    pub(crate) fn describe(&self, group_ids: &[String]) -> Vec<GroupDescription> {
        group_ids
            .iter()
            .map(|id| match self.live_group(id) {
                // Before DescribeGroups v6, an unknown group is described as dead, not an error.
                None => GroupDescription {
                    group_id: id.clone(),
                    error: None,
                    state: GroupState::Dead.name(),
                    protocol_type: String::new(),
                    protocol: String::new(),
                    members: Vec::new(),
                },
                Some(g) => {
                    let stable = g.state == GroupState::Stable;
                    let protocol = if stable {
                        g.protocol.clone().unwrap_or_default()
                    } else {
                        String::new()
                    };
                    GroupDescription {
                        group_id: id.clone(),
                        error: None,
                        state: g.state.name(),
                        protocol_type: g.protocol_type.clone().unwrap_or_default(),
                        members: g
                            .members
                            .iter()
                            .map(|m| MemberDescription {
                                member_id: m.id.clone(),
                                group_instance_id: m.instance_id.clone(),
                                client_id: m.client_id.clone(),
                                client_host: m.client_host.clone(),
                                metadata: if stable {
                                    m.metadata(&protocol)
                                } else {
                                    bytes::Bytes::new()
                                },
                                assignment: if stable {
                                    m.assignment.clone()
                                } else {
                                    bytes::Bytes::new()
                                },
                            })
                            .collect(),
                        protocol,
                    }
                }
            })
            .collect()
    }

    pub(crate) fn delete_groups(
        &mut self,
        id: RequestId,
        group_ids: &[String],
        out: &mut Vec<Effect>,
    ) {
        let mut records = Vec::new();
        let mut outcomes = Vec::new();
        for group_id in group_ids {
            let outcome = match self.live_group(group_id).map(|g| g.state) {
                None => Some(GroupError::GroupIdNotFound),
                Some(GroupState::Empty) => {
                    if let Some(group) = self.groups.remove(group_id) {
                        records.extend(group.offsets.into_keys().map(|partition| {
                            LogRecord::Offset {
                                group_id: group_id.clone(),
                                partition,
                                value: None,
                            }
                        }));
                        records.push(LogRecord::Group {
                            group_id: group_id.clone(),
                            value: None,
                        });
                    }
                    None
                }
                Some(_) => Some(GroupError::NonEmptyGroup),
            };
            outcomes.push((group_id.clone(), outcome));
        }
        let reply = Reply::Delete(outcomes);
        if records.is_empty() {
            out.push(Effect::Reply(id, reply));
        } else {
            self.append(records, PendingWrite::Reply { request: id, reply }, out);
        }
    }
}
