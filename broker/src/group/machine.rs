//! The group coordinator as a pure state machine: `handle(event, now) -> effects`.
//!
//! Events are requests (each with the [`RequestId`] its reply goes to), timer expiries and
//! the outcome of writes to the offsets log. Effects say what the runtime must do: reply,
//! schedule or cancel a timer, append records (and report back with
//! [`Event::Written`]). No I/O and no clock inside: time comes in as `now_ms`, and tests drive
//! the machine with a hand-moved clock and assert the exact effects.
//!
//! What each request does in each group state follows Kafka's classic group coordinator;
//! membership requests are in `membership.rs`, offsets in `offsets.rs`, the admin requests
//! in `admin.rs`.

use std::collections::{BTreeMap, HashMap};

use super::classic::{Group, GroupState};
use super::config::GroupConfig;
use super::error::GroupError;
use super::record::LogRecord;
use super::types::{
    DeleteOffsets, DeleteOffsetsResult, FetchResult, GroupDescription, GroupOverview, Heartbeat,
    JoinGroup, JoinResult, LeaveGroup, LeaveResult, ListGroups, OffsetCommit, OffsetFetch,
    OffsetToCommit, RequestId, SyncGroup, SyncResult, TopicPartition,
};

/// Something that happened to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A JoinGroup.
    Join(RequestId, JoinGroup),
    /// A SyncGroup.
    Sync(RequestId, SyncGroup),
    /// A Heartbeat.
    Heartbeat(RequestId, Heartbeat),
    /// A LeaveGroup.
    Leave(RequestId, LeaveGroup),
    /// An OffsetCommit.
    Commit(RequestId, OffsetCommit),
    /// Offsets of a committed transaction: checked against the member when TxnOffsetCommit
    /// added them, so written now whatever the group's generation has become.
    CommitTransactional(RequestId, String, Vec<OffsetToCommit>),
    /// A TxnOffsetCommit's member and generation, checked when the offsets join the
    /// transaction (KIP-447); the offsets themselves are not looked at.
    CheckTxnMember(RequestId, OffsetCommit),
    /// An OffsetFetch for one group.
    Fetch(RequestId, OffsetFetch),
    /// A ListGroups.
    List(RequestId, ListGroups),
    /// A DescribeGroups.
    Describe(RequestId, Vec<String>),
    /// A DeleteGroups.
    Delete(RequestId, Vec<String>),
    /// An OffsetDelete.
    DeleteOffsets(RequestId, DeleteOffsets),
    /// A timer the machine scheduled has fired.
    Timer(TimerKey),
    /// The append asked for by [`Effect::Append`] finished.
    Written(WriteId, Result<(), GroupError>),
}

/// A timer, named by what it guards; scheduling a key again replaces its deadline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKey {
    /// A member's session (or a new member's join timeout), or a pending member's wait for
    /// its second join.
    Heartbeat {
        /// The group.
        group: String,
        /// The member.
        member: String,
    },
    /// The end of a group's join phase (initial delay or rebalance timeout).
    Join {
        /// The group.
        group: String,
    },
    /// The deadline for every member to send SyncGroup after a join phase.
    Sync {
        /// The group.
        group: String,
    },
    /// The periodic sweep for expired offsets.
    OffsetExpiry,
}

/// Names an append whose outcome the machine waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteId(pub u64);

/// A reply to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// To a JoinGroup.
    Join(JoinResult),
    /// To a SyncGroup.
    Sync(SyncResult),
    /// To a Heartbeat.
    Heartbeat(Option<GroupError>),
    /// To a transactional commit's member check.
    TxnMember(Option<GroupError>),
    /// To a LeaveGroup.
    Leave(LeaveResult),
    /// To an OffsetCommit: each partition's outcome.
    Commit(Vec<(TopicPartition, Option<GroupError>)>),
    /// To an OffsetFetch.
    Fetch(FetchResult),
    /// To a ListGroups.
    List(Vec<GroupOverview>),
    /// To a DescribeGroups.
    Describe(Vec<GroupDescription>),
    /// To a DeleteGroups: each group's outcome.
    Delete(Vec<(String, Option<GroupError>)>),
    /// To an OffsetDelete.
    DeleteOffsets(DeleteOffsetsResult),
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a reply.
    Reply(RequestId, Reply),
    /// Fire `key` at `at_ms` (replacing an earlier deadline for the same key).
    Schedule {
        /// The timer.
        key: TimerKey,
        /// When, in the machine's clock.
        at_ms: i64,
    },
    /// Forget a timer.
    Cancel(TimerKey),
    /// Append records to the offsets log, in order, as one batch. With an id, report the
    /// outcome with [`Event::Written`]; without, only log a failure.
    Append(Option<WriteId>, Vec<LogRecord>),
}

/// What to do once an append finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PendingWrite {
    /// Offsets to apply and the commit to answer.
    Commit {
        /// The request.
        request: RequestId,
        /// The group.
        group: String,
        /// The offsets written.
        written: Vec<(TopicPartition, super::types::CommittedOffset)>,
        /// Every partition of the request with its outcome so far.
        outcome: Vec<(TopicPartition, Option<GroupError>)>,
    },
    /// The leader's assignment for a generation.
    Assignment {
        /// The group.
        group: String,
        /// The generation it is for.
        generation: super::types::GenerationId,
        /// Member id to assignment.
        assignments: Vec<(String, bytes::Bytes)>,
    },
    /// A static member's replacement in a stable group; its join is answered after.
    StaticRejoin {
        /// The JoinGroup to answer.
        request: RequestId,
        /// The group.
        group: String,
        /// The reply on success.
        reply: JoinResult,
    },
    /// A reply that only waits for the write (deletions).
    Reply {
        /// The request.
        request: RequestId,
        /// The reply on success.
        reply: Reply,
    },
}

