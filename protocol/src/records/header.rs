//! The fixed 61-byte header of a v2 record batch, read and re-stamped in place.
//!
//! The broker never decodes records on the produce path: it checks the header and the CRC, then
//! rewrites the base offset, leader epoch and (for `LogAppendTime` topics) the max timestamp in
//! the client's own bytes before appending them.
//!
//! Layout (big-endian): base offset i64 @0, batch length i32 @8 (bytes after this field),
//! partition leader epoch i32 @12, magic i8 @16, CRC-32C u32 @17 (over bytes 21..end),
//! attributes i16 @21, last offset delta i32 @23, base timestamp i64 @27, max timestamp i64 @35,
//! producer id i64 @43, producer epoch i16 @51, base sequence i32 @53, record count i32 @57.

use super::RecordError;

/// Size of the v2 batch header; records start here.
pub const HEADER_LEN: usize = 61;
/// Bytes before the batch length field's end: base offset and the length itself.
pub const LOG_OVERHEAD: usize = 12;
/// Offset of the batch length field.
const LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
/// The CRC covers everything from the attributes to the end of the batch.
const CRC_FROM: usize = 21;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORD_COUNT_AT: usize = 57;

/// Attribute bits of a v2 batch.
pub mod attributes {
    /// Mask of the compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub const COMPRESSION_MASK: i16 = 0x07;
    /// Set when timestamps are the broker's append time.
    pub const LOG_APPEND_TIME: i16 = 0x08;
    /// Set on batches written inside a transaction.
    pub const TRANSACTIONAL: i16 = 0x10;
    /// Set on control batches (transaction markers).
    pub const CONTROL: i16 = 0x20;
    /// Set when the base timestamp holds the delete horizon of a compacted batch.
    pub const DELETE_HORIZON: i16 = 0x40;
}

/// The header fields of one v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field; the whole batch is `batch_length + 12` bytes.
    pub batch_length: i32,
    /// Leader epoch stamped by the broker.
    pub partition_leader_epoch: i32,
    /// Format version; 2 for these batches.
    pub magic: i8,
    /// CRC-32C of the bytes from the attributes to the end.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// Offset of the last record minus the base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Idempotent producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(raw)
}

impl BatchHeader {
    /// Reads the header at the front of `bytes`. Checks the magic and that the batch length is
    /// sane, but not that the whole batch is present (see [`batch_len`]) nor the CRC.
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() < HEADER_LEN {
            return Err(RecordError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        }
        let magic = bytes[MAGIC_AT] as i8;
        if magic != 2 {
            return Err(RecordError::UnsupportedMagic(magic));
        }
        let batch_length = i32_at(bytes, LENGTH_AT);
        if usize::try_from(batch_length).map_or(true, |n| n + LOG_OVERHEAD < HEADER_LEN) {
            return Err(RecordError::InvalidBatchLength(batch_length));
        }
        Ok(Self {
            base_offset: i64_at(bytes, 0),
            batch_length,
            partition_leader_epoch: i32_at(bytes, LEADER_EPOCH_AT),
            magic,
            crc: u32::from_be_bytes([
                bytes[CRC_AT],
                bytes[CRC_AT + 1],
                bytes[CRC_AT + 2],
                bytes[CRC_AT + 3],
            ]),
            attributes: i16_at(bytes, ATTRIBUTES_AT),
            last_offset_delta: i32_at(bytes, LAST_OFFSET_DELTA_AT),
            base_timestamp: i64_at(bytes, BASE_TIMESTAMP_AT),
            max_timestamp: i64_at(bytes, MAX_TIMESTAMP_AT),
            producer_id: i64_at(bytes, PRODUCER_ID_AT),
            producer_epoch: i16_at(bytes, PRODUCER_EPOCH_AT),
            base_sequence: i32_at(bytes, BASE_SEQUENCE_AT),
            record_count: i32_at(bytes, RECORD_COUNT_AT),
        })
    }

