//! Compaction with injected time: latest record per key kept, offsets unchanged, tombstones
//! dropped after delete.retention.ms, appends and reads unaffected.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use std::collections::HashMap;

use common::{all_batches, opts, test_dir};
use fjord_protocol::records::{BatchHeader, Compression};
use fjord_storage::testing::{records_of, BatchSpec, RecordSpec, StoredRecord};
use fjord_storage::{CleanupPolicy, Log, LogConfig};

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 100,
        segment_index_bytes: 1200,
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 1_000,
        ..LogConfig::default()
    }
}

fn all_records(log: &Log) -> Vec<StoredRecord> {
    all_batches(log)
        .iter()
        .flat_map(|b| records_of(b).unwrap())
        .collect()
}

/// Appends `rounds` rounds of one record per key (keys k0..k4) at timestamps 100*round; key k3
/// is deleted (tombstone) in the last round.
fn fill(log: &Log, rounds: i64) -> Vec<StoredRecord> {
    fill_with(log, rounds, Compression::None)
}

/// [`fill`] with batches compressed by `codec`.
fn fill_with(log: &Log, rounds: i64, codec: Compression) -> Vec<StoredRecord> {
    for round in 0..rounds {
        let mut spec = BatchSpec::new(100 * round).compression(codec);
        for k in 0..5 {
            let key = format!("k{k}");
            let value = format!("v{round}");
            let tombstone = k == 3 && round == rounds - 1;
            spec = spec.record(RecordSpec::new(
                Some(key.as_bytes()),
                (!tombstone).then_some(value.as_bytes()),
            ));
        }
        log.append(&spec.build(), &opts(100 * round)).unwrap();
    }
    all_records(log)
}

#[test]
fn keeps_the_latest_record_per_key_without_renumbering() {
    keeps_the_latest_record_per_key(Compression::None);
}

#[test]
fn compressed_batches_are_compacted_with_their_own_codec() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let stored_codecs = keeps_the_latest_record_per_key(codec);
        assert!(
            stored_codecs.iter().all(|&c| c == codec.id()),
            "{codec:?}: rewritten batches keep the codec, got {stored_codecs:?}"
        );
    }
}

/// Fills a log with batches compressed by `codec`, compacts it, checks what survives; returns
/// the compression attribute of every batch left.
fn keeps_the_latest_record_per_key(codec: Compression) -> Vec<i16> {
    let dir = test_dir();
    let log = Log::open(dir.path(), config()).unwrap();
    let before = fill_with(&log, 12, codec);
    let sealed_end = *log.segment_base_offsets().last().unwrap();
    assert!(log.segment_count() > 3, "{codec:?}");

    let report = log.compact(0).unwrap();
    assert!(report.segments_cleaned > 0);
    assert!(report.records_removed > 0);
    assert_eq!(
        report.tombstones_removed, 0,
        "tombstones are young at time 0"
    );
    let after = all_records(&log);

    // Survivors are original records, in the original order, at their original offsets.
    let mut it = before.iter();
    for r in &after {
        assert!(it.any(|b| b == r), "record {r:?} was not in the log before");
    }
    // Latest record per key among sealed segments:
    let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
    for r in before.iter().filter(|r| r.offset < sealed_end) {
        latest.insert(r.key.clone().unwrap(), r.offset);
    }
    for r in &before {
        let kept = after.contains(r);
        if r.offset >= sealed_end {
            assert!(kept, "active segment untouched: {r:?}");
        } else {
            let is_latest = latest.get(r.key.as_ref().unwrap()) == Some(&r.offset);
            assert_eq!(kept, is_latest, "{r:?}");
        }
    }
    assert_eq!(log.log_end_offset(), 60, "offsets unchanged");

    // Survives a reopen, indexes rebuilt from the cleaned files.
    drop(log);
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(all_records(&log), after);
    // Fetching a compacted-away offset returns the next batch that exists.
    let gone = before.iter().find(|r| !after.contains(r)).unwrap().offset;
    let r = log.read(gone, 1 << 20, Default::default()).unwrap();
    assert!(!r.bytes.is_empty());
    all_batches(&log)
        .iter()
        .map(|b| BatchHeader::parse(b).unwrap().compression())
        .collect()
}

