//! The one place where internal errors become Kafka error codes.

use fjord_protocol::error_code::ErrorCode;
use fjord_storage::{AppendError, DeleteError, ReadError};

use crate::topic_config::ConfigValueError;
use crate::topics::TopicError;

/// The code for a failed topic operation.
pub fn topic_error_code(e: &TopicError) -> ErrorCode {
    match e {
        TopicError::AlreadyExists(_) => ErrorCode::TopicAlreadyExists,
        TopicError::InvalidName(_) | TopicError::Collides { .. } => {
            ErrorCode::InvalidTopicException
        }
        TopicError::Unknown(_) => ErrorCode::UnknownTopicOrPartition,
        TopicError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
        TopicError::Store(_) | TopicError::Log { .. } => ErrorCode::KafkaStorageError,
    }
}

/// The code for a refused topic setting.
pub fn config_error_code(_e: &ConfigValueError) -> ErrorCode {
    ErrorCode::InvalidConfig
}

/// The code for a failed append.
pub fn append_error_code(e: &AppendError) -> ErrorCode {
    match e {
        AppendError::Io { .. } => ErrorCode::KafkaStorageError,
        _ => ErrorCode::UnknownServerError,
    }
}

/// The code for a failed read.
pub fn read_error_code(e: &ReadError) -> ErrorCode {
    match e {
        ReadError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        _ => ErrorCode::KafkaStorageError,
    }
}

/// The code for a failed DeleteRecords.
pub fn delete_error_code(e: &DeleteError) -> ErrorCode {
    match e {
        DeleteError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        DeleteError::Io(_) => ErrorCode::KafkaStorageError,
    }
}

/// The code for a group coordinator refusal.
pub fn group_error_code(e: crate::group::GroupError) -> ErrorCode {
    use crate::group::GroupError as G;
    match e {
        G::InvalidGroupId => ErrorCode::InvalidGroupId,
        // A failed write to the offsets log is retriable: the client retries or rediscovers
        // the coordinator, as with Kafka's failed appends to `__consumer_offsets`.
        G::CoordinatorNotAvailable | G::Storage => ErrorCode::CoordinatorNotAvailable,
        G::InvalidSessionTimeout => ErrorCode::InvalidSessionTimeout,
        G::UnknownMemberId => ErrorCode::UnknownMemberId,
        G::MemberIdRequired => ErrorCode::MemberIdRequired,
        G::IllegalGeneration => ErrorCode::IllegalGeneration,
        G::InconsistentGroupProtocol => ErrorCode::InconsistentGroupProtocol,
        G::RebalanceInProgress => ErrorCode::RebalanceInProgress,
        G::FencedInstanceId => ErrorCode::FencedInstanceId,
        G::GroupMaxSizeReached => ErrorCode::GroupMaxSizeReached,
        G::NonEmptyGroup => ErrorCode::NonEmptyGroup,
        G::GroupIdNotFound => ErrorCode::GroupIdNotFound,
        G::GroupSubscribedToTopic => ErrorCode::GroupSubscribedToTopic,
        G::OffsetMetadataTooLarge => ErrorCode::OffsetMetadataTooLarge,
    }
}

/// The wire code of an optional group refusal (`None` is success).
pub fn group_code(e: Option<crate::group::GroupError>) -> i16 {
    e.map_or(ErrorCode::None, group_error_code).code()
}

/// The code for a produced batch the partition did not append. Kafka answers a stale epoch
/// with INVALID_PRODUCER_EPOCH on every Produce version (KIP-588), so the producer can abort
/// and go on rather than treat it as fatal.
pub fn produce_append_error_code(e: &crate::partition::ProduceAppendError) -> ErrorCode {
    use crate::partition::ProduceAppendError as P;
    use crate::producer_state::ProduceRefusal as R;
    match e {
        P::Refused(R::StaleEpoch { .. }) => ErrorCode::InvalidProducerEpoch,
        P::Refused(R::OutOfOrder { .. }) => ErrorCode::OutOfOrderSequenceNumber,
        P::Refused(R::NotTransactional { .. }) => ErrorCode::InvalidTxnState,
        P::Append(e) => append_error_code(e),
    }
}

/// The code for a refused InitProducerId; `fenced_code` is the version's code for a fenced
/// producer (see [`txn_error_code`]).
pub fn init_producer_id_error_code(
    e: &crate::txn::InitProducerIdError,
    fenced_code: ErrorCode,
) -> ErrorCode {
    use crate::txn::InitProducerIdError as I;
    match e {
        I::EmptyTransactionalId => ErrorCode::InvalidRequest,
        I::Txn(e) => txn_error_code(e, fenced_code),
        // Retriable for the client: it asks again, perhaps after the disk recovers.
        I::ProducerIds(_) | I::Write(_) => ErrorCode::CoordinatorNotAvailable,
    }
}

/// The code for a refused transactional request. Versions before KIP-588 (InitProducerId
/// v0-v3, AddPartitionsToTxn/AddOffsetsToTxn/EndTxn v0-v1, TxnOffsetCommit v0-v2) know
/// INVALID_PRODUCER_EPOCH where newer ones get PRODUCER_FENCED: the handler passes which.
pub fn txn_error_code(e: &crate::txn::state::TxnError, fenced_code: ErrorCode) -> ErrorCode {
    use crate::txn::state::TxnError as T;
    match e {
        T::InvalidProducerIdMapping { .. } => ErrorCode::InvalidProducerIdMapping,
        T::ProducerFenced { .. } => fenced_code,
        T::ConcurrentTransactions => ErrorCode::ConcurrentTransactions,
        T::InvalidTxnState(_) => ErrorCode::InvalidTxnState,
        T::InvalidTransactionTimeout(_) => ErrorCode::InvalidTransactionTimeout,
    }
}

/// The code for a refused transactional request other than InitProducerId.
pub fn txn_request_error_code(
    e: &crate::txn::TxnRequestError,
    fenced_code: ErrorCode,
) -> ErrorCode {
    use crate::txn::TxnRequestError as R;
    match e {
        R::Txn(e) => txn_error_code(e, fenced_code),
        R::Write(_) => ErrorCode::CoordinatorNotAvailable,
    }
}

/// The code a request version uses for a fenced producer: PRODUCER_FENCED from
/// `fenced_from` on (KIP-588), INVALID_PRODUCER_EPOCH before.
pub fn fenced_code(version: i16, fenced_from: i16) -> ErrorCode {
    if version >= fenced_from {
        ErrorCode::ProducerFenced
    } else {
        ErrorCode::InvalidProducerEpoch
    }
}

/// The code for a transaction marker that was not written.
pub fn marker_error_code(e: &crate::partition::MarkerError) -> ErrorCode {
    use crate::partition::MarkerError as M;
    match e {
        M::StaleEpoch { .. } => ErrorCode::InvalidProducerEpoch,
        M::CoordinatorFenced { .. } => ErrorCode::TransactionCoordinatorFenced,
        M::Append(e) => append_error_code(e),
        M::Build(_) => ErrorCode::UnknownServerError,
    }
}
