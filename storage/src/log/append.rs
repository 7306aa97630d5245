//! Appending: offset assignment, rolling, and the durability point.

use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fjord_protocol::records::header::{restamp_header, HEADER_LEN};
use fjord_protocol::records::{Batches, RecordError};

use super::{index_settings, AppendInfo, AppendOptions, Log, Writer};
use crate::config::LogConfig;
use crate::error::{AppendError, IoError};
use crate::page_cache::write_back_bytes;
use crate::segment::{BatchInfo, Segment};

/// One input batch, checked, before re-stamping.
#[derive(Debug, Clone, Copy)]
struct InputBatch {
    position: usize,
    len: usize,
    last_offset_delta: i32,
    max_timestamp: i64,
    record_count: u64,
}

/// Splits the input into batches and checks the facts the log relies on.
fn split_input(bytes: &[u8], max_message_bytes: u32) -> Result<Vec<InputBatch>, AppendError> {
    let mut out = Vec::new();
    let mut position = 0;
    for item in Batches::new(bytes) {
        let (header, batch) =
            item.map_err(|source| AppendError::InvalidBatch { position, source })?;
        if batch.len() > max_message_bytes as usize {
            return Err(AppendError::BatchTooLarge {
                size: batch.len(),
                max: max_message_bytes,
            });
        }
        if header.last_offset_delta < 0 {
            return Err(AppendError::BadOffsetDelta {
                position,
                delta: header.last_offset_delta,
            });
        }
        out.push(InputBatch {
            position,
            len: batch.len(),
            last_offset_delta: header.last_offset_delta,
            max_timestamp: header.max_timestamp,
            record_count: u64::try_from(header.record_count).unwrap_or(0),
        });
        position += batch.len();
    }
    if out.is_empty() {
        return Err(AppendError::Empty);
    }
    Ok(out)
}