#[test]
fn tombstones_go_after_delete_retention() {
    let dir = test_dir();
    let log = Log::open(dir.path(), config()).unwrap();
    fill(&log, 12);
    // Roll so the tombstone (last round, timestamp 1100) lands in a sealed segment.
    log.maintain(i64::MAX / 2).unwrap();
    let has_tombstone = |log: &Log| {
        all_records(log)
            .iter()
            .any(|r| r.key.as_deref() == Some(b"k3".as_slice()) && r.value.is_none())
    };
    log.compact(1_000).unwrap();
    assert!(
        has_tombstone(&log),
        "kept within delete.retention.ms of its segment's newest record"
    );
    let report = log.compact(1_100 + 1_000 + 1).unwrap();
    assert_eq!(report.tombstones_removed, 1);
    assert!(!has_tombstone(&log));
    // Every other key keeps exactly its latest value.
    let after = all_records(&log);
    for k in [0, 1, 2, 4] {
        let key = format!("k{k}").into_bytes();
        let values: Vec<_> = after
            .iter()
            .filter(|r| r.key.as_ref() == Some(&key))
            .collect();
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].value.as_deref(), Some(b"v11".as_slice()));
    }
}

#[test]
fn delete_policy_does_not_compact() {
    let dir = test_dir();
    let log = Log::open(
        dir.path(),
        LogConfig {
            cleanup_policy: CleanupPolicy::Delete,
            ..config()
        },
    )
    .unwrap();
    let before = fill(&log, 6);
    assert_eq!(log.compact(0).unwrap(), Default::default());
    assert_eq!(all_records(&log), before);
}

#[test]
fn appends_and_reads_continue_during_compaction() {
    let dir = test_dir();
    let log = Log::open(dir.path(), config()).unwrap();
    fill(&log, 30);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..5 {
                log.compact(0).unwrap();
            }
        });
        for i in 0..50 {
            let b = BatchSpec::new(i)
                .record(RecordSpec::new(Some(b"x"), Some(b"y")))
                .build();
            let info = log.append(&b, &opts(i)).unwrap();
            assert_eq!(info.base_offset, 150 + i);
            all_batches(&log);
        }
    });
    assert_eq!(log.log_end_offset(), 200);
}

#[test]
fn leftover_cleaned_files_are_removed_on_open() {
    let dir = test_dir();
    let log = Log::open(dir.path(), config()).unwrap();
    let before = fill(&log, 6);
    drop(log);
    let leftover = dir.path().join("00000000000000000000.log.cleaned");
    std::fs::write(&leftover, b"half-written").unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert!(!leftover.exists());
    assert_eq!(all_records(&log), before);
}

