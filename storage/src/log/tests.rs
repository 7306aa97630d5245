//! Unit tests of the log: append/read, rolling, reopen, truncation, retention.

use super::*;
use crate::config::CleanupPolicy;
use crate::error::{AppendError, DeleteError, ReadError};
use crate::page_cache::PageCacheBudget;
use crate::testing::{BatchSpec, RecordSpec};
use fjord_protocol::records::header::verify_crc;
use fjord_protocol::records::{Batches, Compression};

fn opts(now: i64) -> AppendOptions {
    AppendOptions {
        leader_epoch: 3,
        log_append_time: None,
        now_ms: now,
    }
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 100,
        segment_index_bytes: 240,
        ..LogConfig::default()
    }
}

/// A batch of `n` records with 20-byte values at timestamp `ts`.
fn batch(n: usize, ts: i64) -> Vec<u8> {
    BatchSpec::new(ts).filler(n, 20, 7).build()
}

fn append(log: &Log, n: usize, ts: i64) -> AppendInfo {
    log.append(&batch(n, ts), &opts(ts)).unwrap()
}

/// (base offset, last offset) of every batch in `bytes`, checking each CRC.
fn batch_ranges(bytes: &[u8]) -> Vec<(i64, i64)> {
    Batches::new(bytes)
        .map(|b| {
            let (h, raw) = b.unwrap();
            verify_crc(raw).unwrap();
            (h.base_offset, h.last_offset())
        })
        .collect()
}

fn read_all(log: &Log) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut at = log.log_start_offset();
    while at < log.log_end_offset() {
        let r = log.read(at, 1 << 20, ReadOptions::default()).unwrap();
        assert!(!r.bytes.is_empty(), "no progress at {at}");
        out.extend(batch_ranges(&r.bytes));
        at = r.next_offset;
    }
    out
}

#[test]
fn append_assigns_consecutive_offsets_and_restamps() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    let mut input = batch(3, 100);
    input.extend(batch(2, 200));
    let info = log.append(&input, &opts(1)).unwrap();
    assert_eq!(
        (info.base_offset, info.last_offset, info.max_timestamp),
        (0, 4, 200)
    );
    let info = append(&log, 1, 300);
    assert_eq!((info.base_offset, info.last_offset), (5, 5));
    assert_eq!(log.log_end_offset(), 6);
    let r = log.read(0, 1 << 20, ReadOptions::default()).unwrap();
    assert_eq!(batch_ranges(&r.bytes), vec![(0, 2), (3, 4), (5, 5)]);
    let h = fjord_protocol::records::BatchHeader::parse(&r.bytes).unwrap();
    assert_eq!(h.partition_leader_epoch, 3);
}

#[test]
fn log_append_time_is_stamped_with_a_valid_crc() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    let o = AppendOptions {
        log_append_time: Some(5555),
        ..opts(5555)
    };
    let info = log.append(&batch(2, 100), &o).unwrap();
    assert_eq!(info.max_timestamp, 5555);
    let r = log.read(0, 1 << 20, ReadOptions::default()).unwrap();
    let h = fjord_protocol::records::BatchHeader::parse(&r.bytes).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 5555);
    verify_crc(&r.bytes).unwrap();
}

