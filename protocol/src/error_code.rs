//! Kafka's error codes as data: one table makes the [`ErrorCode`] enum and its lookups.
//!
//! Codes travel inside responses; they are answers, not Rust failures. The table follows the
//! codes Kafka defines (through 133, Kafka 4.1). A code this table does not know survives a
//! decode/encode round trip as [`ErrorCode::Unknown`].
//!
//! The retriable flag follows Kafka's client exception hierarchy (the exceptions that derive from
//! its retriable base class), because that is what clients act on.

use std::fmt;

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $name:literal, $retriable:literal, $description:literal; )*) => {
        /// A Kafka error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $description]
                $variant,
            )*
            /// A code this table does not know, kept as it was received.
            Unknown(i16),
        }

        impl ErrorCode {
            /// Every code in the table, in table order (without `Unknown`).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code on the wire.
            pub fn code(self) -> i16 {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Unknown(code) => code,
                }
            }

            /// Whether a client may retry the same request and expect it to succeed later.
            pub fn is_retriable(self) -> bool {
                match self {
                    $(Self::$variant => $retriable,)*
                    Self::Unknown(_) => false,
                }
            }

            /// Kafka's upper-case name, e.g. `NOT_LEADER_OR_FOLLOWER`; `UNKNOWN` for unknown codes.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Unknown(_) => "UNKNOWN",
                }
            }

            /// A short description of what the code means.
            pub fn description(self) -> &'static str {
                match self {
                    $(Self::$variant => $description,)*
                    Self::Unknown(_) => "An error code this server does not know.",
                }
            }
        }

        impl From<i16> for ErrorCode {
            fn from(code: i16) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }
        }
    };
}

