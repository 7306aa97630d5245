//! Moving the ends of the log: time rolling, retention, `DeleteRecords`, truncation.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{index_settings, Log, MaintenanceReport};
use crate::checkpoint;
use crate::config::LogConfig;
use crate::error::{AppendError, DeleteError, IoError, MaintainError};
use crate::segment::Segment;

/// Newest timestamp of a segment for retention: its max timestamp, or the file's modification
/// time when it holds no timestamps (as Kafka does).
fn retention_timestamp(seg: &Segment) -> i64 {
    let ts = seg.stats().max_timestamp;
    if ts >= 0 {
        return ts;
    }
    std::fs::metadata(&seg.paths().log)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(i64::MAX, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        })
}

/// How many leading segments retention may delete (the active one included when non-empty).
fn expired_prefix(
    segments: &[Arc<Segment>],
    config: &LogConfig,
    log_start: i64,
    now_ms: i64,
) -> usize {
    let mut n = 0;
    // Segments wholly below the log start offset (DeleteRecords).
    while segments
        .get(n + 1)
        .is_some_and(|next| next.base_offset() <= log_start)
    {
        n += 1;
    }
    if !config.cleanup_policy.deletes() {
        return n;
    }
    let non_empty = |s: &Arc<Segment>| s.size() > 0;
    // A sealed segment that compaction emptied holds nothing to keep: it must not shield the
    // expired segments after it (its timestamp would be the file's mtime, i.e. the compaction).
    let emptied = |s: &Arc<Segment>| s.is_sealed() && !non_empty(s);
    if config.retention_ms >= 0 {
        let expired = |s: &Arc<Segment>| {
            non_empty(s) && now_ms.saturating_sub(retention_timestamp(s)) > config.retention_ms
        };
        let by_time = segments
            .iter()
            .take_while(|s| emptied(s) || expired(s))
            .count();
        n = n.max(by_time);
    }
    if config.retention_bytes >= 0 {
        let total: u64 = segments.iter().map(|s| s.size()).sum();
        let mut excess = i128::from(total) - i128::from(config.retention_bytes);
        let by_size = segments
            .iter()
            .take_while(|s| {
                let size = i128::from(s.size());
                if (non_empty(s) || emptied(s)) && excess - size >= 0 {
                    excess -= size;
                    true
                } else {
                    false
                }
            })
            .count();
        n = n.max(by_size);
    }
    n
}

impl Log {
    /// Periodic upkeep with the time injected: rolls the active segment by `segment.ms`, fsyncs
    /// per `flush.ms`, deletes whole segments by retention time and size and below the log
    /// start offset, moves the log start offset, and unmaps idle sealed segments' indexes.
    pub fn maintain(&self, now_ms: i64) -> Result<MaintenanceReport, MaintainError> {
        let _maintenance = self.maintenance.lock();
        let config = self.config();
        let mut report = MaintenanceReport::default();
        let mut flush_due = false;
        {
            let mut w = self.writer.lock();
            let aged = w.active.size() > 0
                && w.active
                    .stats()
                    .first_batch_timestamp
                    .is_some_and(|first| now_ms.saturating_sub(first) > config.segment_ms);
            if aged {
                self.roll(&mut w, &config)?;
                report.rolled = true;
            }
            if let (Some(interval), Some(last)) = (config.flush.interval_ms, w.last_flush_ms) {
                if now_ms.saturating_sub(last) >= interval && w.messages_since_flush > 0 {
                    flush_due = true;
                    w.messages_since_flush = 0;
                    w.last_flush_ms = Some(now_ms);
                }
            }
        }
        if flush_due {
            self.sync_through(self.log_end_offset())?;
            report.flushed = true;
        }

        let segments = self.segments();
        let n = expired_prefix(&segments, &config, self.log_start_offset(), now_ms);
        if n > 0 {
            if n >= segments.len() {
                // Everything expired, the active segment included: roll so it can go.
                let mut w = self.writer.lock();
                if Arc::ptr_eq(&w.active, &segments[segments.len() - 1]) {
                    self.roll(&mut w, &config)?;
                    report.rolled = true;
                }
            }
            let victims: Vec<Arc<Segment>> = segments.iter().take(n).cloned().collect();
            let (count, bytes) = self.delete_segments(&victims)?;
            report.deleted_segments = count;
            report.deleted_bytes = bytes;
        }

        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        for seg in self.segments().iter() {
            if seg.release_idle_indexes(epoch - 1)? {
                report.released_indexes += 1;
            }
        }
        report.log_start_offset = self.log_start_offset();
        Ok(report)
    }

