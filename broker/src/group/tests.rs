//! State machine tests: a hand-moved clock, timers kept the way the runtime keeps them, and
//! appends acknowledged as the runtime would.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::classic::GroupState;
use super::load::Replay;
use super::machine::{Coordinator, Effect, Event, Reply, TimerKey, WriteId};
use super::record::LogRecord;
use super::types::*;
use super::{GroupConfig, GroupError};

const SESSION: i32 = 10_000;
const REBALANCE: i32 = 5_000;

fn config() -> GroupConfig {
    GroupConfig {
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 10_000,
        ..GroupConfig::default()
    }
}

/// Drives a coordinator like the runtime does.
struct Harness {
    coordinator: Coordinator,
    now: i64,
    next_request: u64,
    timers: BTreeMap<TimerKey, i64>,
    replies: BTreeMap<RequestId, Reply>,
    log: Vec<LogRecord>,
    fail_writes: bool,
}

impl Harness {
    fn new() -> Self {
        Self::with(Coordinator::new(config()))
    }

    fn with(mut coordinator: Coordinator) -> Self {
        let effects = coordinator.start(0);
        let mut h = Self {
            coordinator,
            now: 0,
            next_request: 0,
            timers: BTreeMap::new(),
            replies: BTreeMap::new(),
            log: Vec::new(),
            fail_writes: false,
        };
        h.apply(effects);
        h
    }

    fn id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// Sends an event built around a fresh request id and returns the id and raw effects.
    fn send_raw(&mut self, make: impl FnOnce(RequestId) -> Event) -> (RequestId, Vec<Effect>) {
        let id = self.id();
        let effects = self.coordinator.handle(make(id), self.now);
        self.apply(effects.clone());
        (id, effects)
    }