#[test]
fn rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    assert!(matches!(log.append(&[], &opts(0)), Err(AppendError::Empty)));
    let mut cut = batch(2, 0);
    cut.pop();
    assert!(matches!(
        log.append(&cut, &opts(0)),
        Err(AppendError::InvalidBatch { position: 0, .. })
    ));
    let log = Log::open(
        dir.path(),
        LogConfig {
            max_message_bytes: 50,
            ..LogConfig::default()
        },
    )
    .unwrap();
    assert!(matches!(
        log.append(&batch(2, 0), &opts(0)),
        Err(AppendError::BatchTooLarge { max: 50, .. })
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn read_starts_at_the_batch_holding_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..40 {
        append(&log, 3, i);
    }
    assert!(log.segment_count() > 3, "small segments roll");
    for offset in 0..120 {
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
        let ranges = batch_ranges(&r.bytes);
        assert_eq!(
            ranges.len(),
            1,
            "min_one_batch returns exactly the first batch"
        );
        let (base, last) = ranges[0];
        assert!(
            base <= offset && offset <= last,
            "offset {offset} in {base}..={last}"
        );
        assert_eq!(r.first_offset, base);
        assert_eq!(r.next_offset, last + 1);
    }
}

#[test]
fn read_respects_max_bytes_max_offset_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    for i in 0..10 {
        append(&log, 2, i);
    }
    let one = batch(2, 0).len();
    let r = log.read(0, one * 3 + 5, ReadOptions::default()).unwrap();
    assert_eq!(batch_ranges(&r.bytes).len(), 3);
    let r = log.read(0, one - 1, ReadOptions::default()).unwrap();
    assert!(
        r.bytes.is_empty(),
        "no partial batches without min_one_batch"
    );
    let r = log
        .read(
            0,
            1 << 20,
            ReadOptions {
                max_offset: Some(7),
                ..ReadOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        batch_ranges(&r.bytes).last(),
        Some(&(4, 5)),
        "batch 6..=7 reaches max_offset"
    );
    let r = log.read(20, 100, ReadOptions::default()).unwrap();
    assert!(r.bytes.is_empty());
    assert_eq!(r.next_offset, 20);
    assert!(matches!(
        log.read(21, 100, ReadOptions::default()),
        Err(ReadError::OffsetOutOfRange {
            requested: 21,
            log_start_offset: 0,
            log_end_offset: 20
        })
    ));
    assert!(matches!(
        log.read(-1, 100, ReadOptions::default()),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn rolls_by_size_and_preallocates_then_trims_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..30 {
        append(&log, 3, i);
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 3);
    for (i, base) in bases.iter().enumerate() {
        let paths = crate::segment::SegmentPaths::new(dir.path(), *base);
        let log_len = std::fs::metadata(&paths.log).unwrap().len();
        assert!(log_len <= 1024, "segment {base} is {log_len} bytes");
        let idx_len = std::fs::metadata(&paths.index).unwrap().len();
        if i + 1 == bases.len() {
            assert_eq!(idx_len, 240, "active index is preallocated");
        } else {
            assert!(
                idx_len < 240 && idx_len.checked_rem(8) == Some(0),
                "sealed index trimmed to entries: {idx_len}"
            );
        }
    }
    assert_eq!(read_all(&log).len(), 30);
}

#[test]
fn reopen_after_clean_close_and_after_crash_gives_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..25 {
        append(&log, 2, i * 10);
    }
    let before = read_all(&log);
    log.close().unwrap();
    assert!(dir
        .path()
        .join(crate::checkpoint::CLEAN_SHUTDOWN_FILE)
        .exists());
    let log = Log::open(dir.path(), small_config()).unwrap();
    assert!(!dir
        .path()
        .join(crate::checkpoint::CLEAN_SHUTDOWN_FILE)
        .exists());
    assert_eq!(read_all(&log), before);
    assert_eq!(log.log_end_offset(), 50);
    append(&log, 2, 999);
    // Dropped without close: an unclean shutdown.
    drop(log);
    let log = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.log_end_offset(), 52);
    assert_eq!(read_all(&log).len(), 26);
    assert_eq!(
        log.max_timestamp_offset(),
        Some(TimestampOffset {
            offset: 50,
            timestamp: 999
        })
    );
}

#[test]
fn missing_or_garbage_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..30 {
        append(&log, 2, i);
    }
    let before = read_all(&log);
    let bases = log.segment_base_offsets();
    log.close().unwrap();
    let first = crate::segment::SegmentPaths::new(dir.path(), bases[0]);
    std::fs::remove_file(&first.index).unwrap();
    std::fs::remove_file(&first.time_index).unwrap();
    let second = crate::segment::SegmentPaths::new(dir.path(), bases[1]);
    std::fs::write(&second.index, [0xffu8; 24]).unwrap();
    let last = crate::segment::SegmentPaths::new(dir.path(), *bases.last().unwrap());
    std::fs::write(&last.index, [1u8; 5]).unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(read_all(&log), before);
    for offset in 0..60 {
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
        let (b, l) = batch_ranges(&r.bytes)[0];
        assert!(b <= offset && offset <= l);
    }
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after() {
    offset_for_timestamp_finds_records_in(Compression::None);
}

#[test]
fn offset_for_timestamp_looks_inside_compressed_batches() {
    offset_for_timestamp_finds_records_in(Compression::Zstd);
    offset_for_timestamp_finds_records_in(Compression::Lz4);
}

#[test]
fn offset_for_timestamp_is_batch_granular_past_the_decompression_cap() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    // A planted batch (produce would refuse it): a first record of 65 MiB zeros, past the
    // 64 MiB cap, then a record at timestamp 10. The lookup walks the stream and stops at the
    // cap instead of decompressing it all, then answers with the whole batch.
    let zeros = vec![0u8; 65 << 20];
    let b = BatchSpec::new(0)
        .compression(Compression::Zstd)
        .record(RecordSpec::new(Some(b"k"), Some(&zeros)))
        .record(RecordSpec::new(Some(b"k"), Some(b"b")).timestamp(10))
        .build();
    drop(zeros);
    assert!(b.len() < 64 << 10, "the batch is {} bytes", b.len());
    log.append(&b.clone(), &opts(0)).unwrap();
    assert_eq!(
        log.offset_for_timestamp(5).unwrap(),
        Some(TimestampOffset {
            offset: 0,
            timestamp: 10
        })
    );
}

