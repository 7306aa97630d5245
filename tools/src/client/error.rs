//! What can go wrong between `fjordctl` and a broker.

use std::io;

use fjord_protocol::messages::ApiKey;
use fjord_protocol::records::RecordError;
use fjord_protocol::{DecodeError, EncodeError, ErrorCode};

/// A failure talking to a broker. Kafka error codes that a response carries are
/// [`ClientError::Kafka`]; everything else is a transport or codec failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No bootstrap address accepted a connection.
    #[error("cannot reach any broker in {bootstrap}")]
    Unreachable {
        /// The bootstrap list as given.
        bootstrap: String,
        /// The error from the last address tried.
        #[source]
        source: io::Error,
    },
    /// Connecting to one broker failed.
    #[error("cannot connect to {addr}")]
    Connect {
        /// The address tried.
        addr: String,
        /// What the socket said.
        #[source]
        source: io::Error,
    },
    /// The connection failed while sending or receiving.
    #[error("connection to {addr} failed")]
    Io {
        /// The broker's address.
        addr: String,
        /// What the socket said.
        #[source]
        source: io::Error,
    },
    /// The broker did not answer in time.
    #[error("{api} request to {addr} timed out after {timeout_ms} ms")]
    Timeout {
        /// The request's API name.
        api: &'static str,
        /// The broker's address.
        addr: String,
        /// The limit that passed.
        timeout_ms: u64,
    },
    /// The broker announced a response larger than we accept.
    #[error("{addr} sent a {size}-byte frame, larger than the {max}-byte limit")]
    FrameTooLarge {
        /// The broker's address.
        addr: String,
        /// The announced size.
        size: i64,
        /// Our limit.
        max: usize,
    },
    /// A request could not be encoded (a bug in the request built for that version).
    #[error("cannot encode a {api} v{version} request")]
    Encode {
        /// The API name.
        api: &'static str,
        /// The version used.
        version: i16,
        /// The codec's complaint.
        #[source]
        source: EncodeError,
    },
    /// A response did not decode.
    #[error("cannot decode the {api} v{version} response from {addr}")]
    Decode {
        /// The API name.
        api: &'static str,
        /// The version used.
        version: i16,
        /// The broker's address.
        addr: String,
        /// Where decoding stopped.
        #[source]
        source: DecodeError,
    },
    /// A response for another request arrived.
    #[error("{addr} answered correlation id {got}, expected {expected}")]
    CorrelationMismatch {
        /// The broker's address.
        addr: String,
        /// The id we sent.
        expected: i32,
        /// The id that came back.
        got: i32,
    },
    /// Neither side has a version of the API in common with the other.
    #[error("the broker at {addr} does not support {}{}", api.name(), broker_range(*.broker))]
    Unsupported {
        /// The API.
        api: ApiKey,
        /// The broker's address.
        addr: String,
        /// The broker's advertised range, if it advertises the API at all.
        broker: Option<(i16, i16)>,
    },
    /// The broker answered with a Kafka error code.
    #[error("{context}: {} ({}){}", code.name(), code.code(), detail(.message.as_deref()))]
    Kafka {
        /// What was being done, e.g. `create topic orders`.
        context: String,
        /// The error code.
        code: ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// The cluster metadata names no broker for a node we need.
    #[error("no broker with node id {node} in the cluster metadata")]
    UnknownNode {
        /// The node id.
        node: i32,
    },
    /// A topic the cluster does not have.
    #[error("unknown topic {topic:?}")]
    UnknownTopic {
        /// The topic name.
        topic: String,
    },
    /// A partition the topic does not have.
    #[error("topic {topic:?} has no partition {partition} (it has {count})")]
    UnknownPartition {
        /// The topic name.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// How many partitions it has.
        count: usize,
    },
    /// A partition without a leader right now.
    #[error("partition {topic}-{partition} has no leader")]
    NoLeader {
        /// The topic name.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// A record batch in a fetch response did not decode.
    #[error("bad record batch in {topic}-{partition} at offset {offset}")]
    Records {
        /// The topic name.
        topic: String,
        /// The partition.
        partition: i32,
        /// The batch's base offset.
        offset: i64,
        /// The decoder's complaint.
        #[source]
        source: RecordError,
    },
    /// A bootstrap address that is not `HOST:PORT`.
    #[error("invalid broker address {0:?}: expected HOST:PORT")]
    BadAddress(String),
}

impl ClientError {
    /// The Kafka error code, if this is one.
    pub fn kafka_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Turns a response error code into a result; `context` says what was being done.
pub fn check(code: i16, context: impl FnOnce() -> String) -> Result<(), ClientError> {
    check_with_message(code, None, context)
}

/// Like [`check`], keeping the broker's error message.
pub fn check_with_message(
    code: i16,
    message: Option<&str>,
    context: impl FnOnce() -> String,
) -> Result<(), ClientError> {
    let code = ErrorCode::from(code);
    if code.is_ok() {
        Ok(())
    } else {
        Err(ClientError::Kafka {
            context: context(),
            code,
            message: message.map(str::to_owned),
        })
    }
}

fn broker_range(range: Option<(i16, i16)>) -> String {
    match range {
        Some((min, max)) => format!(" in a version this tool speaks (broker: v{min}-v{max})"),
        None => String::from(" (not advertised in ApiVersions)"),
    }
}

fn detail(message: Option<&str>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}
