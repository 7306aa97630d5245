//! Open file descriptors stay bounded however many segments a log has, and reads of segments
//! whose files were closed still work.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use std::path::Path;

use common::{all_batches, nth_batch, opts, stored, test_dir};
use fjord_storage::{Log, LogConfig, ReadOptions};

const CAP: usize = 4;

/// Descriptors per open segment: the `.log` and the two index maps.
const PER_SEGMENT: usize = 3;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        segment_index_bytes: 240,
        max_open_sealed_segments: CAP,
        ..LogConfig::default()
    }
}

/// This process's open descriptors on files in `dir`.
fn open_fds_in(dir: &Path) -> usize {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .count()
}

#[test]
fn open_descriptors_stay_under_the_cap_and_reads_reopen() {
    let dir = test_dir();
    let log = Log::open(dir.path(), config()).unwrap();
    let mut appended = Vec::new();
    for i in 0..300 {
        let b = nth_batch(i);
        let info = log.append(&b, &opts(0)).unwrap();
        appended.push(stored(b, info.base_offset, opts(0).leader_epoch));
    }
    let segments = log.segment_count();
    let bound = PER_SEGMENT * (CAP + 1);
    assert!(
        segments * PER_SEGMENT > 3 * bound,
        "{segments} segments: enough to overflow the bound many times"
    );
    // The background fsyncs of sealed segments open files briefly; wait for them.
    log.flush().unwrap();
    let fds = open_fds_in(dir.path());
    assert!(
        fds <= bound,
        "{fds} open after appending {segments} segments"
    );

    // Whole-log scans, forwards, twice: every segment is reopened and closed again.
    for _ in 0..2 {
        assert_eq!(all_batches(&log), appended);
        let fds = open_fds_in(dir.path());
        assert!(fds <= bound, "{fds} open after a full read");
    }
    // Random single-batch reads and timestamp lookups.
    let single = ReadOptions {
        min_one_batch: true,
        ..ReadOptions::default()
    };
    for k in 0..200i64 {
        let offset = (k * 7919) % log.log_end_offset();
        let r = log.read(offset, 1, single).unwrap();
        assert!(r.first_offset <= offset && offset < r.next_offset);
        assert!(log.offset_for_timestamp(1_000 + k).unwrap().is_some());
        let fds = open_fds_in(dir.path());
        assert!(fds <= bound, "{fds} open after read {k}");
    }

    // Reopening opens no sealed segment's files.
    drop(log);
    let log = Log::open(dir.path(), config()).unwrap();
    let fds = open_fds_in(dir.path());
    assert!(fds <= PER_SEGMENT, "{fds} open after reopening");
    assert_eq!(all_batches(&log), appended);
    let fds = open_fds_in(dir.path());
    assert!(fds <= bound, "{fds} open after a full read");
}

#[test]
fn deleted_segments_leave_no_files_and_read_out_of_range() {
    let dir = test_dir();
    let log = Log::open(dir.path(), config()).unwrap();
    for i in 0..100 {
        log.append(&nth_batch(i), &opts(0)).unwrap();
    }
    let before = all_batches(&log);
    let cut = log.segment_base_offsets()[10];
    log.delete_records_before(cut).unwrap();
    // Deleted segments whose files were closed are not recreated by reads; later ones read.
    assert!(log.read(cut - 1, 1 << 20, ReadOptions::default()).is_err());
    let after = all_batches(&log);
    assert_eq!(after[..], before[before.len() - after.len()..]);
    log.flush().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.split('.').next().and_then(|s| s.parse::<i64>().ok()) {
            assert!(stem >= cut, "{name} left behind");
        }
    }
}