    /// Total size of the batch on the wire, header included.
    pub fn total_len(&self) -> usize {
        // parse() rejected negative lengths.
        self.batch_length as usize + LOG_OVERHEAD
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & attributes::COMPRESSION_MASK
    }

    /// Whether this is a control batch (transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes & attributes::CONTROL != 0
    }

    /// Whether this batch was written inside a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & attributes::TRANSACTIONAL != 0
    }

    /// Whether the timestamps are the broker's append time.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & attributes::LOG_APPEND_TIME != 0
    }
}

/// Size of the batch at the front of `bytes` as its header claims, once 12 bytes are present.
/// Used by log recovery and by splitting a produce payload into batches.
pub fn batch_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < LOG_OVERHEAD {
        return None;
    }
    usize::try_from(i32_at(bytes, LENGTH_AT))
        .ok()
        .map(|n| n + LOG_OVERHEAD)
}

/// CRC-32C of the part of `batch` the header's CRC covers.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_FROM..])
}

/// Checks the CRC of one complete batch.
pub fn verify_crc(batch: &[u8]) -> Result<(), RecordError> {
    let header = BatchHeader::parse(batch)?;
    if batch.len() != header.total_len() {
        return Err(RecordError::Truncated {
            needed: header.total_len(),
            available: batch.len(),
        });
    }
    let actual = compute_crc(batch);
    if actual != header.crc {
        return Err(RecordError::CorruptCrc {
            expected: header.crc,
            actual,
        });
    }
    Ok(())
}

/// Rewrites the fields the broker owns, in place: the base offset and leader epoch (outside the
/// CRC) and, when `log_append_time` is set, the timestamp type and max timestamp, which the CRC
/// covers, so the CRC is then recomputed. `batch` must be one complete, validated batch; bytes
/// too short to hold a v2 header are refused untouched rather than written in part.
pub fn restamp(
    batch: &mut [u8],
    base_offset: i64,
    leader_epoch: i32,
    log_append_time: Option<i64>,
) -> Result<(), RecordError> {
    let available = batch.len();
    let (head, rest) = batch
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(RecordError::Truncated {
            needed: HEADER_LEN,
            available,
        })?;
    let mut header = [0; HEADER_LEN];
    header.copy_from_slice(head);
    restamp_header(
        &mut header,
        rest,
        base_offset,
        leader_epoch,
        log_append_time,
    );
    head.copy_from_slice(&header);
    Ok(())
}

/// [`restamp`] on a copy of a batch's header, `rest` being the batch's bytes after it (read only
/// to recompute the CRC under `LogAppendTime`): the broker writes the new header and the client's
/// bytes after it as they came, without copying the batch to re-stamp it.
pub fn restamp_header(
    header: &mut [u8; HEADER_LEN],
    rest: &[u8],
    base_offset: i64,
    leader_epoch: i32,
    log_append_time: Option<i64>,
) {
    header[0..8].copy_from_slice(&base_offset.to_be_bytes());
    header[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&leader_epoch.to_be_bytes());
    if let Some(now) = log_append_time {
        let attrs = i16_at(header, ATTRIBUTES_AT) | attributes::LOG_APPEND_TIME;
        header[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attrs.to_be_bytes());
        header[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&now.to_be_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&header[CRC_FROM..]), rest);
        header[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    }
}

/// Iterates over the complete batches in a concatenation of batches (a `records` field or a log
/// segment), yielding each batch's bytes. Stops with an error at the first batch whose header is
/// invalid or that is cut short; a caller that tolerates a partial tail (a fetch response cut at
/// `max_bytes`) uses [`Batches::remainder`] instead.
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    rest: &'a [u8],
}

impl<'a> Batches<'a> {
    /// Iterates over the batches in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The bytes not yet yielded.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = BatchHeader::parse(self.rest).and_then(|header| {
            let len = header.total_len();
            if self.rest.len() < len {
                return Err(RecordError::Truncated {
                    needed: len,
                    available: self.rest.len(),
                });
            }
            let (batch, rest) = self.rest.split_at(len);
            self.rest = rest;
            Ok((header, batch))
        });
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}
