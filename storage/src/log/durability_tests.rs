//! Fsyncs counted: `flush.messages`, `flush.ms` on `maintain(now)`, and group commit of
//! concurrent sync-before-ack appenders.
//!
//! The fsync observer is process-wide and other tests in this binary fsync concurrently, so the
//! observer counts per thread: each test counts only the fsyncs its own threads led.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use super::*;
use crate::config::FlushPolicy;
use crate::testing::BatchSpec;

thread_local! {
    /// Group-commit fsyncs led by this thread.
    static FSYNCS: Cell<usize> = const { Cell::new(0) };
    /// Run by the observer after each fsync this thread leads, before waiters are released.
    static AFTER_FSYNC: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

fn observe(_: Duration) {
    FSYNCS.with(|n| n.set(n.get() + 1));
    AFTER_FSYNC.with(|f| {
        if let Some(f) = f.borrow().as_ref() {
            f();
        }
    });
}

/// Installs the counting observer (once per process) and resets this thread's count.
fn count_fsyncs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| crate::durability::set_fsync_observer(observe));
    FSYNCS.with(|n| n.set(0));
}

fn fsyncs() -> usize {
    FSYNCS.with(Cell::get)
}

fn config(flush: FlushPolicy) -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        flush,
        ..LogConfig::default()
    }
}

/// Appends one single-record batch at time `now`.
fn append_one(log: &Log, now: i64) -> AppendInfo {
    let b = BatchSpec::new(now).filler(1, 20, 7).build();
    let opts = AppendOptions {
        leader_epoch: 0,
        log_append_time: None,
        now_ms: now,
    };
    log.append(&b, &opts).unwrap()
}

#[test]
fn flush_messages_fsyncs_every_n_records() {
    count_fsyncs();
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        config(FlushPolicy {
            messages: Some(3),
            ..FlushPolicy::default()
        }),
    )
    .unwrap();
    for i in 1..=10 {
        let info = append_one(&log, 0);
        assert_eq!(fsyncs(), i / 3, "after {i} records");
        if i % 3 == 0 {
            assert!(log.commit.durable_end() > info.last_offset, "record {i}");
        }
    }
    assert_eq!(
        log.commit.durable_end(),
        9,
        "the 10th record waits for two more"
    );
}

#[test]
fn flush_ms_fsyncs_on_maintain_once_the_interval_passed() {
    count_fsyncs();
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        config(FlushPolicy {
            interval_ms: Some(100),
            ..FlushPolicy::default()
        }),
    )
    .unwrap();
    assert!(!log.maintain(1_000).unwrap().flushed, "nothing appended");
    append_one(&log, 1_000);
    append_one(&log, 1_050);
    assert!(!log.maintain(1_099).unwrap().flushed);
    assert_eq!(fsyncs(), 0);
    assert!(log.maintain(1_100).unwrap().flushed);
    assert_eq!((fsyncs(), log.commit.durable_end()), (1, 2));
    assert!(
        !log.maintain(1_300).unwrap().flushed,
        "nothing new since the last fsync"
    );
    append_one(&log, 1_150);
    assert_eq!(
        fsyncs(),
        1,
        "the interval counts from the last fsync, at 1100"
    );
    append_one(&log, 1_200);
    assert_eq!(fsyncs(), 2, "an append past the interval fsyncs too");
    assert_eq!(log.commit.durable_end(), 4);
    assert!(!log.maintain(1_250).unwrap().flushed);
}

#[test]
fn concurrent_sync_before_ack_appends_share_fsyncs() {
    const THREADS: usize = 4;
    const APPENDS: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        Log::open(
            dir.path(),
            config(FlushPolicy {
                sync_before_ack: true,
                ..FlushPolicy::default()
            }),
        )
        .unwrap(),
    );
    // The first fsync's leader holds on (waiters stay blocked) until every thread has written
    // its first batch, so at least those share the next fsync: the count below is
    // deterministic, not a matter of timing.
    let first = Arc::new(AtomicBool::new(true));
    let led: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (log, first) = (log.clone(), first.clone());
                s.spawn(move || {
                    count_fsyncs();
                    let gate_log = log.clone();
                    AFTER_FSYNC.with(|f| {
                        *f.borrow_mut() = Some(Box::new(move || {
                            if first.swap(false, Ordering::SeqCst) {
                                let deadline = Instant::now() + Duration::from_secs(20);
                                while gate_log.log_end_offset() < THREADS as i64
                                    && Instant::now() < deadline
                                {
                                    std::thread::yield_now();
                                }
                            }
                        }));
                    });
                    for i in 0..APPENDS {
                        let info = append_one(&log, (t * 1000 + i) as i64);
                        assert!(
                            log.commit.durable_end() > info.last_offset,
                            "offset {} acknowledged before it was fsynced",
                            info.last_offset
                        );
                    }
                    AFTER_FSYNC.with(|f| f.borrow_mut().take());
                    fsyncs()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let appends = THREADS * APPENDS;
    assert_eq!(log.log_end_offset(), appends as i64);
    assert!(led >= 2, "{led} fsyncs");
    assert!(
        led <= appends - (THREADS - 2),
        "{led} fsyncs for {appends} appends: the first round shares"
    );
}
