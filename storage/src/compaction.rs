//! Key-based compaction (`cleanup.policy=compact`) of sealed segments.
//!
//! A pass first maps every key to the offset of its latest record across the sealed segments,
//! then rewrites each sealed segment that has something to drop into `<base>.log.cleaned` and
//! swaps it in: the old index files are deleted, the cleaned file is renamed over the old log
//! (atomic), and the indexes are rebuilt from it. Offsets are never changed and batches never
//! reordered; a filtered batch keeps its base offset, base timestamp and last offset delta, so
//! the surviving records' deltas stay valid. Appends and reads continue throughout: appends only
//! touch the active segment, and readers holding an old segment keep its open file.
//!
//! A compressed batch that loses records is re-encoded with its own codec. Kept whole, and their
//! keys not used to drop older records: transactional batches (aborted data must not shadow
//! committed data), control batches, and batches whose records fail to decode.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use fjord_protocol::records::batch::retain_records;
use fjord_protocol::records::{BatchHeader, Record};

use crate::checkpoint::sync_dir;
use crate::error::{io_err, CompactError, IoError};
use crate::log::Log;
use crate::records::{decode, offset_of};
use crate::segment::Segment;

/// What a compaction pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactionReport {
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Bytes of those segments before cleaning.
    pub bytes_before: u64,
    /// Bytes after.
    pub bytes_after: u64,
    /// Records dropped because a later record has the same key.
    pub records_removed: u64,
    /// Tombstones dropped after `delete.retention.ms`.
    pub tombstones_removed: u64,
}

/// Batches whose records compaction may look into.
fn is_cleanable(h: &BatchHeader) -> bool {
    !h.is_transactional() && !h.is_control()
}

/// The records of a batch compaction may look into; `None` for any other batch.
fn cleanable_records(h: &BatchHeader, bytes: &[u8]) -> Option<Vec<Record>> {
    if !is_cleanable(h) {
        return None;
    }
    decode(&Bytes::copy_from_slice(bytes), h).ok()
}

/// Latest offset of every key in the sealed segments.
fn build_key_map(sealed: &[Arc<Segment>]) -> Result<HashMap<Vec<u8>, i64>, IoError> {
    let mut map: HashMap<Vec<u8>, i64> = HashMap::new();
    for seg in sealed {
        seg.for_each_batch(|h, bytes| {
            for r in cleanable_records(h, bytes).unwrap_or_default() {
                if let Some(key) = &r.key {
                    map.insert(key.to_vec(), offset_of(h, &r));
                }
            }
            Ok::<(), IoError>(())
        })?;
    }
    Ok(map)
}

/// Counters of one segment's cleaning.
#[derive(Debug, Default)]
struct Cleaned {
    records_removed: u64,
    tombstones_removed: u64,
    bytes_after: u64,
}

/// Whether record `r` of batch `h` survives.
fn keep(r: &Record, h: &BatchHeader, map: &HashMap<Vec<u8>, i64>, drop_tombstones: bool) -> bool {
    let Some(key) = &r.key else {
        return true;
    };
    let latest = map
        .get(key.as_ref())
        .is_none_or(|&latest| offset_of(h, r) >= latest);
    latest && !(r.value.is_none() && drop_tombstones)
}

