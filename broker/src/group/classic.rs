//! A classic group's data and the small queries the state machine asks of it. The decisions
//! (what each request does in each state) live in `membership.rs` and `offsets.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

use super::member::Member;
use super::types::{CommittedOffset, GenerationId, JoinedMember, TopicPartition};

/// The classic group states, as Kafka names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; offsets may remain.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assigned and running.
    Stable,
    /// Removed; answers nothing.
    Dead,
}

impl GroupState {
    /// The name Kafka gives the state in DescribeGroups and ListGroups.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Dead => "Dead",
        }
    }
}

/// How the running join phase ends when its timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinPhase {
    /// The first rebalance out of Empty: wait `group.initial.rebalance.delay.ms`, and again
    /// while new members keep arriving, up to `remaining_ms` more.
    Initial {
        /// The delay just scheduled.
        delay_ms: i64,
        /// How much longer the phase may still be extended.
        remaining_ms: i64,
    },
    /// A later rebalance: complete when all members rejoined or the rebalance timeout passes.
    Rebalance,
}

/// A classic group.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The group id.
    pub(crate) id: String,
    /// Current state.
    pub(crate) state: GroupState,
    /// The state before the current one (the initial delay applies only out of Empty).
    pub(crate) previous_state: GroupState,
    /// When the state last changed; offsets of an Empty group expire counting from here.
    pub(crate) state_timestamp_ms: i64,
    /// Current generation.
    pub(crate) generation: GenerationId,
    /// Protocol type, set by the first member; `None` for a group that only stores offsets.
    pub(crate) protocol_type: Option<String>,
    /// The protocol selected for the current generation.
    pub(crate) protocol: Option<String>,
    /// The leader's member id.
    pub(crate) leader: Option<String>,
    /// Members in the order they joined.
    pub(crate) members: Vec<Member>,
    /// Static instance id to member id.
    pub(crate) static_members: HashMap<String, String>,
    /// Ids handed out with MEMBER_ID_REQUIRED whose second join has not come yet.
    pub(crate) pending_members: BTreeSet<String>,
    /// Members that have not sent SyncGroup for the current generation.
    pub(crate) pending_sync: BTreeSet<String>,
    /// A member joined during the initial delay, so the delay may be extended.
    pub(crate) new_member_added: bool,
    /// The running join phase, while PreparingRebalance.
    pub(crate) join_phase: Option<JoinPhase>,
    /// When the join phase timer is due; an earlier firing is stale and ignored.
    pub(crate) join_deadline_ms: i64,
    /// The generation and deadline of the wait for SyncGroups.
    pub(crate) sync_deadline: Option<(GenerationId, i64)>,
    /// Committed offsets.
    pub(crate) offsets: BTreeMap<TopicPartition, CommittedOffset>,
}

impl Group {
    /// A new, empty group.
    pub(crate) fn new(id: &str, now_ms: i64) -> Self {
        Self {
            id: id.to_string(),
            state: GroupState::Empty,
            previous_state: GroupState::Empty,
            state_timestamp_ms: now_ms,
            generation: GenerationId(0),
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            static_members: HashMap::new(),
            pending_members: BTreeSet::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            join_phase: None,
            join_deadline_ms: 0,
            sync_deadline: None,
            offsets: BTreeMap::new(),
        }
    }

    /// Moves to `state`, remembering the one it leaves.
    pub(crate) fn transition(&mut self, state: GroupState, now_ms: i64) {
        self.previous_state = self.state;
        self.state = state;
        self.state_timestamp_ms = now_ms;
    }

    /// Whether the group may start a rebalance from its current state.
    pub(crate) fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        )
    }

    /// A member by id.
    pub(crate) fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// A member by id, to change.
    pub(crate) fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    /// Whether `id` is a member.
    pub(crate) fn has_member(&self, id: &str) -> bool {
        self.member(id).is_some()
    }

    /// Whether `id` is the leader.
    pub(crate) fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    /// Adds a member; the first becomes leader and sets the protocol type.
    pub(crate) fn add(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        if let Some(instance) = &member.instance_id {
            self.static_members
                .insert(instance.clone(), member.id.clone());
        }
        self.pending_members.remove(&member.id);
        self.members.push(member);
    }

    /// Removes a member, choosing a new leader if it led. Returns the removed member.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Member> {
        let index = self.members.iter().position(|m| m.id == id)?;
        let member = self.members.remove(index);
        if let Some(instance) = &member.instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(id) {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.pending_members.remove(id);
        self.pending_sync.remove(id);
        Some(member)
    }

    /// The member id holding a static instance id.
    pub(crate) fn static_member(&self, instance_id: &str) -> Option<&str> {
        self.static_members.get(instance_id).map(String::as_str)
    }

    /// Checks that `member_id` (with its instance id, if static) is a current member:
    /// UNKNOWN_MEMBER_ID if not, FENCED_INSTANCE_ID if another member holds the instance id.
    pub(crate) fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), super::error::GroupError> {
        use super::error::GroupError;
        match instance_id {
            Some(instance) => match self.static_member(instance) {
                None => Err(GroupError::UnknownMemberId),
                Some(holder) if holder != member_id => Err(GroupError::FencedInstanceId),
                Some(_) => Ok(()),
            },
            None if self.has_member(member_id) => Ok(()),
            None => Err(GroupError::UnknownMemberId),
        }
    }

    /// Whether every member has rejoined and no MEMBER_ID_REQUIRED join is outstanding.
    pub(crate) fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.iter().all(|m| m.awaiting_join.is_some())
    }

    /// The longest rebalance timeout among members: how long a rebalance may take.
    pub(crate) fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    /// Whether a member with these protocols fits the group: any non-empty offer fits an
    /// empty group; otherwise the type must match and one protocol be supported by everyone.
    pub(crate) fn supports_protocols(&self, protocol_type: &str, names: &[&str]) -> bool {
        if self.state == GroupState::Empty && self.members.is_empty() {
            return !protocol_type.is_empty() && !names.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && names.iter().any(|name| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|p| p.name == *name))
            })
    }

    /// The protocol the members choose: among those every member supports, the one most
    /// members prefer. Ties go to the protocol preferred by the earliest-joined member.
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|p| p.name == *name))
            })
            .collect();
        let mut votes: Vec<(&str, usize)> = Vec::new();
        for member in &self.members {
            if let Some(choice) = member.vote(&candidates) {
                match votes.iter_mut().find(|(name, _)| *name == choice) {
                    Some((_, count)) => *count += 1,
                    None => votes.push((choice, 1)),
                }
            }
        }
        let best = votes.iter().map(|(_, count)| *count).max()?;
        // `votes` is in the order members cast them, so the first with the most votes is the
        // earliest-joined member's choice among the tied.
        votes
            .iter()
            .find(|(_, count)| *count == best)
            .map(|(name, _)| (*name).to_string())
    }

    /// The member list the leader receives: every member's metadata for the chosen protocol.
    pub(crate) fn joined_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// Each member's current assignment.
    pub(crate) fn assignments(&self) -> Vec<(String, Bytes)> {
        self.members
            .iter()
            .map(|m| (m.id.clone(), m.assignment.clone()))
            .collect()
    }

    /// The topics the members subscribe to, when the group is a consumer group whose
    /// subscriptions all parse; `None` when unknown.
    pub(crate) fn subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some(super::subscription::CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = BTreeSet::new();
        for member in &self.members {
            let metadata = member.metadata(protocol);
            topics.extend(super::subscription::subscribed_topics(&metadata)?);
        }
        Some(topics)
    }
}
