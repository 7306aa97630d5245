//! Fetch reads and timestamp lookups.

use bytes::Bytes;

use super::{Log, ReadOptions, ReadResult, TimestampOffset};
use crate::error::ReadError;

impl Log {
    /// Reads whole batches starting with the batch that holds `offset`, up to `max_bytes` (at
    /// least one batch with `opts.min_one_batch`), never reaching `opts.max_offset`. Reads from
    /// one segment at a time, like Kafka; `offset == log end` gives an empty result.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        opts: ReadOptions,
    ) -> Result<ReadResult, ReadError> {
        let log_end_offset = self.log_end_offset();
        let log_start_offset = self.log_start_offset();
        if offset < log_start_offset || offset > log_end_offset {
            return Err(ReadError::OffsetOutOfRange {
                requested: offset,
                log_start_offset,
                log_end_offset,
            });
        }
        let empty = ReadResult {
            bytes: Bytes::new(),
            first_offset: offset,
            next_offset: offset,
            log_start_offset,
            log_end_offset,
        };
        let limit = opts
            .max_offset
            .map_or(log_end_offset, |m| m.min(log_end_offset));
        if offset >= limit {
            return Ok(empty);
        }
        let segments = self.segments();
        let first = segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        for seg in segments.iter().skip(first) {
            if seg.base_offset() >= limit {
                break;
            }
            self.used(seg);
            let read = match seg.read(offset, max_bytes, limit, opts.min_one_batch) {
                // Retention or DeleteRecords deleted it after the snapshot was taken.
                Err(_) if seg.is_deleted() => {
                    return Err(ReadError::OffsetOutOfRange {
                        requested: offset,
                        log_start_offset: self.log_start_offset(),
                        log_end_offset,
                    })
                }
                other => other?,
            };
            // A segment with nothing at or after `offset` (its tail was compacted away) hands
            // over to the next one.
            if let Some(r) = read {
                if r.bytes.is_empty() {
                    return Ok(empty);
                }
                return Ok(ReadResult {
                    bytes: r.bytes,
                    first_offset: r.first_offset,
                    next_offset: r.next_offset,
                    log_start_offset,
                    log_end_offset,
                });
            }
        }
        Ok(empty)
    }

    /// The first record (at or after the log start) whose timestamp is at least `ts`, with its
    /// timestamp (Kafka `ListOffsets` by timestamp). `None` when every record is older.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<TimestampOffset>, ReadError> {
        let start = self.log_start_offset();
        for seg in self.segments().iter() {
            if seg.stats().max_timestamp < ts {
                continue;
            }
            self.used(seg);
            let found = match seg.find_timestamp(ts, start) {
                // Deleted by retention meanwhile: its records are gone, the next segment answers.
                Err(_) if seg.is_deleted() => continue,
                other => other?,
            };
            if let Some(hit) = found {
                return Ok(Some(TimestampOffset {
                    offset: hit.offset,
                    timestamp: hit.timestamp,
                }));
            }
        }
        Ok(None)
    }

    /// The earliest record holding the largest timestamp in the log (`ListOffsets` with
    /// `MAX_TIMESTAMP`). `None` for an empty log.
    pub fn max_timestamp_offset(&self) -> Option<TimestampOffset> {
        let start = self.log_start_offset();
        let segments = self.segments();
        let mut best: Option<(usize, crate::segment::SegmentStats)> = None;
        for (i, seg) in segments.iter().enumerate() {
            let below_start = segments
                .get(i + 1)
                .is_some_and(|next| next.base_offset() <= start);
            let stats = seg.stats();
            if below_start || stats.max_timestamp < 0 {
                continue;
            }
            if best.is_none_or(|(_, b)| stats.max_timestamp > b.max_timestamp) {
                best = Some((i, stats));
            }
        }
        let (i, stats) = best?;
        let fallback = TimestampOffset {
            offset: stats.offset_of_max_timestamp.max(start),
            timestamp: stats.max_timestamp,
        };
        let seg = segments.get(i)?;
        self.used(seg);
        match seg.find_timestamp(
            stats.max_timestamp,
            start.max(stats.offset_of_max_timestamp),
        ) {
            Ok(Some(hit)) => Some(TimestampOffset {
                offset: hit.offset,
                timestamp: hit.timestamp,
            }),
            Ok(None) => Some(fallback),
            Err(e) => {
                tracing::warn!(error = %e, "max timestamp lookup fell back to batch granularity");
                Some(fallback)
            }
        }
    }
}
