//! OffsetCommit, OffsetFetch, OffsetDelete and the expiry of old offsets.

use std::collections::BTreeSet;

use super::classic::{Group, GroupState};
use super::error::GroupError;
use super::machine::{Coordinator, Effect, PendingWrite, Reply};
use super::membership::reschedule_heartbeat;
use super::record::LogRecord;
use super::subscription::CONSUMER_PROTOCOL_TYPE;
use super::types::{
    CommittedOffset, DeleteOffsets, DeleteOffsetsResult, FetchResult, GenerationId, OffsetCommit,
    OffsetFetch, OffsetToCommit, RequestId, TopicPartition,
};

/// Whether a commit may go ahead in the group's current state.
fn validate_commit(group: &Group, request: &OffsetCommit) -> Result<(), GroupError> {
    if request.generation_id.0 < 0 && group.state == GroupState::Empty {
        // A commit outside group management (admin tools, manual assignment).
        return Ok(());
    }
    if request.generation_id.0 >= 0
        || !request.member_id.is_empty()
        || request.group_instance_id.is_some()
    {
        group.validate_member(&request.member_id, request.group_instance_id.as_deref())?;
        if request.generation_id != group.generation {
            return Err(GroupError::IllegalGeneration);
        }
    } else if group.state != GroupState::Empty {
        // Without member id and generation, commits only go to an empty group.
        return Err(GroupError::UnknownMemberId);
    }
    if group.state == GroupState::CompletingRebalance {
        // The member has its new generation but not yet its assignment.
        return Err(GroupError::RebalanceInProgress);
    }
    Ok(())
}

impl Coordinator {
    pub(crate) fn commit(
        &mut self,
        id: RequestId,
        request: &OffsetCommit,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let fail_all = |out: &mut Vec<Effect>, e: GroupError| {
            let outcome = request
                .offsets
                .iter()
                .map(|o| (o.partition.clone(), Some(e)))
                .collect();
            out.push(Effect::Reply(id, Reply::Commit(outcome)));
        };
        if self.live_group(&request.group_id).is_none() {
            if request.generation_id.0 >= 0 {
                // The handler answers ILLEGAL_GENERATION instead before v9.
                return fail_all(out, GroupError::GroupIdNotFound);
            }
            self.groups.insert(
                request.group_id.clone(),
                Group::new(&request.group_id, now_ms),
            );
        }
        let Some(group) = self.groups.get_mut(&request.group_id) else {
            return fail_all(out, GroupError::CoordinatorNotAvailable);
        };
        if let Err(e) = validate_commit(group, request) {
            return fail_all(out, e);
        }
        if request.generation_id != GenerationId::NONE && group.has_member(&request.member_id) {
            // A commit shows the member is alive.
            reschedule_heartbeat(group, &request.member_id, now_ms, out);
        }
        self.write_offsets(id, &request.group_id, &request.offsets, now_ms, out);
    }

    /// Checks a TxnOffsetCommit's member as Kafka does (KIP-447): a known member of the
    /// group's current generation, or no member information at all (producers before v3).
    pub(crate) fn check_txn_member(&self, request: &OffsetCommit) -> Result<(), GroupError> {
        let names_member = request.generation_id.0 >= 0
            || !request.member_id.is_empty()
            || request.group_instance_id.is_some();
        if !names_member {
            return Ok(());
        }
        let group = self
            .live_group(&request.group_id)
            .ok_or(GroupError::UnknownMemberId)?;
        group.validate_member(&request.member_id, request.group_instance_id.as_deref())?;
        if request.generation_id.0 >= 0 && request.generation_id != group.generation {
            return Err(GroupError::IllegalGeneration);
        }
        Ok(())
    }

    /// Writes the offsets of a committed transaction. Kafka checked the member and generation
    /// when TxnOffsetCommit added them; a rebalance since then must not lose them.
    pub(crate) fn commit_transactional(
        &mut self,
        id: RequestId,
        group_id: &str,
        offsets: &[OffsetToCommit],
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        if self.live_group(group_id).is_none() {
            self.groups
                .insert(group_id.to_string(), Group::new(group_id, now_ms));
        }
        self.write_offsets(id, group_id, offsets, now_ms, out);
    }

    /// Logs `offsets` for the group and answers `id` once the write is confirmed.
    fn write_offsets(
        &mut self,
        id: RequestId,
        group_id: &str,
        offsets: &[OffsetToCommit],
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let mut records = Vec::new();
        let mut written = Vec::new();
        let mut outcome = Vec::new();
        for o in offsets {
            if o.metadata.len() > self.config.offset_metadata_max_bytes {
                outcome.push((
                    o.partition.clone(),
                    Some(GroupError::OffsetMetadataTooLarge),
                ));
                continue;
            }
            let committed = CommittedOffset {
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata.clone(),
                commit_timestamp_ms: now_ms,
            };
            records.push(LogRecord::Offset {
                group_id: group_id.to_string(),
                partition: o.partition.clone(),
                value: Some(committed.clone()),
            });
            written.push((o.partition.clone(), committed));
            outcome.push((o.partition.clone(), None));
        }
        if records.is_empty() {
            return out.push(Effect::Reply(id, Reply::Commit(outcome)));
        }
        let then = PendingWrite::Commit {
            request: id,
            group: group_id.to_string(),
            written,
            outcome,
        };
        self.append(records, then, out);
    }

