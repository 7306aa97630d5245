//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup, the rebalance they drive, and the member
//! and group timers. The answer to each request in each state follows Kafka's classic
//! group coordinator.

use super::classic::{Group, GroupState, JoinPhase};
use super::error::GroupError;
use super::machine::{Coordinator, Effect, PendingWrite, Reply, TimerKey};
use super::member::{Member, PendingJoin};
use super::record::{GroupSnapshot, LogRecord, MemberSnapshot};
use super::types::{
    GenerationId, Heartbeat, JoinGroup, JoinResult, LeaveGroup, LeaveResult, RequestId, SyncGroup,
    SyncResult,
};

fn heartbeat_key(group: &str, member: &str) -> TimerKey {
    TimerKey::Heartbeat {
        group: group.to_string(),
        member: member.to_string(),
    }
}

fn reply_join(out: &mut Vec<Effect>, to: RequestId, result: JoinResult) {
    out.push(Effect::Reply(to, Reply::Join(result)));
}

/// The group as it goes to the log, with `assignments` (member id to bytes).
pub(crate) fn snapshot(group: &Group, assignments: &[(String, bytes::Bytes)]) -> LogRecord {
    let protocol = group.protocol.clone();
    let members = group
        .members
        .iter()
        .map(|m| MemberSnapshot {
            member_id: m.id.clone(),
            group_instance_id: m.instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            rebalance_timeout_ms: m.rebalance_timeout_ms,
            session_timeout_ms: m.session_timeout_ms,
            subscription: m.metadata(protocol.as_deref().unwrap_or_default()),
            assignment: assignments
                .iter()
                .find(|(id, _)| *id == m.id)
                .map(|(_, a)| a.clone())
                .unwrap_or_default(),
        })
        .collect();
    LogRecord::Group {
        group_id: group.id.clone(),
        value: Some(GroupSnapshot {
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            generation: group.generation,
            protocol,
            leader: group.leader.clone(),
            state_timestamp_ms: group.state_timestamp_ms,
            members,
        }),
    }
}

/// The reply giving a member the current generation (members only for the leader when
/// `with_members`).
fn current_generation(group: &Group, member_id: &str, with_members: bool) -> JoinResult {
    JoinResult {
        error: None,
        generation_id: group.generation,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol.clone(),
        leader: group.leader.clone().unwrap_or_default(),
        skip_assignment: false,
        member_id: member_id.to_string(),
        members: if with_members && group.is_leader(member_id) {
            group.joined_members()
        } else {
            Vec::new()
        },
    }
}

