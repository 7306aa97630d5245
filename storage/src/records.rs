//! A minimal reader for the records inside an uncompressed v2 batch.
//!
//! Compaction needs each record's key and whether it is a tombstone, and timestamp lookups need
//! each record's timestamp. This reads just that, keeping each record's raw bytes so a filtered
//! batch can be rebuilt by copying them (offset and timestamp deltas stay valid because the base
//! offset and base timestamp do not change). To be replaced by `fjord_protocol::records` once it
//! decodes records.

use fjord_protocol::records::header::HEADER_LEN;
use fjord_protocol::records::BatchHeader;

/// One record of a batch, borrowed from the batch bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    /// The whole record, length prefix included.
    pub(crate) raw: &'a [u8],
    /// Offset relative to the batch's base offset.
    pub(crate) offset_delta: i32,
    /// Timestamp relative to the batch's base timestamp.
    pub(crate) timestamp_delta: i64,
    /// The key, `None` for a null key.
    pub(crate) key: Option<&'a [u8]>,
    /// Whether the value is null (a tombstone).
    pub(crate) is_tombstone: bool,
    /// The value, `None` for a tombstone.
    pub(crate) value: Option<&'a [u8]>,
}

/// Why the records of a batch could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed record at byte {at} of the batch")]
pub struct MalformedRecord {
    /// Byte position inside the batch.
    pub at: usize,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self) -> MalformedRecord {
        MalformedRecord { at: self.at }
    }

    fn varlong(&mut self) -> Result<i64, MalformedRecord> {
        let mut raw: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.at).ok_or_else(|| self.err())?;
            self.at += 1;
            raw |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                // Zigzag decoding.
                return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        Err(self.err())
    }

    fn varint(&mut self) -> Result<i32, MalformedRecord> {
        let v = self.varlong()?;
        i32::try_from(v).map_err(|_overflow| self.err())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MalformedRecord> {
        let end = self.at.checked_add(n).ok_or_else(|| self.err())?;
        let out = self.bytes.get(self.at..end).ok_or_else(|| self.err())?;
        self.at = end;
        Ok(out)
    }

    /// A length-prefixed byte string; `None` for length -1.
    fn nullable_bytes(&mut self) -> Result<Option<&'a [u8]>, MalformedRecord> {
        let len = self.varint()?;
        if len < 0 {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }
}

/// Reads the records of an uncompressed batch (`batch` is the whole batch, header included).
pub(crate) fn read_records<'a>(
    batch: &'a [u8],
    header: &BatchHeader,
) -> Result<Vec<RecordView<'a>>, MalformedRecord> {
    let mut cur = Cursor {
        bytes: batch,
        at: HEADER_LEN,
    };
    let count = usize::try_from(header.record_count).map_err(|_negative| cur.err())?;
    // Each record takes at least 7 bytes, so a huge count cannot make us allocate much.
    let mut out = Vec::with_capacity(count.min(batch.len() / 7));
    for _ in 0..count {
        let start = cur.at;
        let len = cur.varint()?;
        let body_start = cur.at;
        let len = usize::try_from(len).map_err(|_negative| cur.err())?;
        let body = cur.take(len)?;
        let mut rec = Cursor { bytes: body, at: 0 };
        rec.take(1)?; // attributes, unused in v2
        let timestamp_delta = rec.varlong()?;
        let offset_delta = rec.varint()?;
        let key = rec.nullable_bytes()?;
        let value = rec.nullable_bytes()?;
        out.push(RecordView {
            raw: batch
                .get(start..body_start + len)
                .ok_or(MalformedRecord { at: start })?,
            offset_delta,
            timestamp_delta,
            key,
            is_tombstone: value.is_none(),
            value,
        });
    }
    Ok(out)
}

/// Appends `v` zigzag-varint encoded to `out`.
pub(crate) fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{BatchSpec, RecordSpec};

    #[test]
    fn reads_keys_tombstones_and_deltas() {
        let batch = BatchSpec::new(1000)
            .record(RecordSpec::new(Some(b"k1"), Some(b"v1")))
            .record(RecordSpec::new(None, Some(b"v2")).timestamp(1005))
            .record(RecordSpec::new(Some(b"k1"), None).header(b"h", b"x"))
            .build();
        let header = BatchHeader::parse(&batch).unwrap();
        let recs = read_records(&batch, &header).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].key, Some(&b"k1"[..]));
        assert!(!recs[0].is_tombstone);
        assert_eq!(recs[1].key, None);
        assert_eq!(recs[1].timestamp_delta, 5);
        assert_eq!(recs[2].offset_delta, 2);
        assert!(recs[2].is_tombstone);
        let total: usize = recs.iter().map(|r| r.raw.len()).sum();
        assert_eq!(HEADER_LEN + total, batch.len());
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let batch = BatchSpec::new(0)
            .record(RecordSpec::new(Some(b"key"), Some(b"value")))
            .build();
        let header = BatchHeader::parse(&batch).unwrap();
        for cut in HEADER_LEN..batch.len() {
            assert!(
                read_records(&batch[..cut], &header).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn varlong_round_trips() {
        for v in [0i64, 1, -1, 63, -64, 64, 300, i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            let mut c = Cursor { bytes: &buf, at: 0 };
            assert_eq!(c.varlong().unwrap(), v);
            assert_eq!(c.at, buf.len());
        }
    }
}