    fn send(&mut self, make: impl FnOnce(RequestId) -> Event) -> RequestId {
        self.send_raw(make).0
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Reply(id, reply) => {
                    assert!(
                        self.replies.insert(id, reply).is_none(),
                        "two replies to {id:?}"
                    );
                }
                Effect::Schedule { key, at_ms } => {
                    self.timers.insert(key, at_ms);
                }
                Effect::Cancel(key) => {
                    self.timers.remove(&key);
                }
                Effect::Append(id, records) => {
                    let result = if self.fail_writes {
                        Err(GroupError::Storage)
                    } else {
                        self.log.extend(records);
                        Ok(())
                    };
                    if let Some(id) = id {
                        let more = self
                            .coordinator
                            .handle(Event::Written(id, result), self.now);
                        self.apply(more);
                    }
                }
            }
        }
    }

    /// Moves the clock forward by `ms`, firing due timers in deadline order.
    fn advance(&mut self, ms: i64) {
        let target = self.now + ms;
        loop {
            let next = self
                .timers
                .iter()
                .filter(|(_, at)| **at <= target)
                .min_by_key(|(_, at)| **at)
                .map(|(k, at)| (k.clone(), *at));
            let Some((key, at)) = next else { break };
            self.timers.remove(&key);
            self.now = at;
            let effects = self.coordinator.handle(Event::Timer(key), self.now);
            self.apply(effects);
        }
        self.now = target;
    }

    fn reply(&mut self, id: RequestId) -> Option<Reply> {
        self.replies.remove(&id)
    }

    fn joined(&mut self, id: RequestId) -> JoinResult {
        match self.reply(id) {
            Some(Reply::Join(r)) => r,
            other => panic!("expected a join reply, got {other:?}"),
        }
    }

    fn synced(&mut self, id: RequestId) -> SyncResult {
        match self.reply(id) {
            Some(Reply::Sync(r)) => r,
            other => panic!("expected a sync reply, got {other:?}"),
        }
    }

    fn heartbeat(&mut self, member: &JoinResult, instance: Option<&str>) -> Option<GroupError> {
        let hb = Heartbeat {
            group_id: "g".into(),
            generation_id: member.generation_id,
            member_id: member.member_id.clone(),
            group_instance_id: instance.map(str::to_string),
        };
        let id = self.send(|id| Event::Heartbeat(id, hb));
        match self.reply(id) {
            Some(Reply::Heartbeat(r)) => r,
            other => panic!("expected a heartbeat reply, got {other:?}"),
        }
    }

    fn state(&self) -> GroupState {
        self.coordinator
            .groups
            .get("g")
            .map_or(GroupState::Dead, |g| g.state)
    }

    /// Joins, then syncs as leader with `assignments` (member id gets `a-<id>`).
    fn sync(&mut self, member: &JoinResult, assignments: bool) -> RequestId {
        let assignments = if assignments {
            member
                .members
                .iter()
                .map(|m| {
                    (
                        m.member_id.clone(),
                        Bytes::from(format!("a-{}", m.member_id)),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let req = SyncGroup {
            group_id: "g".into(),
            generation_id: member.generation_id,
            member_id: member.member_id.clone(),
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: member.protocol_name.clone(),
            assignments,
        };
        self.send(|id| Event::Sync(id, req))
    }
}

fn protocols(names: &[&str]) -> Vec<Protocol> {
    names
        .iter()
        .map(|n| Protocol {
            name: (*n).to_string(),
            metadata: Bytes::from(format!("meta-{n}")),
        })
        .collect()
}

fn join(member_id: &str, suffix: &str) -> JoinGroup {
    JoinGroup {
        group_id: "g".into(),
        member_id: member_id.into(),
        group_instance_id: None,
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols(&["range"]),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        require_known_member_id: false,
        supports_skip_assignment: false,
        fresh_member_suffix: suffix.into(),
    }
}

fn static_join(instance: &str, suffix: &str) -> JoinGroup {
    JoinGroup {
        group_instance_id: Some(instance.into()),
        ..join("", suffix)
    }
}

/// Two members joined and synced: a stable group at generation 1.
fn stable_pair(h: &mut Harness) -> (JoinResult, JoinResult) {
    let a = h.send(|id| Event::Join(id, join("", "1")));
    let b = h.send(|id| Event::Join(id, join("", "2")));
    // The second member extends the initial delay by what is left of the rebalance timeout.
    h.advance(5_000);
    let (a, b) = (h.joined(a), h.joined(b));
    let (sa, sb) = (h.sync(&a, true), h.sync(&b, false));
    assert!(h.synced(sa).error.is_none());
    assert!(h.synced(sb).error.is_none());
    assert_eq!(h.state(), GroupState::Stable);
    (a, b)
}

#[test]
fn first_join_waits_out_the_initial_delay() {
    let mut h = Harness::new();
    let (id, effects) = h.send_raw(|id| Event::Join(id, join("", "1")));
    assert_eq!(
        effects,
        vec![
            Effect::Schedule {
                key: TimerKey::Heartbeat {
                    group: "g".into(),
                    member: "c-1".into()
                },
                at_ms: 300_000,
            },
            Effect::Schedule {
                key: TimerKey::Join { group: "g".into() },
                at_ms: 3_000,
            },
        ]
    );
    h.advance(2_999);
    assert!(h.reply(id).is_none());
    let effects = h
        .coordinator
        .handle(Event::Timer(TimerKey::Join { group: "g".into() }), 3_000);
    let expected = JoinResult {
        error: None,
        generation_id: GenerationId(1),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        leader: "c-1".into(),
        skip_assignment: false,
        member_id: "c-1".into(),
        members: vec![JoinedMember {
            member_id: "c-1".into(),
            group_instance_id: None,
            metadata: Bytes::from_static(b"meta-range"),
        }],
    };
    assert_eq!(
        effects,
        vec![
            Effect::Cancel(TimerKey::Join { group: "g".into() }),
            Effect::Schedule {
                key: TimerKey::Heartbeat {
                    group: "g".into(),
                    member: "c-1".into()
                },
                at_ms: 3_000 + i64::from(SESSION),
            },
            Effect::Reply(id, Reply::Join(expected)),
            Effect::Schedule {
                key: TimerKey::Sync { group: "g".into() },
                at_ms: 3_000 + i64::from(REBALANCE),
            },
        ]
    );
}

#[test]
fn single_member_syncs_its_own_assignment_after_it_is_written() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, join("", "1")));
    h.advance(3_000);
    let a = h.joined(a);
    let req = SyncGroup {
        group_id: "g".into(),
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        group_instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments: vec![("c-1".into(), Bytes::from_static(b"mine"))],
    };
    let (sync, effects) = h.send_raw(|id| Event::Sync(id, req));
    // The reply waits for the write of the group with its assignment.
    assert!(
        matches!(effects.as_slice(), [Effect::Append(Some(WriteId(0)), records)] if records.len() == 1)
    );
    let synced = h.synced(sync);
    assert_eq!(synced.assignment, Bytes::from_static(b"mine"));
    assert_eq!(synced.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state(), GroupState::Stable);
}

