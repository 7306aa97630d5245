//! Transaction state records in `__transaction_state`: encoding, appending and replay. The
//! byte layout is in `docs/transaction-state-format.md`.

use std::collections::{BTreeSet, HashMap};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use fjord_protocol::records::{RecordBatch, RecordBatchBuilder, RecordError};
use fjord_storage::{AppendError, AppendOptions, FlushError, Log, ReadError, ReadOptions};

use super::state::{PendingOffset, TxnMetadata, TxnState};

/// The internal topic holding transaction state.
pub const TXN_TOPIC: &str = "__transaction_state";
/// Key and value format version.
const VERSION: i16 = 0;
/// How much of the log one replay read asks for.
const REPLAY_READ_BYTES: usize = 1 << 20;
/// Bound on a decoded batch of the topic.
const MAX_DECOMPRESSED: usize = 64 << 20;

/// Why transaction state could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum TxnStoreError {
    /// The batch could not be built.
    #[error("building a {TXN_TOPIC} batch: {0}")]
    Build(#[source] RecordError),
    /// The log refused the append.
    #[error("appending to {TXN_TOPIC}: {0}")]
    Append(#[source] AppendError),
    /// The appended record could not be made durable.
    #[error("flushing {TXN_TOPIC}: {0}")]
    Flush(#[source] FlushError),
    /// The log could not be read.
    #[error("reading {TXN_TOPIC} at offset {offset}: {source}")]
    Read {
        /// Where the read started.
        offset: i64,
        /// The storage error.
        #[source]
        source: ReadError,
    },
    /// A stored batch did not decode.
    #[error("decoding {TXN_TOPIC} at offset {offset}: {source}")]
    Batch {
        /// Where the read started.
        offset: i64,
        /// The decode error.
        #[source]
        source: RecordError,
    },
    /// A stored record is not one of ours.
    #[error("record at offset {offset} of {TXN_TOPIC} is malformed")]
    Malformed {
        /// The record's offset.
        offset: i64,
    },
}

/// Writes the state of `transactional_id` (`None`: forget it) durably enough to be replayed.
pub fn append(
    log: &Log,
    transactional_id: &str,
    metadata: Option<&TxnMetadata>,
    now_ms: i64,
) -> Result<(), TxnStoreError> {
    let mut builder = RecordBatchBuilder::new();
    builder.push(
        now_ms,
        Some(encode_key(transactional_id)),
        metadata.map(encode_value),
        Vec::new(),
    );
    write(log, &builder, now_ms)
}

/// Writes tombstones for `transactional_ids` in one batch with one flush, so that replay
/// forgets them (expiry can forget many at once).
pub fn forget<'a>(
    log: &Log,
    transactional_ids: impl IntoIterator<Item = &'a str>,
    now_ms: i64,
) -> Result<(), TxnStoreError> {
    let mut builder = RecordBatchBuilder::new();
    for id in transactional_ids {
        builder.push(now_ms, Some(encode_key(id)), None, Vec::new());
    }
    write(log, &builder, now_ms)
}

fn write(log: &Log, builder: &RecordBatchBuilder, now_ms: i64) -> Result<(), TxnStoreError> {
    let bytes = builder.build().map_err(TxnStoreError::Build)?;
    let options = AppendOptions {
        leader_epoch: crate::partition::LEADER_EPOCH,
        log_append_time: None,
        now_ms,
    };
    log.append(&bytes, &options)
        .map_err(TxnStoreError::Append)?;
    // The coordinator's answers depend on this record; make it durable before answering.
    log.flush().map_err(TxnStoreError::Flush)?;
    Ok(())
}

/// Reads the whole log: the latest state of every transactional id not forgotten.
pub fn replay(log: &Log) -> Result<HashMap<String, TxnMetadata>, TxnStoreError> {
    let mut states = HashMap::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let read = log
            .read(
                offset,
                REPLAY_READ_BYTES,
                ReadOptions {
                    max_offset: None,
                    min_one_batch: true,
                },
            )
            .map_err(|source| TxnStoreError::Read { offset, source })?;
        if read.bytes.is_empty() || read.next_offset <= offset {
            break;
        }
        let batches = RecordBatch::decode_all(&read.bytes, MAX_DECOMPRESSED)
            .map_err(|source| TxnStoreError::Batch { offset, source })?;
        for batch in batches {
            for (record_offset, _, record) in batch.iter_absolute() {
                let malformed = || TxnStoreError::Malformed {
                    offset: record_offset,
                };
                let key = record.key.clone().ok_or_else(malformed)?;
                let id = decode_key(key).ok_or_else(malformed)?;
                match record.value.clone() {
                    None => {
                        states.remove(&id);
                    }
                    Some(value) => {
                        states.insert(id, decode_value(value).ok_or_else(malformed)?);
                    }
                }
            }
        }
        offset = read.next_offset;
    }
    Ok(states)
}

fn put_string(buf: &mut BytesMut, s: &str) {
    // Transactional ids, topic names and group ids are far below 32 KiB.
    buf.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
    buf.put_slice(s.as_bytes());
}

