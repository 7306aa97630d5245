//! Walking the batches of a segment file in order, for recovery and index rebuilds.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use fjord_protocol::records::header::{verify_crc, HEADER_LEN};
use fjord_protocol::records::{BatchHeader, RecordError};

use super::BatchInfo;
use crate::error::IoError;

/// How much of the file one read pulls in while scanning.
const CHUNK: usize = 1 << 20;

/// Why a scan stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StopReason {
    /// Reached the end cleanly.
    #[error("end of file")]
    End,
    /// The last batch is cut short.
    #[error("batch at {position} cut short: needs {needed} bytes, {available} left")]
    Truncated {
        /// Where the batch starts.
        position: u64,
        /// Bytes the batch needs.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// A header that does not parse or a CRC mismatch.
    #[error("invalid batch at {position}: {source}")]
    Invalid {
        /// Where the batch starts.
        position: u64,
        /// What is wrong.
        source: RecordError,
    },
    /// A batch whose offsets do not follow the previous batch.
    #[error("batch at {position} has offsets {base}..={last}, expected base {expected}")]
    OffsetsOutOfOrder {
        /// Where the batch starts.
        position: u64,
        /// Its base offset.
        base: i64,
        /// Its last offset.
        last: i64,
        /// The base offset expected (exactly, when checking strictly; at least, otherwise).
        expected: i64,
    },
    /// A leader epoch lower than the previous batch's (checked strictly only).
    #[error("batch at {position} has leader epoch {epoch} after epoch {previous}")]
    EpochDecreased {
        /// Where the batch starts.
        position: u64,
        /// Its epoch.
        epoch: i32,
        /// The previous batch's epoch.
        previous: i32,
    },
}

/// How strictly a scan checks batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Headers parse and offsets increase (sealed segments, which compaction may leave with
    /// gaps between batches).
    Headers,
    /// Also the CRC, offsets with no gaps starting at the segment base, and leader epochs that
    /// never decrease: recovery of the active segment, which is always written gap-free.
    Strict,
    /// The CRC and leader epochs as `Strict`, offsets increasing as `Headers`: recovery of a
    /// sealed segment past the recovery point, which compaction may have left with gaps.
    Sealed,
}

/// Result of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanOutcome {
    /// Position after the last good batch.
    pub(crate) valid_len: u64,
    /// Why the scan stopped.
    pub(crate) stop_reason: StopReason,
}

/// Buffered positional reads, so scanning does not move the file cursor other users share.
struct ChunkReader<'a> {
    file: &'a File,
    path: &'a Path,
    end: u64,
    buf: Vec<u8>,
    buf_at: u64,
}

impl ChunkReader<'_> {
    /// Exactly `len` bytes at `at`, or `None` when the file ends first.
    fn get(&mut self, at: u64, len: usize) -> Result<Option<&[u8]>, IoError> {
        let have = at >= self.buf_at && at + len as u64 <= self.buf_at + self.buf.len() as u64;
        if !have {
            if at + len as u64 > self.end {
                return Ok(None);
            }
            let want = (self.end - at).min(CHUNK.max(len) as u64) as usize;
            self.buf.resize(want, 0);
            let mut done = 0;
            while done < want {
                match self.file.read_at(&mut self.buf[done..], at + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(IoError::new("read segment", self.path, e)),
                }
            }
            self.buf.truncate(done);
            self.buf_at = at;
            if done < len {
                return Ok(None);
            }
        }
        let from = (at - self.buf_at) as usize;
        Ok(self.buf.get(from..from + len))
    }
}

/// Walks batches from `from` up to `end`, calling `visit` for each good one. Stops at the first
/// batch that is cut short, does not parse, or fails the checks `check` selects.
pub(crate) fn scan(
    file: &File,
    path: &Path,
    from: u64,
    end: u64,
    base_offset: i64,
    check: Check,
    mut visit: impl FnMut(&BatchInfo),
) -> Result<ScanOutcome, IoError> {
    let mut reader = ChunkReader {
        file,
        path,
        end,
        buf: Vec::new(),
        buf_at: 0,
    };
    let mut pos = from;
    let mut expected = base_offset;
    let mut epoch = i32::MIN;
    let strict = check == Check::Strict;
    let check_contents = check != Check::Headers;
    let stop = loop {
        if pos >= end {
            break StopReason::End;
        }
        let Some(head) = reader.get(pos, HEADER_LEN)? else {
            break StopReason::Truncated {
                position: pos,
                needed: HEADER_LEN as u64,
                available: end - pos,
            };
        };
        let header = match BatchHeader::parse(head) {
            Ok(h) => h,
            Err(source) => {
                break StopReason::Invalid {
                    position: pos,
                    source,
                }
            }
        };
        let len = header.total_len();
        let offsets_ok = if strict {
            header.base_offset == expected
        } else {
            header.base_offset >= expected
        };
        if !offsets_ok || header.last_offset_delta < 0 {
            break StopReason::OffsetsOutOfOrder {
                position: pos,
                base: header.base_offset,
                last: header.last_offset(),
                expected,
            };
        }
        let Some(batch) = reader.get(pos, len)? else {
            break StopReason::Truncated {
                position: pos,
                needed: len as u64,
                available: end - pos,
            };
        };
        if check_contents {
            if let Err(source) = verify_crc(batch) {
                break StopReason::Invalid {
                    position: pos,
                    source,
                };
            }
            if header.partition_leader_epoch < epoch {
                break StopReason::EpochDecreased {
                    position: pos,
                    epoch: header.partition_leader_epoch,
                    previous: epoch,
                };
            }
            epoch = header.partition_leader_epoch;
        }
        visit(&BatchInfo {
            position: pos,
            len: len as u64,
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
        });
        expected = header.last_offset() + 1;
        pos += len as u64;
    };
    Ok(ScanOutcome {
        valid_len: pos,
        stop_reason: stop,
    })
}

/// Calls `f` with the header and bytes of each batch below `end`, in order, stopping quietly at
/// the first batch that is cut short or does not parse.
pub(crate) fn for_each_batch<E: From<IoError>>(
    file: &File,
    path: &Path,
    end: u64,
    mut f: impl FnMut(&BatchHeader, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut reader = ChunkReader {
        file,
        path,
        end,
        buf: Vec::new(),
        buf_at: 0,
    };
    let mut pos = 0;
    while let Some(head) = reader.get(pos, HEADER_LEN)? {
        let Ok(header) = BatchHeader::parse(head) else {
            break;
        };
        let Some(batch) = reader.get(pos, header.total_len())? else {
            break;
        };
        f(&header, batch)?;
        pos += header.total_len() as u64;
    }
    Ok(())
}