#[test]
fn member_id_required_on_first_join() {
    let mut h = Harness::new();
    let first = JoinGroup {
        require_known_member_id: true,
        ..join("", "x")
    };
    let (id, effects) = h.send_raw(|id| Event::Join(id, first));
    assert_eq!(
        effects,
        vec![
            Effect::Schedule {
                key: TimerKey::Heartbeat {
                    group: "g".into(),
                    member: "c-x".into()
                },
                at_ms: i64::from(SESSION),
            },
            Effect::Reply(
                id,
                Reply::Join(JoinResult::error("c-x", GroupError::MemberIdRequired))
            ),
        ]
    );
    let second = h.send(|id| Event::Join(id, join("c-x", "unused")));
    h.advance(3_000);
    let joined = h.joined(second);
    assert_eq!(joined.member_id, "c-x");
    assert_eq!(joined.leader, "c-x");
}

#[test]
fn pending_member_id_expires_after_the_session_timeout() {
    let mut h = Harness::new();
    let first = JoinGroup {
        require_known_member_id: true,
        ..join("", "x")
    };
    h.send(|id| Event::Join(id, first));
    h.advance(i64::from(SESSION));
    let late = h.send(|id| Event::Join(id, join("c-x", "y")));
    assert_eq!(h.joined(late).error, Some(GroupError::UnknownMemberId));
}

#[test]
fn two_members_get_their_own_assignments() {
    let mut h = Harness::new();
    let (a, b) = stable_pair(&mut h);
    assert_eq!(a.leader, a.member_id);
    assert_eq!(a.members.len(), 2);
    assert!(b.members.is_empty(), "only the leader sees the members");
    assert_eq!(a.generation_id, b.generation_id);
    let group = &h.coordinator.groups["g"];
    assert_eq!(
        group.member("c-2").unwrap().assignment,
        Bytes::from_static(b"a-c-2")
    );
}

#[test]
fn initial_delay_extends_while_members_arrive_within_the_rebalance_timeout() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, join("", "1")));
    h.advance(2_000);
    let b = h.send(|id| Event::Join(id, join("", "2")));
    h.advance(1_000);
    let c = h.send(|id| Event::Join(id, join("", "3")));
    // At 3000 the delay was extended by min(3000, 5000 - 3000) = 2000; the third member
    // arriving then does not extend it again: the budget is spent.
    h.advance(1_999);
    assert!(h.reply(a).is_none());
    h.advance(1);
    let (a, b, c) = (h.joined(a), h.joined(b), h.joined(c));
    assert_eq!(a.members.len(), 3);
    assert_eq!(
        (b.generation_id, c.generation_id),
        (GenerationId(1), GenerationId(1))
    );
}

#[test]
fn protocol_is_chosen_by_vote_among_those_all_support() {
    let mut h = Harness::new();
    let prefs = [
        vec!["roundrobin", "range", "sticky"],
        vec!["range", "roundrobin"],
        vec!["range", "roundrobin", "cooperative-sticky"],
    ];
    let ids: Vec<_> = prefs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let req = JoinGroup {
                protocols: protocols(p),
                ..join("", &i.to_string())
            };
            h.send(|id| Event::Join(id, req))
        })
        .collect();
    h.advance(5_000);
    for id in ids {
        assert_eq!(h.joined(id).protocol_name.as_deref(), Some("range"));
    }
    let stranger = JoinGroup {
        protocols: protocols(&["sticky"]),
        ..join("", "9")
    };
    let id = h.send(|id| Event::Join(id, stranger));
    assert_eq!(
        h.joined(id).error,
        Some(GroupError::InconsistentGroupProtocol)
    );
}

#[test]
fn missed_session_removes_the_member_and_rebalances() {
    let mut h = Harness::new();
    let (a, b) = stable_pair(&mut h);
    // b heartbeats every 4 s; a stays silent.
    for _ in 0..2 {
        h.advance(4_000);
        assert_eq!(h.heartbeat(&b, None), None);
    }
    assert_eq!(h.state(), GroupState::Stable);
    h.advance(2_000);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert!(!h.coordinator.groups["g"].has_member(&a.member_id));
    assert_eq!(h.heartbeat(&b, None), Some(GroupError::RebalanceInProgress));
    let rejoin = h.send(|id| Event::Join(id, join(&b.member_id, "")));
    let rejoined = h.joined(rejoin);
    assert_eq!(rejoined.generation_id, GenerationId(2));
    assert_eq!(rejoined.leader, b.member_id);
    assert_eq!(h.heartbeat(&a, None), Some(GroupError::UnknownMemberId));
}

