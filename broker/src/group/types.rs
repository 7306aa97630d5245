//! The coordinator's own request and reply types. Handlers convert the wire messages to and
//! from these, so the state machine never sees a protocol version.

use bytes::Bytes;

use super::error::GroupError;

/// A group's generation: bumped each time a rebalance completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GenerationId(pub i32);

impl GenerationId {
    /// What a member that has not joined, or a commit outside group management, sends.
    pub const NONE: Self = Self(-1);
}

/// Names the request a reply goes to; chosen by the runtime, opaque to the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A partition of a topic, as offsets are keyed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic-partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

/// One protocol a member offers in JoinGroup (an assignor name for consumers) with its
/// opaque metadata, relayed byte for byte to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Protocol name, like `range` or `cooperative-sticky`.
    pub name: String,
    /// The member's metadata for this protocol.
    pub metadata: Bytes,
}

/// A JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroup {
    /// The group.
    pub group_id: String,
    /// The member id, empty on a first join.
    pub member_id: String,
    /// The static instance id, when the member is static.
    pub group_instance_id: Option<String>,
    /// How long the member may go without a heartbeat.
    pub session_timeout_ms: i32,
    /// How long the member may take to rejoin during a rebalance.
    pub rebalance_timeout_ms: i32,
    /// The protocol type, `consumer` for consumers.
    pub protocol_type: String,
    /// The protocols the member supports, in order of preference.
    pub protocols: Vec<Protocol>,
    /// The client id from the request header, used in generated member ids.
    pub client_id: String,
    /// The client's host, shown by DescribeGroups.
    pub client_host: String,
    /// Whether a dynamic member must first fetch its id (v4+, KIP-394).
    pub require_known_member_id: bool,
    /// Whether the client understands `skip_assignment` (v9+, KIP-814).
    pub supports_skip_assignment: bool,
    /// A fresh unique suffix for a member id this join may generate (a UUID), chosen by the
    /// caller so the state machine stays deterministic.
    pub fresh_member_suffix: String,
}

/// A member as the leader sees it in its JoinGroup reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// The member id.
    pub member_id: String,
    /// Its static instance id.
    pub group_instance_id: Option<String>,
    /// Its metadata for the selected protocol.
    pub metadata: Bytes,
}

/// The answer to a JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    /// The error, if any.
    pub error: Option<GroupError>,
    /// The new generation, or `NONE` on error.
    pub generation_id: GenerationId,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id (empty on error).
    pub leader: String,
    /// Tells a static leader rejoining a stable group to skip the assignment (KIP-814).
    pub skip_assignment: bool,
    /// The member's id: the assigned one on success and on MEMBER_ID_REQUIRED.
    pub member_id: String,
    /// Every member with its metadata: only in the leader's reply.
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    /// A failed join.
    pub fn error(member_id: impl Into<String>, error: GroupError) -> Self {
        Self {
            error: Some(error),
            generation_id: GenerationId::NONE,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.into(),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    /// The group.
    pub group_id: String,
    /// The generation the member joined.
    pub generation_id: GenerationId,
    /// The member id.
    pub member_id: String,
    /// The static instance id.
    pub group_instance_id: Option<String>,
    /// The protocol type the member expects (v5+).
    pub protocol_type: Option<String>,
    /// The protocol the member expects (v5+).
    pub protocol_name: Option<String>,
    /// The leader's assignment, member id to opaque bytes; empty from followers.
    pub assignments: Vec<(String, Bytes)>,
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    /// The error, if any.
    pub error: Option<GroupError>,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The group's protocol.
    pub protocol_name: Option<String>,
    /// This member's assignment.
    pub assignment: Bytes,
}

impl SyncResult {
    /// A failed sync.
    pub fn error(error: GroupError) -> Self {
        Self {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The group.
    pub group_id: String,
    /// The member's generation.
    pub generation_id: GenerationId,
    /// The member id.
    pub member_id: String,
    /// The static instance id.
    pub group_instance_id: Option<String>,
}

/// A member named in LeaveGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    /// The member id; may be empty for a static member named by instance id.
    pub member_id: String,
    /// The static instance id.
    pub group_instance_id: Option<String>,
}

/// A LeaveGroup request (one member before v3, a batch after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroup {
    /// The group.
    pub group_id: String,
    /// The members leaving.
    pub members: Vec<LeavingMember>,
}

/// The answer to a LeaveGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResult {
    /// An error for the whole request.
    pub error: Option<GroupError>,
    /// Each leaving member with its own outcome.
    pub members: Vec<(LeavingMember, Option<GroupError>)>,
}

/// An offset a client commits for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetToCommit {
    /// The partition.
    pub partition: TopicPartition,
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Free-form client metadata.
    pub metadata: String,
}

/// An OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommit {
    /// The group.
    pub group_id: String,
    /// The generation, `NONE` for commits outside group management.
    pub generation_id: GenerationId,
    /// The member id, empty outside group management.
    pub member_id: String,
    /// The static instance id.
    pub group_instance_id: Option<String>,
    /// What to commit.
    pub offsets: Vec<OffsetToCommit>,
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset to consume.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
    /// When it was committed (ms since the epoch).
    pub commit_timestamp_ms: i64,
}

/// An OffsetFetch for one group: `None` partitions means every committed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetch {
    /// The group.
    pub group_id: String,
    /// The partitions asked for.
    pub partitions: Option<Vec<TopicPartition>>,
}

/// The answer to an OffsetFetch for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResult {
    /// An error for the group.
    pub error: Option<GroupError>,
    /// Each partition with its committed offset (`None`: nothing committed).
    pub offsets: Vec<(TopicPartition, Option<CommittedOffset>)>,
}

/// A ListGroups request's filters (empty: no filter).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListGroups {
    /// Group states to keep, compared case-insensitively (v4+).
    pub states: Vec<String>,
    /// Group types to keep, compared case-insensitively (v5+).
    pub types: Vec<String>,
}

/// One group in a ListGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOverview {
    /// The group.
    pub group_id: String,
    /// Its protocol type, empty for a group that only stores offsets.
    pub protocol_type: String,
    /// Its state's name.
    pub state: &'static str,
}

/// A member in a DescribeGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// The static instance id.
    pub group_instance_id: Option<String>,
    /// The client id.
    pub client_id: String,
    /// The client host.
    pub client_host: String,
    /// Metadata for the selected protocol, only when stable.
    pub metadata: Bytes,
    /// The assignment, only when stable.
    pub assignment: Bytes,
}

/// One group in a DescribeGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group.
    pub group_id: String,
    /// An error for this group.
    pub error: Option<GroupError>,
    /// State name (`Dead` for an unknown group).
    pub state: &'static str,
    /// Protocol type.
    pub protocol_type: String,
    /// Selected protocol, only when stable.
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
}

/// An OffsetDelete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOffsets {
    /// The group.
    pub group_id: String,
    /// The partitions whose offsets to delete.
    pub partitions: Vec<TopicPartition>,
}

/// The answer to an OffsetDelete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOffsetsResult {
    /// An error for the whole group.
    pub error: Option<GroupError>,
    /// Each partition's outcome.
    pub partitions: Vec<(TopicPartition, Option<GroupError>)>,
}