fn offset_for_timestamp_finds_records_in(codec: Compression) {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    // Batch i holds records at timestamps 100*i, 100*i+10, 100*i+20.
    for i in 0..20i64 {
        let b = BatchSpec::new(100 * i)
            .compression(codec)
            .record(RecordSpec::new(Some(b"k"), Some(b"a")))
            .record(RecordSpec::new(Some(b"k"), Some(b"b")).timestamp(100 * i + 10))
            .record(RecordSpec::new(Some(b"k"), Some(b"c")).timestamp(100 * i + 20))
            .build();
        log.append(&b.clone(), &opts(0)).unwrap();
    }
    let hit = |ts| log.offset_for_timestamp(ts).unwrap();
    assert_eq!(
        hit(0),
        Some(TimestampOffset {
            offset: 0,
            timestamp: 0
        })
    );
    assert_eq!(
        hit(5),
        Some(TimestampOffset {
            offset: 1,
            timestamp: 10
        })
    );
    assert_eq!(
        hit(1015),
        Some(TimestampOffset {
            offset: 32,
            timestamp: 1020
        })
    );
    assert_eq!(
        hit(1021),
        Some(TimestampOffset {
            offset: 33,
            timestamp: 1100
        })
    );
    assert_eq!(
        hit(1920),
        Some(TimestampOffset {
            offset: 59,
            timestamp: 1920
        })
    );
    assert_eq!(hit(1921), None);
    assert_eq!(
        log.max_timestamp_offset(),
        Some(TimestampOffset {
            offset: 59,
            timestamp: 1920
        })
    );
    log.delete_records_before(40).unwrap();
    assert_eq!(
        hit(0),
        Some(TimestampOffset {
            offset: 40,
            timestamp: 1310
        })
    );
}

#[test]
fn truncate_to_cuts_at_batch_boundaries_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..30 {
        append(&log, 3, i);
    }
    let segments = log.segment_count();
    log.truncate_to(31).unwrap();
    assert_eq!(
        log.log_end_offset(),
        30,
        "31 is inside batch 30..=32: the whole batch goes"
    );
    assert!(log.segment_count() < segments);
    assert_eq!(read_all(&log).last(), Some(&(27, 29)));
    let info = append(&log, 1, 0);
    assert_eq!(info.base_offset, 30);
    log.truncate_to(12).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(read_all(&log).len(), 4);
    drop(log);
    let log = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(read_all(&log).len(), 4);
    log.truncate_to(0).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.segment_count()
        ),
        (0, 0, 1)
    );
    assert_eq!(append(&log, 1, 0).base_offset, 0);
}

#[test]
fn delete_records_moves_the_start_and_drops_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..30 {
        append(&log, 3, i);
    }
    let bases = log.segment_base_offsets();
    let cut = bases[2] + 1;
    assert_eq!(log.delete_records_before(cut).unwrap(), cut);
    assert_eq!(log.log_start_offset(), cut);
    assert_eq!(log.segment_base_offsets()[0], bases[2]);
    assert!(matches!(
        log.read(cut - 1, 10, ReadOptions::default()),
        Err(ReadError::OffsetOutOfRange { .. })
    ));
    let r = log.read(cut, 1 << 20, ReadOptions::default()).unwrap();
    assert!(r.first_offset <= cut);
    assert!(matches!(
        log.delete_records_before(1000),
        Err(DeleteError::OffsetOutOfRange { .. })
    ));
    drop(log);
    let log = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.log_start_offset(), cut, "checkpoint survives reopen");
}