#[test]
fn member_missing_the_rebalance_timeout_is_dropped() {
    let mut h = Harness::new();
    let (a, b) = stable_pair(&mut h);
    // The leader rejoining starts a rebalance; b keeps heartbeating but never rejoins.
    let rejoin = h.send(|id| Event::Join(id, join(&a.member_id, "")));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    h.advance(4_000);
    assert_eq!(h.heartbeat(&b, None), Some(GroupError::RebalanceInProgress));
    assert!(h.reply(rejoin).is_none());
    h.advance(1_000);
    let rejoined = h.joined(rejoin);
    assert_eq!(rejoined.generation_id, GenerationId(2));
    assert_eq!(rejoined.members.len(), 1);
    assert_eq!(h.heartbeat(&b, None), Some(GroupError::UnknownMemberId));
}

#[test]
fn member_that_never_syncs_is_dropped_after_the_rebalance_timeout() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, join("", "1")));
    let b = h.send(|id| Event::Join(id, join("", "2")));
    // The second member extends the initial delay by what is left of the rebalance timeout.
    h.advance(5_000);
    let (a, _b) = (h.joined(a), h.joined(b));
    let sa = h.sync(&a, true);
    assert!(h.synced(sa).error.is_none());
    h.advance(i64::from(REBALANCE));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert!(!h.coordinator.groups["g"].has_member("c-2"));
}

#[test]
fn leave_hands_over_with_a_rebalance() {
    let mut h = Harness::new();
    let (a, b) = stable_pair(&mut h);
    let leave = LeaveGroup {
        group_id: "g".into(),
        members: vec![
            LeavingMember {
                member_id: b.member_id.clone(),
                group_instance_id: None,
            },
            LeavingMember {
                member_id: "nobody".into(),
                group_instance_id: None,
            },
        ],
    };
    let id = h.send(|id| Event::Leave(id, leave));
    let Some(Reply::Leave(result)) = h.reply(id) else {
        panic!("no leave reply")
    };
    assert_eq!(result.members[0].1, None);
    assert_eq!(result.members[1].1, Some(GroupError::UnknownMemberId));
    assert_eq!(h.heartbeat(&a, None), Some(GroupError::RebalanceInProgress));
    let rejoin = h.send(|id| Event::Join(id, join(&a.member_id, "")));
    assert_eq!(h.joined(rejoin).members.len(), 1);
}

#[test]
fn last_member_leaving_empties_the_group() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, join("", "1")));
    h.advance(3_000);
    let a = h.joined(a);
    let leave = LeaveGroup {
        group_id: "g".into(),
        members: vec![LeavingMember {
            member_id: a.member_id.clone(),
            group_instance_id: None,
        }],
    };
    h.send(|id| Event::Leave(id, leave));
    assert_eq!(h.state(), GroupState::Empty);
    assert_eq!(h.coordinator.groups["g"].generation, GenerationId(2));
}

#[test]
fn static_member_rejoins_without_rebalance_and_fences_its_old_self() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, static_join("i-a", "1")));
    let b = h.send(|id| Event::Join(id, static_join("i-b", "2")));
    h.advance(5_000);
    let (a, b) = (h.joined(a), h.joined(b));
    assert_eq!(a.member_id, "i-a-1");
    let (sa, sb) = (h.sync(&a, true), h.sync(&b, false));
    h.synced(sa);
    h.synced(sb);
    // b restarts: it rejoins with no member id but the same instance id and metadata.
    let rejoin = h.send(|id| Event::Join(id, static_join("i-b", "3")));
    let rejoined = h.joined(rejoin);
    assert_eq!(rejoined.error, None);
    assert_eq!(rejoined.member_id, "i-b-3");
    assert_eq!(rejoined.generation_id, GenerationId(1));
    assert_eq!(rejoined.leader, a.member_id);
    assert_eq!(h.state(), GroupState::Stable);
    // Its old incarnation is fenced; the new one syncs the assignment it had.
    assert_eq!(
        h.heartbeat(&b, Some("i-b")),
        Some(GroupError::FencedInstanceId)
    );
    let sync = h.sync(&rejoined, false);
    assert_eq!(h.synced(sync).assignment, Bytes::from_static(b"a-i-b-2"));
}

