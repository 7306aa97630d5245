//! The records inside a stored batch, decoded (and decompressed) by the protocol crate.
//!
//! Compaction needs each record's key and whether it is a tombstone, so it decodes one batch at a
//! time and memory is bounded by one batch. (Timestamp lookups only walk the records, with
//! `fjord_protocol::records::walk_records`, and never hold a decompressed batch.)

use bytes::Bytes;
use fjord_protocol::records::batch::decode_records;
use fjord_protocol::records::{BatchHeader, Record, RecordError};

/// Most bytes one stored batch may decompress to. Produce accepted nothing near this (the broker
/// refuses any batch that decompresses past 64 MiB, `MAX_DECOMPRESSED_BYTES`); the cap keeps a
/// damaged or planted segment file from exhausting memory.
const MAX_DECOMPRESSED: usize = 256 << 20;

/// The records of `batch`, one whole stored batch whose parsed header is `header`.
pub(crate) fn decode(batch: &Bytes, header: &BatchHeader) -> Result<Vec<Record>, RecordError> {
    decode_records(header, batch, MAX_DECOMPRESSED)
}

/// The absolute offset of `record` in the batch of `header`.
pub(crate) fn offset_of(header: &BatchHeader, record: &Record) -> i64 {
    header
        .base_offset
        .saturating_add(i64::from(record.offset_delta))
}
