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
        log.append(&mut spec.build(), &opts(100 * round)).unwrap();
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
            let info = log.append(&mut b.clone(), &opts(i)).unwrap();
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
