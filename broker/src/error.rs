//! The one place where internal errors become Kafka error codes.

use fjord_protocol::error_code::ErrorCode;
use fjord_protocol::records::RecordError;
use fjord_storage::{AppendError, ReadError};

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

/// The code for a batch that failed validation.
pub fn record_error_code(e: &RecordError) -> ErrorCode {
    match e {
        RecordError::CorruptCrc { .. } | RecordError::Truncated { .. } => ErrorCode::CorruptMessage,
        _ => ErrorCode::InvalidRecord,
    }
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