#[test]
fn retention_by_time_and_size_deletes_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: 1000,
        ..small_config()
    };
    let log = Log::open(dir.path(), config.clone()).unwrap();
    for i in 0..30 {
        append(&log, 3, i * 100);
    }
    let bases = log.segment_base_offsets();
    let report = log.maintain(2000).unwrap();
    assert!(report.deleted_segments > 0);
    // Every remaining segment has a record newer than now - retention.
    for base in log.segment_base_offsets() {
        assert!(bases.contains(&base));
    }
    let first = log.segment_base_offsets()[0];
    assert_eq!(log.log_start_offset(), first);
    let r = log
        .read(
            first,
            1,
            ReadOptions {
                min_one_batch: true,
                ..ReadOptions::default()
            },
        )
        .unwrap();
    let h = fjord_protocol::records::BatchHeader::parse(&r.bytes).unwrap();
    assert!(
        h.max_timestamp >= 2000 - 1000 - 400,
        "kept segment is young enough"
    );
    // Everything expired: the active segment rolls and goes too.
    let report = log.maintain(1_000_000).unwrap();
    assert!(report.rolled);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), 90);
    assert_eq!(log.log_end_offset(), 90);

    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_bytes: 2000,
        ..small_config()
    };
    let log = Log::open(dir.path(), config).unwrap();
    for i in 0..30 {
        append(&log, 3, i);
    }
    let before = log.size_bytes();
    let report = log.maintain(0).unwrap();
    assert_eq!(before - report.deleted_bytes, log.size_bytes());
    let oldest = log.segments()[0].size();
    // Kafka's rule: delete oldest segments while the log stays at or above retention.bytes.
    assert!(log.size_bytes() >= 2000, "size {}", log.size_bytes());
    assert!(
        log.size_bytes() - oldest < 2000,
        "one more deletion would undershoot"
    );
}

#[test]
fn the_active_segment_is_written_back_every_few_mib() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    let one_mb = BatchSpec::new(1_000).filler(1000, 1000, 7).build();
    log.append(&one_mb, &opts(1_000)).unwrap();
    crate::flusher::drain();
    assert_eq!(log.sealed.writebacks(), 0, "under 2 MiB appended");
    for _ in 0..4 {
        log.append(&one_mb, &opts(1_000)).unwrap();
    }
    crate::flusher::drain();
    // Two 2 MiB marks passed; a second request made while the first waited is folded into it.
    assert!(
        (1..=2).contains(&log.sealed.writebacks()),
        "{}",
        log.sealed.writebacks()
    );
    assert_eq!(log.segment_count(), 1, "writeback does not roll");
    // It stopped at a 2 MiB boundary (the step without a budget, and the largest folio),
    // short of the folio appends go to.
    let active = log.segments()[0].clone();
    let (started, size) = (active.write_back_started(), active.size());
    assert!(started > 0 && started % (2 << 20) == 0, "{started}");
    assert!(started < size, "{started} of {size}");
    assert_eq!(read_all(&log).len(), 5);
}

#[test]
fn small_write_back_steps_stop_write_back_at_a_step_boundary() {
    // One log with a 1 MiB budget: a 1 MiB share, written back in 256 KiB steps.
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        page_cache: Some(PageCacheBudget::new(1 << 20)),
        ..LogConfig::default()
    };
    let log = Log::open(dir.path(), config).unwrap();
    let one_mb = BatchSpec::new(1_000).filler(1000, 1000, 7).build();
    for _ in 0..3 {
        log.append(&one_mb, &opts(1_000)).unwrap();
    }
    crate::flusher::drain();
    let active = log.segments()[0].clone();
    let (started, size) = (active.write_back_started(), active.size());
    assert!(started > 0 && started % (256 << 10) == 0, "{started}");
    // The last request followed the last append, and 2 MiB boundaries would have left
    // 0.86 MiB of these 2.86 behind.
    assert!(size - started < 256 << 10, "{started} of {size}");
}