impl Coordinator {
    /// Runs `f` on the live group `id` taken out of the map, putting it back unless it died.
    pub(crate) fn with_group<R>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut Self, &mut Group) -> R,
    ) -> Option<R> {
        let mut group = self.groups.remove(id)?;
        if group.state == GroupState::Dead {
            return None;
        }
        let result = f(self, &mut group);
        if group.state != GroupState::Dead {
            self.groups.insert(id.to_string(), group);
        }
        Some(result)
    }

    pub(crate) fn join(
        &mut self,
        id: RequestId,
        request: JoinGroup,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        if request.group_id.is_empty() {
            return reply_join(
                out,
                id,
                JoinResult::error(request.member_id, GroupError::InvalidGroupId),
            );
        }
        if request.session_timeout_ms < self.config.min_session_timeout_ms
            || request.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return reply_join(
                out,
                id,
                JoinResult::error(request.member_id, GroupError::InvalidSessionTimeout),
            );
        }
        let unknown_member = request.member_id.is_empty();
        if self.live_group(&request.group_id).is_none() {
            if !unknown_member {
                return reply_join(
                    out,
                    id,
                    JoinResult::error(request.member_id, GroupError::UnknownMemberId),
                );
            }
            self.groups.insert(
                request.group_id.clone(),
                Group::new(&request.group_id, now_ms),
            );
        }
        let group_id = request.group_id.clone();
        self.with_group(&group_id, |this, group| {
            if unknown_member && group.members.len() >= this.config.max_size {
                reply_join(
                    out,
                    id,
                    JoinResult::error("", GroupError::GroupMaxSizeReached),
                );
            } else if unknown_member {
                this.join_new_member(group, id, request, now_ms, out);
            } else {
                this.join_existing_member(group, id, request, now_ms, out);
            }
        });
    }

    fn join_new_member(
        &mut self,
        group: &mut Group,
        id: RequestId,
        request: JoinGroup,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let names: Vec<&str> = request.protocols.iter().map(|p| p.name.as_str()).collect();
        if !group.supports_protocols(&request.protocol_type, &names) {
            return reply_join(
                out,
                id,
                JoinResult::error("", GroupError::InconsistentGroupProtocol),
            );
        }
        let prefix = request
            .group_instance_id
            .as_deref()
            .unwrap_or(&request.client_id);
        let new_id = format!("{prefix}-{}", request.fresh_member_suffix);
        let existing_static = request
            .group_instance_id
            .as_deref()
            .and_then(|instance| group.static_member(instance))
            .map(str::to_string);
        if let Some(old_id) = existing_static {
            self.replace_static_member(group, id, request, &old_id, new_id, now_ms, out);
        } else if request.require_known_member_id && request.group_instance_id.is_none() {
            // KIP-394: hand out the id first, so a client that times out and retries does not
            // leave a ghost member behind; the id expires if the second join never comes.
            group.pending_members.insert(new_id.clone());
            out.push(Effect::Schedule {
                key: heartbeat_key(&group.id, &new_id),
                at_ms: now_ms + i64::from(request.session_timeout_ms),
            });
            reply_join(
                out,
                id,
                JoinResult::error(new_id, GroupError::MemberIdRequired),
            );
        } else {
            self.add_member_and_rebalance(group, id, request, new_id, now_ms, out);
        }
    }

    fn join_existing_member(
        &mut self,
        group: &mut Group,
        id: RequestId,
        request: JoinGroup,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let names: Vec<&str> = request.protocols.iter().map(|p| p.name.as_str()).collect();
        if !group.supports_protocols(&request.protocol_type, &names) {
            let member_id = request.member_id;
            return reply_join(
                out,
                id,
                JoinResult::error(member_id, GroupError::InconsistentGroupProtocol),
            );
        }
        if group.pending_members.contains(&request.member_id) {
            let member_id = request.member_id.clone();
            return self.add_member_and_rebalance(group, id, request, member_id, now_ms, out);
        }
        if let Err(e) =
            group.validate_member(&request.member_id, request.group_instance_id.as_deref())
        {
            return reply_join(out, id, JoinResult::error(request.member_id, e));
        }
        let member_id = request.member_id.clone();
        let unchanged = group
            .member(&member_id)
            .is_some_and(|m| m.matches(&request.protocols));
        match group.state {
            GroupState::PreparingRebalance => {
                self.update_member_and_rebalance(group, id, request, now_ms, out);
            }
            GroupState::CompletingRebalance if unchanged => {
                // It lost the first reply: repeat the generation's answer.
                reply_join(out, id, current_generation(group, &member_id, true));
            }
            GroupState::Stable if unchanged && !group.is_leader(&member_id) => {
                reply_join(out, id, current_generation(group, &member_id, false));
            }
            // Changed metadata, or the leader asking for a new assignment (for example after
            // topic metadata changed), starts a rebalance.
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(group, id, request, now_ms, out);
            }
            GroupState::Empty | GroupState::Dead => {
                reply_join(
                    out,
                    id,
                    JoinResult::error(member_id, GroupError::UnknownMemberId),
                );
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        group: &mut Group,
        id: RequestId,
        request: JoinGroup,
        member_id: String,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        // A new member has no id to heartbeat with yet, and its socket waits on the join, so
        // its JoinGroup gets a long timeout instead of the session timeout.
        let deadline = now_ms + self.config.new_member_join_timeout_ms;
        let timer = heartbeat_key(&group.id, &member_id);
        let member = Member {
            id: member_id,
            instance_id: request.group_instance_id,
            client_id: request.client_id,
            client_host: request.client_host,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            session_timeout_ms: request.session_timeout_ms,
            protocol_type: request.protocol_type,
            protocols: request.protocols,
            assignment: bytes::Bytes::new(),
            awaiting_join: Some(PendingJoin {
                request: id,
                supports_skip_assignment: request.supports_skip_assignment,
            }),
            awaiting_sync: None,
            is_new: true,
            heartbeat_deadline_ms: deadline,
        };
        if group.state == GroupState::PreparingRebalance
            && group.previous_state == GroupState::Empty
        {
            group.new_member_added = true;
        }
        group.add(member);
        out.push(Effect::Schedule {
            key: timer,
            at_ms: deadline,
        });
        self.maybe_prepare_rebalance_or_complete_join(group, now_ms, out);
    }

    /// Records a known member's new join (protocols, timeouts) and parks its reply.
    fn update_member_and_rebalance(
        &mut self,
        group: &mut Group,
        id: RequestId,
        request: JoinGroup,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        if let Some(member) = group.member_mut(&request.member_id) {
            if let Some(previous) = member.awaiting_join.take() {
                // A retried join supersedes the parked one; the client no longer waits on it.
                reply_join(
                    out,
                    previous.request,
                    JoinResult::error(member.id.clone(), GroupError::RebalanceInProgress),
                );
            }
            member.protocols = request.protocols;
            member.rebalance_timeout_ms = request.rebalance_timeout_ms;
            member.session_timeout_ms = request.session_timeout_ms;
            member.awaiting_join = Some(PendingJoin {
                request: id,
                supports_skip_assignment: request.supports_skip_assignment,
            });
        }
        self.maybe_prepare_rebalance_or_complete_join(group, now_ms, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn replace_static_member(
        &mut self,
        group: &mut Group,
        id: RequestId,
        request: JoinGroup,
        old_id: &str,
        new_id: String,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let old_leader = group.leader.clone().unwrap_or_default();
        let Some(member) = group.member_mut(old_id) else {
            return reply_join(out, id, JoinResult::error("", GroupError::UnknownMemberId));
        };
        // Fence the instance's previous incarnation if it still waits on a reply.
        if let Some(join) = member.awaiting_join.take() {
            reply_join(
                out,
                join.request,
                JoinResult::error(old_id, GroupError::FencedInstanceId),
            );
        }
        if let Some(sync) = member.awaiting_sync.take() {
            out.push(Effect::Reply(
                sync,
                Reply::Sync(SyncResult::error(GroupError::FencedInstanceId)),
            ));
        }
        member.id.clone_from(&new_id);
        member.protocols = request.protocols;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.session_timeout_ms = request.session_timeout_ms;
        member.heartbeat_deadline_ms = now_ms + i64::from(request.session_timeout_ms);
        let deadline = member.heartbeat_deadline_ms;
        if let Some(instance) = &request.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), new_id.clone());
        }
        if group.is_leader(old_id) {
            group.leader = Some(new_id.clone());
        }
        if group.pending_sync.remove(old_id) {
            group.pending_sync.insert(new_id.clone());
        }
        out.push(Effect::Cancel(heartbeat_key(&group.id, old_id)));
        out.push(Effect::Schedule {
            key: heartbeat_key(&group.id, &new_id),
            at_ms: deadline,
        });
        let pending = PendingJoin {
            request: id,
            supports_skip_assignment: request.supports_skip_assignment,
        };
        match group.state {
            GroupState::Stable if group.select_protocol() == group.protocol => {
                // Same protocol, so the assignment stands: persist the new member id and answer
                // without a rebalance. Before KIP-814 the reply names the old leader id, so a
                // rejoining leader does not think it leads and compute a useless assignment.
                let is_leader = group.is_leader(&new_id);
                let reply = if pending.supports_skip_assignment {
                    JoinResult {
                        skip_assignment: is_leader,
                        members: if is_leader {
                            group.joined_members()
                        } else {
                            Vec::new()
                        },
                        ..current_generation(group, &new_id, false)
                    }
                } else {
                    JoinResult {
                        leader: old_leader,
                        ..current_generation(group, &new_id, false)
                    }
                };
                let record = snapshot(group, &group.assignments());
                self.append(
                    vec![record],
                    PendingWrite::StaticRejoin {
                        request: id,
                        group: group.id.clone(),
                        reply,
                    },
                    out,
                );
            }
            GroupState::Stable => {
                if let Some(m) = group.member_mut(&new_id) {
                    m.awaiting_join = Some(pending);
                }
                self.maybe_prepare_rebalance_or_complete_join(group, now_ms, out);
            }
            GroupState::CompletingRebalance => {
                // The leader may already hold the old id in its assignment; start over.
                if let Some(m) = group.member_mut(&new_id) {
                    m.awaiting_join = Some(pending);
                }
                self.prepare_rebalance(group, now_ms, out);
            }
            GroupState::PreparingRebalance => {
                if let Some(m) = group.member_mut(&new_id) {
                    m.awaiting_join = Some(pending);
                }
                self.maybe_complete_join_phase(group, now_ms, out);
            }
            GroupState::Empty | GroupState::Dead => {
                reply_join(
                    out,
                    id,
                    JoinResult::error(new_id, GroupError::UnknownMemberId),
                );
            }
        }
    }

    pub(crate) fn static_rejoin_written(
        &mut self,
        request: RequestId,
        reply: JoinResult,
        result: Result<(), GroupError>,
        out: &mut Vec<Effect>,
    ) {
        let reply = match result {
            Ok(()) => reply,
            Err(e) => JoinResult::error("", e),
        };
        reply_join(out, request, reply);
    }

    fn maybe_prepare_rebalance_or_complete_join(
        &mut self,
        group: &mut Group,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        if group.can_rebalance() {
            self.prepare_rebalance(group, now_ms, out);
        } else {
            self.maybe_complete_join_phase(group, now_ms, out);
        }
    }

    /// Completes the join phase once everyone rejoined, except on the first rebalance out of
    /// Empty, which always waits out the initial delay.
    fn maybe_complete_join_phase(&mut self, group: &mut Group, now_ms: i64, out: &mut Vec<Effect>) {
        if group.state == GroupState::PreparingRebalance
            && group.all_members_joined()
            && group.previous_state != GroupState::Empty
        {
            self.complete_join(group, now_ms, out);
        }
    }

    pub(crate) fn prepare_rebalance(
        &mut self,
        group: &mut Group,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        if group.state == GroupState::CompletingRebalance {
            for member in &mut group.members {
                member.assignment = bytes::Bytes::new();
            }
            propagate_assignment(group, Some(GroupError::RebalanceInProgress), now_ms, out);
        }
        if group.sync_deadline.take().is_some() {
            out.push(Effect::Cancel(TimerKey::Sync {
                group: group.id.clone(),
            }));
        }
        let initial = group.state == GroupState::Empty;
        group.transition(GroupState::PreparingRebalance, now_ms);
        if initial {
            let delay_ms = self.config.initial_rebalance_delay_ms;
            let remaining_ms = (group.rebalance_timeout_ms() - delay_ms).max(0);
            group.join_phase = Some(JoinPhase::Initial {
                delay_ms,
                remaining_ms,
            });
            self.schedule_join(group, now_ms + delay_ms, out);
        } else if group.all_members_joined() {
            self.complete_join(group, now_ms, out);
        } else {
            group.join_phase = Some(JoinPhase::Rebalance);
            let at = now_ms + group.rebalance_timeout_ms();
            self.schedule_join(group, at, out);
        }
    }

    fn schedule_join(&self, group: &mut Group, at_ms: i64, out: &mut Vec<Effect>) {
        group.join_deadline_ms = at_ms;
        out.push(Effect::Schedule {
            key: TimerKey::Join {
                group: group.id.clone(),
            },
            at_ms,
        });
    }

    pub(crate) fn join_timer(&mut self, group_id: &str, now_ms: i64, out: &mut Vec<Effect>) {
        self.with_group(group_id, |this, group| {
            if group.state != GroupState::PreparingRebalance || now_ms < group.join_deadline_ms {
                return;
            }
            match group.join_phase {
                Some(JoinPhase::Initial {
                    delay_ms,
                    remaining_ms,
                }) if group.new_member_added && remaining_ms != 0 => {
                    // Members are still arriving: wait a little longer, within the budget.
                    group.new_member_added = false;
                    let next_delay = this.config.initial_rebalance_delay_ms.min(remaining_ms);
                    group.join_phase = Some(JoinPhase::Initial {
                        delay_ms: next_delay,
                        remaining_ms: (remaining_ms - delay_ms).max(0),
                    });
                    this.schedule_join(group, now_ms + next_delay, out);
                }
                _ => this.complete_join(group, now_ms, out),
            }
        });
    }

    /// Ends the join phase: drops members that did not rejoin, starts the next generation
    /// and answers every parked JoinGroup (the leader gets the member list).
    fn complete_join(&mut self, group: &mut Group, now_ms: i64, out: &mut Vec<Effect>) {
        group.join_phase = None;
        group.new_member_added = false;
        out.push(Effect::Cancel(TimerKey::Join {
            group: group.id.clone(),
        }));
        let missing: Vec<String> = group
            .members
            .iter()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in missing {
            remove_member(group, &id, out);
        }
        group.generation = GenerationId(group.generation.0 + 1);
        group.pending_sync.clear();
        if group.members.is_empty() {
            group.protocol = None;
            group.transition(GroupState::Empty, now_ms);
            out.push(Effect::Append(None, vec![snapshot(group, &[])]));
            return;
        }
        group.protocol = group.select_protocol();
        group.transition(GroupState::CompletingRebalance, now_ms);
        let leader_members = group.joined_members();
        let mut replies = Vec::new();
        for member in &mut group.members {
            let Some(join) = member.awaiting_join.take() else {
                continue;
            };
            let is_leader = group.leader.as_deref() == Some(member.id.as_str());
            replies.push((
                join.request,
                JoinResult {
                    error: None,
                    generation_id: group.generation,
                    protocol_type: group.protocol_type.clone(),
                    protocol_name: group.protocol.clone(),
                    leader: group.leader.clone().unwrap_or_default(),
                    skip_assignment: false,
                    member_id: member.id.clone(),
                    members: if is_leader {
                        leader_members.clone()
                    } else {
                        Vec::new()
                    },
                },
            ));
            member.is_new = false;
            member.heartbeat_deadline_ms = now_ms + i64::from(member.session_timeout_ms);
            out.push(Effect::Schedule {
                key: heartbeat_key(&group.id, &member.id),
                at_ms: member.heartbeat_deadline_ms,
            });
            group.pending_sync.insert(member.id.clone());
        }
        for (to, reply) in replies {
            reply_join(out, to, reply);
        }
        let at_ms = now_ms + group.rebalance_timeout_ms();
        group.sync_deadline = Some((group.generation, at_ms));
        out.push(Effect::Schedule {
            key: TimerKey::Sync {
                group: group.id.clone(),
            },
            at_ms,
        });
    }

    pub(crate) fn sync(
        &mut self,
        id: RequestId,
        request: &SyncGroup,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let reply_error = |out: &mut Vec<Effect>, e| {
            out.push(Effect::Reply(id, Reply::Sync(SyncResult::error(e))));
        };
        if request.group_id.is_empty() {
            return reply_error(out, GroupError::InvalidGroupId);
        }
        let group_id = request.group_id.clone();
        let handled = self.with_group(&group_id, |this, group| {
            if let Err(e) = group.validate_member(&request.member_id, request.group_instance_id.as_deref()) {
                return reply_error(out, e);
            }
            if request.generation_id != group.generation {
                return reply_error(out, GroupError::IllegalGeneration);
            }
            let inconsistent = |asked: &Option<String>, ours: &Option<String>| {
                matches!((asked, ours), (Some(a), Some(o)) if a != o)
            };
            if inconsistent(&request.protocol_type, &group.protocol_type)
                || inconsistent(&request.protocol_name, &group.protocol)
            {
                return reply_error(out, GroupError::InconsistentGroupProtocol);
            }
            match group.state {
                GroupState::PreparingRebalance => reply_error(out, GroupError::RebalanceInProgress),
                GroupState::CompletingRebalance => {
                    group.pending_sync.remove(&request.member_id);
                    if let Some(member) = group.member_mut(&request.member_id) {
                        if let Some(previous) = member.awaiting_sync.replace(id) {
                            // A retried sync supersedes the parked one.
                            let superseded = SyncResult::error(GroupError::RebalanceInProgress);
                            out.push(Effect::Reply(previous, Reply::Sync(superseded)));
                        }
                    }
                    if group.is_leader(&request.member_id) {
                        // Members the leader left out get an empty assignment.
                        let assignments: Vec<_> = group
                            .members
                            .iter()
                            .map(|m| {
                                let bytes = request
                                    .assignments
                                    .iter()
                                    .find(|(id, _)| *id == m.id)
                                    .map(|(_, a)| a.clone())
                                    .unwrap_or_default();
                                (m.id.clone(), bytes)
                            })
                            .collect();
                        let record = snapshot(group, &assignments);
                        this.append(
                            vec![record],
                            PendingWrite::Assignment {
                                group: group.id.clone(),
                                generation: group.generation,
                                assignments,
                            },
                            out,
                        );
                    }
                }
                GroupState::Stable => {
                    group.pending_sync.remove(&request.member_id);
                    let result = SyncResult {
                        error: None,
                        protocol_type: group.protocol_type.clone(),
                        protocol_name: group.protocol.clone(),
                        assignment: group
                            .member(&request.member_id)
                            .map(|m| m.assignment.clone())
                            .unwrap_or_default(),
                    };
                    out.push(Effect::Reply(id, Reply::Sync(result)));
                    reschedule_heartbeat(group, &request.member_id, now_ms, out);
                }
                GroupState::Empty | GroupState::Dead => reply_error(out, GroupError::UnknownMemberId),
            }
        });
        if handled.is_none() {
            reply_error(out, GroupError::UnknownMemberId);
        }
    }

    pub(crate) fn assignment_written(
        &mut self,
        group_id: &str,
        generation: GenerationId,
        assignments: &[(String, bytes::Bytes)],
        result: Result<(), GroupError>,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        self.with_group(group_id, |this, group| {
            // A member may have joined meanwhile and started another rebalance.
            if group.state != GroupState::CompletingRebalance || group.generation != generation {
                return;
            }
            match result {
                Ok(()) => {
                    for member in &mut group.members {
                        member.assignment = assignments
                            .iter()
                            .find(|(id, _)| *id == member.id)
                            .map(|(_, a)| a.clone())
                            .unwrap_or_default();
                    }
                    propagate_assignment(group, None, now_ms, out);
                    group.transition(GroupState::Stable, now_ms);
                }
                Err(e) => {
                    for member in &mut group.members {
                        member.assignment = bytes::Bytes::new();
                    }
                    propagate_assignment(group, Some(e), now_ms, out);
                    this.prepare_rebalance(group, now_ms, out);
                }
            }
        });
    }

    pub(crate) fn sync_expired(&mut self, group_id: &str, now_ms: i64, out: &mut Vec<Effect>) {
        self.with_group(group_id, |this, group| {
            let Some((generation, deadline)) = group.sync_deadline else {
                return;
            };
            if generation != group.generation || now_ms < deadline {
                return;
            }
            group.sync_deadline = None;
            let in_sync_phase = matches!(
                group.state,
                GroupState::CompletingRebalance | GroupState::Stable
            );
            if !in_sync_phase || group.pending_sync.is_empty() {
                return;
            }
            let laggards: Vec<String> = group.pending_sync.iter().cloned().collect();
            for id in laggards {
                remove_member(group, &id, out);
            }
            this.prepare_rebalance(group, now_ms, out);
        });
    }

    pub(crate) fn heartbeat(
        &mut self,
        request: &Heartbeat,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) -> Option<GroupError> {
        if request.group_id.is_empty() {
            return Some(GroupError::InvalidGroupId);
        }
        let Some(group) = self
            .groups
            .get_mut(&request.group_id)
            .filter(|g| g.state != GroupState::Dead)
        else {
            return Some(GroupError::UnknownMemberId);
        };
        if let Err(e) =
            group.validate_member(&request.member_id, request.group_instance_id.as_deref())
        {
            return Some(e);
        }
        if request.generation_id != group.generation {
            return Some(GroupError::IllegalGeneration);
        }
        match group.state {
            GroupState::Empty | GroupState::Dead => Some(GroupError::UnknownMemberId),
            // Members may heartbeat between their JoinGroup reply and SyncGroup.
            GroupState::CompletingRebalance | GroupState::Stable => {
                reschedule_heartbeat(group, &request.member_id, now_ms, out);
                None
            }
            GroupState::PreparingRebalance => {
                reschedule_heartbeat(group, &request.member_id, now_ms, out);
                Some(GroupError::RebalanceInProgress)
            }
        }
    }

    pub(crate) fn heartbeat_expired(
        &mut self,
        group_id: &str,
        member_id: &str,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        self.with_group(group_id, |this, group| {
            if group.pending_members.remove(member_id) {
                if group.state == GroupState::PreparingRebalance && group.all_members_joined() {
                    this.complete_join(group, now_ms, out);
                }
                return;
            }
            let Some(member) = group.member(member_id) else {
                return;
            };
            if now_ms < member.heartbeat_deadline_ms || !member.expires_on_missed_heartbeat() {
                return;
            }
            this.remove_member_and_update_group(group, member_id, now_ms, out);
        });
    }

    /// Removes a member (session expiry or LeaveGroup) and lets the group react: a rebalance
    /// if it was running, or the end of a join phase that only waited for this member.
    pub(crate) fn remove_member_and_update_group(
        &mut self,
        group: &mut Group,
        member_id: &str,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        remove_member(group, member_id, out);
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(group, now_ms, out);
            }
            GroupState::PreparingRebalance if group.all_members_joined() => {
                self.complete_join(group, now_ms, out);
            }
            _ => {}
        }
    }

    pub(crate) fn leave(
        &mut self,
        id: RequestId,
        request: &LeaveGroup,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        if request.group_id.is_empty() {
            let reply = LeaveResult {
                error: Some(GroupError::InvalidGroupId),
                members: Vec::new(),
            };
            return out.push(Effect::Reply(id, Reply::Leave(reply)));
        }
        let group_id = request.group_id.clone();
        let members = request.members.clone();
        let outcomes = self.with_group(&group_id, |this, group| {
            let mut outcomes = Vec::new();
            for leaving in &members {
                let outcome = match &leaving.group_instance_id {
                    None if group.pending_members.remove(&leaving.member_id) => {
                        if group.state == GroupState::PreparingRebalance
                            && group.all_members_joined()
                        {
                            this.complete_join(group, now_ms, out);
                        }
                        None
                    }
                    None if group.has_member(&leaving.member_id) => {
                        this.remove_member_and_update_group(group, &leaving.member_id, now_ms, out);
                        None
                    }
                    None => Some(GroupError::UnknownMemberId),
                    Some(instance) => match group.static_member(instance).map(str::to_string) {
                        None => Some(GroupError::UnknownMemberId),
                        Some(holder)
                            if !leaving.member_id.is_empty() && holder != leaving.member_id =>
                        {
                            Some(GroupError::FencedInstanceId)
                        }
                        Some(holder) => {
                            this.remove_member_and_update_group(group, &holder, now_ms, out);
                            None
                        }
                    },
                };
                outcomes.push((leaving.clone(), outcome));
            }
            outcomes
        });
        let outcomes = outcomes.unwrap_or_else(|| {
            members
                .into_iter()
                .map(|m| (m, Some(GroupError::UnknownMemberId)))
                .collect()
        });
        out.push(Effect::Reply(
            id,
            Reply::Leave(LeaveResult {
                error: None,
                members: outcomes,
            }),
        ));
    }
}