error_codes! {
    UnknownServerError = -1, "UNKNOWN_SERVER_ERROR", false, "The server failed in an unexpected way while handling the request.";
    None = 0, "NONE", false, "No error.";
    OffsetOutOfRange = 1, "OFFSET_OUT_OF_RANGE", false, "The requested offset is outside the range the partition holds.";
    CorruptMessage = 2, "CORRUPT_MESSAGE", true, "A record failed its CRC, is too large, lacks a key on a compacted topic, or is otherwise malformed.";
    UnknownTopicOrPartition = 3, "UNKNOWN_TOPIC_OR_PARTITION", true, "This broker does not host the topic-partition.";
    InvalidFetchSize = 4, "INVALID_FETCH_SIZE", false, "The fetch size asked for is not valid.";
    LeaderNotAvailable = 5, "LEADER_NOT_AVAILABLE", true, "The partition has no leader right now, for example during an election.";
    NotLeaderOrFollower = 6, "NOT_LEADER_OR_FOLLOWER", true, "This broker is not the leader (or not a replica) of the partition.";
    RequestTimedOut = 7, "REQUEST_TIMED_OUT", true, "The request did not complete in time.";
    BrokerNotAvailable = 8, "BROKER_NOT_AVAILABLE", false, "The broker is not available.";
    ReplicaNotAvailable = 9, "REPLICA_NOT_AVAILABLE", true, "The replica of the partition is not available.";
    MessageTooLarge = 10, "MESSAGE_TOO_LARGE", false, "A record batch is larger than the broker accepts.";
    StaleControllerEpoch = 11, "STALE_CONTROLLER_EPOCH", false, "The controller has moved to another broker.";
    OffsetMetadataTooLarge = 12, "OFFSET_METADATA_TOO_LARGE", false, "The metadata attached to a committed offset is too large.";
    NetworkException = 13, "NETWORK_EXCEPTION", true, "The connection closed before a response arrived.";
    CoordinatorLoadInProgress = 14, "COORDINATOR_LOAD_IN_PROGRESS", true, "The coordinator is still loading its state.";
    CoordinatorNotAvailable = 15, "COORDINATOR_NOT_AVAILABLE", true, "The coordinator is not available.";
    NotCoordinator = 16, "NOT_COORDINATOR", true, "This broker is not the coordinator for the group or transaction.";
    InvalidTopicException = 17, "INVALID_TOPIC_EXCEPTION", false, "The topic name is invalid or the operation is not allowed on it.";
    RecordListTooLarge = 18, "RECORD_LIST_TOO_LARGE", false, "A record batch is larger than the configured segment size.";
    NotEnoughReplicas = 19, "NOT_ENOUGH_REPLICAS", true, "Fewer in-sync replicas than required; the records were not written.";
    NotEnoughReplicasAfterAppend = 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, "The records were written, but to fewer in-sync replicas than required.";
    InvalidRequiredAcks = 21, "INVALID_REQUIRED_ACKS", false, "The produce request's acks value is not valid.";
    IllegalGeneration = 22, "ILLEGAL_GENERATION", false, "The group generation id does not match the current one.";
    InconsistentGroupProtocol = 23, "INCONSISTENT_GROUP_PROTOCOL", false, "The member's protocols do not match the group's, or are empty.";
    InvalidGroupId = 24, "INVALID_GROUP_ID", false, "The group id is not valid.";
    UnknownMemberId = 25, "UNKNOWN_MEMBER_ID", false, "The coordinator does not know this member.";
    InvalidSessionTimeout = 26, "INVALID_SESSION_TIMEOUT", false, "The session timeout is outside the range the broker allows.";
    RebalanceInProgress = 27, "REBALANCE_IN_PROGRESS", false, "The group is rebalancing; the member must rejoin.";
    InvalidCommitOffsetSize = 28, "INVALID_COMMIT_OFFSET_SIZE", false, "The size of the offset commit data is not valid.";
    TopicAuthorizationFailed = 29, "TOPIC_AUTHORIZATION_FAILED", false, "Not authorized to access the topic.";
    GroupAuthorizationFailed = 30, "GROUP_AUTHORIZATION_FAILED", false, "Not authorized to access the group.";
    ClusterAuthorizationFailed = 31, "CLUSTER_AUTHORIZATION_FAILED", false, "Not authorized for the cluster operation.";
    InvalidTimestamp = 32, "INVALID_TIMESTAMP", false, "A record timestamp is outside the accepted range.";
    UnsupportedSaslMechanism = 33, "UNSUPPORTED_SASL_MECHANISM", false, "The broker does not offer the SASL mechanism asked for.";
    IllegalSaslState = 34, "ILLEGAL_SASL_STATE", false, "The request is not valid in the current SASL state.";
    UnsupportedVersion = 35, "UNSUPPORTED_VERSION", false, "The API version is not supported.";
    TopicAlreadyExists = 36, "TOPIC_ALREADY_EXISTS", false, "A topic with this name already exists.";
    InvalidPartitions = 37, "INVALID_PARTITIONS", false, "The number of partitions is not valid.";
    InvalidReplicationFactor = 38, "INVALID_REPLICATION_FACTOR", false, "The replication factor is below 1 or above the number of brokers.";
    InvalidReplicaAssignment = 39, "INVALID_REPLICA_ASSIGNMENT", false, "The replica assignment is not valid.";
    InvalidConfig = 40, "INVALID_CONFIG", false, "A configuration value is not valid.";
    NotController = 41, "NOT_CONTROLLER", true, "This broker is not the active controller.";
    InvalidRequest = 42, "INVALID_REQUEST", false, "The request is malformed or not valid for this broker.";
    UnsupportedForMessageFormat = 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, "The message format in use does not support the request.";
    PolicyViolation = 44, "POLICY_VIOLATION", false, "The request breaks a configured policy.";
    OutOfOrderSequenceNumber = 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, "The producer's sequence number is out of order.";
    DuplicateSequenceNumber = 46, "DUPLICATE_SEQUENCE_NUMBER", false, "The producer's sequence number was already written.";
    InvalidProducerEpoch = 47, "INVALID_PRODUCER_EPOCH", false, "The producer's epoch is older than the current one.";
    InvalidTxnState = 48, "INVALID_TXN_STATE", false, "The transactional operation is not valid in the transaction's state.";
    InvalidProducerIdMapping = 49, "INVALID_PRODUCER_ID_MAPPING", false, "The producer id is not the one assigned to the transactional id.";
    InvalidTransactionTimeout = 50, "INVALID_TRANSACTION_TIMEOUT", false, "The transaction timeout exceeds the broker's maximum.";
    ConcurrentTransactions = 51, "CONCURRENT_TRANSACTIONS", false, "Another operation on the same transaction is in progress.";
    TransactionCoordinatorFenced = 52, "TRANSACTION_COORDINATOR_FENCED", false, "The transaction coordinator that sent the marker is no longer current.";
    TransactionalIdAuthorizationFailed = 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, "Not authorized for the transactional id.";
    SecurityDisabled = 54, "SECURITY_DISABLED", false, "Security features are turned off.";
    OperationNotAttempted = 55, "OPERATION_NOT_ATTEMPTED", false, "The operation was skipped because another part of the batch failed.";
    KafkaStorageError = 56, "KAFKA_STORAGE_ERROR", true, "A disk error occurred while accessing the log.";
    LogDirNotFound = 57, "LOG_DIR_NOT_FOUND", false, "The log directory is not in the broker's configuration.";
    SaslAuthenticationFailed = 58, "SASL_AUTHENTICATION_FAILED", false, "SASL authentication failed.";
    UnknownProducerId = 59, "UNKNOWN_PRODUCER_ID", false, "The broker has no state for this producer id (its records may have expired).";
    ReassignmentInProgress = 60, "REASSIGNMENT_IN_PROGRESS", false, "A partition reassignment is in progress.";
    DelegationTokenAuthDisabled = 61, "DELEGATION_TOKEN_AUTH_DISABLED", false, "Delegation tokens are not enabled.";
    DelegationTokenNotFound = 62, "DELEGATION_TOKEN_NOT_FOUND", false, "The delegation token does not exist.";
    DelegationTokenOwnerMismatch = 63, "DELEGATION_TOKEN_OWNER_MISMATCH", false, "The principal is not the token's owner or renewer.";
    DelegationTokenRequestNotAllowed = 64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false, "Delegation token requests are not allowed on this kind of connection.";
    DelegationTokenAuthorizationFailed = 65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false, "Not authorized for the delegation token operation.";
    DelegationTokenExpired = 66, "DELEGATION_TOKEN_EXPIRED", false, "The delegation token has expired.";
    InvalidPrincipalType = 67, "INVALID_PRINCIPAL_TYPE", false, "The principal type is not supported.";
    NonEmptyGroup = 68, "NON_EMPTY_GROUP", false, "The group still has members.";
    GroupIdNotFound = 69, "GROUP_ID_NOT_FOUND", false, "The group does not exist.";
    FetchSessionIdNotFound = 70, "FETCH_SESSION_ID_NOT_FOUND", true, "The fetch session does not exist.";
    InvalidFetchSessionEpoch = 71, "INVALID_FETCH_SESSION_EPOCH", true, "The fetch session epoch is not the expected one.";
    ListenerNotFound = 72, "LISTENER_NOT_FOUND", true, "The leader has no listener matching the one the metadata request came on.";
    TopicDeletionDisabled = 73, "TOPIC_DELETION_DISABLED", false, "Deleting topics is turned off.";
    FencedLeaderEpoch = 74, "FENCED_LEADER_EPOCH", true, "The request's leader epoch is older than the broker's.";
    UnknownLeaderEpoch = 75, "UNKNOWN_LEADER_EPOCH", true, "The request's leader epoch is newer than the broker's.";
    UnsupportedCompressionType = 76, "UNSUPPORTED_COMPRESSION_TYPE", false, "The client cannot read the partition's compression type.";
    StaleBrokerEpoch = 77, "STALE_BROKER_EPOCH", false, "The broker epoch has changed.";
    OffsetNotAvailable = 78, "OFFSET_NOT_AVAILABLE", true, "The new leader's high watermark has not caught up yet.";
    MemberIdRequired = 79, "MEMBER_ID_REQUIRED", false, "The member must rejoin with the member id it was given.";
    PreferredLeaderNotAvailable = 80, "PREFERRED_LEADER_NOT_AVAILABLE", true, "The preferred leader is not available.";
    GroupMaxSizeReached = 81, "GROUP_MAX_SIZE_REACHED", false, "The group is at its maximum number of members.";
    FencedInstanceId = 82, "FENCED_INSTANCE_ID", false, "Another member registered with the same static instance id.";
    EligibleLeadersNotAvailable = 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true, "No eligible leader is available for the partition.";
    ElectionNotNeeded = 84, "ELECTION_NOT_NEEDED", true, "The partition does not need a leader election.";
    NoReassignmentInProgress = 85, "NO_REASSIGNMENT_IN_PROGRESS", false, "No partition reassignment is in progress.";
    GroupSubscribedToTopic = 86, "GROUP_SUBSCRIBED_TO_TOPIC", false, "The group is subscribed to the topic, so its offsets cannot be deleted.";
    InvalidRecord = 87, "INVALID_RECORD", false, "A record failed the broker's validation.";
    UnstableOffsetCommit = 88, "UNSTABLE_OFFSET_COMMIT", true, "Pending transactional offset commits must complete first.";
    ThrottlingQuotaExceeded = 89, "THROTTLING_QUOTA_EXCEEDED", true, "The throttling quota is exhausted.";
    ProducerFenced = 90, "PRODUCER_FENCED", false, "A newer producer with the same transactional id has fenced this one.";
    ResourceNotFound = 91, "RESOURCE_NOT_FOUND", false, "The request refers to a resource that does not exist.";
    DuplicateResource = 92, "DUPLICATE_RESOURCE", false, "The request names the same resource twice.";
    UnacceptableCredential = 93, "UNACCEPTABLE_CREDENTIAL", false, "The credential does not meet the acceptance criteria.";
    InconsistentVoterSet = 94, "INCONSISTENT_VOTER_SET", false, "The sender or receiver of a voter request is not an expected voter.";
    InvalidUpdateVersion = 95, "INVALID_UPDATE_VERSION", false, "The update version is not valid.";
    FeatureUpdateFailed = 96, "FEATURE_UPDATE_FAILED", false, "The finalized features could not be updated.";
    PrincipalDeserializationFailure = 97, "PRINCIPAL_DESERIALIZATION_FAILURE", false, "A forwarded request's principal could not be deserialized.";
    SnapshotNotFound = 98, "SNAPSHOT_NOT_FOUND", false, "The snapshot does not exist.";
    PositionOutOfRange = 99, "POSITION_OUT_OF_RANGE", false, "The position is negative or past the end of the snapshot.";
    UnknownTopicId = 100, "UNKNOWN_TOPIC_ID", true, "This broker does not host a topic with this id.";
    DuplicateBrokerRegistration = 101, "DUPLICATE_BROKER_REGISTRATION", false, "The broker id is already registered.";
    BrokerIdNotRegistered = 102, "BROKER_ID_NOT_REGISTERED", false, "The broker id is not registered.";
    InconsistentTopicId = 103, "INCONSISTENT_TOPIC_ID", true, "The topic id in the request does not match the log's.";
    InconsistentClusterId = 104, "INCONSISTENT_CLUSTER_ID", false, "The cluster id in the request does not match the server's.";
    TransactionalIdNotFound = 105, "TRANSACTIONAL_ID_NOT_FOUND", false, "The transactional id does not exist.";
    FetchSessionTopicIdError = 106, "FETCH_SESSION_TOPIC_ID_ERROR", true, "The fetch session mixes topic ids inconsistently.";
    IneligibleReplica = 107, "INELIGIBLE_REPLICA", false, "The new in-sync replica set holds an ineligible replica.";
    NewLeaderElected = 108, "NEW_LEADER_ELECTED", false, "The partition state was updated, but the leader has changed.";
    OffsetMovedToTieredStorage = 109, "OFFSET_MOVED_TO_TIERED_STORAGE", false, "The offset now lives in tiered storage.";
    FencedMemberEpoch = 110, "FENCED_MEMBER_EPOCH", false, "The member epoch is fenced; the member must drop its partitions and rejoin.";
    UnreleasedInstanceId = 111, "UNRELEASED_INSTANCE_ID", false, "Another member still holds the instance id.";
    UnsupportedAssignor = 112, "UNSUPPORTED_ASSIGNOR", false, "The group does not support the assignor or its versions.";
    StaleMemberEpoch = 113, "STALE_MEMBER_EPOCH", false, "The member epoch is stale; retry after the next heartbeat response.";
    MismatchedEndpointType = 114, "MISMATCHED_ENDPOINT_TYPE", false, "The request reached an endpoint of the wrong type.";
    UnsupportedEndpointType = 115, "UNSUPPORTED_ENDPOINT_TYPE", false, "The endpoint type is not supported.";
    UnknownControllerId = 116, "UNKNOWN_CONTROLLER_ID", false, "The controller id is not known.";
    UnknownSubscriptionId = 117, "UNKNOWN_SUBSCRIPTION_ID", false, "The telemetry subscription id is unknown or outdated.";
    TelemetryTooLarge = 118, "TELEMETRY_TOO_LARGE", false, "The pushed telemetry is larger than the broker accepts.";
    InvalidRegistration = 119, "INVALID_REGISTRATION", false, "The controller judged the broker registration invalid.";
    TransactionAbortable = 120, "TRANSACTION_ABORTABLE", false, "The transaction failed; aborting it lets the producer go on.";
    InvalidRecordState = 121, "INVALID_RECORD_STATE", false, "The record's delivery state does not allow the acknowledgement.";
    ShareSessionNotFound = 122, "SHARE_SESSION_NOT_FOUND", true, "The share session does not exist.";
    InvalidShareSessionEpoch = 123, "INVALID_SHARE_SESSION_EPOCH", true, "The share session epoch is not the expected one.";
    FencedStateEpoch = 124, "FENCED_STATE_EPOCH", false, "The share-group state epoch does not match the coordinator's.";
    InvalidVoterKey = 125, "INVALID_VOTER_KEY", false, "The voter key does not match the receiving replica's.";
    DuplicateVoter = 126, "DUPLICATE_VOTER", false, "The voter is already in the voter set.";
    VoterNotFound = 127, "VOTER_NOT_FOUND", false, "The voter is not in the voter set.";
    InvalidRegularExpression = 128, "INVALID_REGULAR_EXPRESSION", false, "The regular expression is not valid.";
    RebootstrapRequired = 129, "REBOOTSTRAP_REQUIRED", false, "The client's metadata is stale; it must bootstrap again.";
    StreamsInvalidTopology = 130, "STREAMS_INVALID_TOPOLOGY", false, "The streams topology is not valid.";
    StreamsInvalidTopologyEpoch = 131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false, "The streams topology epoch is not valid.";
    StreamsTopologyFenced = 132, "STREAMS_TOPOLOGY_FENCED", false, "The streams topology epoch is outdated.";
    ShareSessionLimitReached = 133, "SHARE_SESSION_LIMIT_REACHED", true, "The broker holds as many share sessions as it allows.";
}