#[test]
fn static_leader_rejoining_before_kip_814_is_not_told_it_leads() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, static_join("i-a", "1")));
    h.advance(3_000);
    let a = h.joined(a);
    let sa = h.sync(&a, true);
    h.synced(sa);
    let old = h.send(|id| Event::Join(id, static_join("i-a", "2")));
    let old = h.joined(old);
    assert_eq!(
        (old.member_id.as_str(), old.leader.as_str()),
        ("i-a-2", "i-a-1")
    );
    let new = JoinGroup {
        supports_skip_assignment: true,
        ..static_join("i-a", "3")
    };
    let new = h.send(|id| Event::Join(id, new));
    let new = h.joined(new);
    assert_eq!(new.leader, "i-a-3");
    assert!(new.skip_assignment);
    assert_eq!(new.members.len(), 1);
    assert_eq!(h.state(), GroupState::Stable);
}

#[test]
fn membership_errors_match_kafka() {
    let mut h = Harness::new();
    let hb = |member: &str, generation| Heartbeat {
        group_id: "g".into(),
        generation_id: GenerationId(generation),
        member_id: member.into(),
        group_instance_id: None,
    };
    let id = h.send(|id| Event::Heartbeat(id, hb("x", 1)));
    assert_eq!(
        h.reply(id),
        Some(Reply::Heartbeat(Some(GroupError::UnknownMemberId)))
    );
    let id = h.send(|id| Event::Join(id, join("ghost", "")));
    assert_eq!(h.joined(id).error, Some(GroupError::UnknownMemberId));
    let short = JoinGroup {
        session_timeout_ms: 100,
        ..join("", "1")
    };
    let id = h.send(|id| Event::Join(id, short));
    assert_eq!(h.joined(id).error, Some(GroupError::InvalidSessionTimeout));
    let no_group = JoinGroup {
        group_id: String::new(),
        ..join("", "1")
    };
    let id = h.send(|id| Event::Join(id, no_group));
    assert_eq!(h.joined(id).error, Some(GroupError::InvalidGroupId));

    let (a, _b) = stable_pair(&mut h);
    let id = h.send(|id| Event::Heartbeat(id, hb(&a.member_id, 7)));
    assert_eq!(
        h.reply(id),
        Some(Reply::Heartbeat(Some(GroupError::IllegalGeneration)))
    );
    let wrong_type = JoinGroup {
        protocol_type: "connect".into(),
        ..join("", "5")
    };
    let id = h.send(|id| Event::Join(id, wrong_type));
    assert_eq!(
        h.joined(id).error,
        Some(GroupError::InconsistentGroupProtocol)
    );
    // A new member starts a rebalance: syncs are refused, commits still allowed.
    h.send(|id| Event::Join(id, join("", "6")));
    let sync = h.sync(&a, true);
    assert_eq!(h.synced(sync).error, Some(GroupError::RebalanceInProgress));
    let commit = OffsetCommit {
        group_id: "g".into(),
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        group_instance_id: None,
        offsets: vec![OffsetToCommit {
            partition: TopicPartition::new("t", 0),
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        }],
    };
    let id = h.send(|id| Event::Commit(id, commit.clone()));
    assert_eq!(
        h.reply(id),
        Some(Reply::Commit(vec![(TopicPartition::new("t", 0), None)]))
    );
    // Once everyone rejoined, the group waits for syncs: commits get REBALANCE_IN_PROGRESS.
    let rejoin_a = h.send(|id| Event::Join(id, join(&a.member_id, "")));
    let rejoin_b = h.send(|id| Event::Join(id, join("c-2", "")));
    let a2 = h.joined(rejoin_a);
    h.joined(rejoin_b);
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    let stale = h.send(|id| Event::Commit(id, commit.clone()));
    assert_eq!(
        h.reply(stale),
        Some(Reply::Commit(vec![(
            TopicPartition::new("t", 0),
            Some(GroupError::IllegalGeneration)
        )]))
    );
    let current = OffsetCommit {
        generation_id: a2.generation_id,
        ..commit
    };
    let id = h.send(|id| Event::Commit(id, current));
    assert_eq!(
        h.reply(id),
        Some(Reply::Commit(vec![(
            TopicPartition::new("t", 0),
            Some(GroupError::RebalanceInProgress)
        )]))
    );
}

