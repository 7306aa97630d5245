//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use fjord_protocol::records::header::{restamp, verify_crc};
use fjord_protocol::records::{BatchHeader, Batches};
use fjord_storage::testing::BatchSpec;
use fjord_storage::{AppendOptions, Log, ReadOptions};

/// A fresh directory; on tmpfs when there is one, because these tests fsync on every segment
/// roll and measure logic, not the disk.
pub fn test_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

/// The batch a test appends as its `i`-th: 1 to 5 records, values derived from `i`.
pub fn nth_batch(i: u64) -> Vec<u8> {
    BatchSpec::new(1_000 + i as i64)
        .filler(
            1 + (i % 5) as usize,
            10 + (i % 37) as usize,
            (i % 251) as u8,
        )
        .build()
}

/// What the `i`-th batch looks like once stored at `base` with `epoch`.
pub fn stored(mut batch: Vec<u8>, base: i64, epoch: i32) -> Vec<u8> {
    restamp(&mut batch, base, epoch, None).unwrap();
    batch
}

/// Append options at time `now`, epoch 1.
pub fn opts(now: i64) -> AppendOptions {
    AppendOptions {
        leader_epoch: 1,
        log_append_time: None,
        now_ms: now,
    }
}

/// Every batch from the log start to the log end, each checked for its CRC.
pub fn all_batches(log: &Log) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = log.log_start_offset();
    while at < log.log_end_offset() {
        let r = log.read(at, 1 << 20, ReadOptions::default()).unwrap();
        assert!(!r.bytes.is_empty(), "no progress at offset {at}");
        for b in Batches::new(&r.bytes) {
            let (_, raw) = b.unwrap();
            verify_crc(raw).unwrap();
            out.push(raw.to_vec());
        }
        at = r.next_offset;
    }
    out
}

/// The single batch holding `offset`.
pub fn batch_at(log: &Log, offset: i64) -> Vec<u8> {
    let r = log
        .read(
            offset,
            1,
            ReadOptions {
                min_one_batch: true,
                ..ReadOptions::default()
            },
        )
        .unwrap();
    let len = fjord_protocol::records::header::batch_len(&r.bytes).unwrap();
    let h = BatchHeader::parse(&r.bytes).unwrap();
    assert!(h.base_offset <= offset && offset <= h.last_offset());
    r.bytes[..len].to_vec()
}
