//! Legacy message sets (magic 0 and 1), read only.
//!
//! Old producers send these; the broker detects them, validates them and can convert them to a
//! v2 batch. Layout of one entry (big-endian): offset i64, message size i32 (bytes after this
//! field), CRC-32 (IEEE) u32 over the rest, magic i8, attributes i8, timestamp i64 (magic 1
//! only), key (i32 length, -1 null), value (same).
//!
//! A compressed entry is a wrapper whose value is a whole inner message set. Inner offsets are
//! absolute in magic 0; in magic 1 they are relative and the wrapper carries the absolute offset
//! of the last inner message. Wrappers do not nest.
//!
//! Magic 0 LZ4 wrappers come from clients that computed the LZ4 frame descriptor checksum over
//! the wrong bytes; like Kafka, we ignore that checksum for magic 0.

use bytes::Bytes;

use super::batch::RecordBatchBuilder;
use super::compression::{decompress, Compression};
use super::RecordError;
use crate::error::DecodeErrorKind;
use crate::primitives::{fail, finish, int32, int64, int8, len32, share, take, uint32, PResult};

/// Where the magic byte sits in every format (v0, v1 and v2 batches alike).
pub const MAGIC_AT: usize = 16;
/// Offset and size fields before each message.
const ENTRY_OVERHEAD: usize = 12;
/// Attribute bits of the codec.
const COMPRESSION_MASK: i8 = 0x07;
/// Attribute bit of `LogAppendTime` (magic 1).
const LOG_APPEND_TIME: i8 = 0x08;
/// Timestamp of messages that have none.
const NO_TIMESTAMP: i64 = -1;

/// One legacy message, after wrappers are unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyMessage {
    /// The message's offset (absolute; see the module notes).
    pub offset: i64,
    /// 0 or 1.
    pub magic: i8,
    /// Attributes of the message itself (an unpacked message keeps its own, not its wrapper's).
    pub attributes: i8,
    /// The timestamp (magic 1), or `None` (magic 0).
    pub timestamp: Option<i64>,
    /// The key, or `None` for null.
    pub key: Option<Bytes>,
    /// The value, or `None` for null.
    pub value: Option<Bytes>,
}

/// What validating a legacy message set found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacySummary {
    /// Magic of the first entry (all entries must share it).
    pub magic: i8,
    /// Messages after unpacking wrappers.
    pub message_count: usize,
    /// Whether any entry is a compressed wrapper.
    pub compressed: bool,
    /// Largest timestamp seen, or -1.
    pub max_timestamp: i64,
}

/// The magic byte of the first batch or message in `bytes`, if there are enough bytes.
pub fn magic_of(bytes: &[u8]) -> Option<i8> {
    bytes.get(MAGIC_AT).map(|&b| b as i8)
}

/// An entry as it is on the wire, before unpacking.
struct Entry {
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: Option<i64>,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn field<'a, T>(name: &'static str, result: PResult<'a, T>) -> PResult<'a, T> {
    result.map_err(|e| e.map(|e| e.in_field(name)))
}

fn nullable_bytes<'a>(source: &Bytes, input: &'a [u8]) -> PResult<'a, Option<Bytes>> {
    let (rest, len) = len32(input)?;
    match len {
        None => Ok((rest, None)),
        Some(n) => take(rest, n).map(|(rest, raw)| (rest, Some(share(source, raw)))),
    }
}