/// Takes a member out, answering its parked requests with UNKNOWN_MEMBER_ID so a client
/// that is still there rejoins, and cancels its session timer.
fn remove_member(group: &mut Group, member_id: &str, out: &mut Vec<Effect>) {
    if let Some(member) = group.remove(member_id) {
        if let Some(join) = member.awaiting_join {
            reply_join(
                out,
                join.request,
                JoinResult::error("", GroupError::UnknownMemberId),
            );
        }
        if let Some(sync) = member.awaiting_sync {
            out.push(Effect::Reply(
                sync,
                Reply::Sync(SyncResult::error(GroupError::UnknownMemberId)),
            ));
        }
        out.push(Effect::Cancel(heartbeat_key(&group.id, member_id)));
    }
}

/// Answers every parked SyncGroup with the member's assignment (or `error`), restarting
/// those members' sessions.
fn propagate_assignment(
    group: &mut Group,
    error: Option<GroupError>,
    now_ms: i64,
    out: &mut Vec<Effect>,
) {
    for member in &mut group.members {
        let Some(sync) = member.awaiting_sync.take() else {
            continue;
        };
        let result = match error {
            None => SyncResult {
                error: None,
                protocol_type: group.protocol_type.clone(),
                protocol_name: group.protocol.clone(),
                assignment: member.assignment.clone(),
            },
            Some(e) => SyncResult::error(e),
        };
        out.push(Effect::Reply(sync, Reply::Sync(result)));
        member.heartbeat_deadline_ms = now_ms + i64::from(member.session_timeout_ms);
        out.push(Effect::Schedule {
            key: heartbeat_key(&group.id, &member.id),
            at_ms: member.heartbeat_deadline_ms,
        });
    }
}

/// Restarts a member's session at `now_ms`.
pub(crate) fn reschedule_heartbeat(
    group: &mut Group,
    member_id: &str,
    now_ms: i64,
    out: &mut Vec<Effect>,
) {
    let group_id = group.id.clone();
    if let Some(member) = group.member_mut(member_id) {
        member.heartbeat_deadline_ms = now_ms + i64::from(member.session_timeout_ms);
        out.push(Effect::Schedule {
            key: heartbeat_key(&group_id, member_id),
            at_ms: member.heartbeat_deadline_ms,
        });
    }
}
