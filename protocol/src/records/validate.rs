//! Produce-path validation of the `records` field of one partition.
//!
//! [`validate_batches`] works on headers and CRCs alone, without decompressing: the broker's hot
//! path checks each batch, then re-stamps and appends the client's bytes as they are.
//! [`check_record_contents`] is the slower check that walks the records (decompressing them as a
//! capped stream), so that a batch whose CRC is right but whose records are not is refused.

use std::ops::{ControlFlow, Range};

use super::compression::Compression;
use super::header::{verify_crc, BatchHeader, Batches, HEADER_LEN};
use super::legacy::magic_of;
use super::walk::walk_records;
use super::RecordError;

/// The smallest encoded record: seven one-byte fields.
const MIN_RECORD_LEN: usize = 7;

/// Limits a produce request's batches must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationLimits {
    /// Largest batch accepted, header included (the topic's `max.message.bytes`).
    pub max_batch_bytes: usize,
    /// Most batches in one partition's records (Kafka allows exactly one from produce v3 on).
    pub max_batches: usize,
    /// Whether control batches are accepted (not from clients; only the coordinator writes them).
    pub allow_control: bool,
}

impl Default for ValidationLimits {
    fn default() -> Self {
        Self {
            // Kafka's default `max.message.bytes`, 1 MiB plus the record overhead.
            max_batch_bytes: 1_048_588,
            max_batches: 1,
            allow_control: false,
        }
    }
}

/// What the broker needs to know about one validated batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    /// Where the batch lies in the validated bytes.
    pub range: Range<usize>,
    /// Records in the batch.
    pub record_count: i32,
    /// Base offset as the client sent it (the broker overwrites it).
    pub base_offset: i64,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest record timestamp, per the header.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// The codec of the records.
    pub compression: Compression,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
    /// Whether the batch is a control batch.
    pub control: bool,
}

impl BatchSummary {
    /// Sequence of the last record (wrapping past `i32::MAX` as Kafka's sequences do), or -1.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.record_count) - 1;
        // Sequences wrap to 0 after i32::MAX.
        (last % (i64::from(i32::MAX) + 1)) as i32
    }
}

/// The batches of a produce `records` field, each checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidatedBatches {
    /// One summary per batch, in order.
    pub batches: Vec<BatchSummary>,
    /// Records over all batches.
    pub record_count: u64,
}

/// Walks the batches in `bytes` and checks each: magic 2, lengths, CRC, record count against
/// the last offset delta, a known codec, size and control limits. Decompresses nothing.
pub fn validate_batches(
    bytes: &[u8],
    limits: &ValidationLimits,
) -> Result<ValidatedBatches, RecordError> {
    if bytes.is_empty() {
        return Err(RecordError::Empty);
    }
    // Legacy message sets are shorter than a v2 header can be; name their magic, not a length.
    if let Some(magic) = magic_of(bytes).filter(|&m| m != 2) {
        return Err(RecordError::UnsupportedMagic(magic));
    }
    let mut out = ValidatedBatches::default();
    let mut start = 0;
    for item in Batches::new(bytes) {
        let (header, raw) = item?;
        let range = start..start + raw.len();
        start = range.end;
        if out.batches.len() == limits.max_batches {
            return Err(RecordError::TooManyBatches {
                count: out.batches.len() + 1,
                max: limits.max_batches,
            });
        }
        if raw.len() > limits.max_batch_bytes {
            return Err(RecordError::BatchTooLarge {
                size: raw.len(),
                max: limits.max_batch_bytes,
            });
        }
        verify_crc(raw)?;
        if header.record_count < 0 {
            return Err(RecordError::InvalidRecordCount(header.record_count));
        }
        if header.record_count == 0 {
            return Err(RecordError::NoRecords {
                base_offset: header.base_offset,
            });
        }
        if i64::from(header.last_offset_delta) != i64::from(header.record_count) - 1 {
            return Err(RecordError::LastOffsetDeltaMismatch {
                last_offset_delta: header.last_offset_delta,
                record_count: header.record_count,
            });
        }
        let compression = Compression::from_id(header.compression())?;
        if header.is_control() && !limits.allow_control {
            return Err(RecordError::ControlBatchNotAllowed {
                base_offset: header.base_offset,
            });
        }
        if header.is_transactional() && header.producer_id < 0 {
            return Err(RecordError::TransactionalWithoutProducerId {
                producer_id: header.producer_id,
            });
        }
        // Every uncompressed record takes at least 7 bytes, so a count beyond that is a lie
        // worth catching before anyone decodes.
        let payload = raw.len() - HEADER_LEN;
        if compression == Compression::None
            && usize::try_from(header.record_count).map_or(true, |n| n > payload / MIN_RECORD_LEN)
        {
            return Err(RecordError::InvalidRecordCount(header.record_count));
        }
        out.record_count += u64::from(header.record_count.unsigned_abs());
        out.batches.push(BatchSummary {
            range,
            record_count: header.record_count,
            base_offset: header.base_offset,
            base_timestamp: header.base_timestamp,
            max_timestamp: header.max_timestamp,
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            compression,
            transactional: header.is_transactional(),
            control: header.is_control(),
        });
    }
    Ok(out)
}

/// Rules that need the records themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRules {
    /// Cap on a batch's decompressed records.
    pub max_decompressed: usize,
    /// Whether every record needs a key (compacted topics).
    pub require_keys: bool,
}

/// What decoding one batch found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentSummary {
    /// Records decoded.
    pub record_count: usize,
    /// The largest record timestamp (base timestamp plus the largest delta).
    pub max_timestamp: i64,
    /// Offset delta of the record with the largest timestamp (the first such).
    pub offset_delta_of_max_timestamp: i32,
}

/// Walks the records of one complete batch and checks them: each parses (lengths, varints,
/// headers), their number matches the header with no bytes left over, offset deltas run
/// 0, 1, 2, ... and, under `require_keys`, every record has a key. Compressed records are
/// decompressed as a stream capped at `max_decompressed`; no record is materialised. The batch
/// must already have passed [`validate_batches`], whose CRC check is not repeated here: on the
/// produce path that would checksum every byte twice. (Parsing stays bounds-checked whatever
/// the bytes.)
pub fn check_record_contents(
    batch: &[u8],
    rules: &ContentRules,
) -> Result<ContentSummary, RecordError> {
    let header = BatchHeader::parse(batch)?;
    let mut record_count = 0;
    let mut max_timestamp = i64::MIN;
    let mut offset_delta_of_max_timestamp = -1;
    let refused = walk_records(&header, batch, rules.max_decompressed, |index, record| {
        if usize::try_from(record.offset_delta).ok() != Some(index) {
            return ControlFlow::Break(RecordError::OffsetDeltaOutOfOrder {
                index,
                offset_delta: record.offset_delta,
            });
        }
        if rules.require_keys && record.key.is_none() {
            return ControlFlow::Break(RecordError::MissingKey { index });
        }
        let timestamp = header.base_timestamp.saturating_add(record.timestamp_delta);
        if timestamp > max_timestamp {
            max_timestamp = timestamp;
            offset_delta_of_max_timestamp = record.offset_delta;
        }
        record_count += 1;
        ControlFlow::Continue(())
    })?;
    if let Some(error) = refused {
        return Err(error);
    }
    Ok(ContentSummary {
        record_count,
        max_timestamp: if record_count == 0 { -1 } else { max_timestamp },
        offset_delta_of_max_timestamp,
    })
}