/// Parses one entry, checking its CRC.
fn parse_entry<'a>(source: &Bytes, input: &'a [u8]) -> PResult<'a, Entry> {
    let (rest, offset) = field("offset", int64(input))?;
    let (rest, size) = field("message_size", int32(rest))?;
    let Ok(size) = usize::try_from(size) else {
        return field(
            "message_size",
            fail(rest, DecodeErrorKind::InvalidLength(size.into())),
        );
    };
    let (after, message) = field("message", take(rest, size))?;
    let (body, crc) = field("crc", uint32(message))?;
    if crc32fast::hash(body) != crc {
        return field(
            "crc",
            fail(message, DecodeErrorKind::Invalid("CRC-32 mismatch")),
        );
    }
    let (rest, magic) = field("magic", int8(body))?;
    if !(0..=1).contains(&magic) {
        return field(
            "magic",
            fail(body, DecodeErrorKind::Invalid("magic is not 0 or 1")),
        );
    }
    let (rest, attributes) = field("attributes", int8(rest))?;
    let (rest, timestamp) = if magic == 1 {
        let (rest, ts) = field("timestamp", int64(rest))?;
        (rest, Some(ts))
    } else {
        (rest, None)
    };
    let (rest, key) = field("key", nullable_bytes(source, rest))?;
    let (rest, value) = field("value", nullable_bytes(source, rest))?;
    if !rest.is_empty() {
        return field(
            "message",
            fail(rest, DecodeErrorKind::TrailingBytes(rest.len())),
        );
    }
    Ok((
        after,
        Entry {
            offset,
            magic,
            attributes,
            timestamp,
            key,
            value,
        },
    ))
}

/// Parses every entry of a message set that must be complete. Errors name the entry and give
/// the offset from the start of `bytes`.
fn parse_entries(source: &Bytes, bytes: &[u8]) -> Result<Vec<Entry>, RecordError> {
    let mut entries = Vec::with_capacity(bytes.len() / (ENTRY_OVERHEAD + 14));
    let mut rest = bytes;
    while !rest.is_empty() {
        let index = entries.len();
        // `rest` is a suffix of `bytes`, so offsets come out relative to `bytes`.
        let result = parse_entry(source, rest).map_err(|e| e.map(|e| e.in_element(index)));
        let (used, entry) =
            finish(result, bytes.len()).map_err(RecordError::InvalidLegacyMessage)?;
        rest = &bytes[used..];
        entries.push(entry);
    }
    Ok(entries)
}

/// Decompresses a wrapper's value; for magic 0 LZ4 the frame descriptor checksum is repaired
/// first (see the module notes).
fn unpack(
    entry: &Entry,
    codec: Compression,
    max_decompressed: usize,
) -> Result<Bytes, RecordError> {
    let value = entry.value.as_deref().unwrap_or_default();
    if codec == Compression::Lz4 && entry.magic == 0 {
        let repaired = repair_lz4_descriptor_checksum(value);
        return decompress(codec, &repaired, max_decompressed).map(Bytes::from);
    }
    decompress(codec, value, max_decompressed).map(Bytes::from)
}

/// Rewrites the header checksum byte of an LZ4 frame to the correct value.
fn repair_lz4_descriptor_checksum(frame: &[u8]) -> Vec<u8> {
    let mut fixed = frame.to_vec();
    // Magic (4), FLG, BD, then 8 bytes of content size when FLG bit 3 is set, then HC.
    let Some(&flg) = frame.get(4) else {
        return fixed;
    };
    let hc_at = if flg & 0x08 != 0 { 14 } else { 6 };
    if let (Some(descriptor), true) = (frame.get(4..hc_at), hc_at < frame.len()) {
        let hash = twox_hash::XxHash32::oneshot(0, descriptor);
        fixed[hc_at] = (hash >> 8) as u8;
    }
    fixed
}

/// Parses a legacy message set, unpacking compressed wrappers, into its messages. Each wrapper
/// may decompress to at most `max_decompressed` bytes.
pub fn parse_message_set(
    bytes: &Bytes,
    max_decompressed: usize,
) -> Result<Vec<LegacyMessage>, RecordError> {
    unpack_message_set(bytes, max_decompressed).map(|(messages, _)| messages)
}