impl Log {
    /// Appends one or more concatenated, already validated v2 batches. Assigns consecutive
    /// offsets from the log end and writes each batch with a re-stamped header (base offset,
    /// leader epoch and, for `LogAppendTime`, its timestamp) followed by the rest of its bytes as
    /// given, which are neither copied nor changed. Returns once the data is in the OS page
    /// cache, or on stable storage when the flush policy asks for it.
    pub fn append(&self, batches: &[u8], opts: &AppendOptions) -> Result<AppendInfo, AppendError> {
        let config = self.config();
        let input = split_input(batches, config.max_message_bytes)?;
        let offsets: i64 = input
            .iter()
            .map(|b| i64::from(b.last_offset_delta) + 1)
            .sum();

        let mut w = self.writer.lock();
        let base_offset = self.log_end_offset();
        let last_offset = base_offset + offsets - 1;
        // Kafka ages a segment by record time: the newest timestamp being appended against the
        // segment's first batch, so replaying old data does not roll a segment per append.
        let newest_timestamp = opts.log_append_time.unwrap_or_else(|| {
            input
                .iter()
                .map(|b| b.max_timestamp)
                .max()
                .unwrap_or(i64::MIN)
        });
        if self.should_roll(
            &w,
            &config,
            batches.len() as u64,
            last_offset,
            newest_timestamp,
        ) {
            self.roll(&mut w, &config)?;
        }
        let mut infos = Vec::with_capacity(input.len());
        // Each batch's re-stamped header and the rest of its bytes, as given.
        let mut stamped = Vec::with_capacity(input.len());
        let mut next = base_offset;
        let mut max_timestamp = i64::MIN;
        for b in &input {
            let (header, rest) = batches
                .get(b.position..b.position + b.len)
                .and_then(<[u8]>::split_first_chunk::<HEADER_LEN>)
                .ok_or(AppendError::InvalidBatch {
                    position: b.position,
                    source: RecordError::Truncated {
                        needed: HEADER_LEN,
                        available: b.len,
                    },
                })?;
            let mut header = *header;
            restamp_header(
                &mut header,
                rest,
                next,
                opts.leader_epoch,
                opts.log_append_time,
            );
            stamped.push((header, rest));
            let ts = opts.log_append_time.unwrap_or(b.max_timestamp);
            max_timestamp = max_timestamp.max(ts);
            let last = next + i64::from(b.last_offset_delta);
            infos.push(BatchInfo {
                position: b.position as u64,
                len: b.len as u64,
                base_offset: next,
                last_offset: last,
                max_timestamp: ts,
            });
            next = last + 1;
        }
        let mut slices: Vec<IoSlice<'_>> = stamped
            .iter()
            .flat_map(|(header, rest)| [IoSlice::new(header), IoSlice::new(rest)])
            .collect();
        w.active.append(&mut slices, &infos)?;
        self.log_end.store(next, Ordering::Release);
        w.unwritten_back += batches.len() as u64;
        // Writing back a few MiB at a time keeps the page cache's dirty share small: the kernel
        // starts only once a tenth or so of RAM is dirty, gigabytes, and then writes in a burst
        // that stalls appends for a hundred milliseconds and more.
        if w.unwritten_back >= write_back_bytes(config.page_cache.as_deref()) {
            w.unwritten_back = 0;
            self.sealed
                .write_back(Arc::clone(&w.active), config.page_cache.clone());
        }

        let records: u64 = input.iter().map(|b| b.record_count).sum();
        w.messages_since_flush += records;
        let last_flush = *w.last_flush_ms.get_or_insert(opts.now_ms);
        let flush_due = config
            .flush
            .messages
            .is_some_and(|m| w.messages_since_flush >= m)
            || config
                .flush
                .interval_ms
                .is_some_and(|i| opts.now_ms.saturating_sub(last_flush) >= i);
        if flush_due {
            w.messages_since_flush = 0;
            w.last_flush_ms = Some(opts.now_ms);
        }
        drop(w);
        if config.flush.sync_before_ack || flush_due {
            self.sync_through(next)?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time: opts.log_append_time,
            log_start_offset: self.log_start_offset(),
            max_timestamp,
        })
    }

    /// Kafka's roll rules: the append would overflow the segment, an index is full, relative
    /// offsets would leave the i32 range, or the records being appended are more than
    /// `segment.ms` newer than the segment's first batch.
    fn should_roll(
        &self,
        w: &Writer,
        config: &LogConfig,
        append_len: u64,
        last_offset: i64,
        newest_timestamp: i64,
    ) -> bool {
        let active = &w.active;
        let size = active.size();
        if size == 0 {
            return false;
        }
        // A segment without a real first timestamp (-1, "none") is not aged by records.
        let aged = active.stats().first_batch_timestamp.is_some_and(|first| {
            first >= 0 && newest_timestamp.saturating_sub(first) > config.segment_ms
        });
        size + append_len > config.segment_limit()
            || active.indexes_full()
            || last_offset - active.base_offset() > i64::from(i32::MAX)
            || aged
    }

    /// Seals the active segment and starts a new one at the log end. The sealed segment's data
    /// is fsynced in the background; until then it stays past the recovery point.
    pub(super) fn roll(&self, w: &mut Writer, config: &LogConfig) -> Result<(), IoError> {
        w.active.seal_indexes()?;
        // Freshly sealed segments count as used now: likely read soon by lagging consumers.
        self.used(&w.active);
        let end = self.log_end_offset();
        self.sealed
            .seal(w.active.clone(), end, config.page_cache.clone());
        let next = Arc::new(Segment::create(&self.dir, end, index_settings(config))?);
        self.update_segments(|list| list.push(next.clone()));
        tracing::debug!(dir = %self.dir.display(), base_offset = end, "rolled segment");
        w.active = next;
        // The sealed segment's fsync covers what it held; the new one starts from nothing.
        w.unwritten_back = 0;
        Ok(())
    }

    /// Returns once every offset below `target` is on stable storage; concurrent callers share
    /// one fsync.
    pub(super) fn sync_through(&self, target: i64) -> Result<(), IoError> {
        self.commit.sync_through(target, || {
            let (end, active) = {
                let w = self.writer.lock();
                (self.log_end_offset(), w.active.clone())
            };
            // Sealed segments first: durability up to `end` covers them too.
            self.sealed.flush()?;
            active.sync()?;
            Ok(end)
        })
    }
}
