//! Opening a log directory: listing segments, cleaning leftovers, recovering the tail.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::{index_settings, Log, OpenFiles, Writer};
use crate::checkpoint::{self, sync_dir, CleanShutdown};
use crate::config::LogConfig;
use crate::durability::GroupCommit;
use crate::error::{io_err, IoError, OpenError};
use crate::flusher::SealedSync;
use crate::page_cache::PageCacheBudget;
use crate::segment::{Check, IndexSettings, Segment, SegmentPaths};

/// Suffixes of files left by an interrupted compaction or checkpoint write.
const LEFTOVER_SUFFIXES: [&str; 3] = [".cleaned", ".swap", ".tmp"];

/// Base offsets of the `.log` files in `dir`, sorted; removes leftovers and orphaned indexes.
fn list_segments(dir: &Path) -> Result<Vec<i64>, OpenError> {
    let entries = fs::read_dir(dir).map_err(io_err("list", dir))?;
    let mut logs = Vec::new();
    let mut indexes = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if LEFTOVER_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            fs::remove_file(&path).map_err(io_err("remove leftover", &path))?;
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if !matches!(ext, "log" | "index" | "timeindex") {
            continue;
        }
        let base = match stem.parse::<i64>() {
            Ok(b) if stem.len() == 20 && b >= 0 => b,
            _ => return Err(OpenError::BadFileName(path)),
        };
        if ext == "log" {
            logs.push(base);
        } else {
            indexes.push((base, path));
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            fs::remove_file(&path).map_err(io_err("remove orphaned index", &path))?;
        }
    }
    Ok(logs)
}

/// The segments of a log directory as opened.
struct Opened {
    /// Every segment, oldest first, the active one included.
    segments: Vec<Arc<Segment>>,
    /// The last segment, appended to.
    active: Arc<Segment>,
    /// Sealed segments that recovery checked but that may not be on disk, each with its end.
    unsynced: Vec<(Arc<Segment>, i64)>,
}

/// Opens the segments with base offsets `sealed` (sorted) and `last`. Sealed segments are trusted
/// after a clean shutdown, or when they end at or below the recovery point; every other one is
/// checked batch by batch. The first one found damaged is cut at the damage and every segment
/// after it deleted (their data follows a hole), and appends go on in a fresh segment.
fn open_segments(
    dir: &Path,
    (sealed, last): (&[i64], i64),
    settings: IndexSettings,
    clean: Option<CleanShutdown>,
    recovery_point: i64,
) -> Result<Opened, IoError> {
    let mut segments = Vec::with_capacity(sealed.len() + 1);
    let mut unsynced = Vec::new();
    let ends = sealed.iter().skip(1).chain([&last]);
    for (i, (&base, &end)) in sealed.iter().zip(ends).enumerate() {
        if clean.is_some() || end <= recovery_point {
            segments.push(Arc::new(Segment::open_sealed(dir, base, settings)?));
            continue;
        }
        let (seg, cut) = Segment::recover(dir, base, settings, Check::Sealed)?;
        seg.seal_indexes()?;
        // Opening a log holds no sealed segment's files; reads open them as needed.
        seg.release_files();
        let seg = Arc::new(seg);
        segments.push(seg.clone());
        if cut > 0 {
            let later = sealed.iter().skip(i + 1).chain([&last]);
            tracing::warn!(dir = %dir.display(), base, cut, dropped = sealed.len() - i, "sealed segment damaged; dropping the segments after it");
            for &b in later {
                SegmentPaths::new(dir, b).delete()?;
            }
            let active = Arc::new(Segment::create(dir, seg.stats().next_offset, settings)?);
            sync_dir(dir)?;
            segments.push(active.clone());
            return Ok(Opened {
                segments,
                active,
                unsynced,
            });
        }
        unsynced.push((seg, end));
    }
    let active = Arc::new(open_active(dir, last, settings, clean)?);
    segments.push(active.clone());
    Ok(Opened {
        segments,
        active,
        unsynced,
    })
}

/// Opens the last segment: cheaply after a clean shutdown that matches what is on disk,
/// otherwise with a full recovery scan.
fn open_active(
    dir: &Path,
    base: i64,
    settings: IndexSettings,
    clean: Option<CleanShutdown>,
) -> Result<Segment, IoError> {
    if let Some(m) = clean {
        if let Some(seg) = Segment::open_active_clean(dir, base, settings)? {
            if seg.size() == m.active_size && seg.stats().next_offset == m.log_end_offset {
                return Ok(seg);
            }
        }
        tracing::warn!(dir = %dir.display(), "clean-shutdown marker does not match the log; recovering");
    }
    let (seg, cut) = Segment::recover(dir, base, settings, Check::Strict)?;
    if cut > 0 {
        tracing::warn!(dir = %dir.display(), base, cut, "recovery truncated damaged bytes");
    }
    Ok(seg)
}

impl Log {
    /// Opens the log in `dir`, creating the directory and a first segment if needed, and
    /// recovering after an unclean shutdown (see `docs/storage-format.md`).
    pub fn open(dir: &Path, config: LogConfig) -> Result<Log, OpenError> {
        fs::create_dir_all(dir).map_err(io_err("create log directory", dir))?;
        let bases = list_segments(dir)?;
        let marker = checkpoint::take_clean_marker(dir)?;
        let checkpointed_start = checkpoint::read_log_start(dir)?;
        let settings = index_settings(&config);
        let recovery_point = checkpoint::read_recovery_point(dir)?;

        let opened = match bases.split_last() {
            Some((&last, sealed)) => {
                let clean = marker.filter(|m| m.active_base_offset == last);
                open_segments(dir, (sealed, last), settings, clean, recovery_point)?
            }
            None => {
                let base = checkpointed_start.unwrap_or(0).max(0);
                let active = Arc::new(Segment::create(dir, base, settings)?);
                Opened {
                    segments: vec![active.clone()],
                    active,
                    unsynced: Vec::new(),
                }
            }
        };
        let Opened {
            mut segments,
            mut active,
            unsynced,
        } = opened;
        let mut log_end = active.stats().next_offset;
        let first_base = segments.first().map_or(0, |s| s.base_offset());
        let log_start = checkpointed_start.unwrap_or(first_base).max(first_base);
        if log_start > log_end {
            // DeleteRecords moved the start past data a crash then lost: start over there.
            tracing::warn!(dir = %dir.display(), log_start, log_end, "log start beyond recovered end; emptying log");
            for seg in &segments {
                seg.delete_files()?;
            }
            let seg = Arc::new(Segment::create(dir, log_start, settings)?);
            segments = vec![seg.clone()];
            active = seg;
            log_end = log_start;
        }
        let cache_share = config.page_cache.as_ref().map(PageCacheBudget::join);
        let sealed = SealedSync::new(dir.to_path_buf(), recovery_point);
        for (segment, end) in unsynced {
            sealed.seal(segment, end, config.page_cache.clone());
        }
        Ok(Log {
            dir: dir.to_path_buf(),
            config: RwLock::new(Arc::new(config)),
            segments: RwLock::new(Arc::new(segments)),
            writer: Mutex::new(Writer {
                active,
                messages_since_flush: 0,
                last_flush_ms: None,
                unwritten_back: 0,
            }),
            log_start: AtomicI64::new(log_start),
            log_end: AtomicI64::new(log_end),
            commit: GroupCommit::new(0),
            sealed,
            maintenance: Mutex::new(()),
            epoch: AtomicU64::new(1),
            open_files: OpenFiles::default(),
            cache_share: Mutex::new(cache_share),
        })
    }
}
