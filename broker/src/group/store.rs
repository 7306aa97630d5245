//! Writing coordinator records to the `__consumer_offsets` log and reading them back.
//!
//! Each append is one uncompressed v2 batch, so the records of one request (a commit of
//! many partitions, a group deletion) land together or not at all.

use bytes::Bytes;
use fjord_protocol::records::{RecordBatch, RecordBatchBuilder, RecordError};
use fjord_storage::{AppendError, AppendOptions, Log, ReadError, ReadOptions};

use super::load::Replay;
use super::record::{LogRecord, RecordFormatError};

/// The internal topic holding offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How much of the log one replay read asks for.
const REPLAY_READ_BYTES: usize = 1 << 20;

/// Why the offsets log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The batch could not be built.
    #[error("building an offsets batch: {0}")]
    Build(#[source] RecordError),
    /// The log refused the append.
    #[error("appending to {OFFSETS_TOPIC}: {0}")]
    Append(#[source] AppendError),
    /// The log could not be read.
    #[error("reading {OFFSETS_TOPIC} at offset {offset}: {source}")]
    Read {
        /// Where the read started.
        offset: i64,
        /// The storage error.
        #[source]
        source: ReadError,
    },
    /// A stored batch did not decode.
    #[error("decoding {OFFSETS_TOPIC} at offset {offset}: {source}")]
    Batch {
        /// Where the read started.
        offset: i64,
        /// The decode error.
        #[source]
        source: RecordError,
    },
    /// A stored record is not one of ours.
    #[error("record at offset {offset} of {OFFSETS_TOPIC}: {source}")]
    Record {
        /// The record's offset.
        offset: i64,
        /// What is wrong with it.
        #[source]
        source: RecordFormatError,
    },
}

/// Appends `records` as one batch.
pub fn append(log: &Log, records: &[LogRecord], now_ms: i64) -> Result<(), StoreError> {
    let mut builder = RecordBatchBuilder::new();
    for record in records {
        builder.push(now_ms, Some(record.key()), record.value(), Vec::new());
    }
    let batch = builder.build().map_err(StoreError::Build)?;
    let opts = AppendOptions {
        leader_epoch: 0,
        log_append_time: None,
        now_ms,
    };
    log.append(&batch, &opts).map_err(StoreError::Append)?;
    Ok(())
}

/// Reads the whole log, from its start to its end, into a [`Replay`].
pub fn replay(log: &Log) -> Result<Replay, StoreError> {
    let mut replay = Replay::default();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let opts = ReadOptions {
            max_offset: Some(end),
            min_one_batch: true,
        };
        let read = log
            .read(offset, REPLAY_READ_BYTES, opts)
            .map_err(|source| StoreError::Read { offset, source })?;
        if read.bytes.is_empty() || read.next_offset <= offset {
            break;
        }
        apply_batches(&mut replay, &read.bytes, offset)?;
        offset = read.next_offset;
    }
    Ok(replay)
}

/// Applies every record at or after `from` in `bytes` (a read may start mid-batch).
fn apply_batches(replay: &mut Replay, bytes: &Bytes, from: i64) -> Result<(), StoreError> {
    let batches =
        RecordBatch::decode_all(bytes, usize::MAX).map_err(|source| StoreError::Batch {
            offset: from,
            source,
        })?;
    for batch in &batches {
        for (offset, _, record) in batch.iter_absolute() {
            if offset < from {
                continue;
            }
            let Some(key) = record.key.as_deref() else {
                continue;
            };
            let decoded = LogRecord::decode(key, record.value.as_deref())
                .map_err(|source| StoreError::Record { offset, source })?;
            replay.apply(decoded);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::types::{CommittedOffset, TopicPartition};
    use fjord_storage::LogConfig;

    fn offset(group: &str, partition: i32, value: Option<i64>) -> LogRecord {
        LogRecord::Offset {
            group_id: group.into(),
            partition: TopicPartition::new("t", partition),
            value: value.map(|offset| CommittedOffset {
                offset,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp_ms: 1,
            }),
        }
    }

    #[test]
    fn appended_records_replay_with_tombstones_applied() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = Log::open(dir.path(), LogConfig::default()).unwrap();
            append(
                &log,
                &[offset("g", 0, Some(1)), offset("g", 1, Some(2))],
                10,
            )
            .unwrap();
            append(&log, &[offset("g", 0, Some(5))], 11).unwrap();
            append(&log, &[offset("g", 1, None)], 12).unwrap();
            log.flush().unwrap();
        }
        let log = Log::open(dir.path(), LogConfig::default()).unwrap();
        let mut coordinator = crate::group::Coordinator::new(crate::group::GroupConfig::default());
        replay(&log).unwrap().install(&mut coordinator, 0);
        let group = &coordinator.groups["g"];
        assert_eq!(group.offsets.len(), 1);
        assert_eq!(group.offsets[&TopicPartition::new("t", 0)].offset, 5);
    }
}