#[test]
fn compact_delete_compacts_and_expires_whole_segments() {
    let dir = test_dir();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::CompactDelete,
        retention_ms: 1_000,
        ..config()
    };
    let log = Log::open(dir.path(), config.clone()).unwrap();
    // Rounds at timestamps 0, 100, ..., 1900: a key of the round's own and two updates of
    // one hot key, so compaction leaves every segment something for retention to expire.
    for round in 0..20i64 {
        let own = format!("r{round}");
        let spec = BatchSpec::new(100 * round)
            .record(RecordSpec::new(Some(b"hot"), Some(b"a")))
            .record(RecordSpec::new(Some(own.as_bytes()), Some(b"v")))
            .record(RecordSpec::new(Some(b"hot"), Some(b"b")));
        log.append(&spec.build(), &opts(100 * round)).unwrap();
    }
    let bases = log.segment_base_offsets();
    let sealed_end = *bases.last().unwrap();
    assert!(bases.len() > 5);

    // Compaction: one record per key in the sealed segments, the latest.
    let report = log.compact(0).unwrap();
    assert!(report.records_removed > 0);
    assert_eq!(log.log_end_offset(), 60);
    let compacted = all_records(&log);
    let sealed: Vec<&StoredRecord> = compacted.iter().filter(|r| r.offset < sealed_end).collect();
    let mut keys: Vec<&Vec<u8>> = sealed.iter().map(|r| r.key.as_ref().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), sealed.len(), "one record per key: {sealed:?}");
    // Cleaned segments keep their timestamps (their index files were rebuilt).
    let hit = log.offset_for_timestamp(150).unwrap().unwrap();
    assert_eq!((hit.offset, hit.timestamp), (7, 200));

    // Retention by time at 2000: segments whose newest record is older than 1000 go whole.
    let now = 2_000;
    let report = log.maintain(now).unwrap();
    assert!(report.deleted_segments > 0);
    let start = log.log_start_offset();
    assert!(bases.contains(&start), "whole segments only: start {start}");
    assert_eq!(log.segment_base_offsets()[0], start);
    let kept = all_records(&log);
    let expected: Vec<StoredRecord> = compacted
        .iter()
        .filter(|r| r.offset >= start)
        .cloned()
        .collect();
    assert_eq!(kept, expected, "retention removed only a prefix");
    let newest_deleted = compacted
        .iter()
        .filter(|r| r.offset < start)
        .map(|r| r.timestamp)
        .max()
        .unwrap();
    assert!(now - newest_deleted > 1_000, "deleted {newest_deleted}");
    let first_kept_segment_newest = kept
        .iter()
        .filter(|r| r.offset < log.segment_base_offsets()[1])
        .map(|r| r.timestamp)
        .max()
        .unwrap();
    assert!(
        now - first_kept_segment_newest <= 1_000,
        "the first kept segment holds a record within retention.ms"
    );

    // Retention by size on top: the oldest segments go while the log stays at the limit.
    let limit = log.size_bytes() / 2;
    log.set_config(LogConfig {
        retention_bytes: i64::try_from(limit).unwrap(),
        ..config
    });
    let report = log.maintain(now).unwrap();
    assert!(report.deleted_segments > 0);
    let oldest = log.segment_base_offsets()[0];
    // A read returns the batches of one segment at most: all of the oldest one here.
    let oldest_size = log
        .read(oldest, 1 << 20, Default::default())
        .unwrap()
        .bytes
        .len() as u64;
    assert!(log.size_bytes() >= limit, "size {}", log.size_bytes());
    assert!(
        log.size_bytes() - oldest_size < limit,
        "one more deletion would undershoot retention.bytes"
    );
    let expected: Vec<StoredRecord> = kept.into_iter().filter(|r| r.offset >= oldest).collect();
    assert_eq!(all_records(&log), expected);
    // Compaction still runs over what is left, and the log still appends.
    log.compact(now).unwrap();
    let info = log
        .append(
            &BatchSpec::new(now)
                .record(RecordSpec::new(Some(b"k0"), Some(b"new")))
                .build(),
            &opts(now),
        )
        .unwrap();
    assert_eq!(info.base_offset, 60);
}

#[test]
fn segments_compaction_empties_are_removed_all_but_the_first() {
    let dir = test_dir();
    let log = Log::open(dir.path(), config()).unwrap();
    // Twelve rounds of the same five keys: only the latest rounds keep records.
    let before = fill(&log, 12);
    let bases_before = log.segment_base_offsets();
    let sealed_end = *bases_before.last().unwrap();
    let report = log.compact(0).unwrap();
    assert!(report.segments_removed > 0, "{report:?}");
    let bases = log.segment_base_offsets();
    assert_eq!(bases.len(), bases_before.len() - report.segments_removed);
    assert_eq!(bases[0], bases_before[0], "the first segment stays");
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.log_end_offset(), 60, "offsets unchanged");
    let on_disk = |ext: &str| {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == ext)
            })
            .count()
    };
    assert_eq!(
        on_disk("log"),
        bases.len(),
        "removed segments leave no files"
    );
    assert_eq!(on_disk("index"), bases.len());
    // Left: the latest record of each key in the sealed segments, and the active segment.
    let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
    for r in before.iter().filter(|r| r.offset < sealed_end) {
        latest.insert(r.key.clone().unwrap(), r.offset);
    }
    let expected: Vec<StoredRecord> = before
        .iter()
        .filter(|r| r.offset >= sealed_end || latest[r.key.as_ref().unwrap()] == r.offset)
        .cloned()
        .collect();
    let kept = all_records(&log);
    assert_eq!(kept, expected);
    // Every offset reads from the first record at or after it, across the removed ranges.
    for offset in 0..log.log_end_offset() {
        let r = log.read(offset, 1 << 20, Default::default()).unwrap();
        let first = kept.iter().find(|k| k.offset >= offset).unwrap();
        assert!(
            (r.first_offset..r.next_offset).contains(&first.offset),
            "offset {offset}: read {}..{}, first record at {}",
            r.first_offset,
            r.next_offset,
            first.offset
        );
    }
    drop(log);
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(log.segment_base_offsets(), bases);
    assert_eq!(all_records(&log), kept);
    assert_eq!(
        log.compact(0).unwrap().segments_cleaned,
        0,
        "nothing left to clean"
    );
}

