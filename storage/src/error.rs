//! One error enum per log operation; each keeps its cause and names the offending values.

use std::io;
use std::path::PathBuf;

use fjord_protocol::records::RecordError;

/// An I/O failure on a named file.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct IoError {
    /// What was being done ("open", "write", ...).
    pub action: &'static str,
    /// The file involved.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

impl IoError {
    pub(crate) fn new(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Builds a closure for `map_err` that wraps an `io::Error` with what was done to which file.
pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(io::Error) -> IoError + 'a {
    move |source| IoError::new(action, path, source)
}

/// Why a log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A file could not be read, written or created.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A file in the log directory has a name that looks like ours but does not parse.
    #[error("unexpected file name {0} in log directory")]
    BadFileName(PathBuf),
    /// The log start offset checkpoint is malformed.
    #[error("malformed checkpoint {path}: {reason}")]
    BadCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why an append was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Nothing to append.
    #[error("append of zero batches")]
    Empty,
    /// The input is not a sequence of complete v2 batches.
    #[error("invalid batch at byte {position} of the append: {source}")]
    InvalidBatch {
        /// Where in the input the bad batch starts.
        position: usize,
        /// What is wrong with it.
        #[source]
        source: RecordError,
    },
    /// A batch exceeds `max_message_bytes`.
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    BatchTooLarge {
        /// The batch size.
        size: usize,
        /// The configured limit.
        max: u32,
    },
    /// A batch claims a negative last offset delta.
    #[error("batch at byte {position} has negative last offset delta {delta}")]
    BadOffsetDelta {
        /// Where in the input the batch starts.
        position: usize,
        /// The delta found.
        delta: i32,
    },
    /// Writing or syncing failed; the log may have to be reopened to recover.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Reading the log (to find a truncation point) failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The requested offset is below the log start or past the log end.
    #[error("offset {requested} out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: i64,
        /// First offset in the log.
        log_start_offset: i64,
        /// Next offset to be written.
        log_end_offset: i64,
    },
    /// A stored batch header does not parse.
    #[error("corrupt batch in {path} at position {position}: {source}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte position of the bad batch.
        position: u64,
        /// What is wrong.
        #[source]
        source: RecordError,
    },
    /// Reading a file failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Why `delete_records_before` failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// The offset is past the log end.
    #[error("cannot delete records before {requested}: log end offset is {log_end_offset}")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: i64,
        /// Next offset to be written.
        log_end_offset: i64,
    },
    /// Writing the checkpoint or deleting segments failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Why an fsync failed.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// The fsync or a metadata write failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Why maintenance (rolling, retention) failed.
#[derive(Debug, thiserror::Error)]
pub enum MaintainError {
    /// Rolling, flushing or deleting a segment failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Why compaction failed. The log is unchanged unless the error says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// Reading a segment, writing its cleaned copy or swapping it in failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A stored batch could not be decoded.
    #[error(transparent)]
    Read(#[from] ReadError),
}