/// Writes the cleaned copy of `seg` to `out`; returns `None` when nothing would change.
fn clean_segment(
    seg: &Segment,
    out: &PathBuf,
    map: &HashMap<Vec<u8>, i64>,
    drop_tombstones: bool,
) -> Result<Option<Cleaned>, IoError> {
    let mut cleaned = Cleaned::default();
    let file = File::create(out).map_err(io_err("create", out))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    seg.for_each_batch(|h, bytes| {
        let write =
            |w: &mut BufWriter<File>, b: &[u8]| w.write_all(b).map_err(io_err("write", out));
        let keep_whole = |cleaned: &mut Cleaned, w: &mut BufWriter<File>| {
            cleaned.bytes_after += bytes.len() as u64;
            write(w, bytes)
        };
        let Some(records) = cleanable_records(h, bytes) else {
            return keep_whole(&mut cleaned, &mut w);
        };
        let (kept, dropped): (Vec<_>, Vec<_>) = records
            .into_iter()
            .partition(|r| keep(r, h, map, drop_tombstones));
        if dropped.is_empty() {
            return keep_whole(&mut cleaned, &mut w);
        }
        let rebuilt = if kept.is_empty() {
            Bytes::new()
        } else {
            match retain_records(bytes, &kept) {
                Ok(rebuilt) => rebuilt,
                // Keeping every record is always correct, only less compact.
                Err(_) => return keep_whole(&mut cleaned, &mut w),
            }
        };
        for r in &dropped {
            let superseded = r.key.as_ref().is_some_and(|k| {
                map.get(k.as_ref())
                    .is_some_and(|&latest| offset_of(h, r) < latest)
            });
            if superseded {
                cleaned.records_removed += 1;
            } else {
                cleaned.tombstones_removed += 1;
            }
        }
        cleaned.bytes_after += rebuilt.len() as u64;
        write(&mut w, &rebuilt)
    })?;
    if cleaned.records_removed + cleaned.tombstones_removed == 0 {
        drop(w);
        std::fs::remove_file(out).map_err(io_err("remove", out))?;
        return Ok(None);
    }
    let file = w
        .into_inner()
        .map_err(|e| IoError::new("flush", out, e.into_error()))?;
    file.sync_all().map_err(io_err("fsync", out))?;
    Ok(Some(cleaned))
}

impl Log {
    /// One compaction pass over the sealed segments (nothing for `cleanup.policy=delete`):
    /// keeps the latest record per key, drops tombstones in segments whose newest timestamp is
    /// older than `now_ms - delete.retention.ms`, never changes offsets. Appends and reads go on
    /// meanwhile; each cleaned segment is swapped in atomically.
    pub fn compact(&self, now_ms: i64) -> Result<CompactionReport, CompactError> {
        let config = self.config();
        let mut report = CompactionReport::default();
        if !config.cleanup_policy.compacts() {
            return Ok(report);
        }
        let _maintenance = self.maintenance_lock();
        let segments = self.segment_snapshot();
        let Some((_, sealed)) = segments.split_last() else {
            return Ok(report);
        };
        let sealed: Vec<Arc<Segment>> = sealed.iter().filter(|s| s.is_sealed()).cloned().collect();
        let map = build_key_map(&sealed)?;
        for seg in &sealed {
            let drop_tombstones =
                now_ms.saturating_sub(seg.stats().max_timestamp) > config.delete_retention_ms;
            let paths = seg.paths().clone();
            let cleaned_path = PathBuf::from(format!("{}.cleaned", paths.log.display()));
            let Some(cleaned) = clean_segment(seg, &cleaned_path, &map, drop_tombstones)? else {
                continue;
            };
            seg.retire()?;
            // Index files go first: a crash after the rename finds no stale index and rebuilds.
            for p in [&paths.index, &paths.time_index] {
                std::fs::remove_file(p).map_err(io_err("remove index", p))?;
            }
            std::fs::rename(&cleaned_path, &paths.log)
                .map_err(io_err("swap in cleaned segment", &paths.log))?;
            sync_dir(self.dir())?;
            let fresh = Arc::new(Segment::open_sealed(
                self.dir(),
                seg.base_offset(),
                self.index_settings(),
            )?);
            self.replace_segment(seg, fresh);
            report.segments_cleaned += 1;
            report.bytes_before += seg.size();
            report.bytes_after += cleaned.bytes_after;
            report.records_removed += cleaned.records_removed;
            report.tombstones_removed += cleaned.tombstones_removed;
        }
        Ok(report)
    }
}
