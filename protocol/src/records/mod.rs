//! Record batches: the unit a producer sends, the log stores and a consumer fetches.
//!
//! - [`header`]: the fixed v2 batch header, CRC checks and in-place re-stamping.
//! - [`record`]: one record inside a v2 batch (zero-copy keys, values and headers).
//! - [`compression`]: the codecs (gzip, snappy raw and xerial-framed, lz4 frame, zstd), with a
//!   cap on decompressed size.
//! - [`batch`]: whole-batch decoding and the [`RecordBatchBuilder`] encoder.
//! - [`control`]: control records (transaction markers).
//! - [`validate`]: the produce-path check that works on headers alone, and the separate
//!   content check that walks the records.
//! - [`walk`]: visiting a batch's records as borrowed frames, decompressing as a capped stream.
//! - [`legacy`]: magic 0 and 1 message sets, read only.

use std::io;
use std::sync::Arc;

use crate::error::{DecodeError, EncodeError};
use crate::error_code::ErrorCode;

pub mod batch;
pub mod compression;
pub mod control;
pub mod header;
pub mod legacy;
pub mod record;
pub mod validate;
pub mod walk;

pub use batch::{RecordBatch, RecordBatchBuilder};
pub use compression::Compression;
pub use control::{ControlRecord, ControlRecordType, EndTxnMarker};
pub use header::{BatchHeader, Batches};
pub use record::{Header, Record, RecordFrame};
pub use validate::{
    check_record_contents, validate_batches, BatchSummary, ContentRules, ContentSummary,
    ValidatedBatches, ValidationLimits,
};
pub use walk::walk_records;