fn commit(group: &str, partition: i32, offset: i64, metadata: &str) -> OffsetCommit {
    OffsetCommit {
        group_id: group.into(),
        generation_id: GenerationId::NONE,
        member_id: String::new(),
        group_instance_id: None,
        offsets: vec![OffsetToCommit {
            partition: TopicPartition::new("t", partition),
            offset,
            leader_epoch: 3,
            metadata: metadata.into(),
        }],
    }
}

fn fetch(h: &mut Harness, group: &str, partitions: Option<Vec<TopicPartition>>) -> FetchResult {
    let req = OffsetFetch {
        group_id: group.into(),
        partitions,
    };
    let id = h.send(|id| Event::Fetch(id, req));
    match h.reply(id) {
        Some(Reply::Fetch(r)) => r,
        other => panic!("expected a fetch reply, got {other:?}"),
    }
}

#[test]
fn offsets_commit_and_fetch() {
    let mut h = Harness::new();
    h.advance(5);
    let id = h.send(|id| Event::Commit(id, commit("s", 0, 42, "m")));
    assert_eq!(
        h.reply(id),
        Some(Reply::Commit(vec![(TopicPartition::new("t", 0), None)]))
    );
    let too_big = commit("s", 1, 1, &"x".repeat(4097));
    let id = h.send(|id| Event::Commit(id, too_big));
    assert_eq!(
        h.reply(id),
        Some(Reply::Commit(vec![(
            TopicPartition::new("t", 1),
            Some(GroupError::OffsetMetadataTooLarge)
        )]))
    );
    let fetched = fetch(
        &mut h,
        "s",
        Some(vec![
            TopicPartition::new("t", 0),
            TopicPartition::new("t", 1),
        ]),
    );
    let expected = CommittedOffset {
        offset: 42,
        leader_epoch: 3,
        metadata: "m".into(),
        commit_timestamp_ms: 5,
    };
    assert_eq!(
        fetched.offsets,
        vec![
            (TopicPartition::new("t", 0), Some(expected.clone())),
            (TopicPartition::new("t", 1), None)
        ]
    );
    assert_eq!(
        fetch(&mut h, "s", None).offsets,
        vec![(TopicPartition::new("t", 0), Some(expected))]
    );
    assert!(fetch(&mut h, "other", None).offsets.is_empty());
    let with_generation = OffsetCommit {
        generation_id: GenerationId(1),
        ..commit("nope", 0, 1, "")
    };
    let id = h.send(|id| Event::Commit(id, with_generation));
    assert_eq!(
        h.reply(id),
        Some(Reply::Commit(vec![(
            TopicPartition::new("t", 0),
            Some(GroupError::GroupIdNotFound)
        )]))
    );
}

#[test]
fn failed_commit_write_reports_an_error_and_keeps_the_old_offset() {
    let mut h = Harness::new();
    h.send(|id| Event::Commit(id, commit("s", 0, 1, "")));
    h.fail_writes = true;
    let id = h.send(|id| Event::Commit(id, commit("s", 0, 2, "")));
    assert_eq!(
        h.reply(id),
        Some(Reply::Commit(vec![(
            TopicPartition::new("t", 0),
            Some(GroupError::Storage)
        )]))
    );
    let fetched = fetch(&mut h, "s", None);
    assert_eq!(fetched.offsets[0].1.as_ref().map(|o| o.offset), Some(1));
}

#[test]
fn offsets_of_an_empty_group_expire_after_retention() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, join("", "1")));
    h.advance(3_000);
    let a = h.joined(a);
    let s = h.sync(&a, true);
    h.synced(s);
    let member_commit = OffsetCommit {
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        ..commit("g", 0, 9, "")
    };
    h.send(|id| Event::Commit(id, member_commit));
    let leave = LeaveGroup {
        group_id: "g".into(),
        members: vec![LeavingMember {
            member_id: a.member_id.clone(),
            group_instance_id: None,
        }],
    };
    h.send(|id| Event::Leave(id, leave));
    assert_eq!(h.state(), GroupState::Empty);
    let emptied_at = h.now;
    // Retention counts from when the group became empty; the sweep runs every 10 s.
    h.advance(60_000 - 1);
    assert_eq!(fetch(&mut h, "g", None).offsets.len(), 1);
    h.advance(10_000);
    assert!(fetch(&mut h, "g", None).offsets.is_empty());
    assert_eq!(h.state(), GroupState::Dead);
    assert!(h.now >= emptied_at + 60_000);
    assert!(h.log.ends_with(&[
        LogRecord::Offset {
            group_id: "g".into(),
            partition: TopicPartition::new("t", 0),
            value: None
        },
        LogRecord::Group {
            group_id: "g".into(),
            value: None
        },
    ]));
}

