//! Why the coordinator refused a request. Each maps to one Kafka error code (in
//! `crate::error::group_error_code`); the names follow Kafka's so the mapping reads plainly.

/// A refusal by the group coordinator, returned inside a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum GroupError {
    /// The group id is empty where a group is required.
    #[error("invalid group id")]
    InvalidGroupId,
    /// The group is being torn down or the coordinator is stopping.
    #[error("coordinator not available")]
    CoordinatorNotAvailable,
    /// The session timeout is outside the allowed range.
    #[error("session timeout outside the allowed range")]
    InvalidSessionTimeout,
    /// The member id (or static instance id) is not in the group.
    #[error("unknown member id")]
    UnknownMemberId,
    /// A first join: the member must rejoin with the id it was given.
    #[error("member id required")]
    MemberIdRequired,
    /// The request's generation is not the group's.
    #[error("illegal generation")]
    IllegalGeneration,
    /// The member's protocol type or protocols do not fit the group.
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    /// The group is rebalancing; the member must rejoin.
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// Another member now holds this static instance id.
    #[error("fenced instance id")]
    FencedInstanceId,
    /// The group has as many members as allowed.
    #[error("group max size reached")]
    GroupMaxSizeReached,
    /// The group still has members.
    #[error("group is not empty")]
    NonEmptyGroup,
    /// The group does not exist.
    #[error("group id not found")]
    GroupIdNotFound,
    /// The group consumes the topic, so its offsets stay.
    #[error("group subscribed to topic")]
    GroupSubscribedToTopic,
    /// The commit's metadata string is longer than allowed.
    #[error("offset metadata too large")]
    OffsetMetadataTooLarge,
    /// Writing to the offsets log failed.
    #[error("could not write to the offsets log")]
    Storage,
}
