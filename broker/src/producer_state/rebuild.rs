//! Replaying the log's batch headers into producer state, from a snapshot's offset (or the
//! log start) to the log end. Data batches are read by header only; control batches are
//! decoded for their marker type.

use bytes::Bytes;
use fjord_protocol::records::header::{BatchHeader, Batches};
use fjord_protocol::records::{ControlRecordType, EndTxnMarker, RecordBatch, RecordError};
use fjord_storage::{Log, ReadError, ReadOptions};

use super::{ProducerBatch, ProducerStates, TxnMarker, TxnOutcome};

/// How much one read of the scan asks for.
const SCAN_READ_BYTES: usize = 1 << 20;
/// Bound on a control batch's decoded size (a marker is a few dozen bytes).
const MAX_CONTROL_BYTES: usize = 1 << 16;

/// Why the log could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The log could not be read.
    #[error("reading the log at offset {offset}: {source}")]
    Read {
        /// Where the read started.
        offset: i64,
        /// The storage error.
        #[source]
        source: ReadError,
    },
    /// A stored batch did not parse.
    #[error("batch at offset {offset}: {source}")]
    Batch {
        /// Where the read started.
        offset: i64,
        /// The record error.
        #[source]
        source: RecordError,
    },
}

/// What a scan went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanReport {
    /// Batches of producers applied.
    pub producer_batches: u64,
    /// Transaction markers applied.
    pub markers: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Applies every batch from `from` (clamped to the log start) to the log end to `state`.
pub fn replay(
    log: &Log,
    from: i64,
    state: &mut ProducerStates,
) -> Result<ScanReport, RebuildError> {
    let mut offset = from.max(log.log_start_offset());
    let mut report = ScanReport::default();
    while offset < log.log_end_offset() {
        let read = log
            .read(
                offset,
                SCAN_READ_BYTES,
                ReadOptions {
                    max_offset: None,
                    min_one_batch: true,
                },
            )
            .map_err(|source| RebuildError::Read { offset, source })?;
        if read.bytes.is_empty() || read.next_offset <= offset {
            break;
        }
        report.bytes += read.bytes.len() as u64;
        for item in Batches::new(&read.bytes) {
            let (header, raw) = item.map_err(|source| RebuildError::Batch { offset, source })?;
            if header.last_offset() < offset {
                continue;
            }
            apply(&header, &read.bytes.slice_ref(raw), state, &mut report)
                .map_err(|source| RebuildError::Batch { offset, source })?;
        }
        offset = read.next_offset;
    }
    Ok(report)
}

/// Applies one stored batch.
fn apply(
    header: &BatchHeader,
    raw: &Bytes,
    state: &mut ProducerStates,
    report: &mut ScanReport,
) -> Result<(), RecordError> {
    if header.producer_id < 0 {
        return Ok(());
    }
    if let Some(batch) = ProducerBatch::from_header(header) {
        state.record_batch(
            &batch,
            header.base_offset,
            header.last_offset(),
            header.max_timestamp,
        );
        report.producer_batches += 1;
        return Ok(());
    }
    let decoded = RecordBatch::decode(raw, MAX_CONTROL_BYTES)?;
    let outcome = match decoded.control_record().transpose()?.map(|c| c.kind) {
        Some(ControlRecordType::Commit) => TxnOutcome::Commit,
        Some(ControlRecordType::Abort) => TxnOutcome::Abort,
        _ => return Ok(()),
    };
    let coordinator_epoch = decoded
        .records
        .first()
        .and_then(|r| r.value.as_deref())
        .map(EndTxnMarker::parse)
        .transpose()?
        .map_or(-1, |m| m.coordinator_epoch);
    state.record_marker(
        &TxnMarker {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            outcome,
            coordinator_epoch,
            timestamp: header.max_timestamp,
        },
        header.base_offset,
    );
    report.markers += 1;
    Ok(())
}
