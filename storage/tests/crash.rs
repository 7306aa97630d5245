//! Crash tests: a killed appender loses nothing it acknowledged, and a damaged tail is cut at
//! exactly the last intact batch.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{all_batches, batch_at, nth_batch, opts, stored};
use fjord_storage::{Log, LogConfig};

const CHILD_ENV: &str = "FJORD_STORAGE_CRASH_CHILD_DIR";

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 16 * 1024,
        index_interval_bytes: 256,
        segment_index_bytes: 4096,
        ..LogConfig::default()
    }
}

/// Not a test of its own: the entry point of the child process that `kill_9_loses_no_ack`
/// re-executes. Without the environment variable it does nothing.
#[test]
fn crash_child_entry_point() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let log = Log::open(Path::new(&dir), config()).unwrap();
    let stdout = std::io::stdout();
    for i in 0u64.. {
        let info = log.append(&nth_batch(i), &opts(0)).unwrap();
        let mut out = stdout.lock();
        writeln!(out, "ack {i} {} {}", info.base_offset, info.last_offset).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_no_ack() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acks = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("ack ") else {
            continue;
        };
        let v: Vec<i64> = rest.split(' ').map(|x| x.parse().unwrap()).collect();
        acks.push((v[0] as u64, v[1], v[2]));
        if acks.len() == 2_000 {
            break;
        }
    }
    // SIGKILL: no destructors, no clean-shutdown marker.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acks.len(), 2_000, "child stopped early");

    let log = Log::open(dir.path(), config()).unwrap();
    assert!(log.segment_count() > 2, "the run crossed segment rolls");
    let (_, _, last) = *acks.last().unwrap();
    assert!(
        log.log_end_offset() > last,
        "log end {} lost acked {last}",
        log.log_end_offset()
    );
    for &(i, base, last) in &acks {
        let got = batch_at(&log, base);
        assert_eq!(
            got,
            stored(nth_batch(i), base, 1),
            "batch {i} at {base}..={last}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Builds a one-segment log of 8 batches, dropped without a clean close. Returns the stored
/// batches.
fn damaged_tail_fixture(dir: &Path) -> Vec<Vec<u8>> {
    let log = Log::open(dir, config()).unwrap();
    for i in 0..8 {
        log.append(&nth_batch(i), &opts(0)).unwrap();
    }
    let batches = all_batches(&log);
    assert_eq!(log.segment_count(), 1);
    drop(log);
    batches
}

const EPOCH_FIELD: std::ops::Range<usize> = 12..16;

#[test]
fn every_truncation_and_corruption_of_the_last_batch_is_cut_exactly() {
    let base = common::test_dir();
    let batches = damaged_tail_fixture(base.path());
    let (last, intact) = batches.split_last().unwrap();
    let intact_len: usize = intact.iter().map(Vec::len).sum();
    let last_base = fjord_protocol::records::BatchHeader::parse(last)
        .unwrap()
        .base_offset;
    let segment = "00000000000000000000.log";
    for p in 0..last.len() {
        for corrupt in [false, true] {
            let dir = common::test_dir();
            copy_dir(base.path(), dir.path());
            let file = dir.path().join(segment);
            let mut bytes = std::fs::read(&file).unwrap();
            if corrupt {
                bytes[intact_len + p] ^= 0xff;
            } else {
                bytes.truncate(intact_len + p);
            }
            std::fs::write(&file, &bytes).unwrap();

            let log = Log::open(dir.path(), config()).unwrap();
            let got = all_batches(&log);
            let case = format!(
                "{} at byte {p} of the last batch",
                if corrupt { "flip" } else { "cut" }
            );
            if corrupt && EPOCH_FIELD.contains(&p) && got.len() == batches.len() {
                // The leader epoch is outside the CRC (as in Kafka); a flip that raises it is
                // undetectable. Everything else about the batch must still be intact.
                assert_eq!(got[..intact.len()], *intact, "{case}");
                let mut expect = last.clone();
                expect[p] ^= 0xff;
                assert_eq!(got[intact.len()], expect, "{case}");
                continue;
            }
            assert_eq!(got, intact, "{case}");
            assert_eq!(log.log_end_offset(), last_base, "{case}");
            assert_eq!(
                std::fs::metadata(&file).unwrap().len(),
                intact_len as u64,
                "{case}: file truncated at the damage"
            );
            // The log keeps working after recovery.
            let info = log.append(&nth_batch(99), &opts(0)).unwrap();
            assert_eq!(info.base_offset, last_base, "{case}");
        }
    }
}

#[test]
fn clean_marker_that_disagrees_with_the_files_triggers_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    for i in 0..5 {
        log.append(&nth_batch(i), &opts(0)).unwrap();
    }
    let batches = all_batches(&log);
    log.close().unwrap();
    let file = dir.path().join("00000000000000000000.log");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(all_batches(&log), batches[..4]);
}
