//! Key-based compaction (`cleanup.policy=compact`) of sealed segments.
//!
//! A pass first maps keys to the offset of their latest record across the sealed segments,
//! then rewrites each sealed segment that has something to drop into `<base>.log.cleaned` and
//! swaps it in: the old index files are deleted, the cleaned file is renamed over the old log
//! (atomic), and the indexes are rebuilt from it. Offsets are never changed and batches never
//! reordered; a filtered batch keeps its base offset, base timestamp and last offset delta, so
//! the surviving records' deltas stay valid. Appends and reads continue throughout: appends only
//! touch the active segment, and readers holding an old segment keep its open file.
//!
//! A segment that cleaning empties is removed rather than swapped, unless it is the log's first
//! (whose base offset the log start may rest on): a read of its offsets hands over to the next
//! segment either way, and a compacted log whose keys keep being rewritten (a group
//! coordinator's offsets) would otherwise gather empty segments without end. Kafka gets there
//! by merging neighbouring segments as it cleans them.
//!
//! A compressed batch that loses records is re-encoded with its own codec. Kept whole, and their
//! keys not used to drop older records: transactional batches (aborted data must not shadow
//! committed data), control batches, and batches whose records fail to decode.
//!
//! The key map has a fixed capacity (`compaction_map_entries`, see [`key_map`]). When the sealed
//! segments hold more keys, compaction runs several passes: each maps the keys of the next
//! stretch of offsets, as many as fit, and cleans every segment below that stretch's end. A
//! record is then dropped in the pass that maps the later record of its key, so the result is
//! the one a single pass with an unbounded map would give.

mod key_map;

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
use key_map::KeyMap;

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
    /// Passes run: more than one when the sealed segments hold more keys than the key map.
    pub passes: usize,
    /// Segments removed because cleaning left nothing of them (counted in `segments_cleaned`).
    pub segments_removed: usize,
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

/// Why mapping keys stopped early.
#[derive(Debug)]
enum MapStop {
    /// The map is full.
    Full,
    /// Reading a segment failed.
    Io(IoError),
}

impl From<IoError> for MapStop {
    fn from(e: IoError) -> Self {
        Self::Io(e)
    }
}

/// Latest offset of the keys of records at or after `from` in the sealed segments, as many keys
/// as `capacity` allows; the map's end says how far it got.
fn build_key_map(sealed: &[Arc<Segment>], from: i64, capacity: usize) -> Result<KeyMap, IoError> {
    let mut map = KeyMap::new(capacity);
    let next_bases = sealed.iter().skip(1).map(|s| Some(s.base_offset()));
    for (seg, next_base) in sealed.iter().zip(next_bases.chain([None])) {
        // Wholly mapped by an earlier pass.
        if next_base.is_some_and(|next| next <= from) {
            continue;
        }
        let walked = seg.for_each_batch(|h, bytes| {
            if h.last_offset() < from {
                return Ok(());
            }
            for r in cleanable_records(h, bytes).unwrap_or_default() {
                let offset = offset_of(h, &r);
                let Some(key) = &r.key else { continue };
                if offset >= from && !map.insert(key, offset) {
                    map.full_at(offset);
                    return Err(MapStop::Full);
                }
            }
            Ok(())
        });
        match walked {
            Ok(()) => {}
            Err(MapStop::Full) => break,
            Err(MapStop::Io(e)) => return Err(e),
        }
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

/// What cleaning did with a segment.
enum Swapped {
    /// The cleaned copy took its place.
    Replaced(Arc<Segment>),
    /// Nothing of it was left, and it left the log.
    Removed,
}

/// Whether record `r` of batch `h` survives this pass.
fn keep(r: &Record, h: &BatchHeader, map: &KeyMap, drop_tombstones: bool) -> bool {
    let Some(key) = &r.key else {
        return true;
    };
    let offset = offset_of(h, r);
    if offset >= map.end() {
        // Not mapped yet: a later pass decides.
        return true;
    }
    let latest = map.latest(key).is_none_or(|latest| offset >= latest);
    latest && !(r.value.is_none() && drop_tombstones)
}

/// Whether `r` has a later record of its key in `map` (rather than being an expired tombstone).
fn superseded(r: &Record, h: &BatchHeader, map: &KeyMap) -> bool {
    r.key
        .as_ref()
        .and_then(|k| map.latest(k))
        .is_some_and(|latest| offset_of(h, r) < latest)
}

/// Writes the cleaned copy of `seg` to `out`; returns `None` when nothing would change.
fn clean_segment(
    seg: &Segment,
    out: &PathBuf,
    map: &KeyMap,
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
            if superseded(r, h, map) {
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
        let mut sealed: Vec<Arc<Segment>> =
            sealed.iter().filter(|s| s.is_sealed()).cloned().collect();
        let mut from = i64::MIN;
        loop {
            let map = build_key_map(&sealed, from, config.compaction_map_entries)?;
            report.passes += 1;
            for seg in &mut sealed {
                if seg.base_offset() >= map.end() {
                    break;
                }
                let drop_tombstones =
                    now_ms.saturating_sub(seg.stats().max_timestamp) > config.delete_retention_ms;
                if let Some((fresh, cleaned)) = self.clean_and_swap(seg, &map, drop_tombstones)? {
                    report.segments_cleaned += 1;
                    report.bytes_before += seg.size();
                    report.bytes_after += cleaned.bytes_after;
                    report.records_removed += cleaned.records_removed;
                    report.tombstones_removed += cleaned.tombstones_removed;
                    match fresh {
                        Swapped::Replaced(fresh) => *seg = fresh,
                        Swapped::Removed => report.segments_removed += 1,
                    }
                }
            }
            sealed.retain(|s| !s.is_deleted());
            if map.end() == i64::MAX {
                break;
            }
            tracing::debug!(dir = %self.dir().display(), keys = map.len(), end = map.end(), "key map full; compacting in another pass");
            from = map.end();
        }
        Ok(report)
    }

    /// Writes the cleaned copy of `seg` and swaps it in, or removes `seg` when nothing of it is
    /// left; `None` when nothing would change.
    fn clean_and_swap(
        &self,
        seg: &Arc<Segment>,
        map: &KeyMap,
        drop_tombstones: bool,
    ) -> Result<Option<(Swapped, Cleaned)>, CompactError> {
        let paths = seg.paths().clone();
        let cleaned_path = PathBuf::from(format!("{}.cleaned", paths.log.display()));
        let Some(cleaned) = clean_segment(seg, &cleaned_path, map, drop_tombstones)? else {
            return Ok(None);
        };
        seg.retire()?;
        if cleaned.bytes_after == 0 && self.remove_segment_unless_first(seg) {
            std::fs::remove_file(&cleaned_path).map_err(io_err("remove", &cleaned_path))?;
            // Readers still holding it keep its open file; nothing reopens it by path.
            paths.delete()?;
            sync_dir(self.dir())?;
            return Ok(Some((Swapped::Removed, cleaned)));
        }
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
        self.replace_segment(seg, fresh.clone());
        Ok(Some((Swapped::Replaced(fresh), cleaned)))
    }
}