/// Parses and unpacks a message set; the flag says whether any entry was a wrapper.
fn unpack_message_set(
    bytes: &Bytes,
    max_decompressed: usize,
) -> Result<(Vec<LegacyMessage>, bool), RecordError> {
    let mut out = Vec::new();
    let mut compressed = false;
    for entry in parse_entries(bytes, bytes)? {
        let codec_id = entry.attributes & COMPRESSION_MASK;
        // zstd (4) never existed for magic 0 and 1.
        let codec = match Compression::from_id(codec_id.into())? {
            Compression::Zstd => return Err(RecordError::UnsupportedCompression(codec_id.into())),
            codec => codec,
        };
        if codec == Compression::None {
            out.push(message(&entry, entry.offset, entry.timestamp));
            continue;
        }
        compressed = true;
        let inner_bytes = unpack(&entry, codec, max_decompressed)?;
        let inner = parse_entries(&inner_bytes, &inner_bytes)?;
        let last_relative = inner.last().map_or(0, |e| e.offset);
        for item in &inner {
            if item.attributes & COMPRESSION_MASK != 0 {
                return Err(RecordError::NestedCompression {
                    offset: item.offset,
                });
            }
            let offset = if entry.magic == 1 {
                entry
                    .offset
                    .saturating_sub(last_relative)
                    .saturating_add(item.offset)
            } else {
                item.offset
            };
            let timestamp = if entry.attributes & LOG_APPEND_TIME != 0 {
                entry.timestamp
            } else {
                item.timestamp
            };
            out.push(message(item, offset, timestamp));
        }
    }
    Ok((out, compressed))
}

fn message(entry: &Entry, offset: i64, timestamp: Option<i64>) -> LegacyMessage {
    LegacyMessage {
        offset,
        magic: entry.magic,
        attributes: entry.attributes,
        timestamp,
        key: entry.key.clone(),
        value: entry.value.clone(),
    }
}

/// Validates a legacy message set (CRCs, lengths, one magic throughout) and counts its
/// messages, decompressing wrappers to at most `max_decompressed` bytes each.
pub fn validate_message_set(
    bytes: &Bytes,
    max_decompressed: usize,
) -> Result<LegacySummary, RecordError> {
    let (messages, compressed) = unpack_message_set(bytes, max_decompressed)?;
    let Some(first) = messages.first() else {
        return Err(RecordError::Empty);
    };
    if let Some(other) = messages.iter().find(|m| m.magic != first.magic) {
        return Err(RecordError::UnsupportedMagic(other.magic));
    }
    Ok(LegacySummary {
        magic: first.magic,
        message_count: messages.len(),
        compressed,
        max_timestamp: messages
            .iter()
            .filter_map(|m| m.timestamp)
            .max()
            .unwrap_or(NO_TIMESTAMP),
    })
}

/// Converts legacy messages to one v2 batch with consecutive offsets from the first message's
/// offset. Magic 0 messages get no timestamp (-1).
pub fn to_v2_batch(
    messages: &[LegacyMessage],
    compression: Compression,
) -> Result<Bytes, RecordError> {
    let base_offset = messages.first().map_or(0, |m| m.offset);
    let mut builder = RecordBatchBuilder::new()
        .base_offset(base_offset)
        .compression(compression);
    for m in messages {
        builder.push(
            m.timestamp.unwrap_or(NO_TIMESTAMP),
            m.key.clone(),
            m.value.clone(),
            Vec::new(),
        );
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_is_read_at_byte_16() {
        let mut bytes = vec![0u8; 17];
        bytes[16] = 1;
        assert_eq!(magic_of(&bytes), Some(1));
        assert_eq!(magic_of(&bytes[..16]), None);
    }

    #[test]
    fn lz4_descriptor_checksum_is_repaired() {
        let good = super::super::compression::compress(Compression::Lz4, b"abc").unwrap();
        let mut broken = good.clone();
        broken[6] ^= 0x55;
        assert_eq!(repair_lz4_descriptor_checksum(&broken), good);
    }
}