#[test]
fn offsets_of_a_stable_group_do_not_expire() {
    let mut h = Harness::new();
    let (a, b) = stable_pair(&mut h);
    let member_commit = OffsetCommit {
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        ..commit("g", 0, 9, "")
    };
    h.send(|id| Event::Commit(id, member_commit));
    for _ in 0..30 {
        h.advance(4_000);
        h.heartbeat(&a, None);
        h.heartbeat(&b, None);
    }
    assert_eq!(fetch(&mut h, "g", None).offsets.len(), 1);
}

#[test]
fn delete_groups_only_when_empty() {
    let mut h = Harness::new();
    stable_pair(&mut h);
    h.send(|id| Event::Commit(id, commit("simple", 0, 1, "")));
    let id = h.send(|id| Event::Delete(id, vec!["g".into(), "simple".into(), "none".into()]));
    assert_eq!(
        h.reply(id),
        Some(Reply::Delete(vec![
            ("g".into(), Some(GroupError::NonEmptyGroup)),
            ("simple".into(), None),
            ("none".into(), Some(GroupError::GroupIdNotFound)),
        ]))
    );
    assert!(fetch(&mut h, "simple", None).offsets.is_empty());
}

#[test]
fn offset_delete_refuses_topics_the_group_consumes() {
    let mut h = Harness::new();
    let subscription = |topics: &[&str]| {
        let mut out = vec![0u8, 1];
        out.extend_from_slice(&i32::try_from(topics.len()).unwrap().to_be_bytes());
        for t in topics {
            out.extend_from_slice(&i16::try_from(t.len()).unwrap().to_be_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        Bytes::from(out)
    };
    let req = JoinGroup {
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: subscription(&["t"]),
        }],
        ..join("", "1")
    };
    let a = h.send(|id| Event::Join(id, req));
    h.advance(3_000);
    let a = h.joined(a);
    let s = h.sync(&a, true);
    h.synced(s);
    for topic in ["t", "old"] {
        let c = OffsetCommit {
            generation_id: a.generation_id,
            member_id: a.member_id.clone(),
            offsets: vec![OffsetToCommit {
                partition: TopicPartition::new(topic, 0),
                offset: 1,
                leader_epoch: -1,
                metadata: String::new(),
            }],
            ..commit("g", 0, 0, "")
        };
        h.send(|id| Event::Commit(id, c));
    }
    let req = DeleteOffsets {
        group_id: "g".into(),
        partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("old", 0)],
    };
    let id = h.send(|id| Event::DeleteOffsets(id, req));
    assert_eq!(
        h.reply(id),
        Some(Reply::DeleteOffsets(DeleteOffsetsResult {
            error: None,
            partitions: vec![
                (
                    TopicPartition::new("t", 0),
                    Some(GroupError::GroupSubscribedToTopic)
                ),
                (TopicPartition::new("old", 0), None),
            ],
        }))
    );
    assert_eq!(fetch(&mut h, "g", None).offsets.len(), 1);
}

#[test]
fn list_and_describe() {
    let mut h = Harness::new();
    stable_pair(&mut h);
    h.send(|id| Event::Commit(id, commit("simple", 0, 1, "")));
    let id = h.send(|id| Event::List(id, ListGroups::default()));
    let Some(Reply::List(all)) = h.reply(id) else {
        panic!("no list reply")
    };
    assert_eq!(
        all.iter()
            .map(|g| (g.group_id.as_str(), g.state))
            .collect::<Vec<_>>(),
        vec![("g", "Stable"), ("simple", "Empty")]
    );
    let filter = ListGroups {
        states: vec!["stable".into()],
        types: vec!["Classic".into()],
    };
    let id = h.send(|id| Event::List(id, filter));
    let Some(Reply::List(stable)) = h.reply(id) else {
        panic!("no list reply")
    };
    assert_eq!(stable.len(), 1);
    let id = h.send(|id| Event::Describe(id, vec!["g".into(), "missing".into()]));
    let Some(Reply::Describe(groups)) = h.reply(id) else {
        panic!("no describe reply")
    };
    assert_eq!(groups[0].state, "Stable");
    assert_eq!(groups[0].protocol, "range");
    assert_eq!(groups[0].members.len(), 2);
    assert_eq!(
        groups[0].members[1].assignment,
        Bytes::from_static(b"a-c-2")
    );
    assert_eq!((groups[1].state, groups[1].error), ("Dead", None));
}