/// The coordinator of every classic group on this broker.
#[derive(Debug)]
pub struct Coordinator {
    pub(crate) config: GroupConfig,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) pending_writes: HashMap<WriteId, PendingWrite>,
    next_write: u64,
}

impl Coordinator {
    /// A coordinator with no groups.
    pub fn new(config: GroupConfig) -> Self {
        Self {
            config,
            groups: BTreeMap::new(),
            pending_writes: HashMap::new(),
            next_write: 0,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Applies one event at time `now_ms` and returns what the runtime must do.
    pub fn handle(&mut self, event: Event, now_ms: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        match event {
            Event::Join(id, request) => self.join(id, request, now_ms, &mut out),
            Event::Sync(id, request) => self.sync(id, &request, now_ms, &mut out),
            Event::Heartbeat(id, request) => {
                let reply = self.heartbeat(&request, now_ms, &mut out);
                out.push(Effect::Reply(id, Reply::Heartbeat(reply)));
            }
            Event::Leave(id, request) => self.leave(id, &request, now_ms, &mut out),
            Event::Commit(id, request) => self.commit(id, &request, now_ms, &mut out),
            Event::CommitTransactional(id, group_id, offsets) => {
                self.commit_transactional(id, &group_id, &offsets, now_ms, &mut out);
            }
            Event::CheckTxnMember(id, request) => {
                let error = self.check_txn_member(&request).err();
                out.push(Effect::Reply(id, Reply::TxnMember(error)));
            }
            Event::Fetch(id, request) => {
                let reply = self.fetch(&request);
                out.push(Effect::Reply(id, Reply::Fetch(reply)));
            }
            Event::List(id, request) => {
                out.push(Effect::Reply(id, Reply::List(self.list(&request))));
            }
            Event::Describe(id, groups) => {
                out.push(Effect::Reply(id, Reply::Describe(self.describe(&groups))));
            }
            Event::Delete(id, groups) => self.delete_groups(id, &groups, &mut out),
            Event::DeleteOffsets(id, request) => self.delete_offsets(id, &request, &mut out),
            Event::Timer(key) => self.timer(key, now_ms, &mut out),
            Event::Written(id, result) => self.written(id, result, now_ms, &mut out),
        }
        out
    }

    /// The effects to start with: the first offset-expiry sweep and the session timers of
    /// members loaded from the log.
    pub fn start(&mut self, now_ms: i64) -> Vec<Effect> {
        let mut out = vec![Effect::Schedule {
            key: TimerKey::OffsetExpiry,
            at_ms: now_ms + self.config.offsets_retention_check_interval_ms,
        }];
        for group in self.groups.values_mut() {
            for member in &mut group.members {
                member.heartbeat_deadline_ms = now_ms + i64::from(member.session_timeout_ms);
                out.push(Effect::Schedule {
                    key: TimerKey::Heartbeat {
                        group: group.id.clone(),
                        member: member.id.clone(),
                    },
                    at_ms: member.heartbeat_deadline_ms,
                });
            }
        }
        out
    }

    /// Asks for an append whose outcome comes back as [`Event::Written`].
    pub(crate) fn append(
        &mut self,
        records: Vec<LogRecord>,
        then: PendingWrite,
        out: &mut Vec<Effect>,
    ) {
        let id = WriteId(self.next_write);
        self.next_write += 1;
        self.pending_writes.insert(id, then);
        out.push(Effect::Append(Some(id), records));
    }

    fn timer(&mut self, key: TimerKey, now_ms: i64, out: &mut Vec<Effect>) {
        match key {
            TimerKey::Heartbeat { group, member } => {
                self.heartbeat_expired(&group, &member, now_ms, out);
            }
            TimerKey::Join { group } => self.join_timer(&group, now_ms, out),
            TimerKey::Sync { group } => self.sync_expired(&group, now_ms, out),
            TimerKey::OffsetExpiry => {
                self.expire_offsets(now_ms, out);
                out.push(Effect::Schedule {
                    key: TimerKey::OffsetExpiry,
                    at_ms: now_ms + self.config.offsets_retention_check_interval_ms,
                });
            }
        }
    }

    fn written(
        &mut self,
        id: WriteId,
        result: Result<(), GroupError>,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let Some(pending) = self.pending_writes.remove(&id) else {
            return;
        };
        match pending {
            PendingWrite::Commit {
                request,
                group,
                written,
                outcome,
            } => self.commit_written(request, &group, written, outcome, result, out),
            PendingWrite::Assignment {
                group,
                generation,
                assignments,
            } => self.assignment_written(&group, generation, &assignments, result, now_ms, out),
            PendingWrite::StaticRejoin { request, reply, .. } => {
                self.static_rejoin_written(request, reply, result, out);
            }
            PendingWrite::Reply { request, reply } => {
                let reply = match (result, reply) {
                    (Ok(()), reply) => reply,
                    (Err(e), Reply::Delete(groups)) => Reply::Delete(
                        groups
                            .into_iter()
                            .map(|(g, r)| (g, r.or(Some(e))))
                            .collect(),
                    ),
                    (Err(e), Reply::DeleteOffsets(mut r)) => {
                        r.error = Some(e);
                        Reply::DeleteOffsets(r)
                    }
                    (Err(_), reply) => reply,
                };
                out.push(Effect::Reply(request, reply));
            }
        }
    }

    /// The group, if it exists and is not dead.
    pub(crate) fn live_group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id).filter(|g| g.state != GroupState::Dead)
    }
}