/// Bytes of `path` in the page cache, by util-linux's `fincore`.
fn cached_bytes(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .expect("fincore (util-linux) runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn written_back_pages_leave_the_page_cache_but_for_the_logs_share() {
    const MIB: u64 = 1 << 20;
    // On disk, not tmpfs, whose pages cannot be dropped: the workspace's target directory.
    let parent = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-data");
    std::fs::create_dir_all(&parent).unwrap();
    let one_mb = BatchSpec::new(1_000).filler(1000, 1000, 7).build();
    let cached_after = |budget: Option<Arc<PageCacheBudget>>| {
        let dir = tempfile::tempdir_in(&parent).unwrap();
        let config = LogConfig {
            segment_bytes: 12 * MIB,
            page_cache: budget,
            ..LogConfig::default()
        };
        let log = Log::open(dir.path(), config).unwrap();
        // 12 batches fill the first segment; 10 go to the active one.
        for _ in 0..22 {
            log.append(&one_mb, &opts(1_000)).unwrap();
        }
        // Everything is on disk now; the next write-back drops what is out of the share.
        log.flush().unwrap();
        log.append(&one_mb, &opts(1_000)).unwrap();
        crate::flusher::drain();
        let segments = log.segments();
        assert_eq!(segments.len(), 2);
        segments
            .iter()
            .map(|s| (s.size(), cached_bytes(&s.paths().log)))
            .collect::<Vec<_>>()
    };
    let kept = cached_after(None);
    assert!(
        kept.iter().all(|&(size, cached)| cached + 4096 > size),
        "{kept:?}"
    );
    // One log with a 1 MiB budget: a 1 MiB share.
    let shared = cached_after(Some(PageCacheBudget::new(MIB)));
    // The sealed segment keeps its last MiB, the active one its last MiB and the batch just
    // appended, not yet written back. The kernel may keep a few pages more (ones it has not
    // finished adding to its LRU lists, say), hence the slack.
    let [(_, sealed), (_, active)] = shared[..] else {
        panic!("{shared:?}");
    };
    assert!(sealed <= 2 * MIB, "{shared:?}");
    assert!(active <= 3 * MIB, "{shared:?}");
}

#[test]
fn segment_ms_ages_a_segment_by_record_time_not_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let log = Log::open(dir.path(), config).unwrap();
    let now = 1_800_000_000_000;
    // Records a day old, appended now: they go to one segment, not one segment each.
    for i in 0..5 {
        let old = now - 86_400_000 + i * 100;
        log.append(&batch(1, old), &opts(now)).unwrap();
    }
    assert_eq!(log.segment_count(), 1);
    // A record more than segment.ms newer than the segment's first batch rolls it.
    log.append(&batch(1, now - 86_400_000 + 1001), &opts(now))
        .unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(read_all(&log), (0..6).map(|o| (o, o)).collect::<Vec<_>>());
}

#[test]
fn compact_policy_skips_retention_and_segment_ms_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: 10,
        segment_ms: 500,
        cleanup_policy: CleanupPolicy::Compact,
        ..LogConfig::default()
    };
    let log = Log::open(dir.path(), config).unwrap();
    append(&log, 1, 100);
    assert!(!log.maintain(600).unwrap().rolled);
    let r = log.maintain(601).unwrap();
    assert!(r.rolled);
    assert_eq!(r.deleted_segments, 0);
    assert_eq!(log.segment_count(), 2);
    // segment.ms also applies on append.
    append(&log, 1, 1000);
    append(&log, 1, 1600);
    assert_eq!(log.segment_count(), 3);
}

#[test]
fn idle_sealed_indexes_are_unmapped_and_reload_on_use() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..30 {
        append(&log, 3, i);
    }
    log.maintain(0).unwrap();
    let report = log.maintain(0).unwrap();
    assert_eq!(report.released_indexes, log.segment_count() - 1);
    let loaded = |log: &Log| log.segments().iter().filter(|s| s.indexes_loaded()).count();
    assert_eq!(loaded(&log), 1, "only the active segment keeps its maps");
    assert_eq!(read_all(&log).len(), 30);
    assert_eq!(loaded(&log), log.segment_count());
}