#[test]
fn segments_compaction_emptied_do_not_shield_expired_ones() {
    let dir = test_dir();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::CompactDelete,
        retention_ms: 1_000,
        ..config()
    };
    let log = Log::open(dir.path(), config).unwrap();
    // Rounds at 0..=1100 of the same five keys: compaction empties the older segments.
    fill(&log, 12);
    log.compact(0).unwrap();
    let emptied = log
        .segment_base_offsets()
        .windows(2)
        // A read at an empty segment's base hands over to the next segment.
        .filter(|w| {
            log.read(w[0], 1 << 20, Default::default())
                .unwrap()
                .first_offset
                >= w[1]
        })
        .count();
    assert!(emptied > 0, "compaction left empty segments");
    let before = all_records(&log);
    let report = log.maintain(1_050).unwrap();
    assert!(report.deleted_segments >= emptied, "{report:?}");
    let start = log.log_start_offset();
    let first = log.segment_base_offsets();
    let r = log.read(start, 1 << 20, Default::default()).unwrap();
    assert!(
        r.first_offset < first[1],
        "the first segment left holds records"
    );
    let expired = |r: &StoredRecord| 1_050 - r.timestamp > 1_000;
    let after = all_records(&log);
    assert!(before.iter().filter(|r| r.offset < start).all(expired));
    assert_eq!(
        after,
        before
            .into_iter()
            .filter(|r| r.offset >= start)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_key_map_smaller_than_the_keys_compacts_in_passes_to_the_same_result() {
    // 40 keys over 8 rounds in a shuffled order, some deleted in later rounds.
    let fill_keys = |log: &Log| {
        for round in 0..8i64 {
            let mut spec = BatchSpec::new(100 * round);
            for i in 0..20i64 {
                let k = (i * 7 + round * 13) % 40;
                let key = format!("key-{k}");
                let value = format!("{round}-{i}");
                let tombstone = round >= 5 && k % 9 == 0;
                spec = spec.record(RecordSpec::new(
                    Some(key.as_bytes()),
                    (!tombstone).then_some(value.as_bytes()),
                ));
            }
            log.append(&spec.build(), &opts(100 * round)).unwrap();
        }
    };
    let small = LogConfig {
        segment_bytes: 600,
        segment_index_bytes: 1200,
        compaction_map_entries: 7,
        ..config()
    };
    let (dir_small, dir_full) = (test_dir(), test_dir());
    let capped = Log::open(dir_small.path(), small.clone()).unwrap();
    let full = Log::open(
        dir_full.path(),
        LogConfig {
            compaction_map_entries: 1 << 20,
            ..small
        },
    )
    .unwrap();
    fill_keys(&capped);
    fill_keys(&full);
    assert_eq!(capped.segment_base_offsets(), full.segment_base_offsets());
    assert!(capped.segment_count() > 4);

    // Young tombstones first, then with every tombstone past delete.retention.ms.
    for now in [0, 10_000] {
        let capped_report = capped.compact(now).unwrap();
        let full_report = full.compact(now).unwrap();
        assert_eq!(full_report.passes, 1);
        if now == 0 {
            assert!(capped_report.passes > 3, "{capped_report:?}");
            assert!(full_report.records_removed > 0);
        }
        assert_eq!(all_records(&capped), all_records(&full), "at {now}");
    }
    assert!(!all_records(&full)
        .iter()
        .any(|r| r.value.is_none() && r.offset < *full.segment_base_offsets().last().unwrap()));
}
