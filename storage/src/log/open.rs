//! Opening a log directory: listing segments, cleaning leftovers, recovering the tail.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::{index_settings, Log, Writer};
use crate::checkpoint::{self, CleanShutdown};
use crate::config::LogConfig;
use crate::durability::GroupCommit;
use crate::error::{io_err, IoError, OpenError};
use crate::segment::{IndexSettings, Segment};

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

/// Opens the last segment: cheaply after a clean shutdown that matches what is on disk,
/// otherwise with a full recovery scan.
fn open_active(
    dir: &Path,
    base: i64,
    settings: IndexSettings,
    marker: Option<CleanShutdown>,
) -> Result<Segment, IoError> {
    if let Some(m) = marker.filter(|m| m.active_base_offset == base) {
        if let Some(seg) = Segment::open_active_clean(dir, base, settings)? {
            if seg.size() == m.active_size && seg.stats().next_offset == m.log_end_offset {
                return Ok(seg);
            }
        }
        tracing::warn!(dir = %dir.display(), "clean-shutdown marker does not match the log; recovering");
    }
    let (seg, cut) = Segment::recover(dir, base, settings)?;
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

        let (mut segments, mut active) = if let Some((&last, sealed)) = bases.split_last() {
            let mut segments = Vec::with_capacity(bases.len());
            for &base in sealed {
                segments.push(Arc::new(Segment::open_sealed(dir, base, settings)?));
            }
            let active = Arc::new(open_active(dir, last, settings, marker)?);
            segments.push(active.clone());
            (segments, active)
        } else {
            let base = checkpointed_start.unwrap_or(0).max(0);
            let active = Arc::new(Segment::create(dir, base, settings)?);
            (vec![active.clone()], active)
        };
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
        Ok(Log {
            dir: dir.to_path_buf(),
            config: RwLock::new(Arc::new(config)),
            segments: RwLock::new(Arc::new(segments)),
            writer: Mutex::new(Writer {
                active,
                messages_since_flush: 0,
                last_flush_ms: None,
            }),
            log_start: AtomicI64::new(log_start),
            log_end: AtomicI64::new(log_end),
            commit: GroupCommit::new(0),
            maintenance: Mutex::new(()),
            epoch: AtomicU64::new(1),
        })
    }
}