#[test]
fn sync_before_ack_and_flush_messages_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush: FlushPolicy {
            sync_before_ack: true,
            ..FlushPolicy::default()
        },
        ..small_config()
    };
    let log = Arc::new(Log::open(dir.path(), config).unwrap());
    std::thread::scope(|s| {
        for t in 0..4 {
            let log = log.clone();
            s.spawn(move || {
                for i in 0..20 {
                    append(&log, 2, t * 100 + i);
                }
            });
        }
    });
    assert_eq!(log.log_end_offset(), 160);
    assert_eq!(read_all(&log).len(), 80);
    log.set_config(LogConfig {
        flush: FlushPolicy {
            messages: Some(3),
            ..FlushPolicy::default()
        },
        ..small_config()
    });
    append(&log, 2, 0);
    log.flush().unwrap();
}

use crate::config::FlushPolicy;

/// A log of several sealed segments of 5-record batches, dropped without `close` (a crash).
fn crashed_log(dir: &Path) -> Vec<(i64, i64)> {
    let log = Log::open(dir, small_config()).unwrap();
    for i in 0..40 {
        append(&log, 5, i);
    }
    assert!(log.segment_count() >= 4);
    let batches = read_all(&log);
    drop(log);
    batches
}

#[test]
fn flush_moves_the_recovery_point_past_every_sealed_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), small_config()).unwrap();
    for i in 0..40 {
        append(&log, 5, i);
    }
    log.flush().unwrap();
    let active_base = *log.segment_base_offsets().last().unwrap();
    assert_eq!(
        checkpoint::read_recovery_point(dir.path()).unwrap(),
        active_base
    );
    log.close().unwrap();
    assert_eq!(checkpoint::read_recovery_point(dir.path()).unwrap(), 200);
}

#[test]
fn damaged_sealed_segment_past_the_recovery_point_is_cut_and_later_ones_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let before = crashed_log(dir.path());
    // As if the machine died before the background fsyncs: nothing is known to be on disk.
    std::fs::remove_file(dir.path().join(checkpoint::RECOVERY_POINT_FILE)).ok();
    let bases = {
        let mut b: Vec<i64> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".log").map(|s| s.parse().unwrap())
            })
            .collect();
        b.sort_unstable();
        b
    };
    // Flip a byte inside the second batch of the second segment.
    let damaged = bases[1];
    let path = crate::segment::SegmentPaths::new(dir.path(), damaged).log;
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(
        batch_ranges(&bytes).len() >= 2,
        "the segment holds several batches"
    );
    let first_len = fjord_protocol::records::header::batch_len(&bytes).unwrap();
    bytes[first_len + 70] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let log = Log::open(dir.path(), small_config()).unwrap();
    let cut_at = damaged + 5;
    assert_eq!(log.log_end_offset(), cut_at, "log ends before the damage");
    let kept: Vec<(i64, i64)> = before.into_iter().filter(|&(_, l)| l < cut_at).collect();
    assert_eq!(
        read_all(&log),
        kept,
        "everything before the damage is intact"
    );
    assert_eq!(
        log.segment_base_offsets(),
        vec![bases[0], damaged, cut_at],
        "later segments dropped, appends go to a fresh segment"
    );
    append(&log, 5, 99);
    drop(log);
    let log = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.log_end_offset(), cut_at + 5);
}

#[test]
fn compacted_sealed_segments_past_the_recovery_point_recover_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        ..small_config()
    };
    let log = Log::open(dir.path(), config.clone()).unwrap();
    for i in 0..60 {
        let key = format!("k{}", i % 3);
        let b = BatchSpec::new(i)
            .record(RecordSpec::new(Some(key.as_bytes()), Some(b"value")))
            .build();
        log.append(&b, &opts(i)).unwrap();
    }
    let report = log.compact(0).unwrap();
    assert!(report.records_removed > 0);
    let compacted = read_all(&log);
    drop(log);
    std::fs::remove_file(dir.path().join(checkpoint::RECOVERY_POINT_FILE)).ok();

    // Offset gaps left by compaction are not damage.
    let log = Log::open(dir.path(), config).unwrap();
    assert_eq!(read_all(&log), compacted);
    assert_eq!(log.log_end_offset(), 60);
}
