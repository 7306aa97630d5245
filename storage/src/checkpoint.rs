//! Small metadata files next to the segments: the log start offset and recovery point
//! checkpoints and the clean-shutdown marker. Both are plain text, written to a temporary file, fsynced and renamed
//! into place, then the directory is fsynced.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{io_err, IoError, OpenError};

/// Name of the log start offset checkpoint.
pub(crate) const LOG_START_FILE: &str = "log-start-offset.checkpoint";
/// Name of the recovery point checkpoint.
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point.checkpoint";
/// Name of the clean-shutdown marker.
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
const CHECKPOINT_VERSION: &str = "0";
const MARKER_MAGIC: &str = "fjord-clean-shutdown 0";

/// Writes `contents` to `dir/name` atomically and durably.
fn write_atomic(dir: &Path, name: &str, contents: &str) -> Result<(), IoError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(contents.as_bytes())
        .map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    fs::rename(&tmp, &path).map_err(io_err("rename into place", &path))?;
    sync_dir(dir)
}

/// Fsyncs a directory so renames and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), IoError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

/// Persists the log start offset.
pub(crate) fn write_log_start(dir: &Path, offset: i64) -> Result<(), IoError> {
    write_offset(dir, LOG_START_FILE, offset)
}

/// Reads the persisted log start offset, if any.
pub(crate) fn read_log_start(dir: &Path) -> Result<Option<i64>, OpenError> {
    read_offset(dir, LOG_START_FILE)
}

/// Persists the recovery point: every offset below it is on stable storage.
pub(crate) fn write_recovery_point(dir: &Path, offset: i64) -> Result<(), IoError> {
    write_offset(dir, RECOVERY_POINT_FILE, offset)
}

/// Reads the recovery point. A missing or unreadable one is 0: recovery then checks every
/// segment, which costs time but never trusts data that may not be on disk.
pub(crate) fn read_recovery_point(dir: &Path) -> Result<i64, IoError> {
    match read_offset(dir, RECOVERY_POINT_FILE) {
        Ok(point) => Ok(point.unwrap_or(0)),
        Err(OpenError::Io(e)) => Err(e),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "ignoring the recovery point; recovering every segment");
            Ok(0)
        }
    }
}

fn write_offset(dir: &Path, name: &str, offset: i64) -> Result<(), IoError> {
    write_atomic(dir, name, &format!("{CHECKPOINT_VERSION}\n{offset}\n"))
}

fn read_offset(dir: &Path, name: &str) -> Result<Option<i64>, OpenError> {
    let path = dir.join(name);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IoError::new("read", &path, e).into()),
    };
    let bad = |reason: String| OpenError::BadCheckpoint {
        path: path.clone(),
        reason,
    };
    let mut lines = text.lines();
    match lines.next() {
        Some(CHECKPOINT_VERSION) => {}
        other => return Err(bad(format!("unknown version line {other:?}"))),
    }
    let value = lines.next().unwrap_or_default();
    value
        .trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|e| bad(format!("offset {value:?}: {e}")))
}

/// What a clean shutdown recorded about the active segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CleanShutdown {
    /// Base offset of the active segment at shutdown.
    pub(crate) active_base_offset: i64,
    /// Its size in bytes.
    pub(crate) active_size: u64,
    /// The log end offset.
    pub(crate) log_end_offset: i64,
}

impl CleanShutdown {
    fn encode(&self) -> String {
        format!(
            "{MARKER_MAGIC}\nactive_base_offset {}\nactive_size {}\nlog_end_offset {}\n",
            self.active_base_offset, self.active_size, self.log_end_offset
        )
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != MARKER_MAGIC {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            let line = lines.next()?;
            line.strip_prefix(name)?
                .strip_prefix(' ')
                .map(str::to_owned)
        };
        Some(Self {
            active_base_offset: field("active_base_offset")?.parse().ok()?,
            active_size: field("active_size")?.parse().ok()?,
            log_end_offset: field("log_end_offset")?.parse().ok()?,
        })
    }
}

/// Writes the marker; the last step of a clean close.
pub(crate) fn write_clean_marker(dir: &Path, marker: &CleanShutdown) -> Result<(), IoError> {
    write_atomic(dir, CLEAN_SHUTDOWN_FILE, &marker.encode())
}

/// Reads and removes the marker (durably, before anything is appended), so a crash from here
/// on is seen as unclean. A malformed marker counts as absent.
pub(crate) fn take_clean_marker(dir: &Path) -> Result<Option<CleanShutdown>, IoError> {
    let path: PathBuf = dir.join(CLEAN_SHUTDOWN_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IoError::new("read", &path, e)),
    };
    fs::remove_file(&path).map_err(io_err("remove", &path))?;
    sync_dir(dir)?;
    Ok(CleanShutdown::decode(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_start_round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_log_start(dir.path()).unwrap(), None);
        write_log_start(dir.path(), 1234).unwrap();
        assert_eq!(read_log_start(dir.path()).unwrap(), Some(1234));
        fs::write(dir.path().join(LOG_START_FILE), "0\nabc\n").unwrap();
        assert!(matches!(
            read_log_start(dir.path()),
            Err(OpenError::BadCheckpoint { .. })
        ));
    }

    #[test]
    fn a_missing_or_garbled_recovery_point_means_recover_everything() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_recovery_point(dir.path()).unwrap(), 0);
        write_recovery_point(dir.path(), 77).unwrap();
        assert_eq!(read_recovery_point(dir.path()).unwrap(), 77);
        fs::write(dir.path().join(RECOVERY_POINT_FILE), "9\n77\n").unwrap();
        assert_eq!(read_recovery_point(dir.path()).unwrap(), 0);
    }

    #[test]
    fn marker_is_consumed_once() {
        let dir = tempfile::tempdir().unwrap();
        let m = CleanShutdown {
            active_base_offset: 10,
            active_size: 999,
            log_end_offset: 42,
        };
        write_clean_marker(dir.path(), &m).unwrap();
        assert_eq!(take_clean_marker(dir.path()).unwrap(), Some(m));
        assert_eq!(take_clean_marker(dir.path()).unwrap(), None);
    }
}
