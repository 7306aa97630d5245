//! Finding batches in a segment by offset or timestamp and reading them out.

use std::ops::ControlFlow;

use bytes::Bytes;
use fjord_protocol::records::compression::MAX_DECOMPRESSED_BYTES;
use fjord_protocol::records::header::HEADER_LEN;
use fjord_protocol::records::{walk_records, BatchHeader, Batches};

use super::Segment;
use crate::error::ReadError;

/// Whole batches read from one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentRead {
    /// The batches, possibly empty.
    pub(crate) bytes: Bytes,
    /// Base offset of the first batch.
    pub(crate) first_offset: i64,
    /// Offset after the last batch returned.
    pub(crate) next_offset: i64,
}

/// A record found by timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimestampHit {
    /// Its offset.
    pub(crate) offset: i64,
    /// Its timestamp.
    pub(crate) timestamp: i64,
}

impl Segment {
    /// The header of the complete batch at `pos`, or `None` when no complete batch starts there
    /// below `size` (end of the segment).
    pub(crate) fn header_at(&self, pos: u64, size: u64) -> Result<Option<BatchHeader>, ReadError> {
        if pos + HEADER_LEN as u64 > size {
            return Ok(None);
        }
        let mut head = [0u8; HEADER_LEN];
        if self.read_at_most(pos, &mut head)? < HEADER_LEN {
            // Truncated under us: nothing here any more.
            return Ok(None);
        }
        let header = BatchHeader::parse(&head).map_err(|source| ReadError::Corrupt {
            path: self.paths.log.clone(),
            position: pos,
            source,
        })?;
        if pos + header.total_len() as u64 > size {
            return Ok(None);
        }
        Ok(Some(header))
    }

    /// Position and header of the first batch whose last offset is at least `offset`.
    pub(crate) fn locate(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, ReadError> {
        self.locate_from(offset, self.size())
    }

    fn locate_from(&self, offset: i64, size: u64) -> Result<Option<(u64, BatchHeader)>, ReadError> {
        let mut pos = u64::from(self.with_indexes(|ix, _| ix.lookup(offset))?.0);
        while let Some(h) = self.header_at(pos, size)? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.total_len() as u64;
        }
        Ok(None)
    }

    /// Reads whole batches starting with the one holding `offset` (or the first after it), up to
    /// `max_bytes` (but at least one batch when `min_one_batch`), stopping before any batch that
    /// reaches `max_offset`. `None` means this segment has nothing at or after `offset`.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<Option<SegmentRead>, ReadError> {
        let size = self.size();
        let Some((pos, first)) = self.locate_from(offset, size)? else {
            return Ok(None);
        };
        let empty = SegmentRead {
            bytes: Bytes::new(),
            first_offset: first.base_offset,
            next_offset: offset,
        };
        if first.last_offset() >= max_offset {
            return Ok(Some(empty));
        }
        let first_len = first.total_len() as u64;
        let mut want = (max_bytes as u64).min(size - pos);
        if first_len > want {
            if !min_one_batch {
                return Ok(Some(empty));
            }
            want = first_len;
        }
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(usize::MAX)];
        let got = self.read_at_most(pos, &mut buf)?;
        buf.truncate(got);
        let mut end = 0;
        let mut next_offset = offset;
        for item in Batches::new(&buf) {
            let Ok((h, batch)) = item else { break };
            if h.last_offset() >= max_offset {
                break;
            }
            end += batch.len();
            next_offset = h.last_offset() + 1;
        }
        let mut bytes = Bytes::from(buf);
        bytes.truncate(end);
        Ok(Some(SegmentRead {
            bytes,
            first_offset: first.base_offset,
            next_offset,
        }))
    }

    /// The first record at or after `min_offset` whose timestamp is at least `ts`. Exact per
    /// record (compressed batches are walked too); for `LogAppendTime` batches, and batches
    /// whose records cannot be walked within the decompression cap, the batch's first offset
    /// (not below `min_offset`) and its max timestamp.
    pub(crate) fn find_timestamp(
        &self,
        ts: i64,
        min_offset: i64,
    ) -> Result<Option<TimestampHit>, ReadError> {
        let size = self.size();
        let start = self.with_indexes(|ix, time| {
            let from = time.lookup(ts).max(min_offset);
            ix.lookup(from)
        })?;
        let mut pos = u64::from(start.0);
        while let Some(h) = self.header_at(pos, size)? {
            if h.max_timestamp >= ts && h.last_offset() >= min_offset {
                if let Some(hit) = self.find_in_batch(pos, &h, ts, min_offset)? {
                    return Ok(Some(hit));
                }
            }
            pos += h.total_len() as u64;
        }
        Ok(None)
    }

    fn find_in_batch(
        &self,
        pos: u64,
        h: &BatchHeader,
        ts: i64,
        min_offset: i64,
    ) -> Result<Option<TimestampHit>, ReadError> {
        let whole_batch = TimestampHit {
            offset: h.base_offset.max(min_offset),
            timestamp: h.max_timestamp,
        };
        // With LogAppendTime every record's timestamp is the batch's max timestamp.
        if h.is_log_append_time() {
            return Ok(Some(whole_batch));
        }
        // A header that claims more than the segment holds is a damaged tail: nothing to
        // read, and nothing to allocate for.
        let size = self.size();
        if pos.saturating_add(h.total_len() as u64) > size {
            return Ok(None);
        }
        let mut buf = vec![0u8; h.total_len()];
        if self.read_at_most(pos, &mut buf)? < buf.len() {
            return Ok(None);
        }
        // The records are walked as frames, compressed ones through a capped stream: memory is
        // the batch plus a window, whatever the batch claims to decompress to.
        let found = walk_records(h, &buf, MAX_DECOMPRESSED_BYTES, |_, r| {
            let offset = h.base_offset.saturating_add(i64::from(r.offset_delta));
            let timestamp = h.base_timestamp.saturating_add(r.timestamp_delta);
            if offset >= min_offset && timestamp >= ts {
                ControlFlow::Break(TimestampHit { offset, timestamp })
            } else {
                ControlFlow::Continue(())
            }
        });
        match found {
            Ok(hit) => Ok(hit),
            // Undecodable records: fall back to batch granularity rather than fail the lookup.
            Err(_) => Ok(Some(whole_batch)),
        }
    }
}
