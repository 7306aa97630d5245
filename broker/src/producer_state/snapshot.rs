//! Producer state snapshots: the state as of an offset, so a restart replays only the log
//! after it.
//!
//! A snapshot is the file `<offset, 20 digits>.producer-snapshot` in the partition directory,
//! holding one v2 record batch (so its CRC guards it) whose base offset is the snapshot offset
//! and whose single record's value is the body below (big-endian):
//!
//! ```text
//! version i16 (1)
//! producer count i32, then per producer:
//!   producer id i64, epoch i16, coordinator epoch i32, last timestamp i64,
//!   open transaction first offset i64 (-1: none),
//!   batch count i8, then per batch: first seq i32, last seq i32, first offset i64,
//!   last offset i64, timestamp i64
//! aborted count i32, then per aborted transaction: producer id i64, first offset i64,
//!   last offset i64
//! ```
//!
//! Files are written to a `.tmp` name, fsynced and renamed, so a crash leaves either the old
//! set of snapshots or the new one; a log open removes `.tmp` leftovers.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use fjord_protocol::records::{RecordBatch, RecordBatchBuilder, RecordError};

use super::{AbortedTxn, BatchMetadata, ProducerEntry, ProducerStates, BATCHES_TO_RETAIN};

/// File name suffix of snapshots.
const SUFFIX: &str = ".producer-snapshot";
/// Body format version.
const VERSION: i16 = 1;
/// Largest snapshot read back, a guard against a damaged length.
const MAX_SNAPSHOT_BYTES: usize = 256 << 20;

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The wrapping batch is damaged.
    #[error("snapshot {path} is damaged: {source}")]
    Batch {
        /// The file.
        path: PathBuf,
        /// What the batch decoder found.
        #[source]
        source: RecordError,
    },
    /// The body does not parse.
    #[error("snapshot {path} is malformed: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: &'static str,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let path = path.to_path_buf();
    move |source| SnapshotError::Io { op, path, source }
}

/// The path of the snapshot at `offset`.
pub fn path_for(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}{SUFFIX}"))
}

/// The offsets of the snapshots in `dir`, ascending.
pub fn list(dir: &Path) -> Result<Vec<i64>, SnapshotError> {
    let mut offsets = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
            continue;
        };
        if let Ok(offset) = stem.parse::<i64>() {
            offsets.push(offset);
        }
    }
    offsets.sort_unstable();
    Ok(offsets)
}

/// Removes the snapshot at `offset`.
pub fn remove(dir: &Path, offset: i64) -> Result<(), SnapshotError> {
    let path = path_for(dir, offset);
    fs::remove_file(&path).map_err(io_err("remove", &path))
}

/// Writes the state as of `offset` durably.
pub fn write(dir: &Path, offset: i64, state: &ProducerStates) -> Result<(), SnapshotError> {
    let path = path_for(dir, offset);
    let mut builder = RecordBatchBuilder::new().base_offset(offset);
    builder.push(0, None, Some(encode_body(state)), Vec::new());
    let batch = builder.build().map_err(|source| SnapshotError::Batch {
        path: path.clone(),
        source,
    })?;
    let tmp = path.with_extension("producer-snapshot.tmp");
    let mut file = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
    file.write_all(&batch).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("fsync", &tmp))?;
    fs::rename(&tmp, &path).map_err(io_err("rename", &tmp))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

/// Reads the snapshot at `offset`.
pub fn read(dir: &Path, offset: i64) -> Result<ProducerStates, SnapshotError> {
    let path = path_for(dir, offset);
    let bytes = Bytes::from(fs::read(&path).map_err(io_err("read", &path))?);
    let batch =
        RecordBatch::decode(&bytes, MAX_SNAPSHOT_BYTES).map_err(|source| SnapshotError::Batch {
            path: path.clone(),
            source,
        })?;
    let malformed = |why| SnapshotError::Malformed {
        path: path.clone(),
        why,
    };
    if batch.header.base_offset != offset {
        return Err(malformed("base offset differs from the file name"));
    }
    let body = batch
        .records
        .first()
        .and_then(|r| r.value.clone())
        .ok_or_else(|| malformed("no body record"))?;
    decode_body(body).ok_or_else(|| malformed("body truncated or of an unknown version"))
}

fn encode_body(state: &ProducerStates) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(VERSION);
    let producers: Vec<_> = state.producers().collect();
    buf.put_i32(i32::try_from(producers.len()).unwrap_or(i32::MAX));
    for (id, entry) in producers {
        buf.put_i64(id);
        buf.put_i16(entry.epoch);
        buf.put_i32(entry.coordinator_epoch);
        buf.put_i64(entry.last_timestamp);
        buf.put_i64(entry.current_txn_first_offset.unwrap_or(-1));
        // At most BATCHES_TO_RETAIN (5) entries.
        buf.put_i8(i8::try_from(entry.batches.len()).unwrap_or(0));
        for b in &entry.batches {
            buf.put_i32(b.first_sequence);
            buf.put_i32(b.last_sequence);
            buf.put_i64(b.first_offset);
            buf.put_i64(b.last_offset);
            buf.put_i64(b.timestamp);
        }
    }
    buf.put_i32(i32::try_from(state.aborted().len()).unwrap_or(i32::MAX));
    for a in state.aborted() {
        buf.put_i64(a.producer_id);
        buf.put_i64(a.first_offset);
        buf.put_i64(a.last_offset);
    }
    buf.freeze()
}

/// Reads one fixed-size value, or `None` when the body is cut short.
macro_rules! take {
    ($buf:expr, $get:ident, $n:expr) => {
        if $buf.remaining() < $n {
            None
        } else {
            Some($buf.$get())
        }
    };
}

fn decode_body(mut buf: Bytes) -> Option<ProducerStates> {
    if take!(buf, get_i16, 2)? != VERSION {
        return None;
    }
    let count = usize::try_from(take!(buf, get_i32, 4)?).ok()?;
    let mut producers = HashMap::new();
    for _ in 0..count {
        let id = take!(buf, get_i64, 8)?;
        let epoch = take!(buf, get_i16, 2)?;
        let coordinator_epoch = take!(buf, get_i32, 4)?;
        let last_timestamp = take!(buf, get_i64, 8)?;
        let txn_first = take!(buf, get_i64, 8)?;
        let batch_count = usize::try_from(take!(buf, get_i8, 1)?).ok()?;
        if batch_count > BATCHES_TO_RETAIN {
            return None;
        }
        let mut batches = VecDeque::with_capacity(batch_count);
        for _ in 0..batch_count {
            batches.push_back(BatchMetadata {
                first_sequence: take!(buf, get_i32, 4)?,
                last_sequence: take!(buf, get_i32, 4)?,
                first_offset: take!(buf, get_i64, 8)?,
                last_offset: take!(buf, get_i64, 8)?,
                timestamp: take!(buf, get_i64, 8)?,
            });
        }
        producers.insert(
            id,
            ProducerEntry {
                epoch,
                batches,
                last_timestamp,
                coordinator_epoch,
                current_txn_first_offset: (txn_first >= 0).then_some(txn_first),
            },
        );
    }
    let aborted_count = usize::try_from(take!(buf, get_i32, 4)?).ok()?;
    let mut aborted = Vec::new();
    for _ in 0..aborted_count {
        aborted.push(AbortedTxn {
            producer_id: take!(buf, get_i64, 8)?,
            first_offset: take!(buf, get_i64, 8)?,
            last_offset: take!(buf, get_i64, 8)?,
        });
    }
    buf.is_empty()
        .then(|| ProducerStates::from_parts(producers, aborted))
}