/// Why a record batch was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than the batch needs.
    #[error("record batch truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// A magic byte other than the one expected.
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// A batch length that cannot hold a header.
    #[error("invalid record batch length {0}")]
    InvalidBatchLength(i32),
    /// The stored CRC does not match the bytes.
    #[error("record batch CRC mismatch: header says {expected:#010x}, bytes give {actual:#010x}")]
    CorruptCrc {
        /// CRC in the header.
        expected: u32,
        /// CRC computed over the bytes.
        actual: u32,
    },
    /// A compression codec id outside the ones Kafka defines.
    #[error("unsupported compression codec id {0}")]
    UnsupportedCompression(i16),
    /// The compressed payload could not be decompressed.
    #[error("{codec} decompression failed")]
    Decompress {
        /// The codec in use.
        codec: Compression,
        /// What the decompressor reported.
        #[source]
        source: CodecError,
    },
    /// The decompressed payload is larger than the caller allows (a compression bomb or a
    /// batch beyond the configured limit).
    #[error("{codec} payload decompresses to more than {limit} bytes")]
    DecompressedTooLarge {
        /// The codec in use.
        codec: Compression,
        /// The limit the caller gave.
        limit: usize,
    },
    /// Compressing a payload failed.
    #[error("{codec} compression failed")]
    Compress {
        /// The codec in use.
        codec: Compression,
        /// What the compressor reported.
        #[source]
        source: CodecError,
    },
    /// A record inside the batch does not parse; `source` says where, relative to the start of
    /// the (decompressed) records.
    #[error("record {index} is invalid")]
    InvalidRecord {
        /// Position of the record in the batch.
        index: usize,
        /// The parse failure.
        #[source]
        source: DecodeError,
    },
    /// A negative record count in the header.
    #[error("invalid record count {0}")]
    InvalidRecordCount(i32),
    /// Bytes left after the number of records the header declares.
    #[error("{remaining} bytes left after the {count} records the batch declares")]
    TrailingRecordBytes {
        /// Records declared and parsed.
        count: i32,
        /// Bytes left over.
        remaining: usize,
    },
    /// The header's last offset delta does not fit its record count.
    #[error("last offset delta {last_offset_delta} does not match record count {record_count}")]
    LastOffsetDeltaMismatch {
        /// The header's last offset delta.
        last_offset_delta: i32,
        /// The header's record count.
        record_count: i32,
    },
    /// A batch with no records where at least one is required.
    #[error("record batch at base offset {base_offset} has no records")]
    NoRecords {
        /// The batch's base offset as sent.
        base_offset: i64,
    },
    /// A batch larger than the configured maximum.
    #[error("record batch of {size} bytes exceeds the maximum of {max}")]
    BatchTooLarge {
        /// Size of the batch on the wire.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A produce `records` field with no batch in it.
    #[error("no record batch in the records")]
    Empty,
    /// More batches than the request may carry (produce v3+ allows one per partition).
    #[error("{count} record batches where at most {max} are allowed")]
    TooManyBatches {
        /// Batches found.
        count: usize,
        /// Batches allowed.
        max: usize,
    },
    /// A control batch where only data batches are allowed (clients may not send markers).
    #[error("control batch at base offset {base_offset} is not allowed here")]
    ControlBatchNotAllowed {
        /// The batch's base offset as sent.
        base_offset: i64,
    },
    /// A transactional batch without a producer id.
    #[error("transactional batch without a producer id (producer id {producer_id})")]
    TransactionalWithoutProducerId {
        /// The producer id in the header.
        producer_id: i64,
    },
    /// Records whose offset deltas do not run 0, 1, 2, ...
    #[error("record {index} has offset delta {offset_delta}, expected {index}")]
    OffsetDeltaOutOfOrder {
        /// Position of the record.
        index: usize,
        /// Its offset delta.
        offset_delta: i32,
    },
    /// A record without a key where keys are required (compacted topics).
    #[error("record {index} has no key, which a compacted topic requires")]
    MissingKey {
        /// Position of the record.
        index: usize,
    },
    /// A control record whose key or value does not parse.
    #[error("invalid control record: {0}")]
    InvalidControlRecord(DecodeError),
    /// A compressed legacy wrapper nested inside another.
    #[error("compressed legacy message nested inside a compressed wrapper at offset {offset}")]
    NestedCompression {
        /// The offset field of the inner wrapper.
        offset: i64,
    },
    /// A legacy message (magic 0 or 1) that does not parse.
    #[error("invalid legacy message")]
    InvalidLegacyMessage(#[source] DecodeError),
    /// A value too large for its length field when encoding.
    #[error("cannot encode the batch")]
    Encode(#[from] EncodeError),
}

impl RecordError {
    /// The Kafka error code a produce response carries for this failure.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::BatchTooLarge { .. } | Self::DecompressedTooLarge { .. } => {
                ErrorCode::MessageTooLarge
            }
            // Produce v3+ carries only magic 2; Kafka rejects anything else as an invalid record.
            Self::UnsupportedMagic(_)
            | Self::Empty
            | Self::TooManyBatches { .. }
            | Self::NoRecords { .. }
            | Self::ControlBatchNotAllowed { .. }
            | Self::TransactionalWithoutProducerId { .. }
            | Self::OffsetDeltaOutOfOrder { .. }
            | Self::LastOffsetDeltaMismatch { .. }
            | Self::MissingKey { .. } => ErrorCode::InvalidRecord,
            Self::Encode(_) | Self::Compress { .. } => ErrorCode::UnknownServerError,
            Self::Truncated { .. }
            | Self::InvalidBatchLength(_)
            | Self::CorruptCrc { .. }
            | Self::UnsupportedCompression(_)
            | Self::Decompress { .. }
            | Self::InvalidRecord { .. }
            | Self::InvalidRecordCount(_)
            | Self::TrailingRecordBytes { .. }
            | Self::InvalidControlRecord(_)
            | Self::NestedCompression { .. }
            | Self::InvalidLegacyMessage(_) => ErrorCode::CorruptMessage,
        }
    }
}

/// An I/O error from a codec, shared so that [`RecordError`] stays `Clone`.
///
/// Two are equal when they have the same kind and message: enough for tests, which compare
/// errors, and the codecs never report anything a caller would tell apart otherwise.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct CodecError(Arc<io::Error>);

impl CodecError {
    /// The underlying I/O error.
    pub fn io_error(&self) -> &io::Error {
        &self.0
    }
}

impl From<io::Error> for CodecError {
    fn from(error: io::Error) -> Self {
        Self(Arc::new(error))
    }
}

impl PartialEq for CodecError {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind() && self.0.to_string() == other.0.to_string()
    }
}

impl Eq for CodecError {}