    /// Removes `victims` (a prefix of the segment list, never the active segment) and deletes
    /// their files; moves the log start offset to the new first segment. Returns the number of
    /// segments and bytes removed.
    fn delete_segments(&self, victims: &[Arc<Segment>]) -> Result<(usize, u64), IoError> {
        let active = self.writer.lock().active.clone();
        let victims: Vec<&Arc<Segment>> = victims
            .iter()
            .filter(|v| !Arc::ptr_eq(v, &active))
            .collect();
        if victims.is_empty() {
            return Ok((0, 0));
        }
        let mut new_first = None;
        self.update_segments(|list| {
            list.retain(|s| !victims.iter().any(|v| Arc::ptr_eq(s, v)));
            new_first = list.first().map(|s| s.base_offset());
        });
        if let Some(first) = new_first {
            self.log_start.fetch_max(first, Ordering::AcqRel);
        }
        let mut bytes = 0;
        for v in &victims {
            bytes += v.size();
            v.delete_files()?;
        }
        tracing::info!(dir = %self.dir.display(), segments = victims.len(), bytes, "deleted segments");
        Ok((victims.len(), bytes))
    }

    /// `DeleteRecords`: moves the log start offset up to `offset` (persisted in the checkpoint
    /// before anything is deleted) and deletes segments wholly below it. Returns the new log
    /// start offset (the low watermark).
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, DeleteError> {
        let _maintenance = self.maintenance.lock();
        let log_end_offset = self.log_end_offset();
        if offset > log_end_offset || offset < 0 {
            return Err(DeleteError::OffsetOutOfRange {
                requested: offset,
                log_end_offset,
            });
        }
        if offset <= self.log_start_offset() {
            return Ok(self.log_start_offset());
        }
        checkpoint::write_log_start(&self.dir, offset)?;
        self.log_start.fetch_max(offset, Ordering::AcqRel);
        let segments = self.segments();
        let below: Vec<Arc<Segment>> = segments
            .iter()
            .zip(segments.iter().skip(1))
            .take_while(|(_, next)| next.base_offset() <= offset)
            .map(|(s, _)| s.clone())
            .collect();
        self.delete_segments(&below)?;
        Ok(self.log_start_offset())
    }

    /// Removes every batch from the one holding `offset` on (follower truncation). The log end
    /// becomes `offset`, or the base of the batch `offset` fell inside. Truncating below the log
    /// start empties the log and restarts it at `offset`.
    pub fn truncate_to(&self, offset: i64) -> Result<(), AppendError> {
        let _maintenance = self.maintenance.lock();
        let config = self.config();
        let settings = index_settings(&config);
        let mut w = self.writer.lock();
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        let segments = self.segments();
        let first_base = segments.first().map_or(0, |s| s.base_offset());
        if offset < self.log_start_offset() || offset <= first_base {
            let offset = offset.max(0);
            self.update_segments(Vec::clear);
            for s in segments.iter() {
                s.delete_files()?;
            }
            let fresh = Arc::new(Segment::create(&self.dir, offset, settings)?);
            self.update_segments(|list| list.push(fresh.clone()));
            w.active = fresh;
            checkpoint::write_log_start(&self.dir, offset)?;
            self.log_start.store(offset, Ordering::Release);
            self.log_end.store(offset, Ordering::Release);
            self.commit.truncated_to(offset);
            return Ok(());
        }
        let idx = segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        let (keep, drop_list) = segments.split_at(idx + 1);
        let Some(target) = keep.last().cloned() else {
            return Ok(());
        };
        self.update_segments(|list| list.truncate(idx + 1));
        for s in drop_list {
            s.delete_files()?;
        }
        let new_end = target.truncate_to(offset)?;
        let active = if target.size() == 0 || target.is_sealed() {
            if target.size() == 0 {
                self.update_segments(|list| {
                    list.pop();
                });
                target.delete_files()?;
            } else {
                // A sealed segment stays sealed (it may be compacted, with offset gaps); appends
                // go to a fresh segment, so recovery only ever scans gap-free segments.
                target.seal()?;
                self.used(&target);
            }
            let fresh = Arc::new(Segment::create(&self.dir, new_end, settings)?);
            self.update_segments(|list| list.push(fresh.clone()));
            fresh
        } else {
            target
        };
        w.active = active;
        if new_end < self.log_start_offset() {
            checkpoint::write_log_start(&self.dir, new_end)?;
            self.log_start.store(new_end, Ordering::Release);
        }
        self.log_end.store(new_end, Ordering::Release);
        self.commit.truncated_to(new_end);
        self.sealed.truncated_to(new_end)?;
        Ok(())
    }
}