fn get_string(buf: &mut Bytes) -> Option<String> {
    if buf.remaining() < 2 {
        return None;
    }
    let len = usize::try_from(buf.get_i16()).ok()?;
    if buf.remaining() < len {
        return None;
    }
    String::from_utf8(buf.split_to(len).to_vec()).ok()
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Reads one fixed-size value, or `None` when the input is cut short.
macro_rules! take {
    ($buf:expr, $get:ident, $n:expr) => {
        if $buf.remaining() < $n {
            None
        } else {
            Some($buf.$get())
        }
    };
}

fn encode_key(transactional_id: &str) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(VERSION);
    put_string(&mut buf, transactional_id);
    buf.freeze()
}

fn decode_key(mut buf: Bytes) -> Option<String> {
    if take!(buf, get_i16, 2)? != VERSION {
        return None;
    }
    get_string(&mut buf)
}

fn encode_value(m: &TxnMetadata) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(VERSION);
    buf.put_i64(m.producer_id);
    buf.put_i64(m.last_producer_id);
    buf.put_i16(m.epoch);
    buf.put_i16(m.last_epoch);
    buf.put_i32(m.timeout_ms);
    buf.put_i8(m.state.id());
    buf.put_i64(m.txn_start_ms);
    buf.put_i64(m.last_update_ms);
    buf.put_i32(count(m.partitions.len()));
    for (topic, partition) in &m.partitions {
        put_string(&mut buf, topic);
        buf.put_i32(*partition);
    }
    buf.put_i32(count(m.groups.len()));
    for group in &m.groups {
        put_string(&mut buf, group);
    }
    buf.put_i32(count(m.pending_offsets.len()));
    for o in &m.pending_offsets {
        put_string(&mut buf, &o.group_id);
        put_string(&mut buf, &o.partition.0);
        buf.put_i32(o.partition.1);
        buf.put_i64(o.offset);
        buf.put_i32(o.leader_epoch);
        put_string(&mut buf, &o.metadata);
    }
    buf.freeze()
}

fn decode_value(mut buf: Bytes) -> Option<TxnMetadata> {
    if take!(buf, get_i16, 2)? != VERSION {
        return None;
    }
    let producer_id = take!(buf, get_i64, 8)?;
    let last_producer_id = take!(buf, get_i64, 8)?;
    let epoch = take!(buf, get_i16, 2)?;
    let last_epoch = take!(buf, get_i16, 2)?;
    let timeout_ms = take!(buf, get_i32, 4)?;
    let state = TxnState::from_id(take!(buf, get_i8, 1)?)?;
    let txn_start_ms = take!(buf, get_i64, 8)?;
    let last_update_ms = take!(buf, get_i64, 8)?;
    let mut partitions = BTreeSet::new();
    for _ in 0..take!(buf, get_i32, 4)? {
        let topic = get_string(&mut buf)?;
        partitions.insert((topic, take!(buf, get_i32, 4)?));
    }
    let mut groups = BTreeSet::new();
    for _ in 0..take!(buf, get_i32, 4)? {
        groups.insert(get_string(&mut buf)?);
    }
    let mut pending_offsets = Vec::new();
    for _ in 0..take!(buf, get_i32, 4)? {
        let group_id = get_string(&mut buf)?;
        let topic = get_string(&mut buf)?;
        pending_offsets.push(PendingOffset {
            group_id,
            partition: (topic, take!(buf, get_i32, 4)?),
            offset: take!(buf, get_i64, 8)?,
            leader_epoch: take!(buf, get_i32, 4)?,
            metadata: get_string(&mut buf)?,
        });
    }
    buf.is_empty().then_some(TxnMetadata {
        producer_id,
        last_producer_id,
        epoch,
        last_epoch,
        timeout_ms,
        state,
        partitions,
        groups,
        pending_offsets,
        txn_start_ms,
        last_update_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_storage::LogConfig;

    #[test]
    fn states_round_trip_through_the_log_and_tombstones_forget() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), LogConfig::default()).unwrap();
        let mut m = TxnMetadata::new(3, 60_000, 1_000);
        m.add([("orders".to_string(), 2)], Some("g".into()), 1_500)
            .unwrap();
        m.pending_offsets.push(PendingOffset {
            group_id: "g".into(),
            partition: ("in".into(), 0),
            offset: 42,
            leader_epoch: -1,
            metadata: "meta".into(),
        });
        append(&log, "a", Some(&TxnMetadata::new(1, 10, 0)), 1_000).unwrap();
        append(&log, "a", Some(&m), 1_500).unwrap();
        append(&log, "b", Some(&m), 1_500).unwrap();
        append(&log, "b", None, 1_600).unwrap();
        let states = replay(&log).unwrap();
        assert_eq!(states.len(), 1);
        assert_eq!(states.get("a"), Some(&m));
        append(&log, "c", Some(&m), 1_700).unwrap();
        forget(&log, ["a", "c"], 1_800).unwrap();
        assert!(replay(&log).unwrap().is_empty(), "one batch forgets both");
    }
}
