//! Record batches: the unit a producer sends, the log stores and a consumer fetches.
//!
//! - [`header`]: the fixed v2 batch header, CRC checks and in-place re-stamping.

pub mod header;

pub use header::{BatchHeader, Batches};

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
}