impl ErrorCode {
    /// Whether this is the success code 0.
    pub fn is_ok(self) -> bool {
        self == Self::None
    }
}

// Derivable only by marking the variant inside the macro's table; one impl here is plainer.
#[allow(clippy::derivable_impls)]
impl Default for ErrorCode {
    fn default() -> Self {
        Self::None
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.name(),
            self.code(),
            self.description()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_round_trips_through_i16() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from(code.code()), code, "{}", code.name());
        }
    }

    #[test]
    fn codes_and_names_are_unique() {
        let codes: HashSet<i16> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        let names: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn table_covers_every_code_from_minus_one_to_the_newest() {
        let codes: HashSet<i16> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        for code in -1..=133 {
            assert!(codes.contains(&code), "missing code {code}");
        }
    }

    #[test]
    fn unknown_codes_keep_their_value() {
        let code = ErrorCode::from(1000);
        assert_eq!(code, ErrorCode::Unknown(1000));
        assert_eq!(code.code(), 1000);
        assert!(!code.is_retriable());
    }

    #[test]
    fn names_and_flags_match_kafka() {
        assert_eq!(ErrorCode::from(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert!(ErrorCode::NotLeaderOrFollower.is_retriable());
        assert!(!ErrorCode::MessageTooLarge.is_retriable());
        assert_eq!(ErrorCode::ShareSessionNotFound.code(), 122);
        assert!(ErrorCode::None.is_ok());
        assert_eq!(ErrorCode::default(), ErrorCode::None);
    }

    /// An independent Rust table of Kafka's codes, as a cross-check of names and flags.
    #[test]
    fn agrees_with_the_kafka_protocol_crate() {
        use kafka_protocol::error::ResponseError;
        for code in -1..=140i16 {
            let ours = ErrorCode::from(code);
            match ResponseError::try_from_code(code) {
                None => assert_eq!(ours, ErrorCode::None),
                Some(ResponseError::Unknown(_)) => {
                    assert!(
                        matches!(ours, ErrorCode::Unknown(_)),
                        "{code}: we know {ours:?}"
                    );
                }
                Some(theirs) => {
                    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "code {code}");
                    assert_eq!(ours.is_retriable(), theirs.is_retriable(), "code {code}");
                }
            }
        }
    }

    #[test]
    fn display_has_name_and_code() {
        let shown = ErrorCode::CorruptMessage.to_string();
        assert!(shown.starts_with("CORRUPT_MESSAGE (2): "), "{shown}");
    }
}