    pub(crate) fn commit_written(
        &mut self,
        request: RequestId,
        group_id: &str,
        written: Vec<(TopicPartition, CommittedOffset)>,
        mut outcome: Vec<(TopicPartition, Option<GroupError>)>,
        result: Result<(), GroupError>,
        out: &mut Vec<Effect>,
    ) {
        match result {
            Ok(()) => {
                if let Some(group) = self.groups.get_mut(group_id) {
                    group.offsets.extend(written);
                }
            }
            Err(e) => {
                for (partition, o) in &mut outcome {
                    if written.iter().any(|(p, _)| p == partition) {
                        *o = Some(e);
                    }
                }
            }
        }
        out.push(Effect::Reply(request, Reply::Commit(outcome)));
    }

    pub(crate) fn fetch(&self, request: &OffsetFetch) -> FetchResult {
        let group = self.live_group(&request.group_id);
        let offsets = match &request.partitions {
            Some(partitions) => partitions
                .iter()
                .map(|p| (p.clone(), group.and_then(|g| g.offsets.get(p).cloned())))
                .collect(),
            None => group
                .map(|g| {
                    g.offsets
                        .iter()
                        .map(|(p, o)| (p.clone(), Some(o.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        };
        FetchResult {
            error: None,
            offsets,
        }
    }

    pub(crate) fn delete_offsets(
        &mut self,
        id: RequestId,
        request: &DeleteOffsets,
        out: &mut Vec<Effect>,
    ) {
        let Some(group) = self
            .groups
            .get_mut(&request.group_id)
            .filter(|g| g.state != GroupState::Dead)
        else {
            let reply = DeleteOffsetsResult {
                error: Some(GroupError::GroupIdNotFound),
                partitions: Vec::new(),
            };
            return out.push(Effect::Reply(id, Reply::DeleteOffsets(reply)));
        };
        let subscribed: BTreeSet<String> = match group.state {
            GroupState::Empty => BTreeSet::new(),
            _ if group.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE) => {
                group.subscribed_topics().unwrap_or_default()
            }
            _ => {
                let reply = DeleteOffsetsResult {
                    error: Some(GroupError::NonEmptyGroup),
                    partitions: Vec::new(),
                };
                return out.push(Effect::Reply(id, Reply::DeleteOffsets(reply)));
            }
        };
        let mut records = Vec::new();
        let mut partitions = Vec::new();
        for p in &request.partitions {
            if subscribed.contains(&p.topic) {
                partitions.push((p.clone(), Some(GroupError::GroupSubscribedToTopic)));
                continue;
            }
            if group.offsets.remove(p).is_some() {
                records.push(LogRecord::Offset {
                    group_id: group.id.clone(),
                    partition: p.clone(),
                    value: None,
                });
            }
            partitions.push((p.clone(), None));
        }
        let reply = Reply::DeleteOffsets(DeleteOffsetsResult {
            error: None,
            partitions,
        });
        if records.is_empty() {
            out.push(Effect::Reply(id, reply));
        } else {
            self.append(records, PendingWrite::Reply { request: id, reply }, out);
        }
    }

    /// Drops offsets past `offsets.retention`: for an empty group, counted from when it
    /// became empty; for a stable consumer group, only offsets of topics it no longer
    /// consumes, from their commit; for a group that only stores offsets, from their commit.
    /// An empty group left without offsets is deleted.
    pub(crate) fn expire_offsets(&mut self, now_ms: i64, out: &mut Vec<Effect>) {
        let retention = self.config.offsets_retention_ms;
        let mut records = Vec::new();
        let mut dead = Vec::new();
        for group in self.groups.values_mut() {
            let old = |o: &CommittedOffset| now_ms - o.commit_timestamp_ms >= retention;
            let expired: Vec<TopicPartition> = match (&group.protocol_type, group.state) {
                (Some(_), GroupState::Empty) => {
                    if now_ms - group.state_timestamp_ms >= retention {
                        group.offsets.keys().cloned().collect()
                    } else {
                        Vec::new()
                    }
                }
                (Some(kind), GroupState::Stable) if kind == CONSUMER_PROTOCOL_TYPE => {
                    match group.subscribed_topics() {
                        Some(topics) => group
                            .offsets
                            .iter()
                            .filter(|(p, o)| !topics.contains(&p.topic) && old(o))
                            .map(|(p, _)| p.clone())
                            .collect(),
                        None => Vec::new(),
                    }
                }
                (None, _) => group
                    .offsets
                    .iter()
                    .filter(|(_, o)| old(o))
                    .map(|(p, _)| p.clone())
                    .collect(),
                _ => Vec::new(),
            };
            for p in expired {
                group.offsets.remove(&p);
                records.push(LogRecord::Offset {
                    group_id: group.id.clone(),
                    partition: p,
                    value: None,
                });
            }
            if group.state == GroupState::Empty
                && group.offsets.is_empty()
                && group.pending_members.is_empty()
            {
                group.transition(GroupState::Dead, now_ms);
                records.push(LogRecord::Group {
                    group_id: group.id.clone(),
                    value: None,
                });
                dead.push(group.id.clone());
            }
        }
        for id in dead {
            self.groups.remove(&id);
        }
        if !records.is_empty() {
            out.push(Effect::Append(None, records));
        }
    }
}