#[test]
fn replaying_the_log_restores_groups_and_offsets() {
    let mut h = Harness::new();
    let (a, _b) = stable_pair(&mut h);
    let member_commit = OffsetCommit {
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        ..commit("g", 0, 77, "meta")
    };
    h.send(|id| Event::Commit(id, member_commit));
    h.send(|id| Event::Commit(id, commit("gone", 0, 1, "")));
    h.send(|id| Event::Delete(id, vec!["gone".into()]));

    let mut replay = Replay::default();
    for record in h.log.clone() {
        let (key, value) = (record.key(), record.value());
        replay.apply(LogRecord::decode(&key, value.as_deref()).unwrap());
    }
    let mut restored = Coordinator::new(config());
    replay.install(&mut restored, 100_000);
    let mut h2 = Harness::with(restored);
    assert_eq!(h2.state(), GroupState::Stable);
    assert!(!h2.coordinator.groups.contains_key("gone"));
    let fetched = fetch(&mut h2, "g", None);
    assert_eq!(
        fetched.offsets[0]
            .1
            .as_ref()
            .map(|o| (o.offset, o.metadata.as_str())),
        Some((77, "meta"))
    );
    // Members come back with their generation and assignment, and can carry on.
    assert_eq!(h2.heartbeat(&a, None), None);
    let sync = h2.sync(&a, false);
    assert_eq!(
        h2.synced(sync).assignment,
        Bytes::from(format!("a-{}", a.member_id))
    );
}

#[test]
fn a_committed_transactions_offsets_survive_the_member_leaving() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, join("", "1")));
    h.advance(3_000);
    let a = h.joined(a);
    let s = h.sync(&a, true);
    h.synced(s);
    // The member leaves (its consumer was rebalanced away), so a plain commit of its
    // generation is refused...
    let leave = LeaveGroup {
        group_id: "g".into(),
        members: vec![LeavingMember {
            member_id: a.member_id.clone(),
            group_instance_id: None,
        }],
    };
    h.send(|id| Event::Leave(id, leave));
    let stale = OffsetCommit {
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        ..commit("g", 0, 7, "")
    };
    let refused = h.send(|id| Event::Commit(id, stale.clone()));
    assert!(matches!(
        h.reply(refused),
        Some(Reply::Commit(r)) if r.iter().all(|(_, e)| e.is_some())
    ));
    // ...but the same offsets, added to a transaction before the rebalance, are written when
    // the transaction commits.
    let done = h.send(|id| Event::CommitTransactional(id, "g".into(), stale.offsets.clone()));
    assert!(matches!(
        h.reply(done),
        Some(Reply::Commit(r)) if r.iter().all(|(_, e)| e.is_none())
    ));
    let fetched = fetch(&mut h, "g", None);
    assert_eq!(fetched.offsets[0].1.as_ref().map(|o| o.offset), Some(7));
}

#[test]
fn transactional_commits_check_the_member_when_they_arrive() {
    let mut h = Harness::new();
    let a = h.send(|id| Event::Join(id, join("", "1")));
    h.advance(3_000);
    let a = h.joined(a);
    let s = h.sync(&a, true);
    h.synced(s);
    let check = |h: &mut Harness, request: OffsetCommit| {
        let id = h.send(|id| Event::CheckTxnMember(id, request));
        match h.reply(id) {
            Some(Reply::TxnMember(error)) => error,
            other => panic!("unexpected reply {other:?}"),
        }
    };
    let current = OffsetCommit {
        generation_id: a.generation_id,
        member_id: a.member_id.clone(),
        ..commit("g", 0, 7, "")
    };
    assert_eq!(check(&mut h, current.clone()), None);
    let stale = OffsetCommit {
        generation_id: GenerationId(a.generation_id.0 - 1),
        ..current.clone()
    };
    assert_eq!(check(&mut h, stale), Some(GroupError::IllegalGeneration));
    let stranger = OffsetCommit {
        member_id: "nobody".into(),
        ..current.clone()
    };
    assert_eq!(check(&mut h, stranger), Some(GroupError::UnknownMemberId));
    // Producers before TxnOffsetCommit v3 send no member: nothing to check.
    assert_eq!(check(&mut h, commit("g", 0, 7, "")), None);
    assert_eq!(check(&mut h, commit("no-such-group", 0, 7, "")), None);
}
